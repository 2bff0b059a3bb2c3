//! IP and User-Agent binding, and the client IP behind trusted proxies.
//! Every store. The test server's socket peer is always 127.0.0.1; trusting
//! it as a proxy lets `X-Forwarded-For` play the client's address.

use crate::common;

use axum::routing::get;
use axum_user_sessions::ipnet::IpNet;
use axum_user_sessions::{BindingMode, ClientInfo, MismatchAction, SessionLayer};
use common::{Backend, Client, TestApp};

everywhere!(
    ip_binding_enforced_by_prefix_v4,
    ip_binding_enforced_by_prefix_v6,
    ip_binding_logged_only,
    ip_mismatch_can_revoke,
    rejected_client_leaves_no_trace,
    user_agent_binding,
    untrusted_peers_forwarding_headers_are_ignored,
    spoofed_leftmost_forwarded_for_changes_nothing,
);

fn local_proxy() -> Vec<IpNet> {
    vec!["127.0.0.1/32".parse().unwrap()]
}

async fn serve(layer: SessionLayer) -> TestApp {
    let router = common::demo::routes()
        .route(
            "/ip",
            get(|c: ClientInfo| async move { c.ip().map(|ip| ip.to_string()).unwrap_or_default() }),
        )
        .layer(layer);
    common::serve(router).await
}

async fn me_from(c: &mut Client, ip: &str) -> u16 {
    c.send_with("GET", "/me", &[("x-forwarded-for", ip)])
        .await
        .status
}

async fn login_from(c: &mut Client, ip: &str) {
    let res = c
        .login_raw("alice", &[("x-forwarded-for", ip.as_bytes())])
        .await;
    assert_eq!(res.status, 303);
    c.absorb(&res);
}

async fn stored_ip(b: &Backend) -> Option<std::net::IpAddr> {
    let now = time::OffsetDateTime::now_utc();
    b.store
        .list_user("alice", now)
        .await
        .unwrap()
        .first()
        .and_then(|r| r.ip)
}

