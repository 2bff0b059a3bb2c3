//! Instants as numbers, for the cache's atomics, on a clock that counts a
//! suspend of the host.

use super::config::{self, CacheConfig};
use std::time::{Duration, Instant};

/// Instants as numbers, for an atomic: nanoseconds on the [awake
/// clock](awake).
pub(super) struct Clock;

impl Clock {
    /// Stands for "never", below every instant.
    pub(super) const NEVER: i64 = i64::MIN;

    /// Now.
    pub(super) fn now() -> i64 {
        nanos(awake()).saturating_add(tests::suspended())
    }

    /// `at` (an instant of the monotonic clock, which a feed stamps its
    /// reports with): now, less how long ago it was.
    pub(super) fn stamp(at: Instant) -> i64 {
        Self::now().saturating_sub(nanos(Instant::now().saturating_duration_since(at)))
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The time since boot, counting the time the host was suspended
/// (`CLOCK_BOOTTIME`): Linux's monotonic clock, behind [`Instant`], stops
/// then, so a cache woken from a suspend would take a view of before it
/// as fresh and serve sessions revoked meanwhile.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn awake() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    Duration::new(secs, u32::try_from(t.tv_nsec).unwrap_or(0))
}

/// The monotonic clock elsewhere (on Windows it counts a suspend; on
/// macOS it does not, and a woken cache relies on its feed's check of the
/// database's clock at the next poll).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn awake() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

pub(super) fn lag_nanos(config: &CacheConfig) -> i64 {
    i64::try_from(config.max_lag.min(config::LAG_CEILING).as_nanos()).unwrap_or(i64::MAX)
}

/// A suspend of the host, as the unit tests make one: the awake clock
/// moves on while the monotonic clock does not.
/// (Per thread: a `#[tokio::test]` runs its tasks on its own thread, and
/// the other tests' clocks stay as they are.)
#[cfg(test)]
pub(super) mod tests {
    use std::cell::Cell;

    thread_local! {
        static SUSPENDED: Cell<i64> = const { Cell::new(0) };
    }

    /// How long the tests suspended the host, in nanoseconds.
    pub(in super::super) fn suspended() -> i64 {
        SUSPENDED.get()
    }

    /// Suspends the host for `d`, as far as the awake clock can tell.
    pub(in super::super) fn suspend(d: std::time::Duration) {
        let nanos = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        SUSPENDED.set(SUSPENDED.get().saturating_add(nanos));
    }
}

#[cfg(not(test))]
mod tests {
    /// No suspend but the host's own.
    pub(super) const fn suspended() -> i64 {
        0
    }
}
