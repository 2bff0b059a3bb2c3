//! What a store call can fail with. Nothing here knows of HTTP, nor of a
//! database driver: the crate's [`Error`](crate::Error) takes these over
//! whole, and decides what a request answers. A driver's own error is kept
//! as the boxed [`source`](std::error::Error::source), so that it reaches the
//! logs, whatever driver the store runs on.

use std::time::Duration;

/// A driver's (or any other) error, kept as the source of a store error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors from a [`SessionProtocol`](super::SessionProtocol) call: what happened,
/// in terms a caller can act on, with the driver's error as its source.
///
/// A store written outside this crate reports its driver's errors through
/// the constructors ([`Error::unavailable`], [`Error::backend`], …), so no
/// driver type ever appears here. The `Display` text never carries SQL, nor
/// a parameter of a statement.
///
/// ```
/// use axum_user_sessions::store::Error;
///
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// let err = Error::unavailable(refused);
/// assert!(err.is_unavailable());
/// assert!(std::error::Error::source(&err).is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database is not there now: connection refused or lost, pool
    /// exhausted or closed, server shutting down or failing over, statement
    /// cancelled by a timeout, SQLite busy. Worth retrying later (`503`).
    #[error("session store unavailable")]
    Unavailable(#[source] BoxError),
    /// A wrapper's deadline passed before the store answered (`503`).
    #[error("session store did not answer within {0:?}")]
    Timeout(Duration),
    /// The store's tables (or keys' schema) are not there: the migrations
    /// have not run on this database. Run
    /// [`migrate`](super::migrate()) (or `axum-user-sessions migrate`).
    #[error("the session tables do not exist: run `axum_user_sessions::migrate` first")]
    MissingSchema(#[source] BoxError),
    /// The store is set up in a way that cannot work, and
    /// [`hint`](Self::hint) says what to change (for example a Postgres pool
    /// behind a transaction pooler without
    /// [`behind_pgbouncer`](super::PgStore::behind_pgbouncer)).
    #[error("session store misconfigured: {hint}")]
    Misconfigured {
        /// What to change.
        hint: &'static str,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// A write collided with a row or key that must be unique (a session id
    /// or credential that already exists). Nothing was written.
    #[error("session store conflict: the row already exists")]
    Conflict(#[source] BoxError),
    /// A value is larger than the store can keep (an index entry, a field,
    /// a reply). Nothing was written.
    #[error("session value too large for the store")]
    TooLarge(#[source] BoxError),
    /// A row does not fit the schema: an unknown token state, a hash of the
    /// wrong length, a time out of range, a reply of the wrong type.
    #[error("corrupt session row: {0}")]
    Corrupt(&'static str),
    /// Stored session data is not a JSON object, or new data could not be
    /// written as one (stores that keep it as text, such as SQLite).
    #[error("session value (de)serialization failed")]
    Serde(#[from] serde_json::Error),
    /// The store does not offer this feature (named here). The routes answer
    /// `501 Not Implemented` rather than pretending it worked.
    #[error("this session store does not support {0}")]
    Unsupported(&'static str),
    /// [`connect`](super::connect) was given a URL this build cannot open
    /// (expected `postgres://`, `sqlite:` or `redis://`, with the matching feature).
    #[error("unsupported database URL: expected postgres://…, sqlite:… or redis://…")]
    UnsupportedUrl,
    /// The store's migrations could not be applied.
    #[error("session store migration failed")]
    Migrate(#[source] BoxError),
    /// Any other failure of the database or its driver.
    #[error("session store error")]
    Backend(#[source] BoxError),
}

impl Error {
    /// The database is not there now ([`Error::Unavailable`]).
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable(source.into())
    }

    /// Any other failure of the database ([`Error::Backend`]).
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend(source.into())
    }

    /// The tables are not there ([`Error::MissingSchema`]).
    pub fn missing_schema(source: impl Into<BoxError>) -> Self {
        Self::MissingSchema(source.into())
    }

    /// Whether the store was out of reach or too slow ([`Error::Unavailable`],
    /// [`Error::Timeout`]): worth retrying later, and answered `503`.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Timeout(_))
    }

    /// What to check when the error points at a setup mistake rather than
    /// a fault, for the logs: run the migrations, or the hint of
    /// [`Error::Misconfigured`].
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::MissingSchema(_) => Some(
                "the session tables are missing or older than this version: call \
                 `axum_user_sessions::migrate(&pool)` at startup (or run `axum-user-sessions \
                 migrate`) before serving requests",
            ),
            Self::Misconfigured { hint, .. } => Some(hint),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_kept_and_outages_are_told_apart() {
        let io = || std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let down = Error::unavailable(io());
        assert!(down.is_unavailable());
        assert!(Error::Timeout(Duration::from_secs(1)).is_unavailable());
        let other = Error::backend(io());
        assert!(!other.is_unavailable());
        let source = std::error::Error::source(&other).map(ToString::to_string);
        assert_eq!(source, Some(io().to_string()));
        assert!(
            Error::missing_schema(io())
                .hint()
                .unwrap()
                .contains("migrate")
        );
        assert_eq!(other.hint(), None);
    }
}
