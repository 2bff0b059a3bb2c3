//! Session data on every store: concurrent writes of different keys, writes
//! racing a logout or a sign-in, and typed values.

use crate::common;

use common::{Backend, Client, serve_demo};

everywhere!(
    concurrent_writes_to_different_keys_both_stay,
    logout_racing_writes_is_never_undone,
    a_write_that_lands_after_a_sign_in_moved_the_session_is_refused,
    values_round_trip_with_types,
);

async fn concurrent_writes_to_different_keys_both_stay(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    c.post("/counter").await;
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let mut c = c.clone();
            tokio::spawn(async move { c.put_kv(&format!("k{i}"), &format!("v{i}")).await.status })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    let all = c.get("/kv").await.json();
    for i in 0..24 {
        assert_eq!(all[format!("k{i}")], format!("v{i}"), "k{i} lost: {all}");
    }
    assert_eq!(all["counter"], 1);
}

async fn logout_racing_writes_is_never_undone(b: Backend) {
    let app = serve_demo(b.layer()).await;
    for round in 0..3 {
        let mut c = Client::new(&app);
        c.login("alice").await;
        let token = c.cookie.clone().unwrap();
        let writers: Vec<_> = (0..16)
            .map(|i| {
                let mut c = c.clone();
                tokio::spawn(async move { c.put_kv(&format!("k{i}"), "v").await.status })
            })
            .collect();
        let mut l = c.clone();
        let logout = tokio::spawn(async move { l.post("/logout").await.status });
        assert_eq!(logout.await.unwrap(), 303);
        for w in writers {
            let status = w.await.unwrap();
            assert!(
                status == 204 || status == 401,
                "round {round}: write answered {status}"
            );
        }
        let mut replay = Client::new(&app);
        replay.cookie = Some(token);
        assert_eq!(replay.me().await, None, "round {round}: logout undone");
        let now = time::OffsetDateTime::now_utc();
        assert!(b.store.list_user("alice", now).await.unwrap().is_empty());
    }
}

/// A request that read the anonymous session before a sign-in on the same
/// browser moved it to a new id, and writes after: its write is refused
/// (401) and it sets no cookie over the sign-in's. It used to land on the
/// old id, which no cookie names, and answer 200: a value acknowledged and
/// lost.
async fn a_write_that_lands_after_a_sign_in_moved_the_session_is_refused(b: Backend) {
    use axum::routing::post;
    use std::sync::Arc;
    use tokio::sync::Notify;
    let (loaded, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (l, r) = (loaded.clone(), release.clone());
    let slow = post(move |s: axum_user_sessions::Session| async move {
        let _ = s.id();
        l.notify_one();
        r.notified().await;
        s.insert("late", 1).unwrap();
        "saved"
    });
    let router = common::demo::routes().route("/slow", slow);
    let app = common::serve(router.layer(b.layer())).await;
    let mut browser = Client::new(&app);
    browser.post("/counter").await;
    let mut late = browser.clone();
    let in_flight = tokio::spawn(async move { late.post("/slow").await });
    tokio::time::timeout(std::time::Duration::from_secs(30), loaded.notified())
        .await
        .expect("the slow request never loaded its session");
    browser.login("alice").await;
    release.notify_one();
    let res = in_flight.await.unwrap();
    assert_eq!(
        res.status, 401,
        "the late write was acknowledged: {}",
        res.body
    );
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
    assert_eq!(browser.me().await.as_deref(), Some("alice"));
    let data = browser.get("/kv").await.json();
    assert_eq!(data["counter"], 1, "{data}");
    assert!(data.get("late").is_none(), "{data}");
}

async fn values_round_trip_with_types(b: Backend) {
    use axum::routing::post;
    use axum_user_sessions::Session;
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Cart {
        items: Vec<(String, u32)>,
        coupon: Option<String>,
    }
    let router = axum::Router::new()
        .route(
            "/put",
            post(|s: Session| async move {
                let cart = Cart {
                    items: vec![("apple".into(), 3)],
                    coupon: None,
                };
                s.insert("cart", &cart).unwrap();
                s.insert("flag", true).unwrap();
                s.insert("nothing", ()).unwrap();
                s.insert("nested", serde_json::json!({"a": {"b": [1, 2]}}))
                    .unwrap();
                "ok"
            }),
        )
        .route(
            "/check",
            post(|s: Session| async move {
                let cart: Cart = s.get("cart").unwrap().unwrap();
                assert_eq!(cart.items, vec![("apple".to_string(), 3)]);
                assert_eq!(s.get::<bool>("flag").unwrap(), Some(true));
                assert_eq!(s.get_value("nothing"), Some(serde_json::Value::Null));
                assert_eq!(s.get_value("nested").unwrap()["a"]["b"][1], 2);
                assert!(s.get::<u32>("cart").is_err(), "wrong type must be an error");
                assert!(s.remove("flag"));
                assert!(!s.remove("absent"));
                s.insert("nested", serde_json::json!({"replaced": true}))
                    .unwrap();
                "ok"
            }),
        )
        .route(
            "/after",
            post(|s: Session| async move {
                assert_eq!(s.get::<bool>("flag").unwrap(), None);
                assert_eq!(
                    s.get_value("nested").unwrap(),
                    serde_json::json!({"replaced": true})
                );
                "ok"
            }),
        )
        .layer(b.layer());
    let app = common::serve(router).await;
    let mut c = Client::new(&app);
    for path in ["/put", "/check", "/after"] {
        let res = c.post(path).await;
        assert_eq!(res.status, 200, "{path}: {}", res.body);
    }
}
