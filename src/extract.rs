//! The `Session` extractor.

use crate::rejection::{MissingSessionLayer, SessionRejection};
use crate::session::Session;
use axum::extract::FromRequestParts;
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
