//! Adopting tower-sessions sessions on the fly: [`TowerSessionsImport`],
//! given to [`SessionLayer::adopt_tower_sessions`](crate::SessionLayer::adopt_tower_sessions).
//!
//! A request that carries tower-sessions' cookie (`id`) and none of ours
//! takes the tower-sessions row (`DELETE … RETURNING`), asks the app's
//! mapping which user it belongs to, and signs that user into a new session
//! of ours with the record's data; our cookie is set and theirs expired.
//! The handler already sees the new session.

mod join;
mod run;
mod source;

pub(crate) use join::{Adopter, Pending};
pub use source::TowerRecord;
use source::{Source, is_identifier};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The app's mapping from a record to the user to sign in.
type Mapping =
    Arc<dyn Fn(TowerRecord) -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync>;

/// Which part of tower-sessions' table name an app changed.
#[derive(Clone, Copy)]
enum Name {
    Table,
    Schema,
}

/// Where tower-sessions kept its sessions, and who they belong to: the
/// opt-in of [`SessionLayer::adopt_tower_sessions`](crate::SessionLayer::adopt_tower_sessions),
/// which carries the sessions of an app that used tower-sessions (with
/// `tower-sessions-sqlx-store`) over to this crate, so that switching signs
/// nobody out.
///
/// On a request with tower-sessions' cookie (`id`) and none of ours:
///
/// 1. the row is taken from tower-sessions' table with `DELETE … RETURNING`
///    (one statement: a replayed cookie finds no row, and a forged or
///    unknown id costs this one lookup and adopts nothing);
/// 2. a record past its `expiry_date`, or one that does not decode, is
///    dropped;
/// 3. the app's mapping gets the record and answers the user to sign in,
///    or `None` to refuse it (for example when the user's password changed
///    since: axum-login's stored `auth_hash` no longer matches);
/// 4. a new session of ours is made with the record's data and the user
///    signed in (as [`Session::login`](crate::Session::login) does, with its
///    event and the session limit), before the handler runs. It is not
///    "fresh" ([`Session::is_fresh`](crate::Session::is_fresh) is false): the
///    user proved nothing on this request;
/// 5. the response sets our cookie and expires `id` (`Max-Age=0`).
///
/// Tabs that present the same old cookie while it is being adopted, or up
/// to 30 seconds after, from the same client (IP and User-Agent), join the
/// one adopted session instead of being signed out. The marker is in
/// memory: a tab that reaches another instance of the app in that moment
/// is signed out. Another client presenting the id gets nothing.
///
/// The row is taken before our session is written: our insert goes through
/// the layer's store (its own pool, maybe a cache), so the two cannot share
/// one transaction. Taking first is what keeps it safe: whoever takes the
/// row is the only one that can adopt it, and a replay finds no row. If
/// writing our session then fails because our store is down, too slow or
/// not set up (its tables missing), the row is put back and tower-sessions'
/// cookie kept, so the next request adopts it. The mapping's `None` is
/// final, and so is a refusal of our store for a reason of the session's
/// own (its data, its user id): the row stays taken.
///
/// The adoption runs to its end whatever becomes of the request: one whose
/// client leaves, or that waits on it longer than the layer's
/// [store timeout](crate::SessionLayer::with_store_timeout) (tower-sessions'
/// table slow or locked), goes on without it (anonymous, tower-sessions'
/// cookie kept), and the browser's next request joins what it made, if it
/// comes to the same instance within the marker's 30 seconds and the
/// request that went on wrote nothing to its session (a write makes it an
/// anonymous session of ours, whose cookie then wins): otherwise the user
/// signs in again, once.
///
/// Every instance of the app must run a version with the import before the
/// switch goes live (see the migrating guide): an instance still on
/// tower-sessions keeps writing rows the others no longer read.
///
/// ```no_run
/// # async fn f(pool: sqlx::PgPool) {
/// use axum_user_sessions::{SessionLayer, TowerSessionsImport};
///
/// let import = TowerSessionsImport::postgres(pool.clone(), |record| async move {
///     // The user id the app stored under "user_id" (axum-login keeps its
///     // own under "axum-login.data": check its `auth_hash` there).
///     record.get("user_id").and_then(|v| v.as_i64())
/// });
/// let layer = SessionLayer::new(pool).adopt_tower_sessions(import);
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct TowerSessionsImport {
    source: Source,
    cookie_name: String,
    mapping: Mapping,
}

