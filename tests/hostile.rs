//! Hostile input. Property tests of the code that reads untrusted request data
//! (the `Cookie` headers, the forwarding headers, the User-Agent) through the
//! hidden `fuzzing` entry points, and random hostile requests against a real
//! server on a memory store.
//!
//! Proptest picks a random seed per run and prints the failing input, shrunk;
//! `PROPTEST_RNG_SEED=<n>` replays a run. The server test uses a fixed seed,
//! `HOSTILE_SEED=<n>` to try another one.

mod common;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum_user_sessions::IpNet;
use axum_user_sessions::fuzzing::{client, remember_cookie, session_cookie, token_is_valid};
use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

#[path = "cookie_model/mod.rs"]
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

// ---------------------------------------------------------------------------
// Strategies.

/// A byte a client can put in a header value (visible ASCII, space, tab,
/// obs-text), with the cookie and list separators made frequent.
fn header_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        8 => 0x20u8..0x7f,
        3 => 0x80u8..=0xff,
        1 => Just(b'\t'),
        2 => prop::sample::select(b";=\",[]:.".to_vec()),
    ]
}

/// A header line: mostly bytes a client can send, sometimes anything at all
/// (which `HeaderValue::from_bytes` may reject; such lines are skipped).
fn header_bytes(max: usize) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        9 => vec(header_byte(), 0..max),
        1 => vec(any::<u8>(), 0..max),
    ]
    .boxed()
}

/// Up to `max` bytes like `header_byte`'s, made from a seed: long values are
/// cheap to generate this way (they shrink by length only).
fn long_header_bytes(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), min..max).prop_map(|(seed, n)| {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match x % 14 {
                    0..=7 => 0x20 + ((x >> 8) % 95) as u8,
                    8..=10 => 0x80 + ((x >> 8) % 128) as u8,
                    11 => b'\t',
                    _ => b";=\",[]:."[((x >> 8) % 8) as usize],
                }
            })
            .collect()
    })
}

fn token_string() -> impl Strategy<Value = String> {
    (vec(0usize..64, 42), 0usize..16).prop_map(|(body, last)| {
        body.iter()
            .map(|&i| B64[i] as char)
            .chain([B64[last * 4] as char])
            .collect()
    })
}

fn selector_string() -> impl Strategy<Value = String> {
    (vec(0usize..64, 21), 0usize..4).prop_map(|(body, last)| {
        body.iter()
            .map(|&i| B64[i] as char)
            .chain([B64[last * 16] as char])
            .collect()
    })
}

/// A cookie value: well-formed tokens, near misses, and junk.
fn cookie_value() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        6 => token_string().prop_map(String::into_bytes),
        1 => token_string().prop_map(|t| format!("\"{t}\"").into_bytes()),
        1 => token_string().prop_map(|t| format!(" \t{t}\t ").into_bytes()),
        5 => (selector_string(), token_string()).prop_map(|(s, t)| format!("{s}.{t}").into_bytes()),
        1 => (selector_string(), token_string(), 0usize..66, header_byte()).prop_map(|(s, t, i, b)| {
            let mut v = format!("{s}.{t}").into_bytes();
            v[i] = b;
            v
        }),
        2 => (token_string(), 0usize..43, header_byte()).prop_map(|(t, i, b)| {
            let mut v = t.into_bytes();
            v[i] = b;
            v
        }),
        1 => token_string().prop_map(|t| t.as_bytes()[..42].to_vec()),
        1 => token_string().prop_map(|t| format!("{t}A").into_bytes()),
        1 => token_string().prop_map(|t| format!("{t}=").into_bytes()),
        // Any last character: non-canonical three times in four.
        1 => vec(0usize..64, 43).prop_map(|v| v.iter().map(|&i| B64[i]).collect()),
        1 => token_string().prop_map(|t| {
            let mut v = t.into_bytes();
            v[10] = 0xc3; // invalid UTF-8 in the middle
            v
        }),
        2 => header_bytes(80),
        1 => Just(Vec::new()),
    ]
    .boxed()
}

