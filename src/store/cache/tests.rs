//! The cache's unit tests.

use super::{CacheConfig, CachedStore};
use crate::store::counting::CountingStore;
use crate::store::feed::Change;
use crate::store::memory::{MemoryStorage, MemoryStore};
use crate::store::protocol::Protocol;
use crate::store::revocation::{Revocation, RevokeReason};
use crate::store::session_store::SessionProtocol;
use crate::store::types::{DataPatch, LoadedSession, SessionRecord, TokenHash, Touch};
use std::sync::atomic::Ordering;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

mod fresh;
mod overlap;
mod stragglers;

struct Fixture {
    cache: CachedStore,
    /// The calls that reached the memory store beneath the cache.
    counted: CountingStore,
    record: SessionRecord,
    token: TokenHash,
    touch: Touch,
}

/// A cache over a memory store holding one session of "ann"; with
/// `feed`, the cache behaves as if its store had a change feed, which
/// the test plays by hand (`Shared::apply`).
async fn fixture(feed: bool) -> Fixture {
    fixture_with(feed, CacheConfig::default()).await
}

/// [`fixture`], with a cache configured as `config` says.
async fn fixture_with(feed: bool, config: CacheConfig) -> Fixture {
    let counted = CountingStore::new(MemoryStorage::default());
    let cache = CachedStore::new(Protocol::new(counted.clone()), config);
    if feed {
        cache.shared.feed.set(true).unwrap();
    }
    let now = OffsetDateTime::now_utc();
    let mut record = SessionRecord::new(Uuid::new_v4(), now);
    record.user_id = Some("ann".into());
    record.expires_at = now + Duration::hours(1);
    record.absolute_expires_at = now + Duration::hours(1);
    let token = TokenHash::from_bytes([7; 32]);
    cache.create(&record, &token).await.unwrap();
    // Never due: the copy may be served.
    let mut touch = Touch::new(now, now + Duration::hours(1));
    touch.stale_before = now - Duration::minutes(1);
    Fixture {
        cache,
        counted,
        record,
        token,
        touch,
    }
}

impl Fixture {
    async fn load(&self) -> LoadedSession {
        let l = self.cache.load(None, &self.token, &self.touch).await;
        l.unwrap().unwrap()
    }

    /// Loads twice: how many of the two the cache served from memory.
    async fn hits_of_two_loads(&self) -> u64 {
        let before = self.cache.hits();
        self.load().await;
        self.load().await;
        self.cache.hits() - before
    }

    fn feed(&self, changes: &[Change]) {
        self.cache.shared.apply(changes);
    }

    fn caught_up(&self) {
        self.feed(&[Change::CaughtUp {
            at: std::time::Instant::now(),
        }]);
    }

    fn changed(&self, version: Option<u64>) -> Change {
        Change::Session {
            id: self.record.id,
            version,
        }
    }
}

fn set(key: &str, value: u64) -> DataPatch {
    let mut patch = DataPatch::default();
    patch.set.insert(key.into(), value.into());
    patch
}

#[tokio::test]
async fn writes_update_their_copy_and_revocations_drop_it() {
    let f = fixture(false).await;
    let hits = f.hits_of_two_loads().await;
    assert_eq!(hits, 1, "the second load is served from memory");

    let trips = f.counted.round_trips();
    for n in 1..=3 {
        assert_eq!(
            f.cache.patch_data(f.record.id, &set("n", n)).await.unwrap(),
            Some(n)
        );
        let l = f.load().await;
        assert_eq!(
            (l.record.data["n"].as_u64(), l.record.version),
            (Some(n), n)
        );
    }
    assert_eq!(f.cache.hits(), 4, "a write keeps its copy up to date");
    assert_eq!(f.counted.round_trips() - trips, 3, "one round-trip a write");

    let how = Revocation::system(RevokeReason::User, f.touch.now);
    f.cache
        .revoke(
            &crate::store::RevokeScope::User {
                user_id: "ann",
                keep: None,
            },
            &how,
        )
        .await
        .unwrap();
    assert!(f.load().await.record.revoked_at.is_some());
    assert_eq!(f.cache.hits(), 4, "revoking the user's sessions drops them");
}

#[tokio::test]
async fn a_write_elsewhere_in_between_drops_the_copy() {
    let f = fixture(false).await;
    f.load().await;
    // Another process writes (straight to the store), then this one.
    f.cache
        .inner()
        .patch_data(f.record.id, &set("a", 1))
        .await
        .unwrap();
    assert_eq!(
        f.cache.patch_data(f.record.id, &set("b", 2)).await.unwrap(),
        Some(2)
    );
    let l = f.load().await;
    assert_eq!(f.cache.hits(), 0, "the copy missed a write: not patched");
    assert_eq!((l.record.data.len(), l.record.version), (2, 2));
}

