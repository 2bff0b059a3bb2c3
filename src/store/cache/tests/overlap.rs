//! Overlapping writes of this process: the copy follows them all.

use super::{Fixture, fixture, set};
use crate::store::session_store::SessionProtocol;

/// A cache holding a copy of the session, with `n` data writes of this
/// process in flight on it (played by hand: the store holds none of them).
async fn in_flight(n: usize) -> Fixture {
    let f = fixture(false).await;
    f.load().await;
    for _ in 0..n {
        f.cache.shared.writing(f.record.id);
    }
    f
}

/// Two writes of this process overlap and answer in the other order: the
/// copy waits, unserved, for the first, then holds both and is served.
#[tokio::test]
async fn overlapping_writes_keep_the_copy_whatever_order_they_answer_in() {
    let f = in_flight(2).await;
    let (shared, id) = (&f.cache.shared, f.record.id);
    let (a, b) = (set("a", 1), set("b", 2));
    shared.written(id, Some((&b, 2)));
    let hits = f.cache.hits();
    let l = f.load().await;
    assert_eq!(
        f.cache.hits(),
        hits,
        "served without the write that answered"
    );
    assert_eq!(
        l.record.version, 0,
        "the store holds neither (played by hand)"
    );
    shared.written(id, Some((&a, 1)));
    let copy = shared.entries.get(&f.token).expect("the copy went");
    assert_eq!(copy.record.version, 2);
    assert_eq!(copy.record.data.len(), 2, "{:?}", copy.record.data);
}

/// Overlapping writes, one of which fails: the copy goes.
#[tokio::test]
async fn an_overlapping_write_that_fails_drops_the_copy() {
    let f = in_flight(2).await;
    let (shared, id) = (&f.cache.shared, f.record.id);
    shared.written(id, Some((&set("a", 1), 1)));
    shared.written(id, None);
    assert!(
        shared.entries.get(&f.token).is_none(),
        "a copy of unknown state stayed"
    );
}

/// Overlapping writes through the cache, on a store that runs them: after
/// both, the next read is served from memory.
#[tokio::test]
async fn concurrent_writes_leave_a_copy_to_serve() {
    let f = fixture(false).await;
    f.load().await;
    let id = f.record.id;
    let (a, b) = (set("a", 1), set("b", 2));
    let (x, y) = tokio::join!(f.cache.patch_data(id, &a), f.cache.patch_data(id, &b));
    assert!(x.unwrap().is_some() && y.unwrap().is_some());
    let (hits, trips) = (f.cache.hits(), f.counted.round_trips());
    let l = f.load().await;
    assert_eq!(f.cache.hits(), hits + 1, "the overlap cost the copy");
    assert_eq!(f.counted.round_trips(), trips);
    assert_eq!((l.record.data.len(), l.record.version), (2, 2));
}

/// A load that comes while a data write of this process is in flight on
/// its session waits for the write, and reads what it wrote: an
/// overlapping request (another tab, a client that does not wait for its
/// answers) never increments a value from before it.
#[tokio::test]
async fn a_load_during_a_write_reads_what_it_wrote() {
    let f = in_flight(1).await;
    let (shared, id) = (&f.cache.shared, f.record.id);
    let (loaded, ()) = tokio::join!(f.load(), async {
        tokio::task::yield_now().await;
        shared.written(id, Some((&set("a", 1), 1)));
    });
    assert_eq!(
        (loaded.record.data["a"].as_u64(), loaded.record.version),
        (Some(1), 1),
        "the load waited for the write in flight"
    );
    assert_eq!(f.cache.hits(), 1, "and was served from memory");
}

/// The count of writes in flight that lets a hit skip the book goes back
/// to zero after writes that answered, failed or were cancelled, and a
/// hit with none in flight costs no round trip.
#[tokio::test]
async fn writes_in_flight_are_counted_back_to_zero() {
    use std::sync::atomic::Ordering;
    let f = fixture(false).await;
    f.load().await;
    let (shared, id) = (&f.cache.shared, f.record.id);
    let count = || shared.writes_in_flight.load(Ordering::Acquire);
    f.cache.patch_data(id, &set("a", 1)).await.unwrap();
    assert_eq!(count(), 0, "after a write that answered");
    shared.writing(id);
    assert_eq!(count(), 1);
    shared.written(id, None);
    assert_eq!(count(), 0, "after a write of unknown outcome");
    // A write cancelled mid-flight: its guard, dropped, ends it.
    shared.writing(id);
    drop(super::super::WriteGuard {
        shared,
        id,
        done: false,
    });
    assert_eq!(count(), 0, "after a cancelled write");
    f.load().await;
    let (hits, trips) = (f.cache.hits(), f.counted.round_trips());
    f.load().await;
    assert_eq!((f.cache.hits(), f.counted.round_trips()), (hits + 1, trips));
}
