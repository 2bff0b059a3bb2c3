//! axum-login on top of the layer (feature `axum-login`): the example app,
//! `examples/axum_login.rs`, over real HTTP, on every store.

use crate::common;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum_login::AuthSession;
use axum_user_sessions::{AxumLoginLayer, Session, SessionAdmin};
use common::{Backend, Client, Resp, TestApp};
use serde_json::Value;

#[path = "../../../examples/axum_login.rs"]
pub(crate) mod example;

mod logout;

conformance!(
    sign_in_through_axum_login_lists_the_device,
    another_user_signing_in_gets_a_fresh_session,
    revoking_a_device_makes_login_required_redirect,
    password_change_signs_out_the_other_devices,
    password_changed_elsewhere_revokes_on_the_next_request,
    signing_in_with_a_stale_cookie_after_a_reset,
    logout_ends_the_session_and_its_cookie,
    permission_required_sees_the_user,
    tower_sessions_data_goes_to_the_session,
    reading_costs_no_extra_round_trip,
);

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const COOKIE: &str = "__Host-session";

/// The example app on `b`, its users, and admin calls on the same store.
struct App {
    app: TestApp,
    users: example::Backend,
    admin: SessionAdmin,
}

async fn start(b: &Backend) -> App {
    start_with(b, Router::new()).await
}

/// The example's routes and `extra`, behind its layers.
async fn start_with(b: &Backend, extra: Router) -> App {
    let users = example::Backend::default();
    let router = example::routes()
        .merge(extra)
        .layer(AxumLoginLayer::new(users.clone()))
        .layer(b.layer());
    App {
        app: common::serve(router).await,
        users,
        admin: SessionAdmin::new(b.store.clone()),
    }
}

impl App {
    async fn signed_in(&self, user: &str, ua: Option<&str>) -> Client {
        let mut c = Client::new(&self.app);
        if let Some(ua) = ua {
            c.user_agent = ua.into();
        }
        let res = c.login(user).await;
        assert_eq!(location(&res), "/");
        c
    }

    /// The revocation of session `id`: (reason, by).
    async fn revocation(&self, id: &str) -> (String, String) {
        let r = self.admin.session(id.parse().unwrap()).await.unwrap();
        let r = r.expect("the session is on record");
        assert!(r.revoked_at.is_some(), "session {id} is not revoked");
        (r.revoke_reason.unwrap(), r.revoked_by.unwrap())
    }
}

fn location(res: &Resp) -> &str {
    res.headers["location"].to_str().unwrap()
}

/// "Your devices" of `c`: (user id, sessions).
async fn devices(c: &mut Client) -> (String, Vec<Value>) {
    let res = c.get("/sessions").await;
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    let user = body["user_id"].as_str().unwrap().to_owned();
    (user, body["sessions"].as_array().unwrap().clone())
}

/// The public id of `c`'s session, from "Your devices".
async fn current_id(c: &mut Client) -> String {
    let (_, sessions) = devices(c).await;
    let current = sessions.iter().find(|s| s["current"] == true).unwrap();
    current["id"].as_str().unwrap().to_owned()
}

/// Trusts the devices of `sessions` for `user`, in the store.
async fn trust(b: &Backend, user: &str, sessions: &[&str]) {
    use axum_user_sessions::store::{TokenHash, devices};
    let now = time::OffsetDateTime::now_utc();
    let store = b.store.extensions().devices.expect("device records");
    devices::update(store, user, |d| {
        for (i, id) in sessions.iter().enumerate() {
            let (hash, end) = (
                TokenHash::from_bytes([i as u8; 32]),
                now + time::Duration::DAY,
            );
            let t = devices::TrustedDevice::new([i as u8; 16], &hash, now, end, id.parse().ok());
            d.trust(t, now);
        }
        ((), true)
    })
    .await
    .unwrap();
}

/// `GET /` (behind `login_required!`) redirects to the login page.
fn assert_redirected_to_login(res: &Resp) {
    assert_eq!(res.status, 307, "{}", res.body);
    assert_eq!(location(res), "/login?next=%2F");
}

async fn sign_in_through_axum_login_lists_the_device(b: Backend) {
    let app = start(&b).await;
    let mut c = Client::new(&app.app);
    let res = c.get("/").await;
    assert_redirected_to_login(&res);
    assert!(res.set_cookies().is_empty(), "no session for a visitor");

    c.login("alice").await;
    assert!(c.cookie.is_some());
    let res = c.get("/").await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("Hello alice"), "{}", res.body);

    // The user id is in the `user_id` column: "Your devices" lists it.
    let (user, sessions) = devices(&mut c).await;
    assert_eq!(user, "1");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["current"], true);
    let rows = app.admin.list_user("1").await.unwrap();
    assert_eq!(rows.len(), 1);
    // A list reads no data: the session itself has axum-login's.
    let row = app.admin.session(rows[0].id).await.unwrap().unwrap();
    assert_eq!(row.data["axum-login.data"]["user_id"], 1);
}

