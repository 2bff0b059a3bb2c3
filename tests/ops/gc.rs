//! Garbage collection at scale: 100,000 expired rows collected in batches
//! while users keep working, two collectors at once, the background task.

use crate::common;

use axum_user_sessions::{GcOptions, SessionAdmin};
use common::{Backend, Client};
use std::sync::Arc;
use std::time::Duration;

/// Seeds `n` expired sessions (with a token each) straight into Postgres.
async fn seed_expired(pool: &sqlx::PgPool, n: i64) {
    sqlx::query(
        "WITH s AS (
            INSERT INTO axum_user_sessions.sessions
                (id, user_id, data, created_at, last_seen_at, expires_at, absolute_expires_at, rotated_at)
            SELECT gen_random_uuid(), 'u' || g, '{}', now() - interval '2 days',
                   now() - interval '2 days', now() - interval '1 day', now() + interval '1 day',
                   now() - interval '2 days'
              FROM generate_series(1, $1) g
            RETURNING id, created_at
        )
        INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
        SELECT sha256(id::text::bytea), id, 0, created_at FROM s",
    )
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
}

async fn count(pool: &sqlx::PgPool, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM axum_user_sessions.{table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// 100,000 expired rows are collected in batches while a signed-in user keeps
/// working; the figure printed is the closing note's GC throughput.
#[sqlx::test(migrations = false)]
async fn pg_gc_of_100k_rows_while_sessions_keep_working(pool: sqlx::PgPool) {
    let b = Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    seed_expired(&pg, 100_000).await;
    let app = common::serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (mut c, stop) = (c.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let res = c.get("/me").await;
                assert_eq!(res.status, 200, "a live session failed during gc");
                n += 1;
            }
            n
        })
    };
    let start = std::time::Instant::now();
    let opts = GcOptions::default().with_batch_size(5_000);
    let mut progress = Vec::new();
    let report = SessionAdmin::new(b.store.clone())
        .gc_with_progress(&opts, |n| progress.push(n))
        .await
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.await.unwrap();
    println!(
        "gc: {} rows in {} batches, {secs:.2} s, {:.0} rows/s; {reads} reads served meanwhile",
        report.deleted,
        report.batches,
        report.deleted as f64 / secs
    );
    assert_eq!(report.deleted, 100_000);
    assert!(
        report.batches >= 20,
        "not batched: {} batches",
        report.batches
    );
    assert!(progress.windows(2).all(|w| w[0] < w[1] || w[1] == 100_000));
    assert_eq!(
        count(&pg, "sessions").await,
        1,
        "only alice's session is left"
    );
    assert_eq!(
        count(&pg, "tokens").await,
        1,
        "tokens outlived their sessions"
    );
    assert!(reads > 0);
    assert_eq!(c.me().await.as_deref(), Some("alice"));
}

#[sqlx::test(migrations = false)]
async fn pg_two_collectors_at_once_do_not_conflict(pool: sqlx::PgPool) {
    let b = Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    seed_expired(&pg, 20_000).await;
    let opts = GcOptions::default().with_batch_size(500);
    let (s1, s2) = (b.store.clone(), b.store.clone());
    let (r1, r2) = tokio::join!(
        async move { SessionAdmin::new(s1).gc(&opts).await },
        async move { SessionAdmin::new(s2).gc(&opts).await },
    );
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!(r1.deleted + r2.deleted, 20_000, "{r1:?} {r2:?}");
    assert_eq!(count(&pg, "sessions").await, 0);
}

#[tokio::test]
async fn background_gc_runs_and_stops_cleanly() {
    let b = Backend::sqlite().await;
    let admin = SessionAdmin::new(b.store.clone());
    let app = common::serve_demo(b.layer().with_idle_timeout(Duration::from_secs(1))).await;
    let mut c = Client::new(&app);
    c.post("/counter").await;
    assert_eq!(
        admin
            .stats(&GcOptions::default())
            .await
            .unwrap()
            .active_sessions,
        1
    );
    let task = admin.spawn_gc(Duration::from_secs(1), GcOptions::default());
    let gone = common::eventually(Duration::from_secs(10), || {
        let admin = admin.clone();
        async move {
            let s = admin.stats(&GcOptions::default()).await.unwrap();
            (s.active_sessions == 0 && s.collectable == 0).then_some(())
        }
    })
    .await;
    assert!(
        gone.is_some(),
        "the background collector did not collect the expired session"
    );
    tokio::time::timeout(Duration::from_secs(5), task.shutdown())
        .await
        .expect("shutdown hung");
}

/// `batch_size` is a public field: set to 0 on it (not through
/// `with_batch_size`, which keeps it at 1 or more), a collection still
/// deletes what is collectable, in batches of one, and ends. Before, each
/// batch deleted nothing and the loop never ended.
#[sqlx::test(migrations = false)]
async fn pg_gc_with_a_batch_size_of_zero_still_collects_and_ends(pool: sqlx::PgPool) {
    let b = Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    seed_expired(&pg, 3).await;
    let mut opts = GcOptions::default();
    opts.batch_size = 0;
    let admin = SessionAdmin::new(b.store.clone());
    let report = tokio::time::timeout(Duration::from_secs(60), admin.gc(&opts))
        .await
        .expect("the collection never ended")
        .unwrap();
    assert_eq!(report.deleted, 3, "{report:?}");
    assert_eq!(report.batches, 4, "three batches of one, then a short one");
    assert_eq!(count(&pg, "sessions").await, 0);
}
