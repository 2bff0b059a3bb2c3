//! The core scenarios, run on every store (Postgres, SQLite, memory) through a
//! real axum server over real HTTP.

use crate::common;

use axum_user_sessions::SessionLayer;
use common::{Backend, Client, serve_demo};

everywhere!(
    cookie_is_hardened,
    anonymous_untouched_costs_nothing,
    round_trip_budget,
    login_issues_new_token_and_kills_old,
    login_as_other_user_starts_fresh,
    logout_is_server_side,
    unknown_token_is_not_adopted,
    hostile_cookies_are_anonymous_and_free,
);

async fn cookie_is_hardened(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    let res = c.post("/counter").await;
    assert_eq!(res.status, 200);
    let set = res.set_cookies();
    assert_eq!(set.len(), 1, "{set:?}");
    let cookie = &set[0];
    assert!(cookie.starts_with("__Host-session="), "{cookie}");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(
            cookie.split("; ").any(|a| a == attr),
            "{attr} missing: {cookie}"
        );
    }
    for attr in ["Domain", "Max-Age", "Expires"] {
        assert!(!cookie.contains(attr), "{attr} present: {cookie}");
    }
    assert_eq!(res.headers["cache-control"], "no-store");
    let token = c.cookie.clone().unwrap();
    let (id, secret) = token.split_once('.').expect("<session id>.<secret>");
    assert_eq!(
        (id.len(), secret.len()),
        (22, 43),
        "a 128-bit id, a 256-bit secret"
    );
    assert!(
        (id.bytes().chain(secret.bytes()))
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    // Reading does not set the cookie again.
    let res = c.post("/counter").await;
    assert_eq!(res.json()["counter"], 2);
    assert!(res.set_cookies().is_empty());
    assert!(res.headers.get("cache-control").is_none());

    // Configured: Strict, custom name, plain-http opt-out drops the prefix.
    let layer = b
        .layer()
        .with_cookie_name("sid")
        .with_same_site(axum_user_sessions::SameSite::Strict)
        .with_secure(false);
    let app = serve_demo(layer).await;
    let mut c = Client::with_cookie_name(&app, "sid");
    let res = c.post("/counter").await;
    let cookie = &res.set_cookies()[0];
    assert!(cookie.starts_with("sid="), "{cookie}");
    assert!(
        cookie.contains("SameSite=Strict") && !cookie.contains("Secure"),
        "{cookie}"
    );
}

async fn anonymous_untouched_costs_nothing(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    let before = b.round_trips();
    let res = c.get("/health").await; // never extracts the session
    assert_eq!(res.status, 200);
    let res2 = c.get("/").await; // extracts it, but there is no cookie
    assert_eq!(res2.status, 200);
    assert!(res2.body.contains("Sign in"));
    assert_eq!(c.me().await, None);
    assert_eq!(
        b.round_trips(),
        before,
        "anonymous requests reached the store"
    );
    for r in [&res, &res2] {
        assert!(r.set_cookies().is_empty(), "{:?}", r.set_cookies());
    }
    assert!(c.cookie.is_none());
}

async fn round_trip_budget(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    let measure = |before: u64| b.round_trips() - before;

    let n = b.round_trips();
    c.post("/counter").await; // new session
    let new = measure(n);

    let n = b.round_trips();
    assert_eq!(c.get("/kv").await.json()["counter"], 1); // read
    let read = measure(n);

    let n = b.round_trips();
    assert_eq!(c.post("/counter").await.json()["counter"], 2); // write
    let write = measure(n);

    let n = b.round_trips();
    assert_eq!(c.get("/health").await.status, 200); // has a cookie, never extracts
    let untouched = measure(n);

    let n = b.round_trips();
    let res = c
        .send_raw(
            "GET",
            "/kv",
            None,
            &[("cookie", b"__Host-session=not-a-token")],
        )
        .await;
    assert_eq!(res.status, 200);
    let malformed = measure(n);

    println!(
        "{:?}: new={new} read={read} write={write} untouched={untouched} malformed={malformed}",
        b.kind
    );
    if b.cached() {
        // The read after the creation fills the cache; the write's load is
        // then served from memory, and the write updates the copy (the
        // store's new version follows the copy's): in steady state a write
        // is its one statement and a read costs nothing. `POST /counter` is
        // a `Session::update` (a compare-and-set of one key), `PUT /kv` an
        // `insert` (a key-level patch after the handler): both keep the copy.
        assert_eq!((new, read, write, untouched, malformed), (1, 1, 1, 0, 0));
        for n in 3..=6 {
            let before = b.round_trips();
            assert_eq!(c.post("/counter").await.json()["counter"], n); // update
            assert_eq!(measure(before), 1, "an update of a cached session");
            let before = b.round_trips();
            assert_eq!(c.get("/kv").await.json()["counter"], n); // read
            assert_eq!(measure(before), 0, "a read after a cached update");
            let value = n.to_string();
            let before = b.round_trips();
            assert_eq!(c.put_kv("visits", &value).await.status, 204); // write
            assert_eq!(measure(before), 1, "a write to a cached session");
            let before = b.round_trips();
            assert_eq!(c.get("/kv").await.json()["visits"], value); // read
            assert_eq!(measure(before), 0, "a read after a cached write");
        }
    } else {
        assert_eq!((new, read, write, untouched, malformed), (1, 1, 2, 0, 0));
    }
}

