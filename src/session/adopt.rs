//! What adopting a tower-sessions session ([`crate::adopt`]) needs of the
//! session: whether the request brought one of ours, and a sign-in with
//! data carried over.

use super::{Session, now};
use crate::client::ClientInfo;
use crate::cookie::CookieToken;
use crate::error::Error;
use crate::store::placement;
use crate::token::SessionToken;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

impl Session {
    /// Whether the request carried a credential of ours (a session or
    /// remember-me cookie, well-formed or not, or a bearer token).
    pub(crate) fn presents_credentials(&self) -> bool {
        self.inner.bearer || self.inner.cookie.is_present() || self.inner.remember.is_present()
    }

    /// Signs `user_id` into a new session holding `data`: one insert (the
    /// data is folded into the new record), then what follows a sign-in
    /// (its event, the session limit). The new session's token. An error:
    /// no session was made.
    ///
    /// Unlike [`login`](Self::login), it records no `authenticated_at`: the
    /// user proved nothing on this request, so the session is not "fresh"
    /// for a [`Reauth`](crate::Reauth) check.
    pub(crate) async fn adopt(
        &self, user_id: String, data: HashMap<String, Value>,
    ) -> Result<Option<String>, Error> {
        super::limits::check_text(&user_id)?;
        self.ensure_loaded().await?;
        for (key, value) in data {
            if let Err(e) = self.insert(&key, value) {
                tracing::warn!(error = %e, "a tower-sessions value was not carried over");
            }
        }
        let mut record = self.new_record(now());
        // An id of the user's placement, as a sign-in mints it: a sharded
        // store (Redis) keeps a user's sessions together, and refuses an id
        // placed elsewhere.
        record.id = placement::session_id(Some(&user_id));
        record.user_id = Some(user_id.clone());
        let id = record.id;
        if let Err(e) = self.create(record).await {
            // The request goes on anonymous: the record's data must not
            // become an anonymous session of its own.
            self.state().changes.clear();
            // The insert may have landed all the same (an answer lost to a
            // deadline, replicas that did not acknowledge it in time): the
            // caller puts tower-sessions' row back for another try, which
            // must not leave a session nobody holds a token of.
            if let Err(gone) = self.store().delete(id).await {
                tracing::debug!(error = %gone, "an adoption's failed insert could not be undone");
            }
            return Err(e);
        }
        // The session exists from here on: it is adopted, whatever follows.
        if let Err(e) = self.signed_in(user_id).await {
            tracing::warn!(error = %e, "after adopting a tower-sessions session");
        }
        Ok(self.state().new_token.as_ref().map(SessionToken::encode))
    }

    /// The client this request's session records (anonymised if so
    /// configured).
    pub(crate) fn client(&self) -> &ClientInfo {
        &self.inner.client
    }

    /// This request's session as it came in (no credential of ours, its
    /// client and trusted-device cookie), with nothing done yet: for a
    /// request that stopped waiting on an adoption still running on this
    /// one.
    pub(crate) fn detached(&self) -> Session {
        let session = Session::new(
            Arc::clone(&self.inner.store),
            Arc::clone(&self.inner.config),
            CookieToken::Absent,
            CookieToken::Absent,
            self.inner.client.clone(),
        );
        let trust = self.state().trust.as_read();
        session.state().trust = trust;
        session
    }

    /// This request's session as if it had presented `token`: a request
    /// joining a session another request adopted.
    pub(crate) fn joining(&self, token: SessionToken) -> Session {
        Session::new(
            Arc::clone(&self.inner.store),
            Arc::clone(&self.inner.config),
            CookieToken::Valid(token),
            CookieToken::Absent,
            self.inner.client.clone(),
        )
    }
}
