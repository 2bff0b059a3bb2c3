//! The routes' sign-in strength rule: a [`Reauth`] policy for the changes
//! that sign devices out.

use super::SessionRoutes;
use crate::session::{Reauth, Session};

/// How strongly the user must have signed in.
impl SessionRoutes {
    /// Revoking (one device, the others, all) requires that the session
    /// passes `policy`: the user proved who they are within its time, and
    /// with a second factor when it asks for one
    /// ([`Session::login_with`], [`Session::reauthenticate_with`]). A
    /// request that restored the session from its remember-me credential
    /// never passes. Refusals are those of
    /// [`with_reauthentication`](Self::with_reauthentication):
    /// `401 {"error":"reauthentication_required"}`. Both may be set; each
    /// then applies. Default: off.
    ///
    /// ```
    /// use axum_user_sessions::{Reauth, SessionRoutes};
    /// use std::time::Duration;
    ///
    /// // Signing devices out needs a second factor in the last 10 minutes.
    /// let routes = SessionRoutes::new().with_reauthentication_policy(
    ///     Reauth::within(Duration::from_secs(600)).with_second_factor(),
    /// );
    /// ```
    pub fn with_reauthentication_policy(mut self, policy: Reauth) -> Self {
        self.reauth_policy = Some(policy);
        self
    }

    /// Whether `session` passes the policy (when one is set).
    pub(super) fn strong_enough(&self, session: &Session) -> bool {
        self.reauth_policy
            .is_none_or(|policy| session.is_fresh_with(policy))
    }
}
