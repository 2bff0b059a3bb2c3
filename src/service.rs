//! [`SessionService`]: the middleware around the app's routes.

use crate::client::ClientInfo;
use crate::config::SessionConfig;
use crate::cookie::{CookieChange, CookieToken, CookieUpdate, find_cookies, read_cookie};
use crate::events::anonymize_ip;
use crate::session::{Commit, Session};
use crate::store::SessionProtocol;
use crate::token::{RememberToken, SessionToken};
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use tower::Service;

/// Middleware that gives each request a [`Session`]. Made by
/// [`SessionLayer`](crate::SessionLayer).
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    store: Arc<dyn SessionProtocol>,
    config: Arc<SessionConfig>,
}

impl<S> SessionService<S> {
    pub(crate) fn new(
        inner: S, store: Arc<dyn SessionProtocol>, config: Arc<SessionConfig>,
    ) -> Self {
        Self {
            inner,
            store,
            config,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for SessionService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    wrapping_service!(S::Error);

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // Everything is read from the request before any await, so that the
        // body type need not be `Sync`.
        let (session, legacy) = self.start(&mut req);
        #[cfg(feature = "tower-sessions-import")]
        let pending = crate::adopt::Pending::read(&self.config, req.headers(), &session);
        let config = self.config.clone();
        let mut inner = take_ready(&mut self.inner);
        Box::pin(async move {
            #[cfg(feature = "tower-sessions-import")]
            let (session, legacy, adopted) = match pending {
                Some(pending) => {
                    let (session, mut adopted) = pending.run(session).await;
                    req.extensions_mut().insert(session.clone());
                    let legacy = LegacyCookies {
                        joined: adopted.joined.take(),
                        ..legacy
                    };
                    (session, legacy, Some(adopted))
                }
                None => (session, legacy, None),
            };
            let res = inner.call(req).await?;
            #[cfg(feature = "tower-sessions-import")]
            let joined = legacy.joined.is_some();
            #[allow(unused_mut)]
            let mut res = finish(&session, &config, legacy, res).await;
            #[cfg(feature = "tower-sessions-import")]
            if let Some(mut adopted) = adopted {
                if joined && session.id().is_none() {
                    adopted.keep_old_cookie();
                }
                adopted.write_headers(res.headers_mut());
            }
            Ok(res)
        })
    }
}

impl<S> SessionService<S> {
    /// Reads the request's cookies and client, and makes its session. Both
    /// the session and the client (as the handler sees it) go into the
    /// request's extensions.
    fn start<B>(&self, req: &mut Request<B>) -> (Session, LegacyCookies) {
        // A bearer request: its session comes from `Authorization` alone,
        // its cookies are not read (see `crate::bearer`).
        let bearer = self
            .config
            .bearer_tokens
            .then(|| crate::bearer::read_bearer(req.headers()))
            .flatten();
        if let Some(token) = bearer {
            let client = self.client(req);
            let session = Session::new_for(
                self.store.clone(),
                self.config.clone(),
                (token, CookieToken::Absent),
                client,
                true,
            );
            req.extensions_mut().insert(session.clone());
            return (session, LegacyCookies::default());
        }
        let c = &self.config;
        let names = [
            &*c.cookie_name,
            &c.remember_cookie_name,
            &c.trust_cookie_name,
        ];
        let [cookie, remember, trust] = find_cookies(req.headers(), names);
        let mut cookie = cookie.parse(SessionToken::parse);
        let mut remember = remember.parse(RememberToken::parse);
        let trust = trust.parse(RememberToken::parse);
        let mut legacy = LegacyCookies::default();
        if let Some([session_name, remember_name]) = &self.config.legacy_cookie_names {
            // Only what 0.1 could have set: a token of its form (a token
            // naming its session there was planted), and nothing malformed
            // (a sibling app's cookie of the same name is left alone).
            if !cookie.is_present() {
                let old = read_cookie(req.headers(), session_name, SessionToken::parse);
                if matches!(&old, CookieToken::Valid(t) if t.session().is_none()) {
                    (cookie, legacy.session) = (old, true);
                }
            }
            if !remember.is_present() {
                let old = read_cookie(req.headers(), remember_name, RememberToken::parse);
                if matches!(old, CookieToken::Valid(_)) {
                    (remember, legacy.remember) = (old, true);
                }
            }
        }
        for (name, malformed) in [
            (
                &self.config.cookie_name,
                matches!(cookie, CookieToken::Malformed),
            ),
            (
                &self.config.remember_cookie_name,
                matches!(remember, CookieToken::Malformed),
            ),
        ] {
            if malformed {
                tracing::warn!(
                    cookie = %name,
                    "malformed session cookie ignored (suspicious: tampering or a misconfigured client)"
                );
            }
        }
        let client = self.client(req);
        let session = Session::new(
            self.store.clone(),
            self.config.clone(),
            cookie,
            remember,
            client,
        );
        session.set_trust_cookie(trust);
        if legacy.session {
            session.cookie_under_legacy_name();
        }
        if legacy.remember {
            session.remember_under_legacy_name();
        }
        req.extensions_mut().insert(session.clone());
        (session, legacy)
    }

