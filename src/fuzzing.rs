//! Entry points for fuzzing and property tests of the code that reads
//! untrusted input. Not part of the public API: hidden, unstable.

use crate::ClientInfo;
use crate::client::{ProxyConfig, ProxyHeader};
use axum::http::HeaderMap;
use std::net::IpAddr;

/// What the layer makes of a request's `Cookie` headers: `None` when there
/// is no session cookie, `Some(false)` when it is malformed (no query is
/// made), `Some(true)` when it is a well-formed token (looked up).
pub fn session_cookie(headers: &HeaderMap, name: &str) -> Option<bool> {
    match crate::service::read_cookie(headers, name, crate::token::Token::parse) {
        crate::session::CookieToken::Absent => None,
        crate::session::CookieToken::Malformed => Some(false),
        crate::session::CookieToken::Valid(_) => Some(true),
    }
}

/// The same for the remember-me cookie.
pub fn remember_cookie(headers: &HeaderMap, name: &str) -> Option<bool> {
    match crate::service::read_cookie(headers, name, crate::token::RememberToken::parse) {
        crate::session::CookieToken::Absent => None,
        crate::session::CookieToken::Malformed => Some(false),
        crate::session::CookieToken::Valid(_) => Some(true),
    }
}

/// Whether `value` decodes as a session token.
pub fn token_is_valid(value: &str) -> bool {
    crate::token::Token::parse(value).is_some()
}

/// The client as the layer reads it, behind `trusted` proxies using `forwarded`
/// (`true`: the `Forwarded` header; `false`: `X-Forwarded-For`).
pub fn client(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
    forwarded: bool,
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
