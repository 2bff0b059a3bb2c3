//! The crate's error type. It knows nothing of HTTP: how an error answers a
//! request is in [`rejection`](crate::rejection).

use crate::store;

/// Errors from sessions and stores.
///
/// As a response (handlers may `?` it), a [`Store`](Error::Store) error that
/// is an outage or a timeout answers `503 Service Unavailable` with
/// `Retry-After`, [`Error::SessionEnded`] `401 Unauthorized`,
/// [`Error::UpdateConflict`] `409 Conflict`, [`Error::DataTooLarge`] `413
/// Payload Too Large`, [`Error::NulCharacter`] `400 Bad Request`, and
/// everything else `500 Internal Server Error` (see [`Error::status`]). No
/// response carries the error's text: SQL and driver messages stay in the
/// logs, with a [`hint`](Error::hint) where the cause is a setup mistake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A store call failed: the [store's error](store::Error) says what
    /// happened (unavailable, timed out, tables missing, …) and keeps the
    /// driver's error as its source.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// A session value could not be serialized or deserialized.
    #[error("session value (de)serialization failed")]
    Serde(#[from] serde_json::Error),
    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed")]
    Rng,
    /// The session was logged out, revoked or moved by a sign-in (in
    /// another tab) while the request ran, so the request's session writes
    /// were not applied. Answers `401 Unauthorized`, and sets no cookie:
    /// the other request's stand.
    #[error("the session ended while the request ran; its changes were not saved")]
    SessionEnded,
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
    /// Whether the store was out of reach or too slow: worth retrying
    /// later, and answered `503` with `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_unavailable())
    }

    /// The store's error, if this is one.
    pub fn store_error(&self) -> Option<&store::Error> {
        match self {
            Self::Store(e) => Some(e),
            _ => None,
        }
    }

    /// What to check when the error points at a setup mistake rather than
    /// a fault, for the logs: the tables are missing (run
    /// [`migrate`](crate::migrate())), or the store is misconfigured (a
    /// prepared statement the server does not know, SQLSTATE `26000`, or
    /// already has, `42P05`, means the pool's connections are shared behind
    /// its back, as by PgBouncer in transaction mode, where the store needs
    /// `PgStore::behind_pgbouncer()`). See [`store::Error::hint`].
    pub fn hint(&self) -> Option<&'static str> {
        self.store_error().and_then(store::Error::hint)
    }
}
