//! Instants as numbers, for the cache's atomics.

use super::config::{self, CacheConfig};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Instants as numbers, for an atomic: nanoseconds from the first reading
/// (negative before it).
pub(super) struct Clock;

impl Clock {
    /// Stands for "never", below every instant.
    pub(super) const NEVER: i64 = i64::MIN;

    pub(super) fn stamp(at: Instant) -> i64 {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        let epoch = *EPOCH.get_or_init(Instant::now);
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        match at.checked_duration_since(epoch) {
            Some(after) => nanos(after),
            None => -nanos(epoch.duration_since(at)),
        }
    }
}

pub(super) fn lag_nanos(config: &CacheConfig) -> i64 {
    i64::try_from(config.max_lag.min(config::LAG_CEILING).as_nanos()).unwrap_or(i64::MAX)
}