/// The cookie names a test is run with: (session cookie, remember cookie).
const NAMES: &[(&str, &str)] = &[
    ("__Host-session", "__Host-remember"),
    ("session", "remember"),
    ("id", "id"), // the same name for both: each reads it its own way
];

/// A cookie name near `name`: itself, case or suffix variants, others.
fn cookie_name(name: &'static str, other: &'static str) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        4 => Just(name.as_bytes().to_vec()),
        2 => Just(other.as_bytes().to_vec()),
        1 => Just(name.to_uppercase().into_bytes()),
        1 => Just(format!("{name}x").into_bytes()),
        1 => Just(name.as_bytes()[1..].to_vec()),
        1 => Just(format!(" \t{name}").into_bytes()),
        1 => Just(format!("\"{name}\"").into_bytes()),
        1 => Just(b"a".to_vec()),
        1 => header_bytes(12),
    ]
    .boxed()
}

/// One `Cookie` header line: structured pairs, or junk.
fn cookie_line(name: &'static str, other: &'static str) -> BoxedStrategy<Vec<u8>> {
    let pair = (cookie_name(name, other), cookie_value()).prop_map(|(n, v)| {
        let mut p = n;
        p.push(b'=');
        p.extend(v);
        p
    });
    let sep = prop::sample::select(vec![";", "; ", " ;", ";;", ";\t", " ; "]);
    let structured = vec((pair, sep), 1..5).prop_map(|pairs| {
        let mut line = Vec::new();
        for (p, s) in pairs {
            line.extend(p);
            line.extend(s.bytes());
        }
        line
    });
    prop_oneof![
        6 => structured,
        2 => header_bytes(200),
        1 => long_header_bytes(2000, 6000),
    ]
    .boxed()
}

fn cookie_case() -> impl Strategy<Value = (usize, Vec<Vec<u8>>)> {
    (0..NAMES.len()).prop_flat_map(|i| {
        let (s, r) = NAMES[i];
        // Lines aimed at either name, as many as a browser might send.
        let lines = vec(prop_oneof![cookie_line(s, r), cookie_line(r, s)], 0..4);
        // Often, among them, what a browser sends: our cookies, well formed.
        let browser = prop::option::weighted(
            0.6,
            (
                prop::option::of(token_string()),
                prop::option::of((selector_string(), token_string())),
                any::<prop::sample::Index>(),
            ),
        );
        (Just(i), lines, browser).prop_map(move |(i, mut lines, browser)| {
            if let Some((token, remember, at)) = browser {
                let mut pairs = vec!["theme=dark".to_owned()];
                if let Some(t) = token {
                    pairs.push(format!("{s}={t}"));
                }
                if let Some((sel, val)) = remember {
                    pairs.push(format!("{r}={sel}.{val}"));
                }
                let at = at.index(lines.len() + 1);
                lines.insert(at, pairs.join("; ").into_bytes());
            }
            (i, lines)
        })
    })
}

fn v4() -> BoxedStrategy<IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n))),
        any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff)))),
        prop::sample::select(vec![
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "203.0.113.7",
            "192.168.1.1",
            "10.0.0.1",
        ])
        .prop_map(|s| s.parse().unwrap()),
    ]
    .boxed()
}

fn v6() -> BoxedStrategy<IpAddr> {
    prop_oneof![
        any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n))),
        any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from((0xfd << 120) | (n >> 8)))),
        // IPv4-mapped: the same address as the IPv4 one, to the layer.
        any::<u32>()
            .prop_map(|n| IpAddr::V6(Ipv4Addr::from(0x0a00_0000 | (n & 0xffff)).to_ipv6_mapped())),
        prop::sample::select(vec![
            "::1",
            "::",
            "2001:db8::5",
            "fe80::1",
            "::ffff:203.0.113.7"
        ])
        .prop_map(|s| s.parse().unwrap()),
    ]
    .boxed()
}

fn any_ip() -> BoxedStrategy<IpAddr> {
    prop_oneof![v4(), v6()].boxed()
}

