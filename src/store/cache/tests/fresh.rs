//! A load that finds the view a little too old on a healthy feed waits for
//! the poll in flight instead of going to the store.

use super::{super::Clock, Fixture, fixture_with};
use crate::store::cache::CacheConfig;
use crate::store::feed::Change;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A long lag, so that a wait cannot time out on a loaded machine.
const LAG: Duration = Duration::from_secs(20);

/// A cache with a feed and a lag of [`LAG`], holding a copy of the session.
async fn filled() -> Fixture {
    let f = fixture_with(true, CacheConfig::default().with_max_lag(LAG)).await;
    f.caught_up();
    f.load().await;
    f
}

/// The view is older than the lag but the feed caught up within twice it:
/// the load waits for the next catch-up and is served from memory.
#[tokio::test]
async fn a_load_waits_for_the_poll_in_flight() {
    let f = filled().await;
    let shared = &f.cache.shared;
    shared.caught_up.store(Clock::NEVER, Ordering::Release);
    f.feed(&[Change::CaughtUp {
        at: Instant::now() - LAG * 3 / 2,
    }]);
    assert!(!f.cache.is_listening(), "the view is older than the lag");

    let trips = f.counted.round_trips();
    let (loaded, ()) = tokio::join!(f.load(), async {
        tokio::task::yield_now().await;
        f.caught_up();
    });
    assert_eq!(loaded.record.id, f.record.id);
    assert_eq!(f.cache.hits(), 1, "served from memory after the poll");
    assert_eq!(f.counted.round_trips(), trips, "nothing reached the store");
}

/// A feed that failed is not waited for: the load goes to the store.
#[tokio::test]
async fn a_failed_feed_is_not_waited_for() {
    let f = filled().await;
    f.feed(&[Change::Flush]);
    let trips = f.counted.round_trips();
    // Would wait 20 s if it waited; the store answers at once.
    let loaded = tokio::time::timeout(LAG / 2, f.load()).await;
    assert!(loaded.is_ok(), "the load did not wait for a failed feed");
    assert_eq!(f.counted.round_trips(), trips + 1, "it went to the store");
}

/// The host is suspended for four lags after the feed caught up: the
/// monotonic clock saw none of it, the cache's clock counts it, so the
/// view is too old and the load goes to the store.
#[tokio::test]
async fn a_view_from_before_a_suspend_of_the_host_is_not_fresh() {
    let f = filled().await;
    assert!(f.cache.is_listening());
    super::super::clock::tests::suspend(LAG * 4);
    assert!(!f.cache.is_listening(), "a view from before the suspend");
    let trips = f.counted.round_trips();
    // A healthy feed is not waited for past twice the lag: no wait here.
    let loaded = tokio::time::timeout(LAG / 2, f.load()).await;
    assert!(loaded.is_ok(), "the load waited for a feed that lags");
    assert_eq!(f.cache.hits(), 0, "served from memory after the suspend");
    assert_eq!(f.counted.round_trips(), trips + 1, "it went to the store");
}
