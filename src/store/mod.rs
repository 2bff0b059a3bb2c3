//! The store boundary: what the layer asks of a database, and nothing of HTTP.
//!
//! Three stores ship with the crate, and every feature works on each of them:
//!
//! | store | for | |
//! |---|---|---|
//! | [`PgStore`] (`PgPool`) | production, many app instances on one database | feature `postgres` |
//! | [`SqliteStore`] (`SqlitePool`) | single-machine apps, the demo | feature `sqlite` |
//! | [`MemoryStore`] | tests and prototypes; one process only, lost on restart | always |
//!
//! [`SessionLayer::new`](crate::SessionLayer::new) accepts any of them, or the
//! pools directly, through [`IntoSessionStore`].
//!
//! A store only ever sees SHA-256 hashes of tokens ([`TokenHash`]), never the
//! cookie's secret. Times are passed in by the caller, so that every store
//! agrees on "now" and tests can reason about it.

use crate::{Error, TokenHash};
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::fmt::Debug;
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod revocation;
#[cfg(feature = "sqlite")]
mod sqlite;
mod timeout;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PgStore;
pub use revocation::{Revocation, RevokeReason, RevokedBy};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;

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
    /// When the user last proved who they are (password), for freshness checks.
    pub authenticated_at: Option<OffsetDateTime>,
    /// Last request seen, to the touch interval.
    pub last_seen_at: OffsetDateTime,
    /// `min(last_seen_at + idle timeout, absolute_expires_at)`.
    pub expires_at: OffsetDateTime,
    /// The hard end of the session.
    pub absolute_expires_at: OffsetDateTime,
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

impl RememberedSession {
    /// A session found by remember-me selector (for stores outside this crate).
    pub fn new(
        record: SessionRecord,
        validator: TokenHash,
        previous: Option<TokenHash>,
        rotated_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            record,
            validator,
            previous,
            rotated_at,
            expires_at,
        }
    }
}

impl StoreStats {
    /// Counts (for stores outside this crate).
    pub fn new(active_sessions: u64, active_users: u64, collectable: u64) -> Self {
        Self {
            active_sessions,
            active_users,
            collectable,
        }
    }
}

impl Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

impl SessionRecord {
    /// Whether the session row is alive at `now`: not revoked, before its
    /// absolute end, and either within its idle timeout or remembered
    /// (a remembered device stays signed in while its session token idles).
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none()
            && self.absolute_expires_at > now
            && (self.persistent || self.expires_at > now)
    }

    /// Whether a session token of this row may be used at `now`: the row is
    /// not revoked and neither timeout has passed.
    pub fn token_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now && self.absolute_expires_at > now
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
            rotated_at: now,
            ip: None,
            user_agent: None,
            persistent: false,
            revoked_at: None,
            revoke_reason: None,
            revoked_by: None,
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

impl TokenState {
    #[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
    pub(crate) fn from_code(
        code: i64,
        superseded_at: Option<OffsetDateTime>,
    ) -> Result<Self, Error> {
        match (code, superseded_at) {
            (0, _) => Ok(Self::Current),
            (1, _) => Ok(Self::Pending),
            (2, Some(at)) => Ok(Self::Superseded { at }),
            (3, Some(at)) => Ok(Self::Retired { at }),
            _ => Err(Error::Corrupt("unknown token state")),
        }
    }
}

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

/// How [`SessionStore::load`] refreshes `last_seen_at`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Touch {
    /// The request's time.
    pub now: OffsetDateTime,
    /// Touch only when `last_seen_at <= stale_before` (the touch interval).
    pub stale_before: OffsetDateTime,
    /// The new idle deadline, `now + idle timeout`; capped by the store at
    /// `absolute_expires_at`.
    pub idle_expires_at: OffsetDateTime,
}

impl Touch {
    /// A touch at `now` that is always due, pushing the idle deadline to
    /// `idle_expires_at`.
    pub fn new(now: OffsetDateTime, idle_expires_at: OffsetDateTime) -> Self {
        Self {
            now,
            stale_before: now,
            idle_expires_at,
        }
    }
}

/// Key-level change of a session's data.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct DataPatch {
    /// Keys to set, with their new values.
    pub set: Map<String, Value>,
    /// Keys to remove.
    pub remove: Vec<String>,
}

