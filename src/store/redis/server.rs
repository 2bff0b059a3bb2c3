//! What [`migrate`](crate::store::SessionStore::migrate) checks of each
//! master, where it answers (a managed Redis may forbid `CONFIG`: then it
//! cannot tell, and says nothing):
//!
//! - **Its version**: the scripts use `PEXPIREAT … GT` (Redis 7.0), so an
//!   older server would fail a user's second sign-in with a script error.
//! - **Whether it may evict what the sessions rest on.** Under any
//!   `maxmemory-policy` but `noeviction`, Redis drops keys once it reaches
//!   `maxmemory`: `allkeys-*` any key, the slots' "not before" keys
//!   ([`not_before`](super::not_before)) included, so that every session of
//!   a slot from before a revocation of everyone reads as live again;
//!   `volatile-*` the keys with an expiry, the user's index among them (the
//!   one a session is read least through), so that "sign out everywhere"
//!   finds no session to revoke and leaves every one live, and the selector
//!   keys and device records too.

use super::errors::value;
use super::storage::RedisStorage;
use crate::store::error::Error;

/// What [`Error::Misconfigured`] says to change, for eviction.
const EVICTION: &str = "Redis evicts keys once it reaches maxmemory (maxmemory-policy allkeys-* \
                        or volatile-*): with a user's index, \"sign out everywhere\" would miss \
                        sessions, and with the keys that hold revocations of everyone, revoked \
                        sessions would come back: set maxmemory-policy to noeviction (Redis \
                        then refuses writes when full, which the layer answers with 503), or \
                        maxmemory to 0";

/// What [`Error::Misconfigured`] says to change, for the version.
const VERSION: &str = "the Redis store needs Redis 7.0 or later (or a compatible server, such as \
                       Valkey): upgrade the server";

/// The oldest server the scripts run on, as (major, minor).
const OLDEST: (u32, u32) = (7, 0);

impl RedisStorage {
    /// [`Error::Misconfigured`] when a master is older than Redis 7.0, or
    /// evicts keys at a memory limit.
    pub(super) async fn check_server(&self) -> Result<(), Error> {
        for (node, _) in self.conn.masters_with_slots().await? {
            // On its own: a node that forbids `CONFIG` fails a whole
            // pipeline, and the version must be read all the same.
            let mut info = redis::pipe();
            info.cmd("INFO").arg("server");
            let info = self.conn.pipe_on(&node, info).await;
            let info: Option<String> = info
                .ok()
                .and_then(|v| v.into_iter().next())
                .and_then(|v| value(v).ok());
            if let Some(version) = info.as_deref().and_then(version)
                && version < OLDEST
            {
                return Err(Error::Misconfigured {
                    hint: VERSION,
                    source: format!("Redis {}.{}", version.0, version.1).into(),
                });
            }
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
                    hint: EVICTION,
                    source: format!("maxmemory-policy {policy}, maxmemory {limit}").into(),
                });
            }
        }
        Ok(())
    }
}

/// The (major, minor) version in an `INFO server` answer; `None` when it
/// does not say.
fn version(info: &str) -> Option<(u32, u32)> {
    let line = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))?;
    let mut parts = line.trim().split('.').map(str::parse::<u32>);
    Some((parts.next()?.ok()?, parts.next()?.ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_read_from_info_server() {
        let info = "# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n";
        assert_eq!(version(info), Some((6, 2)));
        assert!(version(info).unwrap() < OLDEST);
        assert_eq!(version("redis_version:7.0.15\r\n"), Some((7, 0)));
        assert!(version("redis_version:7.0.15").unwrap() >= OLDEST);
        assert_eq!(version("redis_version:8.2.1"), Some((8, 2)));
        assert_eq!(version("# Server\r\nvalkey_version:8.0.1\r\n"), None);
        assert_eq!(version("redis_version:x.y"), None);
    }
}