async fn another_user_signing_in_gets_a_fresh_session(b: Backend) {
    let app = start(&b).await;
    let mut c = app.signed_in("alice", None).await;
    let alice = current_id(&mut c).await;
    c.login("bob").await;
    let (user, sessions) = devices(&mut c).await;
    assert_eq!((user.as_str(), sessions.len()), ("2", 1));
    assert_ne!(
        sessions[0]["id"].as_str().unwrap(),
        alice,
        "bob inherits nothing"
    );
    assert!(app.admin.list_user("1").await.unwrap().is_empty());
    assert!(c.get("/").await.body.contains("Hello bob"));
}

async fn revoking_a_device_makes_login_required_redirect(b: Backend) {
    let app = start(&b).await;
    let mut laptop = app.signed_in("alice", None).await;
    let mut phone = app.signed_in("alice", Some(IPHONE)).await;
    let phone_id = current_id(&mut phone).await;
    assert_eq!(devices(&mut laptop).await.1.len(), 2);

    let res = laptop
        .send_with("DELETE", &format!("/sessions/{phone_id}"), &[SAME])
        .await;
    assert_eq!(res.status, 204, "{}", res.body);

    let res = phone.get("/").await;
    assert_redirected_to_login(&res);
    assert_eq!(
        res.cookie_value(COOKIE).as_deref(),
        Some(""),
        "cookie expired"
    );
    assert_eq!(laptop.get("/").await.status, 200);
    assert_eq!(app.revocation(&phone_id).await, ("user".into(), "1".into()));
}

async fn password_change_signs_out_the_other_devices(b: Backend) {
    let app = start(&b).await;
    let mut laptop = app.signed_in("alice", None).await;
    let mut phone = app.signed_in("alice", Some(IPHONE)).await;
    let laptop_id = current_id(&mut laptop).await;
    let phone_id = current_id(&mut phone).await;
    let token = laptop.cookie.clone();
    // Both devices are trusted to skip the second factor.
    trust(&b, "1", &[&laptop_id, &phone_id]).await;

    let form = (
        "application/x-www-form-urlencoded",
        "password=n3w".to_owned(),
    );
    let res = laptop.send("POST", "/password", Some(form)).await;
    assert_eq!((res.status, location(&res)), (303, "/"), "{}", res.body);
    assert_ne!(
        laptop.cookie, token,
        "a new token for the device that changed it"
    );

    // This device stays signed in, in the same session; the other is out.
    assert_eq!(laptop.get("/").await.status, 200);
    let (_, sessions) = devices(&mut laptop).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"].as_str().unwrap(), laptop_id);
    assert_redirected_to_login(&phone.get("/").await);
    let why = app.revocation(&phone_id).await;
    assert_eq!(why, ("password_change".into(), "1".into()));
    // ... and its trust forgotten; this device's is kept.
    let trusted = app.admin.trusted_devices("1").await.unwrap();
    let ids: Vec<_> = trusted
        .iter()
        .map(|t| t.session_id.unwrap().to_string())
        .collect();
    assert_eq!(ids, std::slice::from_ref(&laptop_id));

    // The old password no longer signs in; the new one does.
    let mut c = Client::new(&app.app);
    let form = |p: &str| {
        (
            "application/x-www-form-urlencoded",
            format!("username=alice&password={p}"),
        )
    };
    assert_eq!(
        c.send("POST", "/login", Some(form("password")))
            .await
            .status,
        401
    );
    assert_eq!(
        c.send("POST", "/login", Some(form("n3w"))).await.status,
        303
    );
    assert_eq!(c.get("/").await.status, 200);
}

async fn password_changed_elsewhere_revokes_on_the_next_request(b: Backend) {
    let app = start(&b).await;
    let mut c = app.signed_in("alice", None).await;
    let id = current_id(&mut c).await;
    // An admin resets the password, outside any request of this user.
    app.users.set_password(1, "reset").unwrap();

    let res = c.get("/").await;
    assert_redirected_to_login(&res);
    assert_eq!(
        res.cookie_value(COOKIE).as_deref(),
        Some(""),
        "cookie expired"
    );
    let why = app.revocation(&id).await;
    assert_eq!(why, ("password_change".into(), "system".into()));
    assert_eq!(c.get("/sessions").await.status, 401);
}

