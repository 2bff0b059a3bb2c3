//! Postgres errors that pass answer `503`, not `500`: a pooled connection
//! to a primary a failover demoted (`read_only_sql_transaction`, 25006),
//! and an operator's `lock_timeout` (`lock_not_available`, 55P03).

use crate::common;
use axum_user_sessions::SessionProtocol;
use axum_user_sessions::store::{SessionRecord, TokenHash};
use sqlx::postgres::PgPoolOptions;
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
