//! Cookie names across the upgrade from 0.1: where `__Host-` is ruled out (a
//! `Domain` or a `Path`), 0.1 sent no prefix and today's cookie is
//! `__Secure-`. A 0.1 cookie keeps its user signed in and moves to the new
//! name. Every store.

use crate::common;

use common::{Backend, Client, TestApp};

conformance!(
    a_cookie_under_its_0_1_name_keeps_the_user_signed_in_and_moves,
    today_s_name_wins_over_the_0_1_name,
    a_0_1_cookie_in_flight_across_a_sign_in_sets_nothing,
    a_session_cookie_planted_under_the_0_1_name_signs_nobody_in,
    a_remember_cookie_planted_under_the_0_1_name_restores_nothing,
    a_sibling_app_s_cookie_of_that_name_is_left_alone,
    a_0_1_cookie_that_loads_after_a_sign_in_moved_its_session_sets_nothing,
    a_0_1_session_kept_past_a_0_1_session_s_life_is_not_read_there,
);

async fn a_cookie_under_its_0_1_name_keeps_the_user_signed_in_and_moves(b: Backend) {
    let layer = b.layer().with_cookie_domain("127.0.0.1");
    let app = common::serve_demo(layer).await;
    // Sign in: the cookie is `__Secure-session` now.
    let mut today = Client::with_cookie_name(&app, "__Secure-session");
    let res = today.login("bob").await;
    assert!(
        res.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Secure-session=")),
        "{:?}",
        res.set_cookies()
    );
    let token = b
        .seed_0_1_session(Some("alice"), time::Duration::ZERO)
        .await;

    // The browser of a 0.1 user holds its token as `session`.
    let mut old = Client::with_cookie_name(&app, "session");
    old.cookie = Some(token.clone());
    let res = old.send_raw("GET", "/me", None, &[]).await;
    assert_eq!(res.status, 200, "a 0.1 cookie signed its user out");
    assert_eq!(res.json()["user_id"], "alice");
    // The response moves the session to the new name (by a rotation: a
    // new token) and expires the old cookie.
    let rotated = res.cookie_value("__Secure-session").expect("moved");
    assert_ne!(rotated, token, "the moved cookie holds a new token");
    assert_eq!(res.cookie_value("session").as_deref(), Some(""));
    // Another request of the browser with the old cookie, answered after
    // the move: a rotation is pending, so it sets nothing (a second move
    // would put a token over the first's, or drop it).
    let again = old.send_raw("GET", "/me", None, &[]).await;
    assert_eq!(again.json()["user_id"], "alice");
    assert_eq!(again.cookie_value("__Secure-session"), None);
    // With the new cookie alone, the user is still signed in.
    let mut moved = Client::with_cookie_name(&app, "__Secure-session");
    moved.cookie = Some(rotated);
    assert_eq!(moved.me().await.as_deref(), Some("alice"));
}

