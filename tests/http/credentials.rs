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
    a_token_retired_past_its_grace_does_not_block_a_new_session,
    a_write_held_past_the_grace_before_it_loads_keeps_the_sign_in,
    revoke_others_reissues_this_devices_cookies,
    restored_token_ends_at_the_absolute_timeout,
    lost_restore_response_then_the_old_validator_still_restores,
    concurrent_restores_with_responses_in_any_order_keep_the_user,
    stale_validator_after_promotion_and_grace_revokes,
);

const SAME_ORIGIN: &[(&str, &str)] = &[("sec-fetch-site", "same-origin")];

/// The demo, plus `PUT /slow/{key}`: `PUT /kv/{key}` once `gate` opens,
/// before the session is read (a request that was in flight meanwhile).
async fn serve_gated(layer: SessionLayer, gate: Arc<Notify>) -> TestApp {
    let slow = axum::Router::new()
        .route(
            "/slow/{key}",
            put(
                |s: Session,
                 axum::extract::Path(key): axum::extract::Path<String>,
                 body: String| async move {
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

/// A browser whose sign-in response was lost still holds the token the
/// sign-in retired. Past the grace window its writes start a new anonymous
/// session (a login form's CSRF token, a cart): they answered `401`, every
/// one, until garbage collection deleted the old row.
async fn a_token_retired_past_its_grace_does_not_block_a_new_session(b: Backend) {
    // The shortest grace there is: one second.
    let layer = b.layer().with_rotation_grace(Duration::ZERO);
    let app = common::serve_demo(layer).await;
    let mut c = Client::new(&app);
    assert_eq!(c.put_kv("cart", "1").await.status, 204);
    let lost = c.clone();
    c.login("alice").await;
    // Within the grace window it is refused (it may be a request that left
    // before the sign-in); once past, it is served.
    let res = common::eventually(Duration::from_secs(20), || {
        let mut lost = lost.clone();
        async move {
            let res = lost.put_kv("csrf", "x").await;
            assert!(matches!(res.status, 204 | 401), "{}", res.body);
            (res.status == 204).then_some(res)
        }
    })
    .await
    .expect("a retired token's writes were refused past its grace");
    let mut lost = lost;
    lost.absorb(&res);
    let fresh = res
        .cookie_value("__Host-session")
        .expect("a new session's cookie");
    assert_ne!(Some(fresh), c.cookie, "the sign-in's own cookie");
    assert_eq!(lost.get("/kv").await.json()["csrf"], "x");
    assert_eq!(c.me().await.as_deref(), Some("alice"));
}

/// Item 4: a request sent with the anonymous token before a sign-in, whose
/// handler writes after the sign-in retired that token, creates no session
/// and sets no cookie: the browser stays signed in.
async fn late_write_with_the_pre_sign_in_token_keeps_the_sign_in(b: Backend) {
    let layer = b.layer();
    late_write_keeps_the_sign_in(b, layer, Duration::ZERO).await;
}

/// The same request held past the grace window (one second) before it
/// reads its session, as a slow middleware would: the window counts to
/// its arrival, before the sign-in, so it still creates nothing. Counted
/// to its load, it started an anonymous session whose cookie replaced
/// the signed-in one.
async fn a_write_held_past_the_grace_before_it_loads_keeps_the_sign_in(b: Backend) {
    let layer = b.layer().with_rotation_grace(Duration::ZERO);
    late_write_keeps_the_sign_in(b, layer, Duration::from_millis(1500)).await;
}

/// A write that carries the token of before a sign-in and is let through
/// `held` after it: it sets no cookie and creates no session.
async fn late_write_keeps_the_sign_in(b: Backend, layer: SessionLayer, held: Duration) {
    let gate = Arc::new(Notify::new());
    let app = serve_gated(layer, gate.clone()).await;
    let mut c = Client::new(&app);
    assert_eq!(c.put_kv("cart", "1").await.status, 204);
    let before = c.clone();
    let late = tokio::spawn(async move {
        before
            .send_raw("PUT", "/slow/late", Some(("text/plain", "x".into())), &[])
            .await
    });
    c.login("alice").await;
    tokio::time::sleep(held).await;
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
    assert_eq!(
        c.me().await.as_deref(),
        Some("alice"),
        "signed out by a late response"
    );
    assert_eq!(
        live_sessions(&b).await,
        1,
        "the late write created a session"
    );
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
    assert!(
        token.is_some() && token != copy.cookie,
        "no new session cookie"
    );
    assert!(
        remember.is_some() && remember != copy.remember,
        "no new remember cookie"
    );
    assert_eq!(laptop.me().await.as_deref(), Some("alice"));
    assert_eq!(phone.me().await, None);

    // The copy: both cookies, each alone, and again after the grace window
    // of rotations has passed for sure (polled, not slept).
    let mut both = copy.clone();
    assert_eq!(both.me().await, None, "a copy of the cookies survived");
    let mut session_only = copy.clone();
    session_only.remember = None;
    assert_eq!(
        session_only.me().await,
        None,
        "a copy of the session cookie survived"
    );
    let mut remember_only = copy.clone();
    remember_only.cookie = None;
    assert_eq!(
        remember_only.me().await,
        None,
        "a copy of the remember cookie survived"
    );

    // The device itself: still signed in, and after a browser restart too.
    assert_eq!(laptop.me().await.as_deref(), Some("alice"));
    laptop.cookie = None;
    assert_eq!(laptop.me().await.as_deref(), Some("alice"));
    assert_eq!(live_sessions(&b).await, 1);
}

/// Polls until `deadline` has passed (a condition on the clock, with a bound).
pub(crate) async fn past(deadline: std::time::Instant) {
    let waited = common::eventually(Duration::from_secs(30), || async {
        (std::time::Instant::now() > deadline).then_some(())
    })
    .await;
    assert!(waited.is_some());
}

/// `GET /me` with the client's cookies; the response is lost when `!keep`.
async fn me(c: &mut Client, keep: bool) -> common::Resp {
    let res = c.send_raw("GET", "/me", None, &[]).await;
    if keep {
        c.absorb(&res);
    }
    res
}

fn user(res: &common::Resp) -> Option<String> {
    (res.status == 200).then(|| res.json()["user_id"].as_str().unwrap().to_owned())
}

/// Item 2: a session token issued by a restore ends at the absolute timeout
/// counted from the restore, however active; the remembered device then
/// restores again (new token, and the validator moves on).
async fn restored_token_ends_at_the_absolute_timeout(b: Backend) {
    let absolute = Duration::from_secs(3);
    let layer = b
        .layer()
        .with_absolute_timeout(absolute)
        .with_rotation_interval(Duration::ZERO);
    let app = common::serve_demo(layer).await;
    let mut c = Client::new(&app);
    c.login_with("alice", true).await;
    c.cookie = None; // browser restart: restore
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    let token = c.cookie.clone().expect("the restore set no session cookie");
    // The restored token alone works, and, kept active, stops at the
    // absolute timeout.
    let mut alone = c.clone();
    alone.remember = None;
    assert_eq!(alone.clone().me().await.as_deref(), Some("alice"));
    let ended = common::eventually(Duration::from_secs(20), || {
        let mut alone = alone.clone();
        async move { alone.me().await.is_none().then_some(()) }
    })
    .await;
    assert!(
        ended.is_some(),
        "the restored token outlived the absolute timeout"
    );
    // With its remember cookie the device restores again, with a new token.
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    assert_ne!(c.cookie.as_deref(), Some(token.as_str()));
    assert_eq!(live_sessions(&b).await, 1);
}

/// Item 3: the response of a restore (and its pending validator) is lost;
/// after the grace window the browser restores with the validator it still
/// has: it works, and the next validator takes over from there.
async fn lost_restore_response_then_the_old_validator_still_restores(b: Backend) {
    let grace = Duration::from_millis(500);
    let app = common::serve_demo(b.layer().with_remember_grace(grace)).await;
    let mut c = Client::new(&app);
    c.login_with("alice", true).await;
    let first = c.remember.clone();
    c.cookie = None;
    assert_eq!(user(&me(&mut c, false).await).as_deref(), Some("alice")); // lost
    past(std::time::Instant::now() + grace * 2).await;
    assert_eq!(c.remember, first);
    let res = me(&mut c, true).await;
    assert_eq!(
        user(&res).as_deref(),
        Some("alice"),
        "a lost response signed the user out"
    );
    assert_ne!(c.remember, first, "no new validator after the lost one");
    past(std::time::Instant::now() + grace * 2).await;
    c.cookie = None;
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    c.cookie = None;
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    assert_eq!(live_sessions(&b).await, 1);
}

/// Item 3: tabs restoring at once after a browser restart; the browser
/// takes their responses in reverse order, some lost. It stays signed in,
/// now and after the grace window, through further restarts.
async fn concurrent_restores_with_responses_in_any_order_keep_the_user(b: Backend) {
    let grace = Duration::from_millis(500);
    let app = common::serve_demo(b.layer().with_remember_grace(grace)).await;
    let mut c = Client::new(&app);
    c.login_with("alice", true).await;
    for round in 0..3 {
        c.cookie = None;
        let tabs: Vec<_> = (0..6)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move { c.send_raw("GET", "/me", None, &[]).await })
            })
            .collect();
        let mut responses = Vec::new();
        for t in tabs {
            let res = t.await.unwrap();
            assert_eq!(
                user(&res).as_deref(),
                Some("alice"),
                "round {round}: a tab was signed out"
            );
            responses.push(res);
        }
        for (i, res) in responses.iter().enumerate().rev() {
            if (i + round) % 3 != 0 {
                c.absorb(res); // the others are lost
            }
        }
        assert_eq!(c.me().await.as_deref(), Some("alice"), "round {round}");
        past(std::time::Instant::now() + grace * 2).await;
    }
    c.cookie = None;
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    assert_eq!(live_sessions(&b).await, 1);
}

/// Item 3: once the pending validator was presented (promoted), the one it
/// replaced is accepted for the grace window only; after it, it is theft:
/// the session is revoked.
async fn stale_validator_after_promotion_and_grace_revokes(b: Backend) {
    let grace = Duration::from_millis(500);
    let app = common::serve_demo(b.layer().with_remember_grace(grace)).await;
    let mut c = Client::new(&app);
    c.login_with("alice", true).await;
    let stolen = c.remember.clone();
    c.cookie = None;
    assert_eq!(c.me().await.as_deref(), Some("alice")); // issues a pending one
    let pending = c.remember.clone();
    assert_ne!(pending, stolen);
    // Until the pending validator is presented, the current one is good.
    let mut early = Client::new(&app);
    early.remember = stolen.clone();
    assert_eq!(user(&me(&mut early, false).await).as_deref(), Some("alice"));
    c.cookie = None;
    assert_eq!(c.me().await.as_deref(), Some("alice")); // promotes it
    past(std::time::Instant::now() + grace * 2).await;
    let mut thief = Client::new(&app);
    thief.remember = stolen;
    let res = thief.get("/me").await;
    assert_eq!(
        res.status, 401,
        "a replaced validator worked after its grace window"
    );
    assert_eq!(res.cookie_value("__Host-remember").as_deref(), Some(""));
    assert_eq!(c.me().await, None, "theft did not revoke the session");
    c.cookie = None;
    assert_eq!(c.me().await, None);
    assert_eq!(live_sessions(&b).await, 0);
}
