//! What the Postgres statements do beyond their answers: garbage collection
//! finds its rows through the index made for it (not a scan of the table).

use crate::common;
use std::time::Duration;
use time::OffsetDateTime;

/// How many scans index `name` has had, as the statistics say.
async fn scans(pg: &sqlx::PgPool, name: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(idx_scan), 0)::bigint FROM pg_stat_user_indexes
          WHERE schemaname = 'axum_user_sessions' AND indexrelname = $1",
    )
    .bind(name)
    .fetch_one(pg)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn gc_finds_ended_sessions_through_the_live_end_index(pool: sqlx::PgPool) {
    let b = common::Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    // 20,000 live sessions, 30 idle past their end, 20 past their absolute
    // end (remembered), 10 revoked long ago.
    sqlx::query(
        "INSERT INTO axum_user_sessions.sessions
            (id, user_id, created_at, last_seen_at, expires_at, absolute_expires_at,
             rotated_at, persistent, revoked_at)
         SELECT gen_random_uuid(), 'u' || g, now(), now(),
                CASE WHEN g <= 30 THEN now() - interval '1 minute'
                     ELSE now() + interval '30 minutes' END,
                CASE WHEN g BETWEEN 31 AND 50 THEN now() - interval '1 minute'
                     ELSE now() + interval '12 hours' END,
                now(), g BETWEEN 31 AND 50,
                CASE WHEN g BETWEEN 51 AND 60 THEN now() - interval '30 days' END
           FROM generate_series(1, 20060) g",
    )
    .execute(&pg)
    .await
    .unwrap();
    sqlx::query("ANALYZE axum_user_sessions.sessions")
        .execute(&pg)
        .await
        .unwrap();
    let before = scans(&pg, "sessions_live_end_idx").await;
    let now = OffsetDateTime::now_utc();
    let horizon = now - time::Duration::days(7);
    let deleted = b.store.gc_batch(now, horizon, 1000).await.unwrap();
    assert_eq!(deleted, 60, "expired, past their end, revoked long ago");
    assert_eq!(b.store.gc_batch(now, horizon, 1000).await.unwrap(), 0);
    // A backend publishes its statistics about a second after it goes idle.
    let used = common::eventually(Duration::from_secs(30), || {
        let pg = pg.clone();
        async move { (scans(&pg, "sessions_live_end_idx").await > before).then_some(()) }
    })
    .await;
    assert!(
        used.is_some(),
        "garbage collection did not use sessions_live_end_idx"
    );
    for gone in [
        "sessions_expires_at_idx",
        "sessions_absolute_expires_at_idx",
    ] {
        let found: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_indexes
                WHERE schemaname = 'axum_user_sessions' AND indexname = $1)",
        )
        .bind(gone)
        .fetch_one(&pg)
        .await
        .unwrap();
        assert!(!found, "{gone} is still written at every new session");
    }
}
