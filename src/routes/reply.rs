//! How the routes answer: content negotiation, refusals (a JSON error or an
//! HTML page), redirects back to the list, and the no-store rule for lists.

use super::html;
use crate::error::Error;
use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

/// Why a route refused.
pub(super) enum Refusal {
    Unauthenticated,
    CrossSite,
    NotFound,
    Forbidden,
    Reauthenticate,
    /// The request's body does not say what the route needs: `422` with
    /// this error code and message.
    Invalid(&'static str, &'static str),
    /// The request's body is past the server's limit: `413`.
    TooLarge,
    Store(Error),
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Self::Store(e)
    }
}

impl Refusal {
    /// The refusal as an HTML page (`html`) or a JSON error.
    pub(super) fn reply(self, html: bool) -> Reply {
        Reply {
            html,
            refusal: self,
        }
    }
}

/// A refusal, in the form the client asked for.
pub(super) struct Reply {
    html: bool,
    refusal: Refusal,
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let (status, code, text) = match self.refusal {
            Refusal::Store(e) => return e.into_response(),
            Refusal::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "You are not signed in.",
            ),
            Refusal::CrossSite => (
                StatusCode::FORBIDDEN,
                "cross_site_request",
                "This request did not come from this site: it needs the header \
                 Sec-Fetch-Site: same-origin, or an Origin header naming this site.",
            ),
            Refusal::NotFound => (StatusCode::NOT_FOUND, "not_found", "No such session."),
            Refusal::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "You may not see these sessions.",
            ),
            Refusal::Invalid(code, text) => (StatusCode::UNPROCESSABLE_ENTITY, code, text),
            Refusal::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "The request's body is too large: a device name has at most 64 characters.",
            ),
            Refusal::Reauthenticate => (
                StatusCode::UNAUTHORIZED,
                "reauthentication_required",
                "For your security, enter your password again before signing out devices.",
            ),
        };
        if self.html {
            (status, html::refusal(text)).into_response()
        } else {
            (status, Json(json!({ "error": code, "message": text }))).into_response()
        }
    }
}

/// Whether the client prefers HTML to JSON.
pub(super) fn wants_html(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match (accept.find("text/html"), accept.find("application/json")) {
        (Some(h), Some(j)) => h < j,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Form posts want a redirect; API calls want JSON.
pub(super) fn is_form(headers: &HeaderMap) -> bool {
    wants_html(headers)
        || headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// The list's path, from the path of a request under it: `route` is the
/// request's route below the list (`"/{id}/revoke"`, `""` for the list),
/// as many segments as are dropped from the end of the path as sent,
/// however the id was written in it (upper case, braces,
/// percent-encoded).
pub(super) fn base_path(path: &str, route: &str) -> String {
    let below = route.split('/').filter(|s| !s.is_empty()).count();
    let mut base = path.trim_end_matches('/');
    for _ in 0..below {
        base = base.rsplit_once('/').map_or("", |(above, _)| above);
    }
    if base.is_empty() {
        "/".into()
    } else {
        base.into()
    }
}

/// `303` back to the list, from a request at `route` below it.
pub(super) fn back_to_list(uri: &Uri, route: &str) -> Redirect {
    Redirect::to(&base_path(uri.path(), route))
}

/// Marks a response that holds IPs and session ids: never in a shared cache.
pub(super) fn private(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
    res
}

/// Headers on every answer of the routes: `nosniff` always; on HTML pages
/// a strict `Content-Security-Policy`, `X-Frame-Options: DENY` and
/// `Referrer-Policy: same-origin` (the page's buttons sign devices out: it
/// must not be framed by another site).
pub(super) async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let is_html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        // An app's own page (`with_page`) brings its own policy.
        if !h.contains_key(header::CONTENT_SECURITY_POLICY)
            && let Ok(csp) = HeaderValue::from_str(html::content_security_policy())
        {
            h.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths() {
        assert_eq!(
            base_path("/sessions/abc/revoke", "/{id}/revoke"),
            "/sessions"
        );
        // The id as sent, not as parsed: the list all the same.
        for id in [
            "6F9619FF-8B86-D011-B42D-00C04FC964FF",
            "%7B6f9619ff%7D",
            "urn:uuid:x",
        ] {
            let path = format!("/me/sessions/{id}/forget");
            assert_eq!(base_path(&path, "/{id}/forget"), "/me/sessions");
        }
        assert_eq!(base_path("/sessions/", ""), "/sessions");
        assert_eq!(base_path("/revoke-others", "/revoke-others"), "/");
    }

    #[test]
    fn negotiation() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT, HeaderValue::from_static(v));
            m
        };
        assert!(wants_html(&h("text/html,application/xhtml+xml,*/*;q=0.8")));
        assert!(!wants_html(&h("application/json")));
        assert!(!wants_html(&h("*/*")));
        assert!(!wants_html(&HeaderMap::new()));
    }
}
