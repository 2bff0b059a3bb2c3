//! Entry points for fuzzing and property tests of the code that reads
//! untrusted input. Not part of the public API: hidden, unstable.

use crate::client::{ClientInfo, ProxyConfig, ProxyHeader};
use crate::cookie::{CookieToken, read_cookie};
use crate::token::{RememberToken, SessionToken};
use axum::http::HeaderMap;
use std::net::IpAddr;

/// What the layer makes of a request's `Cookie` headers: `None` when there
/// is no session cookie, `Some(false)` when it is malformed (no query is
/// made), `Some(true)` when it is a well-formed token (looked up).
pub fn session_cookie(headers: &HeaderMap, name: &str) -> Option<bool> {
    match read_cookie(headers, name, SessionToken::parse) {
        CookieToken::Absent => None,
        CookieToken::Malformed => Some(false),
        CookieToken::Valid(_) => Some(true),
    }
}

/// The same for the remember-me cookie.
pub fn remember_cookie(headers: &HeaderMap, name: &str) -> Option<bool> {
    match read_cookie(headers, name, RememberToken::parse) {
        CookieToken::Absent => None,
        CookieToken::Malformed => Some(false),
        CookieToken::Valid(_) => Some(true),
    }
}

/// Whether `value` decodes as a session token.
pub fn token_is_valid(value: &str) -> bool {
    SessionToken::parse(value).is_some()
}

/// The client as the layer reads it, behind `trusted` proxies using `forwarded`
/// (`true`: the `Forwarded` header; `false`: `X-Forwarded-For`).
pub fn client(
    peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[ipnet::IpNet], forwarded: bool,
) -> ClientInfo {
    let proxies = ProxyConfig {
        trusted: trusted.to_vec(),
        header: if forwarded {
            ProxyHeader::Forwarded
        } else {
            ProxyHeader::XForwardedFor
        },
    };
    let peer = peer.map(|ip| axum::extract::ConnectInfo(std::net::SocketAddr::new(ip, 1)));
    ClientInfo::read(&proxies, peer.as_ref(), headers)
}
