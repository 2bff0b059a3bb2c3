//! The embedded migrations, and the one way to run them: [`migrate`], on a
//! pool or on any store.
//!
//! On Postgres the tables and their migrations table live in the schema
//! `axum_user_sessions`, apart from the app's own `_sqlx_migrations`; on
//! SQLite they are prefixed `aus_` and tracked in `_aus_migrations`.

use super::error::Error;
use super::report::{AppliedMigration, MigrationReport};
use super::session_store::SessionProtocol;
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

/// Runs `migrator` on `pool` and reports which migrations it applied.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
pub(crate) async fn run<DB>(
    migrator: &Migrator, pool: &sqlx::Pool<DB>,
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
    Ok(MigrationReport::new(
        newly_applied,
        after.last().copied(),
        after.len(),
    ))
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
/// (`PgStore`, `SqliteStore`, `MemoryStore`, `dyn SessionProtocol`,
/// `Arc<dyn SessionProtocol>`); stores run their own migrations
/// ([`SessionProtocol::migrate`]).
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
/// [`SessionProtocol`] (also behind `dyn` and `Arc`).
pub trait Migrate: sealed::Sealed {
    /// Runs the embedded migrations for this kind of database.
    fn run_migrations(&self) -> impl Future<Output = Result<MigrationReport, Error>> + Send;
}

mod sealed {
    use crate::store::session_store::SessionProtocol;
    use std::sync::Arc;

    pub trait Sealed {}
    #[cfg(feature = "postgres")]
    impl Sealed for sqlx::PgPool {}
    #[cfg(feature = "sqlite")]
    impl Sealed for sqlx::SqlitePool {}
    impl<S: SessionProtocol + ?Sized> Sealed for S {}
    impl<S: SessionProtocol + ?Sized> Sealed for Arc<S> {}
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

impl<S: SessionProtocol + ?Sized> Migrate for S {
    fn run_migrations(&self) -> impl Future<Output = Result<MigrationReport, Error>> + Send {
        self.migrate()
    }
}

impl<S: SessionProtocol + ?Sized> Migrate for Arc<S> {
    fn run_migrations(&self) -> impl Future<Output = Result<MigrationReport, Error>> + Send {
        self.as_ref().migrate()
    }
}
