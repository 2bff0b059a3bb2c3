//! The embedded migrations, and the one way to run them: [`migrate`], on a
//! pool or on any store.
//!
//! On Postgres the tables and their migrations table live in the schema
//! `axum_user_sessions`, apart from the app's own `_sqlx_migrations`; on
//! SQLite they are prefixed `aus_` and tracked in `_aus_migrations`.

use super::SessionStore;
use super::error::Error;
use sqlx::migrate::{Migrate as SqlxMigrate, MigrateError, Migrator};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

/// The schema that holds the Postgres tables and their migrations table.
#[cfg(feature = "postgres")]
pub(crate) const SCHEMA: &str = "axum_user_sessions";

/// The Postgres migrations, tracked in `axum_user_sessions._sqlx_migrations`.
#[cfg(feature = "postgres")]
pub(crate) fn postgres() -> Migrator {
    let mut m = sqlx::migrate!("migrations/postgres");
    m.dangerous_set_table_name(format!("{SCHEMA}._sqlx_migrations"));
    m.create_schema(SCHEMA);
    m
}

/// The SQLite migrations, tracked in the table `_aus_migrations`.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite() -> Migrator {
    let mut m = sqlx::migrate!("migrations/sqlite");
    m.dangerous_set_table_name("_aus_migrations");
    m
}

/// What a migration run did.
///
/// `newly_applied` compares the versions applied before and after the run:
/// when several processes migrate the same database at once (instances
/// starting together), the migrations are applied once, but each report may
/// list them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationReport {
    /// The migrations this run applied, oldest first (empty when the tables
    /// were up to date).
    pub newly_applied: Vec<AppliedMigration>,
    /// The newest version applied, now; `None` for a store without
    /// migrations (memory).
    pub latest_version: Option<i64>,
    /// How many migrations are applied, now.
    pub total_applied: usize,
}

/// One migration a run applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppliedMigration {
    /// Its version (a timestamp, `20261123000001`).
    pub version: i64,
    /// Its description (from the file name, `sessions`).
    pub description: String,
}

impl MigrationReport {
    /// A report (for stores outside this crate; [`Default`] is "nothing to
    /// migrate").
    pub fn new(
        newly_applied: Vec<AppliedMigration>,
        latest_version: Option<i64>,
        total_applied: usize,
    ) -> Self {
        Self {
            newly_applied,
            latest_version,
            total_applied,
        }
    }
}

impl AppliedMigration {
    /// A migration applied (for stores outside this crate).
    pub fn new(version: i64, description: impl Into<String>) -> Self {
        Self {
            version,
            description: description.into(),
        }
    }
}

/// Runs `migrator` on `pool` and reports which migrations it applied.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
pub(crate) async fn run<DB>(
    migrator: &Migrator,
    pool: &sqlx::Pool<DB>,
) -> Result<MigrationReport, Error>
where
    DB: sqlx::Database,
    DB::Connection: SqlxMigrate,
{
    // Each step on a connection of its own, given back before the next, so
    // that a pool of one connection works too.
    let before = applied(migrator, &mut *pool.acquire().await?).await?;
    migrator.run(pool).await?;
    let after = applied(migrator, &mut *pool.acquire().await?).await?;
    let newly_applied = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .filter(|m| after.contains(&m.version) && !before.contains(&m.version))
        .map(|m| AppliedMigration::new(m.version, m.description.as_ref()))
        .collect();
    Ok(MigrationReport {
        newly_applied,
        latest_version: after.last().copied(),
        total_applied: after.len(),
    })
}

/// The versions applied so far, read under the migrator's lock (creating
/// its schema and table first, as a run does).
async fn applied<C>(migrator: &Migrator, conn: &mut C) -> Result<BTreeSet<i64>, MigrateError>
where
    C: SqlxMigrate + ?Sized,
{
    if migrator.locking {
        conn.lock().await?;
    }
    let listed = async {
        for schema in migrator.create_schemas.iter() {
            conn.create_schema_if_not_exists(schema).await?;
        }
        conn.ensure_migrations_table(&migrator.table_name).await?;
        conn.list_applied_migrations(&migrator.table_name).await
    }
    .await;
    if migrator.locking {
        conn.unlock().await?;
    }
    Ok(listed?.into_iter().map(|m| m.version).collect())
}