async fn ip_binding_enforced_by_prefix_v4(b: Backend) {
    let layer = b
        .layer()
        .with_trusted_proxies(local_proxy())
        .with_ip_binding(BindingMode::Enforce);
    let app = serve(layer).await;
    let mut c = Client::new(&app);
    login_from(&mut c, "203.0.113.5").await;
    assert_eq!(stored_ip(&b).await, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(me_from(&mut c, "203.0.113.5").await, 200);
    assert_eq!(me_from(&mut c, "203.0.113.200").await, 200, "same /24");
    assert_eq!(me_from(&mut c, "198.51.100.1").await, 401, "other network");
    assert!(
        c.cookie.is_some(),
        "the rightful client's cookie was expired"
    );
    assert_eq!(
        me_from(&mut c, "203.0.113.9").await,
        200,
        "session lost for its owner"
    );
    // Exact-address binding.
    let app = serve(
        b.layer()
            .with_trusted_proxies(local_proxy())
            .with_ip_binding(BindingMode::Enforce)
            .with_ip_prefixes(32, 128),
    )
    .await;
    let mut c = Client::new(&app);
    login_from(&mut c, "192.0.2.10").await;
    assert_eq!(me_from(&mut c, "192.0.2.10").await, 200);
    assert_eq!(me_from(&mut c, "192.0.2.11").await, 401);
}

async fn ip_binding_enforced_by_prefix_v6(b: Backend) {
    let layer = b
        .layer()
        .with_trusted_proxies(local_proxy())
        .with_ip_binding(BindingMode::Enforce);
    let app = serve(layer).await;
    let mut c = Client::new(&app);
    login_from(&mut c, "2001:db8:1:2::1").await;
    assert_eq!(
        me_from(&mut c, "2001:db8:1:2:abcd::9").await,
        200,
        "same /64"
    );
    assert_eq!(
        me_from(&mut c, "[2001:db8:1:2::77]:443").await,
        200,
        "with a port"
    );
    assert_eq!(me_from(&mut c, "2001:db8:1:3::1").await, 401, "other /64");
    assert_eq!(
        me_from(&mut c, "203.0.113.5").await,
        401,
        "IPv4 is another network"
    );
}

async fn ip_binding_logged_only(b: Backend) {
    let layer = b
        .layer()
        .with_trusted_proxies(local_proxy())
        .with_ip_binding(BindingMode::Log);
    let app = serve(layer).await;
    let mut c = Client::new(&app);
    login_from(&mut c, "203.0.113.5").await;
    assert_eq!(me_from(&mut c, "198.51.100.1").await, 200);
}

async fn ip_mismatch_can_revoke(b: Backend) {
    let layer = b
        .layer()
        .with_trusted_proxies(local_proxy())
        .with_ip_binding(BindingMode::Enforce)
        .with_binding_mismatch_action(MismatchAction::Revoke);
    let app = serve(layer).await;
    let mut c = Client::new(&app);
    login_from(&mut c, "203.0.113.5").await;
    let mut other = c.clone();
    assert_eq!(me_from(&mut other, "198.51.100.1").await, 401);
    assert_eq!(
        me_from(&mut c, "203.0.113.5").await,
        401,
        "revoked for everyone"
    );
    let now = time::OffsetDateTime::now_utc();
    assert!(b.store.list_user("alice", now).await.unwrap().is_empty());
}

async fn user_agent_binding(b: Backend) {
    for (mode, other_status) in [
        (BindingMode::Off, 200),
        (BindingMode::Log, 200),
        (BindingMode::Enforce, 401),
    ] {
        let app = serve(b.layer().with_user_agent_binding(mode)).await;
        let mut c = Client::new(&app);
        c.login("alice").await;
        assert_eq!(c.get("/me").await.status, 200, "{mode:?}");
        let mut other = c.clone();
        other.user_agent = "curl/8.5.0".into();
        assert_eq!(other.get("/me").await.status, other_status, "{mode:?}");
        assert_eq!(c.get("/me").await.status, 200, "{mode:?}: owner signed out");
    }
}

async fn untrusted_peers_forwarding_headers_are_ignored(b: Backend) {
    // No trusted proxies: X-Forwarded-For is the client's say-so.
    let app = serve(b.layer().with_ip_binding(BindingMode::Enforce)).await;
    let mut c = Client::new(&app);
    login_from(&mut c, "203.0.113.5").await;
    assert_eq!(stored_ip(&b).await, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(me_from(&mut c, "198.51.100.1").await, 200);
    let ip = c
        .send_with("GET", "/ip", &[("x-forwarded-for", "198.51.100.1")])
        .await;
    assert_eq!(ip.body, "127.0.0.1");
    // A trusted network that does not contain the peer changes nothing.
    let app = serve(
        b.layer()
            .with_trusted_proxies(vec!["10.0.0.0/8".parse().unwrap()]),
    )
    .await;
    let mut c = Client::new(&app);
    let ip = c
        .send_with("GET", "/ip", &[("x-forwarded-for", "198.51.100.1")])
        .await;
    assert_eq!(ip.body, "127.0.0.1");
}

async fn spoofed_leftmost_forwarded_for_changes_nothing(b: Backend) {
    let layer = b
        .layer()
        .with_trusted_proxies(local_proxy())
        .with_ip_binding(BindingMode::Enforce)
        .with_ip_prefixes(32, 128);
    let app = serve(layer).await;
    let mut c = Client::new(&app);
    login_from(&mut c, "6.6.6.6, 203.0.113.5").await;
    assert_eq!(stored_ip(&b).await, Some("203.0.113.5".parse().unwrap()));
    // The attacker prepends whatever it likes; the proxy appends the truth.
    for spoof in [
        "203.0.113.5",
        "1.1.1.1, 203.0.113.5",
        "garbage, 203.0.113.5",
        "unknown, 6.6.6.6, 203.0.113.5",
    ] {
        assert_eq!(me_from(&mut c, spoof).await, 200, "{spoof}");
        let ip = c
            .send_with("GET", "/ip", &[("x-forwarded-for", spoof)])
            .await;
        assert_eq!(ip.body, "203.0.113.5", "{spoof}");
    }
    assert_eq!(me_from(&mut c, "203.0.113.5, 6.6.6.6").await, 401);
}

/// What the activity columns of alice's session say.
async fn seen(b: &Backend) -> (Option<std::net::IpAddr>, time::OffsetDateTime) {
    let now = time::OffsetDateTime::now_utc();
    let list = b.store.list_user("alice", now).await.unwrap();
    let r = list.first().expect("alice's session");
    (r.last_ip, r.last_seen_at)
}

/// A request refused for an IP mismatch writes nothing: not its IP as the
/// last one, not a touch (every request touches with a zero interval).
async fn rejected_client_leaves_no_trace(b: Backend) {
    let layer = b
        .layer()
        .with_trusted_proxies(local_proxy())
        .with_ip_binding(BindingMode::Enforce)
        .with_touch_interval(std::time::Duration::ZERO);
    let app = serve(layer).await;
    let mut c = Client::new(&app);
    login_from(&mut c, "203.0.113.5").await;
    assert_eq!(me_from(&mut c, "203.0.113.5").await, 200);
    let before = seen(&b).await;
    assert_eq!(before.0, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(me_from(&mut c, "198.51.100.1").await, 401, "other network");
    assert_eq!(
        seen(&b).await,
        before,
        "the refused request touched the row"
    );
    // The rightful client's requests still record where they come from.
    assert_eq!(me_from(&mut c, "203.0.113.200").await, 200, "same /24");
    assert_eq!(seen(&b).await.0, Some("203.0.113.200".parse().unwrap()));
}
