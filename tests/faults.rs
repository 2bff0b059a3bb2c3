//! Reliability under faults: a database restart under load, pool exhaustion,
//! a stuck query. Each answer is 2xx or 503, in bounded time, and nothing
//! acknowledged is lost.

mod common;

use axum_user_sessions::{PgStore, SessionLayer};
use common::{Client, eventually, serve_demo};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

async fn app_pool(
    opts: sqlx::postgres::PgConnectOptions, size: u32, acquire: Duration,
) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(acquire)
        .test_before_acquire(false)
        .connect_with(opts)
        .await
        .unwrap()
}

/// Every connection of the pool is held elsewhere: requests that need the
/// store answer 503 after the acquire timeout, and the app is fine after.
#[sqlx::test(migrations = false)]
async fn exhausted_pool_answers_503_in_time(pool: sqlx::PgPool) {
    let opts = (*pool.connect_options()).clone();
    let app_pool = app_pool(opts, 2, Duration::from_millis(500)).await;
    axum_user_sessions::migrate(&app_pool).await.unwrap();
    let app = serve_demo(SessionLayer::new(app_pool.clone())).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let held = (
        app_pool.acquire().await.unwrap(),
        app_pool.acquire().await.unwrap(),
    );
    for _ in 0..3 {
        let start = Instant::now();
        let res = c.get("/me").await;
        assert_eq!(res.status, 503, "{}", res.body);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "waited {:?}",
            start.elapsed()
        );
    }
    drop(held);
    assert_eq!(c.me().await.as_deref(), Some("alice"));
}

/// A burst of many times more concurrent requests than connections: each
/// gets 2xx or 503 within the timeouts; nothing hangs; healthy afterwards.
#[sqlx::test(migrations = false)]
async fn burst_larger_than_the_pool(pool: sqlx::PgPool) {
    let opts = (*pool.connect_options()).clone();
    let app_pool = app_pool(opts, 2, Duration::from_secs(1)).await;
    axum_user_sessions::migrate(&app_pool).await.unwrap();
    let app = serve_demo(SessionLayer::new(app_pool)).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                let res = if i % 2 == 0 {
                    c.send_raw("GET", "/me", None, &[]).await
                } else {
                    c.send_raw(
                        "PUT",
                        &format!("/kv/k{i}"),
                        Some(("text/plain", "v".into())),
                        &[],
                    )
                    .await
                };
                (res.status, start.elapsed())
            })
        })
        .collect();
    let mut by_status = std::collections::BTreeMap::new();
    for t in tasks {
        let (status, took) = tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("a request hung")
            .unwrap();
        assert!(
            (200..300).contains(&status) || status == 503,
            "answered {status}"
        );
        assert!(took < Duration::from_secs(8), "took {took:?}");
        *by_status.entry(status).or_insert(0) += 1;
    }
    println!("burst of 120 on a pool of 2: {by_status:?}");
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    // Every write that was acknowledged is there.
    let kv = c.get("/kv").await.json();
    let stored = kv.as_object().unwrap().len();
    let acknowledged = by_status.get(&204).copied().unwrap_or(0);
    assert!(
        stored >= acknowledged,
        "{stored} stored, {acknowledged} acknowledged"
    );
}

/// A query stuck behind a lock: the store timeout answers 503 instead of
/// holding the request.
#[sqlx::test(migrations = false)]
async fn stuck_query_answers_503_after_the_store_timeout(pool: sqlx::PgPool) {
    let opts = (*pool.connect_options()).clone();
    let app_pool = app_pool(opts, 4, Duration::from_secs(2)).await;
    axum_user_sessions::migrate(&app_pool).await.unwrap();
    let layer = SessionLayer::new(PgStore::new(app_pool.clone()))
        .with_store_timeout(Duration::from_millis(700));
    let app = serve_demo(layer).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    // Another transaction holds the session row.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM axum_user_sessions.sessions FOR UPDATE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let start = Instant::now();
    let res = c.put_kv("k", "v").await;
    let took = start.elapsed();
    assert_eq!(res.status, 503, "{}", res.body);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    tx.rollback().await.unwrap();
    // Once the lock is gone, the app works and the refused write can be redone.
    let ok = eventually(Duration::from_secs(5), || {
        let mut c = c.clone();
        async move { (c.put_kv("k", "v").await.status == 204).then_some(()) }
    })
    .await;
    assert!(ok.is_some());
    assert_eq!(c.get("/kv").await.json()["k"], "v");
}

