//! The load generator: concurrent HTTP clients, each sending one request at
//! a time, with or without a cookie.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A client whose connections stay open (one per concurrent request).
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap()
}

/// The `name=value` of the first cookie a response sets.
pub(crate) fn set_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// Signs a session in through `addr` as `user`; its cookie.
pub(crate) async fn sign_in(http: &reqwest::Client, addr: SocketAddr, user: &str) -> String {
    let res = http
        .post(format!("http://{addr}/seed/{user}"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "seed {user}: {}", res.status());
    set_cookie(&res).expect("a signed-in session sets its cookie")
}

/// Signs `n` sessions in through `addr` (users `{prefix}0`…): their cookies.
pub(crate) async fn sessions(addr: SocketAddr, prefix: &str, n: u64) -> Vec<Option<String>> {
    let http = client();
    let mut cookies = Vec::new();
    for i in 0..n {
        cookies.push(Some(sign_in(&http, addr, &format!("{prefix}{i}")).await));
    }
    cookies
}

/// What a load run measured.
pub(crate) struct Run {
    pub(crate) rps: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) errors: u64,
    pub(crate) requests: u64,
}

/// When clients stop.
#[derive(Clone)]
pub(crate) enum Until {
    Deadline(Instant),
    Flag(Arc<AtomicBool>),
}

impl Until {
    fn reached(&self) -> bool {
        match self {
            Until::Deadline(t) => Instant::now() >= *t,
            Until::Flag(stop) => stop.load(Ordering::Relaxed),
        }
    }
}

/// One client per cookie sends `method path` until `until`; every request
/// answered, failed or not, counts (failures also as errors).
pub(crate) async fn load(
    addr: SocketAddr, method: &str, path: &str, cookies: &[Option<String>], until: Until,
) -> Run {
    let http = client();
    let start = Instant::now();
    let method: reqwest::Method = method.parse().unwrap();
    let tasks: Vec<_> = cookies
        .iter()
        .cloned()
        .map(|cookie| {
            let (http, url, method, until) = (
                http.clone(),
                format!("http://{addr}{path}"),
                method.clone(),
                until.clone(),
            );
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                while !until.reached() {
                    let t = Instant::now();
                    let mut req = http.request(method.clone(), &url);
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
    Run {
        rps: all.len() as f64 / elapsed,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        errors,
        requests: all.len() as u64,
    }
}

/// The `q` quantile of sorted durations (zero for none).
pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}
