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
//! | read the session, each request | `get` → `SessionStore::load` | the loaded session's data, in memory (no round-trip) |
//! | `AuthSession::login(&user)` | `cycle_id`, `insert(key, {user_id, auth_hash})` | [`Session::login`]`(user.id())`: a new token, the user in the `user_id` column (so "Your devices" lists the session); the key written with the data |
//! | the same, for the signed-in user whose auth hash changed (the app signs them in again after a password change) | `insert` | [`Session::reauthenticate`] (a new token) and every *other* session of the user revoked ([`RevokeReason::PasswordChange`], by the user) |
//! | `AuthSession::logout()` | `flush` | [`Session::logout`]: the row deleted, the cookie expired |
//! | the stored auth hash no longer matches the user's (password changed elsewhere) | `flush`, before the handler | this session revoked ([`RevokeReason::PasswordChange`], by [`RevokedBy::System`]) before the handler runs; the request continues anonymous, so `login_required!` redirects |
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
//! - Expiry is the layer's (idle and absolute timeouts): `set_expiry` on the
//!   tower-sessions handle is ignored. "Keep me signed in" is
//!   [`Session::login_remember`], called after axum-login's sign-in.
//! - `auth_session.session.id()` is the session's public id
//!   ([`Session::id`]) as 128 bits, not a credential; it is `None` after a
//!   sign-in or sign-out in the same request.
//! - A key written both through the tower-sessions handle and through the
//!   [`Session`] in one request ends with the handle's value.
//! - The auth data's layout (`{"user_id", "auth_hash"}`) is axum-login 0.18's;
//!   the feature is pinned to that version.

use crate::error::Error;
use crate::rejection::MissingSessionLayer;
use crate::session::Session;
use crate::store::{RevokeReason, RevokedBy};
use ::axum_login::tower_sessions::session::{Id, Record};
use ::axum_login::tower_sessions::{self as ts, session_store};
use ::axum_login::{AuthManager, AuthnBackend, UserId};
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use time::OffsetDateTime;
use tower::{Layer, Service};

/// The key axum-login keeps its data under, unless the app sets another.
const DEFAULT_DATA_KEY: &str = "axum-login.data";

type BoxFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send + 'static>>;

