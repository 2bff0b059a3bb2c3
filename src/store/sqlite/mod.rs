//! The SQLite store: sessions in a file, for apps that run on one machine.
//! [`SqliteStore`] is the session protocol ([`Protocol`]) over
//! [`SqliteStorage`], whose storage operations are in `storage.rs`, their
//! statements in `statements.rs` and its write transaction in `tx.rs`.

use crate::store::delegate::protocol_store;
use crate::store::error::Error;
use crate::store::migrate;
use crate::store::protocol::Protocol;
use crate::store::session_store::{IntoSessionStore, SessionProtocol};
use crate::store::sql;
use settle::Writing;
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteRow;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use statements::Query;
use std::str::FromStr as _;
use std::time::Duration;
use tx::WriteTx;

mod devices;
mod encoding;
mod gate;
mod settle;
mod statements;
mod storage;
mod tx;

/// A [`SessionProtocol`] on a SQLite pool: the session protocol
/// ([`Protocol`]) over [`SqliteStorage`].
///
/// For apps that run on one machine, and for the demo. Writes are serialised
/// by SQLite (`BEGIN IMMEDIATE`), so key-level patches from concurrent requests
/// never overwrite each other. Use [`SqliteStore::connect`] for a pool with the
/// recommended settings (WAL, foreign keys, a busy timeout).
///
/// Round-trips: each statement, or each transaction, counts as one.
#[derive(Debug, Clone)]
pub struct SqliteStore(Protocol<SqliteStorage>);

/// The SQLite [`SessionStore`](crate::store::SessionStore) under [`SqliteStore`]: the
/// `aus_` tables on a pool.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    pool: SqlitePool,
    /// The file (or the unique name of an in-memory database) that every
    /// pool on it shares: for the caches of this process.
    database: std::sync::Arc<str>,
}

impl SqliteStore {
    /// A store on `pool`. Run [`migrate`](crate::store::migrate()) once at
    /// startup.
    pub fn new(pool: SqlitePool) -> Self {
        let database = database_name(pool.connect_options().get_filename());
        Self(Protocol::new(SqliteStorage {
            pool,
            database: database.into(),
        }))
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
        &self.0.storage().pool
    }

    /// The embedded migrations, all of them, tracked in the table
    /// `_aus_migrations`: to list them. Do not run this migrator: run
    /// [`migrate`](crate::store::migrate()), which keeps the ones since 0.1
    /// in a table of their own (`_aus_migrations_since_0_1`), so that a 0.1
    /// instance still starts during a rolling upgrade. Run on a database
    /// `migrate` upgraded, this one would apply those again, and fail.
    pub fn migrator() -> sqlx::migrate::Migrator {
        migrate::sqlite_all()
    }

    /// The storage underneath the protocol.
    pub fn storage(&self) -> &SqliteStorage {
        self.0.storage()
    }
}

protocol_store!(SqliteStore);

impl SqliteStorage {
    /// A write transaction: one round-trip, however many statements it runs.
    async fn write_tx(&self) -> Result<WriteTx, Error> {
        WriteTx::begin(&self.pool, &self.database).await
    }

    /// Runs one statement, `run(query, connection)`, on a pooled connection.
    async fn one<T, F>(&self, query: Query<'static>, run: F) -> Result<T, Error>
    where
        F: for<'c> FnOnce(Query<'static>, &'c mut sqlx::SqliteConnection) -> sql::Run<'c, T>,
    {
        sql::on_pool(&self.pool, query, run).await
    }

    /// [`one`](Self::one), for a statement that writes: cut off in the
    /// middle, it still lands, and the caches of this process hear of it
    /// once it did ([`Writing`]).
    async fn one_write<T, F>(&self, query: Query<'static>, run: F) -> Result<T, Error>
    where
        F: for<'c> FnOnce(Query<'static>, &'c mut sqlx::SqliteConnection) -> sql::Run<'c, T>,
    {
        let mut w = Writing::acquire(&self.pool, &self.database).await?;
        w.may_land = true;
        let out = run(query, w.conn()?).await;
        let out = out.map_err(|e| w.spoiled_by(e));
        w.finish();
        Ok(out?)
    }

    /// Runs one statement that writes and reads at most one row back. It
    /// reads every row (`fetch_all`, never `fetch_optional`): the statement
    /// runs to its end, so its autocommit `COMMIT` reports its own error
    /// (a full disk in WAL mode fails there); after the first row, sqlx
    /// would reset the statement and drop that error, and the write would
    /// be answered as done while it was rolled back.
    async fn write_row(&self, query: Query<'static>) -> Result<Option<SqliteRow>, Error> {
        self.one_write(query, |q, c| {
            Box::pin(async move { Ok(q.fetch_all(c).await?.into_iter().next()) })
        })
        .await
    }
}

/// Whether `path` names an in-memory database, as sqlx names them
/// (`sqlite::memory:` becomes `file:sqlx-in-memory-<n>`), not a file.
fn in_memory(path: &std::path::Path) -> bool {
    let name = path.to_string_lossy();
    name.is_empty() || name == ":memory:" || name.starts_with("file:sqlx-in-memory-")
}

/// The name under which this process's caches know the database at `path`:
/// its directory resolved (`sessions.db`, `./sessions.db` and its absolute
/// path are one database, whichever pool a revocation went through), or
/// an in-memory database's own name.
fn database_name(path: &std::path::Path) -> String {
    let resolved = (!in_memory(path))
        .then(|| {
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => std::path::Path::new("."),
            };
            Some(std::fs::canonicalize(dir).ok()?.join(path.file_name()?))
        })
        .flatten();
    format!("sqlite:{}", resolved.as_deref().unwrap_or(path).display())
}

/// Creates the database file, if missing, readable by its owner only, before
/// SQLite opens it (so it is never briefly world-readable). In-memory
/// databases have no file.
fn create_private(path: &std::path::Path) -> Result<(), Error> {
    if in_memory(path) {
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
    fn into_session_store(self) -> std::sync::Arc<dyn SessionProtocol> {
        std::sync::Arc::new(SqliteStore::new(self))
    }
}

#[cfg(all(test, unix))]
mod tests;
