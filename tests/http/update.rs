//! `Session::update`, the atomic read-modify-write of one key, on every store
//! through a real server: concurrent increments (on one app instance and
//! split across two) lose none, a conflict is retried with the fresh value,
//! a request without a session gets one, a pending change is built upon, and
//! a session ended by another request is not brought back.

use crate::common;

use axum::Json;
use axum::routing::post;
use axum_user_sessions::store::{Revocation, RevokeReason, RevokeScope};
use axum_user_sessions::{Session, SessionLayer};
use common::{Backend, Client, serve_demo};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::Notify;
use uuid::Uuid;

everywhere!(
    concurrent_increments_lose_none,
    concurrent_increments_on_two_instances_lose_none,
    a_conflict_is_retried_with_the_fresh_value,
    update_without_a_session_creates_one,
    update_starts_from_a_pending_change,
    a_one_time_value_is_taken_once,
    update_after_the_session_ended_elsewhere_writes_nothing,
);

/// Sends one `POST /counter` per client, all at once; the counters they
/// answered, sorted.
async fn increment_all(clients: Vec<Client>) -> Vec<u64> {
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut c| tokio::spawn(async move { c.post("/counter").await }))
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        let res = t.await.unwrap();
        assert_eq!(res.status, 200, "{}", res.body);
        seen.push(res.json()["counter"].as_u64().unwrap());
    }
    seen.sort_unstable();
    seen
}

/// The session's public id (the client is signed in).
async fn session_id(c: &mut Client) -> Uuid {
    let me = c.get("/me").await.json();
    me["session_id"].as_str().unwrap().parse().unwrap()
}

/// The value of `key` in the store (not through any cache).
async fn stored(b: &Backend, id: Uuid, key: &str) -> Option<Value> {
    let record = b.store.get(id).await.unwrap().expect("no such session");
    record.data.get(key).cloned()
}

async fn concurrent_increments_lose_none(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let seen = increment_all(vec![c.clone(); 100]).await;
    // Each increment saw a value no other saw: none was lost, none doubled.
    assert_eq!(seen, (1..=100).collect::<Vec<_>>());
    assert_eq!(c.get("/kv").await.json()["counter"], 100);
    let id = session_id(&mut c).await;
    assert_eq!(stored(&b, id, "counter").await, Some(json!(100)));
}

async fn concurrent_increments_on_two_instances_lose_none(b: Backend) {
    let one = serve_demo(b.layer()).await;
    let two = serve_demo(SessionLayer::new(b.another_instance().await)).await;
    let mut c = Client::new(&one);
    c.login("alice").await;
    let clients = (0..100)
        .map(|i| {
            let mut c = c.clone();
            if i % 2 == 1 {
                c.base = two.base.clone(); // the load balancer's choice
            }
            c
        })
        .collect();
    let seen = increment_all(clients).await;
    assert_eq!(seen, (1..=100).collect::<Vec<_>>());
    let id = session_id(&mut c).await;
    assert_eq!(stored(&b, id, "counter").await, Some(json!(100)));
}

async fn a_conflict_is_retried_with_the_fresh_value(b: Backend) {
    let (store, counted) = (b.store.clone(), b.counted.clone());
    let race = move |s: Session| {
        let (store, counted) = (store.clone(), counted.clone());
        async move {
            let id = s.id().unwrap();
            assert_eq!(s.get::<u64>("counter").unwrap(), Some(1));
            // Another writer changes the key after this request read it.
            let changed = store
                .update_value(id, "counter", Some(&json!(1)), Some(&json!(41)))
                .await
                .unwrap();
            assert!(changed.is_updated(), "{changed:?}");
            let before = counted.round_trips();
            let mut calls = Vec::new();
            let n = s
                .update("counter", |n: Option<u64>| {
                    calls.push(n);
                    n.unwrap_or(0) + 1
                })
                .await
                .unwrap();
            let trips = counted.round_trips() - before;
            assert_eq!(s.get::<u64>("counter").unwrap(), Some(n), "local view");
            Json(json!({ "counter": n, "calls": calls, "trips": trips }))
        }
    };
    let router = common::demo::routes()
        .route("/race", post(race))
        .layer(b.layer());
    let app = common::serve(router).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    assert_eq!(c.post("/counter").await.json()["counter"], 1);
    let res = c.post("/race").await;
    assert_eq!(res.status, 200, "{}", res.body);
    // The first attempt expected 1 and found 41; the second wrote 42.
    assert_eq!(
        res.json(),
        json!({ "counter": 42, "calls": [1, 41], "trips": 2 })
    );
    assert_eq!(c.get("/kv").await.json()["counter"], 42);
}

