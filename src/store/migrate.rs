//! The embedded migrations, and the one way to run them: [`migrate`], on a
//! pool or on any store.
//!
//! On Postgres the tables and their migrations tables live in the schema
//! `axum_user_sessions`, apart from the app's own `_sqlx_migrations`; on
//! SQLite they are prefixed `aus_` and tracked in `_aus_migrations`. The
//! migrations since 0.1 are tracked in a second table (`…_since_0_1`), so
//! that a 0.1 instance still starts beside this version ([`Migrations`]).

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

/// The embedded migrations of one database, in two lists tracked in two
/// tables. 0.1 runs its migrations at every start and refuses a
/// migrations table that holds a version it does not know (sqlx's
/// `VersionMissing`): had the later migrations gone into its table, a 0.1
/// instance started (scaled out, restarted, rolled back) after the first
/// instance of this version migrated could not start. So the table 0.1
/// reads keeps only what 0.1 shipped, and the later migrations have a
/// table of their own, whose migrator ignores versions it does not know:
/// this version starts beside a later one that migrated too.
pub(crate) struct Migrations {
    /// What 0.1 shipped, in its table.
    released: Migrator,
    /// The rest, in a table of their own.
    later: Migrator,
}

impl Migrations {
    /// `all` split after version `last_released`; the later ones tracked
    /// in `all`'s table with `suffix` added.
    #[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
    fn split(all: Migrator, last_released: i64, suffix: &str) -> Self {
        let part = |keep: &dyn Fn(i64) -> bool| {
            let mut m = Migrator::with_migrations(
                all.iter().filter(|m| keep(m.version)).cloned().collect(),
            );
            m.dangerous_set_table_name(all.table_name.clone());
            for schema in all.create_schemas.iter() {
                m.create_schema(schema.clone());
            }
            m
        };
        let released = part(&|v| v <= last_released);
        let mut later = part(&|v| v > last_released);
        later.dangerous_set_table_name(format!("{}{suffix}", all.table_name));
        later.set_ignore_missing(true);
        Self { released, later }
    }
}

/// The Postgres migrations, tracked in `axum_user_sessions._sqlx_migrations`
/// (all of them: [`PgStore::migrator`](crate::PgStore::migrator)).
#[cfg(feature = "postgres")]
pub(crate) fn postgres_all() -> Migrator {
    let mut m = sqlx::migrate!("migrations/postgres");
    m.dangerous_set_table_name(format!("{SCHEMA}._sqlx_migrations"));
    m.create_schema(SCHEMA);
    m
}

/// The Postgres migrations as [`migrate`] runs them: 0.1's in
/// `axum_user_sessions._sqlx_migrations`, the later ones in
/// `axum_user_sessions._sqlx_migrations_since_0_1`.
#[cfg(feature = "postgres")]
pub(crate) fn postgres() -> Migrations {
    Migrations::split(postgres_all(), 20261123000004, "_since_0_1")
}

/// The SQLite migrations, tracked in the table `_aus_migrations` (all of
/// them: [`SqliteStore::migrator`](crate::SqliteStore::migrator)).
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite_all() -> Migrator {
    let mut m = sqlx::migrate!("migrations/sqlite");
    m.dangerous_set_table_name("_aus_migrations");
    m
}

/// The SQLite migrations as [`migrate`] runs them: 0.1's in
/// `_aus_migrations`, the later ones in `_aus_migrations_since_0_1`.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite() -> Migrations {
    Migrations::split(sqlite_all(), 20261123000003, "_since_0_1")
}

/// How many times [`run`] goes on after a migration another process applied
/// under it: at most once per migration.
const RACES_RETRIED: usize = 64;

