//! The records a store reads and writes. Plain data: no database, no HTTP.

use serde_json::{Map, Value};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// SHA-256 of a session token, as stores keep it.
///
/// It is the lookup key in the store. It is not printed by `Debug`, so that a
/// log line never carries something an attacker could match against a leaked
/// table.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub(crate) [u8; 32]);

impl TokenHash {
    /// The 32 hash bytes, for a store to bind in a query.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Builds a hash from the bytes a store read back.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Compares two hashes in constant time.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        use subtle::ConstantTimeEq as _;
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(REDACTED)")
    }
}

/// One session row: one signed-in browser or device.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionRecord {
    /// Public id, used in URLs and lists. Never a credential.
    pub id: Uuid,
    /// The signed-in user, or `None` for an anonymous session.
    pub user_id: Option<String>,
    /// Application data.
    pub data: Map<String, Value>,
    /// When the row was created.
    pub created_at: OffsetDateTime,
    /// When the user last proved who they are (password), for freshness
    /// checks; cleared by a remember-me restore, which proves nothing.
    pub authenticated_at: Option<OffsetDateTime>,
    /// Last request seen, to the touch interval.
    pub last_seen_at: OffsetDateTime,
    /// `min(last_seen_at + idle timeout, absolute_expires_at)`.
    pub expires_at: OffsetDateTime,
    /// The hard end of the session.
    pub absolute_expires_at: OffsetDateTime,
    /// The hard end of the session's tokens: the absolute timeout counted
    /// from the sign-in or remember-me restore that issued them. A
    /// remembered session outlives it (its remember-me credential restores
    /// it with a new token); its tokens do not. `None` (a row of 0.1, or an
    /// anonymous session): `absolute_expires_at` alone.
    pub tokens_expire_at: Option<OffsetDateTime>,
    /// When the newest token was issued (rotation compare-and-set).
    pub rotated_at: OffsetDateTime,
    /// Client IP when the session was created.
    pub ip: Option<IpAddr>,
    /// Client User-Agent when the session was created.
    pub user_agent: Option<String>,
    /// Remember-me session.
    pub persistent: bool,
    /// Set when the session was revoked; a revoked session is dead.
    pub revoked_at: Option<OffsetDateTime>,
    /// Why it was revoked (`"user"`, `"token_reuse"`, ...).
    pub revoke_reason: Option<String>,
    /// Who revoked it: a user id, or `"system"` for automatic revocations.
    pub revoked_by: Option<String>,
    /// The name the user gave this device in "Your devices" ("Work
    /// laptop"), if any.
    pub name: Option<String>,
    /// How many times the row changed since it was created (0 for a new
    /// row): every store counts one more at each change (on Postgres and
    /// SQLite, plain SQL included), so a copy with the row's version is the
    /// row. Caches compare it with what the change feed reports.
    pub version: u64,
    /// The IP the session was last used from (already anonymised when
    /// that is configured): written with the touch of
    /// [`last_seen_at`](Self::last_seen_at), never by a write of its own
    /// ([`Touch::ip`]). A new session starts with its sign-in
    /// [`ip`](Self::ip). `None`: unknown (a row of 0.1 before its next
    /// touch, or a server without `ConnectInfo`).
    pub last_ip: Option<IpAddr>,
    /// The place label ("Lisbon, Portugal") the app's
    /// [locator](crate::SessionLayer::with_locator) gave for
    /// [`last_ip`](Self::last_ip); `None` until it answered, and again
    /// when the IP changes.
    pub location: Option<String>,
    /// How the user proved who they are at the latest sign-in or
    /// re-authentication ([`authenticated_at`](Self::authenticated_at)):
    /// `"password"`, `"passkey"`, `"sso"`, … as the app said in
    /// [`SignIn`](crate::SignIn); `None` when it did not say.
    pub sign_in_method: Option<String>,
    /// Whether that proof included a second factor.
    pub second_factor: bool,
    /// An API client's session (a mobile app, a script), signed in with
    /// [`Session::login_api_client`](crate::Session::login_api_client) and
    /// carried by an `Authorization: Bearer` header rather than a cookie.
    pub api_client: bool,
}

impl LoadedSession {
    /// A loaded session (for stores outside this crate).
    pub fn new(record: SessionRecord, token: TokenState, has_pending: bool) -> Self {
        Self {
            record: Arc::new(record),
            token,
            has_pending,
        }
    }
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl SessionRecord {
    /// Whether the session row is alive at `now`: not revoked, before its
    /// absolute end, and either within its idle timeout or remembered
    /// (a remembered device stays signed in while its session token idles).
    /// The SQL stores write the same rule as `live_at!`.
    ///
    /// When it is not live, it ended at [`ended_at`](Self::ended_at).
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none()
            && self.absolute_expires_at > now
            && (self.persistent || self.expires_at > now)
    }

    /// When the session ends (or ended): when it was revoked, or else when
    /// it expires (its absolute end for a remembered device, or whichever
    /// of its idle and absolute ends comes first). The SQL stores write the
    /// same rule as `ended_at!`.
    pub fn ended_at(&self) -> OffsetDateTime {
        match self.revoked_at {
            Some(at) => at,
            None if self.persistent => self.absolute_expires_at,
            None => self.expires_at.min(self.absolute_expires_at),
        }
    }

