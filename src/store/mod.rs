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
//! Implement [`SessionStore`], the small boundary (eight storage operations,
//! and four with default bodies), and wrap it in [`Protocol`], which
//! computes the session protocol (token states, rotation, remember-me
//! steps, the token history, touches) once, in Rust, and implements
//! [`SessionProtocol`] over it: every built-in store is made so. Its calls
//! take and return the records of this module and fail with [`store::Error`](Error), which names no driver type
//! (report your driver's errors with [`Error::unavailable`],
//! [`Error::backend`], …, which keep them as the source). A feature your
//! store does not offer answers [`Error::Unsupported`] (the default bodies
//! do), never a silent "not found". Optional features come as extension
//! traits a store offers through [`SessionStore::extensions`]:
//! [`CacheSupport`], the change feed a cache needs over a store other
//! processes write to, and [`DeviceRecords`] for trusted devices and
//! failed sign-ins (without it, `Session::trust_device` answers
//! [`Error::Unsupported`] and nothing is recorded); the same [`Extensions`]
//! carry the facts that are values (the name of an in-process database,
//! whether the store finds a session by a token alone). The traits a full
//! store implements have 16 methods in all: 12 in [`SessionStore`] (8
//! required), 1 in [`CacheSupport`], 3 in [`DeviceRecords`]. [`migrate`](migrate()) runs a store's
//! [`SessionProtocol::migrate`]. Check it with the conformance kit (feature
//! `conformance`, `store::conformance`), the scenarios every built-in store
//! passes, and count its round-trips with [`CountingStore`].
//!
//! # Module map
//!
//! Each file imports only the files listed before it in this table (and
//! never anything outside `store/`, nor anything of HTTP), so the store has
//! no import circle.
//!
//! | file | holds |
//! |---|---|
//! | `error.rs` | [`Error`]: what happened, the driver's error boxed as its source |
//! | `types.rs`, `touch.rs`, `revocation.rs`, `report.rs`, `feed.rs` | plain data: the records, [`TokenHash`], [`Touch`], [`Revocation`] and [`RevokeScope`], [`StoreStats`], [`MigrationReport`], the change feed ([`Change`], [`ChangeFeed`], [`FeedOptions`], and [`CacheSupport`], the extension trait that offers one) |
//! | `devices/` | [`DeviceRecords`], the extension trait of a user's trusted devices and failed sign-ins: one [`UserDevices`](devices::UserDevices) document per user, its rules as pure methods (`records.rs`), written with a compare-and-set (`devices::update`) |
//! | `placement.rs` | [`placement`]: a user's placement tag in the session ids minted at sign-in, for stores that shard |
//! | `credentials.rs` | [`Credentials`]: a session's tokens and remember-me credential, with the protocol's rules as pure methods |
//! | `storage/` | the [`SessionStore`] trait, [`StoredSession`] and the arguments of its calls, each with its rule; [`Extensions`], what a store offers beyond the required calls (its extension traits, and the facts that are values); `Arc<S>` of a store is a store (`shared.rs`) |
//! | `session_store.rs` | the [`SessionProtocol`] trait, [`IntoSessionStore`] |
//! | `protocol/` | [`Protocol`]: [`SessionProtocol`] over any [`SessionStore`], its compare-and-set loop |
//! | `migrate.rs` | the embedded migrators, [`migrate`](migrate()) |
//! | `sqlx_error.rs` | sqlx's errors as [`Error`]s: the one place that reads SQLSTATE codes |
//! | `sql/` | what the SQL stores share: the live, collectable, revocation and stats SQL and the operations written alike (`mod.rs`), a session's credentials as token rows and remember-me columns, the shapes 0.1 shares (`credentials.rs`), reading rows (`rows.rs`) |
//! | `delegate.rs` | the one list of calls from which the wrappers (and each store, around its [`Protocol`]) implement the trait |
//! | `redis/` | [`RedisStore`] (feature `redis`): one node or a Cluster, each change one script on one hash slot (its module docs tell the design) |
//! | `memory/`, `postgres/`, `sqlite/` | the stores: each a [`SessionStore`] ([`MemoryStorage`], [`PgStorage`], [`SqliteStorage`]; the SQL ones' operations in `storage.rs`, their SQL in `statements.rs`; Postgres' rows bound and read in `rows.rs`, its batching in `batch/`) under the [`Protocol`] |
//! | `counting.rs` | the [`CountingStore`], a [`SessionStore`] that counts the calls reaching the one it wraps, beneath the [`Protocol`] |
//! | `timeout.rs`, `cache/` | the wrappers of the protocol: a deadline, the [`CachedStore`] (its copies follow this process's writes, `cache/writes.rs`) |
//! | `stack.rs` | the wrappers assembled in one order, for the layer |
//! | `conformance/` | the conformance kit (feature `conformance`): scenarios on the trait alone |
//! | `mod.rs` | these docs, re-exports, [`connect`] |

use std::sync::Arc;

