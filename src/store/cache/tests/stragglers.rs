//! No copy outlives what forgets its session: a load that waited across a
//! feed failure or while the feed fell behind, a write that ends from a parked copy after a rotation,
//! the lines of copies that left on their own, and a load that raced a
//! write whose outcome is unknown.

use super::{Fixture, fixture_with, set};
use crate::store::cache::CacheConfig;
use crate::store::cache::Clock;
use crate::store::feed::Change;
use crate::store::types::{LoadedSession, TokenHash};
use std::sync::Arc;
use std::time::Duration;

/// A long lag, so that the view cannot age out on a loaded machine: only
/// what the test feeds makes the cache stop serving.
async fn filled() -> Fixture {
    let config = CacheConfig::default().with_max_lag(Duration::from_secs(20));
    let f = fixture_with(true, config).await;
    f.caught_up();
    f.load().await;
    f
}

/// A load waits for this process's write of its session; meanwhile the
/// feed fails (a flush). Its answer is not cached: once the feed is back,
/// a revocation made before it would never be reported, so the next load
/// goes to the store.
#[tokio::test]
async fn a_load_that_waited_across_a_feed_failure_is_not_cached() {
    let f = filled().await;
    let (shared, id) = (&f.cache.shared, f.record.id);
    shared.writing(id);
    let (loaded, ()) = tokio::join!(f.load(), async {
        tokio::task::yield_now().await;
        f.feed(&[Change::Flush]);
        shared.written(id, None);
    });
    assert_eq!(loaded.record.id, id);
    f.caught_up();
    let trips = f.counted.round_trips();
    f.load().await;
    assert_eq!(
        f.counted.round_trips(),
        trips + 1,
        "the copy read across the failure was served"
    );
}

/// A load waits for this process's write of its session; meanwhile the
/// feed falls behind without failing (its poll is slow). The copy the
/// write leaves is not served: a revocation made elsewhere may be in what
/// the feed has not read yet, so the store answers, as it does every load
/// while the feed lags.
#[tokio::test]
async fn a_load_that_waited_while_the_feed_fell_behind_is_not_served_from_memory() {
    let f = filled().await;
    let (shared, id) = (&f.cache.shared, f.record.id);
    let hits = f.cache.hits();
    shared.writing(id);
    let (loaded, ()) = tokio::join!(f.load(), async {
        tokio::task::yield_now().await;
        shared
            .caught_up
            .store(Clock::NEVER, std::sync::atomic::Ordering::Release);
        shared.written(id, Some((&set("a", 1), 1)));
    });
    assert_eq!(loaded.record.id, id);
    assert_eq!(f.cache.hits(), hits, "served while the feed lagged");
}

/// A write's new version is reported before its answer (its copy under
/// the old token is parked); meanwhile the session rotated elsewhere and
/// a load cached it under the new token. When the write answers and its
/// copy is served again, the copy under the new token goes with the line
/// it held, so that forgetting the session (a revocation) forgets both.
#[tokio::test]
async fn a_copy_followed_from_its_parked_state_replaces_the_sessions_other_copy() {
    let f = filled().await;
    let (shared, id) = (&f.cache.shared, f.record.id);
    shared.writing(id);
    f.feed(&[f.changed(Some(1))]);
    let rotated = TokenHash::from_bytes([8; 32]);
    let mut copy: LoadedSession = f.load().await;
    Arc::make_mut(&mut copy.record).version = 1;
    let ticket = shared.seq.load(std::sync::atomic::Ordering::Acquire);
    shared.fill(&rotated, &copy, ticket);
    assert!(
        shared.entries.contains_key(&rotated),
        "cached under the new token"
    );

    shared.written(id, Some((&set("a", 1), 1)));
    assert!(
        shared.entries.contains_key(&f.token),
        "the parked copy followed its write"
    );
    shared.forget(id);
    assert!(!shared.entries.contains_key(&f.token));
    assert!(
        !shared.entries.contains_key(&rotated),
        "a copy the book no longer knew outlived its session's end"
    );
}

/// Without a feed nothing sweeps on changes: fills do. Copies that left on
/// their own leave at most about twice the live lines behind.
#[tokio::test]
async fn lines_of_copies_that_left_are_swept_without_a_feed() {
    let f = fixture_with(false, CacheConfig::default()).await;
    let shared = &f.cache.shared;
    let template = f.load().await;
    for n in 0..5_000u32 {
        let mut copy = template.clone();
        Arc::make_mut(&mut copy.record).id = uuid::Uuid::from_u128(u128::from(n) + 1);
        let mut bytes = [0; 32];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        let token = TokenHash::from_bytes(bytes);
        shared.fill(&token, &copy, 0);
        shared.entries.invalidate(&token);
    }
    let lines = shared.book().cached.len();
    assert!(lines <= 1_025, "{lines} lines for copies that all left");
}

/// A data write whose outcome is unknown (it failed, or was cancelled)
/// may have landed: a load that read the session before it ended, without
/// a feed to report it, does not cache what it read.
#[tokio::test]
async fn a_load_that_raced_a_write_of_unknown_outcome_is_not_cached() {
    let f = super::fixture(false).await;
    let (shared, id) = (&f.cache.shared, f.record.id);
    let inner = f.cache.inner();
    let loaded = inner.load(None, &f.token, &f.touch).await.unwrap();
    let ticket = shared.seq.load(std::sync::atomic::Ordering::Acquire);
    shared.writing(id);
    inner.patch_data(id, &set("n", 1)).await.unwrap().unwrap();
    shared.written(id, None);
    shared.fill(&f.token, &loaded.unwrap(), ticket);
    assert!(
        shared.entries.get(&f.token).is_none(),
        "a copy from before the write was cached"
    );
}
