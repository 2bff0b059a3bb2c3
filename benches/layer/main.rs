//! Throughput of the session layer on a real Postgres that commits as in
//! production (fsync, `synchronous_commit=on`), against the same handlers
//! with no session layer and against a raw SQL floor, with statements,
//! transactions and WAL flushes per request.
//!
//! Run with `scripts/bench.sh` (starts a throwaway durable Postgres with
//! `pg_stat_statements`), or `cargo bench --bench layer` with `DATABASE_URL`
//! pointing at a Postgres where `pg_stat_statements` is loaded (its
//! `axum_user_sessions` tables are emptied). `BENCH_SECS` (default 5),
//! `BENCH_WARMUP_SECS` (1), `BENCH_CLIENTS` (32), `BENCH_REVOCATIONS` (200)
//! and `BENCH_ROTATIONS` (1000) tune it.
//!
//! Variants, side by side in one process:
//! - no session layer: the same answers, no database;
//! - raw SQL floor: no session layer, exactly one primary-key statement per
//!   request (`SELECT`, `UPDATE`, `INSERT`) on the uncached layer's pool,
//!   against `bench_floor`, seeded with as many rows as the session table;
//! - ours, no cache; ours, cache (`with_cache(CacheConfig::default())`).
//!
//! The variants without a cache run first, every scenario, before the
//! cached layer exists: while any cache's feed is registered on a database
//! every writer there logs its changes, and "ours, no cache" is measured as
//! an app with no cache runs (the header says how many log rows those runs
//! wrote: 0). Then the cached variant runs every scenario.
//!
//! Scenarios: read one value; write (`Session::update` of one key, as the
//! demo's counter) with every client on one session, and with a session per
//! client; new session (`insert`, written after the handler). Each run is
//! preceded by a warm-up; a `CHECKPOINT` separates scenarios. Then: two
//! instances (two layers, pools and caches) writing, with revocations on A
//! timed until B refuses; and the token rows of one session after 1,000
//! rotations.

mod apps;
mod instances;
mod load;
mod pg;
mod report;

use axum_user_sessions::{CacheConfig, PgStore, SessionLayer};
use load::{Until, load, sessions};
use report::{BASELINE, CACHED, FLOOR, NEW, PLAIN, READ, Row, WRITE_MANY, WRITE_ONE};
use std::time::{Duration, Instant};

/// Other sessions in the table (and rows in the floor's).
const SEEDED: i64 = 100_000;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The scenarios: name, method, path.
const SCENARIOS: [(&str, &str, &str); 4] = [
    (READ, "GET", "/read"),
    (WRITE_ONE, "POST", "/write"),
    (WRITE_MANY, "POST", "/write"),
    (NEW, "POST", "/new"),
];