impl DataPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }

    /// Applies the patch to a data map (for stores that patch in Rust).
    pub fn apply(&self, data: &mut Map<String, Value>) {
        for key in &self.remove {
            data.remove(key);
        }
        for (k, v) in &self.set {
            data.insert(k.clone(), v.clone());
        }
    }
}

/// Counts for monitoring and the CLI's `stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct StoreStats {
    /// Live sessions (signed in or anonymous).
    pub active_sessions: u64,
    /// Distinct users with at least one live session.
    pub active_users: u64,
    /// Rows that garbage collection may delete now (expired, or revoked
    /// before the retention horizon given).
    pub collectable: u64,
}

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
        }
    }
}

/// A session store. It knows nothing of HTTP: the layer turns requests into
/// these calls. Every method is one round-trip (one statement or one
/// transaction) to the database, so that the layer's budget can be counted.
///
/// Every write is update-only: none of them brings back a row that was
/// deleted or revoked in the meantime.
#[async_trait]
pub trait SessionStore: Debug + Send + Sync + 'static {
    /// Creates or upgrades the store's tables. Idempotent.
    async fn migrate(&self) -> Result<(), Error>;

    /// Finds the session of a token hash, whatever its state, and, when the
    /// token is current and the session live and stale per `touch`, refreshes
    /// `last_seen_at` and `expires_at` in the same round-trip.
    async fn load(&self, token: &TokenHash, touch: &Touch) -> Result<Option<LoadedSession>, Error>;

    /// Inserts a new session with `token` as its current token.
    async fn create(&self, record: &SessionRecord, token: &TokenHash) -> Result<(), Error>;

    /// Applies a key-level data patch to a live session. `false` when the
    /// session is gone or revoked: nothing is written then.
    async fn patch_data(&self, id: Uuid, patch: &DataPatch) -> Result<bool, Error>;

    /// Retires every token of a live session (no grace), makes `token` its
    /// current token and records the sign-in. `false` when the session is
    /// gone.
    async fn reissue(&self, id: Uuid, token: &TokenHash, reissue: &Reissue) -> Result<bool, Error>;

    /// Deletes a session and its tokens (logout). `false` when it was not there.
    async fn delete(&self, id: Uuid) -> Result<bool, Error>;

    /// Starts a rotation: if `rotated_at` is still `expected_rotated_at`
    /// (compare-and-set), stores `pending` as a pending token and sets
    /// `rotated_at = now`. At most one older pending token is kept (the
    /// client that never got them cannot present them). `false` when another
    /// request won, or the session is gone.
    async fn begin_rotation(
        &self,
        id: Uuid,
        expected_rotated_at: OffsetDateTime,
        pending: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, Error>;

    /// Completes a rotation: the pending `token` becomes current, and the
    /// current token and pending tokens issued before it become superseded at
    /// `now` (newer pending tokens stay promotable). Idempotent: promoting a
    /// token that is already current changes nothing.
    async fn promote(&self, id: Uuid, token: &TokenHash, now: OffsetDateTime) -> Result<(), Error>;

    /// Sets (`Some`) or removes (`None`) a session's remember-me credential.
    /// With a credential the session becomes persistent and lives until the
    /// credential's end; without, its absolute end becomes at most
    /// `absolute_if_cleared`. `false` when the session is gone or revoked.
    async fn set_remember(
        &self,
        id: Uuid,
        credential: Option<&RememberCredential>,
        absolute_if_cleared: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, Error>;

    /// The session holding the remember-me credential `selector`, live or not.
    async fn find_remember(&self, selector: &[u8; 16]) -> Result<Option<RememberedSession>, Error>;

    /// Re-opens a remembered session with a new current session token and
    /// refreshes its activity as `touch` says.
    ///
    /// With `rotate = Some((presented, next))`, the validator is replaced by
    /// `next` only if it is still `presented` (compare-and-set), and every
    /// older session token is dropped; `false` when another request rotated
    /// it first. With `None` (a concurrent request inside the grace window),
    /// the token is added beside the others. `false` too when the session is
    /// gone or revoked.
    async fn restore(
        &self,
        id: Uuid,
        token: &TokenHash,
        rotate: Option<(&TokenHash, &TokenHash)>,
        touch: &Touch,
    ) -> Result<bool, Error>;

    /// One session by public id, live or not.
    async fn get(&self, id: Uuid) -> Result<Option<SessionRecord>, Error>;

    /// Marks one live session revoked (with its remember-me credential).
    /// `user_id`, when given, must own it. `false` when no such live session.
    async fn revoke(
        &self,
        id: Uuid,
        user_id: Option<&str>,
        how: &Revocation,
    ) -> Result<bool, Error>;

    /// Revokes every live session of a user, except `keep`, in one
    /// statement. Returns how many.
    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
        how: &Revocation,
    ) -> Result<u64, Error>;

    /// Revokes every live session of every user. Returns how many.
    async fn revoke_every_session(&self, how: &Revocation) -> Result<u64, Error>;

    /// Live sessions and users, and rows garbage collection may delete
    /// (expired at `now`, or revoked before `revoked_before`).
    async fn stats(
        &self,
        now: OffsetDateTime,
        revoked_before: OffsetDateTime,
    ) -> Result<StoreStats, Error>;

    /// Deletes at most `limit` rows that are expired at `now` or were revoked
    /// before `revoked_before`, with their tokens, without waiting on rows
    /// another collector holds. Returns how many it deleted.
    async fn gc_batch(
        &self,
        now: OffsetDateTime,
        revoked_before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, Error>;

    /// A user's live sessions, most recently active first.
    async fn list_user(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, Error>;

    /// A feed of changes made by other processes, for caches
    /// ([`CachedStore`](crate::CachedStore)). `None` (the default) for stores
    /// used by one process only. Called from within a Tokio runtime.
    fn subscribe(&self) -> Option<crate::cache::ChangeFeed> {
        None
    }

    /// How many round-trips this store has made to its database so far
    /// (statements or transactions; for the memory store, operations).
    fn round_trips(&self) -> u64;
}

/// Things [`SessionLayer::new`](crate::SessionLayer::new) accepts as a store:
/// `PgPool`, `SqlitePool`, the stores themselves, or an
/// `Arc<dyn SessionStore>`.
pub trait IntoSessionStore {
    /// Converts into a shared store.
    fn into_session_store(self) -> Arc<dyn SessionStore>;
}

impl<S: SessionStore> IntoSessionStore for S {
    fn into_session_store(self) -> Arc<dyn SessionStore> {
        Arc::new(self)
    }
}

impl IntoSessionStore for Arc<dyn SessionStore> {
    fn into_session_store(self) -> Arc<dyn SessionStore> {
        self
    }
}

#[cfg(feature = "postgres")]
impl IntoSessionStore for sqlx::PgPool {
    fn into_session_store(self) -> Arc<dyn SessionStore> {
        Arc::new(PgStore::new(self))
    }
}

#[cfg(feature = "sqlite")]
impl IntoSessionStore for sqlx::SqlitePool {
    fn into_session_store(self) -> Arc<dyn SessionStore> {
        Arc::new(SqliteStore::new(self))
    }
}

/// Opens the store a database URL names: `postgres://…` / `postgresql://…`
/// (a pool configured as [`PgStore`] recommends) or `sqlite:…` (created if
/// missing, see [`SqliteStore::connect`]). Does not migrate: call
/// [`SessionStore::migrate`].
///
/// ```no_run
/// # async fn f() -> Result<(), axum_user_sessions::Error> {
/// let store = axum_user_sessions::store::connect("sqlite://sessions.db").await?;
/// store.migrate().await?;
/// let layer = axum_user_sessions::SessionLayer::new(store);
/// # Ok(()) }
/// ```
#[cfg_attr(
    not(any(feature = "postgres", feature = "sqlite")),
    allow(unused_variables)
)]
pub async fn connect(url: &str) -> Result<Arc<dyn SessionStore>, Error> {
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .test_before_acquire(false)
            .connect_with(
                url.parse::<sqlx::postgres::PgConnectOptions>()?
                    // The server stops a runaway statement too.
                    .options([("statement_timeout", "10s")]),
            )
            .await?;
        return Ok(Arc::new(PgStore::new(pool)));
    }
    #[cfg(feature = "sqlite")]
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::connect(url).await?));
    }
    Err(Error::UnsupportedUrl)
}

pub(crate) use timeout::TimeoutStore;

/// A round-trip counter shared by clones of a store.
#[derive(Debug, Default, Clone)]
pub(crate) struct Counter(Arc<std::sync::atomic::AtomicU64>);

impl Counter {
    pub(crate) fn tick(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}
