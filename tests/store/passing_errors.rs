//! Postgres errors that pass answer `503`, not `500`: a pooled connection
//! to a primary a failover demoted (`read_only_sql_transaction`, 25006),
//! and an operator's `lock_timeout` (`lock_not_available`, 55P03). The
//! demoted connection is closed, not lent again.

use crate::common;
use axum_user_sessions::SessionProtocol;
use axum_user_sessions::store::{SessionRecord, TokenHash};
use sqlx::postgres::PgPoolOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use uuid::Uuid;

/// A new session's record, now.
fn record() -> SessionRecord {
    let now = time::OffsetDateTime::now_utc();
    let mut r = SessionRecord::new(Uuid::new_v4(), now);
    r.expires_at = now + Duration::from_secs(1800);
    r.absolute_expires_at = now + Duration::from_secs(3600);
    r
}

/// A store whose connections run `setting` first.
async fn store_with(b: &common::Backend, setting: &'static str) -> axum_user_sessions::PgStore {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .after_connect(move |c, _| {
            Box::pin(async move { sqlx::query(setting).execute(c).await.map(drop) })
        })
        .connect_with(b.store_connect_options())
        .await
        .unwrap();
    b.pg_store(pool)
}

#[sqlx::test(migrations = false)]
async fn a_demoted_primary_and_a_lock_timeout_are_unavailable(pool: sqlx::PgPool) {
    let b = common::Backend::postgres(pool).await;
    let token = TokenHash::from_bytes([1; 32]);

    let demoted = store_with(&b, "SET default_transaction_read_only = on").await;
    let err = demoted.create(&record(), &token).await.unwrap_err();
    assert!(err.is_unavailable(), "a read-only primary: {err:?}");

    // Another transaction holds the table; this store waits 50 ms at most.
    let pg = b.pg.clone().unwrap();
    let mut holder = pg.begin().await.unwrap();
    sqlx::query("LOCK TABLE axum_user_sessions.sessions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let waiting = store_with(&b, "SET lock_timeout = '50ms'").await;
    let err = waiting.create(&record(), &token).await.unwrap_err();
    assert!(err.is_unavailable(), "a lock timeout: {err:?}");
    // Contention, no outage: a write batch that meets one answers its
    // calls one by one, as it does a deadlock.
    assert!(err.is_rolled_back(), "{err:?}");
    holder.rollback().await.unwrap();
}

/// A connection that answered 25006 is closed rather than given back to
/// the pool: the next call connects anew (here to a server that writes,
/// as after a failover), on its own or behind a pooler. Given back, it
/// would answer `503` to every write until the pool retired it.
#[sqlx::test(migrations = false)]
async fn a_demoted_connection_is_not_lent_again(pool: sqlx::PgPool) {
    let b = common::Backend::postgres(pool).await;
    for behind_pgbouncer in [false, true] {
        let connects = Arc::new(AtomicUsize::new(0));
        let counted = connects.clone();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .after_connect(move |c, _| {
                // The first connection reaches the demoted primary.
                let demoted = counted.fetch_add(1, Ordering::SeqCst) == 0;
                Box::pin(async move {
                    if demoted {
                        sqlx::query("SET default_transaction_read_only = on")
                            .execute(c)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(b.store_connect_options())
            .await
            .unwrap();
        let mut store = axum_user_sessions::PgStore::new(pool);
        if behind_pgbouncer {
            store = store.behind_pgbouncer();
        }
        let err = store
            .create(&record(), &TokenHash::from_bytes([2; 32]))
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        store
            .create(&record(), &TokenHash::from_bytes([3; 32]))
            .await
            .unwrap_or_else(|e| panic!("lent the demoted connection again: {e:?}"));
        assert_eq!(connects.load(Ordering::SeqCst), 2, "{behind_pgbouncer}");
        sqlx::query("DELETE FROM axum_user_sessions.sessions")
            .execute(b.pg.as_ref().unwrap())
            .await
            .unwrap();
    }
}

/// A SQLite file that cannot be opened (its directory gone or unmounted,
/// no file handle left) is an outage, `503`, not a `500`.
#[tokio::test]
async fn sqlite_a_file_that_cannot_be_opened_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let options =
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("gone/sessions.db"));
    let pool = sqlx::sqlite::SqlitePoolOptions::new().connect_lazy_with(options);
    let store = axum_user_sessions::SqliteStore::new(pool);
    let err = store.get(Uuid::new_v4()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

/// A schema older than the code that reads it (a column it lacks) asks to
/// migrate: the missing-schema answer, not a `500` with no hint.
#[tokio::test]
async fn sqlite_a_schema_without_a_column_is_a_missing_schema() {
    let b = common::Backend::sqlite().await;
    let db = b.sqlite.clone().unwrap();
    let drop = "ALTER TABLE aus_sessions DROP COLUMN location";
    sqlx::query(drop).execute(&db).await.unwrap();
    let err = b.store.get(Uuid::new_v4()).await.unwrap_err();
    assert!(
        matches!(err, axum_user_sessions::store::Error::MissingSchema(_)),
        "{err:?}"
    );
}
