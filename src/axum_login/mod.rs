//! [axum-login](https://docs.rs/axum-login) 0.18 on top of the session layer
//! (feature `axum-login`).
//!
//! An app keeps axum-login's [`AuthSession`](axum_login::AuthSession), its
//! [`AuthnBackend`], [`AuthUser`](axum_login::AuthUser) and
//! [`AuthzBackend`](axum_login::AuthzBackend), and its `login_required!` /
//! `permission_required!` macros. [`AxumLoginLayer`] takes the place of
//! axum-login's `AuthManagerLayerBuilder` (and of tower-sessions'
//! `SessionManagerLayer`), inside a [`SessionLayer`](crate::SessionLayer):
//!
//! ```
//! # use axum_login::{AuthUser, AuthnBackend, UserId};
//! # #[derive(Debug, Clone)] struct User { id: i64, pw_hash: Vec<u8> }
//! # impl AuthUser for User {
//! #     type Id = i64;
//! #     fn id(&self) -> i64 { self.id }
//! #     fn session_auth_hash(&self) -> &[u8] { &self.pw_hash }
//! # }
//! # #[derive(Debug, Clone)] struct Backend;
//! # impl AuthnBackend for Backend {
//! #     type User = User;
//! #     type Credentials = ();
//! #     type Error = std::convert::Infallible;
//! #     async fn authenticate(&self, _: ()) -> Result<Option<User>, Self::Error> { Ok(None) }
//! #     async fn get_user(&self, _: &UserId<Self>) -> Result<Option<User>, Self::Error> { Ok(None) }
//! # }
//! use axum::{Router, routing::get};
//! use axum_login::login_required;
//! use axum_user_sessions::{AxumLoginLayer, MemoryStore, SessionLayer};
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "signed in" }))
//!     .route_layer(login_required!(Backend, login_url = "/login"))
//!     .nest("/sessions", axum_user_sessions::routes()) // "Your devices"
//!     .layer(AxumLoginLayer::new(Backend)) // instead of AuthManagerLayerBuilder
//!     .layer(SessionLayer::new(MemoryStore::new())); // outermost
//! ```
//!
//! # How it works
//!
//! axum-login reads a `tower_sessions::Session` from the request's
//! extensions, keeps its data (the user id and the user's *auth hash*) under
//! one key of it (`"axum-login.data"`), and calls only that handle. The layer
//! gives it one backed by the request's [`Session`], which is already loaded:
//! serving it costs no store call. Nothing goes to the store through
//! tower-sessions; every change is made by the [`Session`], where the rest of
//! the crate expects it:
//!
//! | axum-login does | which calls on the tower-sessions handle | becomes |
//! |---|---|---|
//! | read the session, each request | `get` → `SessionProtocol::load` | the loaded session's data, in memory (no round-trip) |
//! | `AuthSession::login(&user)` | `cycle_id`, `insert(key, {user_id, auth_hash})` | [`Session::login`]`(user.id())`: a new token, the user in the `user_id` column (so "Your devices" lists the session); the key written with the data |
//! | the same, for the signed-in user whose auth hash changed (the app signs them in again after a password change) | `insert` | [`Session::reauthenticate`] (a new token) and every *other* session of the user revoked ([`RevokeReason::PasswordChange`](crate::RevokeReason::PasswordChange), by the user) |
//! | `AuthSession::logout()` | `flush` | [`Session::logout`]: the session revoked (reason `logout`; its row stays for "Recently signed out" until garbage collection's retention, 30 days by default), the cookie expired; keys the handler writes after it (a flash message) go to a new, anonymous session, as with tower-sessions |
//! | the stored auth hash no longer matches the user's (password changed elsewhere) | `flush`, before the handler | this session revoked ([`RevokeReason::PasswordChange`](crate::RevokeReason::PasswordChange), by [`RevokedBy::System`](crate::RevokedBy::System)) before the handler runs; the request continues anonymous, so `login_required!` redirects |
//! | the app's own `auth_session.session.insert` / `remove` | `insert`, `remove` | the same keys set or removed on the [`Session`] |
//! | the app's own `cycle_id` | `cycle_id` | [`Session::rotate`] |
//!
//! The handle records what happens to it; after the handler the layer saves
//! it the way tower-sessions' own middleware would, and turns the result into
//! the calls above. A flush that comes before the handler can only be
//! axum-login's auth-hash check, so that one is acted on at once.
//!
//! The [`Session`] stays the source of truth: axum-login sees a user only
//! when the session is signed in as that user (`user.id().to_string()` is the
//! `user_id` column), so a session revoked from another device, expired, or
//! signed out by [`SessionAdmin`](crate::SessionAdmin) is anonymous to
//! axum-login on its next request.
//!
//! # Limits
//!
//! - Sign-in and sign-out are written after the handler, not inside
//!   `AuthSession::login` / `logout`: until the handler returns, the
//!   [`Session`] it may also extract still shows the previous state. A failed
//!   write replaces the handler's answer with the error's (`503` when the
//!   store is unavailable). A handler that answers `5xx` signs nobody in (and
//!   its data changes are dropped), as with tower-sessions; a sign-out still
//!   happens.
//! - Signing in the user who is already signed in, with an unchanged auth
//!   hash, changes nothing (axum-login writes nothing): call
//!   [`Session::reauthenticate`] after a password prompt.
//! - A user the backend no longer finds (`get_user` answers `None`) is
//!   anonymous to axum-login but their session is not revoked: revoke a
//!   deleted user's sessions with
//!   [`SessionAdmin::revoke_user_sessions`](crate::SessionAdmin::revoke_user_sessions).
//! - Expiry is the layer's (idle and absolute timeouts):
//!   [`SessionLayer::with_idle_timeout`](crate::SessionLayer::with_idle_timeout),
//!   [`with_absolute_timeout`](crate::SessionLayer::with_absolute_timeout).
//!   `set_expiry` on the tower-sessions handle changes nothing, and the
//!   first call logs a `warn!` (once per process) naming these. "Keep me
//!   signed in" is [`Session::login_remember`], called after axum-login's
//!   sign-in. Likewise `delete` on the handle (without `flush`) changes
//!   nothing and warns once: sign out with `AuthSession::logout`.
//! - `auth_session.session.id()` is the session's public id
//!   ([`Session::id`]) as 128 bits, not a credential; it is `None` after a
//!   sign-in or sign-out in the same request.
//! - A key written both through the tower-sessions handle and through the
//!   [`Session`] in one request ends with the handle's value.
//! - The auth data's layout (`{"user_id", "auth_hash"}`) is axum-login 0.18's;
//!   the feature is pinned to that version.

