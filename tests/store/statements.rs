//! What the Postgres statements do beyond their answers: garbage collection
//! finds its rows through the index made for it (not a scan of the table),
//! and the one-statement compare-and-set waits for a concurrent writer and
//! compares with what that writer committed.

use crate::common;
use axum_user_sessions::store::UpdateOutcome::{Conflict, Gone, Updated};
use axum_user_sessions::store::{SessionProtocol, SessionRecord, TokenHash};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

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
async fn gc_finds_ended_sessions_through_collect_after(pool: sqlx::PgPool) {
    let b = common::Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    // 20,000 live sessions, 30 idle past their end, 20 past their absolute
    // end (remembered), 10 revoked long ago; `collect_after` as the crate
    // writes it (the end), a few rows of an earlier version without one.
    sqlx::query(
        "INSERT INTO axum_user_sessions.sessions
            (id, user_id, created_at, last_seen_at, expires_at, absolute_expires_at,
             rotated_at, persistent, revoked_at, collect_after)
         SELECT gen_random_uuid(), 'u' || g, now(), now(), e.idle, e.absolute,
                now(), g BETWEEN 31 AND 50,
                CASE WHEN g BETWEEN 51 AND 60 THEN now() - interval '30 days' END,
                CASE WHEN g % 1000 = 999 THEN NULL
                     WHEN g BETWEEN 31 AND 50 THEN e.absolute
                     ELSE LEAST(e.idle, e.absolute) END
           FROM generate_series(1, 20060) g,
                LATERAL (SELECT CASE WHEN g <= 30 THEN now() - interval '1 minute'
                                     ELSE now() + interval '30 minutes' END AS idle,
                                CASE WHEN g BETWEEN 31 AND 50 THEN now() - interval '1 minute'
                                     ELSE now() + interval '12 hours' END AS absolute) e",
    )
    .execute(&pg)
    .await
    .unwrap();
    sqlx::query("ANALYZE axum_user_sessions.sessions")
        .execute(&pg)
        .await
        .unwrap();
    let before = scans(&pg, "sessions_collect_after_idx").await;
    let now = OffsetDateTime::now_utc();
    let horizon = now - time::Duration::days(7);
    let deleted = b.store.gc_batch(now, horizon, 1000).await.unwrap();
    assert_eq!(deleted, 60, "expired, past their end, revoked long ago");
    assert_eq!(b.store.gc_batch(now, horizon, 1000).await.unwrap(), 0);
    // A backend publishes its statistics about a second after it goes idle.
    let used = common::eventually(Duration::from_secs(30), || {
        let pg = pg.clone();
        async move { (scans(&pg, "sessions_collect_after_idx").await > before).then_some(()) }
    })
    .await;
    assert!(
        used.is_some(),
        "garbage collection did not use sessions_collect_after_idx"
    );
    // Indexes a touch would change (no HOT update) or every new session
    // would write twice.
    for gone in [
        "sessions_expires_at_idx",
        "sessions_absolute_expires_at_idx",
        "sessions_live_end_idx",
        "sessions_user_last_seen_idx",
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

/// A live session with `{"n": 1}`.
async fn session(store: &dyn SessionProtocol, token: u8) -> Uuid {
    let now = OffsetDateTime::now_utc();
    let mut r = SessionRecord::new(Uuid::new_v4(), now);
    r.absolute_expires_at = now + time::Duration::hours(1);
    r.expires_at = now + time::Duration::minutes(30);
    r.data.insert("n".into(), json!(1));
    store
        .create(&r, &TokenHash::from_bytes([token; 32]))
        .await
        .unwrap();
    r.id
}

/// Runs `change` on session `id` in a transaction of its own, starts the
/// compare-and-set of `n` from 1 to 2 while that transaction holds the row,
/// waits until the compare-and-set waits for it, commits, and returns what
/// the compare-and-set answered.
async fn cas_behind(
    pg: &sqlx::PgPool, store: Arc<dyn SessionProtocol>, id: Uuid, change: &'static str,
) -> axum_user_sessions::store::UpdateOutcome {
    let mut tx = pg.begin().await.unwrap();
    let changed = sqlx::query(change)
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1, "{change}");
    let cas = tokio::spawn(async move {
        store
            .update_value(id, "n", Some(&json!(1)), Some(&json!(2)))
            .await
            .unwrap()
    });
    let waiting = common::eventually(Duration::from_secs(30), || {
        let pg = pg.clone();
        async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&pg)
            .await
            .unwrap();
            (n > 0).then_some(())
        }
    })
    .await;
    assert!(
        waiting.is_some(),
        "the compare-and-set never waited for the row"
    );
    tx.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), cas)
        .await
        .expect("the compare-and-set still waits after the commit")
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_waiting_compare_and_set_compares_with_what_committed(pool: sqlx::PgPool) {
    let b = common::Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    let data = async |id| b.store.get(id).await.unwrap().unwrap().data;

    // The other writer changed the key: nothing written, and the conflict
    // says what that writer committed, not what the statement first saw.
    let id = session(b.store.as_ref(), 1).await;
    let other = "UPDATE axum_user_sessions.sessions
                    SET data = data || '{\"n\": 7}' WHERE id = $1";
    let outcome = cas_behind(&pg, b.store.clone(), id, other).await;
    assert_eq!(
        outcome,
        Conflict {
            current: Some(json!(7))
        }
    );
    assert_eq!(data(id).await["n"], json!(7));

    // The other writer changed another key: written, on top of that change.
    let id = session(b.store.as_ref(), 2).await;
    let other = "UPDATE axum_user_sessions.sessions
                    SET data = data || '{\"m\": true}' WHERE id = $1";
    let outcome = cas_behind(&pg, b.store.clone(), id, other).await;
    let version = b.store.get(id).await.unwrap().unwrap().version;
    assert_eq!(outcome, Updated { version });
    assert_eq!(version, 2, "the other write, then this one");
    assert_eq!(
        data(id).await,
        json!({"n": 2, "m": true}).as_object().cloned().unwrap()
    );

    // The other writer revoked the session: not written, not brought back.
    let id = session(b.store.as_ref(), 3).await;
    let other = "UPDATE axum_user_sessions.sessions
                    SET revoked_at = now(), data = '{}' WHERE id = $1";
    assert_eq!(cas_behind(&pg, b.store.clone(), id, other).await, Gone);
    assert!(data(id).await.is_empty());
}
