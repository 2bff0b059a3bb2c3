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
    if !same_origin(headers, uri) {
        return Err(Refusal::CrossSite);
    }
    let user = actor(session)?;
    if let Some(max_age) = cfg.reauth
        && !authenticated_within(session, max_age)
    {
        return Err(Refusal::Reauthenticate);
    }
    Ok(user)
}

/// Whether the user signed in (or re-authenticated) within `max_age`.
fn authenticated_within(session: &Session, max_age: Duration) -> bool {
    session
        .authenticated_at()
        .is_some_and(|at| OffsetDateTime::now_utc() - at <= max_age)
}

/// The same-origin rule for state-changing requests.
fn same_origin(headers: &HeaderMap, uri: &Uri) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false; // "null" and other schemes
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    host.is_some_and(|h| h.eq_ignore_ascii_case(authority))
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
}
