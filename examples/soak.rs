//! Soak test: the demo app, in this process, under mixed traffic for a while.
//! Not part of CI; run it with `scripts/soak.sh`.
//!
//! It serves the demo routes behind the session layer on 127.0.0.1 (a free
//! port), with token rotation every `SOAK_ROTATE_SECS` (default 2), on the
//! store named by `DATABASE_URL` (`postgres://…` or `sqlite:…`; default: a
//! SQLite file in a temporary directory, removed at the end). Then
//! `SOAK_WORKERS` workers (default 32) send requests for `SOAK_SECS` seconds
//! (default 180) on behalf of `SOAK_CLIENTS` browsers (default 1,000), each
//! keeping its own `session` and `remember` cookies from `Set-Cookie` as a
//! browser does: reads (`GET /me`, `GET /kv`), writes (`POST /counter`,
//! `PUT /kv/k`), sign-ins (`POST /login`, as alice, bob or carol, sometimes
//! with "remember me"), "sign out everywhere else"
//! (`POST /sessions/revoke-others`) and sign-outs.
//!
//! It prints, every 30 s and at the end: requests and requests/s, counts by
//! route and status code, client-side errors, latency percentiles, session
//! events, store round trips, and this process's resident memory (`VmRSS`).
//! Traffic is loopback only, and stops by itself.

#[path = "demo.rs"]
mod demo;

use axum_user_sessions::store::{CountingStore, Protocol, SessionStore};
use axum_user_sessions::{GcOptions, SessionAdmin, SessionEvent, SessionProtocol};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USERS: &[&str] = &["alice", "bob", "carol"];

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        _ => default,
    }
}