/// After a password reset, the first request of a device still holding its
/// old cookie is the sign-in with the new password: the old session is
/// revoked, a new one signed in.
async fn signing_in_with_a_stale_cookie_after_a_reset(b: Backend) {
    let app = start(&b).await;
    let mut c = app.signed_in("alice", None).await;
    let old = current_id(&mut c).await;
    app.users.set_password(1, "reset").unwrap();

    let form = (
        "application/x-www-form-urlencoded",
        "username=alice&password=reset".into(),
    );
    let res = c.send("POST", "/login", Some(form)).await;
    assert_eq!((res.status, location(&res)), (303, "/"), "{}", res.body);
    assert_eq!(c.get("/").await.status, 200);
    let (user, sessions) = devices(&mut c).await;
    assert_eq!((user.as_str(), sessions.len()), ("1", 1));
    assert_ne!(sessions[0]["id"].as_str().unwrap(), old);
    let why = app.revocation(&old).await;
    assert_eq!(why, ("password_change".into(), "system".into()));
}

async fn logout_ends_the_session_and_its_cookie(b: Backend) {
    let app = start(&b).await;
    let mut c = app.signed_in("alice", None).await;
    let id = current_id(&mut c).await;
    let stale = c.clone();

    let res = c.post("/logout").await;
    assert_eq!((res.status, location(&res)), (303, "/login"));
    assert_eq!(
        res.cookie_value(COOKIE).as_deref(),
        Some(""),
        "cookie expired"
    );
    assert!(c.cookie.is_none());
    // Ended on the server (revoked as "logout", listed as signed out): a
    // copy of the cookie is worthless.
    let row = app.admin.session(id.parse().unwrap()).await.unwrap();
    let row = row.expect("the signed-out session is kept for the list");
    assert!(row.revoked_at.is_some());
    assert_eq!(row.revoke_reason.as_deref(), Some("logout"));
    assert_redirected_to_login(&c.get("/").await);
    assert_redirected_to_login(&stale.clone().get("/").await);
}

async fn permission_required_sees_the_user(b: Backend) {
    let app = start(&b).await;
    let mut alice = app.signed_in("alice", None).await;
    let mut bob = app.signed_in("bob", None).await;
    assert_eq!(alice.get("/admin").await.status, 200);
    assert_eq!(bob.get("/admin").await.status, 403);
    assert_eq!(Client::new(&app.app).get("/admin").await.status, 307);
}

/// Keys written through axum-login's tower-sessions handle land in the
/// session, and anonymous data survives the sign-in, under a new token.
async fn tower_sessions_data_goes_to_the_session(b: Backend) {
    type Auth = AuthSession<example::Backend>;
    let extra = Router::new()
        .route(
            "/tower/{key}",
            get(|auth: Auth, Path(k): Path<String>| async move {
                auth.session
                    .get::<String>(&k)
                    .await
                    .unwrap()
                    .unwrap_or_default()
            })
            .put(|auth: Auth, Path(k): Path<String>, v: String| async move {
                auth.session.insert(&k, v).await.unwrap();
                StatusCode::NO_CONTENT
            })
            .delete(|auth: Auth, Path(k): Path<String>| async move {
                auth.session.remove::<String>(&k).await.unwrap();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/ours/{key}",
            get(|s: Session, Path(k): Path<String>| async move {
                s.get::<String>(&k).unwrap().unwrap_or_default()
            }),
        );
    let app = start_with(&b, extra).await;
    let mut c = Client::new(&app.app);
    let put = |v: &str| Some(("text/plain", v.to_owned()));
    assert_eq!(
        c.send("PUT", "/tower/cart", put("apples")).await.status,
        204
    );
    let anonymous = c.cookie.clone();
    assert!(anonymous.is_some(), "the write made a session");
    assert_eq!(c.get("/ours/cart").await.body, "apples");

    c.login("alice").await;
    assert_ne!(c.cookie, anonymous, "a new token at sign-in");
    assert_eq!(c.get("/ours/cart").await.body, "apples");
    assert_eq!(c.get("/tower/cart").await.body, "apples");
    assert_eq!(c.send("PUT", "/tower/color", put("blue")).await.status, 204);
    assert_eq!(c.get("/ours/color").await.body, "blue");
    assert_eq!(c.send("DELETE", "/tower/cart", None).await.status, 204);
    assert_eq!(c.get("/ours/cart").await.body, "");
    assert_eq!(c.get("/").await.status, 200, "still signed in");
}

async fn reading_costs_no_extra_round_trip(b: Backend) {
    let app = start(&b).await;
    let n = b.round_trips();
    assert_redirected_to_login(&Client::new(&app.app).get("/").await);
    assert_eq!(b.round_trips(), n, "no cookie, no query");

    let mut c = app.signed_in("alice", None).await;
    assert_eq!(c.get("/").await.status, 200);
    let n = b.round_trips();
    assert_eq!(c.get("/").await.status, 200);
    let read = b.round_trips() - n;
    if b.cached() {
        assert!(read <= 1, "{read} round-trips");
    } else {
        assert_eq!(read, 1, "one round-trip to read, as without axum-login");
    }
}
