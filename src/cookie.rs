//! The session and remember-me cookies: their settings, reading them from a
//! request's `Cookie` headers, and writing the `Set-Cookie` headers a
//! [`CookieUpdate`] asks for.
//!
//! Nothing here touches the store: the [`Session`](crate::Session) decides
//! what the cookies become, this module only speaks HTTP.

use crate::token::SessionToken;
use axum::http::{HeaderMap, HeaderValue, header};
use std::fmt;

mod render;

/// The `SameSite` attribute of the session cookie.
///
/// `None` is deliberately not offered: a session cookie sent on cross-site
/// requests invites CSRF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent on top-level navigations from other sites (links in mail keep
    /// users signed in), not on cross-site subrequests or POSTs. The default.
    #[default]
    Lax,
    /// Never sent on cross-site requests: a user following a link from another
    /// site arrives signed out.
    Strict,
}

/// Cookie settings.
#[derive(Debug, Clone)]
pub(crate) struct CookieConfig {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) same_site: SameSite,
    /// Name prefixes on (the default): the strongest one the other settings
    /// allow, worked out from all of them at once (see [`Self::prefix`]).
    pub(crate) prefixes: bool,
}

/// The name prefixes browsers enforce.
const PREFIXES: [&str; 2] = ["__Host-", "__Secure-"];

impl CookieConfig {
    /// The prefix of our cookies' names: `__Host-` when the cookie is
    /// `Secure`, `Path=/` and has no `Domain` (no subdomain can plant or
    /// overwrite it), else `__Secure-` when it is `Secure` (only a secure
    /// origin can set it), else none. Worked out from the final settings,
    /// so the order of the setters does not matter.
    pub(crate) fn prefix(&self) -> &'static str {
        match (self.prefixes, self.secure) {
            (true, true) if self.path == "/" && self.domain.is_none() => PREFIXES[0],
            (true, true) => PREFIXES[1],
            _ => "",
        }
    }

    /// A cookie's name as sent.
    pub(crate) fn prefixed(&self, name: &str) -> String {
        format!("{}{name}", self.prefix())
    }

    /// The name version 0.1 sent where it differs from today's: 0.1 dropped
    /// the prefix altogether where `__Host-` was not possible, today's
    /// `__Secure-` is read after it, so an upgrade signs nobody out.
    pub(crate) fn legacy_name(&self, name: &str) -> Option<String> {
        (self.prefix() == PREFIXES[1]).then(|| name.to_owned())
    }
}

/// Whether `name` carries a prefix browsers enforce (`__Host-`,
/// `__Secure-`; compared without regard to case, as browsers do).
pub(crate) fn has_prefix(name: &str) -> bool {
    PREFIXES.iter().any(|p| {
        name.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    })
}

/// Whether `name` is a valid cookie name (an RFC 6265 token).
pub(crate) fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A cookie attribute value: no `;` and no control characters.
pub(crate) fn is_attribute_value(v: &str) -> bool {
    !v.chars().any(|c| c == ';' || c.is_control())
}

/// What the request's cookie header said about our cookie.
#[derive(Debug, Clone)]
pub(crate) enum CookieToken<T = SessionToken> {
    /// No such cookie.
    Absent,
    /// A cookie that cannot be a token (wrong length, alphabet, duplicates
    /// with different values, not UTF-8...). Costs no query.
    Malformed,
    /// A well-formed token; the store decides whether it is known.
    Valid(T),
}

impl<T> CookieToken<T> {
    /// Whether the request carried the cookie at all (well-formed or not).
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

/// Finds the session cookie among all `Cookie` headers, bytewise (other
/// cookies may hold anything). Two different values for our name are
/// ambiguous (cookie tossing), so they count as malformed.
pub(crate) fn read_cookie<T>(
    headers: &HeaderMap, name: &str, parse: impl Fn(&str) -> Option<T>,
) -> CookieToken<T> {
    let [found] = find_cookies(headers, [name]);
    found.parse(parse)
}

/// What the `Cookie` headers hold under one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found<'h> {
    /// Nothing.
    Absent,
    /// One value (maybe sent more than once), without its double quotes.
    Value(&'h [u8]),
    /// Different values: ambiguous.
    Ambiguous,
}

impl Found<'_> {
    /// The token this says, as [`read_cookie`] answers it.
    pub(crate) fn parse<T>(self, parse: impl Fn(&str) -> Option<T>) -> CookieToken<T> {
        match self {
            Self::Absent => CookieToken::Absent,
            Self::Ambiguous => CookieToken::Malformed,
            Self::Value(v) => std::str::from_utf8(v)
                .ok()
                .and_then(parse)
                .map_or(CookieToken::Malformed, CookieToken::Valid),
        }
    }
}