/// Creates or upgrades the session tables. Embedded, idempotent, safe to run
/// at every startup. Takes a pool (`PgPool`, `SqlitePool`) or any store
/// (`PgStore`, `SqliteStore`, `MemoryStore`, `dyn SessionStore`,
/// `Arc<dyn SessionStore>`); stores run their own migrations
/// ([`SessionStore::migrate`]).
///
/// On Postgres the tables and their migrations table live in the schema
/// `axum_user_sessions`, apart from the app's own `_sqlx_migrations`; on
/// SQLite they are prefixed `aus_` and tracked in `_aus_migrations`.
///
/// ```no_run
/// # async fn f(pool: sqlx::PgPool) -> Result<(), axum_user_sessions::Error> {
/// let report = axum_user_sessions::migrate(&pool).await?;
/// for m in &report.newly_applied {
///     println!("applied {} {}", m.version, m.description);
/// }
/// # Ok(()) }
/// ```
pub async fn migrate<T: Migrate + ?Sized>(target: &T) -> Result<MigrationReport, Error> {
    target.run_migrations().await
}

/// What [`migrate`] accepts: `PgPool`, `SqlitePool`, and every
/// [`SessionStore`] (also behind `dyn` and `Arc`).
pub trait Migrate: sealed::Sealed {
    /// Runs the embedded migrations for this kind of database.
    fn run_migrations(&self) -> impl Future<Output = Result<MigrationReport, Error>> + Send;
}

mod sealed {
    use super::SessionStore;
    use std::sync::Arc;

    pub trait Sealed {}
    #[cfg(feature = "postgres")]
    impl Sealed for sqlx::PgPool {}
    #[cfg(feature = "sqlite")]
    impl Sealed for sqlx::SqlitePool {}
    impl<S: SessionStore + ?Sized> Sealed for S {}
    impl<S: SessionStore + ?Sized> Sealed for Arc<S> {}
}

#[cfg(feature = "postgres")]
impl Migrate for sqlx::PgPool {
    async fn run_migrations(&self) -> Result<MigrationReport, Error> {
        run(&postgres(), self).await
    }
}

#[cfg(feature = "sqlite")]
impl Migrate for sqlx::SqlitePool {
    async fn run_migrations(&self) -> Result<MigrationReport, Error> {
        run(&sqlite(), self).await
    }
}

impl<S: SessionStore + ?Sized> Migrate for S {
    fn run_migrations(&self) -> impl Future<Output = Result<MigrationReport, Error>> + Send {
        self.migrate()
    }
}

impl<S: SessionStore + ?Sized> Migrate for Arc<S> {
    fn run_migrations(&self) -> impl Future<Output = Result<MigrationReport, Error>> + Send {
        self.as_ref().migrate()
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, SqliteStore};

    #[tokio::test]
    async fn reports_what_it_applied_on_pools_and_stores() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("m.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let ups: Vec<_> = sqlite()
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| (m.version, m.description.to_string()))
            .collect();

        let first = migrate(&store).await.unwrap();
        let applied: Vec<_> = first
            .newly_applied
            .iter()
            .map(|m| (m.version, m.description.clone()))
            .collect();
        assert_eq!(applied, ups);
        assert_eq!(first.total_applied, ups.len());
        assert_eq!(first.latest_version, ups.last().map(|m| m.0));

        let again = migrate(store.pool()).await.unwrap();
        assert!(again.newly_applied.is_empty());
        assert_eq!(again.total_applied, ups.len());
        assert_eq!(again.latest_version, first.latest_version);

        let shared: Arc<dyn SessionStore> = Arc::new(store);
        assert_eq!(migrate(&shared).await.unwrap(), again);
        assert_eq!(migrate(shared.as_ref()).await.unwrap(), again);
        let memory = migrate(&MemoryStore::new()).await.unwrap();
        assert_eq!(memory, MigrationReport::default());
    }
}
