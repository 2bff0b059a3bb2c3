//! [`SessionService`]: the middleware around the app's routes.

use crate::client::ClientInfo;
use crate::config::SessionConfig;
use crate::cookie::{CookieToken, read_cookie};
use crate::events::anonymize_ip;
use crate::session::{Commit, Session};
use crate::store::SessionStore;
use crate::token::{RememberToken, Token};
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// Middleware that gives each request a [`Session`]. Made by
/// [`SessionLayer`](crate::SessionLayer).
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    store: Arc<dyn SessionStore>,
    config: Arc<SessionConfig>,
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, store: Arc<dyn SessionStore>, config: Arc<SessionConfig>) -> Self {
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
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // Everything is read from the request before any await, so that the
        // body type need not be `Sync`.
        let session = self.start(&mut req);
        let config = self.config.clone();
        // Call the instance that was polled ready; keep a fresh clone.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let res = inner.call(req).await?;
            Ok(finish(&session, &config, res).await)
        })
    }
}

impl<S> SessionService<S> {
    /// Reads the request's cookies and client, and makes its session. Both
    /// the session and the client (as the handler sees it) go into the
    /// request's extensions.
    fn start<B>(&self, req: &mut Request<B>) -> Session {
        let cookie = read_cookie(req.headers(), &self.config.cookie_name, Token::parse);
        let remember = read_cookie(
            req.headers(),
            &self.config.remember_cookie_name,
            RememberToken::parse,
        );
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
        let client = ClientInfo::read(
            &self.config.proxies,
            req.extensions().get::<ConnectInfo<SocketAddr>>(),
            req.headers(),
        );
        req.extensions_mut().insert(client.clone());
        // What the session stores and binds against: anonymised if configured.
        let client = if self.config.anonymize_ip {
            ClientInfo::new(client.ip().map(anonymize_ip), client.user_agent)
        } else {
            client
        };
        let session = Session::new(
            self.store.clone(),
            self.config.clone(),
            cookie,
            remember,
            client,
        );
        req.extensions_mut().insert(session.clone());
        session
    }
}

/// After the handler: the session writes its changes, and its cookie
/// changes become `Set-Cookie` headers. A failed write replaces the
/// handler's response with the error's (the cookies still go on it).
async fn finish(session: &Session, config: &SessionConfig, mut res: Response) -> Response {
    let Commit { error, cookies } = session.commit(res.status().is_server_error()).await;
    if let Some(err) = error {
        res = err.into_response();
    }
    let names = [config.cookie_name.as_str(), &config.remember_cookie_name];
    cookies.write_headers(&config.cookie, names, res.headers_mut());
    res
}