/// A private Postgres cluster the test may stop and start.
struct Cluster {
    bin: std::path::PathBuf,
    data: std::path::PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

fn as_postgres(cmd: &std::path::Path) -> Command {
    // Postgres refuses to run as root.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(cmd);
        c
    } else {
        Command::new(cmd)
    }
}

impl Cluster {
    fn bin_dir() -> Option<std::path::PathBuf> {
        if let Ok(dir) = std::env::var("AUS_PG_BIN") {
            return Some(dir.into());
        }
        let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .collect();
        dirs.sort();
        dirs.pop()
    }

    fn start_new() -> Self {
        let bin =
            Self::bin_dir().expect("PostgreSQL server binaries (scripts/test.sh installs them)");
        let dir = tempfile::Builder::new()
            .prefix("aus-restart")
            .tempdir_in("/tmp")
            .unwrap();
        let _ = Command::new("chown")
            .args(["postgres"])
            .arg(dir.path())
            .status();
        let data = dir.path().join("data");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ok = as_postgres(&bin.join("initdb"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"])
            .arg(&data)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "initdb failed");
        let c = Self {
            bin,
            data,
            port,
            _dir: dir,
        };
        c.start();
        c
    }

    fn pg_ctl(&self, args: &[&str]) -> bool {
        let log = self.data.join("../postgres.log");
        as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(log)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    fn start(&self) {
        let opts = format!("-p {} -k /tmp -c listen_addresses=127.0.0.1", self.port);
        assert!(
            self.pg_ctl(&["-w", "-t", "60", "-o", &opts, "start"]),
            "pg_ctl start failed"
        );
    }

    fn stop(&self) {
        assert!(
            self.pg_ctl(&["-w", "-m", "fast", "stop"]),
            "pg_ctl stop failed"
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.pg_ctl(&["-m", "immediate", "stop"]);
    }
}

/// The database is stopped and started again while clients keep sending
/// requests: answers during the outage are 503 (never 500, never a hang),
/// and afterwards every session is valid and every acknowledged write is
/// there, with no app restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_restart_under_load() {
    common::init_tracing();
    let cluster = Cluster::start_new();
    let opts: sqlx::postgres::PgConnectOptions = cluster.url().parse().unwrap();
    let pool = app_pool(opts, 8, Duration::from_secs(1)).await;
    axum_user_sessions::migrate(&pool).await.unwrap();
    let app = serve_demo(SessionLayer::new(pool).with_store_timeout(Duration::from_secs(2))).await;

    let mut clients = Vec::new();
    for i in 0..8 {
        let mut c = Client::new(&app);
        c.login(["alice", "bob", "carol"][i % 3]).await;
        clients.push(c);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = clients
        .iter()
        .cloned()
        .enumerate()
        .map(|(w, mut c)| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let mut statuses = std::collections::BTreeMap::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let key = format!("w{w}-{n}");
                    let start = Instant::now();
                    let res = c.put_kv(&key, "v").await;
                    let took = start.elapsed();
                    assert!(
                        res.status == 204 || res.status == 503,
                        "answered {}: {}",
                        res.status,
                        res.body
                    );
                    assert!(took < Duration::from_secs(5), "a request hung for {took:?}");
                    if res.status == 204 {
                        acknowledged.push(key);
                    }
                    *statuses.entry(res.status).or_insert(0u32) += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                (c, acknowledged, statuses)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        std::thread::sleep(Duration::from_secs(2));
        cluster.start();
        cluster
    })
    .await
    .unwrap();
    // Let the app find the database again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = std::collections::BTreeMap::new();
    for w in workers {
        let (mut c, acknowledged, statuses) = w.await.unwrap();
        for (s, n) in statuses {
            *all.entry(s).or_insert(0) += n;
        }
        let back = eventually(Duration::from_secs(15), || {
            let mut c = c.clone();
            async move { c.me().await }
        })
        .await;
        assert!(back.is_some(), "a session did not survive the restart");
        let kv = c.get("/kv").await.json();
        for key in &acknowledged {
            assert_eq!(kv[key], "v", "acknowledged write {key} lost");
        }
    }
    println!("restart under load: answers by status {all:?}");
    assert!(
        all.get(&503).copied().unwrap_or(0) > 0,
        "the outage was not observed"
    );
    assert!(all.get(&204).copied().unwrap_or(0) > 0);
    drop(cluster);
}
