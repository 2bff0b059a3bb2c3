//! Store-specific checks: what reaches the tables, migrations, outages (the
//! upgrade from 0.1 is in `upgrade.rs`, the feed's order in `change_log.rs`).

use crate::common;

use axum_user_sessions::{PgStore, SessionLayer, SqliteStore};
use base64::Engine as _;
use common::{Backend, Client, Proxy, eventually, serve_demo};
use sha2::Digest as _;
use sqlx::Row as _;
use std::net::ToSocketAddrs as _;
use std::time::Duration;

/// The secret of a cookie (`<session id>.<secret>`) and its SHA-256.
fn raw_and_hash(cookie: &str) -> (Vec<u8>, Vec<u8>) {
    let (_, secret) = cookie
        .split_once('.')
        .expect("a token that names its session");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(secret)
        .unwrap();
    assert_eq!(raw.len(), 32, "256-bit token");
    let hash = sha2::Sha256::digest(&raw).to_vec();
    (raw, hash)
}

#[sqlx::test(migrations = false)]
async fn pg_stores_only_the_token_hash(pool: sqlx::PgPool) {
    let b = Backend::postgres(pool).await;
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let token = c.cookie.clone().unwrap();
    let (raw, hash) = raw_and_hash(&token);
    let pg = b.pg.as_ref().unwrap();
    let count = |sql: &'static str, arg: Vec<u8>| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(arg)
            .fetch_one(pg)
            .await
            .unwrap()
    };
    let q = "SELECT count(*) FROM axum_user_sessions.tokens WHERE token_hash = $1";
    assert_eq!(count(q, hash).await, 1, "the hash is the lookup key");
    assert_eq!(count(q, raw).await, 0, "the raw token is stored");
    let text: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM axum_user_sessions.sessions s WHERE s::text LIKE '%' || $1 || '%')
              + (SELECT count(*) FROM axum_user_sessions.tokens t WHERE t::text LIKE '%' || $1 || '%')",
    )
    .bind(&token)
    .fetch_one(pg)
    .await
    .unwrap();
    assert_eq!(text, 0, "the cookie value appears in a row");
}

#[tokio::test]
async fn sqlite_stores_only_the_token_hash() {
    let b = Backend::sqlite().await;
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let token = c.cookie.clone().unwrap();
    let (raw, hash) = raw_and_hash(&token);
    let db = b.sqlite.as_ref().unwrap();
    let q = "SELECT count(*) FROM aus_tokens WHERE token_hash = ?1";
    let n: i64 = sqlx::query_scalar(q)
        .bind(hash)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let n: i64 = sqlx::query_scalar(q).bind(raw).fetch_one(db).await.unwrap();
    assert_eq!(n, 0);
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM aus_sessions
          WHERE data LIKE '%' || ?1 || '%' OR coalesce(user_agent, '') LIKE '%' || ?1 || '%'",
    )
    .bind(&token)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(n, 0);
}

fn app_migrator() -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr as _;
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    Migrator::with_migrations(vec![Migration::new(
        1,
        "app users".into(),
        MigrationType::Simple,
        "CREATE TABLE app_users (id integer PRIMARY KEY)".into_sql_str(),
        false,
    )])
}

#[sqlx::test(migrations = false)]
async fn pg_migrations_are_idempotent_and_apart_from_the_apps(pool: sqlx::PgPool) {
    // The app's own migrations, before and after ours, in the same database.
    app_migrator().run(&pool).await.unwrap();
    axum_user_sessions::migrate(&pool).await.unwrap();
    axum_user_sessions::migrate(&pool).await.unwrap();
    app_migrator().run(&pool).await.unwrap();
    let ours: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM axum_user_sessions._sqlx_migrations) + (SELECT count(*) FROM axum_user_sessions._sqlx_migrations_since_0_1)",
    )
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(ours as usize, PgStore::migrator().iter().count());
    let apps: Vec<i64> = sqlx::query_scalar("SELECT version FROM public._sqlx_migrations")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(apps, vec![1], "our migrations leaked into the app's table");
    for index in [
        "tokens_pkey",
        "sessions_user_idx",
        "sessions_collect_after_idx",
    ] {
        let found: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'axum_user_sessions' AND indexname = $1)",
        )
        .bind(index)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(found, "index {index} missing");
    }
}

#[tokio::test]
async fn sqlite_migrations_are_idempotent_and_apart_from_the_apps() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let pool = store.pool();
    app_migrator().run(pool).await.unwrap();
    axum_user_sessions::migrate(pool).await.unwrap();
    axum_user_sessions::migrate(pool).await.unwrap();
    app_migrator().run(pool).await.unwrap();
    let ours: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM _aus_migrations) + (SELECT count(*) FROM _aus_migrations_since_0_1)",
    )
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(ours as usize, SqliteStore::migrator().iter().count());
    let apps: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(apps, vec![1]);
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
}

