//! Throughput of the session layer against the same app with no session
//! layer, on a real Postgres, with database statements per request.
//!
//! Run with `scripts/bench.sh` (starts a throwaway Postgres with
//! `pg_stat_statements`), or `cargo bench --bench layer` with `DATABASE_URL`
//! pointing at a Postgres where `pg_stat_statements` is loaded.
//! `BENCH_SECS` (default 5) and `BENCH_CLIENTS` (default 32) tune each run.
//!
//! Scenarios, each through the layer without cache, with cache, and through
//! the same handlers with no session layer, side by side in one process:
//! - read: an authenticated GET that reads one value (100k other sessions in
//!   the table);
//! - write: an authenticated request that changes one key;
//! - new: a request that creates a session;
//! - revoke: time from a revocation on instance A until instance B (cache on)
//!   refuses the session.

use axum::Router;
use axum::routing::{get, post};
use axum_user_sessions::{CacheConfig, CachedStore, PgStore, Session, SessionLayer, SessionStore};
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEEDED: i64 = 100_000;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn app(layer: Option<SessionLayer>) -> Router {
    let with_session = Router::new()
        .route(
            "/read",
            get(|s: Session| async move { s.get::<u64>("n").ok().flatten().unwrap_or(0).to_string() }),
        )
        .route(
            "/write",
            post(|s: Session| async move {
                let n = s.get::<u64>("n").ok().flatten().unwrap_or(0) + 1;
                s.insert("n", n).map(|_| n.to_string()).unwrap_or_default()
            }),
        )
        .route(
            "/new",
            post(|s: Session| async move {
                s.insert("n", 1u64).map(|_| "1").unwrap_or_default()
            }),
        )
        .route(
            "/seed/{user}",
            post(
                |s: Session, axum::extract::Path(user): axum::extract::Path<String>| async move {
                    s.login(&user).await.unwrap();
                    s.insert("n", 0u64).unwrap();
                    "ok"
                },
            ),
        );
    match layer {
        Some(layer) => with_session.layer(layer),
        // The same handlers' work, minus the session.
        None => Router::new()
            .route("/read", get(|| async { "0".to_string() }))
            .route("/write", post(|| async { "1".to_string() }))
            .route("/new", post(|| async { "1" })),
    }
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap()
}

/// Signs `n` clients in through `addr`; their cookies.
async fn sessions(addr: SocketAddr, n: u64) -> Vec<Option<String>> {
    let http = client();
    let mut cookies = Vec::new();
    for i in 0..n {
        let res = http
            .post(format!("http://{addr}/seed/bench{i}"))
            .send()
            .await
            .unwrap();
        let cookie = res
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
        cookies.push(cookie);
    }
    cookies
}

struct Run {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    requests: u64,
}

async fn load(addr: SocketAddr, method: &str, path: &str, cookies: &[Option<String>]) -> Run {
    let secs = env_num("BENCH_SECS", 5);
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let tasks: Vec<_> = cookies
        .iter()
        .cloned()
        .map(|cookie| {
            let (http, url, method) = (
                http.clone(),
                format!("http://{addr}{path}"),
                method.to_owned(),
            );
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let mut req = http.request(method.parse().unwrap(), &url);
                    if let Some(c) = &cookie {
                        req = req.header("cookie", c);
                    }
                    match req.send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                        }
                        _ => errors += 1,
                    }
                    lat.push(t.elapsed());
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Run {
        rps: all.len() as f64 / elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        errors,
        requests: all.len() as u64,
    }
}

async fn statements(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND query NOT ILIKE '%pg_stat_statements%'",
    )
    .fetch_one(pool)
    .await
    .unwrap_or(-1)
}