/// [`read_cookie`]'s search for several names at once: one pass over the
/// `Cookie` headers, whatever the number of names.
pub(crate) fn find_cookies<'h, const N: usize>(
    headers: &'h HeaderMap, names: [&str; N],
) -> [Found<'h>; N] {
    let mut found = [Found::Absent; N];
    for value in headers.get_all(header::COOKIE) {
        for pair in value.as_bytes().split(|b| *b == b';') {
            let pair = pair.trim_ascii();
            let Some(eq) = pair.iter().position(|b| *b == b'=') else {
                continue;
            };
            let key = pair[..eq].trim_ascii();
            let Some(i) = names.iter().position(|name| name.as_bytes() == key) else {
                continue;
            };
            let mut v = pair[eq + 1..].trim_ascii();
            if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
                v = &v[1..v.len() - 1];
            }
            found[i] = match found[i] {
                Found::Absent => Found::Value(v),
                Found::Value(prev) if prev == v => Found::Value(v),
                _ => Found::Ambiguous,
            };
        }
    }
    found
}

/// What to do with one cookie in the response.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum CookieChange {
    /// Send `value`. `max_age` in seconds; `None` for a browser-session
    /// cookie.
    Set { value: String, max_age: Option<i64> },
    /// Expire the cookie in the browser.
    Expire,
}

impl fmt::Debug for CookieChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The value is a token: never in logs.
            Self::Set { max_age, .. } => f
                .debug_struct("Set")
                .field("value", &"REDACTED")
                .field("max_age", max_age)
                .finish(),
            Self::Expire => f.write_str("Expire"),
        }
    }
}

/// The cookie changes a request's session asks for, after the handler: the
/// session, remember-me and trusted-device cookies' (`None`: leave it alone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CookieUpdate {
    pub(crate) session: Option<CookieChange>,
    pub(crate) remember: Option<CookieChange>,
    pub(crate) trust: Option<CookieChange>,
}

