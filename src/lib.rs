//! Server-side sessions for [axum], kept in Postgres (or SQLite, or memory),
//! that every user can see and revoke ("Your devices"), with token rotation
//! that never signs anyone out by accident.
//!
//! # Quick start
//!
//! ```no_run
//! use axum::{Router, routing::{get, post}};
//! use axum_user_sessions::{Session, SessionLayer};
//! use std::net::SocketAddr;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
//! axum_user_sessions::migrate(&pool).await?; // embedded, idempotent: run it at start-up
//!
//! let app = Router::new()
//!     .route("/", get(home))
//!     .route("/login", post(login))
//!     .nest("/sessions", axum_user_sessions::routes()) // "Your devices"
//!     .layer(SessionLayer::new(pool)); // outermost
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! // ConnectInfo: the client's IP, for the device list and binding.
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//! # Ok(()) }
//!
//! async fn home(session: Option<Session>) -> String {
//!     // `None`: no session, and none is created. An outage answers 503, never `None`.
//!     match session.and_then(|s| s.user_id()) {
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
//! # With axum-login
//!
//! Feature `axum-login`: keep axum-login's backend, `AuthSession` and
//! `login_required!`; `AxumLoginLayer` replaces its
//! `AuthManagerLayerBuilder`, inside the session layer (see the
//! [axum-login guide](guide::axum_login)):
//!
//! ```
//! # #[cfg(feature = "axum-login")] mod app {
//! use axum::Router;
//! use axum_login::AuthnBackend;
//! use axum_user_sessions::{AxumLoginLayer, SessionLayer};
//!
//! fn app<B: AuthnBackend + 'static>(routes: Router, backend: B, pool: sqlx::PgPool) -> Router {
//!     routes // with axum-login's `login_required!` and handlers, unchanged
//!         .layer(AxumLoginLayer::new(backend)) // instead of AuthManagerLayerBuilder
//!         .layer(SessionLayer::new(pool)) // instead of SessionManagerLayer; outermost
//! }
//! # }
//! ```
//!
//! # Coming from tower-sessions
//!
//! The same data calls (`get`, `insert`, `remove`; synchronous here),
//! `session.login(user)` for `cycle_id`, `session.logout()` for `flush`. The
//! defaults are stricter: 30 minutes idle, 12 hours absolute. The cookie and
//! the tables are new; `SessionLayer::adopt_tower_sessions` (feature
//! `tower-sessions-import`) carries each tower-sessions session over on its
//! first request: see the [migration guide](guide::migrating).
//!
//! # Guides
//!
//! The [`guide`] module: [migrating](guide::migrating),
//! [axum-login](guide::axum_login), [session data](guide::data),
//! [rotation and remember me](guide::rotation),
//! ["Your devices"](guide::devices), [operations](guide::operations),
//! [scale and caching](guide::scale), [PgBouncer](guide::pgbouncer),
//! [security](guide::security), [performance](guide::performance).
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
//!   layer (`AxumLoginLayer`, see the `axum_login` module).
//!
//! A Postgres-only app: `default-features = false, features = ["postgres",
//! "routes"]` (add `"cache"` for the cache, `"axum-login"` for axum-login).
//!
//! [axum]: https://docs.rs/axum

#![forbid(unsafe_code)]
// On docs.rs, rustdoc labels each item behind a feature with that feature
// by itself (`doc_cfg` reads the `#[cfg]`s since Rust 1.92's nightlies).
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
#[cfg(feature = "tower-sessions-import")]
mod adopt;
#[cfg(all(
    feature = "tower-sessions-import",
    not(any(feature = "postgres", feature = "sqlite"))
))]
compile_error!("the `tower-sessions-import` feature needs `postgres` or `sqlite`");
#[cfg(feature = "axum-login")]
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
pub mod guide;
mod key_queue;
mod layer;
mod locate;
mod rejection;
#[cfg(feature = "routes")]
pub mod routes;
mod service;
mod session;
pub mod store;
mod text;
mod token;

#[cfg(feature = "axum-login")]
pub use self::axum_login::{AxumLoginLayer, AxumLoginService};
pub use admin::{ForgetTrust, GcOptions, GcReport, GcTask, SessionAdmin};
#[allow(deprecated)]
pub use admin::{gc, spawn_gc};
#[cfg(feature = "tower-sessions-import")]
pub use adopt::{TowerRecord, TowerSessionsImport};
pub use binding::{BindingCheck, BindingMode, ClientBinding, DefaultBinding, MismatchAction};
pub use client::{ClientInfo, ProxyHeader};
pub use cookie::SameSite;
#[cfg(feature = "routes")]
pub use device::{DeviceView, EndedDeviceView, FailedSignInView, device_name, ended_reason_text};
pub use error::Error;
pub use events::{SessionEvent, SessionEventKind, SessionEvents, anonymize_ip};
pub use layer::SessionLayer;
pub use locate::Locator;
pub use rejection::{MissingSessionLayer, SessionRejection};
#[cfg(feature = "routes")]
pub use routes::{SessionRoutes, routes};
pub use service::SessionService;
pub use session::{Reauth, Session, SessionKey};
#[cfg(feature = "postgres")]
pub use store::PgStore;
#[cfg(feature = "redis")]
pub use store::RedisStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
#[cfg(feature = "cache")]
pub use store::{CacheConfig, CachedStore};
pub use store::{
    IntoSessionStore, MemoryStore, Migrate, MigrationReport, RevokeReason, RevokedBy,
    SessionProtocol, SessionStore, SignIn, migrate,
};

/// The [`ipnet`](https://docs.rs/ipnet) crate (version 2), whose `IpNet`
/// [`SessionLayer::with_trusted_proxies`] takes: an app without its own
/// `ipnet` dependency writes `axum_user_sessions::ipnet::IpNet`.
pub use ipnet;

/// An IP network, for [`SessionLayer::with_trusted_proxies`].
#[deprecated(
    since = "0.2.0",
    note = "use `ipnet::IpNet` (the `ipnet` crate, or `axum_user_sessions::ipnet::IpNet`)"
)]
pub type IpNet = ipnet::IpNet;

/// A message from a store's change feed.
#[deprecated(since = "0.2.0", note = "moved to `store::Change`")]
pub type Change = store::Change;

/// A store's feed of changes made by other processes, for caches.
#[deprecated(since = "0.2.0", note = "moved to `store::ChangeFeed`")]
pub type ChangeFeed = store::ChangeFeed;

/// SHA-256 of a session token, as stores keep it.
#[deprecated(since = "0.2.0", note = "moved to `store::TokenHash`")]
pub type TokenHash = store::TokenHash;
