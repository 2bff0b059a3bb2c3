//! Store-specific checks: what reaches the tables, migrations, outages.

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
    let ours: i64 = sqlx::query_scalar("SELECT count(*) FROM axum_user_sessions._sqlx_migrations")
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
    let ours: i64 = sqlx::query_scalar("SELECT count(*) FROM _aus_migrations")
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
    assert!(
        store
            .rename(one, "alice", Some("Old laptop"), now)
            .await
            .unwrap()
    );
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

/// Waits for the change feed's next `CaughtUp`, returning the changes before it.
async fn next_poll(
    feed: &mut axum_user_sessions::store::ChangeFeed,
) -> Vec<axum_user_sessions::store::Change> {
    use axum_user_sessions::store::Change;
    let mut seen = Vec::new();
    loop {
        let change = tokio::time::timeout(Duration::from_secs(10), feed.changes.recv())
            .await
            .expect("the feed went quiet")
            .expect("the feed ended");
        match change {
            Change::CaughtUp { .. } => return seen,
            Change::Flush => panic!("the feed failed"),
            other => seen.push(other),
        }
    }
}

/// Polls until a poll reports `id`; the version reported and how many polls
/// it took.
async fn reported(
    feed: &mut axum_user_sessions::store::ChangeFeed, id: uuid::Uuid,
) -> (Option<u64>, usize) {
    use axum_user_sessions::store::Change;
    for polls in 1..=500 {
        for change in next_poll(feed).await {
            if let Change::Session { id: got, version } = change
                && got == id
            {
                return (version, polls);
            }
        }
    }
    panic!("{id} was never reported");
}

/// A change committed after a newer transaction's change (a lower
/// transaction id committing later) is reported all the same, once; token
/// changes and deletions are reported without a version.
#[sqlx::test(migrations = false)]
async fn pg_the_feed_reports_changes_committed_out_of_order(pool: sqlx::PgPool) {
    use axum_user_sessions::SessionProtocol as _;
    use axum_user_sessions::store::{Change, FeedOptions, SessionRecord, TokenHash};
    axum_user_sessions::migrate(&pool).await.unwrap();
    let store = PgStore::new(pool.clone());
    let now = time::OffsetDateTime::now_utc();
    let mut ids = Vec::new();
    for n in 1..=2u8 {
        let mut r = SessionRecord::new(uuid::Uuid::new_v4(), now);
        r.expires_at = now + time::Duration::hours(1);
        r.absolute_expires_at = now + time::Duration::hours(1);
        store
            .create(&r, &TokenHash::from_bytes([n; 32]))
            .await
            .unwrap();
        ids.push(r.id);
    }
    let (older, newer) = (ids[0], ids[1]);
    let mut feed = store
        .extensions()
        .cache
        .expect("Postgres has a feed")
        .subscribe(&FeedOptions::new(Duration::from_millis(5)));
    next_poll(&mut feed).await;

    // The older transaction writes first and commits last.
    let mut first = pool.begin().await.unwrap();
    sqlx::query("UPDATE axum_user_sessions.sessions SET data = '{\"a\": 1}' WHERE id = $1")
        .bind(older)
        .execute(&mut *first)
        .await
        .unwrap();
    let update = "UPDATE axum_user_sessions.sessions SET data = '{\"b\": 1}' WHERE id = $1";
    sqlx::query(update)
        .bind(newer)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(reported(&mut feed, newer).await.0, Some(1));
    for _ in 0..3 {
        let polled = next_poll(&mut feed).await;
        assert!(
            polled.is_empty(),
            "reported again, or uncommitted: {polled:?}"
        );
    }
    first.commit().await.unwrap();
    assert_eq!(reported(&mut feed, older).await.0, Some(1));
    for _ in 0..3 {
        let polled = next_poll(&mut feed).await;
        assert!(polled.is_empty(), "reported twice: {polled:?}");
    }

    // A token change and a deletion carry no version.
    sqlx::query("UPDATE axum_user_sessions.tokens SET state = 3, superseded_at = now() WHERE session_id = $1")
        .bind(newer)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(reported(&mut feed, newer).await.0, None);
    assert!(store.delete(older).await.unwrap());
    assert_eq!(reported(&mut feed, older).await.0, None);
    let _ = Change::Flush;
}
