//! [`SessionService`]: the middleware around the app's routes.

use crate::ClientInfo;
use crate::config::SessionConfig;
use crate::session::{CookieToken, Session};
use crate::store::SessionStore;
use crate::token::{RememberToken, Token};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, header};
use axum::response::Response;
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
            ClientInfo::new(client.ip().map(crate::anonymize_ip), client.user_agent)
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

        // Call the instance that was polled ready; keep a fresh clone.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let mut res = inner.call(req).await?;
            session.commit(&mut res).await;
            Ok(res)
        })
    }
}

/// Finds the session cookie among all `Cookie` headers, bytewise (other
/// cookies may hold anything). Two different values for our name are
/// ambiguous (cookie tossing), so they count as malformed.
pub(crate) fn read_cookie<T>(
    headers: &HeaderMap,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> CookieToken<T> {
    let mut found: Option<&[u8]> = None;
    for value in headers.get_all(header::COOKIE) {
        for pair in value.as_bytes().split(|b| *b == b';') {
            let pair = pair.trim_ascii();
            let Some(eq) = pair.iter().position(|b| *b == b'=') else {
                continue;
            };
            if pair[..eq].trim_ascii() != name.as_bytes() {
                continue;
            }
            let mut v = pair[eq + 1..].trim_ascii();
            if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
                v = &v[1..v.len() - 1];
            }
            match found {
                None => found = Some(v),
                Some(prev) if prev == v => {}
                Some(_) => return CookieToken::Malformed,
            }
        }
    }
    match found {
        None => CookieToken::Absent,
        Some(v) => std::str::from_utf8(v)
            .ok()
            .and_then(parse)
            .map_or(CookieToken::Malformed, CookieToken::Valid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::COOKIE, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn finds_the_cookie_among_others() {
        let t = Token::generate().unwrap().encode();
        let h = headers(&[format!("a=1; __Host-session={t}; b=2").as_bytes()]);
        assert!(matches!(
            read_cookie(&h, "__Host-session", Token::parse),
            CookieToken::Valid(_)
        ));
        let h = headers(&[b"a=1", format!("__Host-session=\"{t}\"").as_bytes()]);
        assert!(matches!(
            read_cookie(&h, "__Host-session", Token::parse),
            CookieToken::Valid(_)
        ));
    }

    #[test]
    fn absent_malformed_and_ambiguous() {
        assert!(matches!(
            read_cookie(&headers(&[b"a=1"]), "s", Token::parse),
            CookieToken::Absent
        ));
        assert!(matches!(
            read_cookie(&HeaderMap::new(), "s", Token::parse),
            CookieToken::Absent
        ));
        assert!(matches!(
            read_cookie(&headers(&[b"s=nope"]), "s", Token::parse),
            CookieToken::Malformed
        ));
        assert!(matches!(
            read_cookie(&headers(&[b"s=\xff\xfe"]), "s", Token::parse),
            CookieToken::Malformed
        ));
        let a = Token::generate().unwrap().encode();
        let b = Token::generate().unwrap().encode();
        let h = headers(&[format!("s={a}; s={b}").as_bytes()]);
        assert!(matches!(
            read_cookie(&h, "s", Token::parse),
            CookieToken::Malformed
        ));
        // The same value twice is not ambiguous.
        let h = headers(&[format!("s={a}").as_bytes(), format!("s={a}").as_bytes()]);
        assert!(matches!(
            read_cookie(&h, "s", Token::parse),
            CookieToken::Valid(_)
        ));
        // Invalid bytes in another cookie do not hide ours.
        let mut raw = b"x=\xff; s=".to_vec();
        raw.extend_from_slice(a.as_bytes());
        let h = headers(&[&raw]);
        assert!(matches!(
            read_cookie(&h, "s", Token::parse),
            CookieToken::Valid(_)
        ));
    }
}