    /// Whether the session takes writes (data, activity): it is not
    /// revoked, and its hard end is after its newest token's issue
    /// (`rotated_at`). A sign-in that moved the session to a new id ends
    /// the old id so, its hard end at the move: a write that read the
    /// session before the move and lands after it is refused ("gone"),
    /// never acknowledged on a row no cookie names any more. No clock is
    /// read: the row's own instants decide. The SQL stores write the same
    /// rule as `takes_writes!`.
    pub fn takes_writes(&self) -> bool {
        self.revoked_at.is_none() && self.absolute_expires_at > self.rotated_at
    }

    /// Whether a session token of this row may be used at `now`: the row is
    /// not revoked and neither timeout has passed.
    pub fn token_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none()
            && self.expires_at > now
            && self.absolute_expires_at > now
            && self.tokens_expire_at.is_none_or(|end| end > now)
    }

    /// The end of this row's tokens: the earliest of the absolute end and
    /// the tokens' own end.
    pub(crate) fn tokens_end(&self) -> OffsetDateTime {
        self.tokens_expire_at.map_or(self.absolute_expires_at, |t| {
            t.min(self.absolute_expires_at)
        })
    }

    /// Whether garbage collection may delete the row: expired at `now` (and
    /// not revoked), or revoked before `revoked_before` (the audit
    /// retention). The SQL stores write the same rule as `collectable!`.
    pub fn is_collectable(&self, now: OffsetDateTime, revoked_before: OffsetDateTime) -> bool {
        match self.revoked_at {
            Some(at) => at < revoked_before,
            None => self.absolute_expires_at <= now || (!self.persistent && self.expires_at <= now),
        }
    }

    /// A copy without the data (an empty object), as the lists answer:
    /// the data is not copied at all.
    pub(crate) fn without_data(&self) -> SessionRecord {
        SessionRecord {
            id: self.id,
            user_id: self.user_id.clone(),
            data: Map::new(),
            created_at: self.created_at,
            authenticated_at: self.authenticated_at,
            last_seen_at: self.last_seen_at,
            expires_at: self.expires_at,
            absolute_expires_at: self.absolute_expires_at,
            tokens_expire_at: self.tokens_expire_at,
            rotated_at: self.rotated_at,
            ip: self.ip,
            user_agent: self.user_agent.clone(),
            persistent: self.persistent,
            revoked_at: self.revoked_at,
            revoke_reason: self.revoke_reason.clone(),
            revoked_by: self.revoked_by.clone(),
            name: self.name.clone(),
            version: self.version,
            last_ip: self.last_ip,
            location: self.location.clone(),
            sign_in_method: self.sign_in_method.clone(),
            second_factor: self.second_factor,
            api_client: self.api_client,
        }
    }

    /// A new row. `expires_at` and `absolute_expires_at` must be set by the caller.
    pub fn new(id: Uuid, now: OffsetDateTime) -> Self {
        Self {
            id,
            user_id: None,
            data: Map::new(),
            created_at: now,
            authenticated_at: None,
            last_seen_at: now,
            expires_at: now,
            absolute_expires_at: now,
            tokens_expire_at: None,
            rotated_at: now,
            ip: None,
            user_agent: None,
            persistent: false,
            revoked_at: None,
            revoke_reason: None,
            revoked_by: None,
            name: None,
            version: 0,
            last_ip: None,
            location: None,
            sign_in_method: None,
            second_factor: false,
            api_client: false,
        }
    }
}

/// What a presented token is to its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenState {
    /// The session's current token.
    Current,
    /// Issued by a rotation and sent to the client, not yet presented.
    Pending,
    /// Replaced by a newer token at the given time (rotation): accepted for
    /// the grace window, a theft signal after it.
    Superseded {
        /// When it was replaced.
        at: OffsetDateTime,
    },
    /// Replaced by a sign-in, re-authentication or explicit rotation at the
    /// given time: dead at once, with no grace.
    Retired {
        /// When it was retired.
        at: OffsetDateTime,
    },
}

/// How many replaced (superseded or retired) tokens a session keeps.
///
/// Whenever a store supersedes or retires tokens (a promotion, a sign-in, a
/// remember-me restore), it deletes, in the same round-trip, the session's
/// replaced tokens but the newest `REPLACED_TOKENS_KEPT` (ordered by when they
/// were replaced, then by when they were issued). With the current token and
/// at most two pending ones, a session holds at most
/// `3 + REPLACED_TOKENS_KEPT` token rows in steady state, however long it
/// lives (concurrent remember-me restores add current tokens until the next
/// rotation); the rest go with the session.
///
/// This bounds reuse detection: the last four replaced tokens are recognised
/// (accepted within the grace window, a theft signal after it; or, retired,
/// anonymous without touching the new cookie). An older token is simply
/// unknown: the request is anonymous, and nothing is revoked.
pub const REPLACED_TOKENS_KEPT: usize = 4;

/// A session found by token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadedSession {
    /// The row, after the touch if one happened. Shared: a loaded session
    /// passes through every wrapper and into the request's handle, where an
    /// `Arc` moves as a pointer (the row inline is half a kilobyte), and a
    /// cache hands out its copy without copying its strings and data (the
    /// request copies it only if it changes it, `Arc::make_mut`).
    pub record: Arc<SessionRecord>,
    /// What the presented token is.
    pub token: TokenState,
    /// Whether the session has a pending token (a rotation in progress).
    pub has_pending: bool,
}

pub use super::touch::Touch;

pub(crate) use super::data::data_size;
pub use super::data::{DataPatch, UpdateOutcome};
