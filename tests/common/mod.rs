//! Shared test harness: stores, a real server over real HTTP, a cookie-aware
//! client, and the `conformance!` macro that runs a scenario on every store.
#![allow(dead_code, unreachable_pub)]

pub mod api_client;
#[path = "../../examples/demo.rs"]
pub mod demo;
pub mod pgbouncer;

use axum::Router;
use axum_user_sessions::{MemoryStore, PgStore, SessionLayer, SessionStore, SqliteStore};
use reqwest::header::{HeaderMap, HeaderValue};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Which store a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    /// Postgres behind the in-process cache (`CachedStore`).
    PostgresCached,
    Sqlite,
    Memory,
    /// Postgres through PgBouncer in transaction-pooling mode
    /// (`PgStore::behind_pgbouncer`).
    PgBouncer,
}

/// A fresh, migrated store.
pub struct Backend {
    pub kind: Kind,
    pub store: Arc<dyn SessionStore>,
    pub pg: Option<sqlx::PgPool>,
    pub sqlite: Option<sqlx::SqlitePool>,
    _dir: Option<tempfile::TempDir>,
    /// The PgBouncer the store goes through (kind `PgBouncer`); `pg` is the
    /// direct pool, for the test's own SQL.
    pub bouncer: Option<pgbouncer::PgBouncer>,
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

impl Backend {
    /// From the fresh database `#[sqlx::test]` made, with a pool configured
    /// as the docs recommend (no ping before each acquire).
    pub async fn postgres(test_pool: sqlx::PgPool) -> Self {
        init_tracing();
        let opts = (*test_pool.connect_options()).clone();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false)
            .connect_with(opts)
            .await
            .expect("connect to the test database");
        axum_user_sessions::migrate(&pool).await.expect("migrate");
        Self {
            kind: Kind::Postgres,
            store: Arc::new(PgStore::new(pool.clone())),
            pg: Some(pool),
            sqlite: None,
            _dir: None,
            bouncer: None,
        }
    }

    /// Postgres behind the in-process cache.
    pub async fn postgres_cached(test_pool: sqlx::PgPool) -> Self {
        let mut b = Self::postgres(test_pool).await;
        let pg = axum_user_sessions::PgStore::new(b.pg.clone().unwrap());
        // A loaded test machine may delay a poll past the default lag, and
        // the scenarios count round-trips: give the feed room (the lag rule
        // has tests of its own).
        let config =
            axum_user_sessions::CacheConfig::default().with_max_lag(Duration::from_secs(10));
        let cached = axum_user_sessions::CachedStore::new(pg, config);
        wait_listening(&cached).await;
        b.store = Arc::new(cached);
        b.kind = Kind::PostgresCached;
        b
    }

    pub fn cached(&self) -> bool {
        self.kind == Kind::PostgresCached
    }

    pub async fn sqlite() -> Self {
        init_tracing();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
        let store = SqliteStore::connect(&url).await.expect("open sqlite");
        axum_user_sessions::migrate(store.pool())
            .await
            .expect("migrate");
        Self {
            kind: Kind::Sqlite,
            sqlite: Some(store.pool().clone()),
            store: Arc::new(store),
            pg: None,
            _dir: Some(dir),
            bouncer: None,
        }
    }

    pub fn memory() -> Self {
        Self {
            kind: Kind::Memory,
            store: Arc::new(MemoryStore::new()),
            pg: None,
            sqlite: None,
            _dir: None,
            bouncer: None,
        }
    }

    /// The layer with the crate's defaults, on this store.
    pub fn layer(&self) -> SessionLayer {
        SessionLayer::new(self.store.clone())
    }

    pub fn round_trips(&self) -> u64 {
        self.store.round_trips()
    }

    /// The store of another app instance on the same database: its own pool
    /// (and its own cache when this backend has one). The memory store lives
    /// in one process: the other instance shares it as it is.
    pub async fn another_instance(&self) -> Arc<dyn SessionStore> {
        match self.kind {
            Kind::Postgres | Kind::PostgresCached | Kind::PgBouncer => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(5))
                    .test_before_acquire(false)
                    .connect_with(self.store_connect_options())
                    .await
                    .expect("connect to the test database");
                let pg = self.pg_store(pool);
                if !self.cached() {
                    return Arc::new(pg);
                }
                let cached = axum_user_sessions::CachedStore::new(
                    pg,
                    axum_user_sessions::CacheConfig::default(),
                );
                wait_listening(&cached).await;
                Arc::new(cached)
            }
            Kind::Sqlite => {
                let opts = (*self.sqlite.as_ref().unwrap().connect_options()).clone();
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(opts)
                    .await
                    .expect("open sqlite");
                Arc::new(SqliteStore::new(pool))
            }
            Kind::Memory => self.store.clone(),
        }
    }
}

/// Starts a cache's change feed and waits until it listens.
pub async fn wait_listening(cached: &axum_user_sessions::CachedStore) {
    use axum_user_sessions::SessionStore as _;
    let now = time::OffsetDateTime::now_utc();
    let probe = axum_user_sessions::store::TokenHash::from_bytes([0; 32]);
    let touch = axum_user_sessions::store::Touch::new(now, now);
    cached.load(&probe, &touch).await.unwrap();
    let ok = eventually(Duration::from_secs(10), || async {
        cached.is_listening().then_some(())
    })
    .await;
    assert!(ok.is_some(), "the cache never started listening");
}

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Serves `router` on a free loopback port, with `ConnectInfo`.
pub async fn serve(router: Router) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    TestApp {
        addr,
        base: format!("http://{addr}"),
        handle,
    }
}

