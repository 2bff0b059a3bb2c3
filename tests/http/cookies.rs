//! Cookie names across the upgrade from 0.1: where `__Host-` is ruled out (a
//! `Domain` or a `Path`), 0.1 sent no prefix and today's cookie is
//! `__Secure-`. A 0.1 cookie keeps its user signed in and moves to the new
//! name. Every store.

use crate::common;

use common::{Backend, Client};

conformance!(
    a_cookie_under_its_0_1_name_keeps_the_user_signed_in_and_moves,
    today_s_name_wins_over_the_0_1_name,
);

async fn a_cookie_under_its_0_1_name_keeps_the_user_signed_in_and_moves(b: Backend) {
    let layer = b.layer().with_cookie_domain("127.0.0.1");
    let app = common::serve_demo(layer).await;
    // Sign in: the cookie is `__Secure-session` now.
    let mut today = Client::with_cookie_name(&app, "__Secure-session");
    let res = today.login("alice").await;
    assert!(
        res.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Secure-session=")),
        "{:?}",
        res.set_cookies()
    );
    let token = today.cookie.clone().unwrap();

    // The browser of a 0.1 user holds the same kind of token as `session`.
    let mut old = Client::with_cookie_name(&app, "session");
    old.cookie = Some(token.clone());
    let res = old.send_raw("GET", "/me", None, &[]).await;
    assert_eq!(res.status, 200, "a 0.1 cookie signed its user out");
    assert_eq!(res.json()["user_id"], "alice");
    // The response moves the token to the new name and expires the old one.
    assert_eq!(res.cookie_value("__Secure-session"), Some(token.clone()));
    assert_eq!(res.cookie_value("session").as_deref(), Some(""));
    // With the new cookie alone, the user is still signed in.
    let mut moved = Client::with_cookie_name(&app, "__Secure-session");
    moved.cookie = Some(token);
    assert_eq!(moved.me().await.as_deref(), Some("alice"));
}

async fn today_s_name_wins_over_the_0_1_name(b: Backend) {
    let layer = b.layer().with_cookie_path("/");
    let app = common::serve_demo(layer.with_cookie_domain("127.0.0.1")).await;
    let mut alice = Client::with_cookie_name(&app, "__Secure-session");
    alice.login("alice").await;
    let mut bob = Client::with_cookie_name(&app, "__Secure-session");
    bob.login("bob").await;
    // Both names on one request: today's is the one read.
    let both = format!(
        "__Secure-session={}; session={}",
        alice.cookie.as_deref().unwrap(),
        bob.cookie.as_deref().unwrap()
    );
    let anon = Client::with_cookie_name(&app, "unused");
    let res = anon
        .send_raw("GET", "/me", None, &[("cookie", both.as_bytes())])
        .await;
    assert_eq!(res.json()["user_id"], "alice");
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
}
