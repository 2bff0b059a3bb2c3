//! The SQLite store: sessions in a file, for apps that run on one machine.
//! Its statements are in `statements.rs`.

use crate::store::error::Error;
use crate::store::migrate;
use crate::store::remember::{Reissue, RememberCredential, RememberedSession};
use crate::store::report::{MigrationReport, StoreStats};
use crate::store::restore::Restore;
use crate::store::revocation::{Revocation, RevokeScope};
use crate::store::session_store::{CacheSupport, IntoSessionStore, SessionStore};
use crate::store::sql::{self, Columns as _};
use crate::store::types::{
    DataPatch, LoadedSession, SessionRecord, TokenHash, Touch, UpdateOutcome,
};
use encoding::ts;
use serde_json::Value;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use statements::{self as q, Query};
use std::str::FromStr as _;
use std::time::Duration;
use time::OffsetDateTime;
use tx::WriteTx;
use uuid::Uuid;

mod encoding;
mod statements;
mod tx;

/// A [`SessionStore`] on a SQLite pool.
///
/// For apps that run on one machine, and for the demo. Writes are serialised
/// by SQLite (`BEGIN IMMEDIATE`), so key-level patches from concurrent requests
/// never overwrite each other. Use [`SqliteStore::connect`] for a pool with the
/// recommended settings (WAL, foreign keys, a busy timeout).
///
/// Round-trips: each statement, or each transaction, counts as one.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// A store on `pool`. Run [`migrate`](crate::store::migrate()) once at
    /// startup.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Opens (creating if missing) a SQLite database with the recommended
    /// settings: WAL journal, foreign keys on, 5 s busy timeout. A file it
    /// creates is readable and writable by its owner only (mode `0600` on
    /// Unix; SQLite gives its `-wal` and `-shm` files the same mode): it
    /// holds every session's data.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), axum_user_sessions::Error> {
    /// use axum_user_sessions::{SessionLayer, SqliteStore};
    /// let store = SqliteStore::connect("sqlite://sessions.db").await?;
    /// axum_user_sessions::migrate(&store).await?;
    /// let layer = SessionLayer::new(store);
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let opts = SqliteConnectOptions::from_str(url)?;
        create_private(opts.get_filename())?;
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await?;
        Ok(Self::new(pool))
    }

    /// The pool this store uses.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The embedded migrations, tracked in the table `_aus_migrations`.
    pub fn migrator() -> sqlx::migrate::Migrator {
        migrate::sqlite()
    }

    /// A write transaction: one round-trip, however many statements it runs.
    async fn write_tx(&self) -> Result<WriteTx, Error> {
        WriteTx::begin(&self.pool).await
    }

    /// Runs one statement, `run(query, connection)`, on a pooled connection.
    async fn one<T, F>(&self, query: Query<'static>, run: F) -> Result<T, Error>
    where
        F: for<'c> FnOnce(Query<'static>, &'c mut sqlx::SqliteConnection) -> sql::Run<'c, T>,
    {
        sql::on_pool(&self.pool, query, run).await
    }
}

/// Creates the database file, if missing, readable by its owner only, before
/// SQLite opens it (so it is never briefly world-readable). In-memory
/// databases have no file.
fn create_private(path: &std::path::Path) -> Result<(), Error> {
    if path.as_os_str().is_empty() || path == std::path::Path::new(":memory:") {
        return Ok(());
    }
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    match file.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::unavailable(e)),
    }
}

impl IntoSessionStore for sqlx::SqlitePool {
    fn into_session_store(self) -> std::sync::Arc<dyn SessionStore> {
        std::sync::Arc::new(SqliteStore::new(self))
    }
}