use crate::rejection::MissingSessionLayer;
use crate::service::take_ready;
use crate::session::Session;
use ::axum_login::tower_sessions as ts;
use ::axum_login::{AuthManager, AuthnBackend};
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use bridge::Bridge;
use std::fmt;
use std::sync::Arc;
use tower::{Layer, Service};

mod bridge;

/// The key axum-login keeps its data under, unless the app sets another.
const DEFAULT_DATA_KEY: &str = "axum-login.data";

/// axum-login's `AuthManagerLayer`, on the request's [`Session`]: provides
/// [`AuthSession<B>`](axum_login::AuthSession) to handlers and to
/// `login_required!` / `permission_required!`. Add it inside a
/// [`SessionLayer`](crate::SessionLayer) (that is, before it in the
/// `.layer(…)` calls). See [the module docs](self) for what each axum-login
/// call becomes.
///
/// Order matters: `.layer(AxumLoginLayer::new(backend))` first, then
/// `.layer(SessionLayer::new(store))`. The other way round every request
/// answers a plain `500`, and the log names this order.
#[doc(alias = "AuthManagerLayerBuilder")]
#[doc(alias = "AuthManagerLayer")]
#[derive(Clone)]
#[must_use]
pub struct AxumLoginLayer<B> {
    backend: B,
    data_key: &'static str,
}

impl<B: AuthnBackend> AxumLoginLayer<B> {
    /// The layer for `backend`, with axum-login's data under its default key
    /// (`"axum-login.data"`).
    pub fn new(backend: B) -> Self {
        Self {
            backend,
            data_key: DEFAULT_DATA_KEY,
        }
    }

    /// The session key of axum-login's data, as axum-login's
    /// `AuthManagerLayerBuilder::with_data_key`.
    pub fn with_data_key(mut self, data_key: &'static str) -> Self {
        self.data_key = data_key;
        self
    }
}

impl<B> fmt::Debug for AxumLoginLayer<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AxumLoginLayer")
            .field("data_key", &self.data_key)
            .finish_non_exhaustive()
    }
}

impl<S, B: AuthnBackend> Layer<S> for AxumLoginLayer<B> {
    type Service = AxumLoginService<S, B>;

    fn layer(&self, inner: S) -> Self::Service {
        AxumLoginService {
            inner: AuthManager::new(BeforeHandler { inner }, self.backend.clone(), self.data_key),
            data_key: self.data_key,
        }
    }
}

/// The middleware made by [`AxumLoginLayer`]: axum-login's `AuthManager`
/// around the app, on a tower-sessions handle backed by the request's
/// [`Session`].
#[derive(Clone)]
pub struct AxumLoginService<S, B: AuthnBackend> {
    inner: AuthManager<BeforeHandler<S>, B>,
    data_key: &'static str,
}

impl<S, B: AuthnBackend> fmt::Debug for AxumLoginService<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AxumLoginService")
            .field("data_key", &self.data_key)
            .finish_non_exhaustive()
    }
}

impl<S, B, ReqBody> Service<Request<ReqBody>> for AxumLoginService<S, B>
where
    S: Service<Request<ReqBody>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    B: AuthnBackend + 'static,
{
    crate::service::wrapping_service!(S::Error);

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let mut inner = take_ready(&mut self.inner);
        let data_key = self.data_key;
        Box::pin(async move {
            let Some(session) = req.extensions().get::<Session>().cloned() else {
                return Ok(MissingSessionLayer.respond("`AxumLoginLayer`"));
            };
            if let Err(e) = session.ensure_loaded().await {
                return Ok(e.into_response());
            }
            let bridge = Bridge::new::<B>(session, data_key);
            let handle = ts::Session::new(bridge.id(), Arc::new(bridge.clone()), None);
            req.extensions_mut().insert(handle.clone());
            req.extensions_mut().insert(bridge.clone());
            let res = inner.call(req).await?;
            let failed = res.status().is_server_error();
            Ok(match bridge.finish::<B>(&handle, failed).await {
                Ok(()) => res,
                Err(e) => e.into_response(),
            })
        })
    }
}

/// Between axum-login's `AuthManager` and the app: marks the moment its
/// auth-hash check is over, and acts on it.
#[derive(Debug, Clone)]
struct BeforeHandler<S> {
    inner: S,
}

impl<S, ReqBody> Service<Request<ReqBody>> for BeforeHandler<S>
where
    S: Service<Request<ReqBody>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    crate::service::wrapping_service!(S::Error);

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let mut inner = take_ready(&mut self.inner);
        let bridge = req.extensions().get::<Bridge>().cloned();
        Box::pin(async move {
            if let Some(bridge) = bridge
                && let Err(e) = bridge.before_handler().await
            {
                return Ok(e.into_response());
            }
            inner.call(req).await
        })
    }
}