#[tokio::test]
async fn the_feed_drops_older_copies_and_keeps_current_ones() {
    let f = fixture(true).await;
    let hits = f.hits_of_two_loads().await;
    assert_eq!(hits, 0, "not caught up yet: nothing served from memory");
    f.caught_up();
    assert!(f.cache.is_listening());
    assert_eq!(f.hits_of_two_loads().await, 1);

    // This process's own write, reported by the feed: the copy stays.
    assert_eq!(
        f.cache.patch_data(f.record.id, &set("n", 1)).await.unwrap(),
        Some(1)
    );
    f.feed(&[f.changed(Some(1)), f.changed(Some(0))]);
    f.load().await;
    assert_eq!(f.cache.hits(), 2, "a change the copy has dropped it");

    // A change made elsewhere: newer than the copy.
    f.cache
        .inner()
        .patch_data(f.record.id, &set("n", 2))
        .await
        .unwrap();
    f.feed(&[f.changed(Some(2))]);
    assert_eq!(f.load().await.record.data["n"], 2);
    assert_eq!(f.cache.hits(), 2, "a newer change did not drop the copy");
    f.load().await;
    assert_eq!(f.cache.hits(), 3, "the newer row is cached again");

    // Token changes and deletions carry no version: always dropped.
    f.feed(&[f.changed(None)]);
    f.load().await;
    assert_eq!(f.cache.hits(), 3);
}

#[tokio::test]
async fn a_write_the_feed_reports_before_its_answer_keeps_its_copy() {
    let f = fixture(true).await;
    f.caught_up();
    f.load().await;
    let (shared, id) = (&f.cache.shared, f.record.id);
    let write = async |n: u64| {
        shared.writing(id);
        let patch = set("n", n);
        let version = f.cache.inner().patch_data(id, &patch).await.unwrap();
        (patch, version.unwrap())
    };

    // The feed sees the write committed before the write's answer is in.
    let (patch, version) = write(1).await;
    f.feed(&[f.changed(Some(version))]);
    shared.written(id, Some((&patch, version)));
    let l = f.load().await;
    assert_eq!((f.cache.hits(), l.record.data["n"].as_u64()), (1, Some(1)));

    // A newer version than the write's was reported (another process
    // wrote right after): the copy goes.
    let (patch, version) = write(2).await;
    let elsewhere = f.cache.inner().patch_data(id, &set("x", 0)).await.unwrap();
    f.feed(&[f.changed(elsewhere)]);
    shared.written(id, Some((&patch, version)));
    f.load().await;
    assert_eq!(
        f.cache.hits(),
        1,
        "kept a copy older than a reported change"
    );

    // A write whose outcome is unknown (failed, cancelled): the copy goes.
    f.load().await;
    assert_eq!(f.cache.hits(), 2);
    shared.writing(id);
    shared.written(id, None);
    f.load().await;
    assert_eq!(
        f.cache.hits(),
        2,
        "kept a copy after a write of unknown outcome"
    );
}

#[tokio::test]
async fn a_load_that_raced_a_change_is_not_cached() {
    let f = fixture(true).await;
    f.caught_up();
    let shared = &f.cache.shared;
    let loaded = f
        .cache
        .inner()
        .load(None, &f.token, &f.touch)
        .await
        .unwrap()
        .unwrap();
    let cached = || shared.entries.get(&f.token).is_some();

    let ticket = shared.seq.load(Ordering::Acquire);
    f.feed(&[f.changed(None)]);
    shared.fill(&f.token, &loaded, ticket);
    assert!(!cached(), "filled after a change the load may have missed");

    let ticket = shared.seq.load(Ordering::Acquire);
    f.feed(&[f.changed(Some(0))]);
    shared.fill(&f.token, &loaded, ticket);
    assert!(cached(), "a change the load saw (its version) refused it");

    let ticket = shared.seq.load(Ordering::Acquire);
    f.feed(&[f.changed(Some(1))]);
    shared.fill(&f.token, &loaded, ticket);
    assert!(!cached(), "an older row was cached after a newer change");

    let ticket = shared.seq.load(Ordering::Acquire);
    f.feed(&[Change::Flush]);
    f.caught_up();
    shared.fill(&f.token, &loaded, ticket);
    assert!(!cached(), "filled across a flush");
}

