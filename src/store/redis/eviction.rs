//! Whether the server may evict what a revocation rests on. The slots'
//! "not before" keys ([`not_before`](super::not_before)) have no expiry:
//! under a `maxmemory-policy` that evicts any key (`allkeys-*`) once
//! `maxmemory` is reached, Redis may drop one, and every session of that
//! slot from before a revocation of everyone would read as live again.
//! The `volatile-*` policies evict only keys with an expiry, and
//! `noeviction` none. [`migrate`](crate::store::SessionStore::migrate)
//! refuses such a server, where `CONFIG GET` answers (a managed Redis may
//! forbid it: then it cannot tell, and says nothing).

use super::errors::value;
use super::storage::RedisStorage;
use crate::store::error::Error;

/// What [`Error::Misconfigured`] says to change.
const HINT: &str = "Redis may evict any key once it reaches maxmemory (maxmemory-policy \
                    allkeys-*), and with the keys that hold revocations of everyone, sessions \
                    revoked would come back: set maxmemory-policy to noeviction or a volatile-* \
                    policy";

impl RedisStorage {
    /// [`Error::Misconfigured`] when a master evicts any key at a memory
    /// limit.
    pub(super) async fn check_eviction(&self) -> Result<(), Error> {
        for (node, _) in self.conn.masters_with_slots().await? {
            let mut pipe = redis::pipe();
            pipe.cmd("CONFIG").arg("GET").arg("maxmemory-policy");
            pipe.cmd("CONFIG").arg("GET").arg("maxmemory");
            // Forbidden (a managed Redis), or gone: nothing to tell.
            let Ok(replies) = self.conn.pipe_on(&node, pipe).await else {
                continue;
            };
            let mut replies = replies.into_iter();
            // `[name, value]`; anything else: nothing to tell.
            let mut setting = || {
                let pair: Result<Vec<String>, Error> =
                    value(replies.next().unwrap_or(redis::Value::Nil));
                pair.ok().and_then(|p| p.into_iter().nth(1))
            };
            let (Some(policy), Some(limit)) = (setting(), setting()) else {
                continue;
            };
            if policy.starts_with("allkeys-") && limit != "0" {
                return Err(Error::Misconfigured {
                    hint: HINT,
                    source: format!("maxmemory-policy {policy}, maxmemory {limit}").into(),
                });
            }
        }
        Ok(())
    }
}
