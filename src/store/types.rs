//! The records a store reads and writes. Plain data: no database, no HTTP.

use serde_json::{Map, Value};
use std::fmt;
use std::net::IpAddr;
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
            record,
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
    pub(crate) fn is_collectable(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime,
    ) -> bool {
        match self.revoked_at {
            Some(at) => at < revoked_before,
            None => self.absolute_expires_at <= now || (!self.persistent && self.expires_at <= now),
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
    /// The row, after the touch if one happened.
    pub record: SessionRecord,
    /// What the presented token is.
    pub token: TokenState,
    /// Whether the session has a pending token (a rotation in progress).
    pub has_pending: bool,
}

/// How [`SessionStore::load`](super::SessionStore::load) refreshes `last_seen_at`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Touch {
    /// The request's time.
    pub now: OffsetDateTime,
    /// Touch only when `last_seen_at <= stale_before` (the touch interval).
    pub stale_before: OffsetDateTime,
    /// The new idle deadline, `now + idle timeout`; capped by the store at
    /// `absolute_expires_at` and `tokens_expire_at`.
    pub idle_expires_at: OffsetDateTime,
    /// The request's client IP (anonymised when configured), which the
    /// touch records as [`last_ip`](SessionRecord::last_ip). `None` leaves
    /// it as it is.
    pub ip: Option<IpAddr>,
    /// A session last used from another IP than [`ip`](Self::ip) is also
    /// touched when `last_seen_at <= ip_stale_before` (a shorter interval
    /// than [`stale_before`](Self::stale_before)'s): the new IP rides with
    /// that touch, and a client whose IP flaps between two addresses costs
    /// at most one write per this interval, never one per request.
    pub ip_stale_before: OffsetDateTime,
    /// The channel the token came on: `Some(true)` an API client's
    /// (`Authorization: Bearer`), `Some(false)` a browser's (a cookie). A
    /// session of the other kind ([`api_client`](SessionRecord::api_client))
    /// is not touched: the request will be refused, and a refused request
    /// must leave no trace on the session. `None` touches either.
    pub api_client: Option<bool>,
}

impl Touch {
    /// A touch at `now` that is always due, pushing the idle deadline to
    /// `idle_expires_at`.
    pub fn new(now: OffsetDateTime, idle_expires_at: OffsetDateTime) -> Self {
        Self {
            now,
            stale_before: now,
            idle_expires_at,
            ip: None,
            ip_stale_before: now,
            api_client: None,
        }
    }

    /// The same touch, due only when the row was last seen at or before
    /// `stale_before` (the touch interval).
    pub fn with_stale_before(mut self, stale_before: OffsetDateTime) -> Self {
        self.stale_before = stale_before;
        self
    }

    /// The same touch, recording `ip` as where the session was last used
    /// from; an IP change makes it due after `ip_stale_before`.
    pub fn with_ip(mut self, ip: Option<IpAddr>, ip_stale_before: OffsetDateTime) -> Self {
        self.ip = ip;
        self.ip_stale_before = ip_stale_before;
        self
    }

    /// The same touch, due only for a session of the channel the token
    /// came on: an API client's (`api_client`) or a browser's.
    pub fn with_api_client(mut self, api_client: bool) -> Self {
        self.api_client = Some(api_client);
        self
    }

    /// Whether `record` was last used from another IP than this touch's.
    pub(crate) fn ip_changed(&self, record: &SessionRecord) -> bool {
        self.ip.is_some() && record.last_ip != self.ip
    }

    /// Whether a load by a `token` of `record` refreshes its activity: the
    /// token is current, the row may be used on the token's channel, and it
    /// was last seen before the touch interval (for stores that decide in
    /// Rust).
    pub(crate) fn is_due(&self, record: &SessionRecord, token: TokenState) -> bool {
        token == TokenState::Current
            && record.token_active(self.now)
            && self.api_client.is_none_or(|api| api == record.api_client)
            && (record.last_seen_at <= self.stale_before
                || (self.ip_changed(record) && record.last_seen_at <= self.ip_stale_before))
    }

    /// Records the activity in `record`: `last_seen_at` becomes now, and the
    /// idle deadline moves, capped at the absolute end; a new IP becomes
    /// `last_ip`, and its location is to be found again.
    pub(crate) fn apply(&self, record: &mut SessionRecord) {
        record.last_seen_at = self.now;
        record.expires_at = self.idle_expires_at.min(record.tokens_end());
        if self.ip_changed(record) {
            record.last_ip = self.ip;
            record.location = None;
        }
    }
}

pub(crate) use super::data::data_size;
pub use super::data::{DataPatch, UpdateOutcome};

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn a_new_ip_makes_the_touch_due_at_most_once_per_its_interval() {
        let now = OffsetDateTime::now_utc();
        let (home, cafe) = ("198.51.100.1".parse().ok(), "203.0.113.9".parse().ok());
        let mut r = SessionRecord::new(Uuid::nil(), now - Duration::seconds(3));
        (r.expires_at, r.absolute_expires_at) =
            (now + Duration::hours(1), now + Duration::hours(1));
        r.last_ip = home;
        let touch = |ip| {
            Touch::new(now, now + Duration::hours(1))
                .with_stale_before(now - Duration::seconds(60))
                .with_ip(ip, now - Duration::seconds(6))
        };
        let current = TokenState::Current;
        assert!(
            !touch(home).is_due(&r, current),
            "same IP, within the interval"
        );
        assert!(
            !touch(None).is_due(&r, current),
            "unknown IP changes nothing"
        );
        assert!(!touch(cafe).is_due(&r, current), "seen 3 s ago: not yet");
        r.last_seen_at = now - Duration::seconds(7);
        r.location = Some("Lisbon".into());
        assert!(touch(cafe).is_due(&r, current));
        touch(cafe).apply(&mut r);
        assert_eq!((r.last_ip, r.location.as_deref()), (cafe, None));
        // Flapping back at once: the next write waits for the interval.
        assert!(!touch(home).is_due(&r, current));
        assert!(!touch(home).is_due(&r, TokenState::Pending));
    }

    #[test]
    fn a_token_on_the_other_channel_is_not_due() {
        let now = OffsetDateTime::now_utc();
        let mut r = SessionRecord::new(Uuid::nil(), now - Duration::minutes(5));
        (r.expires_at, r.absolute_expires_at) =
            (now + Duration::hours(1), now + Duration::hours(1));
        let touch = Touch::new(now, now + Duration::hours(1));
        let current = TokenState::Current;
        assert!(touch.is_due(&r, current), "no channel: either");
        assert!(touch.with_api_client(false).is_due(&r, current));
        assert!(
            !touch.with_api_client(true).is_due(&r, current),
            "a browser's as bearer"
        );
        r.api_client = true;
        assert!(touch.with_api_client(true).is_due(&r, current));
        assert!(
            !touch.with_api_client(false).is_due(&r, current),
            "an API client's as cookie"
        );
    }
}
