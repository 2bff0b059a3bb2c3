//! API clients (issue #16, item 5): sessions carried by `Authorization:
//! Bearer`, new tokens in `Session-Token`, no cookies, no CSRF rules, listed
//! as API clients. Every store, over real HTTP.

use crate::common;

mod channels;
mod upgrade;

use axum::Router;
use axum::routing::post;
use axum_user_sessions::SessionLayer;
use common::api_client::ApiClient;
use common::{Backend, Client, TestApp, eventually, serve};
use std::time::Duration;

everywhere!(
    signs_in_by_api_and_uses_the_bearer_token,
    rotation_answers_the_new_token_in_the_header,
    revoked_from_a_browser_the_client_is_anonymous,
    with_a_bearer_token_the_cookie_is_ignored,
    bearer_clients_list_and_revoke_without_origin,
    malformed_authorization_headers_mean_no_session,
    with_bearer_off_the_header_is_ignored,
    other_authorization_schemes_leave_the_cookie_in_charge,
);

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");

/// The demo's routes and its `POST /api/login`, behind `layer`.
pub(super) async fn serve_api(layer: SessionLayer) -> TestApp {
    let router: Router = common::demo::routes()
        .route("/api/login", post(common::demo::api::login))
        .layer(layer);
    serve(router).await
}

fn assert_no_cookie(res: &common::Resp, what: &str) {
    assert!(
        res.set_cookies().is_empty(),
        "{what}: a bearer response set a cookie: {:?}",
        res.set_cookies()
    );
}

async fn signs_in_by_api_and_uses_the_bearer_token(b: Backend) {
    let app = serve_api(b.layer().with_bearer_tokens(true)).await;
    let mut api = ApiClient::new(&app);
    let res = api.login("alice").await;
    assert_eq!(res.json()["user_id"], "alice");
    assert_no_cookie(&res, "API login");
    assert_eq!(res.headers["cache-control"], "no-store");
    let res = api.send("GET", "/me").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["user_id"], "alice");
    assert_no_cookie(&res, "GET /me");
    // A bearer read costs what a cookie read costs: one round-trip at most.
    let before = b.round_trips();
    assert_eq!(api.me().await.as_deref(), Some("alice"));
    let cost = b.round_trips() - before;
    println!("{:?}: {cost} round-trip(s) for a bearer read", b.kind);
    assert!(cost <= 1, "a bearer read cost {cost} round-trips");
    // Data writes work, and still set no cookie.
    let res = api
        .send_raw("PUT", "/kv/k", Some(("text/plain", "v".into())), &[])
        .await;
    assert_eq!(res.status, 204);
    assert_no_cookie(&res, "PUT /kv");
    assert_eq!(api.send("GET", "/kv").await.json()["k"], "v");
    // Sign-in by form works too.
    let mut form = ApiClient::new(&app);
    let res = form
        .send_raw(
            "POST",
            "/api/login",
            Some((
                "application/x-www-form-urlencoded",
                "username=bob&password=password".into(),
            )),
            &[],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_no_cookie(&res, "form API login");
    form.absorb(&res);
    assert_eq!(form.me().await.as_deref(), Some("bob"));
    // A wrong password: 401 and no token.
    let res = ApiClient::new(&app)
        .send_raw(
            "POST",
            "/api/login",
            Some((
                "application/json",
                r#"{"username":"bob","password":"x"}"#.into(),
            )),
            &[],
        )
        .await;
    assert_eq!(res.status, 401);
    assert!(res.session_token().is_none());
    // Listed as an API client.
    let res = api.send("GET", "/sessions").await;
    assert_eq!(res.status, 200, "{}", res.body);
    let list = res.json();
    let item = &list["sessions"][0];
    assert_eq!(item["api_client"], true, "{list}");
    assert_eq!(item["device"], "API client", "{list}");
    assert_eq!(item["current"], true, "{list}");
}

/// A new token comes in `Session-Token`; a lost one signs nobody out; the
/// old token works for the grace window after the new one is used, and is
/// taken for theft after it.
async fn rotation_answers_the_new_token_in_the_header(b: Backend) {
    let layer = b
        .layer()
        .with_bearer_tokens(true)
        .with_rotation_interval(Duration::from_secs(1))
        .with_rotation_grace(Duration::from_secs(1));
    let app = serve_api(layer).await;
    let mut api = ApiClient::new(&app);
    api.login("alice").await;
    let first = api.token.clone().unwrap();
    // Poll until a rotation offers a new token; lose that response.
    let limit = Duration::from_secs(15);
    let lost = eventually(limit, || async {
        let res = api.send_raw("GET", "/me", None, &[]).await;
        assert_eq!(res.status, 200, "signed out while rotating: {}", res.body);
        assert_no_cookie(&res, "rotation");
        res.session_token()
    })
    .await
    .expect("no rotation within 15 s");
    assert_ne!(lost, first);
    // The old token keeps working, and a later request offers a token again.
    let offered = eventually(limit, || async {
        let res = api.send_raw("GET", "/me", None, &[]).await;
        assert_eq!(res.status, 200, "a lost token signed out: {}", res.body);
        res.session_token()
    })
    .await
    .expect("no new token offered after a lost one");
    // The client uses the new token: it works and becomes current.
    api.token = Some(offered.clone());
    assert_eq!(api.me().await.as_deref(), Some("alice"));
    // The old token is refused once the grace window passed: a replay, so
    // the session is revoked (theft detection), whoever holds it.
    let mut old = api.clone();
    old.token = Some(first);
    let refused = eventually(limit, || async {
        let res = old.send_raw("GET", "/me", None, &[]).await;
        assert!(res.status == 200 || res.status == 401, "{}", res.status);
        (res.status == 401).then_some(())
    })
    .await;
    assert!(
        refused.is_some(),
        "the old token still works after the grace"
    );
    api.token = Some(offered);
    assert_eq!(
        api.me().await,
        None,
        "a replayed token must revoke the session"
    );
}

