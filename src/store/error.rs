//! What a store call can fail with. Nothing here knows of HTTP: the crate's
//! [`Error`](crate::Error) takes these over variant by variant, and decides
//! what a request answers.

use std::time::Duration;

/// Errors from a [`SessionStore`](super::SessionStore) call.
///
/// Every source is kept (`std::error::Error::source`), so the driver's own
/// message reaches the logs; the `Display` text never carries SQL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database is not there now: connection refused or lost, pool
    /// exhausted or closed, server shutting down, statement cancelled by a
    /// timeout, SQLite busy. Worth retrying later.
    #[error("session store unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The database answered with an error (or the driver failed) for a
    /// reason other than an outage.
    #[error("session store error")]
    Database(#[source] sqlx::Error),
    /// A wrapper's deadline passed before the store answered.
    #[error("session store did not answer within {0:?}")]
    Timeout(Duration),
    /// A row does not fit the schema: an unknown token state, a hash of the
    /// wrong length, a time out of range, a duplicate key in memory.
    #[error("corrupt session row: {0}")]
    Corrupt(&'static str),
    /// Stored session data is not a JSON object, or new data could not be
    /// written as one (stores that keep it as text, such as SQLite).
    #[error("session value (de)serialization failed")]
    Serde(#[from] serde_json::Error),
    /// [`connect`](super::connect) was given a URL this build cannot open
    /// (expected `postgres://` or `sqlite:`, with the matching feature).
    #[error("unsupported database URL: expected postgres://… or sqlite:…")]
    UnsupportedUrl,
    /// An embedded migration could not be applied.
    #[error("session store migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Error {
    /// Classifies a sqlx error: outages become [`Error::Unavailable`],
    /// everything else [`Error::Database`].
    pub fn from_sqlx(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Database(err)
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        Self::from_sqlx(err)
    }
}

/// Whether a sqlx error means "the database is not there now" rather than
/// "this statement is wrong".
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 53: insufficient resources;
            // 57: operator intervention (shutdown, statement timeout);
            // SQLite: 5 = SQLITE_BUSY, 6 = SQLITE_LOCKED.
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || code == "5"
                || code == "6"
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_unavailable() {
        assert!(matches!(
            Error::from(sqlx::Error::PoolTimedOut),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Error::from(sqlx::Error::RowNotFound),
            Error::Database(_)
        ));
    }
}