#[tokio::test]
async fn a_feed_that_fails_or_lags_is_bypassed() {
    let f = fixture(true).await;
    f.caught_up();
    assert_eq!(f.hits_of_two_loads().await, 1);

    f.feed(&[Change::Flush]);
    assert!(!f.cache.is_listening());
    let hits = f.hits_of_two_loads().await;
    assert_eq!(hits, 0, "served from memory while the feed is down");

    f.caught_up();
    assert_eq!(f.hits_of_two_loads().await, 1);
    assert_eq!(f.cache.hits(), 2);

    // Caught up long ago: lagging.
    f.cache
        .shared
        .caught_up
        .store(super::Clock::NEVER, Ordering::Release);
    let lag = f.cache.shared.config.max_lag;
    let long_ago = std::time::Instant::now() - lag * 4;
    f.feed(&[Change::CaughtUp { at: long_ago }]);
    assert!(!f.cache.is_listening());
    f.load().await;
    assert_eq!(f.cache.hits(), 2, "served from memory while the feed lags");
}

/// Loads `n` sessions of `size` bytes of data each through a cache bounded
/// to 100 kB, and says how many it keeps and what they weigh.
async fn kept(n: u8, size: usize) -> (u64, u64) {
    let config = CacheConfig::default()
        .with_max_entries(1_000)
        .with_max_bytes(100_000);
    let cache = CachedStore::new(MemoryStore::new(), config);
    let now = OffsetDateTime::now_utc();
    let mut touch = Touch::new(now, now + Duration::hours(1));
    touch.stale_before = now - Duration::minutes(1);
    for i in 0..n {
        let mut record = SessionRecord::new(Uuid::new_v4(), now);
        record.expires_at = now + Duration::hours(1);
        record.absolute_expires_at = now + Duration::hours(1);
        record.data.insert("blob".into(), "x".repeat(size).into());
        let token = TokenHash::from_bytes([i; 32]);
        cache.create(&record, &token).await.unwrap();
        cache.load(None, &token, &touch).await.unwrap().unwrap();
        cache.shared.entries.run_pending_tasks();
    }
    let entries = &cache.shared.entries;
    (entries.entry_count(), entries.weighted_size())
}

#[tokio::test]
async fn the_cache_is_bounded_in_bytes() {
    // Small sessions: all 40 fit (about 530 bytes each).
    let (count, bytes) = kept(40, 10).await;
    assert_eq!(count, 40);
    assert!(bytes <= 100_000, "{bytes}");
    // Sessions of 20 kB: at most 4 of them fit in 100 kB.
    let (count, bytes) = kept(40, 20_000).await;
    assert!((1..=4).contains(&count), "{count} sessions of 20 kB kept");
    assert!(bytes <= 100_000, "{bytes}");
}

#[test]
fn a_session_weighs_its_data_and_at_least_its_share_of_entries() {
    let config = CacheConfig::default()
        .with_max_entries(10)
        .with_max_bytes(1_000_000);
    let now = OffsetDateTime::now_utc();
    let mut record = SessionRecord::new(Uuid::new_v4(), now);
    let loaded = |record: &SessionRecord| LoadedSession {
        record: std::sync::Arc::new(record.clone()),
        token: crate::store::types::TokenState::Current,
        has_pending: false,
    };
    // Empty: the floor, so that `max_entries` holds too.
    assert_eq!(config.weight(&loaded(&record)), 100_000);
    record.data.insert("k".into(), "x".repeat(200_000).into());
    let data = crate::store::data_size(&record.data) as u32;
    assert_eq!(config.weight(&loaded(&record)), data + 512);
}

/// A hit hands out the cached row itself, shared, never a copy of its
/// strings and data (a request copies it only where it changes it).
#[tokio::test]
async fn a_hit_shares_the_cached_row() {
    let f = fixture(true).await;
    f.caught_up();
    f.load().await;
    let (a, b) = (f.load().await, f.load().await);
    assert_eq!(f.cache.hits(), 2);
    assert!(
        std::sync::Arc::ptr_eq(&a.record, &b.record),
        "a hit copied the row"
    );
    assert_eq!(a.record.user_id.as_deref(), Some("ann"));
}

/// A time to live of `Duration::MAX` ("never") makes a cache: it counts
/// as a year.
#[test]
fn a_ttl_of_forever_makes_a_cache() {
    let config = CacheConfig::default().with_ttl(std::time::Duration::MAX);
    let cache = CachedStore::new(MemoryStore::default(), config);
    assert_eq!(cache.hits(), 0);
}
