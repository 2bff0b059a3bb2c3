//! What a store keeps for remember-me and for new credentials: the
//! remember-me credential, a session found by it, and a reissue (sign-in,
//! re-authentication, privilege change). Plain data, like `types.rs`.

use super::sign_in::SignIn;
use super::types::{SessionRecord, TokenHash};
use std::net::IpAddr;
use time::OffsetDateTime;
use uuid::Uuid;

/// A remember-me credential to store: the selector (looked up) and the
/// SHA-256 of the validator (compared in constant time).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RememberCredential {
    /// Public lookup key of the credential (16 random bytes).
    pub selector: [u8; 16],
    /// SHA-256 of the secret validator.
    pub validator: TokenHash,
    /// Absolute end of the credential, and of the session with it.
    pub expires_at: OffsetDateTime,
}

impl RememberCredential {
    /// A credential (for tests of stores, and stores outside this crate).
    pub fn new(selector: [u8; 16], validator: TokenHash, expires_at: OffsetDateTime) -> Self {
        Self {
            selector,
            validator,
            expires_at,
        }
    }
}

/// A session found by its remember-me selector.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RememberedSession {
    /// The session row.
    pub record: SessionRecord,
    /// SHA-256 of the current validator.
    pub validator: TokenHash,
    /// SHA-256 of the validator it replaced, accepted for a grace window.
    pub previous: Option<TokenHash>,
    /// When the validator was last replaced.
    pub rotated_at: OffsetDateTime,
    /// When the credential ends.
    pub expires_at: OffsetDateTime,
    /// SHA-256 of the pending validator (issued by a restore, sent to the
    /// client, not yet presented), with when it was issued.
    pub pending: Option<(TokenHash, OffsetDateTime)>,
}

/// New credentials for a session: sign-in, re-authentication, privilege change.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Reissue {
    /// The user now signed in (`None` keeps the session anonymous).
    pub user_id: Option<String>,
    /// The new `authenticated_at` (`None` leaves it as it is).
    pub authenticated_at: Option<OffsetDateTime>,
    /// The request's time: becomes `rotated_at`.
    pub now: OffsetDateTime,
    /// New client details to record (a sign-in records where it happened);
    /// `None` keeps the stored ones.
    pub client: Option<ReissueClient>,
    /// The new hard end of the session's tokens
    /// ([`SessionRecord::tokens_expire_at`]): a sign-in or re-authentication
    /// counts the absolute timeout from now. `None` keeps it.
    pub tokens_expire_at: Option<OffsetDateTime>,
    /// How the user proved who they are, for a sign-in or
    /// re-authentication: becomes [`SessionRecord::sign_in_method`] and
    /// [`SessionRecord::second_factor`]. `None` keeps them.
    pub sign_in: Option<SignIn>,
    /// A new id for the session (an anonymous session signing in moves to
    /// an id of its user's [`placement`](super::placement)): the session is
    /// stored anew under it with its data, and the old id keeps only its
    /// tokens, retired, so that a request still carrying one is recognised
    /// as having left before the sign-in. `None` keeps the id.
    pub new_id: Option<Uuid>,
}

/// The client recorded by a sign-in.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReissueClient {
    /// IP address (already anonymised when that is configured).
    pub ip: Option<IpAddr>,
    /// User-Agent.
    pub user_agent: Option<String>,
}

impl Reissue {
    /// New credentials at `now` for `user_id`.
    pub fn new(user_id: Option<String>, now: OffsetDateTime) -> Self {
        Self {
            user_id,
            authenticated_at: None,
            now,
            client: None,
            tokens_expire_at: None,
            sign_in: None,
            new_id: None,
        }
    }
}

impl RememberedSession {
    /// A session found by remember-me selector (for stores outside this crate).
    pub fn new(
        record: SessionRecord, validator: TokenHash, previous: Option<TokenHash>,
        rotated_at: OffsetDateTime, expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            record,
            validator,
            previous,
            rotated_at,
            expires_at,
            pending: None,
        }
    }

    /// With a pending validator `hash`, issued `at`.
    pub fn with_pending(mut self, hash: TokenHash, at: OffsetDateTime) -> Self {
        self.pending = Some((hash, at));
        self
    }
}
