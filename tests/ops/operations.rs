//! Operations: events, IP anonymisation (garbage collection: `gc.rs`).

use crate::common;

use axum_user_sessions::ipnet::IpNet;
use axum_user_sessions::{
    BindingMode, GcOptions, RevokeReason, RevokedBy, SessionAdmin, SessionEvent, SessionEventKind,
    SessionRoutes,
};
use common::{Backend, Client};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::sleep;

conformance!(
    each_event_fires_once_with_its_fields,
    anonymised_ips_never_reach_the_store,
    admin_calls_record_who_and_why,
);

type Log = Arc<Mutex<Vec<SessionEvent>>>;

fn recorder() -> (Log, impl Fn(&SessionEvent) + Send + Sync + 'static) {
    let log: Log = Arc::default();
    let sink = log.clone();
    (log, move |e: &SessionEvent| {
        sink.lock().unwrap().push(e.clone())
    })
}

fn take(log: &Log) -> Vec<SessionEvent> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn kinds(events: &[SessionEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.name()).collect()
}

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");

async fn each_event_fires_once_with_its_fields(b: Backend) {
    let (log, hook) = recorder();
    let layer = b
        .layer()
        .with_events(hook)
        .with_rotation_interval(Duration::from_secs(1))
        .with_rotation_grace(Duration::from_secs(1))
        .with_remember_grace(Duration::from_secs(1))
        .with_idle_timeout(Duration::from_secs(3));
    let app = common::serve(common::demo::routes_with(SessionRoutes::new()).layer(layer)).await;

    // Login, from a device never seen for alice.
    let mut laptop = Client::new(&app);
    laptop.login("alice").await;
    let events = take(&log);
    assert_eq!(kinds(&events), ["login", "new_device"]);
    let id = laptop.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .parse()
        .ok();
    assert_eq!(events[0].session_id, id);
    assert_eq!(events[0].user_id.as_deref(), Some("alice"));
    assert_eq!(events[0].ip, Some("127.0.0.1".parse().unwrap()));
    assert!(events[0].user_agent.as_deref().unwrap().contains("Firefox"));
    assert_eq!(
        events[1].kind,
        SessionEventKind::NewDevice {
            device: "Firefox on Linux".into()
        }
    );
    // Same browser, same network: a login, not a new device.
    let mut tab = Client::new(&app);
    tab.login("alice").await;
    assert_eq!(kinds(&take(&log)), ["login"]);
    // Revocation through the routes.
    let tab_id = tab.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    take(&log);
    laptop
        .send_with("DELETE", &format!("/sessions/{tab_id}"), &[SAME])
        .await;
    let events = take(&log);
    assert_eq!(kinds(&events), ["revoked"]);
    assert_eq!(
        events[0].kind,
        SessionEventKind::Revoked {
            reason: "user".into(),
            by: "alice".into(),
            count: 1
        }
    );
    assert_eq!(events[0].session_id.map(|u| u.to_string()), Some(tab_id));

    // Rotation.
    sleep(Duration::from_millis(1100)).await;
    let old = laptop.cookie.clone();
    laptop.get("/me").await;
    assert_eq!(kinds(&take(&log)), ["rotated"]);
    laptop.get("/me").await; // promotes the new token: no event
    assert!(take(&log).is_empty());
    // Token reuse.
    sleep(Duration::from_millis(1200)).await;
    let mut thief = Client::new(&app);
    thief.cookie = old;
    assert_eq!(thief.me().await, None);
    let events = take(&log);
    assert_eq!(kinds(&events), ["token_reuse"]);
    assert_eq!(events[0].user_id.as_deref(), Some("alice"));

    // Logout.
    let mut bob = Client::new(&app);
    bob.login("bob").await;
    take(&log);
    bob.post("/logout").await;
    assert_eq!(kinds(&take(&log)), ["logout"]);

    // Remember-me restore, then theft.
    let mut carol = Client::new(&app);
    carol.login_with("carol", true).await;
    let stolen = carol.remember.clone();
    carol.cookie = None;
    take(&log);
    assert_eq!(carol.me().await.as_deref(), Some("carol"));
    assert_eq!(kinds(&take(&log)), ["remember_restored"]);
    // The next restore presents the pending validator (two-phase rotation):
    // the stolen one is replaced from then on.
    carol.cookie = None;
    assert_eq!(carol.me().await.as_deref(), Some("carol"));
    assert_eq!(kinds(&take(&log)), ["remember_restored"]);
    sleep(Duration::from_millis(1200)).await;
    let mut thief = Client::new(&app);
    thief.remember = stolen;
    assert_eq!(thief.me().await, None);
    assert_eq!(kinds(&take(&log)), ["remember_theft"]);

    // Expiry.
    let mut idle = Client::new(&app);
    idle.login("bob").await;
    take(&log);
    sleep(Duration::from_millis(3200)).await;
    assert_eq!(idle.me().await, None);
    assert_eq!(kinds(&take(&log)), ["expired"]);

    // Binding mismatch (enforced).
    let (log2, hook2) = recorder();
    let app2 = common::serve(
        common::demo::routes().layer(
            b.layer()
                .with_events(hook2)
                .with_user_agent_binding(BindingMode::Enforce),
        ),
    )
    .await;
    let mut c = Client::new(&app2);
    c.login("alice").await;
    take(&log2);
    c.user_agent = "curl/8".into();
    assert_eq!(c.me().await, None);
    let events = take(&log2);
    assert_eq!(kinds(&events), ["binding_mismatch"]);
    assert_eq!(
        events[0].kind,
        SessionEventKind::BindingMismatch {
            check: "user_agent".into(),
            enforced: true
        }
    );
}

