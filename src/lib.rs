//! Server-side sessions for [axum], kept in Postgres (or SQLite, or memory),
//! that users can see and revoke, with token rotation that never logs anyone
//! out by accident.
//!
//! - One row per signed-in browser or device, with a public id, so that a
//!   user can list their sessions and sign out a lost phone.
//! - The cookie carries a 256-bit random token; the store keeps only its
//!   SHA-256. Nothing logs a token.
//! - Idle and absolute expiry, enforced server-side. Lazy: a request that
//!   never extracts the session costs nothing, one that reads it costs one
//!   database round-trip.
//! - Key-level writes: concurrent requests that change different keys both
//!   keep their change, and [`Session::update`] changes one key atomically
//!   (no lost increment, across app instances); a logout is never undone by
//!   a request in flight.
//! - Periodic token rotation in two phases: no race with concurrent requests
//!   or lost responses logs a user out, and a replayed old token revokes the
//!   session.
//!
//! # Quick start
//!
//! ```no_run
//! use axum::{Router, routing::{get, post}};
//! use axum_user_sessions::{Session, SessionLayer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = sqlx::postgres::PgPoolOptions::new()
//!     .test_before_acquire(false) // one round-trip per request, not two
//!     .connect("postgres://localhost/app")
//!     .await?;
//! axum_user_sessions::migrate(&pool).await?; // embedded, idempotent
//!
//! let app: Router = Router::new()
//!     .route("/", get(home))
//!     .route("/login", post(login))
//!     .layer(SessionLayer::new(pool));
//! # let _ = app; Ok(()) }
//!
//! async fn home(session: Session) -> String {
//!     match session.user_id() {
//!         Some(user) => format!("signed in as {user}"),
//!         None => "anonymous".into(),
//!     }
//! }
//!
//! async fn login(session: Session) -> Result<&'static str, axum_user_sessions::Error> {
//!     // ... check the password first ...
//!     session.login(42).await?; // new token: no session fixation
//!     Ok("welcome")
//! }
//! ```
//!
//! Behind a load balancer with several app instances, use Postgres: every
//! instance sees a logout or revocation at once.
//!
//! # Stores
//!
//! See the [`store`] module: [`PgStore`], [`SqliteStore`] and [`MemoryStore`]
//! implement [`SessionStore`], and every feature works on each of them.
//!
//! # Feature flags
//!
//! - `postgres` (default): the Postgres store; `SessionLayer::new(PgPool)`.
//! - `sqlite` (default): the SQLite store; `SessionLayer::new(SqlitePool)`.
//! - `routes` (default): the "Your devices" routes ([`routes()`]), JSON and
//!   HTML, with device names parsed from User-Agents.
//! - `cache` (default): the in-process cache in front of a store
//!   ([`CachedStore`], [`SessionLayer::with_cache`]), on moka.
//! - `cli`: the `axum-user-sessions` command-line tool (migrate, list,
//!   revoke, gc, stats).
//! - `axum-login`: [axum-login](https://docs.rs/axum-login) on top of the
//!   layer ([`AxumLoginLayer`], see the [`axum_login`](mod@axum_login) module).
//!
//! [axum]: https://docs.rs/axum

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
#[cfg(feature = "axum-login")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum-login")))]
pub mod axum_login;
mod bearer;
mod binding;
mod client;
mod config;
mod cookie;
#[cfg(feature = "routes")]
mod device;
mod error;
mod events;
mod extract;
#[doc(hidden)]
pub mod fuzzing;
mod key_queue;
mod layer;
mod locate;
mod rejection;
#[cfg(feature = "routes")]
#[cfg_attr(docsrs, doc(cfg(feature = "routes")))]
pub mod routes;
mod service;
mod session;
pub mod store;
mod text;
mod token;

#[cfg(feature = "axum-login")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum-login")))]
pub use self::axum_login::{AxumLoginLayer, AxumLoginService};
pub use admin::{GcOptions, GcReport, GcTask, SessionAdmin};
#[allow(deprecated)]
pub use admin::{gc, spawn_gc};
pub use binding::{BindingCheck, BindingMode, ClientBinding, DefaultBinding, MismatchAction};
pub use client::{ClientInfo, ProxyHeader};
pub use cookie::SameSite;
#[cfg(feature = "routes")]
#[cfg_attr(docsrs, doc(cfg(feature = "routes")))]
pub use device::{DeviceView, EndedDeviceView, device_name, ended_reason_text};
pub use error::Error;
pub use events::{SessionEvent, SessionEventKind, SessionEvents, anonymize_ip};
pub use ipnet::IpNet;
pub use layer::SessionLayer;
pub use locate::Locator;
pub use rejection::{MissingSessionLayer, SessionRejection};
#[cfg(feature = "routes")]
#[cfg_attr(docsrs, doc(cfg(feature = "routes")))]
pub use routes::{SessionRoutes, routes};
pub use service::SessionService;
pub use session::{Reauth, Session, SessionKey};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::PgStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::SqliteStore;
#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use store::{CacheConfig, CachedStore};
pub use store::{
    IntoSessionStore, MemoryStore, Migrate, MigrationReport, RevokeReason, RevokedBy, SessionStore,
    SignIn, migrate,
};

/// A message from a store's change feed.
#[deprecated(since = "0.2.0", note = "moved to `store::Change`")]
pub type Change = store::Change;

/// A store's feed of changes made by other processes, for caches.
#[deprecated(since = "0.2.0", note = "moved to `store::ChangeFeed`")]
pub type ChangeFeed = store::ChangeFeed;

/// SHA-256 of a session token, as stores keep it.
#[deprecated(since = "0.2.0", note = "moved to `store::TokenHash`")]
pub type TokenHash = store::TokenHash;
