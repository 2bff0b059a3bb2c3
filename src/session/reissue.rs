//! Issuing a session a new token at once, with no grace for the old one:
//! the one store call behind sign-in, re-authentication and explicit
//! rotation, and how the request's copy of the row follows it.

use super::Session;
use crate::error::Error;
use crate::store::{Reissue, ReissueClient, SignIn, placement};
use std::sync::Arc;
use time::OffsetDateTime;

/// Why the session gets a new token at once, with no grace for the old one.
#[derive(Debug, Clone, Copy)]
pub(super) enum NewToken<'a> {
    /// This user signs in on this client, so.
    SignIn(&'a str, &'a SignIn),
    /// The user proved who they are again, so.
    Reauthenticate(&'a SignIn),
    /// A privilege change.
    Rotate,
}

impl Session {
    /// Issues the request's session a new token at once, retiring every
    /// other token of the session (no grace), and records what `why` says.
    /// `false` when the request has no session, or the store no longer has
    /// it.
    pub(super) async fn reissue(
        &self, why: NewToken<'_>, now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let Some((id, user_id)) = self
            .state()
            .record
            .as_ref()
            .map(|r| (r.id, r.user_id.clone()))
        else {
            return Ok(false);
        };
        let reissue = match why {
            NewToken::SignIn(user, how) => Reissue {
                user_id: Some(user.to_owned()),
                authenticated_at: Some(now),
                now,
                // A sign-in records where it happened: binding and the
                // device list compare against this, not the anonymous visit.
                client: Some(ReissueClient {
                    ip: self.inner.client.ip(),
                    user_agent: self.inner.client.user_agent().map(str::to_owned),
                }),
                // A sign-in issues the tokens: they end an absolute timeout on.
                tokens_expire_at: Some(now + self.config().absolute_timeout),
                sign_in: Some(how.clone()),
                // An anonymous session signing in moves to an id of its
                // user's placement, its data with it; the old id keeps
                // only its retired tokens.
                new_id: user_id.is_none().then(|| placement::session_id(Some(user))),
            },
            NewToken::Reauthenticate(how) => Reissue {
                user_id,
                authenticated_at: Some(now),
                now,
                client: None,
                tokens_expire_at: Some(now + self.config().absolute_timeout),
                sign_in: Some(how.clone()),
                new_id: None,
            },
            NewToken::Rotate => Reissue::new(user_id, now),
        };
        let token = self.issue_token(reissue.new_id.unwrap_or(id))?;
        if !self.store().reissue(id, &token.hash(), &reissue).await? {
            return Ok(false);
        }
        let mut st = self.state();
        if let Some(r) = st.record.as_mut().map(Arc::make_mut) {
            if let Some(new_id) = reissue.new_id {
                r.id = new_id;
                r.version = 0;
                // As the move stored it (`store/protocol/moving.rs`).
                if let Some(end) = reissue.tokens_expire_at {
                    r.absolute_expires_at = r.absolute_expires_at.max(end);
                }
            }
            r.user_id.clone_from(&reissue.user_id);
            if reissue.authenticated_at.is_some() {
                r.authenticated_at = reissue.authenticated_at;
            }
            r.rotated_at = reissue.now;
            if reissue.tokens_expire_at.is_some() {
                r.tokens_expire_at = reissue.tokens_expire_at;
            }
            if let Some(c) = &reissue.client {
                r.ip = c.ip;
                r.user_agent.clone_from(&c.user_agent);
                if c.ip.is_some() {
                    r.last_ip = c.ip;
                }
            }
            if let Some(how) = &reissue.sign_in {
                r.sign_in_method.clone_from(&how.method);
                r.second_factor = how.second_factor;
            }
        }
        st.new_token = Some(token);
        st.rotation_due = None;
        Ok(true)
    }
}
