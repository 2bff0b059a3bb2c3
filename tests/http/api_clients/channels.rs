//! A token works only where it was issued: a browser's session token sent as
//! `Authorization: Bearer` names no session, and an API client's token sent
//! as a cookie names none either. Neither is revoked for it: the client the
//! token belongs to keeps working. Every store, over real HTTP.

use super::serve_api;
use crate::common;

use axum_user_sessions::SessionEvent;
use axum_user_sessions::ipnet::IpNet;
use axum_user_sessions::store::SessionRecord;
use common::api_client::ApiClient;
use common::{Backend, Client};
use std::sync::{Arc, Mutex};
use std::time::Duration;

conformance!(
    a_token_works_only_on_its_own_channel,
    a_token_on_the_wrong_channel_writes_nothing,
);

async fn a_token_works_only_on_its_own_channel(b: Backend) {
    let app = serve_api(b.layer().with_bearer_tokens(true)).await;
    let mut browser = Client::new(&app);
    browser.login("alice").await;
    let mut api = ApiClient::new(&app);
    api.login("bob").await;

    // The browser's cookie token, as a bearer token.
    let mut thief = ApiClient::new(&app);
    thief.token = browser.cookie.clone();
    let res = thief.send("GET", "/me").await;
    assert_eq!(
        res.status, 401,
        "a cookie token was taken as a bearer token"
    );
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
    let res = thief.send("GET", "/sessions").await;
    assert_eq!(res.status, 401, "{}", res.body);

    // The API client's token, as a cookie.
    let mut cookie_thief = Client::new(&app);
    cookie_thief.cookie = api.token.clone();
    assert_eq!(
        cookie_thief.me().await,
        None,
        "a bearer token was taken as a cookie"
    );

    // Both owners are still signed in.
    assert_eq!(browser.me().await.as_deref(), Some("alice"));
    assert_eq!(api.me().await.as_deref(), Some("bob"));
}

/// What a refused request must leave as it was.
fn activity(r: &SessionRecord) -> impl PartialEq + std::fmt::Debug {
    (
        r.last_seen_at,
        r.expires_at,
        r.last_ip,
        r.location.clone(),
        r.version,
        r.revoked_at,
    )
}

/// A token on the other channel is refused before anything is written: its
/// session's activity, idle deadline, last IP and place stay as they were
/// (with every request due for a touch, from another IP), and a security
/// event says how it came.
async fn a_token_on_the_wrong_channel_writes_nothing(b: Backend) {
    let events: Arc<Mutex<Vec<SessionEvent>>> = Arc::default();
    let sink = events.clone();
    let proxy: IpNet = "127.0.0.1/32".parse().unwrap();
    let layer = b
        .layer()
        .with_bearer_tokens(true)
        .with_touch_interval(Duration::ZERO)
        .with_trusted_proxies([proxy])
        .with_events(move |e: &SessionEvent| sink.lock().unwrap().push(e.clone()));
    let app = serve_api(layer).await;
    let mut browser = Client::new(&app);
    browser.login("alice").await;
    let mut api = ApiClient::new(&app);
    api.login("bob").await;
    let browser_id = browser.get("/me").await.json()["session_id"].clone();
    let api_id = api.send("GET", "/me").await.json()["session_id"].clone();
    let elsewhere: &[(&str, &[u8])] = &[("x-forwarded-for", b"203.0.113.9")];

    for (id, presented_as) in [(&browser_id, "bearer"), (&api_id, "cookie")] {
        let id: uuid::Uuid = id.as_str().unwrap().parse().unwrap();
        let row = b.store.get(id).await.unwrap().unwrap();
        let ip = row.last_ip.expect("a last IP");
        assert!(b.store.set_location(id, ip, "Lisbon").await.unwrap());
        let before = b.store.get(id).await.unwrap().unwrap();
        assert_eq!(before.location.as_deref(), Some("Lisbon"));

        let res = if presented_as == "bearer" {
            let mut thief = ApiClient::new(&app);
            thief.token = browser.cookie.clone();
            thief.send_raw("GET", "/me", None, elsewhere).await
        } else {
            let mut thief = Client::new(&app);
            thief.cookie = api.token.clone();
            thief.send_raw("GET", "/me", None, elsewhere).await
        };
        assert_eq!(res.status, 401, "{presented_as}: {}", res.body);
        let after = b.store.get(id).await.unwrap().unwrap();
        assert_eq!(
            activity(&after),
            activity(&before),
            "a {presented_as} request on the wrong channel wrote"
        );
        let seen = events.lock().unwrap().iter().any(|e| {
            e.session_id == Some(id)
                && e.kind
                    == axum_user_sessions::SessionEventKind::WrongChannel {
                        presented_as: presented_as.to_owned(),
                    }
        });
        assert!(seen, "no wrong_channel event for {presented_as}");
    }

    // Both owners are still signed in, and their own requests touch.
    assert_eq!(browser.me().await.as_deref(), Some("alice"));
    assert_eq!(api.me().await.as_deref(), Some("bob"));
}
