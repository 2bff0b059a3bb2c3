//! Remember-me: restores the same session after a browser restart or idle
//! expiry, rotates its validator, detects theft, dies with logout and
//! revocation, and is never "fresh". Every store, over real HTTP.

use crate::common;

use axum::routing::get;
use axum_user_sessions::{Session, SessionLayer, SessionRoutes};
use common::{Backend, Client, TestApp};
use serde_json::json;
use std::time::Duration;
use tokio::time::sleep;

everywhere!(
    restores_the_same_session_after_a_browser_restart,
    plain_login_does_not_survive_a_restart,
    restores_after_idle_expiry,
    concurrent_restores_within_the_grace_window_all_succeed,
    replayed_old_remember_cookie_revokes_the_session,
    logout_makes_the_remember_cookie_useless,
    revocation_makes_the_remember_cookie_useless,
    restored_session_is_not_fresh,
    the_requests_after_a_restore_are_not_fresh,
    remember_lifetime_is_absolute,
);

async fn serve(layer: SessionLayer, routes: SessionRoutes) -> TestApp {
    let router = common::demo::routes_with(routes)
        .route(
            "/whoami",
            get(|s: Session| async move {
                axum::Json(json!({
                    "user_id": s.user_id(),
                    "session_id": s.id(),
                    "restored": s.is_restored(),
                    "persistent": s.is_persistent(),
                    "fresh": s.is_fresh(Duration::from_secs(1)),
                    "authenticated_at": s.authenticated_at().map(|t| t.unix_timestamp_nanos().to_string()),
                }))
            }),
        )
        .layer(layer);
    common::serve(router).await
}

async fn app(b: &Backend) -> TestApp {
    serve(b.layer(), SessionRoutes::new()).await
}

/// A browser restart: session cookies are gone, persistent ones stay.
fn restart(c: &mut Client) {
    c.cookie = None;
}

async fn whoami(c: &mut Client) -> serde_json::Value {
    let res = c.get("/whoami").await;
    assert_eq!(res.status, 200);
    res.json()
}

async fn restores_the_same_session_after_a_browser_restart(b: Backend) {
    let app = app(&b).await;
    let mut c = Client::new(&app);
    let res = c.login_with("alice", true).await;
    let set = res.set_cookies();
    let remember = set
        .iter()
        .find(|s| s.starts_with("__Host-remember="))
        .expect("no remember cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(
            remember.split("; ").any(|a| a == attr),
            "{attr}: {remember}"
        );
    }
    let max_age: i64 = remember
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (30 * 86_400 - 60..=30 * 86_400).contains(&max_age),
        "Max-Age={max_age}"
    );
    let before = whoami(&mut c).await;
    assert_eq!(before["persistent"], true);
    let (old_remember, old_token) = (c.remember.clone().unwrap(), c.cookie.clone().unwrap());

    restart(&mut c);
    let res = c.get("/whoami").await;
    let after = res.json();
    assert_eq!(after["user_id"], "alice");
    assert_eq!(
        after["session_id"], before["session_id"],
        "a new row: two entries for one device"
    );
    assert_eq!(after["restored"], true);
    let new_remember = c.remember.clone().unwrap();
    assert_ne!(new_remember, old_remember, "the validator was not rotated");
    assert_eq!(
        new_remember.split('.').next(),
        old_remember.split('.').next(),
        "same selector"
    );
    assert_ne!(c.cookie.clone().unwrap(), old_token);
    // The restored session works as usual, and one device is one entry.
    assert_eq!(whoami(&mut c).await["restored"], false);
    let list = c.get("/sessions").await.json();
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(list["sessions"][0]["persistent"], true);
    // The old session token died with the restore.
    let mut old = Client::new(&app);
    old.cookie = Some(old_token);
    assert_eq!(old.me().await, None);
}

async fn plain_login_does_not_survive_a_restart(b: Backend) {
    let app = app(&b).await;
    let mut c = Client::new(&app);
    let res = c.login_with("alice", false).await;
    assert!(res.set_cookies().iter().all(|s| !s.contains("remember")));
    assert!(c.remember.is_none());
    restart(&mut c);
    assert_eq!(c.me().await, None);
}

