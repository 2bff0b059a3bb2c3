//! The crate's error type. It knows nothing of HTTP: how an error answers a
//! request is in [`rejection`](crate::rejection).

use crate::store;

/// Errors from sessions and stores.
///
/// As a response (handlers may `?` it), [`Error::Unavailable`] and
/// [`Error::Timeout`] answer `503 Service Unavailable`,
/// [`Error::SessionEnded`] `401 Unauthorized`, [`Error::UpdateConflict`]
/// `409 Conflict`, [`Error::DataTooLarge`] `413 Payload Too Large`,
/// [`Error::NulCharacter`] `400 Bad Request`, and everything else
/// `500 Internal Server Error` (see [`Error::status`]). No response carries
/// the error's text: SQL and driver messages stay in the logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store could not be reached in time: connection refused or lost,
    /// pool timed out, server shutting down, statement timeout.
    #[error("session store unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The store did not answer within the layer's
    /// [store timeout](crate::SessionLayer::with_store_timeout).
    #[error("session store did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// Any other database error.
    #[error("session store error")]
    Database(#[source] sqlx::Error),
    /// Running the embedded migrations failed.
    #[error("session store migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A session value could not be serialized or deserialized.
    #[error("session value (de)serialization failed")]
    Serde(#[from] serde_json::Error),
    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed")]
    Rng,
    /// The session was logged out or revoked while the request ran, so the
    /// request's session writes were not applied. Answers `401 Unauthorized`.
    #[error("the session ended while the request ran; its changes were not saved")]
    SessionEnded,
    /// A database URL this build cannot open (expected `postgres://` or
    /// `sqlite:`, with the matching feature).
    #[error("unsupported database URL: expected postgres://… or sqlite:…")]
    UnsupportedUrl,
    /// The store returned data that does not fit the schema.
    #[error("corrupt session row: {0}")]
    Corrupt(&'static str),
    /// [`Session::update`](crate::Session::update) found the key changed by
    /// another request at each of its attempts (their number here), and
    /// gave up: nothing was written. Answers `409 Conflict`; the request may
    /// be retried.
    #[error("the session value changed under each of {0} attempts to update it; not updated")]
    UpdateConflict(u32),
    /// The write would make the session's data, serialized as compact JSON,
    /// larger than the layer's
    /// [limit](crate::SessionLayer::with_max_data_size) (in bytes, here):
    /// nothing was written, and the data is as it was. Answers `413 Payload
    /// Too Large` with `{"error":"session_data_too_large","limit":…}`.
    #[error("the session data would exceed its limit of {limit} bytes; not written")]
    DataTooLarge {
        /// The limit, in bytes of serialized data.
        limit: usize,
    },
    /// A session key, a value (in a string or an object key) or a user id
    /// holds U+0000, which Postgres cannot store in `jsonb` or `text`: it is
    /// refused on every store, before anything is written. Answers `400 Bad
    /// Request` with `{"error":"nul_character"}`.
    #[error("session keys, values and user ids cannot hold U+0000; not written")]
    NulCharacter,
}

impl Error {
    /// Classifies a sqlx error: outages become [`Error::Unavailable`].
    pub fn from_sqlx(err: sqlx::Error) -> Self {
        Self::from(err)
    }

    /// What to check when the error points at a misconfiguration rather
    /// than a fault, for the logs: a prepared statement the server does not
    /// know (SQLSTATE `26000`) or already has (`42P05`) means the pool's
    /// connections are shared behind its back, as by PgBouncer in
    /// transaction mode, where the store needs
    /// `PgStore::behind_pgbouncer()`.
    pub fn hint(&self) -> Option<&'static str> {
        let Self::Database(sqlx::Error::Database(db)) = self else {
            return None;
        };
        match db.code().as_deref() {
            Some("26000" | "42P05") => Some(
                "prepared statements are lost between transactions: behind PgBouncer in \
                 transaction mode (or another transaction pooler) the store must be \
                 `PgStore::new(pool).behind_pgbouncer()`",
            ),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        store::Error::from(err).into()
    }
}

/// Variant to variant, sources kept.
impl From<store::Error> for Error {
    fn from(err: store::Error) -> Self {
        match err {
            store::Error::Unavailable(e) => Self::Unavailable(e),
            store::Error::Timeout(limit) => Self::Timeout(limit),
            store::Error::Database(e) => Self::Database(e),
            store::Error::Migrate(e) => Self::Migrate(e),
            store::Error::Serde(e) => Self::Serde(e),
            store::Error::UnsupportedUrl => Self::UnsupportedUrl,
            store::Error::Corrupt(what) => Self::Corrupt(what),
        }
    }
}
