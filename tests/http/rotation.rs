//! Token rotation: never logs a legitimate client out, and a replayed old
//! token revokes the session. Every store.

use crate::common;

use common::{Backend, Client, Rng, serve_demo};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::time::sleep;

everywhere!(
    concurrent_waves_with_lost_responses_never_log_out,
    replayed_superseded_token_revokes_the_session,
    lost_rotation_cookies_never_log_out,
    rotation_can_be_turned_off,
    only_the_last_replaced_tokens_are_recognised,
);

/// A browser-like client: 16 concurrent requests per wave, each sent with the
/// cookie the jar holds when it starts; the cookie a response sets is kept
/// for only a random 75% of responses (the others are "lost"). Waves run
/// across at least 5 rotation intervals.
async fn concurrent_waves_with_lost_responses_never_log_out(b: Backend) {
    let layer = b
        .layer()
        .with_rotation_interval(Duration::from_secs(1))
        .with_rotation_grace(Duration::from_secs(5));
    let app = serve_demo(layer).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let jar = Arc::new(Mutex::new(c.cookie.clone()));
    // Decisions are drawn only for responses that carry a cookie, so a fixed
    // seed fixes which of them are lost.
    let rng = Arc::new(Mutex::new(Rng::new(
        9_u64.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    ) /* dKKKdKKK... */));
    let offers = Arc::new(Mutex::new(0u32));
    let seen = Arc::new(Mutex::new(HashSet::new()));
    seen.lock().unwrap().insert(c.cookie.clone().unwrap());
    let start = Instant::now();
    let mut waves = 0;
    while start.elapsed() < Duration::from_millis(8500) || waves < 10 {
        waves += 1;
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (jar, rng, seen, offers, mut c) = (
                    jar.clone(),
                    rng.clone(),
                    seen.clone(),
                    offers.clone(),
                    c.clone(),
                );
                tokio::spawn(async move {
                    c.cookie = jar.lock().unwrap().clone();
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
                    assert!(
                        res.status == 200 || res.status == 204,
                        "wave {waves} request {i} answered {}: {}",
                        res.status,
                        res.body
                    );
                    if res.status == 200 {
                        assert_eq!(res.json()["user_id"], "alice");
                    }
                    if let Some(v) = res.cookie_value("__Host-session") {
                        *offers.lock().unwrap() += 1;
                        assert!(!v.is_empty(), "the layer expired the cookie");
                        if rng.lock().unwrap().chance(0.75) {
                            seen.lock().unwrap().insert(v.clone());
                            *jar.lock().unwrap() = Some(v);
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        sleep(Duration::from_millis(150)).await;
    }
    let tokens = seen.lock().unwrap().len();
    let offers = *offers.lock().unwrap();
    println!(
        "{:?}: {waves} waves, {offers} cookies offered, {tokens} tokens held",
        b.kind
    );
    assert!(
        offers >= 6,
        "only {offers} rotations in 8.5 s with a 1 s interval"
    );
    assert!(tokens >= 4, "the token changed only {} times", tokens - 1);
    c.cookie = jar.lock().unwrap().clone();
    assert_eq!(
        c.me().await.as_deref(),
        Some("alice"),
        "final token refused"
    );
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(
        b.store.list_user("alice", now).await.unwrap().len(),
        1,
        "one device, one row"
    );
}

async fn replayed_superseded_token_revokes_the_session(b: Backend) {
    let layer = b
        .layer()
        .with_rotation_interval(Duration::from_secs(1))
        .with_rotation_grace(Duration::from_secs(1));
    let app = serve_demo(layer).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let old = c.cookie.clone().unwrap();
    sleep(Duration::from_millis(1100)).await;
    let res = c.get("/me").await; // rotation starts: a pending token is sent
    assert_eq!(res.status, 200);
    let new = c.cookie.clone().unwrap();
    assert_ne!(old, new, "no rotation after the interval");
    // The old token still works until the new one is used ...
    let mut thief = c.clone();
    thief.cookie = Some(old.clone());
    assert_eq!(thief.me().await.as_deref(), Some("alice"));
    // ... the client uses the new one: it becomes current ...
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    // ... a request in flight with the old one is fine within the grace window ...
    thief.cookie = Some(old.clone());
    assert_eq!(thief.me().await.as_deref(), Some("alice"));
    // ... and after it, the old token is a stolen credential.
    sleep(Duration::from_millis(1300)).await;
    thief.cookie = Some(old);
    assert_eq!(thief.me().await, None, "replayed token accepted");
    assert_eq!(c.me().await, None, "the session survived token reuse");
    let now = time::OffsetDateTime::now_utc();
    assert!(b.store.list_user("alice", now).await.unwrap().is_empty());
}

async fn lost_rotation_cookies_never_log_out(b: Backend) {
    let layer = b
        .layer()
        .with_rotation_interval(Duration::from_secs(1))
        .with_rotation_grace(Duration::from_secs(1));
    let app = serve_demo(layer).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let first = c.cookie.clone().unwrap();
    let mut offered = 0;
    for _ in 0..4 {
        sleep(Duration::from_millis(1100)).await;
        let res = c.send_raw("GET", "/me", None, &[]).await; // response "lost"
        assert_eq!(res.status, 200);
        if res.cookie_value("__Host-session").is_some() {
            offered += 1;
        }
    }
    assert!(offered >= 3, "pending tokens re-offered {offered} times");
    assert_eq!(c.cookie.as_deref(), Some(first.as_str()));
    // Finally a response gets through.
    sleep(Duration::from_millis(1100)).await;
    c.get("/me").await;
    assert_ne!(c.cookie.as_deref(), Some(first.as_str()));
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    assert_eq!(c.me().await.as_deref(), Some("alice"));
}

async fn rotation_can_be_turned_off(b: Backend) {
    let app = serve_demo(
        b.layer()
            .without_rotation()
            .with_rotation_grace(Duration::ZERO),
    )
    .await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let token = c.cookie.clone();
    sleep(Duration::from_millis(1100)).await;
    let res = c.get("/me").await;
    assert_eq!(res.status, 200);
    assert!(res.set_cookies().is_empty());
    assert_eq!(c.cookie, token);
}

/// The bounded token history, end to end: after more rotations than the
/// store keeps replaced tokens, the first token is unknown (anonymous, its
/// response expires that cookie, nothing is revoked), while the newest
/// superseded one, replayed after the grace window, still revokes the
/// session.
async fn only_the_last_replaced_tokens_are_recognised(b: Backend) {
    use axum_user_sessions::store::REPLACED_TOKENS_KEPT;
    let layer = b
        .layer()
        .with_rotation_interval(Duration::from_secs(1))
        .with_rotation_grace(Duration::from_secs(1));
    let app = serve_demo(layer).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let id = c.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();
    let mut tokens = vec![c.cookie.clone().unwrap()];
    for _ in 0..=REPLACED_TOKENS_KEPT {
        // Wait for the rotation to fall due, then use the new token at once.
        let offered = common::eventually(Duration::from_secs(20), || {
            let c = c.clone();
            async move {
                let res = c.send_raw("GET", "/me", None, &[]).await;
                assert_eq!(res.status, 200, "{}", res.body);
                res.cookie_value("__Host-session")
            }
        })
        .await
        .expect("no rotation within 20 s with a 1 s interval");
        c.cookie = Some(offered.clone());
        assert_eq!(
            c.me().await.as_deref(),
            Some("alice"),
            "pending token refused"
        );
        tokens.push(offered);
    }
    // The first token fell out of the history: unknown, not a theft signal.
    let mut old = c.clone();
    old.cookie = Some(tokens[0].clone());
    let res = old.send_raw("GET", "/me", None, &[]).await;
    assert_eq!(res.status, 401, "a forgotten token was accepted");
    assert_eq!(res.cookie_value("__Host-session").as_deref(), Some(""));
    assert_eq!(
        c.me().await.as_deref(),
        Some("alice"),
        "a forgotten token revoked the session"
    );
    // The newest superseded one is accepted for the grace window, then taken
    // for theft.
    let newest_replaced = tokens[tokens.len() - 2].clone();
    let refused = common::eventually(Duration::from_secs(20), || {
        let mut thief = c.clone();
        thief.cookie = Some(newest_replaced.clone());
        async move { thief.me().await.is_none().then_some(()) }
    })
    .await;
    assert!(refused.is_some(), "a replayed token kept working");
    assert_eq!(c.me().await, None, "the session survived token reuse");
    let record = b.store.get(id).await.unwrap().unwrap();
    assert_eq!(record.revoke_reason.as_deref(), Some("token_reuse"));
}