async fn anonymised_ips_never_reach_the_store(b: Backend) {
    let (log, hook) = recorder();
    let layer = b
        .layer()
        .with_events(hook)
        .with_trusted_proxies(vec!["127.0.0.1/32".parse::<IpNet>().unwrap()])
        .with_ip_anonymization(true)
        .with_ip_binding(BindingMode::Enforce)
        .with_ip_prefixes(32, 128);
    let router = common::demo::routes()
        .route(
            "/ip",
            axum::routing::get(|c: axum_user_sessions::ClientInfo| async move {
                c.ip().map(|i| i.to_string()).unwrap_or_default()
            }),
        )
        .layer(layer);
    let app = common::serve(router).await;
    for (user, full, cut) in [
        ("alice", "203.0.113.77", "203.0.113.0"),
        ("bob", "2001:db8:abcd:12:1::9", "2001:db8:abcd::"),
    ] {
        let mut c = Client::new(&app);
        let res = c
            .login_raw(user, &[("x-forwarded-for", full.as_bytes())])
            .await;
        c.absorb(&res);
        let now = time::OffsetDateTime::now_utc();
        let stored = b.store.list_user(user, now).await.unwrap()[0].ip;
        assert_eq!(
            stored,
            Some(cut.parse().unwrap()),
            "{user}: full address stored"
        );
        // Binding compares the truncated forms: another host in the same /24
        // (or /48) matches even with exact-prefix binding.
        let other_host = if full.contains(':') {
            "2001:db8:abcd:99::1"
        } else {
            "203.0.113.5"
        };
        let res = c
            .send_with("GET", "/me", &[("x-forwarded-for", other_host)])
            .await;
        assert_eq!(res.status, 200, "{user}");
        // Handlers still see the full address.
        let res = c
            .send_with("GET", "/ip", &[("x-forwarded-for", full)])
            .await;
        assert_eq!(
            res.body,
            full.parse::<std::net::IpAddr>().unwrap().to_string()
        );
    }
    for e in take(&log) {
        if let Some(ip) = e.ip {
            assert!(
                ip == "203.0.113.0".parse::<std::net::IpAddr>().unwrap()
                    || ip == "2001:db8:abcd::".parse::<std::net::IpAddr>().unwrap(),
                "event carries a full address: {ip}"
            );
        }
    }
    if let Some(pg) = &b.pg {
        let full: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM axum_user_sessions.sessions
              WHERE host(ip) IN ('203.0.113.77', '2001:db8:abcd:12:1::9')",
        )
        .fetch_one(pg)
        .await
        .unwrap();
        assert_eq!(full, 0);
    }
    if let Some(db) = &b.sqlite {
        let full: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM aus_sessions WHERE ip IN ('203.0.113.77', '2001:db8:abcd:12:1::9')",
        )
        .fetch_one(db)
        .await
        .unwrap();
        assert_eq!(full, 0);
    }
}

async fn admin_calls_record_who_and_why(b: Backend) {
    let (log, hook) = recorder();
    let layer = b.layer().with_events(hook);
    let admin: SessionAdmin = layer.admin();
    let app = common::serve_demo(layer).await;
    let mut a1 = Client::new(&app);
    a1.login("alice").await;
    let mut a2 = Client::new(&app);
    a2.login("alice").await;
    let mut bob = Client::new(&app);
    bob.login("bob").await;
    take(&log);
    let a1_id = a1.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let list = admin.list_user("alice").await.unwrap();
    assert_eq!(list.len(), 2);
    // After a password change: sign out alice's other devices.
    let n = admin
        .revoke_user_sessions(
            "alice",
            Some(a1_id),
            RevokedBy::operator("support:zoe"),
            RevokeReason::PasswordChange,
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(a1.me().await.as_deref(), Some("alice"));
    assert_eq!(a2.me().await, None);
    let events = take(&log);
    assert_eq!(
        events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        [SessionEventKind::Revoked {
            reason: "password_change".into(),
            by: "support:zoe".into(),
            count: 1
        }]
    );
    let stats = admin.stats(&GcOptions::default()).await.unwrap();
    assert_eq!((stats.active_sessions, stats.active_users), (2, 2));
    assert!(
        admin
            .revoke(
                a1_id,
                RevokedBy::operator("support:zoe"),
                RevokeReason::other("lost_phone")
            )
            .await
            .unwrap()
    );
    assert!(
        !admin
            .revoke(
                a1_id,
                RevokedBy::operator("support:zoe"),
                RevokeReason::other("again")
            )
            .await
            .unwrap()
    );
    let rec = admin.session(a1_id).await.unwrap().unwrap();
    assert_eq!(rec.revoke_reason.as_deref(), Some("lost_phone"));
    assert_eq!(rec.revoked_by.as_deref(), Some("support:zoe"));
    assert_eq!(
        admin
            .revoke_every_session(RevokedBy::operator("ops"), RevokeReason::other("incident"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(bob.me().await, None);
    // Revoked rows are kept for the retention period, then collected.
    let keep = GcOptions::default();
    assert_eq!(admin.gc(&keep).await.unwrap().deleted, 0);
    let purge = GcOptions::default().with_revoked_retention(Duration::ZERO);
    sleep(Duration::from_millis(5)).await;
    assert_eq!(admin.gc(&purge).await.unwrap().deleted, 3);
}