/// A public constructor of [`TowerSessionsImport`] reading tower-sessions'
/// table `$table` through a pool: the bounds on the app's mapping are
/// written here once, for every database.
macro_rules! from_pool {
    ($(#[$attr:meta])* $name:ident($pool:ty) => $variant:ident, $table:literal) => {
        $(#[$attr])*
        pub fn $name<F, Fut, U>(pool: $pool, mapping: F) -> Self
        where
            F: Fn(TowerRecord) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = Option<U>> + Send + 'static,
            U: fmt::Display,
        {
            let mapping: Mapping = Arc::new(move |record| {
                let user = mapping(record);
                Box::pin(async move { user.await.map(|u| u.to_string()) })
            });
            Self {
                source: Source::$variant {
                    pool,
                    table: $table.to_owned(),
                },
                cookie_name: "id".to_owned(),
                mapping,
            }
        }
    };
}

impl TowerSessionsImport {
    from_pool! {
        /// Reads tower-sessions' Postgres table (`"tower_sessions"."session"`,
        /// as `PostgresStore::migrate` creates it) through `pool`; `mapping`
        /// answers the user a record belongs to, or `None` to refuse it.
        #[cfg(feature = "postgres")]
        postgres(sqlx::PgPool) => Postgres, "\"tower_sessions\".\"session\""
    }

    from_pool! {
        /// Reads tower-sessions' SQLite table (`tower_sessions`, as
        /// `SqliteStore::migrate` creates it) through `pool`; `mapping` as for
        /// [`postgres`](Self::postgres).
        ///
        /// ```
        /// # async fn f() -> Result<(), sqlx::Error> {
        /// use axum_user_sessions::TowerSessionsImport;
        ///
        /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
        /// let import = TowerSessionsImport::sqlite(pool, |record| async move {
        ///     record.get("user_id").and_then(|v| v.as_str().map(str::to_owned))
        /// })
        /// .with_table_name("sessions");
        /// # Ok(()) }
        /// ```
        #[cfg(feature = "sqlite")]
        sqlite(sqlx::SqlitePool) => Sqlite, "\"tower_sessions\""
    }

    /// The table's name, when the app gave tower-sessions' store another
    /// one (`with_table_name`); on Postgres, in the same schema. Default:
    /// `session` on Postgres, `tower_sessions` on SQLite.
    ///
    /// # Panics
    ///
    /// When `name` is not a plain SQL identifier (letters, digits and `_`).
    pub fn with_table_name(self, name: &str) -> Self {
        self.with_name(Name::Table, name)
    }

    /// The Postgres schema, when the app gave tower-sessions' store another
    /// one (`with_schema_name`). Default: `tower_sessions`. Does nothing on
    /// SQLite.
    ///
    /// # Panics
    ///
    /// When `name` is not a plain SQL identifier.
    pub fn with_schema_name(self, name: &str) -> Self {
        self.with_name(Name::Schema, name)
    }

    /// Puts `name`, quoted, in place of the table's or the schema's name
    /// (Postgres' `"schema"."table"`; SQLite's table has no schema).
    fn with_name(mut self, part: Name, name: &str) -> Self {
        let what = match part {
            Name::Table => "table",
            Name::Schema => "schema",
        };
        assert!(
            is_identifier(name),
            "axum-user-sessions: {name:?} is not a plain SQL {what} name"
        );
        let name = format!("\"{name}\"");
        match (&mut self.source, part) {
            #[cfg(feature = "postgres")]
            (Source::Postgres { table, .. }, part) => {
                let (schema, rest) = table
                    .split_once('.')
                    .unwrap_or(("\"tower_sessions\"", "\"session\""));
                *table = match part {
                    Name::Table => format!("{schema}.{name}"),
                    Name::Schema => format!("{name}.{rest}"),
                };
            }
            #[cfg(feature = "sqlite")]
            (Source::Sqlite { table, .. }, Name::Table) => *table = name,
            #[cfg(feature = "sqlite")]
            (Source::Sqlite { .. }, Name::Schema) => {}
        }
        self
    }

    /// tower-sessions' cookie name, when the app changed it
    /// (`SessionManagerLayer::with_name`). Default: `id`.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid cookie name.
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        assert!(
            crate::cookie::is_cookie_name(&name),
            "axum-user-sessions: {name:?} is not a valid cookie name"
        );
        self.cookie_name = name;
        self
    }
}

impl fmt::Debug for TowerSessionsImport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TowerSessionsImport")
            .field("source", &self.source)
            .field("cookie_name", &self.cookie_name)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "postgres", feature = "sqlite"))]
mod tests {
    use super::*;

    fn table(import: &TowerSessionsImport) -> &str {
        match &import.source {
            Source::Postgres { table, .. } | Source::Sqlite { table, .. } => table,
        }
    }

    #[tokio::test]
    async fn names_are_quoted_into_the_table() {
        let pool = sqlx::PgPool::connect_lazy("postgres://localhost/app").unwrap();
        let pg = TowerSessionsImport::postgres(pool, |_| async { None::<String> });
        let renamed = pg.clone().with_table_name("sessions");
        assert_eq!(table(&renamed), r#""tower_sessions"."sessions""#);
        assert_eq!(
            table(&pg.clone().with_schema_name("app")),
            r#""app"."session""#
        );
        let both = pg.with_schema_name("app").with_table_name("s");
        assert_eq!(table(&both.with_schema_name("b")), r#""b"."s""#);
        let pool = sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
        let lite = TowerSessionsImport::sqlite(pool, |_| async { None::<String> });
        let lite = lite.with_schema_name("app");
        assert_eq!(table(&lite), r#""tower_sessions""#);
        assert_eq!(table(&lite.with_table_name("sessions")), r#""sessions""#);
    }

    #[tokio::test]
    #[should_panic(expected = "\"a;b\" is not a plain SQL schema name")]
    async fn a_schema_name_is_checked() {
        let pool = sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
        let lite = TowerSessionsImport::sqlite(pool, |_| async { None::<String> });
        let _ = lite.with_schema_name("a;b");
    }
}
