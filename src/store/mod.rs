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
//!
//! # Writing a store
//!
//! Implement [`SessionStore`]; its calls take and return the records of this
//! module and fail with [`store::Error`](Error), which knows nothing of HTTP.
//! [`migrate`](migrate()) runs a store's [`SessionStore::migrate`]. The
//! conformance scenarios in the crate's tests run against every store.
//!
//! # Module map
//!
//! | file | holds | imports |
//! |---|---|---|
//! | `mod.rs` | the trait, [`IntoSessionStore`], [`connect`] | its children |
//! | `types.rs`, `revocation.rs` | the records, [`TokenHash`], [`Revocation`] | nothing of the crate |
//! | `error.rs` | [`Error`] | nothing of the crate |
//! | `feed.rs` | the change feed ([`Change`], [`ChangeFeed`]) | nothing of the crate |
//! | `migrate.rs` | migrators, [`migrate`](migrate()), [`MigrationReport`] | the trait |
//! | `sql.rs` | what the SQL stores share: the live and collectable rules, row reading | records |
//! | `postgres/`, `sqlite/`, `memory.rs` | the stores (statements apart, in `statements.rs`) | the above |
//! | `delegate.rs` | the one list of calls the wrappers are generated from | the trait, records |
//! | `timeout.rs`, `cache.rs` | the wrappers: a deadline, the [`CachedStore`] | `delegate.rs`, `feed.rs` |
//! | `stack.rs` | the wrappers assembled in one order, for the layer | the wrappers |
//!
//! Nothing here imports from outside `store/`, nor anything of HTTP.

use async_trait::async_trait;
use std::fmt::Debug;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

mod cache;
mod delegate;
mod error;
mod feed;
mod memory;
mod migrate;
#[cfg(feature = "postgres")]
mod postgres;
mod revocation;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod stack;
mod timeout;
mod types;

pub use cache::{CacheConfig, CachedStore};
pub use error::Error;
pub use feed::{Change, ChangeFeed};
pub use memory::MemoryStore;
pub use migrate::{AppliedMigration, Migrate, MigrationReport, migrate};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PgStore;
pub use revocation::{Revocation, RevokeReason, RevokedBy};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;
pub(crate) use stack::Stack;
pub use types::{
    DataPatch, LoadedSession, Reissue, ReissueClient, RememberCredential, RememberedSession,
    SessionRecord, StoreStats, TokenHash, TokenState, Touch,
};

/// A session store. It knows nothing of HTTP: the layer turns requests into
/// these calls. Every method is one round-trip (one statement or one
/// transaction) to the database, so that the layer's budget can be counted.
///
/// Every write is update-only: none of them brings back a row that was
/// deleted or revoked in the meantime.
#[async_trait]
pub trait SessionStore: Debug + Send + Sync + 'static {
    /// Creates or upgrades the store's tables. Idempotent. Users call
    /// [`migrate`](migrate()), which runs this for a store.
    async fn migrate(&self) -> Result<MigrationReport, Error>;

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
    /// ([`CachedStore`]). `None` (the default) for stores used by one process
    /// only. Called from within a Tokio runtime.
    fn subscribe(&self) -> Option<ChangeFeed> {
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
/// [`migrate`](migrate()).
///
/// ```no_run
/// # async fn f() -> Result<(), axum_user_sessions::Error> {
/// let store = axum_user_sessions::store::connect("sqlite://sessions.db").await?;
/// axum_user_sessions::migrate(&store).await?;
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
