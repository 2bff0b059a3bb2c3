//! "Your devices", trusted devices (issue 27, item 1): through the demo's
//! contract (`POST /login` with `second_factor=on` and `trust_device=on`,
//! `GET /me`'s `trusted_device`, the list's `trusted`, `POST
//! /sessions/{id}/forget`), on every store, over real HTTP.

use crate::common;

use axum::Json;
use axum::routing::post;
use axum_user_sessions::{ForgetTrust, Session, SessionAdmin, SessionEvent};
use common::{Backend, Client, Resp, TestApp};
use std::sync::{Arc, Mutex};

everywhere!(
    a_trusted_browser_stays_trusted_after_sign_out,
    a_signed_out_trusted_browser_is_listed_and_forgettable,
    an_unlisted_trust_is_counted_and_forgettable,
    trust_needs_a_fresh_second_factor,
    a_replayed_trust_is_refused_and_forgotten,
    no_user_sees_or_forgets_another_users_trust,
    signing_out_everywhere_forgets_trusted_devices,
    signing_out_everywhere_here_expires_this_browsers_trust,
);

mod forgotten;

const TRUST: &str = "__Host-trust";
const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");

/// The demo, with `POST /trust` (trust this browser now) and the events
/// the layer raised.
async fn app(b: &Backend) -> (TestApp, Arc<Mutex<Vec<String>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let layer = b.layer().with_events(move |e: &SessionEvent| {
        seen.lock().unwrap().push(e.kind.name().to_owned());
    });
    let router = common::demo::routes().route(
        "/trust",
        post(|s: Session| async move { Json(s.trust_device().await.unwrap()) }),
    );
    (common::serve(router.layer(layer)).await, events)
}

/// A browser: the test client and its trust cookie.
struct Browser {
    c: Client,
    trust: Option<String>,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            c: Client::new(app),
            trust: None,
        }
    }

    /// A request with the trust cookie; keeps what the response sets.
    async fn send(&mut self, method: &str, path: &str, form: Option<&str>) -> Resp {
        let cookie = self.trust.as_ref().map(|t| format!("{TRUST}={t}"));
        let mut extra: Vec<(&str, &[u8])> = vec![("sec-fetch-site", b"same-origin")];
        if let Some(c) = &cookie {
            extra.push(("cookie", c.as_bytes()));
        }
        let body = form.map(|f| ("application/x-www-form-urlencoded", f.to_owned()));
        let res = self.c.send_raw(method, path, body, &extra).await;
        self.c.absorb(&res);
        if let Some(v) = res.cookie_value(TRUST) {
            self.trust = (!v.is_empty()).then_some(v);
        }
        res
    }

    async fn login(&mut self, user: &str, extra: &str) -> Resp {
        let form = format!("username={user}&password=password{extra}");
        let res = self.send("POST", "/login", Some(&form)).await;
        assert_eq!(res.status, 303, "{}", res.body);
        res
    }

    async fn trusted(&mut self) -> bool {
        let res = self.send("GET", "/me", None).await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()["trusted_device"].as_bool().unwrap()
    }

    /// Alice's laptop, trusted at sign-in, then signed out: the browser,
    /// and the id of the session it had.
    async fn trusted_then_signed_out(app: &TestApp) -> (Self, String) {
        let mut laptop = Self::new(app);
        laptop
            .login("alice", "&second_factor=on&trust_device=on")
            .await;
        let id = laptop.own_item().await["id"].as_str().unwrap().to_owned();
        assert_eq!(laptop.send("POST", "/logout", None).await.status, 303);
        (laptop, id)
    }

    /// The list's item of this browser's session.
    async fn own_item(&mut self) -> serde_json::Value {
        let res = self.send("GET", "/sessions", None).await;
        res.listed(|s| s["current"] == true)
    }
}

async fn a_trusted_browser_stays_trusted_after_sign_out(b: Backend) {
    let (app, events) = app(&b).await;
    let mut laptop = Browser::new(&app);
    let res = laptop
        .login("alice", "&second_factor=on&trust_device=on")
        .await;
    let set = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with(TRUST))
        .expect("a trust cookie");
    for attr in ["HttpOnly", "Secure", "Path=/", "Max-Age="] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    let max_age: i64 = set.split("Max-Age=").nth(1).unwrap()[..7].parse().unwrap();
    assert!((2_591_900..=2_592_000).contains(&max_age), "30 days: {set}");
    assert!(laptop.trusted().await);
    assert_eq!(laptop.own_item().await["trusted"], true);
    assert!(events.lock().unwrap().contains(&"device_trusted".into()));

    // Signed out, the browser keeps its trust; the next sign-in (password
    // only) is trusted, and replaces the validator.
    let before = laptop.trust.clone();
    assert_eq!(laptop.send("POST", "/logout", None).await.status, 303);
    assert!(laptop.trust.is_some(), "sign-out keeps the trust cookie");
    laptop.login("alice", "").await;
    assert_ne!(laptop.trust, before, "each sign-in rotates the validator");
    assert!(laptop.trusted().await);
    assert_eq!(laptop.own_item().await["trusted"], true);

    // Another browser of the same user is not trusted.
    let mut phone = Browser::new(&app);
    phone.login("alice", "").await;
    assert!(!phone.trusted().await);
    assert_eq!(phone.own_item().await["trusted"], false);
}