async fn update_without_a_session_creates_one(b: Backend) {
    let router = common::demo::routes()
        .route(
            "/first",
            post(|s: Session| async move {
                s.insert("theme", "dark").unwrap();
                let n = s
                    .update("counter", |n: Option<u64>| n.unwrap_or(0) + 1)
                    .await?;
                assert!(s.id().is_some(), "created at once");
                Ok::<_, axum_user_sessions::Error>(Json(json!({ "counter": n })))
            }),
        )
        .route(
            "/nothing",
            post(|s: Session| async move {
                let v = s.update_or_remove("counter", |_: Option<u64>| None).await?;
                assert!(s.id().is_none(), "a session created for nothing");
                Ok::<_, axum_user_sessions::Error>(Json(json!({ "counter": v })))
            }),
        )
        .layer(b.layer());
    let app = common::serve(router).await;

    // Removing from no session: nothing to write, no session, no cookie.
    let mut c = Client::new(&app);
    let before = b.round_trips();
    let res = c.post("/nothing").await;
    assert_eq!(res.json(), json!({ "counter": null }));
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
    assert_eq!(b.round_trips(), before);

    // A value: one round-trip, the session's creation, with its cookie and
    // the request's other pending change.
    let before = b.round_trips();
    let res = c.post("/first").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["counter"], 1);
    assert_eq!(b.round_trips() - before, 1);
    assert!(c.cookie.is_some(), "no cookie: {:?}", res.set_cookies());
    assert_eq!(
        c.get("/kv").await.json(),
        json!({ "counter": 1, "theme": "dark" })
    );
}

async fn update_starts_from_a_pending_change(b: Backend) {
    let router = common::demo::routes()
        .route(
            "/reset-then-add",
            post(|s: Session| async move {
                s.insert("counter", 10).unwrap();
                let n = s.update("counter", |n: Option<u64>| n.unwrap() + 1).await?;
                assert_eq!(s.get::<u64>("counter").unwrap(), Some(11));
                Ok::<_, axum_user_sessions::Error>(Json(json!({ "counter": n })))
            }),
        )
        .route(
            "/remove-then-add",
            post(|s: Session| async move {
                assert!(s.remove("counter"));
                let n = s
                    .update_or_remove("counter", |n: Option<u64>| n.map(|n| n + 1))
                    .await?;
                assert_eq!(s.get::<u64>("counter").unwrap(), None);
                Ok::<_, axum_user_sessions::Error>(Json(json!({ "counter": n })))
            }),
        )
        .layer(b.layer());
    let app = common::serve(router).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    assert_eq!(c.post("/counter").await.json()["counter"], 1);

    let res = c.post("/reset-then-add").await;
    assert_eq!(res.json()["counter"], 11, "{}", res.body);
    assert_eq!(c.get("/kv").await.json()["counter"], 11);
    assert_eq!(c.post("/counter").await.json()["counter"], 12);

    let res = c.post("/remove-then-add").await;
    assert_eq!(res.json()["counter"], Value::Null, "{}", res.body);
    assert_eq!(c.get("/kv").await.json(), json!({}));
    assert_eq!(c.post("/counter").await.json()["counter"], 1);
}

