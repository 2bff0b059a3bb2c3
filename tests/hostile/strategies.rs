//! Strategies: hostile header bytes, cookie lines, addresses and
//! forwarding headers, for the properties.

use super::*;

/// A byte a client can put in a header value (visible ASCII, space, tab,
/// obs-text), with the cookie and list separators made frequent.
pub(super) fn header_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        8 => 0x20u8..0x7f,
        3 => 0x80u8..=0xff,
        1 => Just(b'\t'),
        2 => prop::sample::select(b";=\",[]:.".to_vec()),
    ]
}

/// A header line: mostly bytes a client can send, sometimes anything at all
/// (which `HeaderValue::from_bytes` may reject; such lines are skipped).
pub(super) fn header_bytes(max: usize) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        9 => vec(header_byte(), 0..max),
        1 => vec(any::<u8>(), 0..max),
    ]
    .boxed()
}

/// Up to `max` bytes like `header_byte`'s, made from a seed: long values are
/// cheap to generate this way (they shrink by length only).
pub(super) fn long_header_bytes(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
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

pub(super) fn token_string() -> impl Strategy<Value = String> {
    (vec(0usize..64, 42), 0usize..16).prop_map(|(body, last)| {
        body.iter()
            .map(|&i| B64[i] as char)
            .chain([B64[last * 4] as char])
            .collect()
    })
}

pub(super) fn selector_string() -> impl Strategy<Value = String> {
    (vec(0usize..64, 21), 0usize..4).prop_map(|(body, last)| {
        body.iter()
            .map(|&i| B64[i] as char)
            .chain([B64[last * 16] as char])
            .collect()
    })
}

/// A cookie value: well-formed tokens, near misses, and junk.
pub(super) fn cookie_value() -> BoxedStrategy<Vec<u8>> {
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
pub(super) const NAMES: &[(&str, &str)] = &[
    ("__Host-session", "__Host-remember"),
    ("session", "remember"),
    ("id", "id"), // the same name for both: each reads it its own way
];

/// A cookie name near `name`: itself, case or suffix variants, others.
pub(super) fn cookie_name(name: &'static str, other: &'static str) -> BoxedStrategy<Vec<u8>> {
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
pub(super) fn cookie_line(name: &'static str, other: &'static str) -> BoxedStrategy<Vec<u8>> {
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

pub(super) fn cookie_case() -> impl Strategy<Value = (usize, Vec<Vec<u8>>)> {
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

pub(super) fn v4() -> BoxedStrategy<IpAddr> {
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

pub(super) fn v6() -> BoxedStrategy<IpAddr> {
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

pub(super) fn any_ip() -> BoxedStrategy<IpAddr> {
    prop_oneof![v4(), v6()].boxed()
}

pub(super) fn peer() -> impl Strategy<Value = Option<IpAddr>> {
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

pub(super) fn trusted_nets() -> BoxedStrategy<Vec<IpNet>> {
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
pub(super) fn ip_text(ip: IpAddr) -> BoxedStrategy<String> {
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
pub(super) fn entry(forwarded: bool) -> BoxedStrategy<String> {
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
pub(super) fn forward_line(forwarded: bool) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        4 => vec(entry(forwarded), 0..6).prop_map(|v| v.join(", ").into_bytes()),
        1 => vec(entry(forwarded), 0..6).prop_map(|v| v.join(",").into_bytes()),
        2 => header_bytes(120),
    ]
    .boxed()
}