    /// Reads the request's client into its extensions (as the handler sees
    /// it), and answers it as the session stores and binds against it:
    /// anonymised if configured.
    fn client<B>(&self, req: &mut Request<B>) -> ClientInfo {
        let client = ClientInfo::read(
            &self.config.proxies,
            req.extensions().get::<ConnectInfo<SocketAddr>>(),
            req.headers(),
        );
        req.extensions_mut().insert(client.clone());
        if self.config.anonymize_ip {
            ClientInfo::new(client.ip().map(anonymize_ip), client.user_agent)
        } else {
            client
        }
    }
}

/// Cookies read under the names version 0.1 sent (see
/// [`CookieConfig::legacy_name`](crate::cookie::CookieConfig::legacy_name)).
#[derive(Default)]
struct LegacyCookies {
    session: bool,
    remember: bool,
    /// The token of a session another request adopted from tower-sessions
    /// (see `crate::adopt`), which this one joined: sent as our cookie.
    joined: Option<String>,
}

/// After the handler: the session writes its changes, and its cookie
/// changes become `Set-Cookie` headers. A failed write replaces the
/// handler's response with the error's (the cookies still go on it).
///
/// A cookie read under its 0.1 name moves to today's: a live session's
/// token rotates ([`Session::cookie_under_legacy_name`]), and the old cookie
/// is expired once the new one is set.
async fn finish(
    session: &Session, config: &SessionConfig, legacy: LegacyCookies, mut res: Response,
) -> Response {
    // A request that joined an adoption sends the adopted session's cookie
    // once its load found the session (below), and the adoption expires
    // tower-sessions' cookie: load it even where the handler never read
    // the session (a health check, a static file), or the browser would
    // be left with neither cookie. A load that fails sets no cookie of
    // ours and keeps tower-sessions' (`Adopted::keep_old_cookie`).
    if legacy.joined.is_some() {
        let _ = session.ensure_loaded().await;
    }
    let Commit {
        error,
        mut cookies,
        api_token,
    } = session.commit(res.status().is_server_error()).await;
    if let Some(locator) = &config.locator {
        session.locate_later(locator);
    }
    if let Some(err) = error {
        res = err.into_response();
    }
    if let Some(answer) = api_token {
        // An API client's response: no cookie at all, a new token (if any)
        // in the token header.
        if let Some(token) = answer {
            crate::bearer::write_token(&config.session_token_header, &token, res.headers_mut());
        }
        return res;
    }
    let mut old = CookieUpdate::default();
    if let Some(old_names) = &config.legacy_cookie_names {
        // Only cookies that named a session of ours (`session/legacy.rs`).
        let (session_ours, remember_ours) = session.legacy_cookies_ours();
        if legacy.session && session_ours && cookies.session.is_some() {
            old.session = Some(CookieChange::Expire);
        }
        if legacy.remember && remember_ours && cookies.remember.is_some() {
            old.remember = Some(CookieChange::Expire);
        }
        let names = [old_names[0].as_str(), &old_names[1]];
        old.write_headers(&config.cookie, &names, res.headers_mut());
    }
    if let Some(value) = legacy.joined
        && cookies.session.is_none()
        && session.id().is_some()
    {
        cookies.session = Some(CookieChange::Set {
            value,
            max_age: None,
        });
    }
    let names = [
        config.cookie_name.as_str(),
        &config.remember_cookie_name,
        &config.trust_cookie_name,
    ];
    cookies.write_headers(&config.cookie, &names, res.headers_mut());
    res
}

/// What the crate's services answer: a boxed future of a response.
pub(crate) type BoxFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send + 'static>>;

/// The `Service` items shared by the crate's services that wrap an `inner`
/// service of error `$error`: they answer a [`BoxFuture`] and are ready when
/// `inner` is.
macro_rules! wrapping_service {
    ($error:ty) => {
        type Response = axum::response::Response;
        type Error = $error;
        type Future = $crate::service::BoxFuture<$error>;

        fn poll_ready(
            &mut self, cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }
    };
}
pub(crate) use wrapping_service;

/// The instance of `inner` that was polled ready, to call; a fresh clone
/// stays in its place for the next `poll_ready` (tower's advice for services
/// whose future outlives `call`).
pub(crate) fn take_ready<S: Clone>(inner: &mut S) -> S {
    let fresh = inner.clone();
    std::mem::replace(inner, fresh)
}
