//! The Postgres change log (`session_changes`) that caches poll: a running
//! cache keeps it short by itself, so it does not grow with every write in
//! an app that never runs garbage collection.

use crate::common;
use crate::quiet_log::{open_writer, session_id};
use std::time::Duration;
use uuid::Uuid;

/// The change log's rows for session `id`.
pub(crate) async fn logged(pg: &sqlx::PgPool, id: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM axum_user_sessions.session_changes WHERE session_id = $1",
    )
    .bind(id)
    .fetch_one(pg)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_running_cache_collects_the_log_of_ended_transactions(pool: sqlx::PgPool) {
    let b = common::Backend::postgres_cached(pool).await;
    let pg = b.pg.clone().unwrap();
    let old = Uuid::new_v4();
    sqlx::query("INSERT INTO axum_user_sessions.session_changes (session_id, kind) VALUES ($1, 2)")
        .bind(old)
        .execute(&pg)
        .await
        .unwrap();
    // Collected once a horizon read after it is 30 s old: a collection
    // every 15 s, so within a minute; room for a loaded machine.
    let gone = common::eventually(Duration::from_secs(120), || {
        let pg = pg.clone();
        async move { (logged(&pg, old).await == 0).then_some(()) }
    })
    .await;
    assert!(gone.is_some(), "the log row was never collected");
    drop(b);
}

/// The bug this replaces: the log was collected by its rows' age (five
/// minutes), so a transaction that ran longer had its rows collected as it
/// committed, before a poll read them.
#[sqlx::test(migrations = false)]
async fn a_long_transaction_is_heard_of_whatever_its_age(pool: sqlx::PgPool) {
    let b = common::Backend::postgres_cached(pool).await;
    let pg = b.pg.clone().unwrap();
    let app = common::serve_demo(b.layer()).await;
    let mut c = common::Client::new(&app);
    c.login("alice").await;
    assert_eq!(c.put_kv("k", "before").await.status, 204);
    let id = session_id(&mut c).await;
    let canary = Uuid::new_v4();
    sqlx::query("INSERT INTO axum_user_sessions.session_changes (session_id, kind) VALUES ($1, 2)")
        .bind(canary)
        .execute(&pg)
        .await
        .unwrap();

    // A writer that stays open across collections, its log row dated ten
    // minutes back as if it had run that long.
    let mut writer = open_writer(&pg, id).await;
    sqlx::query(
        "UPDATE axum_user_sessions.session_changes SET at = at - interval '10 minutes'
          WHERE xid = pg_current_xact_id()",
    )
    .execute(&mut *writer)
    .await
    .unwrap();
    // Collections ran past the canary while the writer was open.
    let collected = common::eventually(Duration::from_secs(120), || {
        let pg = pg.clone();
        async move { (logged(&pg, canary).await == 0).then_some(()) }
    })
    .await;
    assert!(collected.is_some(), "no collection ran");
    assert_eq!(c.get("/kv").await.json()["k"], "before");
    writer.commit().await.unwrap();
    assert!(logged(&pg, id).await > 0, "the writer's log row went");
    let heard = common::eventually(Duration::from_secs(10), || {
        let mut c = c.clone();
        async move { (c.get("/kv").await.json()["k"] == "after").then_some(()) }
    })
    .await;
    assert!(heard.is_some(), "the cache never heard of the long writer");
    drop(b);
}

/// A starting cache waits for the transactions that write the session
/// tables when it registers, and for no other.
#[sqlx::test(migrations = false)]
async fn a_starting_cache_waits_only_for_writers_of_sessions(pool: sqlx::PgPool) {
    let b = common::Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    // A long transaction on another table (it has a transaction id).
    let mut other = pg.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *other)
        .await
        .unwrap();
    let cached = axum_user_sessions::CachedStore::new(
        axum_user_sessions::PgStore::new(pg.clone()),
        axum_user_sessions::CacheConfig::default(),
    );
    common::wait_listening(&cached).await;
    other.rollback().await.unwrap();
}
