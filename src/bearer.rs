//! API clients' bearer tokens, on the HTTP side: reading the session token
//! from `Authorization: Bearer <token>` and writing a new one in the
//! response's token header (`Session-Token` by default).
//!
//! The rule: with bearer tokens on, a request whose `Authorization` header
//! uses the `Bearer` scheme is a bearer request. Its session comes from that
//! header alone: the cookies are not read, not touched and not cleared, and
//! its response sets no cookie. A `Bearer` header that is not one
//! well-formed token (a malformed or oversized token, or two
//! `Authorization` headers) means "no session", at no query. Another
//! scheme (`Basic`, as a browser sends behind a password-protected staging
//! site) is not the session's business: the request is a cookie request.
//!
//! Nothing here touches the store.

use crate::cookie::CookieToken;
use crate::token::SessionToken;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

/// The default name of the header that carries a new token to an API
/// client.
pub(crate) const DEFAULT_TOKEN_HEADER: &str = "session-token";

/// Longer `Authorization` values are refused before they are parsed.
const MAX_AUTHORIZATION_LEN: usize = 512;

/// The bearer token of a request, or `None` when the request carries no
/// `Authorization: Bearer` header (it is then a cookie request).
pub(crate) fn read_bearer(headers: &HeaderMap) -> Option<CookieToken> {
    let all = headers.get_all(header::AUTHORIZATION);
    if !all.iter().any(is_bearer) {
        return None;
    }
    let mut values = all.iter();
    let first = values.next()?;
    if values.next().is_some() {
        tracing::warn!("two Authorization headers: no session");
        return Some(CookieToken::Malformed);
    }
    Some(match parse(first) {
        Some(token) => CookieToken::Valid(token),
        None => {
            tracing::debug!("Authorization header is not a well-formed bearer token: no session");
            CookieToken::Malformed
        }
    })
}

/// Whether a header value uses the `Bearer` scheme (in any case, RFC 9110),
/// whatever follows.
fn is_bearer(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    let scheme = bytes.split(|b| *b == b' ').next().unwrap_or_default();
    scheme.eq_ignore_ascii_case(b"bearer")
}

/// `Bearer <token>` (the scheme in any case, RFC 9110), or `None`.
fn parse(value: &HeaderValue) -> Option<SessionToken> {
    let bytes = value.as_bytes();
    if bytes.len() > MAX_AUTHORIZATION_LEN {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let (scheme, token) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    SessionToken::parse(token.trim_start_matches(' '))
}

/// Sets the token header to `token`, with `Cache-Control: no-store`: a
/// response that carries a token must not be cached.
pub(crate) fn write_token(name: &HeaderName, token: &str, headers: &mut HeaderMap) {
    match HeaderValue::from_str(token) {
        Ok(mut v) => {
            v.set_sensitive(true);
            headers.insert(name.clone(), v);
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        Err(_) => tracing::error!("session token could not be encoded as a header"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(values: &[&[u8]]) -> Option<CookieToken> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        read_bearer(&h)
    }

    #[test]
    fn reads_one_bearer_token() {
        let t = SessionToken::generate(None).unwrap().encode();
        assert!(read(&[]).is_none(), "no header: a cookie request");
        for v in [
            format!("Bearer {t}"),
            format!("bearer {t}"),
            format!("BEARER   {t} "),
        ] {
            assert!(
                matches!(read(&[v.as_bytes()]), Some(CookieToken::Valid(_))),
                "{v}"
            );
        }
        let long = format!("Bearer {t}{}", "a".repeat(600));
        let two = format!("Bearer {t}");
        for other in [format!("Basic {t}"), t.clone(), "Digest x".into()] {
            assert!(
                read(&[other.as_bytes()]).is_none(),
                "{other}: a cookie request"
            );
        }
        for bad in [
            format!("Bearer {t}x"),
            "Bearer".into(),
            "Bearer ".into(),
            long,
        ] {
            assert!(
                matches!(read(&[bad.as_bytes()]), Some(CookieToken::Malformed)),
                "{bad}"
            );
        }
        assert!(matches!(
            read(&[two.as_bytes(), two.as_bytes()]),
            Some(CookieToken::Malformed)
        ));
        assert!(matches!(
            read(&[b"Basic dXNlcjpwdw==", two.as_bytes()]),
            Some(CookieToken::Malformed)
        ));
        assert!(matches!(
            read(&[b"Bearer \xff"]),
            Some(CookieToken::Malformed)
        ));
    }
}
