//! "Your devices", how strongly a session signed in: `Session::login_with`
//! records the method and second factor, the list shows them, a remember-me
//! restore keeps them and is not fresh, and a `Reauth` policy asks for a
//! second factor before signing devices out. Every store, over real HTTP.

use crate::common;

use axum::Json;
use axum::extract::Query;
use axum::routing::{get, post};
use axum_user_sessions::{Reauth, Session, SessionRoutes, SignIn};
use common::{Backend, Client, TestApp};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

conformance!(
    the_sign_in_method_is_recorded_and_listed,
    a_restore_keeps_the_method_and_is_not_fresh,
    the_policy_asks_for_a_second_factor,
);

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");

fn policy() -> Reauth {
    Reauth::within(Duration::from_secs(600)).with_second_factor()
}

#[derive(Deserialize)]
struct How {
    user: Option<String>,
    method: String,
    #[serde(default)]
    second_factor: bool,
    #[serde(default)]
    remember: bool,
}

impl How {
    fn sign_in(&self) -> SignIn {
        SignIn::new(&self.method).with_second_factor(self.second_factor)
    }
}

/// The demo with the policy on its "Your devices", and routes that sign in
/// and re-authenticate with a method, and tell how fresh the session is.
async fn app(b: &Backend) -> TestApp {
    let devices = SessionRoutes::new().with_reauthentication_policy(policy());
    let router = common::demo::routes_with(devices)
        .route(
            "/login-with",
            post(|s: Session, Query(h): Query<How>| async move {
                let user = h.user.clone().unwrap_or_else(|| "alice".into());
                s.login_remember_with(user, h.remember, h.sign_in())
                    .await
                    .unwrap();
            }),
        )
        .route(
            "/reauth-with",
            post(|s: Session, Query(h): Query<How>| async move {
                s.reauthenticate_with(h.sign_in()).await.unwrap();
            }),
        )
        .route(
            "/fresh",
            get(|s: Session| async move {
                Json(json!({
                    "fresh": s.is_fresh_with(policy()),
                    "fresh_any": s.is_fresh_with(Reauth::within(Duration::from_secs(600))),
                    "restored": s.is_restored(),
                    "method": s.sign_in_method(),
                    "second_factor": s.second_factor(),
                }))
            }),
        );
    common::serve(router.layer(b.layer())).await
}

async fn login_with(c: &mut Client, query: &str) {
    let res = c.post(&format!("/login-with?{query}")).await;
    assert_eq!(res.status, 200, "{}", res.body);
}

async fn own_item(c: &mut Client) -> Value {
    c.get("/sessions").await.listed(|s| s["current"] == true)
}

async fn the_sign_in_method_is_recorded_and_listed(b: Backend) {
    let app = app(&b).await;
    let mut strong = Client::new(&app);
    login_with(&mut strong, "method=passkey&second_factor=true").await;
    let item = own_item(&mut strong).await;
    assert_eq!(
        (&item["sign_in_method"], &item["second_factor"]),
        (&json!("passkey"), &json!(true))
    );
    let page = strong
        .send_raw("GET", "/sessions", None, &[("accept", b"text/html")])
        .await;
    assert!(
        page.body.contains("with passkey and a second factor"),
        "{}",
        page.body
    );

    // A plain `login`: no method, no second factor.
    let mut plain = Client::new(&app);
    plain.login("alice").await;
    let item = own_item(&mut plain).await;
    assert_eq!(
        (&item["sign_in_method"], &item["second_factor"]),
        (&Value::Null, &json!(false))
    );
    let fresh = plain.get("/fresh").await.json();
    assert_eq!(
        (fresh["fresh"].clone(), fresh["fresh_any"].clone()),
        (json!(false), json!(true))
    );

    // Signing in again on the same session records the new proof.
    login_with(&mut plain, "method=sso").await;
    let item = own_item(&mut plain).await;
    assert_eq!(
        (&item["sign_in_method"], &item["second_factor"]),
        (&json!("sso"), &json!(false))
    );
    let now = time::OffsetDateTime::now_utc();
    let mut methods: Vec<_> = b
        .store
        .list_user("alice", now)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.sign_in_method, r.second_factor))
        .collect();
    methods.sort();
    assert_eq!(
        methods,
        [(Some("passkey".into()), true), (Some("sso".into()), false)]
    );
}

async fn a_restore_keeps_the_method_and_is_not_fresh(b: Backend) {
    let app = app(&b).await;
    let mut c = Client::new(&app);
    login_with(&mut c, "method=password&second_factor=true&remember=true").await;
    assert!(c.remember.is_some());
    assert_eq!(c.get("/fresh").await.json()["fresh"], true);

    // The browser restarts: the session cookie is gone, remember-me restores.
    c.cookie = None;
    let fresh = c.get("/fresh").await.json();
    assert_eq!(fresh["restored"], true, "{fresh}");
    assert_eq!(fresh["fresh"], false, "a restore is not fresh: {fresh}");
    assert_eq!(fresh["fresh_any"], false, "{fresh}");
    assert_eq!(
        (&fresh["method"], &fresh["second_factor"]),
        (&json!("password"), &json!(true))
    );
    let item = own_item(&mut c).await;
    assert_eq!(
        (&item["sign_in_method"], &item["second_factor"]),
        (&json!("password"), &json!(true))
    );
    // Nor on the requests after it, with the cookie it set.
    let fresh = c.get("/fresh").await.json();
    assert_eq!(fresh["restored"], false, "{fresh}");
    assert_eq!(
        (&fresh["fresh"], &fresh["fresh_any"]),
        (&json!(false), &json!(false)),
        "a restore stays not fresh: {fresh}"
    );
    // Nor may it sign other devices out on that request.
    c.cookie = None;
    let res = c
        .send_with("POST", "/sessions/revoke-others", &[SAME])
        .await;
    assert_eq!(res.status, 401, "{}", res.body);
    assert_eq!(res.json()["error"], "reauthentication_required");
}

async fn the_policy_asks_for_a_second_factor(b: Backend) {
    let app = app(&b).await;
    let mut phone = Client::new(&app);
    phone.login("alice").await;
    let mut laptop = Client::new(&app);
    login_with(&mut laptop, "method=password").await;

    // A password alone is not enough.
    let res = laptop
        .send_with("POST", "/sessions/revoke-others", &[SAME])
        .await;
    assert_eq!(res.status, 401, "{}", res.body);
    assert_eq!(
        res.json()["error"],
        "reauthentication_required",
        "today's refusal"
    );
    assert_eq!(phone.me().await.as_deref(), Some("alice"));

    // A plain re-authentication (the demo's password prompt) proves no
    // second factor either.
    let form = (
        "application/x-www-form-urlencoded",
        "password=password".to_owned(),
    );
    assert_eq!(laptop.send("POST", "/reauth", Some(form)).await.status, 303);
    let res = laptop
        .send_with("POST", "/sessions/revoke-others", &[SAME])
        .await;
    assert_eq!(res.status, 401, "{}", res.body);

    // With a second factor it is.
    let res = laptop
        .post("/reauth-with?method=password&second_factor=true")
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(own_item(&mut laptop).await["second_factor"], true);
    let res = laptop
        .send_with("POST", "/sessions/revoke-others", &[SAME])
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json(), json!({ "revoked": 1 }));
    assert_eq!(phone.me().await, None);
}
