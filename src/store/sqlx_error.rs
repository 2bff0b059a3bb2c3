//! How sqlx's errors (the SQL stores' and the migrations') become
//! [`store::Error`](Error)s: the one place that reads sqlx's errors and
//! SQLSTATE codes. The store's contract names no sqlx type.

use crate::store::error::Error;

/// What a prepared-statement error behind a transaction pooler means.
const PGBOUNCER_HINT: &str = "prepared statements are lost between transactions: behind \
     PgBouncer in transaction mode (or another transaction pooler) the store must be \
     `PgStore::new(pool).behind_pgbouncer()`";

/// What kind of failure a sqlx error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unavailable,
    MissingSchema,
    Misconfigured(&'static str),
    Conflict,
    TooLarge,
    Backend,
}

fn kind(err: &sqlx::Error) -> Kind {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Kind::Unavailable,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            if let Some(primary) = sqlite_primary(code)
                && (matches!(primary, 5 | 6 | 7 | 9 | 10 | 13 | 14 | 15) || code == "1032")
            {
                // SQLITE_BUSY, _LOCKED, _NOMEM, _INTERRUPT, _IOERR, _FULL,
                // _CANTOPEN (a directory missing or unmounted, no file
                // handle left), _PROTOCOL, in any of their extended forms
                // (BUSY_SNAPSHOT is 517), and READONLY_DBMOVED (the file
                // replaced under an open connection): the database is not
                // there for this call now (`503`), as Postgres' classes 53
                // and 57 are.
                return Kind::Unavailable;
            }
            match code {
                // 08: connection exception; 53: insufficient resources;
                // 57: operator intervention (shutdown, statement timeout).
                c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57") => {
                    Kind::Unavailable
                }
                // A deadlock or a serialization failure: the transaction
                // was rolled back, and the same call may succeed again.
                "40P01" | "40001" => Kind::Unavailable,
                // read_only_sql_transaction: a connection to a primary a
                // failover demoted (the store closes it rather than give
                // it back to the pool: `spoils_connection`);
                // lock_not_available: an operator's lock_timeout gave up
                // on a row another transaction held (a rollback, as a
                // deadlock: `is_rolled_back`).
                "25006" | "55P03" => Kind::Unavailable,
                // undefined_table, invalid_schema_name; SQLite names it.
                "42P01" | "3F000" => Kind::MissingSchema,
                // undefined_column: code newer than the schema it runs on.
                "42703" => Kind::MissingSchema,
                _ if db.message().starts_with("no such table") => Kind::MissingSchema,
                _ if db.message().starts_with("no such column") => Kind::MissingSchema,
                // invalid_sql_statement_name, duplicate_prepared_statement.
                "26000" | "42P05" => Kind::Misconfigured(PGBOUNCER_HINT),
                // unique_violation; SQLite's SQLITE_CONSTRAINT_PRIMARYKEY
                // and _UNIQUE.
                "23505" | "1555" | "2067" => Kind::Conflict,
                // program_limit_exceeded (an index row too big), a value
                // too long; SQLITE_TOOBIG.
                c if c.starts_with("54") => Kind::TooLarge,
                "22001" | "18" => Kind::TooLarge,
                _ => Kind::Backend,
            }
        }
        _ => Kind::Backend,
    }
}

/// The primary result code of a SQLite error code (sqlx reports SQLite's
/// extended code, a decimal number whose low byte is the primary one);
/// `None` for Postgres' five-character SQLSTATE codes.
fn sqlite_primary(code: &str) -> Option<u32> {
    let extended: u32 = code.parse().ok().filter(|_| code.len() < 5)?;
    Some(extended & 0xff)
}

impl Error {
    /// Whether the database rolled the call's transaction back to let
    /// another go on (a Postgres deadlock, `40P01`, a serialization
    /// failure, `40001`, or a lock an operator's `lock_timeout` gave up on,
    /// `55P03`): an [`Error::Unavailable`] that is no outage, so the same
    /// call may succeed at once. A write batch that meets one
    /// answers its calls one by one rather than all as unavailable; the
    /// command line says to run the command again.
    pub fn is_rolled_back(&self) -> bool {
        let Error::Unavailable(source) = self else {
            return false;
        };
        let code = match source.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Database(db)) => db.code(),
            _ => None,
        };
        matches!(code.as_deref(), Some("40P01" | "40001" | "55P03"))
    }
}

/// Whether the connection `err` came on fails every write the same way: a
/// primary that a failover demoted, or a session an operator made
/// read-only (`read_only_sql_transaction`, 25006). Given back to the pool,
/// it would answer `503` to every write it is lent for until the pool
/// retires it; the store closes it instead, and the next call connects
/// anew, to whichever server is the primary now.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) fn spoils_connection(err: &sqlx::Error) -> bool {
    // SQLite's READONLY_DBMOVED: the file under the connection was moved
    // or replaced (a restored backup); a new connection opens the new one.
    matches!(err, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("25006" | "1032")))
}

impl Error {
    /// [`spoils_connection`] of the sqlx error this one wraps, if any.
    #[cfg(feature = "postgres")]
    pub(crate) fn spoils_connection(&self) -> bool {
        let Error::Unavailable(source) = self else {
            return false;
        };
        source
            .downcast_ref::<sqlx::Error>()
            .is_some_and(spoils_connection)
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match kind(&err) {
            Kind::Unavailable => Self::unavailable(err),
            Kind::MissingSchema => Self::missing_schema(err),
            Kind::Misconfigured(hint) => Self::Misconfigured {
                hint,
                source: err.into(),
            },
            Kind::Conflict => Self::Conflict(err.into()),
            Kind::TooLarge => Self::TooLarge(err.into()),
            Kind::Backend => Self::backend(err),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        match err {
            // The database went away while migrating: an outage, not a
            // failed migration.
            sqlx::migrate::MigrateError::Execute(e) if kind(&e) == Kind::Unavailable => {
                Self::unavailable(e)
            }
            other => Self::Migrate(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_are_read_by_their_primary_code() {
        // SQLITE_BUSY_SNAPSHOT, _BUSY_RECOVERY, _FULL, _IOERR_WRITE.
        for (code, primary) in [("517", 5), ("261", 5), ("13", 13), ("778", 10)] {
            assert_eq!(sqlite_primary(code), Some(primary), "{code}");
        }
        // Postgres' SQLSTATE codes are five characters, digits or not.
        assert_eq!(sqlite_primary("40001"), None);
        assert_eq!(sqlite_primary("08006"), None);
        assert_eq!(sqlite_primary("42P01"), None);
    }

    #[test]
    fn an_outage_is_not_a_rollback() {
        let outage = Error::from(sqlx::Error::PoolTimedOut);
        assert!(outage.is_unavailable() && !outage.is_rolled_back());
    }

    #[test]
    fn outages_are_unavailable() {
        assert!(matches!(
            Error::from(sqlx::Error::PoolTimedOut),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Error::from(sqlx::Error::RowNotFound),
            Error::Backend(_)
        ));
    }
}
