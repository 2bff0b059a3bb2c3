//! The session layer's own CPU per request, in process: no network and no
//! database ([`MemoryStore`], or the cache over it), so that a profile of it
//! is the layer's (cookie parsing, token hashing, the session's state, JSON,
//! the commit, the cache, headers) and the router's.
//!
//! ```text
//! cargo bench --bench hot_paths -- <path> [requests]
//! ```
//!
//! runs `requests` (default 100,000) requests of one path after a warm-up,
//! and prints the time per request (noisy on a shared machine). For counts
//! that repeat, run it under callgrind twice, with two numbers of requests,
//! and divide the difference of the totals by the difference of the
//! requests (the set-up and warm-up cancel out; the measured loop's future
//! is inlined, so `--toggle-collect` on it collects nothing):
//!
//! ```text
//! CARGO_PROFILE_BENCH_DEBUG=line-tables-only cargo bench --no-run --bench hot_paths
//! valgrind --tool=callgrind target/release/deps/hot_paths-<hash> read 1000
//! valgrind --tool=callgrind target/release/deps/hot_paths-<hash> read 6000
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>   # per function, the same way
//! ```
//!
//! Paths: `baseline` (the read's handler with no session layer), `read`,
//! `incr` (`get` then `insert` of a counter, written after the handler),
//! `update` (`Session::update` of the counter), `new` (a request without a
//! cookie that inserts a key: a new session); each on `MemoryStore`, and
//! prefixed `cached-` on the cache over it (`cached-read`, `cached-incr`,
//! `cached-update`, `cached-new`).
//!
//! With the `postgres` feature, the same paths prefixed `pg-` (`pg-read`,
//! `pg-cached-incr`, ...) run on a `PgPool` at `DATABASE_URL` instead (a
//! database of your own: it is migrated, and sessions are added to it), to
//! see what the app spends in the store and its driver. Under callgrind only
//! the app is counted, not Postgres.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, header};
use axum::routing::{get, post};
use axum_user_sessions::{CacheConfig, Error, MemoryStore, Session, SessionLayer};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;
use tower::ServiceExt as _;

/// What one request of a path is.
#[derive(Clone, Copy)]
enum Path {
    Baseline,
    Read,
    Incr,
    Update,
    New,
}

impl Path {
    /// The path, whether on the cache, whether on Postgres.
    fn parse(name: &str) -> Option<(Self, bool, bool)> {
        let (pg, name) = match name.strip_prefix("pg-") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let (cached, name) = match name.strip_prefix("cached-") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let path = match name {
            "baseline" if !cached => Self::Baseline,
            "read" => Self::Read,
            "incr" => Self::Incr,
            "update" => Self::Update,
            "new" => Self::New,
            _ => return None,
        };
        Some((path, cached, pg))
    }

    fn uri(self) -> &'static str {
        match self {
            Self::Baseline | Self::Read => "/read",
            Self::Incr => "/incr",
            Self::Update => "/update",
            Self::New => "/new",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Self::Baseline | Self::Read | Self::Incr => "GET",
            Self::Update | Self::New => "POST",
        }
    }
}

async fn read(s: Session) -> String {
    s.get::<u64>("n").ok().flatten().unwrap_or(0).to_string()
}

async fn incr(s: Session) -> Result<String, Error> {
    let n = s.get::<u64>("n")?.unwrap_or(0) + 1;
    s.insert("n", n)?;
    Ok(n.to_string())
}

async fn update(s: Session) -> Result<String, Error> {
    let n = s.update("n", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
    Ok(n.to_string())
}

async fn new(s: Session) -> Result<&'static str, Error> {
    s.insert("n", 1u64)?;
    Ok("1")
}

/// The app, with the session layer (on the cache when `cached`) or without,
/// with its state given once as `axum::serve` does (a `Router<()>` called as
/// it is would turn its handlers into routes, layers included, per request).
async fn app(path: Path, cached: bool, pg: bool) -> Router {
    if let Path::Baseline = path {
        return Router::new()
            .route("/read", get(|| async { "0".to_string() }))
            .with_state(());
    }
    let mut layer = if pg {
        postgres().await
    } else {
        SessionLayer::new(MemoryStore::new())
    };
    if cached {
        layer = layer.with_cache(CacheConfig::default());
    }
    Router::new()
        .route("/read", get(read))
        .route("/incr", get(incr))
        .route("/update", post(update))
        .route("/new", post(new))
        .layer(layer)
        .with_state(())
}

/// A layer on the Postgres database at `DATABASE_URL`, migrated.
#[cfg(feature = "postgres")]
async fn postgres() -> SessionLayer {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL for the pg- paths");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .test_before_acquire(false)
        .connect(&url)
        .await
        .expect("a Postgres at DATABASE_URL");
    axum_user_sessions::migrate(&pool).await.expect("migrated");
    SessionLayer::new(pool)
}

#[cfg(not(feature = "postgres"))]
async fn postgres() -> SessionLayer {
    eprintln!("the pg- paths need the postgres feature");
    std::process::exit(2)
}

/// A request as a browser sends it through a real server: a client
/// address, a User-Agent, other cookies beside ours.
fn request(path: Path, cookie: Option<&str>) -> Request<Body> {
    let mut req = Request::builder()
        .method(path.method())
        .uri(path.uri())
        .header(header::USER_AGENT, "Mozilla/5.0 (X11; Linux x86_64) bench")
        .header(header::ACCEPT, "*/*");
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, format!("theme=dark; {cookie}; lang=en"));
    }
    let mut req = req.body(Body::empty()).expect("a valid request");
    let peer: SocketAddr = ([203, 0, 113, 7], 50_000).into();
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

async fn send(app: &Router, req: Request<Body>) -> Response<Body> {
    let res = app.clone().oneshot(req).await.expect("infallible");
    assert!(res.status().is_success(), "{}", res.status());
    res
}

/// A session to read and write, as its cookie `name=value`.
async fn session(app: &Router) -> String {
    let res = send(app, request(Path::New, None)).await;
    let set = res.headers()[header::SET_COOKIE].to_str().expect("ASCII");
    set.split(';').next().expect("a pair").to_owned()
}

/// The requests measured.
#[inline(never)]
async fn measured(app: &Router, path: Path, cookie: Option<&str>, n: u64) {
    for _ in 0..n {
        black_box(send(app, request(path, cookie)).await);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let name = args.next().unwrap_or_else(|| "read".into());
    let Some((path, cached, pg)) = Path::parse(&name) else {
        eprintln!("unknown path {name:?}: see the file's docs");
        std::process::exit(2);
    };
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let app = app(path, cached, pg).await;
    let cookie = match path {
        Path::Baseline => Some("floor=1".to_owned()),
        Path::New => None,
        _ => Some(session(&app).await),
    };
    let cookie = cookie.as_deref();
    // Warm-up: the cache holds the session, the allocator its sizes.
    warm_up(&app, path, cookie).await;
    let started = Instant::now();
    measured(&app, path, cookie, n).await;
    let per = started.elapsed() / u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    println!("{name}: {n} requests, {per:?} per request");
}

/// The warm-up: the cache holds the session, the allocator its sizes.
#[inline(never)]
async fn warm_up(app: &Router, path: Path, cookie: Option<&str>) {
    for _ in 0..200 {
        black_box(send(app, request(path, cookie)).await);
    }
}