fn peer() -> impl Strategy<Value = Option<IpAddr>> {
    let proxy = prop::sample::select(vec![
        "10.0.0.1",
        "127.0.0.1",
        "fd00::1",
        "::ffff:10.1.2.3",
        "::1",
    ])
    .prop_map(|s| s.parse().unwrap());
    prop_oneof![1 => Just(None), 4 => any_ip().prop_map(Some), 4 => proxy.prop_map(Some)]
}

fn trusted_nets() -> BoxedStrategy<Vec<IpNet>> {
    let fixed = prop::sample::select(vec![
        "10.0.0.0/8",
        "127.0.0.1/32",
        "fd00::/8",
        "::1/128",
        "192.168.0.0/16",
        "0.0.0.0/0",
        "::/0",
    ])
    .prop_map(|s| s.parse::<IpNet>().unwrap());
    let random = (any_ip(), any::<u8>()).prop_map(|(ip, len)| {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        IpNet::new(ip, len % (max + 1)).unwrap().trunc()
    });
    vec(prop_oneof![3 => fixed, 1 => random], 0..4).boxed()
}

/// An address as a proxy or a client may write it in a list.
fn ip_text(ip: IpAddr) -> BoxedStrategy<String> {
    match ip {
        IpAddr::V4(a) => prop_oneof![
            Just(a.to_string()),
            any::<u16>().prop_map(move |p| format!("{a}:{p}")),
            Just(format!("\"{a}\"")),
            Just(format!(" {a} ")),
        ]
        .boxed(),
        IpAddr::V6(a) => prop_oneof![
            Just(a.to_string()),
            any::<u16>().prop_map(move |p| format!("[{a}]:{p}")),
            Just(format!("[{a}]")),
            Just(format!("\"[{a}]:4711\"")),
            Just(format!("{a:?}").to_uppercase()),
        ]
        .boxed(),
    }
}

/// One entry of an `X-Forwarded-For` list, or the `for=` element of a
/// `Forwarded` list (`forwarded`).
fn entry(forwarded: bool) -> BoxedStrategy<String> {
    let addr = any_ip().prop_flat_map(ip_text);
    let junk = prop_oneof![
        prop::sample::select(vec![
            "unknown", "_hidden", "", " ", "[", "[]", "\"", "[::1", "1.2.3"
        ])
        .prop_map(str::to_owned),
        vec(header_byte(), 0..20).prop_map(|v| String::from_utf8_lossy(&v).replace(',', "")),
    ];
    let e = prop_oneof![4 => addr, 1 => junk];
    if forwarded {
        (
            e,
            prop::sample::select(vec![
                "for=",
                "For=",
                "FOR = ",
                "by=1.2.3.4;for=",
                "proto=https;for=",
            ]),
        )
            .prop_map(|(e, k)| format!("{k}{e}"))
            .boxed()
    } else {
        e.boxed()
    }
}

/// A forwarding header line: a list of entries, or junk bytes.
fn forward_line(forwarded: bool) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        4 => vec(entry(forwarded), 0..6).prop_map(|v| v.join(", ").into_bytes()),
        1 => vec(entry(forwarded), 0..6).prop_map(|v| v.join(",").into_bytes()),
        2 => header_bytes(120),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------
// Properties.