/// The database goes away under a running app: requests that need it answer
/// 503 within the acquire timeout (never 500, never a hang), requests that do
/// not keep working, and once it is back the app recovers by itself with every
/// session and its data intact.
#[sqlx::test(migrations = false)]
async fn pg_outage_answers_503_and_recovers(pool: sqlx::PgPool) {
    let opts = (*pool.connect_options()).clone();
    let upstream = (opts.get_host(), opts.get_port())
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(upstream).await;
    let app_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(1))
        .test_before_acquire(false)
        .connect_with(opts.host("127.0.0.1").port(proxy.addr.port()))
        .await
        .unwrap();
    axum_user_sessions::migrate(&app_pool).await.unwrap();
    let app = serve_demo(SessionLayer::new(app_pool)).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    assert_eq!(c.put_kv("saved", "before the outage").await.status, 204);
    let token = c.cookie.clone();

    proxy.down();
    for path in ["/me", "/kv", "/"] {
        let start = std::time::Instant::now();
        let res = c.get(path).await;
        assert_eq!(res.status, 503, "{path} during the outage: {}", res.body);
        assert!(start.elapsed() < Duration::from_secs(5), "{path} hung");
        assert!(!res.body.to_lowercase().contains("sqlx") && !res.body.contains("error returned"));
    }
    let res = c.put_kv("during", "outage").await;
    assert_eq!(res.status, 503);
    let res = c.post("/login").await;
    assert!(
        res.status == 503 || res.status == 400 || res.status == 415,
        "{}",
        res.status
    );
    assert_eq!(
        c.get("/health").await.status,
        200,
        "routes without sessions keep working"
    );
    assert_eq!(c.cookie, token, "the outage cost the client its cookie");

    proxy.up();
    let back = eventually(Duration::from_secs(15), || {
        let mut c = c.clone();
        async move { (c.get("/me").await.status == 200).then_some(()) }
    })
    .await;
    assert!(back.is_some(), "the app did not recover");
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    let kv = c.get("/kv").await.json();
    assert_eq!(kv["saved"], "before the outage");
    assert!(kv.get("during").is_none());
}

#[sqlx::test(migrations = false)]
async fn pg_migrate_reports_what_it_applied(pool: sqlx::PgPool) {
    let ups: Vec<(i64, String)> = PgStore::migrator()
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, m.description.to_string()))
        .collect();
    let first = axum_user_sessions::migrate(&pool).await.unwrap();
    let applied: Vec<(i64, String)> = first
        .newly_applied
        .iter()
        .map(|m| (m.version, m.description.clone()))
        .collect();
    assert_eq!(applied, ups);
    assert_eq!(first.total_applied, ups.len());
    assert_eq!(first.latest_version, ups.last().map(|m| m.0));
    let store = PgStore::new(pool.clone());
    let again = axum_user_sessions::migrate(&store).await.unwrap();
    assert!(again.newly_applied.is_empty(), "{again:?}");
    assert_eq!(again.total_applied, ups.len());
    assert_eq!(again.latest_version, first.latest_version);
}

#[tokio::test]
async fn sqlite_migrate_reports_what_it_applied_on_pools_and_stores() {
    use axum_user_sessions::{MemoryStore, MigrationReport, SessionProtocol};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let ups: Vec<(i64, String)> = SqliteStore::migrator()
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, m.description.to_string()))
        .collect();
    let first = axum_user_sessions::migrate(&store).await.unwrap();
    let applied: Vec<(i64, String)> = first
        .newly_applied
        .iter()
        .map(|m| (m.version, m.description.clone()))
        .collect();
    assert_eq!(applied, ups);
    assert_eq!(first.total_applied, ups.len());
    assert_eq!(first.latest_version, ups.last().map(|m| m.0));
    let again = axum_user_sessions::migrate(store.pool()).await.unwrap();
    assert!(again.newly_applied.is_empty(), "{again:?}");
    assert_eq!(again.total_applied, ups.len());
    let shared: Arc<dyn SessionProtocol> = Arc::new(store);
    assert_eq!(axum_user_sessions::migrate(&shared).await.unwrap(), again);
    assert_eq!(
        axum_user_sessions::migrate(shared.as_ref()).await.unwrap(),
        again
    );
    let memory = axum_user_sessions::migrate(&MemoryStore::new())
        .await
        .unwrap();
    assert_eq!(memory, MigrationReport::default());
}

