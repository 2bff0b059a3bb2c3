//! Whether the server may evict what the sessions rest on. Under any
//! `maxmemory-policy` but `noeviction`, Redis drops keys once it reaches
//! `maxmemory`: `allkeys-*` any key, the slots' "not before" keys
//! ([`not_before`](super::not_before)) included, so that every session of
//! a slot from before a revocation of everyone reads as live again;
//! `volatile-*` the keys with an expiry, the user's index among them (the
//! one a session is read least through), so that "sign out everywhere"
//! finds no session to revoke and leaves every one live, and the selector
//! keys and device records too. [`migrate`](crate::store::SessionStore::migrate)
//! refuses such a server, where `CONFIG GET` answers (a managed Redis may
//! forbid it: then it cannot tell, and says nothing).

use super::errors::value;
use super::storage::RedisStorage;
use crate::store::error::Error;

/// What [`Error::Misconfigured`] says to change.
const HINT: &str = "Redis evicts keys once it reaches maxmemory (maxmemory-policy allkeys-* \
                    or volatile-*): with a user's index, \"sign out everywhere\" would miss \
                    sessions, and with the keys that hold revocations of everyone, revoked \
                    sessions would come back: set maxmemory-policy to noeviction (Redis then \
                    refuses writes when full, which the layer answers with 503), or maxmemory \
                    to 0";

impl RedisStorage {
    /// [`Error::Misconfigured`] when a master evicts keys at a memory
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
            if policy != "noeviction" && limit != "0" {
                return Err(Error::Misconfigured {
                    hint: HINT,
                    source: format!("maxmemory-policy {policy}, maxmemory {limit}").into(),
                });
            }
        }
        Ok(())
    }
}
