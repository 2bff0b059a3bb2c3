//! The Postgres change log (`session_changes`) that caches poll: a running
//! cache keeps it short by itself, so it does not grow with every write in
//! an app that never runs garbage collection.

use crate::common;
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
async fn a_running_cache_collects_the_old_log(pool: sqlx::PgPool) {
    let b = common::Backend::postgres_cached(pool).await;
    let pg = b.pg.clone().unwrap();
    let (old, recent) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::query(
        "INSERT INTO axum_user_sessions.session_changes (session_id, kind, at)
         VALUES ($1, 2, clock_timestamp() - interval '10 minutes'),
                ($2, 2, clock_timestamp())",
    )
    .bind(old)
    .bind(recent)
    .execute(&pg)
    .await
    .unwrap();
    // Collection runs every 5 s: allow several rounds on a loaded machine.
    let gone = common::eventually(Duration::from_secs(60), || {
        let pg = pg.clone();
        async move { (logged(&pg, old).await == 0).then_some(()) }
    })
    .await;
    assert!(
        gone.is_some(),
        "the ten-minute-old log row was never collected"
    );
    assert_eq!(
        logged(&pg, recent).await,
        1,
        "a row the feeds may need went"
    );
    drop(b);
}
