//! Two app instances (two layers, two pools, two caches) in one process on
//! one Postgres: writes on both, and how long a revocation made on A takes
//! to be refused on B.

use crate::apps;
use crate::load::{Until, client, load, percentile, sessions, sign_in};
use axum_user_sessions::{
    CacheConfig, CachedStore, PgStore, RevokeReason, RevokedBy, SessionAdmin, SessionLayer,
};
use sqlx::PgPool;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long B may take to refuse a revoked session before the attempt
/// counts as never refused.
const BOUND: Duration = Duration::from_secs(5);

/// What the two-instance scenario measured.
pub(crate) struct TwoInstances {
    /// Writes per second, A and B together, during the revocations.
    pub(crate) write_rps: f64,
    pub(crate) write_errors: u64,
    /// Revocation on A until B refuses, sorted.
    pub(crate) delays: Vec<Duration>,
    /// Revocations B did not refuse within [`BOUND`].
    pub(crate) never: usize,
    /// Revocations where B served the session from its cache before (the
    /// others measured nothing but a database read).
    pub(crate) cached_before: usize,
}

impl TwoInstances {
    pub(crate) fn p(&self, q: f64) -> Duration {
        percentile(&self.delays, q)
    }
}

/// Runs the scenario: `a` is instance A (a cached layer, its admin
/// `a_admin`); B is built here on its own pool from `url`. `writers`
/// clients write on each instance while `revocations` sessions, signed in
/// on A and read on B, are revoked on A one after the other.
pub(crate) async fn run(
    url: &str, admin: &PgPool, a: SocketAddr, a_admin: &SessionAdmin, writers: u64,
    revocations: usize,
) -> TwoInstances {
    let b_store = CachedStore::new(
        PgStore::new(crate::pg::pool(url, "bench-b", 16).await),
        CacheConfig::default(),
    );
    let b = apps::serve(apps::layered(
        SessionLayer::new(b_store.clone()).without_rotation(),
    ))
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut background = Vec::new();
    for (addr, name) in [(a, "two-a"), (b, "two-b")] {
        let cookies = sessions(addr, name, writers).await;
        let until = Until::Flag(stop.clone());
        background.push(tokio::spawn(async move {
            load(addr, "POST", "/write", &cookies, until).await
        }));
    }

    let http = client();
    let me = |addr: SocketAddr, cookie: &str| {
        http.get(format!("http://{addr}/me"))
            .header("cookie", cookie)
            .send()
    };
    let mut delays = Vec::new();
    let (mut never, mut cached_before) = (0, 0);
    for i in 0..revocations {
        let user = format!("revoked{i}");
        let cookie = sign_in(&http, a, &user).await;
        // B loads the session, then serves it from memory (bounded tries:
        // its feed may be catching up).
        let mut cached = false;
        for _ in 0..50 {
            let hits = b_store.hits();
            let r = me(b, &cookie).await.unwrap();
            assert!(r.status().is_success(), "B refused a live session");
            if b_store.hits() > hits {
                cached = true;
                break;
            }
        }
        cached_before += usize::from(cached);
        let id: Uuid =
            sqlx::query_scalar("SELECT id FROM axum_user_sessions.sessions WHERE user_id = $1")
                .bind(&user)
                .fetch_one(admin)
                .await
                .unwrap();
        let revoked = a_admin
            .revoke(
                id,
                RevokedBy::operator("bench"),
                RevokeReason::other("bench"),
            )
            .await
            .unwrap();
        assert!(revoked, "the revocation found no session");
        let t = Instant::now();
        loop {
            let r = me(b, &cookie).await.unwrap();
            if r.status() == reqwest::StatusCode::UNAUTHORIZED {
                delays.push(t.elapsed());
                break;
            }
            if t.elapsed() > BOUND {
                never += 1;
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (mut write_rps, mut write_errors) = (0.0, 0);
    for task in background {
        let run = task.await.unwrap();
        write_rps += run.rps;
        write_errors += run.errors;
    }
    delays.sort();
    TwoInstances {
        write_rps,
        write_errors,
        delays,
        never,
        cached_before,
    }
}

/// Rotates one session `n` times through `addr` (`Session::rotate`, one
/// request each, following the new cookie); the session's token rows
/// afterwards, and whether its last cookie still works.
pub(crate) async fn rotations(addr: SocketAddr, admin: &PgPool, n: usize) -> (i64, bool) {
    let http = client();
    let user = "rotated";
    let mut cookie = sign_in(&http, addr, user).await;
    for i in 0..n {
        let r = http
            .post(format!("http://{addr}/rotate"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "rotation {i}: {}", r.status());
        cookie = crate::load::set_cookie(&r).expect("a rotation sets the new cookie");
    }
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM axum_user_sessions.tokens t
           JOIN axum_user_sessions.sessions s ON s.id = t.session_id
          WHERE s.user_id = $1",
    )
    .bind(user)
    .fetch_one(admin)
    .await
    .unwrap();
    let works = http
        .get(format!("http://{addr}/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .status()
        .is_success();
    (rows, works)
}
