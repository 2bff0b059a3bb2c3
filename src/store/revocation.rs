//! Revocations: why a session ended early, who ended it, when.
//!
//! The reason and the actor are distinct types, so that swapping "who" and
//! "why" is a compile error rather than a wrong audit trail.

use super::types::SessionRecord;
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// Why a session was revoked. Stored as text (`as_str`), shown to the user in
/// "Your devices" and in audit logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevokeReason {
    /// The user signed it out ("Your devices", sign out everywhere). `"user"`.
    User,
    /// The user signed out on the device itself
    /// ([`Session::logout`](crate::Session::logout)). `"logout"`.
    Logout,
    /// An administrator signed it out through the routes' authorization hook.
    /// `"admin"`.
    Admin,
    /// A replaced session token was presented after its grace window: the
    /// token was stolen or replayed. `"token_reuse"`.
    TokenReuse,
    /// A replaced remember-me validator was presented after its grace window.
    /// `"remember_token_reuse"`.
    RememberTokenReuse,
    /// An enforced IP or User-Agent binding did not match, with
    /// [`MismatchAction::Revoke`](crate::MismatchAction::Revoke).
    /// `"binding_mismatch"`.
    BindingMismatch,
    /// The user's password changed. `"password_change"`.
    PasswordChange,
    /// A sign-in went past the layer's
    /// [session limit](crate::SessionLayer::with_max_sessions_per_user): the
    /// user's least recently active session was signed out.
    /// `"session_limit"`.
    SessionLimit,
    /// A reason of the app's own (for example `"lost_phone"`, `"incident"`).
    Other(String),
}

impl RevokeReason {
    /// A reason of the app's own; a known name (`"user"`, `"token_reuse"`, …)
    /// gives its variant.
    pub fn other(reason: impl Into<String>) -> Self {
        Self::from_stored(&reason.into())
    }

    /// The reason as stored in the database.
    pub fn as_str(&self) -> &str {
        match self {
            Self::User => "user",
            Self::Logout => "logout",
            Self::Admin => "admin",
            Self::TokenReuse => "token_reuse",
            Self::RememberTokenReuse => "remember_token_reuse",
            Self::BindingMismatch => "binding_mismatch",
            Self::PasswordChange => "password_change",
            Self::SessionLimit => "session_limit",
            Self::Other(reason) => reason,
        }
    }

