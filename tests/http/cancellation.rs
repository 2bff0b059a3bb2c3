//! Clients that hang up in the middle of a request (hyper then drops the
//! request's future, store call included) during token rotation: the
//! session's next request is served, and no write that was acknowledged is
//! lost. Every store.

use crate::common;

use common::{Backend, Client, Rng, serve_demo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

conformance!(clients_that_hang_up_mid_request_lose_nothing);

/// How a hung-up request ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum HangUp {
    /// Closed before the request was sent whole.
    MidSend,
    /// Closed with the request sent and no answer yet: cut in flight.
    InFlight,
    /// The answer came before the client hung up.
    Answered,
}

/// Sends `request` on a connection of its own and hangs up: half-way through
/// sending it, or `wait` after sending it unless the answer came first. With
/// `reset`, the close is a TCP reset rather than a FIN.
async fn hang_up(
    addr: SocketAddr, request: Vec<u8>, wait: Duration, mid_send: bool, reset: bool,
) -> HangUp {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    if reset {
        s.set_zero_linger().unwrap();
    }
    if mid_send {
        let _ = s.write_all(&request[..request.len() / 2]).await;
        return HangUp::MidSend;
    }
    if s.write_all(&request).await.is_err() {
        return HangUp::InFlight;
    }
    let mut buf = [0u8; 64];
    match tokio::time::timeout(wait, s.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => HangUp::Answered,
        _ => HangUp::InFlight,
    }
}

/// A raw HTTP/1.1 request with the session cookie `cookie`.
fn raw_request(method: &str, path: &str, cookie: Option<&str>, body: &str) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: hang-up\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: __Host-session={c}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    req.into_bytes()
}

/// Waits until no backend of the test database is `idle in transaction`
/// (Postgres only): `false` if that did not happen within the bound.
async fn no_open_transaction(b: &Backend) -> bool {
    let Some(pg) = b.pg.clone() else {
        return true;
    };
    common::eventually(Duration::from_secs(10), || {
        let pg = pg.clone();
        async move {
            let open: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
            )
            .fetch_one(&pg)
            .await
            .unwrap();
            (open == 0).then_some(())
        }
    })
    .await
    .is_some()
}

/// Rounds of one to three clients that send a request with the session's
/// cookie (a write, a read that may start or complete a rotation) and hang
/// up at a random point, each followed by the session's own next request, a
/// write: it must be served (never the `503` of a lock left held), and every
/// write that got its `204` must be there at the end. The rotation interval
/// is 1 s, so hung-up requests start rotations and promote pending tokens.
async fn clients_that_hang_up_mid_request_lose_nothing(b: Backend) {
    let layer = b
        .layer()
        .with_rotation_interval(Duration::from_secs(1))
        .with_rotation_grace(Duration::from_secs(5));
    let app = serve_demo(layer).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let id = c.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();
    let mut carried_pending = 0;
    let mut rotated = false;
    let mut rng = Rng::new(0x4A46_0013);
    let mut acked = BTreeMap::<String, String>::new();
    let mut answers = BTreeMap::<u16, u32>::new();
    let mut hang_ups = BTreeMap::<HangUp, u32>::new();
    let mut rotations = 0;
    let start = Instant::now();
    let mut round = 0u32;
    // At least 150 rounds and 4 s (several rotations), and on until two
    // rounds have cut promotions, within a bound.
    while round < 150
        || (start.elapsed() < Duration::from_secs(4) && round < 2_000)
        || (carried_pending < 2 && start.elapsed() < Duration::from_secs(60))
    {
        // Shortly before a rotation falls due, the hung-up requests go
        // without the cookie (they create sessions of their own), so that
        // the session's own request starts the rotation and gets the pending
        // token, which the next round's hung-up requests carry: promotions
        // cut in the middle.
        let last = b.store.get(id).await.unwrap().unwrap().rotated_at;
        let due_soon = time::OffsetDateTime::now_utc() - last >= Duration::from_millis(750);
        let cookie = (!due_soon).then(|| c.cookie.clone()).flatten();
        if rotated && cookie.is_some() {
            carried_pending += 1;
        }
        let clients = 1 + rng.next() % 3;
        let tasks: Vec<_> = (0..clients)
            .map(|i| {
                let request = match rng.next() % 3 {
                    0 => raw_request("GET", "/me", cookie.as_deref(), ""),
                    _ => raw_request(
                        "PUT",
                        &format!("/kv/gone-{round}-{i}"),
                        cookie.as_deref(),
                        "x",
                    ),
                };
                let wait = Duration::from_micros(rng.next() % 4_000);
                let (mid_send, reset) = (rng.chance(0.1), rng.chance(0.5));
                tokio::spawn(hang_up(app.addr, request, wait, mid_send, reset))
            })
            .collect();
        for t in tasks {
            *hang_ups.entry(t.await.unwrap()).or_default() += 1;
        }
        let before = c.cookie.clone();
        let (key, value) = (format!("k{round}"), format!("v{round}"));
        let res = c.put_kv(&key, &value).await;
        *answers.entry(res.status).or_default() += 1;
        if res.status == 204 {
            acked.insert(key, value);
        }
        rotated = c.cookie != before;
        if rotated {
            rotations += 1;
        }
        round += 1;
    }
    let all = c.get("/kv").await;
    assert_eq!(all.status, 200, "{}", all.body);
    let data = all.json();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|(k, v)| data[k.as_str()].as_str() != Some(v.as_str()))
        .map(|(k, _)| k)
        .collect();
    let gone_applied = data
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("gone-"))
        .count();
    println!(
        "{:?}: {round} rounds, {rotations} rotations seen, {carried_pending} rounds of hung-up \
         requests with a pending token; hung up {hang_ups:?}; \
         hung-up writes applied anyway: {gone_applied}; the session's own writes answered \
         {answers:?}; acknowledged writes lost: {}",
        b.kind,
        lost.len()
    );
    assert_eq!(
        answers.get(&204),
        Some(&round),
        "a request after a hang-up was not served: {answers:?}"
    );
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    assert!(
        carried_pending >= 2,
        "only {carried_pending} rounds cut promotions"
    );
    assert!(
        hang_ups.get(&HangUp::InFlight).copied().unwrap_or(0) > 0,
        "no request was cut in flight"
    );
    assert!(no_open_transaction(&b).await, "a transaction was left open");
}