/// A request under the 0.1 name that read the session before a sign-in
/// on the same browser, and answers after it, sets no cookie: it used to
/// send its old token again under the new name, over the sign-in's, and
/// the next request was anonymous.
async fn a_0_1_cookie_in_flight_across_a_sign_in_sets_nothing(b: Backend) {
    use axum::routing::get;
    use std::sync::Arc;
    use tokio::sync::Notify;
    let (loaded, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (l, r) = (loaded.clone(), release.clone());
    let slow = get(move |s: axum_user_sessions::Session| async move {
        let id = s.id();
        l.notify_one();
        r.notified().await;
        format!("{id:?}")
    });
    let router = common::demo::routes().route("/slow", slow);
    let app = common::serve(router.layer(b.layer().with_cookie_domain("127.0.0.1"))).await;
    // An anonymous session of 0.1, its token held under the 0.1 name.
    let mut old = Client::with_cookie_name(&app, "session");
    old.cookie = Some(b.seed_0_1_session(None, time::Duration::ZERO).await);
    let mut late = Client::with_cookie_name(&app, "session");
    late.cookie = old.cookie.clone();
    let in_flight = tokio::spawn(async move { late.get("/slow").await });
    tokio::time::timeout(std::time::Duration::from_secs(30), loaded.notified())
        .await
        .expect("the slow request never loaded its session");
    let signed_in = old.login("alice").await;
    let new = signed_in
        .cookie_value("__Secure-session")
        .expect("signed in");
    release.notify_one();
    let res = in_flight.await.unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        res.cookie_value("__Secure-session"),
        None,
        "the late request set a session cookie over the sign-in's"
    );
    let mut after = Client::with_cookie_name(&app, "__Secure-session");
    after.cookie = Some(new);
    assert_eq!(after.me().await.as_deref(), Some("alice"));
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

/// A visitor with none of our cookies, carrying `cookie` (a `Cookie`
/// header) on `GET /me`: who it is, and the response's cookies.
async fn visit(app: &TestApp, cookie: &str) -> (Option<String>, Vec<String>) {
    let anon = Client::with_cookie_name(app, "unused");
    let res = anon
        .send_raw("GET", "/me", None, &[("cookie", cookie.as_bytes())])
        .await;
    let user = (res.status == 200).then(|| res.json()["user_id"].as_str().unwrap().to_owned());
    (user, res.set_cookies())
}

/// Anyone who can set a cookie for the domain without a prefix (a plain
/// http page, a sibling subdomain) can plant one under the 0.1 name. A
/// token of today's planted there (either form) signed the visitor into
/// the planter's account: it signs nobody in now, and the planter's
/// session is untouched (with a touch due at every request: its last use
/// and IP would show the victim's on the planter's device list).
async fn a_session_cookie_planted_under_the_0_1_name_signs_nobody_in(b: Backend) {
    for layer in [b.layer(), b.legacy_layer()] {
        let layer = layer
            .with_cookie_domain("127.0.0.1")
            .with_touch_interval(std::time::Duration::ZERO);
        let app = common::serve_demo(layer).await;
        let mut planter = Client::with_cookie_name(&app, "__Secure-session");
        planter.login("bob").await;
        let planted = planter.cookie.clone().unwrap();
        let me = planter.get("/me").await.json();
        let id = me["session_id"].as_str().unwrap().parse().unwrap();
        let seen = b.store.get(id).await.unwrap().unwrap().last_seen_at;
        let (user, set) = visit(&app, &format!("session={planted}")).await;
        let after = b.store.get(id).await.unwrap().unwrap().last_seen_at;
        assert_eq!(
            after, seen,
            "the planted cookie touched the planter's session"
        );
        assert_eq!(user, None, "signed in as the planter");
        assert!(
            set.iter().all(|c| !c.starts_with("__Secure-session=") || c.starts_with("__Secure-session=;")),
            "{set:?}"
        );
        assert_eq!(planter.me().await.as_deref(), Some("bob"));
    }
}

/// The same with a remember-me cookie: it restored the planter's session.
async fn a_remember_cookie_planted_under_the_0_1_name_restores_nothing(b: Backend) {
    let app = common::serve_demo(b.layer().with_cookie_domain("127.0.0.1")).await;
    let mut planter = Client::with_cookie_name(&app, "__Secure-session");
    let res = planter.login_with("bob", true).await;
    let planted = res.cookie_value("__Secure-remember").expect("remembered");
    let (user, set) = visit(&app, &format!("remember={planted}")).await;
    assert_eq!(user, None, "restored the planter's session");
    assert!(
        set.iter()
            .all(|c| !c.starts_with("__Secure-session=") || c.starts_with("__Secure-session=;")),
        "{set:?}"
    );
    // The planter's credential still works for the planter.
    let (user, _) = visit(&app, &format!("__Secure-remember={planted}")).await;
    assert_eq!(user.as_deref(), Some("bob"));
}

/// Another app on the domain may have a `session` cookie of its own: our
/// responses leave it alone, whatever it holds (a value of our token's
/// form that names none of our sessions included).
async fn a_sibling_app_s_cookie_of_that_name_is_left_alone(b: Backend) {
    let app = common::serve_demo(b.layer().with_cookie_domain("127.0.0.1")).await;
    let ours_in_form = "A".repeat(43);
    for value in ["abc", ours_in_form.as_str()] {
        let (user, set) = visit(&app, &format!("session={value}")).await;
        assert_eq!(user, None);
        assert!(
            set.iter().all(|c| !c.starts_with("session=")),
            "{value}: {set:?}"
        );
        let c = Client::with_cookie_name(&app, "__Secure-session");
        let res = c
            .login_raw(
                "alice",
                &[("cookie", format!("session={value}").as_bytes())],
            )
            .await;
        assert!(res.cookie_value("__Secure-session").is_some(), "signed in");
        assert_eq!(res.cookie_value("session"), None, "{:?}", res.set_cookies());
    }
}

/// A request under the 0.1 name held before it reads its session, while a
/// sign-in on the same browser moves the session (a write of today's on a
/// 0.1 session): it is still the 0.1 session's own request, answered as one
/// that left before the sign-in (no cookie set or expired), not refused as
/// planted (which expired the sign-in's cookie).
async fn a_0_1_cookie_that_loads_after_a_sign_in_moved_its_session_sets_nothing(b: Backend) {
    use axum::extract::Request;
    use axum::middleware::{self, Next};
    use std::sync::Arc;
    use tokio::sync::Notify;
    let gate = Arc::new(Notify::new());
    let g = gate.clone();
    let held = axum::Router::new()
        .route(
            "/held",
            axum::routing::get(|s: axum_user_sessions::Session| async move {
                format!("{:?}", s.user_id())
            }),
        )
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let g = g.clone();
            async move {
                g.notified().await;
                next.run(req).await
            }
        }));
    let router = common::demo::routes().merge(held);
    let app = common::serve(router.layer(b.layer().with_cookie_domain("127.0.0.1"))).await;
    let mut old = Client::with_cookie_name(&app, "session");
    old.cookie = Some(b.seed_0_1_session(None, time::Duration::ZERO).await);
    let late = old.clone();
    let in_flight = tokio::spawn(async move { late.send_raw("GET", "/held", None, &[]).await });
    let new = old
        .login("alice")
        .await
        .cookie_value("__Secure-session")
        .expect("signed in");
    gate.notify_one();
    let res = in_flight.await.unwrap();
    assert_eq!(
        res.cookie_value("__Secure-session"),
        None,
        "{:?}",
        res.set_cookies()
    );
    let mut after = Client::with_cookie_name(&app, "__Secure-session");
    after.cookie = Some(new);
    assert_eq!(after.me().await.as_deref(), Some("alice"));
}

/// This version's sign-ins keep a session's id, so a planter could keep a
/// 0.1 session alive for ever and plant it: a cookie under 0.1's name is
/// read only within the life a 0.1 session could have had (the remember-me
/// lifetime, 30 days by default, here), counted from its creation.
async fn a_0_1_session_kept_past_a_0_1_session_s_life_is_not_read_there(b: Backend) {
    let app = common::serve_demo(b.layer().with_cookie_domain("127.0.0.1")).await;
    let young = b
        .seed_0_1_session(Some("alice"), time::Duration::days(29))
        .await;
    let (user, _) = visit(&app, &format!("session={young}")).await;
    assert_eq!(user.as_deref(), Some("alice"));
    let old = b
        .seed_0_1_session(Some("bob"), time::Duration::days(31))
        .await;
    let (user, set) = visit(&app, &format!("session={old}")).await;
    assert_eq!(user, None, "{set:?}");
}