/// A browser of the same user revokes the API client: its next request is
/// anonymous.
async fn revoked_from_a_browser_the_client_is_anonymous(b: Backend) {
    let app = serve_api(b.layer().with_bearer_tokens(true)).await;
    let mut api = ApiClient::new(&app);
    api.login("alice").await;
    let mut browser = Client::new(&app);
    browser.login("alice").await;
    let list = browser.get("/sessions").await.json();
    let items = list["sessions"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{list}");
    let client = items
        .iter()
        .find(|i| i["api_client"] == true)
        .expect("the API client is listed as one");
    assert_eq!(client["device"], "API client");
    let own = items.iter().find(|i| i["current"] == true).unwrap();
    assert_eq!(own["api_client"], false);
    assert_eq!(own["device"], "Firefox on Linux");
    let id = client["id"].as_str().unwrap();
    let res = browser
        .send_with("DELETE", &format!("/sessions/{id}"), &[SAME])
        .await;
    assert_eq!(res.status, 204, "{}", res.body);
    let res = api.send("GET", "/sessions").await;
    assert_eq!(res.status, 401, "{}", res.body);
    assert_no_cookie(&res, "revoked bearer");
    assert_eq!(api.me().await, None);
    assert_eq!(browser.me().await.as_deref(), Some("alice"));
}

/// A request with both credentials uses the bearer token only: the cookie
/// is not read, not touched, not cleared.
async fn with_a_bearer_token_the_cookie_is_ignored(b: Backend) {
    let app = serve_api(b.layer().with_bearer_tokens(true)).await;
    let mut browser = Client::new(&app);
    browser.login("alice").await;
    let mut api = ApiClient::new(&app);
    api.login("bob").await;
    let cookie = format!("__Host-session={}", browser.cookie.clone().unwrap());
    let both = [("cookie", cookie.as_bytes())];
    let res = api.send_raw("GET", "/me", None, &both).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["user_id"], "bob", "the cookie was used");
    assert_no_cookie(&res, "cookie and bearer");
    // A write goes to the bearer session, not the cookie's.
    let res = api
        .send_raw("PUT", "/kv/who", Some(("text/plain", "bob".into())), &both)
        .await;
    assert_eq!(res.status, 204);
    assert_no_cookie(&res, "write with cookie and bearer");
    assert_eq!(api.send("GET", "/kv").await.json()["who"], "bob");
    assert!(browser.get("/kv").await.json().get("who").is_none());
    // A bad bearer token with a good cookie: anonymous, the cookie kept.
    let mut bad = api.clone();
    bad.token = Some("not-a-token".into());
    let res = bad.send_raw("GET", "/me", None, &both).await;
    assert_eq!(
        res.status, 401,
        "a bad bearer token fell back to the cookie"
    );
    assert_no_cookie(&res, "bad bearer with cookie");
    // Logging the bearer session out leaves the browser signed in.
    let res = api.send_raw("POST", "/logout", None, &both).await;
    assert_no_cookie(&res, "bearer logout");
    assert_eq!(api.me().await, None);
    assert_eq!(browser.me().await.as_deref(), Some("alice"));
    // The browser's sign-in form, "remember me" included, sent by a bearer
    // client: the token in the header, no cookie of either kind.
    let mut form = ApiClient::new(&app);
    form.token = api.token.clone();
    let sign_in = |creds: &str| {
        let form = form.clone();
        let body = ("application/x-www-form-urlencoded", creds.to_owned());
        async move { form.send_raw("POST", "/login", Some(body), &[]).await }
    };
    let res = sign_in("username=dave&password=x&remember=on").await;
    assert_eq!(res.status, 401, "{}", res.body);
    let res = sign_in("username=carol&password=password&remember=on").await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_no_cookie(&res, "remembered sign-in by a bearer client");
    form.absorb(&res);
    assert_eq!(form.me().await.as_deref(), Some("carol"));
    // An API sign-in from a browser's request leaves the browser's session.
    let body = r#"{"username":"carol","password":"password"}"#;
    let res = browser
        .send_raw(
            "POST",
            "/api/login",
            Some(("application/json", body.into())),
            &[],
        )
        .await;
    assert_eq!(res.status, 200);
    assert_no_cookie(&res, "API login from a browser");
    let mut carol = ApiClient::new(&app);
    carol.absorb(&res);
    assert_eq!(carol.me().await.as_deref(), Some("carol"));
    assert_eq!(browser.me().await.as_deref(), Some("alice"));
}

