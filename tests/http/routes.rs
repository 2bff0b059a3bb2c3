//! "Your devices" routes: listing, ownership, CSRF and re-authentication
//! rules, the page's headers, on every store, over real HTTP (revoking:
//! `revoking.rs`). The helpers here serve both.

use crate::common;

use axum_user_sessions::{SessionLayer, SessionRoutes};
use common::{Backend, Client, Resp, TestApp};
use serde_json::Value;
use std::time::Duration;

everywhere!(
    list_shows_own_sessions_most_recent_first,
    anonymous_callers_get_401,
    other_users_and_unknown_ids_are_404,
    cross_site_and_same_site_posts_are_403,
    recent_authentication_can_be_required,
    admins_only_through_the_hook,
    html_page_lists_devices,
    no_get_changes_state,
    page_cannot_be_framed_and_answers_are_nosniff,
);

pub(crate) const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");
pub(crate) const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

pub(crate) async fn app(b: &Backend) -> TestApp {
    app_with(b, SessionRoutes::new()).await
}

pub(crate) async fn app_with(b: &Backend, routes: SessionRoutes) -> TestApp {
    let layer: SessionLayer = b.layer();
    common::serve(common::demo::routes_with(routes).layer(layer)).await
}

pub(crate) async fn signed_in(app: &TestApp, user: &str, ua: Option<&str>) -> Client {
    let mut c = Client::new(app);
    if let Some(ua) = ua {
        c.user_agent = ua.into();
    }
    c.login(user).await;
    c
}

pub(crate) async fn list(c: &mut Client) -> Vec<Value> {
    let res = c.get("/sessions").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()["sessions"].as_array().unwrap().clone()
}

