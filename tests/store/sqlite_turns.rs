//! The SQLite writes of one process take turns in the order they came
//! (`store/sqlite/gate.rs`): garbage collection's batches, back to back,
//! no longer keep a request's write out until its busy timeout (`503`).

use axum_user_sessions::store::{SessionRecord, TokenHash};
use axum_user_sessions::{SessionProtocol, SqliteStore};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// How many ended sessions garbage collection deletes, a batch at a time.
const ENDED: i64 = 20_000;
const BATCH: u32 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_during_garbage_collection_are_not_kept_out() {
    let dir = tempfile::tempdir().unwrap();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("sessions.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        // Short, so that a write kept out fails within the test.
        .busy_timeout(Duration::from_millis(100));
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .unwrap();
    axum_user_sessions::migrate(&pool).await.unwrap();
    let store: Arc<dyn SessionProtocol> = Arc::new(SqliteStore::new(pool.clone()));

    // One session ended an hour ago, copied into `ENDED` rows.
    let now = OffsetDateTime::now_utc();
    let ago = now - time::Duration::hours(2);
    let mut r = SessionRecord::new(Uuid::new_v4(), ago);
    (r.last_seen_at, r.expires_at) = (ago, ago + time::Duration::hours(1));
    r.absolute_expires_at = ago + time::Duration::hours(1);
    store
        .create(&r, &TokenHash::from_bytes([1; 32]))
        .await
        .unwrap();
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info('aus_sessions') WHERE name <> 'id'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let columns = columns.join(", ");
    let copy = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ENDED})
         INSERT INTO aus_sessions (id, {columns})
         SELECT randomblob(16), {columns} FROM aus_sessions, n"
    );
    sqlx::query(sqlx::AssertSqlSafe(copy))
        .execute(&pool)
        .await
        .unwrap();

    let gc = tokio::spawn({
        let store = store.clone();
        async move {
            let mut deleted = 0;
            loop {
                let at = OffsetDateTime::now_utc();
                let n = store.gc_batch(at, at, BATCH).await.unwrap();
                deleted += n;
                if n < u64::from(BATCH) {
                    return deleted;
                }
            }
        }
    });
    // Sign-ins while it runs, one every 10 ms.
    let mut failed = Vec::new();
    let mut made = 0;
    while !gc.is_finished() {
        let mut s = SessionRecord::new(Uuid::new_v4(), OffsetDateTime::now_utc());
        s.expires_at = s.created_at + time::Duration::hours(1);
        s.absolute_expires_at = s.expires_at;
        let token =
            TokenHash::from_bytes(*Uuid::new_v4().as_bytes().repeat(2).first_chunk().unwrap());
        if let Err(e) = store.create(&s, &token).await {
            failed.push(e.to_string());
        }
        made += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let deleted = gc.await.unwrap();
    assert_eq!(deleted, u64::try_from(ENDED).unwrap() + 1);
    assert!(made > 0, "garbage collection ended before the first write");
    assert!(
        failed.is_empty(),
        "{} of {made} writes failed: {:?}",
        failed.len(),
        failed.first()
    );
}
