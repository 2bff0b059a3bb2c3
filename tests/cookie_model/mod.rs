//! A model of how the session layer reads its cookies, written independently
//! of the crate. Shared by the property tests (`tests/hostile.rs`) and the
//! fuzz target (`fuzz/fuzz_targets/cookies.rs`), which include this file.

#![allow(dead_code)]

use axum::http::{HeaderMap, header};

/// The base64url alphabet, in order (index = 6-bit value).
pub(crate) const B64: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub(crate) fn b64_index(c: u8) -> Option<usize> {
    B64.iter().position(|&x| x == c)
}

/// Model of a session token, written independently of the crate: the
/// secret alone (0.1's form), or `id.secret`, the id 22 base64url
/// characters (16 bytes), canonical.
pub(crate) fn model_token(s: &[u8]) -> bool {
    model_secret(s)
        || (s.len() == 66 && s[22] == b'.' && model_selector(&s[..22]) && model_secret(&s[23..]))
}

/// A secret: 43 base64url characters (32 bytes) whose last character leaves
/// the two unused bits at zero (the one canonical spelling).
pub(crate) fn model_secret(s: &[u8]) -> bool {
    s.len() == 43
        && s.iter().all(|&c| b64_index(c).is_some())
        && b64_index(s[42]).is_some_and(|i| i % 4 == 0)
}

/// A remember-me selector: 22 base64url characters (16 bytes), canonical.
pub(crate) fn model_selector(s: &[u8]) -> bool {
    s.len() == 22
        && s.iter().all(|&c| b64_index(c).is_some())
        && b64_index(s[21]).is_some_and(|i| i % 16 == 0)
}

/// A remember-me cookie: `selector.validator`.
pub(crate) fn model_remember(s: &[u8]) -> bool {
    s.len() == 66 && s[22] == b'.' && model_selector(&s[..22]) && model_secret(&s[23..])
}

/// Every value given to cookie `name` across all `Cookie` headers (pairs split
/// on `;`, name and value trimmed, one pair of double quotes removed).
pub(crate) fn occurrences<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    for line in headers.get_all(header::COOKIE) {
        for pair in line.as_bytes().split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if pair[..eq].trim_ascii() != name.as_bytes() {
                continue;
            }
            let mut v = pair[eq + 1..].trim_ascii();
            if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
                v = &v[1..v.len() - 1];
            }
            out.push(v);
        }
    }
    out
}

/// What the layer should make of cookie `name`: `None` absent, `Some(true)`
/// one well-formed value (repeated identically at most), `Some(false)`
/// anything else.
pub(crate) fn expected(headers: &HeaderMap, name: &str, valid: fn(&[u8]) -> bool) -> Option<bool> {
    let occ = occurrences(headers, name);
    let first = *occ.first()?;
    Some(occ.iter().all(|v| *v == first) && valid(first))
}
