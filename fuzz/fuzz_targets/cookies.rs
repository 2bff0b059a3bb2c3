//! The `Cookie` headers as the session layer reads them.
//!
//! Input: the first byte picks the cookie names (three usual pairs, or a
//! name taken from the first line); the rest, split on `\n`, is one `Cookie`
//! header value per line (values `HeaderValue` rejects are skipped, as no
//! client can send them).
//!
//! Checks: no panic; "well-formed" (`Some(true)`) only when every cookie of
//! that name holds the same value and that value is a canonical token (43
//! base64url characters; for remember-me, `selector.validator`, 22 + 1 + 43),
//! accepted by `token_is_valid` too; and the whole answer (absent, malformed,
//! well-formed) agrees with a model written independently here.

#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use axum_user_sessions::fuzzing::{remember_cookie, session_cookie, token_is_valid};
use libfuzzer_sys::fuzz_target;

const NAMES: &[(&str, &str)] = &[
    ("__Host-session", "__Host-remember"),
    ("session", "remember"),
    ("id", "id"),
];

#[path = "../../tests/cookie_model/mod.rs"]
mod cookie_model;
use cookie_model::{model_remember, model_token, occurrences};

fn check(
    headers: &HeaderMap,
    name: &str,
    got: Option<bool>,
    valid: fn(&[u8]) -> bool,
    is_session: bool,
) {
    let occ = occurrences(headers, name);
    if got == Some(true) {
        assert!(!occ.is_empty(), "{name}: well-formed, yet absent");
        assert!(
            occ.iter().all(|v| *v == occ[0]),
            "{name}: well-formed, yet given different values"
        );
        assert!(
            valid(occ[0]),
            "{name}: accepted {:?}",
            String::from_utf8_lossy(occ[0])
        );
        let text = std::str::from_utf8(occ[0]).expect("an accepted value is text");
        if is_session {
            assert!(token_is_valid(text));
        } else {
            assert!(token_is_valid(&text[23..]));
        }
    }
    let expected = cookie_model::expected(headers, name, valid);
    assert_eq!(got, expected, "{name}: the layer and the model disagree");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut lines = rest.split(|&b| b == b'\n');
    let owned;
    let (s_name, r_name) = match NAMES.get(usize::from(mode % 4)) {
        Some(pair) => *pair,
        None => {
            owned = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
            (owned.as_str(), owned.as_str())
        }
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(header::COOKIE, v);
        }
    }
    let s = session_cookie(&headers, s_name);
    let r = remember_cookie(&headers, r_name);
    check(&headers, s_name, s, model_token, true);
    check(&headers, r_name, r, model_remember, false);
});