async fn reset(pool: &PgPool) {
    let _ = sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(pool)
        .await;
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

struct Row {
    scenario: &'static str,
    variant: &'static str,
    run: Run,
    baseline_rps: f64,
    per_request: Option<f64>,
}

async fn pool(url: &str, name: &str) -> PgPool {
    let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    PgPoolOptions::new()
        .max_connections(16)
        .test_before_acquire(false)
        .connect_with(opts.application_name(name))
        .await
        .unwrap()
}

/// Starts a cache's change listener (it starts on first use) and waits for it.
async fn start_listening(cache: &CachedStore) {
    let now = time::OffsetDateTime::now_utc();
    let probe = axum_user_sessions::store::TokenHash::from_bytes([0; 32]);
    let _ = cache
        .load(&probe, &axum_user_sessions::store::Touch::new(now, now))
        .await;
    while !cache.is_listening() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL is not set: run scripts/bench.sh");
        std::process::exit(2);
    };
    let clients = env_num("BENCH_CLIENTS", 32);
    let admin = pool(&url, "bench-admin").await;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&admin)
        .await
        .expect(
            "pg_stat_statements must be in shared_preload_libraries (scripts/bench.sh does it)",
        );
    axum_user_sessions::migrate(&admin).await.unwrap();
    sqlx::query("TRUNCATE axum_user_sessions.sessions CASCADE")
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO axum_user_sessions.sessions
            (id, user_id, data, created_at, last_seen_at, expires_at, absolute_expires_at, rotated_at)
         SELECT gen_random_uuid(), 'u' || g, '{\"n\": 1}', now(), now(), now() + interval '1 hour',
                now() + interval '12 hours', now()
           FROM generate_series(1, $1) g",
    )
    .bind(SEEDED)
    .execute(&admin)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&admin).await.unwrap();

    let baseline = serve(app(None)).await;
    let plain_pool = pool(&url, "bench-plain").await;
    let plain_store = PgStore::new(plain_pool);
    let plain = serve(app(Some(
        SessionLayer::new(plain_store.clone()).without_rotation(),
    )))
    .await;
    let cached_store = CachedStore::new(
        PgStore::new(pool(&url, "bench-cached").await),
        CacheConfig::default(),
    );
    let cached = serve(app(Some(
        SessionLayer::new(cached_store.clone()).without_rotation(),
    )))
    .await;
    start_listening(&cached_store).await;

    let plain_cookies = sessions(plain, clients).await;
    let cached_cookies = sessions(cached, clients).await;
    let anonymous: Vec<Option<String>> = vec![None; clients as usize];
    let mut rows = Vec::new();

    for (scenario, method, path) in [
        ("read", "GET", "/read"),
        ("write", "POST", "/write"),
        ("new", "POST", "/new"),
    ] {
        let base = load(baseline, method, path, &anonymous).await;
        let base_rps = base.rps;
        rows.push(Row {
            scenario,
            variant: "no session layer",
            run: base,
            baseline_rps: base_rps,
            per_request: None,
        });
        for (variant, addr, cookies) in [
            ("layer, no cache", plain, &plain_cookies),
            ("layer, cache", cached, &cached_cookies),
        ] {
            let cookies = if scenario == "new" {
                &anonymous
            } else {
                cookies
            };
            reset(&admin).await;
            let before = statements(&admin).await;
            let run = load(addr, method, path, cookies).await;
            let after = statements(&admin).await;
            let per = (before >= 0).then(|| (after - before) as f64 / run.requests.max(1) as f64);
            rows.push(Row {
                scenario,
                variant,
                run,
                baseline_rps: base_rps,
                per_request: per,
            });
        }
    }

    // Revocation propagation: A revokes, B (cache on) must refuse.
    let b_store = CachedStore::new(
        PgStore::new(pool(&url, "bench-b").await),
        CacheConfig::default(),
    );
    let b_addr = serve(app(Some(
        SessionLayer::new(b_store.clone()).without_rotation(),
    )))
    .await;
    start_listening(&b_store).await;
    let http = client();
    let mut delays = Vec::new();
    for _ in 0..200 {
        let cookie = sessions(cached, 1).await.pop().unwrap().unwrap();
        // Warm B's cache with the session.
        for _ in 0..2 {
            let r = http
                .get(format!("http://{b_addr}/read"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
        let id_row: (uuid::Uuid,) = sqlx::query_as(
            "SELECT id FROM axum_user_sessions.sessions WHERE user_id = 'bench0' ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_one(&admin)
        .await
        .unwrap();
        let admin_api = axum_user_sessions::SessionAdmin::new(cached_store.clone());
        assert!(
            admin_api
                .revoke(
                    id_row.0,
                    axum_user_sessions::RevokedBy::operator("bench"),
                    axum_user_sessions::RevokeReason::other("bench")
                )
                .await
                .unwrap()
        );
        let t = Instant::now();
        loop {
            let r = http
                .get(format!("http://{b_addr}/read"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            // Refused: the session is gone, so the handler runs anonymous and
            // the layer expires the cookie.
            if r.headers().get("set-cookie").is_some() {
                break;
            }
            if t.elapsed() > Duration::from_secs(5) {
                panic!("revocation never reached B");
            }
        }
        delays.push(t.elapsed());
    }
    delays.sort();
    let p = |q: f64| delays[((delays.len() as f64 * q) as usize).min(delays.len() - 1)];

    println!();
    println!(
        "{clients} concurrent clients, {} s per run, {SEEDED} other sessions in the table",
        env_num("BENCH_SECS", 5)
    );
    println!();
    println!(
        "| scenario | variant | req/s | × baseline | p50 ms | p99 ms | statements/request | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {:.2} | {} | {} | {} | {} |",
            r.scenario,
            r.variant,
            r.run.rps,
            r.run.rps / r.baseline_rps,
            ms(r.run.p50),
            ms(r.run.p99),
            r.per_request.map_or("-".into(), |v| format!("{v:.2}")),
            r.run.errors
        );
    }
    println!(
        "| revoke | A revokes, B (cache) refuses | | | {} | {} | | |",
        ms(p(0.50)),
        ms(p(0.99))
    );
    let _: Arc<dyn SessionStore> = Arc::new(plain_store);
}