proptest! {
    // No regression files next to the tests: a failure prints its input, and
    // `PROPTEST_RNG_SEED` replays a run.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(256)
    })]

    /// 1. The cookie reader never panics, and says "well-formed token" only
    ///    for exactly one well-formed value under our name.
    #[test]
    fn cookie_headers((names, lines) in cookie_case()) {
        let (s_name, r_name) = NAMES[names];
        let h = headers_of(header::COOKIE, &lines);
        let s = session_cookie(&h, s_name);
        let r = remember_cookie(&h, r_name);
        if s == Some(true) {
            let occ = occurrences(&h, s_name);
            prop_assert!(!occ.is_empty() && occ.iter().all(|v| *v == occ[0]));
            prop_assert!(model_token(occ[0]), "accepted {:?}", String::from_utf8_lossy(occ[0]));
            prop_assert!(token_is_valid(std::str::from_utf8(occ[0]).unwrap()));
        }
        if r == Some(true) {
            let occ = occurrences(&h, r_name);
            prop_assert!(!occ.is_empty() && occ.iter().all(|v| *v == occ[0]));
            prop_assert!(model_remember(occ[0]), "accepted {:?}", String::from_utf8_lossy(occ[0]));
        }
        // And the whole answer agrees with the model (absent / malformed / valid).
        prop_assert_eq!(s, expected(&h, s_name, model_token));
        prop_assert_eq!(r, expected(&h, r_name, model_remember));
    }

    /// 1b. Raw junk in many lines: no panic, and never a valid token unless
    ///     the model agrees.
    #[test]
    fn cookie_junk(lines in vec(header_bytes(300), 0..8), big in long_header_bytes(0, 20_000)) {
        let mut lines = lines;
        lines.push(big);
        let h = headers_of(header::COOKIE, &lines);
        for (s_name, r_name) in NAMES {
            prop_assert_eq!(session_cookie(&h, s_name), expected(&h, s_name, model_token));
            prop_assert_eq!(remember_cookie(&h, r_name), expected(&h, r_name, model_remember));
        }
    }

    /// 2. `token_is_valid` accepts exactly the canonical 43-character
    ///    base64url strings.
    #[test]
    fn token_validity(s in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{43}",
        "[A-Za-z0-9_+/=-]{42,44}",
        token_string(),
        (token_string(), any::<char>(), 0usize..43).prop_map(|(t, c, i)| {
            let mut chars: Vec<char> = t.chars().collect();
            chars[i] = c;
            chars.into_iter().collect()
        }),
    ]) {
        let ok = token_is_valid(&s);
        if ok {
            prop_assert_eq!(s.len(), 43);
            prop_assert!(s.bytes().all(|c| b64_index(c).is_some()));
        }
        prop_assert_eq!(ok, model_token(s.as_bytes()), "{:?}", s);
    }

    /// 3. The client address: no panic; the peer when it is not a trusted
    ///    proxy (always, with no trusted proxies); otherwise the peer or an
    ///    address spelled in the configured header.
    #[test]
    fn client_address(
        peer in peer(),
        trusted in trusted_nets(),
        forwarded in any::<bool>(),
        xff in vec(forward_line(false), 0..4),
        fwd in vec(forward_line(true), 0..4),
    ) {
        let mut h = headers_of(HeaderName::from_static("x-forwarded-for"), &xff);
        for (k, v) in headers_of(header::FORWARDED, &fwd).iter() {
            h.append(k, v.clone());
        }
        let ip = client(peer, &h, &trusted, forwarded).ip();
        let peer = peer.map(canonical);
        prop_assert_eq!(ip.is_some(), peer.is_some());
        if trusted.is_empty() {
            prop_assert_eq!(client(peer, &h, &[], forwarded).ip(), peer);
            prop_assert_eq!(ip, peer);
        }
        if let Some(p) = peer && !trusted.iter().any(|n| n.contains(&p)) {
            prop_assert_eq!(ip, Some(p), "an untrusted peer's headers were believed");
        }
        if let Some(ip) = ip && Some(ip) != peer {
            let name = if forwarded { "forwarded" } else { "x-forwarded-for" };
            let text: Vec<String> = h
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            let text = text.join("\n");
            prop_assert!(addresses_in(&text).contains(&ip), "{} is not in {:?}", ip, text);
        }
    }

    /// 3b. Spoofing: behind trusted proxies, the rightmost untrusted address
    ///     is the client, whatever the client wrote to its left, on earlier
    ///     header lines or on the same line (any bytes a client can send,
    ///     obs-text included).
    #[test]
    fn spoofed_left_entries_change_nothing(
        forwarded in any::<bool>(),
        extra_trusted in trusted_nets(),
        peer in prop_oneof![
            any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff)))),
            any::<u32>().prop_map(|n| IpAddr::V6(Ipv4Addr::from(0x0a00_0000 | (n & 0xffff)).to_ipv6_mapped())),
            any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from((0xfd << 120) | (n >> 8)))),
        ],
        client_ip in any_ip().prop_flat_map(|ip| (Just(ip), ip_text(ip))),
        hops in vec(prop_oneof![
            any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff)))),
            any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from((0xfd << 120) | (n >> 8)))),
        ].prop_flat_map(ip_text), 0..4),
        hops_on_own_lines in any::<bool>(),
        left in vec(forward_line(false), 0..3),
        junk_lines in vec(header_bytes(100), 1..4),
        junk_entries in vec(vec(header_byte(), 0..30), 1..4),
    ) {
        let mut trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
        trusted.extend(extra_trusted);
        let (client_ip, client_text) = client_ip;
        let client_ip = canonical(client_ip);
        prop_assume!(!trusted.iter().any(|n| n.contains(&client_ip)));
        let name = if forwarded { header::FORWARDED } else { HeaderName::from_static("x-forwarded-for") };
        let el = |s: &str| if forwarded { format!("for={s}") } else { s.to_owned() };
        // What the proxies wrote: the client's address, then their own hops.
        let mut right: Vec<String> = vec![el(&client_text)];
        right.extend(hops.iter().map(|h| el(h)));
        let right_lines: Vec<String> = if hops_on_own_lines { right.clone() } else { vec![right.join(", ")] };
        let mut lines: Vec<Vec<u8>> = left;
        lines.extend(right_lines.iter().map(|l| l.clone().into_bytes()));
        let base = headers_of(name.clone(), &lines);
        let answer = client(Some(peer), &base, &trusted, forwarded).ip();
        prop_assert_eq!(answer, Some(client_ip), "headers {:?}", base);

        // More lines before: the same answer.
        let mut more = junk_lines.clone();
        more.extend(lines.iter().cloned());
        let h = headers_of(name.clone(), &more);
        prop_assert_eq!(client(Some(peer), &h, &trusted, forwarded).ip(), answer, "headers {:?}", h);

        // Entries prepended on the line that holds the client's address, as a
        // proxy appending `, <addr>` to what the client sent produces.
        let junk = junk_entries.join(&b", "[..]);
        let mut same = lines.clone();
        let at = same.len() - right_lines.len();
        same[at] = [&junk[..], b", ", right_lines[0].as_bytes()].concat();
        let h = headers_of(name, &same);
        prop_assert_eq!(client(Some(peer), &h, &trusted, forwarded).ip(), answer, "headers {:?}", h);
    }

    /// 4. The User-Agent: no panic, at most 512 characters, no control
    ///    characters; printable ASCII is kept as is.
    #[test]
    fn user_agent(ua in prop_oneof![header_bytes(700), long_header_bytes(0, 3000), "[ -~]{0,600}".prop_map(String::into_bytes)]) {
        let h = headers_of(header::USER_AGENT, std::slice::from_ref(&ua));
        let info = client(None, &h, &[], false);
        if let Some(got) = info.user_agent() {
            prop_assert!(!got.is_empty());
            prop_assert!(got.chars().count() <= 512, "{} chars", got.chars().count());
            prop_assert!(!got.chars().any(char::is_control), "{:?}", got);
        }
        if h.contains_key(header::USER_AGENT) && ua.iter().all(|b| (0x20..0x7f).contains(b)) && !ua.is_empty() {
            let want = &ua[..ua.len().min(512)];
            prop_assert_eq!(info.user_agent().map(str::as_bytes), Some(want));
        }
    }
}