async fn a_one_time_value_is_taken_once(b: Backend) {
    let router = common::demo::routes()
        .route(
            "/take",
            post(|s: Session| async move {
                let mut taken = None;
                s.update_or_remove("nonce", |nonce: Option<String>| {
                    taken = nonce;
                    None
                })
                .await?;
                Ok::<_, axum_user_sessions::Error>(Json(json!({ "taken": taken })))
            }),
        )
        .layer(b.layer());
    let app = common::serve(router).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    assert_eq!(c.put_kv("nonce", "n-1").await.status, 204);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let mut c = c.clone();
            tokio::spawn(async move { c.post("/take").await })
        })
        .collect();
    let mut taken = Vec::new();
    for t in tasks {
        let res = t.await.unwrap();
        assert_eq!(res.status, 200, "{}", res.body);
        if let Some(v) = res.json()["taken"].as_str() {
            taken.push(v.to_owned());
        }
    }
    assert_eq!(taken, ["n-1"], "the nonce was taken more than once");
    assert_eq!(c.get("/kv").await.json(), json!({}));
}

async fn update_after_the_session_ended_elsewhere_writes_nothing(b: Backend) {
    // `/paused-counter` loads the session, then waits for the test before
    // it updates.
    let (loaded, go) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let paused = {
        let (loaded, go) = (loaded.clone(), go.clone());
        move |s: Session| async move {
            loaded.notify_one();
            go.notified().await;
            let n = s
                .update("counter", |n: Option<u64>| n.unwrap_or(0) + 1)
                .await?;
            Ok::<_, axum_user_sessions::Error>(Json(json!({ "counter": n })))
        }
    };
    let router = common::demo::routes()
        .route("/paused-counter", post(paused))
        .layer(b.layer());
    let app = common::serve(router).await;

    // Logged out by another request while this one ran.
    let mut c = Client::new(&app);
    c.login("alice").await;
    assert_eq!(c.post("/counter").await.json()["counter"], 1);
    let id = session_id(&mut c).await;
    let mut slow = c.clone();
    let request = tokio::spawn(async move { slow.post("/paused-counter").await });
    loaded.notified().await;
    assert_eq!(c.post("/logout").await.status, 303);
    go.notify_one();
    let res = request.await.unwrap();
    assert_eq!(res.status, 401, "{}", res.body);
    assert_eq!(res.json(), json!({ "error": "session_ended" }));
    // The logout's response expired the cookie; this one sets none over
    // what the browser holds since (a new sign-in's, perhaps).
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
    // Logout revokes (the row stays for "Recently signed out"): still
    // revoked, and the paused update did not write.
    let row = b.store.get(id).await.unwrap().expect("the signed-out row");
    assert_eq!(
        row.revoke_reason.as_deref(),
        Some("logout"),
        "logout undone"
    );
    assert!(
        row.data.get("counter").is_none_or(|v| *v == json!(1)),
        "{:?}",
        row.data
    );

    // Revoked by another request while this one ran.
    let mut c = Client::new(&app);
    c.login("alice").await;
    assert_eq!(c.post("/counter").await.json()["counter"], 1);
    let id = session_id(&mut c).await;
    let mut slow = c.clone();
    let request = tokio::spawn(async move { slow.post("/paused-counter").await });
    loaded.notified().await;
    let how = Revocation::system(RevokeReason::User, time::OffsetDateTime::now_utc());
    assert_eq!(
        b.store
            .revoke(&RevokeScope::session(id), &how)
            .await
            .unwrap(),
        1
    );
    go.notify_one();
    let res = request.await.unwrap();
    assert_eq!(res.status, 401, "{}", res.body);
    assert_eq!(res.json(), json!({ "error": "session_ended" }));
    // The revocation cleared the data; the late update put nothing back.
    assert_eq!(stored(&b, id, "counter").await, None, "written");
    assert!(b.store.get(id).await.unwrap().unwrap().revoked_at.is_some());
}
