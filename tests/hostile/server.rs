//! Random hostile requests through a real server on a memory store.

use super::*;

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