sql::impl_sql_store!(SqliteStore, query = Query, row = SqliteRow, time = ts, {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        migrate::run(&migrate::sqlite(), &self.pool).await
    }

    async fn load(
        &self, session: Option<Uuid>, token: &TokenHash, touch: &Touch,
    ) -> Result<Option<LoadedSession>, Error> {
        let query = sqlx::query(q::LOAD)
            .bind(token.as_bytes().as_slice())
            .bind(session);
        let Some(row) = self.row(query).await? else {
            return Ok(None);
        };
        let mut record = sql::record(&row)?;
        let state = sql::token_state(&row)?;
        if touch.is_due(&record, state) {
            // A reader does not take SQLite's write lock unless the touch is due.
            touch.apply(&mut record);
            let query = sqlx::query(q::TOUCH)
                .bind(record.id)
                .bind(ts(record.last_seen_at))
                .bind(ts(record.expires_at))
                .bind(record.last_ip.map(|ip| ip.to_string()))
                .bind(&record.location);
            if let Some(touched) = self.row(query).await? {
                // Unless another write came in between: then the version
                // read stays, older than the row's (a cache drops the copy).
                let version = touched.unsigned("version")?;
                if version == record.version + 1 {
                    record.version = version;
                }
            }
        }
        Ok(Some(LoadedSession {
            record,
            token: state,
            has_pending: row.flag("has_pending")?,
        }))
    }

    async fn create(&self, r: &SessionRecord, token: &TokenHash) -> Result<(), Error> {
        let mut tx = self.write_tx().await?;
        let query = sqlx::query(q::CREATE)
            .bind(r.id)
            .bind(&r.user_id)
            .bind(serde_json::to_string(&r.data)?)
            .bind(ts(r.created_at))
            .bind(r.authenticated_at.map(ts))
            .bind(ts(r.last_seen_at))
            .bind(ts(r.expires_at))
            .bind(ts(r.absolute_expires_at))
            .bind(ts(r.rotated_at))
            .bind(r.ip.map(|ip| ip.to_string()))
            .bind(&r.user_agent)
            .bind(r.persistent)
            .bind(&r.sign_in_method)
            .bind(r.second_factor)
            .bind(r.api_client);
        tx.run(query).await?;
        tx.insert_token(token, r.id, 0, r.rotated_at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn patch_data(&self, id: Uuid, patch: &DataPatch) -> Result<Option<u64>, Error> {
        let mut tx = self.write_tx().await?;
        let Some(mut data) = tx.data(id).await? else {
            return Ok(None);
        };
        patch.apply(&mut data);
        let version = tx.set_data(id, &data).await?;
        tx.commit().await?;
        Ok(Some(version))
    }

    async fn reissue(&self, id: Uuid, token: &TokenHash, reissue: &Reissue) -> Result<bool, Error> {
        let client = reissue.client.as_ref();
        let sign_in = reissue.sign_in.as_ref();
        let mut tx = self.write_tx().await?;
        let query = sqlx::query(q::REISSUE)
            .bind(id)
            .bind(&reissue.user_id)
            .bind(reissue.authenticated_at.map(ts))
            .bind(ts(reissue.now))
            .bind(client.is_some())
            .bind(client.and_then(|c| c.ip).map(|ip| ip.to_string()))
            .bind(client.and_then(|c| c.user_agent.clone()))
            .bind(reissue.tokens_expire_at.map(ts))
            .bind(sign_in.is_some())
            .bind(sign_in.and_then(|s| s.method.clone()))
            .bind(sign_in.is_some_and(|s| s.second_factor));
        if tx.run(query).await? != 1 {
            return Ok(false);
        }
        tx.retire_tokens(id, reissue.now).await?;
        tx.prune_tokens(id).await?;
        tx.insert_token(token, id, 0, reissue.now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete(&self, id: Uuid) -> Result<bool, Error> {
        let mut tx = self.write_tx().await?;
        let deleted = tx.delete_session(id).await?;
        tx.commit().await?;
        Ok(deleted == 1)
    }

    async fn begin_rotation(
        &self, id: Uuid, expected_rotated_at: OffsetDateTime, pending: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let mut tx = self.write_tx().await?;
        let query = sqlx::query(q::BEGIN_ROTATION)
            .bind(id)
            .bind(ts(expected_rotated_at))
            .bind(ts(now));
        if tx.run(query).await? != 1 {
            return Ok(false);
        }
        tx.run(sqlx::query(q::PRUNE_PENDING).bind(id)).await?;
        tx.insert_token(pending, id, 1, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn promote(&self, id: Uuid, token: &TokenHash, now: OffsetDateTime) -> Result<(), Error> {
        let mut tx = self.write_tx().await?;
        let issued: Option<i64> = sqlx::query_scalar(q::PENDING_ISSUED)
            .bind(token.as_bytes().as_slice())
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
        let Some(issued) = issued else {
            return Ok(());
        };
        let query = sqlx::query(q::PROMOTE)
            .bind(id)
            .bind(token.as_bytes().as_slice())
            .bind(ts(now))
            .bind(issued);
        tx.run(query).await?;
        tx.prune_tokens(id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn restore_remembered(&self, id: Uuid, r: &Restore) -> Result<bool, Error> {
        let (kind, presented, next, stale_before) = r.step_parts();
        let mut tx = self.write_tx().await?;
        let query = sqlx::query(q::RESTORE_REMEMBERED)
            .bind(id)
            .bind(ts(r.touch.now))
            .bind(ts(r.touch.idle_expires_at))
            .bind(ts(r.tokens_expire_at))
            .bind(kind)
            .bind(presented.map(|h| h.as_bytes().to_vec()))
            .bind(next.map(|h| h.as_bytes().to_vec()))
            .bind(ts(stale_before))
            .bind(r.touch.ip.map(|ip| ip.to_string()));
        if tx.run(query).await? != 1 {
            return Ok(false);
        }
        if kind != 0 {
            let query = sqlx::query(q::RETIRE_TOKENS_BEFORE)
                .bind(id)
                .bind(ts(r.touch.now))
                .bind(ts(r.retire_before));
            tx.run(query).await?;
            tx.prune_tokens(id).await?;
        }
        tx.insert_token(&r.token, id, 0, r.touch.now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn gc_batch(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime, limit: u32,
    ) -> Result<u64, Error> {
        // SQLite has one writer at a time: a batch is one short transaction.
        let mut tx = self.write_tx().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(q::COLLECTABLE)
            .bind(ts(now))
            .bind(ts(revoked_before))
            .bind(i64::from(limit))
            .fetch_all(tx.conn())
            .await?;
        for id in &ids {
            tx.delete_session(*id).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        // Read and write under SQLite's write lock, like `patch_data`: no
        // other writer comes between the comparison and the write.
        let mut tx = self.write_tx().await?;
        let outcome = match tx.data(id).await? {
            None => UpdateOutcome::Gone,
            Some(mut data) => match UpdateOutcome::apply(&mut data, key, expected, new) {
                Ok(()) => UpdateOutcome::Updated {
                    version: tx.set_data(id, &data).await?,
                },
                Err(conflict) => conflict,
            },
        };
        // Ends the transaction (and frees the write lock) at once, written
        // or not.
        tx.commit().await?;
        Ok(outcome)
    }

    fn cache_support(&self) -> Option<&dyn CacheSupport> {
        Some(self)
    }
});

impl CacheSupport for SqliteStore {
    fn local_database(&self) -> Option<String> {
        // The file (or the unique name of an in-memory database) that every
        // pool on it shares.
        let options = self.pool.connect_options();
        Some(format!("sqlite:{}", options.get_filename().display()))
    }
}

#[cfg(all(test, unix))]
mod tests;