/// Runs `migrations` on `pool` and reports which migrations it applied.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
pub(crate) async fn run<DB>(
    migrations: &Migrations, pool: &sqlx::Pool<DB>,
) -> Result<MigrationReport, Error>
where
    DB: sqlx::Database,
    DB::Connection: SqlxMigrate,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    // Each step on a connection of its own, given back before the next, so
    // that a pool of one connection works too.
    let before = applied(migrations, &mut *pool.acquire().await?).await?;
    let mut raced = 0;
    loop {
        let mut conn = pool.acquire().await?;
        // `run_direct`: `run` on a borrowed connection, which sqlx offers
        // under this name for generic callers (its `Acquire` bound cannot
        // be met for every lifetime).
        let ran = match migrations
            .released
            .run_direct(None, &mut *conn, false)
            .await
        {
            Ok(()) => migrations.later.run_direct(None, &mut *conn, false).await,
            failed => failed,
        };
        if ran.is_err() && DB::NAME != "SQLite" {
            // A failed run returns without unlocking: on Postgres the
            // migrators' advisory lock stays with the connection's session,
            // and every later run on another connection (the app trying
            // again) would wait for it for ever. Closed, it lets go.
            // (SQLite's migrator takes no lock, and closing the only
            // connection of `sqlite::memory:` would lose the database.)
            conn.close_on_drop();
        }
        drop(conn);
        match ran {
            // Another process applied this migration between this run's
            // listing and its turn to write (SQLite's migrator takes no
            // lock, so two processes starting at once both try it): the
            // next run lists it as applied and goes on from there.
            // (Postgres' migrators take turns under an advisory lock, so
            // no run races another there.)
            Err(MigrateError::ExecuteMigration(ref failed, version))
                if DB::NAME == "SQLite"
                    && raced < RACES_RETRIED
                    && listed_after(migrations, pool, version, failed).await =>
            {
                raced += 1;
            }
            ran => break ran?,
        }
    }
    let after = applied(migrations, &mut *pool.acquire().await?).await?;
    let newly_applied = [&migrations.released, &migrations.later]
        .into_iter()
        .flat_map(|m| m.iter())
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

/// Whether `version`, whose run failed with `failed`, is listed as applied
/// now (by another process). A failure to list answers no: the run's own
/// error is the one to report.
async fn listed_after<DB>(
    migrations: &Migrations, pool: &sqlx::Pool<DB>, version: i64, failed: &sqlx::Error,
) -> bool
where
    DB: sqlx::Database,
    DB::Connection: SqlxMigrate,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    let Ok(mut conn) = pool.acquire().await else {
        return false;
    };
    let listed = applied(migrations, &mut conn).await;
    let found = listed.is_ok_and(|v| v.contains(&version));
    if found {
        tracing::debug!(version, error = %failed, "another process applied this migration meanwhile");
    }
    found
}

/// The versions applied so far, read under the migrators' lock (creating
/// their schema and tables first, as a run does). Later versions that an
/// earlier build of 0.2 recorded in 0.1's table move to their own first:
/// copied, then deleted, so that a run cut in between moves them again.
async fn applied<DB>(
    migrations: &Migrations, conn: &mut DB::Connection,
) -> Result<BTreeSet<i64>, Error>
where
    DB: sqlx::Database,
    DB::Connection: SqlxMigrate,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    let (released, later) = (&migrations.released, &migrations.later);
    let last_released = released.iter().map(|m| m.version).max().unwrap_or(0);
    if released.locking {
        conn.lock().await?;
    }
    let listed = async {
        for schema in released.create_schemas.iter() {
            conn.create_schema_if_not_exists(schema).await?;
        }
        conn.ensure_migrations_table(&released.table_name).await?;
        conn.ensure_migrations_table(&later.table_name).await?;
        for step in [
            format!(
                "INSERT INTO {to} SELECT * FROM {from} WHERE version > {last_released} \
                   AND version NOT IN (SELECT version FROM {to})",
                from = released.table_name,
                to = later.table_name,
            ),
            format!(
                "DELETE FROM {} WHERE version > {last_released}",
                released.table_name
            ),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(step))
                .execute(&mut *conn)
                .await?;
        }
        let mut versions = BTreeSet::new();
        for m in [released, later] {
            let listed = conn.list_applied_migrations(&m.table_name).await?;
            versions.extend(listed.into_iter().map(|m| m.version));
        }
        Ok::<_, Error>(versions)
    }
    .await;
    if released.locking {
        conn.unlock().await?;
    }
    listed
}

/// Creates or upgrades the session tables. Embedded, idempotent, safe to run
/// at every startup. Takes a pool (`PgPool`, `SqlitePool`) or any store
/// (`PgStore`, `SqliteStore`, `MemoryStore`, `dyn SessionProtocol`,
/// `Arc<dyn SessionProtocol>`); stores run their own migrations
/// ([`SessionProtocol::migrate`]).
///
/// On Postgres the tables and their migrations tables live in the schema
/// `axum_user_sessions`, apart from the app's own `_sqlx_migrations`; on
/// SQLite they are prefixed `aus_` and tracked in `_aus_migrations`. The
/// migrations since 0.1 are tracked in a table of their own
/// (`…_since_0_1`), so that a 0.1 instance, which runs its migrations at
/// its start, still starts during a rolling upgrade.
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
