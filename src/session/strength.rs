//! How strongly the session signed in: sign-in with a method and a second
//! factor ([`SignIn`]), re-authentication likewise, and freshness policies
//! that ask for them ([`Reauth`]).

use super::Session;
use crate::error::Error;
use crate::store::SignIn;
use std::fmt;
use std::time::Duration;
use time::OffsetDateTime;

/// A freshness policy: the user proved who they are within a time, and
/// (optionally) with a second factor. For
/// [`Session::is_fresh_with`] and
/// [`SessionRoutes::with_reauthentication_policy`](crate::SessionRoutes::with_reauthentication_policy).
///
/// A remember-me restore is never fresh: the request that restored a
/// session fails every policy ([`Session::is_restored`]).
///
/// ```
/// use axum_user_sessions::Reauth;
/// use std::time::Duration;
///
/// // Signing other devices out needs a second factor in the last 10 minutes.
/// let policy = Reauth::within(Duration::from_secs(600)).with_second_factor();
/// assert!(policy.needs_second_factor());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reauth {
    /// The proof is at most this old.
    pub max_age: Duration,
    /// The proof included a second factor.
    pub second_factor: bool,
}

impl Reauth {
    /// A proof (sign-in or re-authentication) within `max_age`, of any kind.
    pub fn within(max_age: Duration) -> Self {
        Self {
            max_age,
            second_factor: false,
        }
    }

    /// The same, and the proof included a second factor.
    pub fn with_second_factor(mut self) -> Self {
        self.second_factor = true;
        self
    }

    /// Whether the policy asks for a second factor.
    pub fn needs_second_factor(&self) -> bool {
        self.second_factor
    }

    /// Whether a proof made `at` (with a second factor or not) passes at
    /// `now`.
    pub(crate) fn allows(
        &self, at: Option<OffsetDateTime>, second_factor: bool, now: OffsetDateTime,
    ) -> bool {
        at.is_some_and(|at| now - at <= self.max_age) && (second_factor || !self.second_factor)
    }
}

impl Session {
    /// [`login`](Self::login), recording how the user signed in: the
    /// method and whether a second factor was used. "Your devices" lists
    /// them, and [`Reauth`] policies check them (for example, signing other
    /// devices out only with a second factor in the last 10 minutes). A
    /// remember-me restore keeps them (and is not fresh).
    ///
    /// ```no_run
    /// use axum_user_sessions::{Session, SignIn};
    ///
    /// async fn after_passkey(session: Session, user: u64) -> Result<(), axum_user_sessions::Error> {
    ///     session.login_with(user, SignIn::new("passkey").with_second_factor(true)).await
    /// }
    /// ```
    pub async fn login_with(&self, user_id: impl fmt::Display, how: SignIn) -> Result<(), Error> {
        self.login_remember_with(user_id, false, how).await
    }

    /// [`reauthenticate`](Self::reauthenticate), recording what the user
    /// proved this time (`SignIn::new("password").with_second_factor(true)`
    /// after a password and a one-time code).
    pub async fn reauthenticate_with(&self, how: SignIn) -> Result<(), Error> {
        self.reauthenticate_as(&how).await
    }

    /// How the user last proved who they are ([`login_with`](Self::login_with),
    /// [`reauthenticate_with`](Self::reauthenticate_with)); `None` when
    /// anonymous or the app did not say.
    pub fn sign_in_method(&self) -> Option<String> {
        self.state()
            .record
            .as_ref()
            .and_then(|r| r.sign_in_method.clone())
    }

    /// Whether that proof included a second factor.
    pub fn second_factor(&self) -> bool {
        self.state()
            .record
            .as_ref()
            .is_some_and(|r| r.second_factor)
    }

    /// Whether the session passes `policy`: the user proved who they are
    /// within its time, with a second factor if it asks for one, and this
    /// request did not restore the session from its remember-me credential.
    /// `false` for an anonymous session.
    pub fn is_fresh_with(&self, policy: Reauth) -> bool {
        let st = self.state();
        let Some(r) = st.record.as_ref().filter(|r| r.user_id.is_some()) else {
            return false;
        };
        st.restored.is_none()
            && policy.allows(
                r.authenticated_at,
                r.second_factor,
                OffsetDateTime::now_utc(),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let now = OffsetDateTime::now_utc();
        let ten = Reauth::within(Duration::from_secs(600));
        let minute_ago = Some(now - Duration::from_secs(60));
        assert!(ten.allows(minute_ago, false, now));
        assert!(!ten.allows(Some(now - Duration::from_secs(601)), true, now));
        assert!(!ten.allows(None, true, now));
        let strong = ten.with_second_factor();
        assert!(!strong.allows(minute_ago, false, now));
        assert!(strong.allows(minute_ago, true, now));
    }
}