/// A trusted browser that signed out keeps its trust: its session is in
/// "Recently signed out", marked trusted with "Forget this device", and
/// forgetting it there means its next sign-in is not trusted.
async fn a_signed_out_trusted_browser_is_listed_and_forgettable(b: Backend) {
    let (app, _) = app(&b).await;
    let (mut laptop, laptop_id) = Browser::trusted_then_signed_out(&app).await;
    let mut phone = Browser::new(&app);
    phone.login("alice", "").await;
    let list = phone.send("GET", "/sessions?include=ended", None).await;
    let ended = list.json()["ended"].as_array().unwrap().clone();
    let item = ended
        .iter()
        .find(|e| e["id"] == laptop_id.as_str())
        .unwrap_or_else(|| panic!("the laptop's session is not listed: {}", list.body));
    assert_eq!(item["trusted"], true, "{item}");
    let page = phone
        .c
        .send_raw("GET", "/sessions", None, &[("accept", b"text/html")])
        .await;
    let forget = format!("/sessions/{laptop_id}/forget");
    assert!(page.body.contains(&forget), "no forget form: {}", page.body);

    let res = phone.send("POST", &forget, None).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["forgotten"], 1);
    let list = phone.send("GET", "/sessions?include=ended", None).await;
    let ended = list.json()["ended"].as_array().unwrap().clone();
    assert!(ended.iter().all(|e| e["trusted"] == false), "{}", list.body);
    laptop.login("alice", "").await;
    assert!(!laptop.trusted().await, "forgotten, yet trusted");
}

/// A trust whose session is listed nowhere (collected, or signed out longer
/// ago than the ended sessions shown) is still in its owner's sight: the
/// page counts it and offers "Forget all trusted devices", the JSON list
/// counts it, and forgetting all forgets it.
async fn an_unlisted_trust_is_counted_and_forgettable(b: Backend) {
    let (app, _) = app(&b).await;
    let (mut laptop, laptop_id) = Browser::trusted_then_signed_out(&app).await;
    // Its session collected: listed neither live nor ended.
    assert!(b.store.delete(laptop_id.parse().unwrap()).await.unwrap());

    let mut phone = Browser::new(&app);
    phone.login("alice", "").await;
    let list = phone
        .send("GET", "/sessions?include=ended", None)
        .await
        .json();
    assert_eq!(list["trusted_device_count"], 1, "{list}");
    let ended = list["ended"].as_array().unwrap();
    assert!(
        ended.iter().all(|e| e["id"] != laptop_id.as_str()),
        "{list}"
    );
    let html = [("accept", &b"text/html"[..])];
    let page = phone.c.send_raw("GET", "/sessions", None, &html).await;
    assert!(
        page.body.contains("Trusted browsers not listed here: 1"),
        "{}",
        page.body
    );
    assert!(page.body.contains("/sessions/forget-all"), "{}", page.body);

    let res = phone.send("POST", "/sessions/forget-all", None).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let list = phone.send("GET", "/sessions", None).await.json();
    assert_eq!(list["trusted_device_count"], 0, "{list}");
    let page = phone.c.send_raw("GET", "/sessions", None, &html).await;
    assert!(!page.body.contains("forget-all"), "{}", page.body);
    assert!(!page.body.contains("not listed here"), "{}", page.body);
    laptop.login("alice", "").await;
    assert!(!laptop.trusted().await, "forgotten, yet trusted");
}

async fn trust_needs_a_fresh_second_factor(b: Backend) {
    let (app, _) = app(&b).await;
    // A password alone: asked for, not granted.
    let mut plain = Browser::new(&app);
    plain.login("alice", "&trust_device=on").await;
    assert!(plain.trust.is_none());
    assert!(!plain.trusted().await);

    // After a remember-me restore: not granted either, even though the
    // sign-in it restores passed a second factor.
    let mut restored = Browser::new(&app);
    restored
        .login("alice", "&second_factor=on&remember=on")
        .await;
    restored.c.cookie = None;
    let res = restored.send("POST", "/trust", None).await;
    assert_eq!(res.json(), false, "{}", res.body);
    assert!(restored.trust.is_none());

    // Anonymous: nothing.
    let mut anonymous = Browser::new(&app);
    let res = anonymous.send("POST", "/trust", None).await;
    assert_eq!(res.json(), false);
}

