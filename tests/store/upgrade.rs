//! Upgrades in place: a Postgres database of 0.1, with sessions in it,
//! migrated by this version keeps every session, loadable by its old
//! cookie. (`tests/ops/rolling.rs` runs the released build and this one on
//! one database, `tests/http/api_clients/upgrade.rs` the API clients'.)

use axum_user_sessions::PgStore;
use axum_user_sessions::store::DeviceWrite;

/// The migrations 0.1 shipped with (the first four).
fn migrator_0_1() -> sqlx::migrate::Migrator {
    let mut m = sqlx::migrate::Migrator::with_migrations(
        PgStore::migrator()
            .iter()
            .filter(|m| m.version <= 20261123000004)
            .cloned()
            .collect(),
    );
    m.dangerous_set_table_name("axum_user_sessions._sqlx_migrations");
    m.create_schema("axum_user_sessions");
    m
}

/// A database of 0.1, with sessions in it, upgrades in place: every session
/// stays, loadable, and is versioned from then on.
#[sqlx::test(migrations = false)]
async fn pg_a_populated_0_1_database_upgrades_in_place(pool: sqlx::PgPool) {
    use axum_user_sessions::SessionProtocol as _;
    use axum_user_sessions::store::{DataPatch, TokenHash, Touch};
    let old = migrator_0_1();
    assert_eq!(old.iter().count(), 4);
    old.run(&pool).await.unwrap();
    // Sessions as 0.1 wrote them (its `create`), one with a pending token.
    let (one, two) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    for (id, token, data) in [(one, 1u8, r#"{"n": 1}"#), (two, 2, r#"{"n": 2}"#)] {
        sqlx::query(
            "WITH s AS (
                INSERT INTO axum_user_sessions.sessions
                    (id, user_id, data, created_at, authenticated_at, last_seen_at, expires_at,
                     absolute_expires_at, rotated_at, ip, user_agent, persistent)
                VALUES ($1, 'alice', $2::jsonb, now(), now(), now(), now() + interval '1 hour',
                        now() + interval '12 hours', now(), '192.0.2.1'::inet, 'test', false)
                RETURNING id
            )
            INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
            SELECT $3, id, 0, now() FROM s",
        )
        .bind(id)
        .bind(data)
        .bind(vec![token; 32])
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
         VALUES ($1, $2, 1, now())",
    )
    .bind(vec![3u8; 32])
    .bind(two)
    .execute(&pool)
    .await
    .unwrap();

    let report = axum_user_sessions::migrate(&pool).await.unwrap();
    let new: Vec<&str> = report
        .newly_applied
        .iter()
        .map(|m| m.description.as_str())
        .collect();
    // Every migration since 0.1, whichever they are, in order.
    let since: Vec<String> = PgStore::migrator()
        .iter()
        .filter(|m| m.version > 20261123000004)
        .map(|m| m.description.to_string())
        .collect();
    assert_eq!(new, since);
    assert_eq!(new.first().copied(), Some("change feed"));
    // A 0.1 instance that starts now (scaled out, restarted) runs its
    // migrations at its start: they find nothing they do not know.
    migrator_0_1()
        .run(&pool)
        .await
        .expect("0.1 cannot start after the upgrade");

    let store = PgStore::new(pool.clone());
    let now = time::OffsetDateTime::now_utc();
    let mut touch = Touch::new(now, now + time::Duration::minutes(30));
    touch.stale_before = now - time::Duration::hours(1); // read only
    for (id, token, n) in [(one, 1u8, 1), (two, 2, 2)] {
        let l = store
            .load(None, &TokenHash::from_bytes([token; 32]), &touch)
            .await
            .unwrap()
            .expect("a 0.1 session is gone");
        assert_eq!(l.record.id, id);
        assert_eq!(l.record.data["n"], n);
        assert_eq!(l.record.user_id.as_deref(), Some("alice"));
        assert_eq!(l.record.version, 0);
        // No tokens' end of their own: the absolute end alone, as in 0.1.
        assert_eq!(l.record.tokens_expire_at, None);
        assert!(l.record.token_active(now));
    }
    assert!(
        store
            .load(None, &TokenHash::from_bytes([2; 32]), &touch)
            .await
            .unwrap()
            .unwrap()
            .has_pending
    );
    // Logged while a cache's feed is registered (its heartbeat,
    // 20261204001001), and for ten minutes after upgrading a populated
    // database, for instances still on the old version.
    let ahead: bool = sqlx::query_scalar(
        "SELECT last_value > extract(epoch FROM clock_timestamp()) * 1000 + 480000
           FROM axum_user_sessions.feed_heartbeat",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(ahead, "an upgraded database in use stopped logging at once");
    // Versioned from now on, by the crate and by plain SQL alike.
    let mut patch = DataPatch::default();
    patch.set.insert("n".into(), 10.into());
    assert_eq!(store.patch_data(one, &patch).await.unwrap(), Some(1));
    sqlx::query("UPDATE axum_user_sessions.sessions SET user_agent = 'sql' WHERE id = $1")
        .bind(one)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(store.get(one).await.unwrap().unwrap().version, 2);
    // The notification triggers are gone, and so are the marks in the rows
    // (20261203003001: updates log to `session_changes` and stay HOT).
    let marks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns
          WHERE table_schema = 'axum_user_sessions' AND column_name = 'changed_xid'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(marks, 0);
    let logged: Vec<(uuid::Uuid, Option<i64>)> = sqlx::query_as(
        "SELECT session_id, version FROM axum_user_sessions.session_changes
          WHERE kind = 0 ORDER BY version",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        logged,
        [(one, Some(1)), (one, Some(2))],
        "every update logged"
    );
    // A deletion leaves one tombstone.
    let notify: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_proc WHERE proname = 'notify_change'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(notify, 0);
    assert!(store.delete(two).await.unwrap());
    let buried: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT session_id FROM axum_user_sessions.session_changes WHERE kind = 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(buried, [two], "one tombstone per deleted session");
    // A 0.1 session can be given a name (device names, 20261202004001).
    let name = DeviceWrite::Name {
        user_id: "alice",
        name: Some("Old laptop"),
        now,
    };
    assert!(store.set_device(one, &name).await.unwrap());
    let named = store.get(one).await.unwrap().unwrap();
    assert_eq!(named.name.as_deref(), Some("Old laptop"));
    assert_eq!(named.version, 3, "renaming is a change");
    // With no heartbeat, no cache runs: versioned, not logged.
    sqlx::query("SELECT setval('axum_user_sessions.feed_heartbeat', 0)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE axum_user_sessions.sessions SET user_agent = 'quiet' WHERE id = $1")
        .bind(one)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(store.get(one).await.unwrap().unwrap().version, 4);
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM axum_user_sessions.session_changes WHERE kind = 0",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(logged, 3, "logged with no cache");
}

/// A database that already holds a time the crate cannot read (set by
/// plain SQL before the check existed) is brought into range by the
/// migration: the row reads, and a revocation of everyone, which updates
/// it, passes the new check.
#[sqlx::test(migrations = false)]
async fn pg_a_row_holding_infinity_is_brought_into_range(pool: sqlx::PgPool) {
    use axum_user_sessions::store::{Revocation, RevokeReason, RevokeScope, RevokedBy};
    use axum_user_sessions::{SessionAdmin, SessionProtocol as _};
    let mut before = sqlx::migrate::Migrator::with_migrations(
        PgStore::migrator()
            .iter()
            .filter(|m| m.version < 20261207001001)
            .cloned()
            .collect(),
    );
    before.dangerous_set_table_name("axum_user_sessions._sqlx_migrations");
    before.create_schema("axum_user_sessions");
    before.run(&pool).await.unwrap();
    let store = PgStore::new(pool.clone());
    let id = uuid::Uuid::new_v4();
    let now = time::OffsetDateTime::now_utc();
    let mut r = axum_user_sessions::store::SessionRecord::new(id, now);
    r.user_id = Some("forever".into());
    r.expires_at = now + std::time::Duration::from_secs(3600);
    r.absolute_expires_at = now + std::time::Duration::from_secs(12 * 3600);
    store
        .create(
            &r,
            &axum_user_sessions::store::TokenHash::from_bytes([7; 32]),
        )
        .await
        .unwrap();
    sqlx::query("UPDATE axum_user_sessions.sessions SET absolute_expires_at = 'infinity'")
        .execute(&pool)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    // An earlier build of 0.2 recorded its migrations in 0.1's table: they
    // moved to their own, and 0.1 starts.
    let in_0_1s: i64 =
        sqlx::query_scalar("SELECT count(*) FROM axum_user_sessions._sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(in_0_1s, 4);
    migrator_0_1().run(&pool).await.unwrap();
    assert!(store.migrate().await.unwrap().newly_applied.is_empty());
    let read = store.get(id).await.unwrap().expect("the row reads");
    assert_eq!(read.absolute_expires_at.year(), 9999);
    let how = Revocation::new(RevokeReason::Admin, RevokedBy::operator("ops"), now);
    let revoked = store.revoke(&RevokeScope::Everyone, &how).await.unwrap();
    assert_eq!(revoked, 1);
    let admin = SessionAdmin::new(store);
    assert!(admin.list_user("forever").await.unwrap().is_empty());
}

/// Two processes migrating one SQLite file at once (workers starting
/// together, the command line beside the app): SQLite's migrator takes no
/// lock, so both tried the first migration and the second failed on what
/// the first had made. Each now goes on past a migration the other applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_processes_migrating_one_file_at_once_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..5 {
        let file = dir.path().join(format!("app-{round}.db"));
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = || {
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_lazy_with(options.clone())
        };
        let (a, b) = (pool(), pool());
        let (ra, rb) = tokio::join!(
            axum_user_sessions::migrate(&a),
            axum_user_sessions::migrate(&b)
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let all = axum_user_sessions::SqliteStore::migrator().iter().count();
        assert_eq!((ra.total_applied, rb.total_applied), (all, all));
        // Between them they applied every migration (each report lists
        // what was applied between its reads before and after, the other's
        // included).
        let mut versions: Vec<i64> = [&ra, &rb]
            .iter()
            .flat_map(|r| r.newly_applied.iter().map(|m| m.version))
            .collect();
        versions.sort_unstable();
        versions.dedup();
        assert_eq!(versions.len(), all);
    }
}

/// A Postgres migration that fails answers its error and leaves no lock
/// behind. (A failed run returned without unlocking, so the connection it
/// gave back to the pool held the migrators' advisory lock, and the next
/// run on another connection, the app trying again, waited for ever.)
#[sqlx::test(migrations = false)]
async fn pg_a_migration_that_fails_leaves_no_lock_behind(pool: sqlx::PgPool) {
    let clash =
        "CREATE SCHEMA axum_user_sessions; CREATE TABLE axum_user_sessions.sessions (x int)";
    sqlx::raw_sql(clash).execute(&pool).await.unwrap();
    let ran = axum_user_sessions::migrate(&pool).await;
    assert!(
        matches!(ran, Err(axum_user_sessions::store::Error::Migrate(_))),
        "{ran:?}"
    );
    let held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    let released = crate::common::eventually(std::time::Duration::from_secs(10), || async {
        let n: i64 = sqlx::query_scalar(held).fetch_one(&pool).await.unwrap();
        (n == 0).then_some(())
    })
    .await;
    assert!(released.is_some(), "the migrators' lock is still held");
}