async fn restores_after_idle_expiry(b: Backend) {
    let app = serve(
        b.layer().with_idle_timeout(Duration::from_secs(1)),
        SessionRoutes::new(),
    )
    .await;
    let mut c = Client::new(&app);
    c.login_with("alice", true).await;
    let id = whoami(&mut c).await["session_id"].clone();
    sleep(Duration::from_millis(1300)).await;
    let me = whoami(&mut c).await;
    assert_eq!(
        me["user_id"], "alice",
        "idle expiry signed a remembered user out"
    );
    assert_eq!(me["session_id"], id);
    assert_eq!(me["restored"], true);
    // A user without remember-me is idle-expired as usual.
    let mut plain = Client::new(&app);
    plain.login("bob").await;
    sleep(Duration::from_millis(1300)).await;
    assert_eq!(plain.me().await, None);
}

async fn concurrent_restores_within_the_grace_window_all_succeed(b: Backend) {
    let app = app(&b).await;
    let mut c = Client::new(&app);
    c.login_with("alice", true).await;
    restart(&mut c);
    // Several tabs open at once after the restart, all with the old validator.
    let tabs: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.send_raw("GET", "/me", None, &[]).await })
        })
        .collect();
    let mut rotated = Vec::new();
    for t in tabs {
        let res = t.await.unwrap();
        assert_eq!(res.status, 200, "a tab was signed out: {}", res.body);
        assert_eq!(res.json()["user_id"], "alice");
        assert!(
            res.cookie_value("__Host-session")
                .is_some_and(|v| !v.is_empty())
        );
        if let Some(v) = res.cookie_value("__Host-remember") {
            assert!(!v.is_empty(), "a tab expired the remember cookie");
            rotated.push(v);
        }
    }
    assert_eq!(rotated.len(), 1, "the validator must rotate exactly once");
    // The browser keeps the rotated validator; the next restart works.
    c.remember = Some(rotated.pop().unwrap());
    restart(&mut c);
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(b.store.list_user("alice", now).await.unwrap().len(), 1);
}

async fn replayed_old_remember_cookie_revokes_the_session(b: Backend) {
    let layer = b.layer().with_remember_grace(Duration::from_secs(1));
    let app = serve(layer, SessionRoutes::new()).await;
    let mut c = Client::new(&app);
    c.login_with("alice", true).await;
    let stolen = c.remember.clone().unwrap();
    restart(&mut c);
    assert_eq!(c.me().await.as_deref(), Some("alice")); // restore: a pending validator
    assert_ne!(c.remember.as_deref(), Some(stolen.as_str()));
    // Two-phase rotation: the stolen validator is replaced once the new one
    // is presented (the next restore), and dead after the grace window.
    restart(&mut c);
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    sleep(Duration::from_millis(1200)).await;
    let mut thief = Client::new(&app);
    thief.remember = Some(stolen);
    let res = thief.get("/me").await;
    assert_eq!(res.status, 401, "a replayed remember cookie worked");
    assert_eq!(res.cookie_value("__Host-remember").as_deref(), Some(""));
    // The legitimate holder is signed out too, remember cookie and all.
    assert_eq!(c.me().await, None);
    restart(&mut c);
    assert_eq!(c.me().await, None);
    let now = time::OffsetDateTime::now_utc();
    assert!(b.store.list_user("alice", now).await.unwrap().is_empty());
}

async fn logout_makes_the_remember_cookie_useless(b: Backend) {
    let app = app(&b).await;
    let mut c = Client::new(&app);
    c.login_with("alice", true).await;
    let remember = c.remember.clone();
    let res = c.post("/logout").await;
    assert_eq!(
        res.cookie_value("__Host-remember").as_deref(),
        Some(""),
        "not expired"
    );
    assert!(c.remember.is_none());
    let mut replay = Client::new(&app);
    replay.remember = remember;
    assert_eq!(replay.me().await, None);
}

