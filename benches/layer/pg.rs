//! The database side: pools, the seeded tables, and what Postgres counted
//! during a run (statements from `pg_stat_statements`, commits from
//! `pg_stat_database`, WAL flushes from `pg_stat_wal`).

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::time::Duration;

/// A pool as an app would have it: 16 connections.
pub(crate) async fn pool(url: &str, name: &str, size: u32) -> PgPool {
    let opts: PgConnectOptions = url.parse().unwrap();
    PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false)
        .connect_with(opts.application_name(name))
        .await
        .unwrap()
}

/// The server's settings that decide what a commit costs.
pub(crate) async fn settings(admin: &PgPool) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for name in [
        "server_version",
        "fsync",
        "synchronous_commit",
        "wal_sync_method",
        "full_page_writes",
    ] {
        let v: String = sqlx::query_scalar("SELECT current_setting($1)")
            .bind(name)
            .fetch_one(admin)
            .await
            .unwrap_or_else(|e| format!("? ({e})"));
        out.push((name, v));
    }
    out
}

/// Rows in the change log now.
pub(crate) async fn logged(admin: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM axum_user_sessions.session_changes")
        .fetch_one(admin)
        .await
        .unwrap()
}

/// Migrates, empties the session tables (and the change log, and sets the
/// feeds' heartbeat back: no cache counts as alive) and fills them with
/// `rows` other sessions, and the floor's table with as many rows (`f1`…).
pub(crate) async fn prepare(admin: &PgPool, rows: i64) {
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(admin)
        .await
        .expect(
            "pg_stat_statements must be in shared_preload_libraries (scripts/bench.sh does it)",
        );
    axum_user_sessions::migrate(admin).await.unwrap();
    for sql in [
        "TRUNCATE axum_user_sessions.sessions CASCADE",
        "TRUNCATE axum_user_sessions.session_changes",
        // No cache of an earlier run counts as alive (migration `quiet_log`).
        "SELECT setval('axum_user_sessions.feed_heartbeat', 0)",
        "DROP TABLE IF EXISTS bench_floor",
        super::apps::FLOOR_TABLE,
    ] {
        sqlx::query(sql).execute(admin).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO axum_user_sessions.sessions
            (id, user_id, data, created_at, last_seen_at, expires_at, absolute_expires_at, rotated_at)
         SELECT gen_random_uuid(), 'u' || g, '{\"n\": 1}', now(), now(), now() + interval '1 hour',
                now() + interval '12 hours', now()
           FROM generate_series(1, $1) g",
    )
    .bind(rows)
    .execute(admin)
    .await
    .unwrap();
    sqlx::query("INSERT INTO bench_floor (id, n) SELECT 'f' || g, 0 FROM generate_series(1, $1) g")
        .bind(rows)
        .execute(admin)
        .await
        .unwrap();
    for sql in ["ANALYZE", "CHECKPOINT"] {
        sqlx::query(sql).execute(admin).await.unwrap();
    }
}

/// Between scenarios: dirty pages to disk, so that no run pays for the
/// previous one's checkpoint.
pub(crate) async fn checkpoint(admin: &PgPool) {
    sqlx::query("CHECKPOINT").execute(admin).await.unwrap();
}

/// The cumulative counters at one moment.
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    commits: i64,
    wal_syncs: i64,
    wal_bytes: i64,
    updates: i64,
    hot_updates: i64,
}

/// What Postgres did during a run, in total.
#[derive(Default)]
pub(crate) struct Window {
    /// Statements of the app (every store or floor call, `BEGIN`/`COMMIT`
    /// included), without the caches' change-feed polls.
    pub(crate) statements: i64,
    /// The caches' change-feed polls (each its own transaction).
    pub(crate) feed_polls: i64,
    /// Committed transactions, without the feed polls and this harness's.
    pub(crate) commits: i64,
    /// WAL flushes to disk (`fdatasync`).
    pub(crate) wal_syncs: i64,
    /// WAL written, in bytes.
    pub(crate) wal_bytes: i64,
    /// Rows updated in the session and floor tables, and how many of them
    /// in place (HOT: no index changed, no new index entries).
    pub(crate) updates: i64,
    pub(crate) hot_updates: i64,
    /// The app's most called statements: text, calls, mean ms.
    pub(crate) top: Vec<(String, i64, f64)>,
}

/// Backends report their counters to `pg_stat_database`/`pg_stat_wal` at
/// most once a second, at the end of a transaction (an idle one: 10 s
/// later). So: wait a second, then run one statement on every connection of
/// every pool; every backend then has reported what it did before. Returns
/// the statements run.
async fn flush(pools: &[&PgPool]) -> i64 {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut n = 0;
    for pool in pools {
        let mut held = Vec::new();
        for _ in 0..pool.size() {
            if let Ok(c) = pool.acquire().await {
                held.push(c);
            }
        }
        for c in &mut held {
            if sqlx::query("SELECT 1 AS bench_flush")
                .execute(&mut **c)
                .await
                .is_ok()
            {
                n += 1;
            }
        }
    }
    n
}

async fn counters(admin: &PgPool) -> Mark {
    let (commits, wal_syncs, wal_bytes, updates, hot_updates): (i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
                (SELECT wal_sync FROM pg_stat_wal),
                (SELECT wal_bytes::bigint FROM pg_stat_wal),
                sum(n_tup_upd)::bigint, sum(n_tup_hot_upd)::bigint
           FROM pg_stat_user_tables WHERE relname IN ('sessions', 'bench_floor')",
        )
        .fetch_one(admin)
        .await
        .unwrap();
    Mark {
        commits,
        wal_syncs,
        wal_bytes,
        updates,
        hot_updates,
    }
}

/// Starts counting: the counters now (after `pools` reported theirs), and
/// `pg_stat_statements` from zero.
pub(crate) async fn start(admin: &PgPool, pools: &[&PgPool]) -> Mark {
    flush(pools).await;
    let mark = counters(admin).await;
    sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(admin)
        .await
        .unwrap();
    mark
}

/// Whether a statement is this harness's own.
fn harness(query: &str) -> bool {
    query.contains("pg_stat") || query.contains("bench_flush") || query.contains("CHECKPOINT")
}

/// Stops counting: what happened since `mark`.
pub(crate) async fn stop(admin: &PgPool, pools: &[&PgPool], mark: Mark) -> Window {
    // The feed polls of the flush's second count too: read after it.
    let flushes = flush(pools).await;
    let rows: Vec<(String, i64, f64)> = sqlx::query_as(
        "SELECT query, calls, total_exec_time FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          ORDER BY calls DESC",
    )
    .fetch_all(admin)
    .await
    .unwrap();
    let now = counters(admin).await;
    let mut w = Window::default();
    for (query, calls, total) in rows {
        if harness(&query) {
            continue;
        }
        if query.contains("pg_current_snapshot()") {
            w.feed_polls += calls;
            continue;
        }
        w.statements += calls;
        if w.top.len() < 3 {
            let text = query.split_whitespace().collect::<Vec<_>>().join(" ");
            w.top.push((text, calls, total / calls.max(1) as f64));
        }
    }
    // The harness's own commits: the flushes, and its two reads of the
    // counters and the reset (a few, against thousands of requests).
    w.commits = (now.commits - mark.commits - w.feed_polls - flushes - 3).max(0);
    w.wal_syncs = now.wal_syncs - mark.wal_syncs;
    w.wal_bytes = now.wal_bytes - mark.wal_bytes;
    w.updates = now.updates - mark.updates;
    w.hot_updates = now.hot_updates - mark.hot_updates;
    w
}
