//! The `Session` extractor, and `Option<Session>`.

use crate::rejection::{MissingSessionLayer, SessionRejection};
use crate::session::Session;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(MissingSessionLayer)?;
        session.ensure_loaded().await?;
        Ok(session)
    }
}

/// `Option<Session>`: `Some` when the request carries a live session (signed
/// in or not), `None` when it has none (no cookie, or a cookie that names no
/// live session): for pages that show something else to visitors without a
/// session and must never create one.
///
/// A missing [`SessionLayer`](crate::SessionLayer) and a store that cannot be
/// reached still reject the request (`500`, `503`): `None` never stands for
/// "could not tell", so an outage never makes a signed-in user look
/// anonymous. A cookie that names no live session is still expired in the
/// response, as with `Session`.
///
/// ```
/// use axum_user_sessions::Session;
///
/// async fn header(session: Option<Session>) -> String {
///     match session.and_then(|s| s.user_id()) {
///         Some(user) => format!("signed in as {user}"),
///         None => "sign in".into(),
///     }
/// }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(header));
/// ```
impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts, state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let session = <Session as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        Ok(session.id().is_some().then_some(session))
    }
}
