//! The `Set-Cookie` text of one cookie, as the `cookie` crate would write
//! it, written out directly for our names and tokens.

use super::{CookieConfig, SameSite};
use axum::http::HeaderValue;
use std::fmt;
use tower_cookies::cookie::{self, Cookie};

impl CookieConfig {
    /// A `Set-Cookie` value. `max_age`: `None` for a browser-session cookie,
    /// `Some(0)` to expire it.
    ///
    /// Written out directly when the name and value need no percent-encoding
    /// (always, with our names and tokens): the same text as the `cookie`
    /// crate's [`header_via_cookie_crate`](Self::header_via_cookie_crate),
    /// which renders anything else, without its builder and formatter on
    /// every response that sets a cookie.
    pub(super) fn header(
        &self, name: &str, value: &str, max_age: Option<i64>,
    ) -> Option<HeaderValue> {
        if !(is_plain(name) && is_plain(value)) {
            return HeaderValue::try_from(self.header_via_cookie_crate(name, value, max_age)).ok();
        }
        let mut text = String::with_capacity(160);
        for part in [name, "=", value, "; HttpOnly; SameSite="] {
            text.push_str(part);
        }
        text.push_str(match self.same_site {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
        });
        if self.secure {
            text.push_str("; Secure");
        }
        text.push_str("; Path=");
        text.push_str(&self.path);
        if let Some(domain) = &self.domain {
            // As the `cookie` crate writes it: without a leading dot.
            text.push_str("; Domain=");
            text.push_str(domain.strip_prefix('.').unwrap_or(domain));
        }
        match max_age {
            Some(0) => text.push_str("; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(secs) => {
                use fmt::Write as _;
                let _ = write!(text, "; Max-Age={secs}");
            }
            None => {}
        }
        HeaderValue::try_from(text).ok()
    }

    /// [`header`](Self::header)'s text, as the `cookie` crate renders it.
    fn header_via_cookie_crate(&self, name: &str, value: &str, max_age: Option<i64>) -> String {
        let mut cookie = Cookie::build((name.to_owned(), value.to_owned()))
            .http_only(true)
            .secure(self.secure)
            .path(self.path.clone())
            .same_site(match self.same_site {
                SameSite::Lax => cookie::SameSite::Lax,
                SameSite::Strict => cookie::SameSite::Strict,
            });
        if let Some(domain) = &self.domain {
            cookie = cookie.domain(domain.clone());
        }
        match max_age {
            Some(0) => {
                cookie = cookie
                    .max_age(cookie::time::Duration::ZERO)
                    .expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
            }
            Some(secs) => cookie = cookie.max_age(cookie::time::Duration::seconds(secs)),
            None => {}
        }
        cookie.build().encoded().to_string()
    }
}

/// Whether the `cookie` crate writes `text` as it is in a cookie's name or
/// value: ASCII letters, digits and the few marks its percent-encoding set
/// leaves alone (base64url tokens, and names such as `__Host-session`).
fn is_plain(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!$&'*+-._~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Token;

    #[test]
    fn set_cookie_text_is_the_cookie_crates() {
        let token = Token::generate().unwrap().encode();
        let remember = format!("{}.{token}", &token[..22]);
        let mut configs = Vec::new();
        for secure in [true, false] {
            for same_site in [SameSite::Lax, SameSite::Strict] {
                for (path, domain) in [
                    ("/", None),
                    ("/app", None),
                    ("/", Some("example.com")),
                    ("/", Some(".example.com")),
                ] {
                    configs.push(CookieConfig {
                        name: "session".into(),
                        path: path.into(),
                        domain: domain.map(str::to_owned),
                        secure,
                        same_site,
                        prefixes: true,
                    });
                }
            }
        }
        let names = [
            "__Host-session",
            "__Secure-remember",
            "s",
            "a#b",
            "x%y",
            "n|m",
        ];
        let values = [token.as_str(), &remember, "", "a b", "é", "r"];
        for config in &configs {
            for name in names {
                for value in values {
                    for max_age in [None, Some(0), Some(1), Some(2_592_000)] {
                        let ours = config.header(name, value, max_age).unwrap();
                        let theirs = config.header_via_cookie_crate(name, value, max_age);
                        assert_eq!(
                            ours.to_str().unwrap(),
                            theirs,
                            "{config:?} {name} {max_age:?}"
                        );
                    }
                }
            }
        }
    }
}
