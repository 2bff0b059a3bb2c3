//! "Your devices", where a device was last seen: the last IP rides with the
//! touch (no write of its own), is anonymised when configured, and an app's
//! locator labels it off the request path. Every store, over real HTTP. The
//! server's socket peer is 127.0.0.1; trusting it as a proxy lets
//! `X-Forwarded-For` play the client's address.

use crate::common;

use axum_user_sessions::ipnet::IpNet;
use axum_user_sessions::{SessionLayer, SessionRoutes};
use common::{Backend, Client, TestApp};
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

conformance!(
    a_new_ip_rides_with_the_touch,
    last_ips_are_anonymised,
    the_locator_labels_the_last_ip,
    a_slow_or_failing_locator_changes_nothing,
);

const HOME: &str = "198.51.100.1";
const CAFE: &str = "203.0.113.9";
const LIMIT: Duration = Duration::from_secs(10);

/// `b`'s layer trusting the test peer as a proxy, touching at most every
/// two seconds (so a new IP may ride with a touch after 200 ms).
fn layer(b: &Backend) -> SessionLayer {
    let proxy: IpNet = "127.0.0.1/32".parse().unwrap();
    b.layer()
        .with_trusted_proxies([proxy])
        .with_touch_interval(Duration::from_secs(2))
}

async fn serve(layer: SessionLayer) -> TestApp {
    common::serve(common::demo::routes_with(SessionRoutes::new()).layer(layer)).await
}