/// A client that puts bytes a browser never would (here `\xff`) in
/// `X-Forwarded-For`, in front of the address its proxy appends on the same
/// line (nginx's `$proxy_add_x_forwarded_for` does exactly that), must not
/// make that address vanish (the whole line once counted as unreadable, and
/// the client passed for the trusted proxy).
#[test]
fn spoofing_with_obs_text_on_the_same_line() {
    let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
    let peer = Some("10.0.0.1".parse().unwrap());
    let xff = HeaderName::from_static("x-forwarded-for");
    let honest = headers_of(xff.clone(), &[b"203.0.113.7".to_vec()]);
    let answer = client(peer, &honest, &trusted, false).ip();
    assert_eq!(answer, "203.0.113.7".parse().ok());
    let spoofed = headers_of(xff, &[b"\xff, 203.0.113.7".to_vec()]);
    assert_eq!(client(peer, &spoofed, &trusted, false).ip(), answer);
}

// ---------------------------------------------------------------------------
// 5. Random hostile requests through a real server.

const SESSION: &str = "__Host-session";
const REMEMBER: &str = "__Host-remember";

/// A random hostile request.
struct Hostile {
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
}

fn rand_bytes(rng: &mut common::Rng, len: usize, control: bool) -> Vec<u8> {
    (0..len)
        .map(|_| {
            let r = rng.next();
            match r % 16 {
                0..=9 => 0x20 + ((r >> 8) % 95) as u8,
                10..=11 => 0x80 + ((r >> 8) % 128) as u8,
                12 => b"; =\",[]:."[((r >> 8) % 9) as usize],
                13 => b'\t',
                // Control characters (and DEL), but never CR or LF: the raw
                // client must keep the request's framing.
                _ if control => {
                    let b = ((r >> 8) % 33) as u8;
                    match b {
                        b'\r' | b'\n' => 0,
                        32 => 0x7f,
                        b => b,
                    }
                }
                _ => b'a' + ((r >> 8) % 26) as u8,
            }
        })
        .collect()
}