/// A SQLite database that is full (SQLITE_FULL; sqlx reports SQLite's
/// extended codes, SQLITE_BUSY_SNAPSHOT among them, whose low byte is the
/// primary one) is an outage to try again (`503`), as a full disk is on
/// Postgres: it answered `500`.
#[tokio::test]
async fn sqlite_a_full_database_is_unavailable() {
    use axum_user_sessions::SessionProtocol;
    use axum_user_sessions::store::{SessionRecord, TokenHash};
    let dir = tempfile::tempdir().unwrap();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("full.db"))
        .create_if_missing(true)
        .pragma("max_page_count", "128");
    let store = SqliteStore::new(sqlx::SqlitePool::connect_with(options).await.unwrap());
    SessionProtocol::migrate(&store).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    for n in 0..=255u8 {
        let mut r = SessionRecord::new(uuid::Uuid::new_v4(), now);
        r.data.insert("k".into(), "x".repeat(16 * 1024).into());
        if let Err(e) = store.create(&r, &TokenHash::from_bytes([n; 32])).await {
            assert!(e.is_unavailable(), "{e:?}");
            return;
        }
    }
    panic!("4 MB of sessions fit in 128 pages");
}

/// Postgres' answers for a transaction it rolled back to let another go
/// on (a deadlock, a serialization failure) are outages to try again
/// (`503`), not a failure of the store (`500`): a revocation that lost a
/// deadlock to a write batch is not refused for good.
#[sqlx::test(migrations = false)]
async fn pg_a_deadlock_or_a_serialization_failure_is_unavailable(pool: sqlx::PgPool) {
    use axum_user_sessions::store::Error;
    for (code, raise) in [
        (
            "40P01",
            "DO $$ BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = '40P01'; END $$",
        ),
        (
            "40001",
            "DO $$ BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = '40001'; END $$",
        ),
    ] {
        let err = sqlx::query(raise).execute(&pool).await.unwrap_err();
        let err = Error::from(err);
        assert!(err.is_unavailable(), "{code}: {err:?}");
        assert!(err.is_rolled_back(), "{code}: {err:?}");
    }
}

/// Collecting users' device records deletes a record no longer worth
/// keeping; one written while the collection waited for its row (a new
/// trust, a failed sign-in) is judged by what was written, and kept.
/// Before, the delete's subquery had judged the old values, and the fresh
/// write was deleted.
#[sqlx::test(migrations = false)]
async fn pg_a_device_record_written_during_its_collection_is_kept(pool: sqlx::PgPool) {
    use axum_user_sessions::SessionProtocol;
    let store = PgStore::new(pool.clone());
    SessionProtocol::migrate(&store).await.unwrap();
    let insert = "INSERT INTO axum_user_sessions.user_devices VALUES ('dev', 1, '{}', NULL, 0)";
    sqlx::query(insert).execute(&pool).await.unwrap();
    // A write in progress: the user trusts a device, until far ahead.
    let mut writer = pool.begin().await.unwrap();
    let trust = "UPDATE axum_user_sessions.user_devices \
                 SET trust_until = 9e15, version = 2 WHERE user_id = 'dev'";
    sqlx::query(trust).execute(&mut *writer).await.unwrap();
    let collecting = tokio::spawn(async move {
        let devices = store.extensions().devices.expect("device records");
        let now = time::OffsetDateTime::now_utc();
        devices.collect_devices(now, now, 10).await
    });
    let waiting = "SELECT count(*) FROM pg_stat_activity \
                   WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM%'";
    let blocked = eventually(Duration::from_secs(30), || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar(waiting).fetch_one(&pool).await.unwrap();
            (n > 0).then_some(())
        }
    })
    .await;
    assert!(blocked.is_some(), "the collection never waited for the row");
    writer.commit().await.unwrap();
    assert_eq!(
        collecting.await.unwrap().unwrap(),
        0,
        "the fresh record was deleted"
    );
    let kept = "SELECT count(*) FROM axum_user_sessions.user_devices WHERE user_id = 'dev'";
    let n: i64 = sqlx::query_scalar(kept).fetch_one(&pool).await.unwrap();
    assert_eq!(n, 1);
}

/// A time the crate cannot read ('infinity', a year past 9999), written
/// by plain SQL, is refused where it is written: reading one panicked in
/// sqlx's decoding (a 500, for every request of a load batch it was in).
#[sqlx::test(migrations = false)]
async fn pg_a_time_the_crate_cannot_read_is_refused_where_it_is_written(pool: sqlx::PgPool) {
    let b = Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    for sql in [
        "UPDATE axum_user_sessions.sessions SET absolute_expires_at = 'infinity'",
        "UPDATE axum_user_sessions.sessions SET expires_at = '12000-01-01'",
        "UPDATE axum_user_sessions.sessions SET revoked_at = '-infinity'",
    ] {
        let err = sqlx::query(sql).execute(&pg).await.unwrap_err();
        let code = err.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("23514"), "{sql}: {err}");
    }
    assert_eq!(c.me().await.as_deref(), Some("alice"));
}
