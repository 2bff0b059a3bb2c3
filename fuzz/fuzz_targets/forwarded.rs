//! The client as the session layer reads it: `X-Forwarded-For`, `Forwarded`
//! and `User-Agent` behind a set of trusted proxies.
//!
//! Input: byte 0 picks the header read (`Forwarded` or `X-Forwarded-For`)
//! and the peer's kind (none, IPv4, IPv6, IPv4-mapped IPv6); byte 1 picks the
//! trusted networks among a fixed set; the next 16 bytes are the peer's
//! address; the rest, split on `\n`, are header lines, each sent to
//! `X-Forwarded-For`, `Forwarded` or `User-Agent` by its first byte.
//!
//! Checks: no panic; an address exactly when there is a peer; the peer itself
//! when it is not a trusted proxy (so always with no trusted proxy);
//! otherwise the peer or an address spelled in the header read; when the
//! answer is an untrusted address, neither a header line added before the
//! others nor entries (non-text bytes included) added on the left of the
//! first line change it (a client cannot spoof its way left of its proxy);
//! the User-Agent is non-empty, at most 512 characters, without control
//! characters.

#![no_main]

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum_user_sessions::fuzzing::client;
use axum_user_sessions::ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const NETS: &[&str] = &[
    "10.0.0.0/8",
    "127.0.0.0/8",
    "fd00::/8",
    "::1/128",
    "192.168.0.0/16",
    "0.0.0.0/0",
    "2001:db8::/32",
    "::/0",
];

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `text` spells `ip` somewhere (any substring that parses to it).
fn spelled_in(text: &str, ip: IpAddr) -> bool {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    bounds.iter().enumerate().any(|(n, &start)| {
        bounds[n + 1..]
            .iter()
            .take_while(|&&end| end - start <= 45)
            .any(|&end| {
                text[start..end]
                    .parse::<IpAddr>()
                    .is_ok_and(|p| canonical(p) == ip)
            })
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 18 {
        return;
    }
    let (head, rest) = data.split_at(18);
    let forwarded = head[0] & 1 == 1;
    let mut addr = [0u8; 16];
    addr.copy_from_slice(&head[2..18]);
    let peer = match (head[0] >> 1) % 4 {
        0 => None,
        1 => Some(IpAddr::V4(Ipv4Addr::new(
            addr[0], addr[1], addr[2], addr[3],
        ))),
        2 => Some(IpAddr::V6(Ipv6Addr::from(addr))),
        _ => Some(IpAddr::V6(
            Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_ipv6_mapped(),
        )),
    };
    let trusted: Vec<IpNet> = NETS
        .iter()
        .enumerate()
        .filter(|(i, _)| head[1] & (1 << i) != 0)
        .map(|(_, n)| n.parse().unwrap())
        .collect();

    let xff = HeaderName::from_static("x-forwarded-for");
    let mut headers = HeaderMap::new();
    for line in rest.split(|&b| b == b'\n') {
        let Some((&to, value)) = line.split_first() else {
            continue;
        };
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        let name = match to % 3 {
            0 => xff.clone(),
            1 => header::FORWARDED,
            _ => header::USER_AGENT,
        };
        headers.append(name, value);
    }

    let info = client(peer, &headers, &trusted, forwarded);
    let ip = info.ip();
    let peer = peer.map(canonical);
    assert_eq!(ip.is_some(), peer.is_some());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(&ip));
    if let Some(p) = peer
        && !is_trusted(p)
    {
        assert_eq!(ip, Some(p), "an untrusted peer's headers were believed");
    }
    if let Some(ip) = ip
        && Some(ip) != peer
    {
        let name = if forwarded {
            header::FORWARDED
        } else {
            xff.clone()
        };
        let text: Vec<String> = headers
            .get_all(&name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let text = text.join("\n");
        assert!(spelled_in(&text, ip), "{ip} is not in {text:?}");

        // The walk stopped at an untrusted address: whatever the client put
        // further left (here, a whole line first) is never looked at.
        if !is_trusted(ip) {
            let spoof = if forwarded {
                "for=6.6.6.6, for=\"[2001:db8::66]\""
            } else {
                "6.6.6.6, [2001:db8::66]:1"
            };
            let mut spoofed = HeaderMap::new();
            spoofed.append(&name, HeaderValue::from_static(spoof));
            for (k, v) in headers.iter() {
                spoofed.append(k, v.clone());
            }
            let again = client(peer, &spoofed, &trusted, forwarded).ip();
            assert_eq!(
                again,
                Some(ip),
                "a line added on the left changed the answer"
            );

            // The same on the first line itself, with bytes that are not
            // text, as a proxy appending `, <addr>` to the client's header
            // produces.
            let mut spoofed = HeaderMap::new();
            for (n, v) in headers.get_all(&name).iter().enumerate() {
                let v = if n == 0 {
                    let line = [
                        &b"\xff\xfe, 6.6.6.6\t, "[..],
                        spoof.as_bytes(),
                        b", ",
                        v.as_bytes(),
                    ];
                    HeaderValue::from_bytes(&line.concat()).expect("a valid header value")
                } else {
                    v.clone()
                };
                spoofed.append(&name, v);
            }
            let again = client(peer, &spoofed, &trusted, forwarded).ip();
            assert_eq!(
                again,
                Some(ip),
                "entries added on the left of a line changed the answer"
            );
        }
    }

    if let Some(ua) = info.user_agent() {
        assert!(!ua.is_empty());
        assert!(
            ua.chars().count() <= 512,
            "{} characters",
            ua.chars().count()
        );
        assert!(!ua.chars().any(char::is_control), "{ua:?}");
    }
});