fn rand_token(rng: &mut common::Rng) -> String {
    let mut t: String = (0..42)
        .map(|_| B64[(rng.next() % 64) as usize] as char)
        .collect();
    t.push(B64[(rng.next() % 16 * 4) as usize] as char);
    t
}

fn rand_len(rng: &mut common::Rng, max: u64) -> usize {
    // Mostly short, sometimes up to `max`.
    let m = if rng.chance(0.8) { max.min(64) } else { max };
    (rng.next() % (m + 1)) as usize
}

fn rand_cookie_line(rng: &mut common::Rng, known: &str, control: bool) -> Vec<u8> {
    match rng.next() % 8 {
        0 => {
            let n = rand_len(rng, 400);
            rand_bytes(rng, n, control)
        }
        // Many cookies.
        1 => {
            let n = 50 + rng.next() % 300;
            let mut line: Vec<u8> = (0..n)
                .map(|i| format!("c{i}=v{}", rng.next() % 1000))
                .collect::<Vec<_>>()
                .join("; ")
                .into_bytes();
            if rng.chance(0.5) {
                line.extend(format!("; {SESSION}={}", rand_token(rng)).bytes());
            }
            line
        }
        // Huge.
        2 => {
            let n = 8_000 + rng.next() % 60_000;
            let mut v = format!("{SESSION}=").into_bytes();
            v.extend(rand_bytes(rng, n as usize, control));
            v
        }
        // Our names with junk, near-misses, known or unknown tokens.
        _ => {
            let mut pairs = Vec::new();
            for _ in 0..1 + rng.next() % 5 {
                let name = match rng.next() % 5 {
                    0 | 1 => SESSION.as_bytes().to_vec(),
                    2 => REMEMBER.as_bytes().to_vec(),
                    3 => b"session".to_vec(),
                    _ => {
                        let n = rand_len(rng, 10);
                        rand_bytes(rng, n, control)
                    }
                };
                let value = match rng.next() % 9 {
                    0 => known.as_bytes().to_vec(),
                    1 => rand_token(rng).into_bytes(),
                    2 => rand_token(rng).as_bytes()[..42].to_vec(),
                    3 => format!("\"{}\"", rand_token(rng)).into_bytes(),
                    4 => format!("{}.{}", &rand_token(rng)[..22], rand_token(rng)).into_bytes(),
                    5 => b"\xff\xfe\xc3".to_vec(),
                    6 => Vec::new(),
                    _ => {
                        let n = rand_len(rng, 120);
                        rand_bytes(rng, n, control)
                    }
                };
                let mut p = name;
                p.push(b'=');
                p.extend(value);
                pairs.push(p);
            }
            pairs.join(&b"; "[..])
        }
    }
}