pub(crate) async fn session_id(c: &mut Client) -> String {
    c.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn delete(c: &mut Client, id: &str, headers: &[(&str, &str)]) -> Resp {
    c.send_with("DELETE", &format!("/sessions/{id}"), headers)
        .await
}

async fn list_shows_own_sessions_most_recent_first(b: Backend) {
    let app = app(&b).await;
    let mut laptop = signed_in(&app, "alice", None).await;
    let mut phone = signed_in(&app, "alice", Some(IPHONE)).await;
    let _bob = signed_in(&app, "bob", None).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let res = laptop.get("/sessions").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.headers["cache-control"], "no-store, private");
    assert!(
        res.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body = res.json();
    assert_eq!(body["user_id"], "alice");
    let items = body["sessions"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    // The phone signed in last: most recently active first.
    assert_eq!(items[0]["device"], "Safari on iPhone");
    assert_eq!(items[0]["current"], false);
    assert_eq!(items[1]["device"], "Firefox on Linux");
    assert_eq!(items[1]["current"], true);
    assert_eq!(items[1]["id"], session_id(&mut laptop).await);
    for item in items {
        for field in [
            "id",
            "current",
            "device",
            "ip",
            "created_at",
            "last_seen_at",
            "expires_at",
            "persistent",
        ] {
            assert!(item.get(field).is_some(), "{field} missing: {item}");
        }
        assert_eq!(item["ip"], "127.0.0.1");
        assert_eq!(item["persistent"], false);
        assert!(
            time::OffsetDateTime::parse(
                item["expires_at"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339
            )
            .is_ok()
        );
    }
    for token in [
        laptop.cookie.clone().unwrap(),
        phone.cookie.clone().unwrap(),
    ] {
        assert!(!res.body.contains(&token), "a token in the list");
    }
    let phone_items = list(&mut phone).await;
    assert_eq!(phone_items[0]["current"], true);
}

async fn anonymous_callers_get_401(b: Backend) {
    let app = app(&b).await;
    let mut c = Client::new(&app);
    let res = c.get("/sessions").await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"], "unauthenticated");
    let res = c
        .send_with("GET", "/sessions", &[("accept", "text/html")])
        .await;
    assert_eq!(res.status, 401);
    assert!(res.body.contains(r#"<a href="/login">Sign in</a>"#));
    for path in ["/sessions/revoke-others", "/sessions/revoke-all"] {
        assert_eq!(
            c.send_with("POST", path, &[SAME]).await.status,
            401,
            "{path}"
        );
    }
    let id = uuid::Uuid::new_v4().to_string();
    assert_eq!(delete(&mut c, &id, &[SAME]).await.status, 401);
}

async fn other_users_and_unknown_ids_are_404(b: Backend) {
    let app = app(&b).await;
    let mut alice = signed_in(&app, "alice", None).await;
    let mut bob = signed_in(&app, "bob", None).await;
    let alices = session_id(&mut alice).await;
    let other = delete(&mut bob, &alices, &[SAME]).await;
    let unknown = delete(&mut bob, &uuid::Uuid::new_v4().to_string(), &[SAME]).await;
    let garbage = delete(&mut bob, "not-a-uuid", &[SAME]).await;
    assert_eq!(
        (other.status, unknown.status, garbage.status),
        (404, 404, 404)
    );
    assert_eq!(other.body, unknown.body, "the answers tell ids apart");
    let form = bob
        .send_with("POST", &format!("/sessions/{alices}/revoke"), &[SAME])
        .await;
    assert_eq!(form.status, 404);
    assert_eq!(
        alice.me().await.as_deref(),
        Some("alice"),
        "alice was signed out"
    );
    // Listing someone else's sessions is refused.
    let res = bob.get("/sessions?user=alice").await;
    assert_eq!(res.status, 403);
    assert!(!res.body.contains(&alices));
}

async fn cross_site_and_same_site_posts_are_403(b: Backend) {
    let app = app(&b).await;
    let mut a = signed_in(&app, "alice", None).await;
    let mut other = signed_in(&app, "alice", None).await;
    let id = session_id(&mut other).await;
    let own_origin = app.base.clone();
    let refused: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("sec-fetch-site", "none")],
        vec![
            ("sec-fetch-site", "cross-site"),
            ("origin", own_origin.as_str()),
        ],
        vec![("origin", "http://evil.example")],
        vec![("origin", "null")],
    ];
    for headers in &refused {
        let res = delete(&mut a, &id, headers).await;
        assert_eq!(res.status, 403, "{headers:?}");
        assert_eq!(res.json()["error"], "cross_site_request");
        for path in ["/sessions/revoke-others", "/sessions/revoke-all"] {
            assert_eq!(
                a.send_with("POST", path, headers).await.status,
                403,
                "{path} {headers:?}"
            );
        }
    }
    assert_eq!(
        list(&mut a).await.len(),
        2,
        "a refused request revoked something"
    );
    assert_eq!(other.me().await.as_deref(), Some("alice"));
    // Without Sec-Fetch-Site, the request's own origin is enough.
    let res = delete(&mut a, &id, &[("origin", own_origin.as_str())]).await;
    assert_eq!(res.status, 204);
    assert_eq!(other.me().await, None);
}

async fn recent_authentication_can_be_required(b: Backend) {
    let app = app_with(
        &b,
        SessionRoutes::new().with_reauthentication(Duration::from_secs(1)),
    )
    .await;
    let mut me = signed_in(&app, "alice", None).await;
    let mut other = signed_in(&app, "alice", None).await;
    let id = session_id(&mut other).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let res = delete(&mut me, &id, &[SAME]).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"], "reauthentication_required");
    let res = me
        .send_with("POST", "/sessions/revoke-others", &[SAME])
        .await;
    assert_eq!(res.json()["error"], "reauthentication_required");
    assert_eq!(other.me().await.as_deref(), Some("alice"));
    // Listing needs no fresh password.
    assert_eq!(list(&mut me).await.len(), 2);
    // Re-enter the password, then it works.
    let res = me.reauth().await;
    assert_eq!(res.status, 303);
    let res = delete(&mut me, &id, &[SAME]).await;
    assert_eq!(res.status, 204);
    assert_eq!(other.me().await, None);
}

async fn admins_only_through_the_hook(b: Backend) {
    let routes = SessionRoutes::new()
        .with_authorization(|actor, _target| actor.user_id().as_deref() == Some("carol"));
    let app = app_with(&b, routes).await;
    let mut alice = signed_in(&app, "alice", None).await;
    let mut bob = signed_in(&app, "bob", None).await;
    let mut carol = signed_in(&app, "carol", None).await;
    let alices = session_id(&mut alice).await;
    assert_eq!(bob.get("/sessions?user=alice").await.status, 403);
    assert_eq!(delete(&mut bob, &alices, &[SAME]).await.status, 404);
    let res = carol.get("/sessions?user=alice").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["sessions"][0]["id"], alices.as_str());
    assert_eq!(res.json()["sessions"][0]["current"], false);
    // A user id no session can have (U+0000): none, on every store (it
    // was a 500 on Postgres, which refuses U+0000 in a query).
    let res = carol.get("/sessions?user=%00").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["sessions"], serde_json::json!([]));
    let res = carol.get("/sessions?user=%00&include=ended").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(delete(&mut carol, &alices, &[SAME]).await.status, 204);
    assert_eq!(alice.me().await, None);
    assert_eq!(carol.me().await.as_deref(), Some("carol"));
}

async fn html_page_lists_devices(b: Backend) {
    let app = app(&b).await;
    let mut me = signed_in(&app, "alice", None).await;
    let mut phone = signed_in(&app, "alice", Some(IPHONE)).await;
    let phone_id = session_id(&mut phone).await;
    let res = me
        .send_with(
            "GET",
            "/sessions",
            &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        )
        .await;
    assert_eq!(res.status, 200);
    assert!(
        res.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = &res.body;
    for needle in [
        "<h1>Your devices</h1>",
        "This device",
        "Firefox on Linux",
        "Safari on iPhone",
        "Sign out everywhere else",
        "IP 127.0.0.1",
        &format!("action=\"/sessions/{phone_id}/revoke\""),
        "action=\"/sessions/revoke-others\"",
        "aria-label=\"Sign out Safari on iPhone\"",
    ] {
        assert!(html.contains(needle), "{needle} missing from the page");
    }
    assert!(!html.contains(&me.cookie.clone().unwrap()));
    assert!(!html.contains("<script"), "the page needs no JavaScript");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "external assets"
    );
}

async fn no_get_changes_state(b: Backend) {
    let app = app(&b).await;
    let mut me = signed_in(&app, "alice", None).await;
    let mut other = signed_in(&app, "alice", None).await;
    let id = session_id(&mut other).await;
    for path in [
        "/sessions/revoke-all".to_owned(),
        "/sessions/revoke-others".to_owned(),
        format!("/sessions/{id}/revoke"),
    ] {
        let res = me.send_with("GET", &path, &[SAME]).await;
        assert_eq!(res.status, 405, "GET {path}");
    }
    assert_eq!(other.me().await.as_deref(), Some("alice"));
    assert_eq!(list(&mut me).await.len(), 2);
}

async fn page_cannot_be_framed_and_answers_are_nosniff(b: Backend) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let app = app(&b).await;
    let mut me = signed_in(&app, "alice", None).await;
    let page = me
        .send_with("GET", "/sessions", &[("accept", "text/html")])
        .await;
    assert_eq!(page.status, 200);
    let header = |res: &Resp, name: &str| {
        res.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(header(&page, "x-frame-options"), "DENY");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert_eq!(header(&page, "referrer-policy"), "same-origin");
    let csp = header(&page, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("script-src"));
    // The policy allows exactly the page's own stylesheet, by its hash.
    let style = page.body.split("<style>").nth(1).unwrap();
    let style = style.split("</style>").next().unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style));
    assert!(
        csp.contains(&format!("style-src 'sha256-{hash}'")),
        "the stylesheet's hash is not in {csp}"
    );
    // JSON answers and refusals are nosniff too, and not framed as pages.
    let json = me.get("/sessions").await;
    assert_eq!(header(&json, "x-content-type-options"), "nosniff");
    assert!(json.headers.get("content-security-policy").is_none());
    let refused = Client::new(&app).get("/sessions").await;
    assert_eq!(refused.status, 401);
    assert_eq!(header(&refused, "x-content-type-options"), "nosniff");
}