/// Signs alice in from `ip`: the session's id.
async fn signed_in_from(app: &TestApp, ip: &str) -> (Client, uuid::Uuid) {
    let mut c = Client::new(app);
    let form = "username=alice&password=password".to_owned();
    let res = c
        .send_raw(
            "POST",
            "/login",
            Some(("application/x-www-form-urlencoded", form)),
            &[("x-forwarded-for", ip.as_bytes())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    c.absorb(&res);
    let id = c
        .send_with("GET", "/me", &[("x-forwarded-for", ip)])
        .await
        .json()["session_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    (c, id)
}

/// The HTML page, as `c` (from `ip`) sees it.
async fn page_from(c: &Client, ip: &str) -> common::Resp {
    let extra: [(&str, &[u8]); 2] = [("accept", b"text/html"), ("x-forwarded-for", ip.as_bytes())];
    c.send_raw("GET", "/sessions", None, &extra).await
}

/// The list item of `id`, as `c` (from `ip`) sees it.
async fn item(c: &mut Client, ip: &str, id: uuid::Uuid) -> Value {
    c.send_with("GET", "/sessions", &[("x-forwarded-for", ip)])
        .await
        .listed(|s| s["id"] == id.to_string())
}

async fn last_ip(b: &Backend, id: uuid::Uuid) -> Option<IpAddr> {
    b.store.get(id).await.unwrap().unwrap().last_ip
}

/// Requests from `ip` until the store has it as `id`'s last IP (bounded):
/// the round-trips of the request that moved it.
async fn use_from(b: &Backend, c: &mut Client, id: uuid::Uuid, ip: &str, want: IpAddr) -> u64 {
    let start = std::time::Instant::now();
    loop {
        let before = b.round_trips();
        assert_eq!(
            c.send_with("GET", "/me", &[("x-forwarded-for", ip)])
                .await
                .status,
            200
        );
        let trips = b.round_trips() - before;
        if last_ip(b, id).await == Some(want) {
            return trips;
        }
        assert!(start.elapsed() < LIMIT, "last IP never became {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a request whose touch is due costs: two storage calls, the load
/// and the touch, a write on the version the load read (on Postgres each
/// goes out with the other loads, or writes, in flight: one statement and
/// one commit for many). A write of its own for the new IP would be a
/// third call.
fn touch_cost(_b: &Backend) -> u64 {
    2
}

async fn a_new_ip_rides_with_the_touch(b: Backend) {
    let app = serve(layer(&b)).await;
    let (mut c, id) = signed_in_from(&app, HOME).await;
    let home: IpAddr = HOME.parse().unwrap();
    let stored = b.store.get(id).await.unwrap().unwrap();
    assert_eq!((stored.ip, stored.last_ip), (Some(home), Some(home)));

    // From the café: the touch that records it is the only write.
    let cafe: IpAddr = CAFE.parse().unwrap();
    let trips = use_from(&b, &mut c, id, CAFE, cafe).await;
    assert_eq!(trips, touch_cost(&b), "the new IP cost a write of its own");
    let stored = b.store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.ip, Some(home), "the sign-in IP stays");

    // Listed next to where it signed in.
    let listed = item(&mut c, CAFE, id).await;
    assert_eq!(listed["ip"], HOME);
    assert_eq!(listed["last_ip"], CAFE);
    assert_eq!(listed["location"], Value::Null);
    let res = page_from(&c, CAFE).await;
    assert!(res.body.contains(&format!("IP {CAFE}")), "{}", res.body);
    assert!(res.body.contains(&format!(" from {HOME}")), "{}", res.body);

    // Back home and on again: each change is recorded by a due touch.
    let trips = use_from(&b, &mut c, id, HOME, home).await;
    assert_eq!(trips, touch_cost(&b));
}

async fn last_ips_are_anonymised(b: Backend) {
    let app = serve(layer(&b).with_ip_anonymization(true)).await;
    let (mut c, id) = signed_in_from(&app, "198.51.100.77").await;
    let truncated: IpAddr = "203.0.113.0".parse().unwrap();
    use_from(&b, &mut c, id, "203.0.113.99", truncated).await;
    let listed = item(&mut c, "203.0.113.99", id).await;
    assert_eq!(listed["ip"], "198.51.100.0");
    assert_eq!(listed["last_ip"], "203.0.113.0");
    let res = c
        .send_with("GET", "/sessions", &[("x-forwarded-for", "203.0.113.99")])
        .await;
    assert!(
        !res.body.contains("198.51.100.77") && !res.body.contains("203.0.113.99"),
        "{}",
        res.body
    );
}

/// A locator over a table of places, counting its calls.
fn table_locator(
    calls: Arc<AtomicUsize>,
) -> impl Fn(IpAddr) -> std::future::Ready<Option<String>> + Send + Sync + 'static {
    let places: HashMap<IpAddr, String> = HashMap::from([
        (HOME.parse().unwrap(), "Lisbon, Portugal".to_owned()),
        // Invisible characters in a label are dropped: it is stored as
        // "Porto, <Portugal>".
        (
            CAFE.parse().unwrap(),
            "\u{202E}Porto,\u{00AD} <Portugal>\u{3164}".to_owned(),
        ),
    ]);
    move |ip| {
        calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(places.get(&ip).cloned())
    }
}

/// Polls the list until `id`'s location is `want`.
async fn located(c: &mut Client, ip: &str, id: uuid::Uuid, want: &str) {
    let found = common::eventually(LIMIT, || {
        let mut c = c.clone();
        async move { (item(&mut c, ip, id).await["location"] == want).then_some(()) }
    })
    .await;
    assert!(found.is_some(), "{id} never located at {want}");
}

async fn the_locator_labels_the_last_ip(b: Backend) {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = serve(layer(&b).with_locator(table_locator(calls.clone()))).await;
    let (mut c, id) = signed_in_from(&app, HOME).await;
    located(&mut c, HOME, id, "Lisbon, Portugal").await;
    assert_eq!(
        b.store.get(id).await.unwrap().unwrap().location.as_deref(),
        Some("Lisbon, Portugal")
    );
    for _ in 0..5 {
        c.send_with("GET", "/me", &[("x-forwarded-for", HOME)])
            .await;
    }

    // A new IP: its place replaces the old one, looked up once.
    use_from(&b, &mut c, id, CAFE, CAFE.parse().unwrap()).await;
    located(&mut c, CAFE, id, "Porto, <Portugal>").await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one lookup per IP");
    let res = page_from(&c, CAFE).await;
    assert!(res.body.contains("Porto, &lt;Portugal&gt;"), "{}", res.body);
    assert!(!res.body.contains("<Portugal>"), "not escaped");
}

async fn a_slow_or_failing_locator_changes_nothing(b: Backend) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    // HOME never answers (a request waiting for it would never end); CAFE
    // panics.
    let locator = move |ip: IpAddr| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if ip == CAFE.parse::<IpAddr>().unwrap() {
                panic!("the locator fails");
            }
            std::future::pending::<Option<String>>().await
        }
    };
    let app = serve(layer(&b).with_locator(locator)).await;
    let (mut c, id) = signed_in_from(&app, HOME).await;
    for _ in 0..3 {
        assert_eq!(
            c.send_with("GET", "/me", &[("x-forwarded-for", HOME)])
                .await
                .status,
            200
        );
    }
    use_from(&b, &mut c, id, CAFE, CAFE.parse().unwrap()).await;
    let looked_up = common::eventually(LIMIT, || {
        let n = calls.load(Ordering::SeqCst);
        async move { (n >= 2).then_some(n) }
    })
    .await;
    assert_eq!(looked_up, Some(2), "one lookup per IP, however it ended");
    for _ in 0..3 {
        assert_eq!(
            c.send_with("GET", "/me", &[("x-forwarded-for", CAFE)])
                .await
                .status,
            200
        );
    }
    assert_eq!(item(&mut c, CAFE, id).await["location"], Value::Null);
}