/// Serves the demo app behind `layer`.
pub async fn serve_demo(layer: SessionLayer) -> TestApp {
    serve(demo::app(layer)).await
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value this response sets for cookie `name`: `Some("")` when it
    /// expires it.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_owned())
        })
    }
}

/// A browser-like client that keeps one session cookie, by hand, so tests
/// can drop, replay and forge cookies.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie_name: String,
    /// The session cookie's value, if any.
    pub cookie: Option<String>,
    pub remember_name: String,
    /// The remember-me cookie's value, if any.
    pub remember: Option<String>,
    pub user_agent: String,
}

impl Client {
    pub fn new(app: &TestApp) -> Self {
        Self::with_cookie_name(app, "__Host-session")
    }

    pub fn with_cookie_name(app: &TestApp, name: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookie_name: name.to_owned(),
            cookie: None,
            remember_name: "__Host-remember".into(),
            remember: None,
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
                .into(),
        }
    }

    /// Sends a request with the current cookie, without updating it.
    pub async fn send_raw(
        &self, method: &str, path: &str, body: Option<(&str, String)>, extra: &[(&str, &[u8])],
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("user-agent", &self.user_agent);
        let mut jar = Vec::new();
        if let Some(v) = &self.cookie {
            jar.push(format!("{}={v}", self.cookie_name));
        }
        if let Some(v) = &self.remember {
            jar.push(format!("{}={v}", self.remember_name));
        }
        if !jar.is_empty() {
            req = req.header("cookie", jar.join("; "));
        }
        for (k, v) in extra {
            req = req.header(*k, HeaderValue::from_bytes(v).unwrap());
        }
        if let Some((ctype, body)) = body {
            req = req.header("content-type", ctype).body(body);
        }
        let res = req.send().await.expect("request failed");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.unwrap_or_default();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Sends a request and keeps the cookie the response sets, like a browser.
    pub async fn send(&mut self, method: &str, path: &str, body: Option<(&str, String)>) -> Resp {
        let res = self.send_raw(method, path, body, &[]).await;
        self.absorb(&res);
        res
    }

    /// Takes the session cookie from a response, as a browser would.
    pub fn absorb(&mut self, res: &Resp) {
        if let Some(v) = res.cookie_value(&self.cookie_name) {
            self.cookie = if v.is_empty() { None } else { Some(v) };
        }
        if let Some(v) = res.cookie_value(&self.remember_name) {
            self.remember = if v.is_empty() { None } else { Some(v) };
        }
    }

    /// `send` with extra headers.
    pub async fn send_with(&mut self, method: &str, path: &str, extra: &[(&str, &str)]) -> Resp {
        let extra: Vec<(&str, &[u8])> = extra.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
        let res = self.send_raw(method, path, None, &extra).await;
        self.absorb(&res);
        res
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, None).await
    }

    pub async fn post(&mut self, path: &str) -> Resp {
        self.send("POST", path, None).await
    }

    pub async fn login(&mut self, user: &str) -> Resp {
        self.login_with(user, false).await
    }

    /// Signs in, with "remember me" when `remember`.
    pub async fn login_with(&mut self, user: &str, remember: bool) -> Resp {
        let extra = if remember { "&remember=on" } else { "" };
        let res = self
            .send(
                "POST",
                "/login",
                Some((
                    "application/x-www-form-urlencoded",
                    format!("username={user}&password=password{extra}"),
                )),
            )
            .await;
        assert_eq!(res.status, 303, "login as {user}: {}", res.body);
        res
    }

    pub async fn put_kv(&mut self, key: &str, value: &str) -> Resp {
        self.send(
            "PUT",
            &format!("/kv/{key}"),
            Some(("text/plain", value.into())),
        )
        .await
    }

    /// `GET /me`: the user id, or `None` on 401.
    pub async fn me(&mut self) -> Option<String> {
        let res = self.get("/me").await;
        match res.status {
            200 => Some(res.json()["user_id"].as_str().unwrap().to_owned()),
            401 => None,
            s => panic!("GET /me answered {s}: {}", res.body),
        }
    }
}

/// Runs each named scenario `async fn name(Backend)` on Postgres (direct,
/// behind the cache, through PgBouncer), SQLite and memory.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[sqlx::test(migrations = false)]
                async fn $name(pool: sqlx::PgPool) {
                    super::$name($crate::common::Backend::postgres(pool).await).await
                }
            )*
        }
        mod postgres_cached {
            $(
                #[sqlx::test(migrations = false)]
                async fn $name(pool: sqlx::PgPool) {
                    super::$name($crate::common::Backend::postgres_cached(pool).await).await
                }
            )*
        }
        mod pgbouncer {
            $(
                #[sqlx::test(migrations = false)]
                async fn $name(pool: sqlx::PgPool) {
                    super::$name($crate::common::Backend::pgbouncer(pool).await).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::sqlite().await).await
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::memory()).await
                }
            )*
        }
    };
}

/// A TCP proxy in front of the database that a test can cut and restore, to
/// play a database outage without touching the shared server.
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client); // refused: the database is "down"
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns2.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            addr,
            up,
            conns,
            accept,
        }
    }

    /// Cuts every connection and refuses new ones.
    pub fn down(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    pub fn up(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.down();
        self.accept.abort();
    }
}

/// A small deterministic PRNG (xorshift64*), so test randomness is
/// reproducible from the printed seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn from_time() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        println!("rng seed {seed}");
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// Polls `f` until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
