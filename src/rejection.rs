//! How errors answer a request: the HTTP status and body of the crate's
//! [`Error`], and the [`Session`](crate::Session) extractor's rejections.

use crate::error::Error;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            _ if self.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(crate::store::Error::Unsupported(_)) => StatusCode::NOT_IMPLEMENTED,
            Self::SessionEnded => StatusCode::UNAUTHORIZED,
            Self::UpdateConflict(_) => StatusCode::CONFLICT,
            Self::DataTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NulCharacter => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
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
        if let Self::UpdateConflict(_) = self {
            tracing::warn!(error = %self, "session value under heavy contention");
            return (
                status,
                [("content-type", "application/json")],
                r#"{"error":"update_conflict"}"#,
            )
                .into_response();
        }
        if let Self::DataTooLarge { limit } = self {
            tracing::debug!(limit, "session data limit reached; write refused");
            let body = format!(r#"{{"error":"session_data_too_large","limit":{limit}}}"#);
            return (status, [("content-type", "application/json")], body).into_response();
        }
        if let Self::NulCharacter = self {
            tracing::debug!("U+0000 in session data or user id; write refused");
            return (
                status,
                [("content-type", "application/json")],
                r#"{"error":"nul_character"}"#,
            )
                .into_response();
        }
        // The source's text only (`Display`), never its `Debug`: a database
        // error's debug form carries its detail and context, which can quote
        // the statement's parameters (session data, token hashes).
        let source = std::error::Error::source(&self).map(ToString::to_string);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %self, source, "session store unavailable");
        } else {
            let hint = self.hint();
            tracing::error!(error = %self, source, hint, "session error");
        }
        // Only an outage passes: a `500` (a missing table, a bug) would
        // fail the same way again, so it invites no retry.
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                let body = "session store unavailable, try again shortly";
                (status, [("retry-after", "1")], body).into_response()
            }
            StatusCode::NOT_IMPLEMENTED => {
                (status, "not implemented by this session store").into_response()
            }
            _ => (status, PLAIN_500).into_response(),
        }
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
            Self::MissingLayer(_) => PLAIN_500.into(),
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

/// The request reached something that needs its session ([`Session`](crate::Session),
/// [`ClientInfo`](crate::ClientInfo), `AxumLoginLayer`)
/// without passing through a [`SessionLayer`](crate::SessionLayer): the
/// route is outside the layer, or a layer that needs the session wraps it.
///
/// The client gets a plain `500 Internal Server Error` (nothing about the
/// app's wiring); the log (`tracing::error!`) says which order works.
#[derive(Debug, Clone, Copy, Default, thiserror::Error)]
#[error(
    "no session in the request: `SessionLayer` must wrap every route and layer that uses the session. \
     Add `.layer(SessionLayer::new(store))` after every `.route(…)`, `.nest(…)` and `.layer(…)` that needs it \
     (with axum-login: `.layer(AxumLoginLayer::new(backend)).layer(SessionLayer::new(store))`, in this order)"
)]
#[non_exhaustive]
pub struct MissingSessionLayer;

/// The body of a wiring error: nothing meant for the developer.
const PLAIN_500: &str = "internal server error";

impl MissingSessionLayer {
    /// Always `500 Internal Server Error`: this is a bug in the app's wiring.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The plain `500`, with the log line naming `what` found no session and
    /// the order that works.
    pub(crate) fn respond(self, what: &str) -> Response {
        tracing::error!(
            order = "routes, then layers that use the session, then .layer(SessionLayer::new(store)) last",
            "{what} found no session because of layer order: {self}"
        );
        (self.status(), PLAIN_500).into_response()
    }
}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        self.respond("an extractor (`Session`, `Option<Session>` or `ClientInfo`)")
    }
}
