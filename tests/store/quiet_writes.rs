//! A write by the crate runs no plpgsql while no cache is registered
//! (migration `20261206003001_quiet_writes`): its statement counts the
//! version and moves `collect_after` itself. The session trigger still
//! counts plain SQL's updates (a version never goes back), and logs every
//! update, the crate's included, once, while a cache is registered. Counted
//! by Postgres itself (`pg_stat_user_functions`).

use crate::common;
use axum_user_sessions::store::{RememberCredential, SessionRecord, TokenHash, Touch};
use axum_user_sessions::{PgStore, SessionProtocol};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// A store on a pool of one connection that counts calls of plpgsql
/// functions, so that the calls of everything it runs reach the statistics
/// together, in order.
async fn one_connection_store(test_pool: &sqlx::PgPool) -> (PgStore, sqlx::PgPool) {
    let opts = (*test_pool.connect_options())
        .clone()
        .options([("track_functions", "pl")]);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .unwrap();
    axum_user_sessions::migrate(&pool).await.unwrap();
    (PgStore::new(pool.clone()), pool)
}

/// A live session made through the store, and the hash of its token.
async fn new_session(store: &PgStore, start: OffsetDateTime) -> (Uuid, TokenHash) {
    session_of_token(store, start, 7).await
}

/// A live session made through the store with the token hash `[n; 32]`.
async fn session_of_token(store: &PgStore, start: OffsetDateTime, n: u8) -> (Uuid, TokenHash) {
    let id = axum_user_sessions::store::placement::session_id(Some("alice"));
    let mut r = SessionRecord::new(id, start);
    r.user_id = Some("alice".into());
    r.last_seen_at = start;
    r.expires_at = start + time::Duration::minutes(30);
    r.absolute_expires_at = start + time::Duration::days(1);
    let token = TokenHash::from_bytes([n; 32]);
    store.create(&r, &token).await.unwrap();
    (id, token)
}

/// `n` touches of session `id`, a second apart: one data write each.
/// The idle end of the last one.
async fn touch(
    store: &PgStore, id: Uuid, token: &TokenHash, start: OffsetDateTime, n: i64,
) -> OffsetDateTime {
    let mut end = start;
    for i in 1..=n {
        let now = start + time::Duration::seconds(i);
        end = now + time::Duration::minutes(30);
        let loaded = store
            .load(Some(id), token, &Touch::new(now, end))
            .await
            .unwrap();
        assert_eq!(
            loaded.unwrap().record.last_seen_at,
            now,
            "touch {i} not written"
        );
    }
    end
}

async fn version_and_collect_after(pg: &sqlx::PgPool, id: Uuid) -> (i64, OffsetDateTime) {
    sqlx::query_as("SELECT version, collect_after FROM axum_user_sessions.sessions WHERE id = $1")
        .bind(id)
        .fetch_one(pg)
        .await
        .unwrap()
}

/// Calls of the session trigger's function, once at least `at_least` are
/// counted.
async fn trigger_calls(pg: &sqlx::PgPool, at_least: i64) -> Option<i64> {
    common::eventually(Duration::from_secs(30), || async move {
        let calls: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(calls), 0)::int8 FROM pg_stat_user_functions
              WHERE schemaname = 'axum_user_sessions' AND funcname = 'log_session'",
        )
        .fetch_one(pg)
        .await
        .unwrap();
        (calls >= at_least).then_some(calls)
    })
    .await
}

#[sqlx::test(migrations = false)]
async fn with_no_cache_a_write_runs_no_trigger_and_counts_its_own_version(pool: sqlx::PgPool) {
    let (store, pg) = one_connection_store(&pool).await;
    let start = OffsetDateTime::now_utc();
    let (id, token) = new_session(&store, start).await;
    let end = touch(&store, id, &token, start, 20).await;
    let (version, collect_after) = version_and_collect_after(&pg, id).await;
    assert_eq!(version, 20, "one version per write, counted once");
    assert!(
        collect_after >= end,
        "collect_after {collect_after} before the end {end}"
    );
    // Plain SQL that sets the version back still gets the next one from
    // the trigger: the only call it counts.
    let set_back: i64 = sqlx::query_scalar(
        "UPDATE axum_user_sessions.sessions SET version = 0 WHERE id = $1 RETURNING version",
    )
    .bind(id)
    .fetch_one(&pg)
    .await
    .unwrap();
    assert_eq!(set_back, 21);
    let calls = trigger_calls(&pg, 1).await.expect("no function statistics");
    assert_eq!(calls, 1, "the crate's writes ran the trigger");
}