#[cfg(feature = "cache")]
mod cache;
#[cfg(feature = "conformance")]
pub mod conformance;
mod counting;
mod credentials;
mod data;
mod delegate;
pub mod devices;
mod error;
mod feed;
mod memory;
mod migrate;
pub mod placement;
#[cfg(feature = "postgres")]
mod postgres;
mod protocol;
#[cfg(feature = "redis")]
mod redis;
mod remember;
mod report;
mod restore;
mod revocation;
mod session_store;
mod sign_in;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod sqlx_error;
mod stack;
mod storage;
pub(crate) mod timeout;
mod touch;
mod types;

#[cfg(feature = "cache")]
pub(crate) use cache::siblings;
#[cfg(feature = "cache")]
pub use cache::{CacheConfig, CachedStore};
pub use counting::CountingStore;
pub use credentials::{Credentials, RememberState, TokenEntry};
pub(crate) use data::json_len;
pub(crate) use delegate::Stale;
pub use devices::DeviceRecords;
pub use error::{BoxError, Error};
pub use feed::{CacheSupport, Change, ChangeFeed, FeedOptions};
pub use memory::{MemoryStorage, MemoryStore};
pub use migrate::{Migrate, migrate};
#[cfg(feature = "postgres")]
pub use postgres::{Batching, PgStorage, PgStore};
pub use protocol::Protocol;
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStorage, RedisStore};
pub use remember::{Reissue, ReissueClient, RememberCredential, RememberedSession};
pub use report::{AppliedMigration, MigrationReport, StoreStats};
pub use restore::{Restore, ValidatorStep};
pub use revocation::{Revocation, RevokeReason, RevokeScope, RevokedBy};
pub use session_store::{IntoSessionStore, SessionProtocol};
pub use sign_in::SignIn;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteStorage, SqliteStore};
pub(crate) use stack::Stack;
pub use storage::{
    Activity, Deletion, DeviceWrite, Extensions, ListQuery, Lookup, SessionStore, StoredSession,
    Write, WriteOutcome,
};
pub use types::REPLACED_TOKENS_KEPT;
pub use types::UpdateOutcome;
pub(crate) use types::data_size;
pub use types::{DataPatch, LoadedSession, SessionRecord, TokenHash, TokenState, Touch};

/// Opens the store a database URL names: `postgres://…` / `postgresql://…`
/// (a pool configured as [`PgStore`] recommends), `sqlite:…` (created if
/// missing, see [`SqliteStore::connect`]) or, with the feature `redis`,
/// `redis://host:port` (one node) and `redis://a:port,redis://b:port,…` (a
/// Redis Cluster). Does not migrate: call [`migrate`](migrate()).
///
/// ```no_run
/// # async fn f() -> Result<(), axum_user_sessions::Error> {
/// let store = axum_user_sessions::store::connect("sqlite://sessions.db").await?;
/// axum_user_sessions::migrate(&store).await?;
/// let layer = axum_user_sessions::SessionLayer::new(store);
/// # Ok(()) }
/// ```
pub async fn connect(url: &str) -> Result<Arc<dyn SessionProtocol>, Error> {
    Ok(Arc::new(Protocol::new(connect_storage(url).await?)))
}

/// The storage [`connect`] puts under the [`Protocol`]: to wrap it first,
/// in a [`CountingStore`] say.
///
/// ```no_run
/// # async fn f() -> Result<(), axum_user_sessions::Error> {
/// use axum_user_sessions::store::{self, CountingStore, Protocol};
/// let counted = CountingStore::new(store::connect_storage("sqlite://sessions.db").await?);
/// let layer = axum_user_sessions::SessionLayer::new(Protocol::new(counted.clone()));
/// # Ok(()) }
/// ```
#[cfg_attr(
    not(any(feature = "postgres", feature = "sqlite", feature = "redis")),
    allow(unused_variables)
)]
pub async fn connect_storage(url: &str) -> Result<Arc<dyn SessionStore>, Error> {
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
        return Ok(Arc::new(PgStore::new(pool).storage().clone()));
    }
    #[cfg(feature = "sqlite")]
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::connect(url).await?.storage().clone()));
    }
    #[cfg(feature = "redis")]
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        // Several nodes, comma-separated: a Redis Cluster.
        let store = match url.contains(',') {
            true => RedisStore::cluster(url.split(',').map(str::trim)).await?,
            false => RedisStore::connect(url).await?,
        };
        return Ok(Arc::new(store.storage().clone()));
    }
    Err(Error::UnsupportedUrl)
}

/// Without the `cache` feature there are no caches to tell of a change.
#[cfg(not(feature = "cache"))]
pub(crate) mod siblings {
    use super::{SessionProtocol, Stale};

    /// Nothing to do: no cache of this process can hold `stale`.
    pub(crate) fn changed(_store: &dyn SessionProtocol, _stale: Stale<'_>) {}

    /// Nothing to do: no cache of this process can hold `stale`.
    #[cfg(feature = "sqlite")]
    pub(crate) fn changed_in(_database: &str, _stale: Stale<'_>) {}
}
