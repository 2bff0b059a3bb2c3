//! The cache's settings.

use std::time::Duration;

/// Cache settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Most sessions kept (memory is bounded by this). Default: 100,000.
    pub max_entries: u64,
    /// How long an entry may be served before it is read again, whatever
    /// the change feed says. Default: 60 seconds.
    pub ttl: Duration,
    /// How often the change feed reads what changed (on Postgres, one
    /// statement on the pool per poll, per app instance). A change made
    /// elsewhere reaches this cache after about this long. Default: 10 ms.
    pub poll_interval: Duration,
    /// How far behind the change feed may be (since the start of its last
    /// successful read) for the cache to serve from memory. Past it, or
    /// while the feed fails, every read goes to the store. This bounds how
    /// long a change made elsewhere (a revocation) can go unseen here.
    /// Default: 250 ms.
    pub max_lag: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            ttl: Duration::from_secs(60),
            poll_interval: Duration::from_millis(10),
            max_lag: Duration::from_millis(250),
        }
    }
}

impl CacheConfig {
    /// Sets the most entries kept.
    pub fn with_max_entries(mut self, n: u64) -> Self {
        self.max_entries = n;
        self
    }

    /// Sets the time to live of an entry.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets how often the change feed reads what changed.
    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Sets how far behind the change feed may be for the cache to serve.
    pub fn with_max_lag(mut self, lag: Duration) -> Self {
        self.max_lag = lag;
        self
    }
}