async fn revocation_makes_the_remember_cookie_useless(b: Backend) {
    let app = app(&b).await;
    let mut phone = Client::new(&app);
    phone.login_with("alice", true).await;
    let mut laptop = Client::new(&app);
    laptop.login_with("alice", true).await;
    let res = laptop
        .send_with(
            "POST",
            "/sessions/revoke-others",
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(res.json()["revoked"], 1);
    restart(&mut phone);
    assert_eq!(
        phone.me().await,
        None,
        "the revoked phone came back through remember-me"
    );
    // revoke-all: this device too, and its remember cookie is expired ...
    let kept = laptop.remember.clone();
    let res = laptop
        .send_with(
            "POST",
            "/sessions/revoke-all",
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(res.cookie_value("__Host-remember").as_deref(), Some(""));
    assert!(laptop.remember.is_none());
    // ... and a copy of it is worthless.
    let mut replay = Client::new(&app);
    replay.remember = kept;
    assert_eq!(replay.me().await, None);
}

/// Alice on two devices under `with_reauthentication(reauth)`: the other
/// device and its session id, and a browser signed in with "remember me".
async fn alice_twice(b: &Backend, reauth: Duration) -> (TestApp, Client, String, Client) {
    let routes = SessionRoutes::new().with_reauthentication(reauth);
    let app = serve(b.layer(), routes).await;
    let mut other = Client::new(&app);
    other.login("alice").await;
    let other_id = other.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut c = Client::new(&app);
    c.login_with("alice", true).await;
    (app, other, other_id, c)
}

async fn restored_session_is_not_fresh(b: Backend) {
    // The window is long: a restore is not fresh however recent the
    // sign-in it restores (no waiting for the window to pass).
    let (_app, _other, other_id, mut c) = alice_twice(&b, Duration::from_secs(60)).await;
    assert!(whoami(&mut c).await["authenticated_at"].is_string());
    assert_eq!(whoami(&mut c).await["fresh"], true);
    restart(&mut c);
    let me = whoami(&mut c).await;
    assert_eq!(me["restored"], true);
    assert_eq!(me["fresh"], false);
    assert_eq!(
        me["authenticated_at"],
        serde_json::Value::Null,
        "a restore proves nothing: no time of proof"
    );
    let res = c
        .send_with(
            "DELETE",
            &format!("/sessions/{other_id}"),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"], "reauthentication_required");
}

async fn remember_lifetime_is_absolute(b: Backend) {
    let layer = b
        .layer()
        .with_idle_timeout(Duration::from_secs(1))
        .with_remember_lifetime(Duration::from_secs(2));
    let app = serve(layer, SessionRoutes::new()).await;
    let mut c = Client::new(&app);
    c.login_with("alice", true).await;
    // Use does not extend it.
    for _ in 0..3 {
        sleep(Duration::from_millis(500)).await;
        assert_eq!(c.me().await.as_deref(), Some("alice"));
    }
    sleep(Duration::from_millis(1000)).await;
    assert_eq!(c.me().await, None, "remember-me outlived its lifetime");
    let now = time::OffsetDateTime::now_utc();
    assert!(b.store.list_user("alice", now).await.unwrap().is_empty());
}

/// Freshness lives in the row: the requests after a restore, with the
/// session cookie the restore set, are not fresh either (the original
/// sign-in, a moment ago, no longer counts) until the user re-enters the
/// password; then they are.
async fn the_requests_after_a_restore_are_not_fresh(b: Backend) {
    let (_app, mut other, other_id, mut c) = alice_twice(&b, Duration::from_secs(60)).await;
    restart(&mut c);
    assert_eq!(whoami(&mut c).await["restored"], true);
    assert!(c.cookie.is_some(), "the restore set a session cookie");
    let next = whoami(&mut c).await;
    assert_eq!(next["restored"], false);
    assert_eq!(next["authenticated_at"], serde_json::Value::Null, "{next}");
    let revoke = format!("/sessions/{other_id}");
    let same = [("sec-fetch-site", "same-origin")];
    let res = c.send_with("DELETE", &revoke, &same).await;
    assert_eq!(res.status, 401, "{}", res.body);
    assert_eq!(res.json()["error"], "reauthentication_required");
    assert_eq!(other.me().await.as_deref(), Some("alice"));

    // The password again: fresh, and the revocation goes through.
    let res = c.reauth().await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(whoami(&mut c).await["authenticated_at"].is_string());
    let res = c.send_with("DELETE", &revoke, &same).await;
    assert_eq!(res.status, 204, "{}", res.body);
    assert_eq!(other.me().await, None);
}
