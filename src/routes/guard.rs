//! The rules a request must pass before a route acts: signed in, same
//! origin, a recent enough sign-in, and the app's authorization hook for
//! other users' sessions.

use super::SessionRoutes;
use super::reply::Refusal;
use crate::session::Session;
use axum::http::{HeaderMap, Uri, header};
use std::time::Duration;
use time::OffsetDateTime;

/// The signed-in user, or a refusal.
pub(super) fn actor(session: &Session) -> Result<String, Refusal> {
    session.user_id().ok_or(Refusal::Unauthenticated)
}

/// Checks the rules every state-changing route shares: same origin, signed
/// in, and (when configured) signed in recently. The signed-in user.
pub(super) fn for_change(
    cfg: &SessionRoutes, session: &Session, headers: &HeaderMap, uri: &Uri,
) -> Result<String, Refusal> {
    let user = for_edit(cfg, session, headers, uri)?;
    if let Some(max_age) = cfg.reauth
        && !authenticated_within(session, max_age)
    {
        return Err(Refusal::Reauthenticate);
    }
    if !cfg.strong_enough(session) {
        return Err(Refusal::Reauthenticate);
    }
    Ok(user)
}

/// The rules of a change that signs nobody out (renaming a device): same
/// origin and signed in, without the recent sign-in rule. The signed-in
/// user. A bearer request (an API client's) carries no ambient credential
/// that another site could make a browser send: the same-origin rule does
/// not apply to it.
pub(super) fn for_edit(
    cfg: &SessionRoutes, session: &Session, headers: &HeaderMap, uri: &Uri,
) -> Result<String, Refusal> {
    let scheme = if session.secure_cookies() {
        "https"
    } else {
        "http"
    };
    if !session.is_bearer_request()
        && !same_origin(headers, uri, scheme, cfg.public_origins.as_slice())
    {
        return Err(Refusal::CrossSite);
    }
    actor(session)
}

/// Whether the user signed in (or re-authenticated) within `max_age`.
fn authenticated_within(session: &Session, max_age: Duration) -> bool {
    session
        .authenticated_at()
        .is_some_and(|at| OffsetDateTime::now_utc() - at <= max_age)
}

/// The same-origin rule for state-changing requests: `Sec-Fetch-Site:
/// same-origin`, or, from clients that do not send it, an `Origin` that is
/// one of the app's configured public origins, or else this request's own
/// (`scheme` and `Host`). `scheme` is `https` when cookies are `Secure`; a
/// loopback host may also use `http` (browsers treat it as a secure context).
fn same_origin(headers: &HeaderMap, uri: &Uri, scheme: &str, public: &[String]) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if !public.is_empty() {
        return public.iter().any(|p| p.eq_ignore_ascii_case(origin));
    }
    let Some((their_scheme, authority)) = origin.split_once("://") else {
        return false; // "null" and anything that is not an origin
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let Some(host) = host.filter(|h| h.eq_ignore_ascii_case(authority)) else {
        return false;
    };
    their_scheme.eq_ignore_ascii_case(scheme)
        || (their_scheme.eq_ignore_ascii_case("http") && is_loopback(host))
}

/// `localhost`, `127.0.0.1`, `[::1]`, with or without a port.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl SessionRoutes {
    /// Whether an authorization hook is set (without one, nobody manages
    /// another user's sessions).
    pub(super) fn has_authorization(&self) -> bool {
        self.authorize.is_some()
    }

    /// Whether the hook lets `actor` list and revoke `target`'s sessions.
    pub(super) fn allows(&self, actor: &Session, target: &str) -> bool {
        self.authorize.as_ref().is_some_and(|f| f(actor, target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn origin_rules() {
        let uri: Uri = "/x".parse().unwrap();
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        let same_origin = |h: &HeaderMap, uri: &Uri| same_origin(h, uri, "https", &[]);
        assert!(same_origin(&h(&[("sec-fetch-site", "same-origin")]), &uri));
        assert!(!same_origin(&h(&[("sec-fetch-site", "same-site")]), &uri));
        assert!(!same_origin(&h(&[("sec-fetch-site", "cross-site")]), &uri));
        assert!(!same_origin(
            &h(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://a"),
                ("host", "a")
            ]),
            &uri
        ));
        assert!(same_origin(
            &h(&[
                ("origin", "https://a.example:8443"),
                ("host", "a.example:8443")
            ]),
            &uri
        ));
        assert!(!same_origin(
            &h(&[("origin", "https://evil.example"), ("host", "a.example")]),
            &uri
        ));
        assert!(!same_origin(&h(&[("origin", "null"), ("host", "a")]), &uri));
        assert!(
            !same_origin(&h(&[("host", "a")]), &uri),
            "no evidence: refused"
        );
    }

    #[test]
    fn the_origin_s_scheme_counts() {
        let uri: Uri = "/x".parse().unwrap();
        let h = |origin: &'static str, host: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(header::ORIGIN, HeaderValue::from_static(origin));
            m.insert(header::HOST, HeaderValue::from_static(host));
            m
        };
        // Secure cookies: an http page of the same host is another origin.
        let page = h("http://a.example", "a.example");
        assert!(!same_origin(&page, &uri, "https", &[]));
        assert!(same_origin(&page, &uri, "http", &[]));
        assert!(same_origin(
            &h("https://a.example", "a.example"),
            &uri,
            "https",
            &[]
        ));
        assert!(!same_origin(
            &h("https://a.example", "a.example"),
            &uri,
            "http",
            &[]
        ));
        // Loopback: http is fine either way.
        for (origin, host) in [
            ("http://localhost:3000", "localhost:3000"),
            ("http://127.0.0.1:3000", "127.0.0.1:3000"),
            ("http://[::1]:3000", "[::1]:3000"),
        ] {
            assert!(
                same_origin(&h(origin, host), &uri, "https", &[]),
                "{origin}"
            );
        }
        // A configured public origin is the only one accepted (the Host a
        // proxy forwards may be internal).
        let public = ["https://app.example".to_owned()];
        assert!(same_origin(
            &h("https://app.example", "internal:8080"),
            &uri,
            "https",
            &public
        ));
        assert!(!same_origin(
            &h("https://internal:8080", "internal:8080"),
            &uri,
            "https",
            &public
        ));
        assert!(!same_origin(
            &h("http://app.example", "app.example"),
            &uri,
            "https",
            &public
        ));
    }
}
