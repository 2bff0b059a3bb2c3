//! A token works only where it was issued: a browser's session token sent as
//! `Authorization: Bearer` names no session, and an API client's token sent
//! as a cookie names none either. Neither is revoked for it: the client the
//! token belongs to keeps working. Every store, over real HTTP.

use super::serve_api;
use crate::common;

use common::api_client::ApiClient;
use common::{Backend, Client};

conformance!(a_token_works_only_on_its_own_channel);

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
