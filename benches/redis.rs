//! Ours on Redis, against ours on Postgres and tower-sessions' Redis store
//! (`tower-sessions-redis-store`), in one run: read one value, write one
//! value with a session per client (32 clients), and new sessions, through
//! real HTTP on loopback. Issue #24, item 8.
//!
//! Needs `DATABASE_URL` (a Postgres where this user may create a database:
//! the run makes `aus_bench_redis_<pid>` and drops it) and `REDIS_URL` (a
//! Redis node: keys under a prefix of the run's own, and tower-sessions'
//! keys, which it does not prefix, on that node's database). `BENCH_SECS`
//! (default 5), `BENCH_CLIENTS` (32) and `BENCH_RUNS` (2) tune it:
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \
//!   cargo bench --bench redis --features redis
//! ```

#[allow(dead_code)]
#[path = "layer/apps.rs"]
mod apps;
#[allow(dead_code)]
#[path = "layer/load.rs"]
mod load;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use axum_user_sessions::store::{RedisOptions, RedisStore};
use axum_user_sessions::{PgStore, SessionLayer};
use load::{Until, load, sessions};
use std::time::{Duration, Instant};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// tower-sessions on its Redis store, with the same routes and answers.
fn tower(store: tower_sessions_redis_store::RedisStore<Pool>) -> Router {
    use tower_sessions::{Expiry, Session, SessionManagerLayer};
    let read = async |s: Session| {
        s.get::<u64>("n")
            .await
            .ok()
            .flatten()
            .unwrap_or(0)
            .to_string()
    };
    let write = async |s: Session| {
        let n = s.get::<u64>("n").await.ok().flatten().unwrap_or(0) + 1;
        s.insert("n", n)
            .await
            .map(|()| n.to_string())
            .map_err(|_| 503u16)
    };
    let new = async |s: Session| s.insert("n", 1u64).await.map(|()| "1").map_err(|_| 503u16);
    let seed = async |s: Session, Path(user): Path<String>| {
        s.cycle_id().await.ok();
        s.insert("user", user).await.ok();
        s.insert("n", 0u64).await.map(|()| "ok").map_err(|_| 503u16)
    };
    let status = |r: Result<String, u16>| match r {
        Ok(body) => (axum::http::StatusCode::OK, body),
        Err(code) => (
            axum::http::StatusCode::from_u16(code).unwrap(),
            String::new(),
        ),
    };
    Router::new()
        .route("/read", get(read))
        .route("/write", post(async move |s| status(write(s).await)))
        .route(
            "/new",
            post(async move |s| status(new(s).await.map(str::to_owned))),
        )
        .route(
            "/seed/{user}",
            post(async move |s, p| status(seed(s, p).await.map(str::to_owned))),
        )
        .layer(
            SessionManagerLayer::new(store)
                .with_secure(false)
                .with_expiry(Expiry::OnInactivity(time::Duration::minutes(30))),
        )
}

/// Requests per second and p50/p99 of each scenario on `addr`.
async fn measure(addr: std::net::SocketAddr, tag: &str, clients: u64, secs: u64) -> Vec<String> {
    let cookies = sessions(addr, &format!("{tag}-"), clients).await;
    let anonymous = vec![None; clients as usize];
    let mut out = Vec::new();
    for (method, path, cookies) in [
        ("GET", "/read", &cookies),
        ("POST", "/write", &cookies),
        ("POST", "/new", &anonymous),
    ] {
        let warm = Instant::now() + Duration::from_secs(1);
        load(addr, method, path, cookies, Until::Deadline(warm)).await;
        let until = Until::Deadline(Instant::now() + Duration::from_secs(secs));
        let run = load(addr, method, path, cookies, until).await;
        out.push(format!(
            "{:.0} ({:.1} / {:.1} ms{})",
            run.rps,
            run.p50.as_secs_f64() * 1e3,
            run.p99.as_secs_f64() * 1e3,
            match run.errors {
                0 => String::new(),
                e => format!(", {e} errors"),
            }
        ));
    }
    out
}

#[tokio::main]
async fn main() {
    let (Ok(pg_url), Ok(redis_url)) = (std::env::var("DATABASE_URL"), std::env::var("REDIS_URL"))
    else {
        eprintln!("bench redis: set DATABASE_URL and REDIS_URL");
        std::process::exit(2);
    };
    let (secs, clients, runs) = (
        env_num("BENCH_SECS", 5),
        env_num("BENCH_CLIENTS", 32),
        env_num("BENCH_RUNS", 2),
    );

    let admin = sqlx::PgPool::connect(&pg_url).await.expect("DATABASE_URL");
    let db = format!("aus_bench_redis_{}", std::process::id());
    // The name is ours: a fixed prefix and a process id.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&admin)
        .await
        .unwrap();
    let opts = pg_url
        .parse::<sqlx::postgres::PgConnectOptions>()
        .unwrap()
        .database(&db);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(32)
        .test_before_acquire(false)
        .connect_with(opts)
        .await
        .unwrap();
    axum_user_sessions::migrate(&pool).await.unwrap();
    let ours_pg = apps::serve(apps::layered(SessionLayer::new(PgStore::new(pool.clone())))).await;

    let prefix = format!("bench-{}", std::process::id());
    let redis = RedisStore::connect_with(&redis_url, RedisOptions::default().prefix(prefix))
        .await
        .expect("REDIS_URL");
    let ours_redis = apps::serve(apps::layered(SessionLayer::new(redis))).await;

    let fred = Pool::new(Config::from_url(&redis_url).unwrap(), None, None, None, 6).unwrap();
    // The connection task runs on its own; the wait below is what matters.
    drop(fred.connect());
    fred.wait_for_connect().await.unwrap();
    let theirs = apps::serve(tower(tower_sessions_redis_store::RedisStore::new(fred))).await;

    for run in 1..=runs {
        println!("\nRun {run} of {runs}: {clients} clients, {secs} s each; req/s (p50 / p99)\n");
        println!("| store | read | write ({clients} sessions) | new |");
        println!("|---|---|---|---|");
        for (name, addr) in [
            ("ours, Postgres", ours_pg),
            ("ours, Redis", ours_redis),
            ("tower-sessions, Redis", theirs),
        ] {
            let row = measure(addr, &format!("r{run}{}", name.len()), clients, secs).await;
            println!("| {name} | {} |", row.join(" | "));
        }
    }
    pool.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}
