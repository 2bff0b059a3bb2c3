//! The cache's settings.

use derive_setters::Setters;
use std::time::Duration;

/// The most a cache serves from memory after its feed last caught up,
/// whatever [`max_lag`](CacheConfig::max_lag) says: a Postgres feed's
/// heartbeat keeps the change log written for 60 s, and a cache must stop
/// serving well before a lapse (`postgres/feed.rs`).
pub(crate) const LAG_CEILING: Duration = Duration::from_secs(20);

/// The longest [`ttl`](CacheConfig::ttl) that counts: the cache's map
/// refuses a time to live past about a thousand years, and `Duration::MAX`
/// is a natural way to say "never".
pub(crate) const TTL_CEILING: Duration = Duration::from_secs(365 * 86_400);

/// Cache settings: the defaults, or set field by field.
///
/// ```
/// use axum_user_sessions::CacheConfig;
/// use std::time::Duration;
///
/// let config = CacheConfig::default()
///     .with_max_entries(10_000)
///     .with_max_lag(Duration::from_millis(100));
/// assert_eq!(config.max_bytes, 64 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Setters)]
#[setters(prefix = "with_")]
#[non_exhaustive]
pub struct CacheConfig {
    /// Most sessions kept. Default: 100,000.
    pub max_entries: u64,
    /// Most bytes of sessions kept, counted as each session's data
    /// serialized as compact JSON plus a fixed overhead for the rest of the
    /// row (and at least `max_bytes / max_entries` per session, so that
    /// `max_entries` holds too). Default: 64 MiB. Memory is bounded by this
    /// whatever the sessions hold.
    pub max_bytes: u64,
    /// How long an entry may be served before it is read again, whatever
    /// the change feed says. At most a year (a longer setting, up to
    /// `Duration::MAX`, counts as a year). Default: 60 seconds.
    pub ttl: Duration,
    /// The shortest time between two reads of what changed by the change
    /// feed (on Postgres, one statement on the pool per poll, per app
    /// instance). A cache that serves asks its feed for a read when its
    /// view is half `poll_interval` (or half [`max_lag`](Self::max_lag), if
    /// shorter) old, so that a busy instance polls about once per
    /// `poll_interval`; an idle one polls every 2 s (an idle instance sends
    /// the database about 0.8 statements a second). Default: 40 ms.
    pub poll_interval: Duration,
    /// How far behind the change feed may be (since the start of its last
    /// successful read) for the cache to serve from memory. Past it, or
    /// while the feed fails, every read goes to the store. This bounds how
    /// long a change made elsewhere (a revocation) can go unseen here.
    /// At most 20 s (a longer setting counts as 20 s: on Postgres, the
    /// feed's registration must not lapse while the cache serves).
    /// Default: 40 ms.
    pub max_lag: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_bytes: 64 * 1024 * 1024,
            ttl: Duration::from_secs(60),
            poll_interval: Duration::from_millis(40),
            max_lag: Duration::from_millis(40),
        }
    }
}

impl CacheConfig {
    /// What one cached session weighs against
    /// [`max_bytes`](Self::max_bytes).
    pub(crate) fn weight(&self, session: &crate::store::LoadedSession) -> u32 {
        /// The rest of a cached row, roughly: ids, times, IP, the entry.
        const OVERHEAD: u64 = 512;
        let r = &session.record;
        let floor = self.max_bytes / self.max_entries.max(1);
        let text = r.user_agent.as_ref().map_or(0, String::len)
            + r.user_id.as_ref().map_or(0, String::len);
        let bytes = u64::try_from(crate::store::data_size(&r.data) + text).unwrap_or(u64::MAX);
        u32::try_from(bytes.saturating_add(OVERHEAD).max(floor)).unwrap_or(u32::MAX)
    }
}
