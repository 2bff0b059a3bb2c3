//! What coherence costs the database (issue #25): an idle instance with the
//! cache sends about one statement every 1.5 s (polls every 2 s, a
//! heartbeat every 5 s); a busy one polls about once per `poll_interval`,
//! one poll for all its requests. Counted on the wire, whatever sends it.

use crate::common;
use axum_user_sessions::{CacheConfig, CachedStore, PgStore, SessionLayer};
use common::{Client, WireCounter, eventually, serve_demo, wait_listening};
use std::time::{Duration, Instant};

/// A cached instance whose every statement goes through a counter.
async fn counted_instance(pool: &sqlx::PgPool) -> (WireCounter, CachedStore, common::TestApp) {
    common::init_tracing();
    let (counter, counted) = WireCounter::in_front_of(pool).await;
    let app_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .test_before_acquire(false)
        .connect_with(counted)
        .await
        .unwrap();
    axum_user_sessions::migrate(&app_pool).await.unwrap();
    let cached = CachedStore::new(PgStore::new(app_pool), CacheConfig::default());
    wait_listening(&cached).await;
    let app = serve_demo(SessionLayer::new(cached.clone())).await;
    (counter, cached, app)
}

/// Statements the counter saw during `window`, while `during` runs.
async fn sent_during<F: Future<Output = ()>>(counter: &WireCounter, during: F) -> u64 {
    let before = counter.statements();
    during.await;
    counter.statements() - before
}

#[sqlx::test(migrations = false)]
async fn an_idle_cached_instance_sends_at_most_a_statement_a_second(pool: sqlx::PgPool) {
    let (counter, _cached, _app) = counted_instance(&pool).await;
    // Idle once its cache has not asked for a poll for a second.
    let settled = eventually(Duration::from_secs(10), || async {
        let before = counter.statements();
        tokio::time::sleep(Duration::from_millis(300)).await;
        (counter.statements() == before).then_some(())
    })
    .await;
    assert!(settled.is_some(), "the feed never went idle");
    // Counting over a window is the measure itself, not a wait.
    let window = Duration::from_secs(6);
    let sent = sent_during(&counter, tokio::time::sleep(window)).await;
    eprintln!("idle: {sent} statements in {window:?}");
    assert!(
        sent <= window.as_secs(),
        "an idle instance sent {sent} statements in {window:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn a_busy_cached_instance_polls_once_per_interval_for_all_its_requests(pool: sqlx::PgPool) {
    let (counter, cached, app) = counted_instance(&pool).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    assert_eq!(c.get("/me").await.status, 200);
    // Reads served from memory: what reaches the database is the feed's.
    let window = Duration::from_secs(2);
    let (hits, started) = (cached.hits(), Instant::now());
    let mut requests = 0u64;
    let sent = sent_during(&counter, async {
        while started.elapsed() < window {
            assert_eq!(c.get("/me").await.status, 200);
            requests += 1;
        }
    })
    .await;
    let served = cached.hits() - hits;
    assert!(served * 2 > requests, "{served} of {requests} from memory");
    // One poll per 40 ms (50 in 2 s), a heartbeat, the reads that found the
    // view too old for memory (each asks for the next poll), with room for
    // a loaded machine; the feed of the previous version polled every
    // 10 ms (200 in 2 s).
    let misses = requests - served;
    eprintln!(
        "busy: {sent} statements in {window:?}, {requests} requests, {misses} not from memory"
    );
    assert!(
        sent <= 60 + 2 * misses,
        "{sent} statements for {requests} requests, {misses} not from memory"
    );
}
