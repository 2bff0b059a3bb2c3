//! Properties of the code that reads untrusted request data, through the
//! hidden `fuzzing` entry points.

use super::strategies::*;
use super::*;

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
    ///    base64url strings, and those behind a canonical 22-character id.
    #[test]
    fn token_validity(s in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{43}",
        "[A-Za-z0-9_+/=-]{42,44}",
        token_string(),
        (token_string(), token_string()).prop_map(|(id, t)| format!("{}.{t}", &id[..22])),
        (token_string(), any::<char>(), 0usize..43).prop_map(|(t, c, i)| {
            let mut chars: Vec<char> = t.chars().collect();
            chars[i] = c;
            chars.into_iter().collect()
        }),
    ]) {
        let ok = token_is_valid(&s);
        if ok {
            prop_assert!(s.len() == 43 || s.len() == 66);
            let secret = &s.as_bytes()[s.len() - 43..];
            prop_assert!(secret.iter().all(|&c| b64_index(c).is_some()));
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
