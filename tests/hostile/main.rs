//! Hostile input. Property tests of the code that reads untrusted request data
//! (the `Cookie` headers, the forwarding headers, the User-Agent) through the
//! hidden `fuzzing` entry points, and random hostile requests against a real
//! server on a memory store.
//!
//! Proptest picks a random seed per run and prints the failing input, shrunk;
//! `PROPTEST_RNG_SEED=<n>` replays a run. The server test uses a fixed seed,
//! `HOSTILE_SEED=<n>` to try another one.

#[path = "../common/mod.rs"]
mod common;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum_user_sessions::fuzzing::{client, remember_cookie, session_cookie, token_is_valid};
use axum_user_sessions::ipnet::IpNet;
use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

#[path = "../cookie_model/mod.rs"]
mod cookie_model;
use cookie_model::{B64, b64_index, expected, model_remember, model_token, occurrences};

fn headers_of(name: HeaderName, lines: &[Vec<u8>]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for l in lines {
        // What a client cannot even send is skipped.
        if let Ok(v) = HeaderValue::from_bytes(l) {
            h.append(name.clone(), v);
        }
    }
    h
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Every address spelled somewhere in `text` (any substring that parses),
/// canonical.
fn addresses_in(text: &str) -> Vec<IpAddr> {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let mut out = Vec::new();
    for (n, &start) in bounds.iter().enumerate() {
        for &end in bounds[n + 1..].iter().take_while(|&&e| e - start <= 45) {
            if let Ok(ip) = text[start..end].parse::<IpAddr>() {
                out.push(canonical(ip));
            }
        }
    }
    out
}

mod properties;
mod server;
mod strategies;