/// The resident memory of this process, in KiB.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn rss() -> String {
    rss_kib().map_or_else(
        || "unknown".into(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

/// A small deterministic PRNG (xorshift64*), one per worker.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One browser's cookie jar.
#[derive(Default)]
struct Jar {
    session: Option<String>,
    remember: Option<String>,
    /// Whether this browser thinks it is signed in (a `GET /me` said so, or a
    /// sign-in succeeded; a 401 says otherwise).
    signed_in: bool,
}

impl Jar {
    fn header(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(v) = &self.session {
            parts.push(format!("session={v}"));
        }
        if let Some(v) = &self.remember {
            parts.push(format!("remember={v}"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Applies the response's `Set-Cookie` headers, as a browser would.
    fn absorb(&mut self, headers: &reqwest::header::HeaderMap) {
        for v in headers.get_all(reqwest::header::SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let mut attrs = v.split(';');
            let Some((name, value)) = attrs.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let expired = attrs.any(|a| {
                let a = a.trim().to_ascii_lowercase();
                a == "max-age=0" || a.starts_with("max-age=-")
            });
            let value = (!expired && !value.trim().is_empty()).then(|| value.trim().to_owned());
            match name.trim() {
                "session" => self.session = value,
                "remember" => self.remember = value,
                _ => {}
            }
        }
    }
}

/// Counters shared by the workers.
#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    by_status: Mutex<BTreeMap<(&'static str, u16), u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    latencies_us: Mutex<Vec<u32>>,
    events: Mutex<BTreeMap<&'static str, u64>>,
    /// Requests and time at the previous report.
    mark: Mutex<(u64, Duration)>,
}

impl Stats {
    fn record(&self, route: &'static str, status: Result<u16, String>, took: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match status {
            Ok(s) => {
                *self
                    .by_status
                    .lock()
                    .unwrap()
                    .entry((route, s))
                    .or_default() += 1
            }
            Err(e) => *self.errors.lock().unwrap().entry(e).or_default() += 1,
        }
        self.latencies_us
            .lock()
            .unwrap()
            .push(took.as_micros().min(u128::from(u32::MAX)) as u32);
    }
}

/// What a browser does next.
#[derive(Clone, Copy)]
enum Action {
    Me,
    Kv,
    Counter,
    PutKv,
    Login { remember: bool },
    RevokeOthers,
    Logout,
}

impl Action {
    fn route(self) -> &'static str {
        match self {
            Action::Me => "GET /me",
            Action::Kv => "GET /kv",
            Action::Counter => "POST /counter",
            Action::PutKv => "PUT /kv/k",
            Action::Login { .. } => "POST /login",
            Action::RevokeOthers => "POST /sessions/revoke-others",
            Action::Logout => "POST /logout",
        }
    }

    /// The mix: mostly reads, then writes; signed-out browsers sign in.
    fn pick(rng: &mut Rng, signed_in: bool) -> Self {
        if !signed_in && rng.below(10) < 8 {
            return Action::Login {
                remember: rng.below(4) == 0,
            };
        }
        match rng.below(10_000) {
            0..=4_499 => Action::Me,
            4_500..=5_499 => Action::Kv,
            5_500..=7_499 => Action::Counter,
            7_500..=8_999 => Action::PutKv,
            9_000..=9_899 => Action::Login {
                remember: rng.below(4) == 0,
            },
            // Each one signs out every other browser of that user: rare.
            9_900..=9_904 => Action::RevokeOthers,
            _ => Action::Logout,
        }
    }
}

async fn step(
    http: &reqwest::Client, base: &str, jars: &[Mutex<Jar>], rng: &mut Rng, stats: &Stats,
) {
    let i = rng.below(jars.len() as u64) as usize;
    // A snapshot: another worker may use the same browser at the same time,
    // like a second tab; the last response's cookies win.
    let (cookie, signed_in) = {
        let jar = jars[i].lock().unwrap();
        (jar.header(), jar.signed_in)
    };
    let action = Action::pick(rng, signed_in);
    let mut req = match action {
        Action::Me => http.get(format!("{base}/me")),
        Action::Kv => http.get(format!("{base}/kv")),
        Action::Counter => http.post(format!("{base}/counter")),
        Action::PutKv => http
            .put(format!("{base}/kv/k"))
            .header("content-type", "text/plain")
            .body(format!("value {}", rng.next())),
        Action::Login { remember } => http
            .post(format!("{base}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "username={}&password=password{}",
                USERS[i % USERS.len()],
                if remember { "&remember=on" } else { "" }
            )),
        Action::RevokeOthers => http
            .post(format!("{base}/sessions/revoke-others"))
            .header("sec-fetch-site", "same-origin")
            .header("accept", "application/json"),
        Action::Logout => http.post(format!("{base}/logout")),
    };
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let start = Instant::now();
    let res = req.send().await;
    let took = start.elapsed();
    match res {
        Ok(res) => {
            let status = res.status().as_u16();
            {
                let mut jar = jars[i].lock().unwrap();
                jar.absorb(res.headers());
                match (action, status) {
                    (Action::Login { .. }, 303) => jar.signed_in = true,
                    (Action::Logout, _) => jar.signed_in = false,
                    (_, 401) => jar.signed_in = false,
                    (Action::Me, 200) => jar.signed_in = true,
                    _ => {}
                }
            }
            // Read the body, as a browser would, so the connection is reused.
            let body = res.bytes().await;
            let status = match body {
                Ok(_) => Ok(status),
                Err(e) => Err(format!("reading the body: {}", error_kind(&e))),
            };
            stats.record(action.route(), status, took);
        }
        Err(e) => stats.record(action.route(), Err(error_kind(&e)), took),
    }
}

fn error_kind(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_request() {
        "request"
    } else if e.is_body() {
        "body"
    } else {
        "other"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text.chars().take(160).collect()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

async fn store_stats(store: &Arc<dyn SessionProtocol>) -> String {
    match SessionAdmin::new(store.clone())
        .stats(&GcOptions::default())
        .await
    {
        Ok(s) => format!(
            "{} live sessions, {} users, {} collectable",
            s.active_sessions, s.active_users, s.collectable
        ),
        Err(e) => format!("stats failed: {e}"),
    }
}

fn report(stats: &Stats, store: &CountingStore, elapsed: Duration, last: bool) {
    let total = stats.requests.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64();
    let (before, then) = std::mem::replace(&mut *stats.mark.lock().unwrap(), (total, elapsed));
    let window = (elapsed - then).as_secs_f64().max(0.001);
    println!(
        "[{:>5.0} s] {total} requests, {:.0} req/s overall, {:.0} req/s since the last report, \
         {} store round trips, RSS {}",
        secs,
        total as f64 / secs.max(0.001),
        (total - before) as f64 / window,
        store.round_trips(),
        rss()
    );
    if !last {
        return;
    }
    let by_status = stats.by_status.lock().unwrap();
    let mut totals: BTreeMap<u16, u64> = BTreeMap::new();
    for ((_, s), n) in by_status.iter() {
        *totals.entry(*s).or_default() += n;
    }
    println!("  by status: {totals:?}");
    println!("  by route and status:");
    for ((route, s), n) in by_status.iter() {
        println!("    {route:<30} {s}  {n}");
    }
    let errors = stats.errors.lock().unwrap();
    println!("  client-side errors: {}", errors.values().sum::<u64>());
    for (e, n) in errors.iter() {
        println!("    {n} × {e}");
    }
    let mut lat = stats.latencies_us.lock().unwrap().clone();
    lat.sort_unstable();
    println!(
        "  latency ms: p50 {:.2}, p95 {:.2}, p99 {:.2}, max {:.2}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    println!("  session events: {:?}", stats.events.lock().unwrap());
    println!(
        "  store round trips per request: {:.2}",
        store.round_trips() as f64 / total.max(1) as f64
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .init();
    let secs = env_u64("SOAK_SECS", 180);
    let clients = env_u64("SOAK_CLIENTS", 1_000).max(1) as usize;
    let workers = env_u64("SOAK_WORKERS", 32).max(1);
    let rotate = env_u64("SOAK_ROTATE_SECS", 2);

    // The store: DATABASE_URL, or a SQLite file in a temporary directory.
    let url = std::env::var("DATABASE_URL").unwrap_or_default();
    let mut _tmp = None;
    let storage: Arc<dyn SessionStore> = if url.trim().is_empty() {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("soak.db").display());
        println!("store: SQLite {url} (temporary)");
        let store = axum_user_sessions::SqliteStore::connect(&url).await?;
        axum_user_sessions::migrate(store.pool()).await?;
        _tmp = Some(dir);
        Arc::new(store.storage().clone())
    } else {
        let shown = url.split('@').next_back().unwrap_or_default();
        println!(
            "store: {} (…@{shown})",
            url.split(':').next().unwrap_or_default()
        );
        demo::storage_from_env().await?
    };

    // Every call that reaches the storage is one round-trip: count them.
    let counted = CountingStore::new(storage);
    let store: Arc<dyn SessionProtocol> = Arc::new(Protocol::new(counted.clone()));
    let stats = Arc::new(Stats::default());
    let events = stats.clone();
    let layer = demo::layer_from_env(store.clone())
        .with_rotation_interval(Duration::from_secs(rotate))
        // Counted, not printed: the demo's hook prints every event.
        .with_events(move |e: &SessionEvent| {
            *events
                .events
                .lock()
                .unwrap()
                .entry(e.kind.name())
                .or_default() += 1;
        });
    let app = demo::routes().layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stop_rx.await;
        })
        .await
    });
    let base = format!("http://{addr}");
    println!(
        "soak: {secs} s, {clients} browsers, {workers} workers, rotation every {rotate} s, on {base}"
    );
    println!("store before: {}", store_stats(&store).await);
    println!("RSS at start: {}", rss());

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
        .build()?;
    let jars: Arc<Vec<Mutex<Jar>>> = Arc::new((0..clients).map(|_| Mutex::default()).collect());
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (http, base, jars, stats) = (http.clone(), base.clone(), jars.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
            while Instant::now() < deadline {
                step(&http, &base, &jars, &mut rng, &stats).await;
            }
        }));
    }
    let reporter = {
        let (stats, store) = (stats.clone(), counted.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_secs(30),
                Duration::from_secs(30),
            );
            loop {
                tick.tick().await;
                if Instant::now() >= deadline {
                    break;
                }
                report(&stats, &store, start.elapsed(), false);
            }
        })
    };
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed();
    reporter.abort();
    println!("--- done ---");
    report(&stats, &counted, elapsed, true);
    println!("store after: {}", store_stats(&store).await);
    let _ = stop_tx.send(());
    server.await??;
    println!("RSS at the end: {}", rss());
    Ok(())
}
