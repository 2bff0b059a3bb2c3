//! What the crate logs when a store call fails: the error's message, never
//! the parameters a database may quote back in its detail or context.

use crate::common;

use axum::response::IntoResponse;
use axum_user_sessions::Error;
use axum_user_sessions::store::{DataPatch, SessionRecord, TokenHash};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// Answers `err` as a response would, and what that logged.
fn answer(err: Error) -> (axum::http::StatusCode, String) {
    let logs = crate::common::Captured::default();
    let subscriber = logs.subscriber();
    let status = tracing::subscriber::with_default(subscriber, || err.into_response().status());
    let logged = logs.text();
    (status, logged)
}

/// Postgres refuses U+0000 in `jsonb` and quotes the data in the error's
/// context. The store API (below the session's own check) gets that error;
/// answering it logs its message only.
#[sqlx::test(migrations = false)]
async fn a_database_error_is_logged_without_the_data(pool: sqlx::PgPool) {
    let b = common::Backend::postgres(pool).await;
    let now = OffsetDateTime::now_utc();
    let mut record = SessionRecord::new(Uuid::new_v4(), now);
    record.expires_at = now + time::Duration::hours(1);
    record.absolute_expires_at = now + time::Duration::hours(1);
    b.store
        .create(&record, &TokenHash::from_bytes([3; 32]))
        .await
        .unwrap();
    let mut patch = DataPatch::default();
    patch.set.insert("k".into(), "top-secret-value\u{0}".into());
    let err: Error = b
        .store
        .patch_data(record.id, &patch)
        .await
        .unwrap_err()
        .into();
    // The database's own report does quote it (else this test proves nothing).
    let debug = format!("{:?}", std::error::Error::source(&err));
    assert!(debug.contains("top-secret-value"), "{debug}");

    let (status, logged) = answer(err);
    assert_eq!(status, 500);
    assert!(logged.contains("session error"), "{logged}");
    assert!(!logged.contains("top-secret-value"), "{logged}");
}

/// A store that does not know it is behind PgBouncer (no
/// `behind_pgbouncer()`) loses its prepared statements between
/// transactions. Its errors answer 500, and the log says what to change.
#[sqlx::test(migrations = false)]
async fn a_pooler_without_the_option_is_named_in_the_log(pool: sqlx::PgPool) {
    let b = common::Backend::pgbouncer(pool).await;
    let options = b.store_connect_options();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap();
    let store = axum_user_sessions::PgStore::new(pool);
    let now = OffsetDateTime::now_utc();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8u8 {
        let store = store.clone();
        tasks.spawn(async move {
            use axum_user_sessions::SessionProtocol as _;
            for _ in 0..50 {
                let touch = axum_user_sessions::store::Touch::new(now, now);
                if let Err(e) = store
                    .load(None, &TokenHash::from_bytes([n; 32]), &touch)
                    .await
                {
                    let err = Error::from(e);
                    if err.hint().is_some() {
                        return Some(err);
                    }
                }
            }
            None
        });
    }
    let mut failed = None;
    while let Some(done) = tasks.join_next().await {
        failed = failed.or(done.unwrap());
    }
    let err = failed.expect("400 loads through PgBouncer: no error came with a hint");

    let (status, logged) = answer(err);
    assert_eq!(status, 500);
    assert!(logged.contains("behind_pgbouncer()"), "{logged}");
}

/// An app that never ran `migrate`: its first request with a cookie finds
/// no tables. Over real HTTP the client gets a plain 500 without
/// `Retry-After` (retrying will not help), and the log names the fix.
async fn missing_tables_say_run_migrate(store: Arc<dyn axum_user_sessions::SessionProtocol>) {
    let err: Error = store
        .load(
            None,
            &TokenHash::from_bytes([9; 32]),
            &axum_user_sessions::store::Touch::new(
                OffsetDateTime::now_utc(),
                OffsetDateTime::now_utc(),
            ),
        )
        .await
        .unwrap_err()
        .into();
    assert!(
        matches!(
            err.store_error(),
            Some(axum_user_sessions::store::Error::MissingSchema(_))
        ),
        "{err:?}"
    );
    let (status, logged) = answer(err);
    assert_eq!(status, 500);
    assert!(logged.contains("migrate"), "{logged}");

    let app = common::serve_demo(axum_user_sessions::SessionLayer::new(store)).await;
    let mut client = common::Client::new(&app);
    let token = "A".repeat(43);
    let res = client
        .send_with(
            "GET",
            "/me",
            &[(
                "cookie",
                &format!("__Host-session={token}; session={token}"),
            )],
        )
        .await;
    assert_eq!(res.status, 500, "{}", res.body);
    assert!(
        res.headers.get("retry-after").is_none(),
        "{:?}",
        res.headers
    );
    assert!(!res.body.contains("relation"), "{}", res.body);
}

#[sqlx::test(migrations = false)]
async fn missing_postgres_tables_say_run_migrate(pool: sqlx::PgPool) {
    missing_tables_say_run_migrate(Arc::new(axum_user_sessions::PgStore::new(pool))).await;
}

#[tokio::test]
async fn missing_sqlite_tables_say_run_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let store = axum_user_sessions::SqliteStore::connect(&url)
        .await
        .unwrap();
    missing_tables_say_run_migrate(Arc::new(store)).await;
}