async fn a_replayed_trust_is_refused_and_forgotten(b: Backend) {
    let (app, events) = app(&b).await;
    let mut laptop = Browser::new(&app);
    laptop
        .login("alice", "&second_factor=on&trust_device=on")
        .await;
    let copy = laptop.trust.clone();
    let id = laptop.own_item().await["id"].as_str().unwrap().to_owned();

    // The user forgets the device; a copy of its cookie is refused.
    let res = laptop
        .send("POST", &format!("/sessions/{id}/forget"), None)
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["forgotten"], 1);
    assert!(laptop.trust.is_none(), "forgetting here expires the cookie");
    assert!(!laptop.trusted().await);
    let res = laptop
        .send("POST", &format!("/sessions/{id}/forget"), None)
        .await;
    assert_eq!(res.status, 404, "nothing left to forget: {}", res.body);

    let mut thief = Browser::new(&app);
    thief.trust = copy;
    thief.login("alice", "").await;
    assert!(!thief.trusted().await);
    assert!(thief.trust.is_none(), "the replayed cookie is expired");
    let seen = events.lock().unwrap().clone();
    assert!(seen.contains(&"trusted_device_replayed".into()), "{seen:?}");
    assert!(
        seen.contains(&"trusted_devices_forgotten".into()),
        "{seen:?}"
    );

    // A wrong validator for a known selector: refused, and that trust
    // forgotten.
    let mut laptop = Browser::new(&app);
    laptop
        .login("alice", "&second_factor=on&trust_device=on")
        .await;
    let good = laptop.trust.clone().unwrap();
    let (selector, _) = good.split_once('.').unwrap();
    let mut forger = Browser::new(&app);
    forger.trust = Some(format!("{selector}.{}", "A".repeat(43)));
    forger.login("alice", "").await;
    assert!(!forger.trusted().await);
    assert!(!laptop.trusted().await, "the trust is forgotten");
    let admin = SessionAdmin::new(b.store.clone());
    assert!(admin.trusted_devices("alice").await.unwrap().is_empty());
}

async fn no_user_sees_or_forgets_another_users_trust(b: Backend) {
    let (app, _) = app(&b).await;
    let mut alice = Browser::new(&app);
    alice
        .login("alice", "&second_factor=on&trust_device=on")
        .await;
    let id = alice.own_item().await["id"].as_str().unwrap().to_owned();

    let mut bob = Browser::new(&app);
    bob.login("bob", "").await;
    let res = bob
        .send("POST", &format!("/sessions/{id}/forget"), None)
        .await;
    assert_eq!(res.status, 404, "{}", res.body);
    let res = bob.send("POST", "/sessions/forget-all", None).await;
    assert_eq!(res.json()["forgotten"], 0);
    assert!(alice.trusted().await, "alice's trust is untouched");

    // Bob signing in on alice's browser: her credential is not his.
    let mut shared = Browser::new(&app);
    shared.trust = alice.trust.clone();
    shared.login("bob", "").await;
    assert!(!shared.trusted().await);
    assert_eq!(shared.trust, alice.trust, "nor is it rotated or expired");
    assert!(alice.trusted().await);

    let res = bob.send("GET", "/sessions", None).await;
    let sessions = res.json()["sessions"].as_array().unwrap().clone();
    assert!(
        sessions.iter().all(|s| s["trusted"] == false),
        "{sessions:?}"
    );
}

async fn signing_out_everywhere_forgets_trusted_devices(b: Backend) {
    let (app, _) = app(&b).await;
    let mut laptop = Browser::new(&app);
    laptop
        .login("alice", "&second_factor=on&trust_device=on")
        .await;
    let mut phone = Browser::new(&app);
    phone
        .login("alice", "&second_factor=on&trust_device=on")
        .await;
    let admin = SessionAdmin::new(b.store.clone());
    assert_eq!(admin.trusted_devices("alice").await.unwrap().len(), 2);

    // "Sign out everywhere else" from the phone keeps the phone's trust.
    let res = phone
        .c
        .send_with("POST", "/sessions/revoke-others", &[SAME])
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let left = admin.trusted_devices("alice").await.unwrap();
    assert_eq!(left.len(), 1);
    assert!(phone.trusted().await);
    laptop.login("alice", "").await;
    assert!(!laptop.trusted().await);

    // Forget all: none left.
    let n = admin
        .forget_trusted_devices("alice", ForgetTrust::All)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(!phone.trusted().await);
}

/// "Sign out everywhere" (this browser too) forgets this browser's trust
/// with the others', and expires its trust cookie: kept, it would be
/// presented at the next sign-in as a replay of a forgotten trust.
async fn signing_out_everywhere_here_expires_this_browsers_trust(b: Backend) {
    let (app, events) = app(&b).await;
    let mut laptop = Browser::new(&app);
    laptop
        .login("alice", "&second_factor=on&trust_device=on")
        .await;
    assert!(laptop.trust.is_some());
    let res = laptop.send("POST", "/sessions/revoke-all", None).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["revoked"], 1);
    assert!(
        laptop.trust.is_none(),
        "the forgotten trust's cookie is expired"
    );
    laptop.login("alice", "").await;
    assert!(!laptop.trusted().await);
    let seen = events.lock().unwrap().clone();
    assert!(
        !seen.contains(&"trusted_device_replayed".into()),
        "{seen:?}"
    );
}