    /// The reason a stored text names.
    pub fn from_stored(text: &str) -> Self {
        match text {
            "user" => Self::User,
            "logout" => Self::Logout,
            "admin" => Self::Admin,
            "token_reuse" => Self::TokenReuse,
            "remember_token_reuse" => Self::RememberTokenReuse,
            "binding_mismatch" => Self::BindingMismatch,
            "password_change" => Self::PasswordChange,
            "session_limit" => Self::SessionLimit,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for RevokeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who revoked a session. Stored as text (`as_str`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevokedBy {
    /// The library itself (theft detection, binding). Stored as `"system"`.
    System,
    /// A signed-in user, by user id: the owner, or an administrator acting
    /// through the routes.
    User(String),
    /// An operator or job outside the app's users: the CLI, an admin script
    /// (for example `"cli"`, `"support:zoe"`).
    Operator(String),
}

impl RevokedBy {
    /// A signed-in user, by the id given to [`Session::login`](crate::Session::login).
    pub fn user(user_id: impl fmt::Display) -> Self {
        Self::User(user_id.to_string())
    }

    /// An operator or job, by a label of your choice.
    pub fn operator(label: impl Into<String>) -> Self {
        Self::Operator(label.into())
    }

    /// Who, as stored in the database.
    pub fn as_str(&self) -> &str {
        match self {
            Self::System => "system",
            Self::User(who) | Self::Operator(who) => who,
        }
    }
}

impl fmt::Display for RevokedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A revocation: why, by whom, when. Stores record all three.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Revocation {
    /// Why.
    pub reason: RevokeReason,
    /// Who.
    pub by: RevokedBy,
    /// When.
    pub at: OffsetDateTime,
}

impl Revocation {
    /// How far apart the app instances' clocks may be, for revocations: a
    /// revocation also ends the sessions whose timeouts ran out less than
    /// this before its instant ([`reaches`](Self::reaches)). Five minutes.
    ///
    /// Without it, an instance whose clock runs ahead would leave out a
    /// session that an instance with a slower clock still serves (its idle
    /// end after that clock's "now"): the next request there would touch
    /// it, and "Sign out everywhere" would have missed it. Such a session
    /// ends now, as revoked, rather than at its idle end a little earlier.
    pub const CLOCK_ALLOWANCE: time::Duration = time::Duration::minutes(5);

    /// A revocation at `at`.
    pub fn new(reason: RevokeReason, by: RevokedBy, at: OffsetDateTime) -> Self {
        Self { reason, by, at }
    }

    /// The instant at which a revocation judges which sessions are still
    /// live: its own less [`CLOCK_ALLOWANCE`](Self::CLOCK_ALLOWANCE). The SQL
    /// stores bind it where [`reaches`](Self::reaches) compares it.
    pub fn live_after(&self) -> OffsetDateTime {
        self.at - Self::CLOCK_ALLOWANCE
    }

    /// Whether this revocation ends `record`, of a session its scope
    /// covers: the session is [live](SessionRecord::is_live) at
    /// [`live_after`](Self::live_after), so that no instance, whatever its
    /// clock (within the allowance), still serves a session it left out.
    /// The rule of every store.
    pub fn reaches(&self, record: &SessionRecord) -> bool {
        record.is_live(self.live_after())
    }

    /// An automatic revocation by the library at `at`.
    pub fn system(reason: RevokeReason, at: OffsetDateTime) -> Self {
        Self::new(reason, RevokedBy::System, at)
    }
}

/// Which live sessions a [revocation](super::SessionProtocol::revoke) ends.
/// Sessions it does not [reach](Revocation::reaches) (revoked, expired
/// before the clock allowance) are never touched again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokeScope<'a> {
    /// One session; with `owner`, only if that user owns it.
    Session {
        /// The session's public id.
        id: Uuid,
        /// The user who must own it, if any.
        owner: Option<&'a str>,
    },
    /// Every live session of a user, except `keep`.
    User {
        /// The user.
        user_id: &'a str,
        /// A session to leave signed in (typically the current one).
        keep: Option<Uuid>,
    },
    /// Every live session of every user.
    Everyone,
}

impl RevokeScope<'_> {
    /// One session, whoever owns it.
    pub fn session(id: Uuid) -> Self {
        RevokeScope::Session { id, owner: None }
    }

    /// Whether the scope covers `record` (liveness aside): the rule the
    /// SQL stores write as their `WHERE`.
    pub fn covers(&self, record: &SessionRecord) -> bool {
        match *self {
            Self::Session { id, owner } => {
                record.id == id && owner.is_none_or(|u| record.user_id.as_deref() == Some(u))
            }
            Self::User { user_id, keep } => {
                record.user_id.as_deref() == Some(user_id) && Some(record.id) != keep
            }
            Self::Everyone => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_text() {
        for r in [
            RevokeReason::User,
            RevokeReason::Admin,
            RevokeReason::TokenReuse,
            RevokeReason::RememberTokenReuse,
            RevokeReason::BindingMismatch,
            RevokeReason::PasswordChange,
            RevokeReason::SessionLimit,
            RevokeReason::other("lost phone"),
        ] {
            assert_eq!(RevokeReason::from_stored(r.as_str()), r);
        }
        assert_eq!(RevokeReason::other("user"), RevokeReason::User);
        assert_eq!(RevokedBy::System.as_str(), "system");
        assert_eq!(RevokedBy::user(42).as_str(), "42");
    }
}