#[sqlx::test(migrations = false)]
async fn with_a_cache_registered_every_write_is_logged_once(pool: sqlx::PgPool) {
    let (store, pg) = one_connection_store(&pool).await;
    let start = OffsetDateTime::now_utc();
    let (id, token) = new_session(&store, start).await;
    // What a cache's feed does to register: a heartbeat.
    sqlx::query("SELECT axum_user_sessions.feed_beat()")
        .execute(&pg)
        .await
        .unwrap();
    touch(&store, id, &token, start, 5).await;
    sqlx::query("UPDATE axum_user_sessions.sessions SET name = 'plain' WHERE id = $1")
        .bind(id)
        .execute(&pg)
        .await
        .unwrap();
    let logged: Vec<i64> = sqlx::query_scalar(
        "SELECT version FROM axum_user_sessions.session_changes
          WHERE session_id = $1 AND kind = 0 ORDER BY version",
    )
    .bind(id)
    .fetch_all(&pg)
    .await
    .unwrap();
    assert_eq!(
        logged,
        vec![1, 2, 3, 4, 5, 6],
        "each write logged once, at its version"
    );
    assert_eq!(version_and_collect_after(&pg, id).await.0, 6);
    assert_eq!(trigger_calls(&pg, 6).await, Some(6));
}

/// A remembered device forgotten (its end moved back by a month):
/// `collect_after` follows the end back (migration
/// `20261210001001_collect_after_moves_back`), so garbage collection takes
/// the ended row now, not a month after it ended.
#[sqlx::test(migrations = false)]
async fn collect_after_follows_an_end_moved_back(pool: sqlx::PgPool) {
    let (store, pg) = one_connection_store(&pool).await;
    let hours_ago = OffsetDateTime::now_utc() - time::Duration::hours(3);
    // Whole seconds: Postgres keeps microseconds.
    let start = hours_ago.replace_nanosecond(0).unwrap();
    let (id, _) = new_session(&store, start).await;
    let month = start + time::Duration::days(30);
    let credential = RememberCredential::new([9; 16], TokenHash::from_bytes([8; 32]), month);
    assert!(
        store
            .set_remember(id, Some(&credential), month, start)
            .await
            .unwrap()
    );
    assert!(version_and_collect_after(&pg, id).await.1 >= month);

    let day = start + time::Duration::days(1);
    assert!(store.set_remember(id, None, day, start).await.unwrap());
    // Its end is the idle end, 30 minutes after `start`, plus as much slack.
    let (_, forgotten) = version_and_collect_after(&pg, id).await;
    assert_eq!(forgotten, start + time::Duration::hours(1));
    let now = OffsetDateTime::now_utc();
    let horizon = now - time::Duration::days(7);
    assert_eq!(
        store.gc_batch(now, horizon, 10).await.unwrap(),
        1,
        "not collected"
    );
}

/// Rows with no `collect_after`, as 0.1 left them: garbage collection
/// gives them one (a batch's worth before each batch) and then finds them
/// through the index, instead of reading every such row again in every
/// batch. The ended one is collected in the same batch; the live one
/// keeps working.
#[sqlx::test(migrations = false)]
async fn rows_without_collect_after_get_one_from_garbage_collection(pool: sqlx::PgPool) {
    let (store, pg) = one_connection_store(&pool).await;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let (live, token) = new_session(&store, now).await;
    let (_ended, _) = session_of_token(&store, now - time::Duration::hours(3), 8).await;
    let (endless, _) = session_of_token(&store, now, 9).await;
    let as_0_1 =
        "UPDATE axum_user_sessions.sessions SET collect_after = NULL, version = version + 1";
    sqlx::query(as_0_1).execute(&pg).await.unwrap();
    // And one that plain SQL made endless (no trigger checks an insert).
    let endless_sql = "UPDATE axum_user_sessions.sessions
                          SET expires_at = 'infinity', version = version + 1 WHERE id = $1";
    let endless_sql = sqlx::query(endless_sql).bind(endless);
    endless_sql.execute(&pg).await.unwrap();
    let without = || async {
        let sql = "SELECT count(*) FROM axum_user_sessions.sessions WHERE collect_after IS NULL";
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&pg)
            .await
            .unwrap()
    };
    assert_eq!(without().await, 3);

    let horizon = now - time::Duration::days(7);
    let deleted = store.gc_batch(now, horizon, 10).await.unwrap();
    assert_eq!(deleted, 1, "the ended row is collected");
    assert_eq!(
        without().await,
        1,
        "only the endless row is left without one"
    );
    // Its idle end, 30 minutes on, plus as much slack.
    let (_, collect_after) = version_and_collect_after(&pg, live).await;
    assert_eq!(collect_after, now + time::Duration::hours(1));
    let touch = Touch::new(now, now + time::Duration::minutes(30));
    let loaded = store.load(Some(live), &token, &touch).await.unwrap();
    assert!(loaded.is_some(), "the live row no longer loads");
}