fn forward_junk(rng: &mut common::Rng, control: bool) -> Vec<u8> {
    if rng.chance(0.5) {
        let n = 1 + rng.next() % 6;
        (0..n)
            .map(|_| match rng.next() % 5 {
                0 => Ipv4Addr::from(rng.next() as u32).to_string(),
                1 => format!(
                    "[{}]:{}",
                    Ipv6Addr::from(rng.next() as u128),
                    rng.next() % 65536
                ),
                2 => format!("for={}", Ipv4Addr::from(rng.next() as u32)),
                3 => "unknown".into(),
                _ => String::from_utf8_lossy(&rand_bytes(rng, 10, false)).replace(',', ""),
            })
            .collect::<Vec<_>>()
            .join(", ")
            .into_bytes()
    } else {
        let n = rand_len(rng, 500);
        rand_bytes(rng, n, control)
    }
}

fn hostile(rng: &mut common::Rng, known: &str) -> Hostile {
    const ROUTES: &[(&str, &str)] = &[
        ("GET", "/me"),
        ("GET", "/kv"),
        ("POST", "/counter"),
        ("PUT", "/kv/k"),
        ("GET", "/sessions"),
    ];
    let (method, path) = ROUTES[(rng.next() % ROUTES.len() as u64) as usize];
    // One request in five may carry bytes no HTTP client would send.
    let control = rng.chance(0.2);
    let mut headers = Vec::new();
    for _ in 0..rng.next() % 7 {
        headers.push(("cookie", rand_cookie_line(rng, known, control)));
    }
    for _ in 0..rng.next() % 3 {
        headers.push(("x-forwarded-for", forward_junk(rng, control)));
    }
    for _ in 0..rng.next() % 3 {
        headers.push(("forwarded", forward_junk(rng, control)));
    }
    if rng.chance(0.7) {
        let n = rand_len(rng, 3000);
        headers.push(("user-agent", rand_bytes(rng, n, control)));
    }
    if rng.chance(0.3) {
        headers.push(("accept", b"text/html".to_vec()));
    }
    Hostile {
        method,
        path,
        headers,
    }
}

