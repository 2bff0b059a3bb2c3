//! API clients after an upgrade: sessions of a 0.1 database (Postgres,
//! SQLite) are listed as browsers, not API clients.

use super::serve_api;
use crate::common::{Backend, Client};
use axum_user_sessions::SessionLayer;

/// A database of 0.1 upgraded in place lists its sessions as browsers, not
/// API clients.
#[sqlx::test(migrations = false)]
async fn pg_a_migrated_0_1_session_is_not_an_api_client(pool: sqlx::PgPool) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let mut old = sqlx::migrate::Migrator::with_migrations(
        axum_user_sessions::PgStore::migrator()
            .iter()
            .filter(|m| m.version <= 20261123000004)
            .cloned()
            .collect(),
    );
    old.dangerous_set_table_name("axum_user_sessions._sqlx_migrations");
    old.create_schema("axum_user_sessions");
    old.run(&pool).await.unwrap();
    let raw = [7u8; 32];
    let hash = sha2::Sha256::digest(raw).to_vec();
    sqlx::query(
        "WITH s AS (
            INSERT INTO axum_user_sessions.sessions
                (id, user_id, data, created_at, authenticated_at, last_seen_at, expires_at,
                 absolute_expires_at, rotated_at, ip, user_agent, persistent)
            VALUES (gen_random_uuid(), 'alice', '{}'::jsonb, now(), now(), now(),
                    now() + interval '1 hour', now() + interval '12 hours', now(),
                    '127.0.0.1'::inet, 'curl/8.5.0', false)
            RETURNING id
        )
        INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
        SELECT $1, id, 0, now() FROM s",
    )
    .bind(hash)
    .execute(&pool)
    .await
    .unwrap();
    let b = Backend::postgres(pool).await; // migrates to today's schema
    let app = serve_api(b.layer().with_bearer_tokens(true)).await;
    let mut browser = Client::new(&app);
    browser.cookie = Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
    let res = browser.get("/sessions").await;
    assert_eq!(res.status, 200, "{}", res.body);
    let list = res.json();
    assert_eq!(list["sessions"][0]["api_client"], false, "{list}");
    assert_ne!(list["sessions"][0]["device"], "API client", "{list}");
}

/// The same on SQLite: a 0.1 file upgraded in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_migrated_0_1_session_is_not_an_api_client() {
    use axum_user_sessions::SqliteStore;
    use base64::Engine as _;
    use sha2::Digest as _;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let mut old = sqlx::migrate::Migrator::with_migrations(
        SqliteStore::migrator()
            .iter()
            .filter(|m| m.version <= 20261123000003)
            .cloned()
            .collect(),
    );
    old.dangerous_set_table_name("_aus_migrations");
    old.run(store.pool()).await.unwrap();
    let raw = [9u8; 32];
    let id = uuid::Uuid::new_v4();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1_000_000;
    let hour = 3_600 * 1_000_000;
    sqlx::query(
        "INSERT INTO aus_sessions (id, user_id, data, created_at, authenticated_at,
             last_seen_at, expires_at, absolute_expires_at, rotated_at, ip, user_agent, persistent)
         VALUES (?1, 'alice', '{}', ?2, ?2, ?2, ?3, ?4, ?2, '127.0.0.1', 'curl/8.5.0', 0)",
    )
    .bind(id.as_bytes().as_slice())
    .bind(now)
    .bind(now + hour)
    .bind(now + 12 * hour)
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO aus_tokens (token_hash, session_id, state, created_at) VALUES (?1, ?2, 0, ?3)",
    )
    .bind(sha2::Sha256::digest(raw).to_vec())
    .bind(id.as_bytes().as_slice())
    .bind(now)
    .execute(store.pool())
    .await
    .unwrap();
    axum_user_sessions::migrate(store.pool()).await.unwrap();
    // A 0.1 instance starting now finds nothing it does not know.
    old.run(store.pool())
        .await
        .expect("0.1 cannot start after the upgrade");
    let app = serve_api(SessionLayer::new(store).with_bearer_tokens(true)).await;
    let mut browser = Client::new(&app);
    browser.cookie = Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
    let res = browser.get("/sessions").await;
    assert_eq!(res.status, 200, "{}", res.body);
    let list = res.json();
    assert_eq!(list["sessions"][0]["id"], id.to_string(), "{list}");
    assert_eq!(list["sessions"][0]["api_client"], false, "{list}");
}