async fn login_issues_new_token_and_kills_old(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    c.post("/counter").await;
    let anon = c.cookie.clone().unwrap();
    let anon_id = {
        let mut probe = c.clone();
        probe.get("/kv").await;
        probe.cookie
    };
    assert_eq!(anon_id.as_deref(), Some(anon.as_str()));

    let res = c.login("alice").await;
    assert_eq!(res.headers["location"], "/");
    let authed = c.cookie.clone().unwrap();
    assert_ne!(anon, authed, "login must issue a new token");
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    // The session's data survived sign-in.
    assert_eq!(c.post("/counter").await.json()["counter"], 2);

    // The pre-login token is dead at once: no grace.
    let mut old = c.clone();
    old.cookie = Some(anon);
    assert_eq!(old.me().await, None);
    let res = old.get("/kv").await;
    assert_eq!(res.json(), serde_json::json!({}));
    // A request that left before the sign-in must not expire the new cookie
    // when its response arrives after the sign-in's.
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());

    // user ids of every common type
    let user = b
        .store
        .list_user("alice", time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(user.len(), 1);
    assert!(user[0].authenticated_at.is_some());
}

async fn login_as_other_user_starts_fresh(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    c.put_kv("secret", "alice's").await;
    let alice_sid = c.get("/me").await.json()["session_id"].clone();
    c.login("bob").await;
    let me = c.get("/me").await.json();
    assert_eq!(me["user_id"], "bob");
    assert_ne!(me["session_id"], alice_sid);
    assert_eq!(
        c.get("/kv").await.json(),
        serde_json::json!({}),
        "bob sees alice's data"
    );
}

async fn logout_is_server_side(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let token = c.cookie.clone().unwrap();
    let res = c.post("/logout").await;
    assert_eq!(res.status, 303);
    let set = res.set_cookies();
    assert!(
        set.iter()
            .any(|s| s.starts_with("__Host-session=;") && s.contains("Max-Age=0")),
        "{set:?}"
    );
    assert!(c.cookie.is_none());
    // A copy of the cookie kept by an attacker is worthless.
    let mut replay = c.clone();
    replay.cookie = Some(token);
    assert_eq!(replay.me().await, None);
    let now = time::OffsetDateTime::now_utc();
    assert!(b.store.list_user("alice", now).await.unwrap().is_empty());
}

async fn unknown_token_is_not_adopted(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    let forged = "A".repeat(42) + "A"; // well-formed, unknown
    c.cookie = Some(forged.clone());
    assert_eq!(c.me().await, None);
    c.cookie = Some(forged.clone());
    let res = c.post("/counter").await;
    assert_eq!(res.json()["counter"], 1);
    let issued = c.cookie.clone().unwrap();
    assert_ne!(
        issued, forged,
        "strict mode: an unknown token is never adopted"
    );
    // The forged token still names nothing.
    c.cookie = Some(forged);
    let res = c.get("/kv").await;
    assert_eq!(res.json(), serde_json::json!({}));
    // ... and the response tells the browser to drop it.
    assert_eq!(res.cookie_value("__Host-session").as_deref(), Some(""));
}

async fn hostile_cookies_are_anonymous_and_free(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let c = Client::new(&app);
    let valid_a = "B".repeat(43);
    let hostile: Vec<Vec<u8>> = vec![
        b"__Host-session=".to_vec(),
        b"__Host-session=garbage".to_vec(),
        b"__Host-session=\"quoted but short\"".to_vec(),
        format!("__Host-session={}", "A".repeat(42)).into_bytes(),
        format!("__Host-session={}", "!".repeat(43)).into_bytes(),
        format!("__Host-session={}", "A".repeat(7000)).into_bytes(),
        format!(
            "__Host-session={valid_a}; __Host-session={}",
            "C".repeat(43)
        )
        .into_bytes(),
        b"__Host-session=\xff\xfe\xfd".to_vec(),
        b"\xff\xff=\xff; __Host-session=;;;==;".to_vec(),
        (0..300)
            .map(|i| format!("c{i}=v{i}; "))
            .collect::<String>()
            .into_bytes(),
    ];
    let before = b.round_trips();
    for cookie in &hostile {
        let res = c.send_raw("GET", "/me", None, &[("cookie", cookie)]).await;
        assert_eq!(
            res.status,
            401,
            "cookie {:?}",
            String::from_utf8_lossy(cookie)
        );
        let res = c.send_raw("GET", "/kv", None, &[("cookie", cookie)]).await;
        assert_eq!(res.status, 200);
    }
    assert_eq!(
        b.round_trips(),
        before,
        "malformed cookies must cost no query"
    );
    // An oversized header gets a clean client error from the server, not a 5xx.
    let huge = format!("__Host-session={}", "A".repeat(200_000));
    let res = c
        .send_raw("GET", "/me", None, &[("cookie", huge.as_bytes())])
        .await;
    assert!((400..500).contains(&res.status), "{}", res.status);
}

#[allow(dead_code)]
fn _layer_is_clone(l: SessionLayer) -> (SessionLayer, SessionLayer) {
    (l.clone(), l)
}