/// Sends a request over a bare TCP connection, bytes as given, and returns
/// the status of the (first) response, if any came.
async fn send_tcp(addr: SocketAddr, req: &Hostile) -> Option<u16> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let body: &[u8] = if req.method == "GET" { b"" } else { b"1" };
    let mut raw = format!(
        "{} {} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n",
        req.method,
        req.path,
        body.len()
    )
    .into_bytes();
    for (k, v) in &req.headers {
        raw.extend(k.as_bytes());
        raw.extend(b": ");
        raw.extend(v);
        raw.extend(b"\r\n");
    }
    raw.extend(b"\r\n");
    raw.extend(body);
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before reading it all (headers too
    // large): errors here are not failures. No half-close: hyper takes it for
    // a client gone and drops the request.
    let _ = s.write_all(&raw).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let line = buf.split(|&b| b == b'\r').next()?;
    let status = std::str::from_utf8(line.strip_prefix(b"HTTP/1.1 ")?).ok()?;
    status.get(..3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_through_a_real_server() {
    let seed = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2024_u64);
    println!("HOSTILE_SEED={seed}");
    let mut rng = common::Rng::new(seed);

    let b = common::Backend::memory();
    let local: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
    // The same store behind three layers: no proxy trusted, the loopback
    // peer trusted for X-Forwarded-For, or for Forwarded.
    let apps = [
        common::serve_demo(b.layer()).await,
        common::serve_demo(b.layer().with_trusted_proxies(local.clone())).await,
        common::serve_demo(
            b.layer()
                .with_trusted_proxies(local)
                .with_proxy_header(axum_user_sessions::ProxyHeader::Forwarded),
        )
        .await,
    ];
    let mut alice = common::Client::new(&apps[0]);
    alice.login("alice").await;
    let known = alice.cookie.clone().expect("a session cookie");

    // What each route costs the store with no cookie at all.
    let mut baseline = BTreeMap::new();
    for (method, path) in [
        ("GET", "/me"),
        ("GET", "/kv"),
        ("POST", "/counter"),
        ("PUT", "/kv/k"),
        ("GET", "/sessions"),
    ] {
        let before = b.round_trips();
        let c = common::Client::new(&apps[0]);
        let body = (method != "GET").then(|| ("text/plain", "1".to_owned()));
        let res = c.send_raw(method, path, body, &[]).await;
        assert!(res.status < 500, "{method} {path}: {}", res.status);
        baseline.insert(path, b.round_trips() - before);
    }
    for path in ["/me", "/kv", "/sessions"] {
        assert_eq!(
            baseline[path], 0,
            "GET {path} without a cookie reached the store"
        );
    }

    let mut statuses: BTreeMap<u16, u32> = BTreeMap::new();
    let (mut unanswered, mut checked) = (0, 0);
    for i in 0..200 {
        let req = hostile(&mut rng, &known);
        let app = &apps[i % apps.len()];
        let sendable = req
            .headers
            .iter()
            .all(|(_, v)| HeaderValue::from_bytes(v).is_ok());
        let size: usize = req.headers.iter().map(|(_, v)| v.len()).sum();
        let before = b.round_trips();
        let status = if sendable && size < 16_000 && rng.chance(0.7) {
            let mut c = common::Client::new(app);
            // The hostile User-Agent replaces the client's own, when it is text.
            c.user_agent.clear();
            let mut extra: Vec<(&str, &[u8])> = Vec::new();
            for (k, v) in &req.headers {
                match std::str::from_utf8(v) {
                    Ok(ua) if *k == "user-agent" && c.user_agent.is_empty() => {
                        c.user_agent = ua.to_owned()
                    }
                    _ => extra.push((k, v)),
                }
            }
            let body = (req.method != "GET").then(|| ("text/plain", "1".to_owned()));
            Some(c.send_raw(req.method, req.path, body, &extra).await.status)
        } else {
            send_tcp(app.addr, &req).await
        };
        let delta = b.round_trips() - before;
        let what = format!(
            "request {i} (seed {seed}): {} {} with {} header lines, {size} bytes",
            req.method,
            req.path,
            req.headers.len()
        );
        match status {
            Some(s) => {
                *statuses.entry(s).or_default() += 1;
                assert!(s < 500, "{what}: answered {s}");
            }
            None => {
                // Only a request the server refused to read may go unanswered.
                assert!(
                    size > 16_000 || !sendable,
                    "{what}: no answer (headers {:?})",
                    req.headers
                );
                unanswered += 1;
            }
        }
        if sendable {
            let mut h = HeaderMap::new();
            for (k, v) in &req.headers {
                h.append(*k, HeaderValue::from_bytes(v).unwrap());
            }
            let s = session_cookie(&h, SESSION);
            let r = remember_cookie(&h, REMEMBER);
            if s != Some(true) && r != Some(true) {
                // No token worth looking up: the store costs what it costs
                // with no cookie at all (nothing for reads), or nothing when
                // the server refused the request before the app.
                checked += 1;
                let refused = matches!(status, None | Some(400 | 413 | 431));
                assert!(
                    delta == baseline[req.path] || (refused && delta == 0),
                    "{what}: malformed cookies ({s:?}, {r:?}) cost {delta} store round trips \
                     (none: {}), answer {status:?}",
                    baseline[req.path]
                );
            }
        } else {
            assert_eq!(delta, 0, "{what}: unsendable bytes reached the store");
        }
    }
    println!("statuses {statuses:?}, unanswered {unanswered}, round trips checked {checked}");
    assert!(checked >= 50, "too few requests checked: {checked}");

    // The real user was not disturbed.
    assert_eq!(alice.me().await.as_deref(), Some("alice"));
}
