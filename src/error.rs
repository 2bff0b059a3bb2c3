//! The crate's error type and the extractor's rejection.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Errors from sessions and stores.
///
/// As a response (handlers may `?` it), [`Error::Unavailable`] answers
/// `503 Service Unavailable` and everything else `500 Internal Server Error`.
/// Neither response carries the error's text: SQL and driver messages stay in
/// the logs.
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
}

impl Error {
    /// Classifies a sqlx error: outages become [`Error::Unavailable`].
    pub fn from_sqlx(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Database(err)
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unavailable(_) | Self::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::SessionEnded => StatusCode::UNAUTHORIZED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        Self::from_sqlx(err)
    }
}

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

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::SessionEnded = self {
            return (
                status,
                [("content-type", "application/json")],
                r#"{"error":"session_ended"}"#,
            )
                .into_response();
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %self, source = ?std::error::Error::source(&self), "session store unavailable");
        } else {
            tracing::error!(error = %self, source = ?std::error::Error::source(&self), "session error");
        }
        let body = if status == StatusCode::SERVICE_UNAVAILABLE {
            "session store unavailable, try again shortly"
        } else {
            "internal server error"
        };
        (status, [("retry-after", "1")], body).into_response()
    }
}

/// Why the [`Session`](crate::Session) extractor failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The handler's router has no [`SessionLayer`](crate::SessionLayer).
    #[error(transparent)]
    MissingLayer(#[from] MissingSessionLayer),
    /// Loading the session from the store failed.
    #[error(transparent)]
    Store(#[from] Error),
}

impl SessionRejection {
    /// The HTTP status of the rejection.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingLayer(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Store(e) => e.status(),
        }
    }

    /// The body text of the rejection.
    pub fn body_text(&self) -> String {
        match self {
            Self::MissingLayer(e) => e.to_string(),
            Self::Store(e) if e.status() == StatusCode::SERVICE_UNAVAILABLE => {
                "session store unavailable, try again shortly".into()
            }
            Self::Store(_) => "internal server error".into(),
        }
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            Self::MissingLayer(e) => e.into_response(),
            Self::Store(e) => e.into_response(),
        }
    }
}

/// The `Session` extractor was used on a route without `SessionLayer`.
#[derive(Debug, Clone, Copy, Default, thiserror::Error)]
#[error(
    "missing `SessionLayer`: add `.layer(SessionLayer::new(pool))` to the router before extracting `Session`"
)]
#[non_exhaustive]
pub struct MissingSessionLayer;

impl MissingSessionLayer {
    /// Always `500 Internal Server Error`: this is a bug in the app's wiring.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (self.status(), self.to_string()).into_response()
    }
}