/// One variant of one scenario: a warm-up of `times.0` s, then a measured
/// run of `times.1` s.
async fn measure(
    admin: &sqlx::PgPool, pools: &[&sqlx::PgPool],
    (scenario, method, path): (&'static str, &str, &str), variant: &'static str,
    addr: std::net::SocketAddr, cookies: &[Option<String>], (warmup, secs): (u64, u64),
) -> Row {
    load(addr, method, path, cookies, for_secs(warmup)).await;
    let mark = pg::start(admin, pools).await;
    let run = load(addr, method, path, cookies, for_secs(secs)).await;
    let db = pg::stop(admin, pools, mark).await;
    eprintln!("{scenario} / {variant}: {:.0} req/s", run.rps);
    Row {
        scenario,
        variant,
        run,
        db,
    }
}

fn for_secs(secs: u64) -> Until {
    Until::Deadline(Instant::now() + Duration::from_secs(secs))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL is not set: run scripts/bench.sh");
        std::process::exit(2);
    };
    let clients = env_num("BENCH_CLIENTS", 32);
    let secs = env_num("BENCH_SECS", 5);
    let warmup = env_num("BENCH_WARMUP_SECS", 1);
    let started = Instant::now();
    let admin = pg::pool(&url, "bench-admin", 1).await;
    let mut header: Vec<String> = pg::settings(&admin)
        .await
        .into_iter()
        .map(|(k, v)| format!("`{k}` = {v}"))
        .collect();
    header.push(format!(
        "{clients} concurrent clients, {secs} s per run after {warmup} s of warm-up, {SEEDED} other sessions (and floor rows); {} CPUs, load average at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    ));
    pg::prepare(&admin, SEEDED).await;

    let plain_pool = pg::pool(&url, "bench-plain", 16).await;
    let cached_pool = pg::pool(&url, "bench-cached", 16).await;
    let pools = [&plain_pool, &cached_pool];
    let baseline = apps::serve(apps::baseline()).await;
    let floor = apps::serve(apps::floor(plain_pool.clone())).await;
    let plain = apps::serve(apps::layered(
        SessionLayer::new(PgStore::new(plain_pool.clone())).without_rotation(),
    ))
    .await;

    let n = clients as usize;
    let anonymous = vec![None; n];
    let floor_many: Vec<_> = (1..=clients).map(|i| Some(format!("floor=f{i}"))).collect();
    let floor_one = vec![Some("floor=f1".to_owned()); n];
    let plain_many = sessions(plain, "plain", clients).await;
    let plain_one = vec![sessions(plain, "plain-one", 1).await.remove(0); n];

    // The variants without a cache run first, while no cache's feed is
    // registered on the database: "ours, no cache" then writes no change
    // log, as in an app that runs no cache (a cache anywhere on the
    // database makes every writer log).
    let mut rows = Vec::new();
    for (scenario, method, path) in SCENARIOS {
        pg::checkpoint(&admin).await;
        let (floor_cookies, plain_cookies) = match scenario {
            WRITE_ONE => (&floor_one, &plain_one),
            NEW => (&anonymous, &anonymous),
            _ => (&floor_many, &plain_many),
        };
        for (variant, addr, cookies) in [
            (BASELINE, baseline, &anonymous),
            (FLOOR, floor, floor_cookies),
            (PLAIN, plain, plain_cookies),
        ] {
            rows.push(
                measure(
                    &admin,
                    &pools,
                    (scenario, method, path),
                    variant,
                    addr,
                    cookies,
                    (warmup, secs),
                )
                .await,
            );
        }
    }
    header.push(format!(
        "change-log rows written by the runs without a cache: {} (0: no cache was alive)",
        pg::logged(&admin).await
    ));

    // Now the cache: its feed registers on the first request.
    let cached_layer = SessionLayer::new(PgStore::new(cached_pool.clone()))
        .with_cache(CacheConfig::default())
        .without_rotation();
    let cached_admin = cached_layer.admin();
    let cached = apps::serve(apps::layered(cached_layer)).await;
    let cached_many = sessions(cached, "cached", clients).await;
    let cached_one = vec![sessions(cached, "cached-one", 1).await.remove(0); n];
    for (scenario, method, path) in SCENARIOS {
        pg::checkpoint(&admin).await;
        let cookies = match scenario {
            WRITE_ONE => &cached_one,
            NEW => &anonymous,
            _ => &cached_many,
        };
        rows.push(
            measure(
                &admin,
                &pools,
                (scenario, method, path),
                CACHED,
                cached,
                cookies,
                (warmup, secs),
            )
            .await,
        );
    }
    // The report's order: by scenario, then variant.
    let order = |r: &Row| {
        let s = SCENARIOS.iter().position(|(s, _, _)| *s == r.scenario);
        let v = [BASELINE, FLOOR, PLAIN, CACHED]
            .iter()
            .position(|v| *v == r.variant);
        (s, v)
    };
    rows.sort_by_key(order);

    pg::checkpoint(&admin).await;
    let two = instances::run(
        &url,
        &admin,
        cached,
        &cached_admin,
        (clients / 4).max(1),
        env_num("BENCH_REVOCATIONS", 200) as usize,
    )
    .await;
    let rotations = env_num("BENCH_ROTATIONS", 1000) as usize;
    let token_rows = instances::rotations(plain, &admin, rotations).await;
    header.push(format!(
        "whole run {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    report::print(&header, &rows, &two, token_rows, rotations);
}