/// axum-login's `AuthManagerLayer`, on the request's [`Session`]: provides
/// [`AuthSession<B>`](axum_login::AuthSession) to handlers and to
/// `login_required!` / `permission_required!`. Add it inside a
/// [`SessionLayer`](crate::SessionLayer) (that is, before it in the
/// `.layer(…)` calls). See [the module docs](self) for what each axum-login
/// call becomes.
#[cfg_attr(docsrs, doc(cfg(feature = "axum-login")))]
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
#[cfg_attr(docsrs, doc(cfg(feature = "axum-login")))]
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
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // Call the instance that was polled ready; keep a fresh clone.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let data_key = self.data_key;
        Box::pin(async move {
            let Some(session) = req.extensions().get::<Session>().cloned() else {
                return Ok(MissingSessionLayer.into_response());
            };
            if let Err(e) = session.ensure_loaded().await {
                return Ok(e.into_response());
            }
            let bridge = Bridge::new::<B>(session, data_key);
            let handle = ts::Session::new(bridge.0.id, Arc::new(bridge.clone()), None);
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
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
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

/// axum-login's data, as 0.18 stores it.
#[derive(Deserialize)]
struct AuthData<Id> {
    user_id: Option<Id>,
    auth_hash: Option<Vec<u8>>,
}

/// The user id (as the `user_id` column has it) and the auth hash in
/// axum-login's data, if it names a user.
fn auth_data<B: AuthnBackend>(value: Option<&Value>) -> Option<(String, Option<Vec<u8>>)> {
    let data: AuthData<UserId<B>> = serde_json::from_value(value?.clone()).ok()?;
    Some((data.user_id?.to_string(), data.auth_hash))
}

/// The tower-sessions store behind the handle axum-login gets: it serves
/// the request's loaded session and records what is done to it. One per
/// request.
#[derive(Clone)]
struct Bridge(Arc<BridgeInner>);

struct BridgeInner {
    session: Session,
    data_key: &'static str,
    /// The session's public id as a tower-sessions id; `None` without a
    /// session.
    id: Option<Id>,
    /// The data axum-login and the app see: the session's, as loaded.
    loaded: HashMap<String, Value>,
    seen: Mutex<Seen>,
}

/// What the handle did with the store.
#[derive(Default)]
struct Seen {
    /// `delete` of this session: a `flush` or a `cycle_id`.
    deleted: bool,
    /// The session was revoked before the handler (auth-hash mismatch).
    revoked: bool,
    /// The data at the end, from the `save` after the handler.
    saved: Option<HashMap<String, Value>>,
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridge")
            .field("session", &self.0.session)
            .finish_non_exhaustive()
    }
}

impl Bridge {
    fn new<B: AuthnBackend>(session: Session, data_key: &'static str) -> Self {
        let id = session.id().map(|id| Id(id.as_u128() as i128));
        let mut loaded: HashMap<String, Value> = session.entries().into_iter().collect();
        // axum-login sees a user only when the session is signed in as them.
        let user = auth_data::<B>(loaded.get(data_key)).map(|(user, _)| user);
        if user.is_some() && user != session.user_id() {
            loaded.remove(data_key);
        }
        Self(Arc::new(BridgeInner {
            session,
            data_key,
            id,
            loaded,
            seen: Mutex::default(),
        }))
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.0.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// axum-login has read the session; the handler is next. A `flush`
    /// before now was axum-login's auth-hash check failing: the password
    /// changed since this session signed in. Revoke it; the request goes on
    /// anonymous.
    async fn before_handler(&self) -> Result<(), Error> {
        if !std::mem::take(&mut self.seen().deleted) {
            return Ok(());
        }
        let session = &self.0.session;
        if let Some(id) = session.id() {
            let (by, why) = (RevokedBy::System, RevokeReason::PasswordChange);
            session.admin().revoke(id, by, why).await?;
            session.mark_ended();
            self.seen().revoked = true;
        }
        Ok(())
    }

    /// After the handler: what the handle now holds becomes sign-in,
    /// sign-out, rotation and data changes on the session.
    /// `failed`: the handler answered `5xx`.
    async fn finish<B: AuthnBackend>(
        &self, handle: &ts::Session, failed: bool,
    ) -> Result<(), Error> {
        if !handle.is_modified() {
            return Ok(());
        }
        // A session revoked before the handler is gone: the handler started
        // from nothing (and may sign in again).
        let revoked = self.seen().revoked;
        let nothing = HashMap::new();
        let before = if revoked { &nothing } else { &self.0.loaded };
        // `flush` and `cycle_id` drop the handle's id; `save` sets it again.
        let ended = !revoked && self.0.id.is_some() && handle.id().is_none();
        // As tower-sessions' middleware would: the whole record to the store.
        let _ = handle.save().await; // our `save` cannot fail
        let Some(after) = self.seen().saved.take() else {
            return Ok(());
        };
        let (session, key) = (&self.0.session, self.0.data_key);
        let auth_after = auth_data::<B>(after.get(key));
        match auth_after {
            Some((user, hash)) if before.get(key) != after.get(key) => {
                if failed {
                    return Ok(()); // a failed request signs nobody in
                }
                match auth_data::<B>(before.get(key)) {
                    // The signed-in user again, with a new auth hash: their
                    // password changed on this device.
                    Some((before_user, before_hash)) if before_user == user => {
                        session.reauthenticate().await?;
                        if before_hash.is_some() && before_hash != hash {
                            let (by, why) = (RevokedBy::user(&user), RevokeReason::PasswordChange);
                            session
                                .admin()
                                .revoke_user_sessions(&user, session.id(), by, why)
                                .await?;
                        }
                    }
                    _ if session.user_id().as_deref() != Some(user.as_str()) => {
                        session.login(&user).await?;
                    }
                    // The app signed the session in itself.
                    _ => {}
                }
            }
            _ if ended && after.is_empty() => return session.logout().await,
            _ if ended && !failed => session.rotate().await?,
            _ => {}
        }
        if !failed {
            for (k, v) in &after {
                if before.get(k) != Some(v) {
                    session.insert(k, v)?;
                }
            }
            for k in before.keys().filter(|k| !after.contains_key(*k)) {
                session.remove(k);
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ts::SessionStore for Bridge {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.seen().saved = Some(record.data.clone());
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.seen().saved = Some(record.data.clone());
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        Ok((self.0.id == Some(*id)).then(|| Record {
            id: *id,
            data: self.0.loaded.clone(),
            // Unused: tower-sessions takes the expiry from the handle's own
            // settings when it saves; ours is the layer's.
            expiry_date: OffsetDateTime::now_utc(),
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        if self.0.id == Some(*id) {
            self.seen().deleted = true;
        }
        Ok(())
    }
}