impl CookieUpdate {
    /// Appends the `Set-Cookie` headers (`names`: the session, remember-me and
    /// trusted-device cookies'), the session cookie first, and `Cache-Control:
    /// no-store` when any cookie is set: a response setting a token is not cached.
    pub(crate) fn write_headers(
        self, cookie: &CookieConfig, names: &[&str], headers: &mut HeaderMap,
    ) {
        let mut any = false;
        for (&name, change) in names.iter().zip([self.session, self.remember, self.trust]) {
            let (value, max_age) = match &change {
                None => continue,
                Some(CookieChange::Set { value, max_age }) => (value.as_str(), *max_age),
                Some(CookieChange::Expire) => ("", Some(0)),
            };
            match cookie.header(name, value, max_age) {
                Some(v) => {
                    headers.append(header::SET_COOKIE, v);
                    any = true;
                }
                None => tracing::error!("session cookie could not be encoded as a header"),
            }
        }
        if any {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::COOKIE, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn finds_the_cookie_among_others() {
        let t = SessionToken::generate(None).unwrap().encode();
        let h = headers(&[format!("a=1; __Host-session={t}; b=2").as_bytes()]);
        assert!(matches!(
            read_cookie(&h, "__Host-session", SessionToken::parse),
            CookieToken::Valid(_)
        ));
        let h = headers(&[b"a=1", format!("__Host-session=\"{t}\"").as_bytes()]);
        assert!(matches!(
            read_cookie(&h, "__Host-session", SessionToken::parse),
            CookieToken::Valid(_)
        ));
    }

    #[test]
    fn several_names_in_one_pass_answer_as_one_each() {
        let a = SessionToken::generate(None).unwrap().encode();
        let b = SessionToken::generate(None).unwrap().encode();
        let cases = [
            format!("s={a}; r={b}"),
            format!("r={b}; x=1; s=\"{a}\""),
            format!("s={a}; s={b}; r={b}"),
            format!("r=nope; s={a}; s={a}"),
            "x=1; s; r=".to_owned(),
            String::new(),
        ];
        for case in cases {
            let h = headers(&[case.as_bytes(), b"q=2"]);
            // Each name found as if it were looked up alone (`read_cookie`).
            let alone = [find_cookies(&h, ["s"])[0], find_cookies(&h, ["r"])[0]];
            assert_eq!(find_cookies(&h, ["s", "r"]), alone, "{case}");
        }
        let h = headers(&[format!("s={a}; s={b}; r=\"{b}\"").as_bytes()]);
        let both = [Found::Ambiguous, Found::Value(b.as_bytes())];
        assert_eq!(find_cookies(&h, ["s", "r"]), both);
    }

    #[test]
    fn absent_malformed_and_ambiguous() {
        assert!(matches!(
            read_cookie(&headers(&[b"a=1"]), "s", SessionToken::parse),
            CookieToken::Absent
        ));
        assert!(matches!(
            read_cookie(&HeaderMap::new(), "s", SessionToken::parse),
            CookieToken::Absent
        ));
        assert!(matches!(
            read_cookie(&headers(&[b"s=nope"]), "s", SessionToken::parse),
            CookieToken::Malformed
        ));
        assert!(matches!(
            read_cookie(&headers(&[b"s=\xff\xfe"]), "s", SessionToken::parse),
            CookieToken::Malformed
        ));
        let a = SessionToken::generate(None).unwrap().encode();
        let b = SessionToken::generate(None).unwrap().encode();
        let h = headers(&[format!("s={a}; s={b}").as_bytes()]);
        assert!(matches!(
            read_cookie(&h, "s", SessionToken::parse),
            CookieToken::Malformed
        ));
        // The same value twice is not ambiguous.
        let h = headers(&[format!("s={a}").as_bytes(), format!("s={a}").as_bytes()]);
        assert!(matches!(
            read_cookie(&h, "s", SessionToken::parse),
            CookieToken::Valid(_)
        ));
        // Invalid bytes in another cookie do not hide ours.
        let mut raw = b"x=\xff; s=".to_vec();
        raw.extend_from_slice(a.as_bytes());
        let h = headers(&[&raw]);
        assert!(matches!(
            read_cookie(&h, "s", SessionToken::parse),
            CookieToken::Valid(_)
        ));
    }

    fn set_cookies(update: CookieUpdate) -> (Vec<String>, Option<String>) {
        let mut h = HeaderMap::new();
        let config = crate::config::SessionConfig::default();
        let names = [config.cookie_name.as_str(), &config.remember_cookie_name];
        update.write_headers(&config.cookie, &names, &mut h);
        let cookies = h
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let cache = h
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap().to_owned());
        (cookies, cache)
    }

    #[test]
    fn nothing_to_set_writes_no_header() {
        assert_eq!(set_cookies(CookieUpdate::default()), (vec![], None));
    }

    #[test]
    fn session_cookie_first_then_remember_and_no_store() {
        let (cookies, cache) = set_cookies(CookieUpdate {
            remember: Some(CookieChange::Set {
                value: "r".into(),
                max_age: Some(60),
            }),
            session: Some(CookieChange::Set {
                value: "s".into(),
                max_age: None,
            }),
            trust: None,
        });
        assert_eq!(cache.as_deref(), Some("no-store"));
        assert_eq!(cookies.len(), 2);
        assert!(cookies[0].starts_with("__Host-session=s;"), "{cookies:?}");
        assert!(!cookies[0].contains("Max-Age"), "{cookies:?}");
        assert!(cookies[1].starts_with("__Host-remember=r;"), "{cookies:?}");
        assert!(cookies[1].contains("Max-Age=60"), "{cookies:?}");
        for c in &cookies {
            for attr in ["HttpOnly", "Secure", "Path=/", "SameSite=Lax"] {
                assert!(c.contains(attr), "{c} lacks {attr}");
            }
        }
    }

    #[test]
    fn expire_empties_the_value_and_dates_it_in_the_past() {
        let (cookies, cache) = set_cookies(CookieUpdate {
            session: Some(CookieChange::Expire),
            ..CookieUpdate::default()
        });
        assert_eq!(cache.as_deref(), Some("no-store"));
        assert_eq!(cookies.len(), 1);
        assert!(cookies[0].starts_with("__Host-session=;"), "{cookies:?}");
        assert!(cookies[0].contains("Max-Age=0"), "{cookies:?}");
        assert!(cookies[0].contains("1970"), "{cookies:?}");
    }

    #[test]
    fn cookie_values_are_redacted_in_debug() {
        let change = CookieChange::Set {
            value: "secret-token".into(),
            max_age: None,
        };
        assert!(!format!("{change:?}").contains("secret-token"));
    }
}