/// No ambient credential, so no same-origin rule: a bearer client lists and
/// revokes its user's sessions without `Origin`; a cookie request still
/// needs it.
async fn bearer_clients_list_and_revoke_without_origin(b: Backend) {
    let app = serve_api(b.layer().with_bearer_tokens(true)).await;
    let mut api = ApiClient::new(&app);
    api.login("alice").await;
    let (mut one, mut two) = (Client::new(&app), Client::new(&app));
    one.login("alice").await;
    two.login("alice").await;
    let res = one.post("/sessions/revoke-others").await;
    assert_eq!(
        res.status, 403,
        "a cookie request without Origin: {}",
        res.body
    );
    let list = api.send("GET", "/sessions").await.json();
    let id = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = api.send("DELETE", &format!("/sessions/{id}")).await;
    assert_eq!(res.status, 204, "{}", res.body);
    assert_no_cookie(&res, "bearer revoke");
    let res = api.send("POST", "/sessions/revoke-others").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["revoked"], 1);
    assert_no_cookie(&res, "bearer revoke-others");
    assert_eq!(one.me().await, None);
    assert_eq!(two.me().await, None);
    // revoke-others gives the client a new token at once, in the header.
    assert_eq!(api.me().await.as_deref(), Some("alice"));
    let res = api.send("POST", "/sessions/revoke-all").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_no_cookie(&res, "bearer revoke-all");
    assert_eq!(api.me().await, None);
}

/// Not Bearer, a bad token, oversized, two headers, an empty one: no
/// session, never a 500, never a cookie.
async fn malformed_authorization_headers_mean_no_session(b: Backend) {
    let app = serve_api(b.layer().with_bearer_tokens(true)).await;
    let mut api = ApiClient::new(&app);
    api.login("alice").await;
    let token = api.token.clone().unwrap();
    let mut anon = ApiClient::new(&app);
    let bearer = format!("Bearer {token}");
    let long = format!("Bearer {token}{}", "A".repeat(8000));
    let basic = format!("Basic {token}");
    let bad: Vec<Vec<(&str, &[u8])>> = vec![
        vec![("authorization", basic.as_bytes())],
        vec![("authorization", token.as_bytes())],
        vec![("authorization", b"Bearer x".as_slice())],
        vec![("authorization", b"Bearer ".as_slice())],
        vec![("authorization", b"Bearer \xff\xfe".as_slice())],
        vec![("authorization", long.as_bytes())],
        vec![
            ("authorization", bearer.as_bytes()),
            ("authorization", bearer.as_bytes()),
        ],
    ];
    let before = b.round_trips();
    for headers in &bad {
        for path in ["/me", "/sessions"] {
            let res = anon.send_raw("GET", path, None, headers).await;
            assert_eq!(res.status, 401, "{path} {headers:?}: {}", res.body);
            assert_no_cookie(&res, path);
        }
    }
    assert_eq!(b.round_trips(), before, "a malformed header cost a query");
    // Still good with the right header.
    anon.token = Some(token);
    assert_eq!(anon.me().await.as_deref(), Some("alice"));
}

/// With bearer tokens off (the default), `Authorization` is ignored: the
/// cookie decides.
async fn with_bearer_off_the_header_is_ignored(b: Backend) {
    let on = serve_api(b.layer().with_bearer_tokens(true)).await;
    let mut api = ApiClient::new(&on);
    api.login("bob").await;
    let off = serve_api(b.layer()).await;
    let mut browser = Client::new(&off);
    browser.login("alice").await;
    let mut ignored = api.clone();
    ignored.base = off.base.clone();
    assert_eq!(ignored.me().await, None, "bearer off: the token was used");
    let header = format!("Bearer {}", api.token.clone().unwrap());
    let res = browser
        .send_with("GET", "/me", &[("authorization", header.as_str())])
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["user_id"], "alice");
    assert_eq!(api.me().await.as_deref(), Some("bob"));
}

/// Only the `Bearer` scheme makes a bearer request: a browser behind a
/// password-protected site (`Authorization: Basic`) keeps its cookie
/// session, and its responses still set cookies.
async fn other_authorization_schemes_leave_the_cookie_in_charge(b: Backend) {
    let app = serve_api(b.layer().with_bearer_tokens(true)).await;
    let mut browser = Client::new(&app);
    let basic: [(&str, &[u8]); 1] = [("authorization", b"Basic dXNlcjpwYXNzd29yZA==")];
    let form = (
        "application/x-www-form-urlencoded",
        "username=alice&password=password".to_owned(),
    );
    let res = browser.send_raw("POST", "/login", Some(form), &basic).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(
        res.cookie_value(&browser.cookie_name).is_some(),
        "no cookie set"
    );
    browser.absorb(&res);
    let res = browser.send_raw("GET", "/me", None, &basic).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["user_id"], "alice");
}
