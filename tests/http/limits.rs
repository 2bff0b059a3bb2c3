//! What a session may hold and how many a user may have, on every store:
//! the data limit (`413`), U+0000 refused (`400`, never a `5xx`), the
//! device list read without the data, the session limit per user.

use crate::common;

use axum::Router;
use axum::extract::Path;
use axum::routing::post;
use axum_user_sessions::{
    GcOptions, Session, SessionAdmin, SessionEvent, SessionEventKind, SessionLayer,
};
use common::{Backend, Client, serve, serve_demo};
use std::sync::{Arc, Mutex};

everywhere!(
    data_past_the_limit_is_413_and_keeps_the_data,
    default_limit_is_64_kib,
    data_limit_counts_update_too,
    device_list_is_read_without_data,
    nul_is_refused_with_400_everywhere,
    session_limit_revokes_the_least_recently_active,
    a_sign_in_revokes_a_bounded_number,
);

/// The demo's routes, and `POST /login-as/{user}` signing any user id in.
fn app(layer: SessionLayer) -> Router {
    common::demo::routes()
        .route(
            "/login-as/{user}",
            post(
                |session: Session, Path(user): Path<String>| async move {
                    session.login(user).await
                },
            ),
        )
        .layer(layer)
}

async fn kv(c: &mut Client) -> serde_json::Value {
    let res = c.get("/kv").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()
}

async fn data_past_the_limit_is_413_and_keeps_the_data(b: Backend) {
    let app = serve_demo(b.layer().with_max_data_size(1000)).await;
    let admin = SessionAdmin::new(b.store.clone());

    // A new session whose first write is too large: 413, no session, no cookie.
    let mut fresh = Client::new(&app);
    let res = fresh.put_kv("big", &"x".repeat(2000)).await;
    assert_eq!(res.status, 413, "{}", res.body);
    assert_eq!(res.json()["error"], "session_data_too_large");
    assert_eq!(res.json()["limit"], 1000);
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
    assert_eq!(
        admin
            .stats(&GcOptions::default())
            .await
            .unwrap()
            .active_sessions,
        0
    );

    let mut c = Client::new(&app);
    assert_eq!(c.put_kv("a", &"a".repeat(400)).await.status, 204);
    // {"a":"aaa…"} is 408 bytes; adding 600 more would pass 1000.
    let res = c.put_kv("b", &"b".repeat(600)).await;
    assert_eq!(res.status, 413, "{}", res.body);
    assert_eq!(res.json()["limit"], 1000);
    let data = kv(&mut c).await;
    assert_eq!(data, serde_json::json!({ "a": "a".repeat(400) }));
    // The session goes on: a write within the limit works.
    assert_eq!(c.put_kv("b", &"b".repeat(500)).await.status, 204);
    let data = kv(&mut c).await;
    assert_eq!(data["b"], "b".repeat(500));
    // Exactly at the limit is allowed: {"a":"…400…","b":"…500…"} is 915
    // bytes, and ,"c":"…78…" adds 85.
    assert_eq!(c.put_kv("c", &"c".repeat(78)).await.status, 204);
    assert_eq!(c.put_kv("d", "").await.status, 413);
    // Shrinking always works.
    assert_eq!(c.put_kv("a", "").await.status, 204);
    assert_eq!(kv(&mut c).await["a"], "");
    assert_eq!(
        admin
            .stats(&GcOptions::default())
            .await
            .unwrap()
            .active_sessions,
        1
    );
}

async fn default_limit_is_64_kib(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    assert_eq!(c.put_kv("a", &"a".repeat(60 * 1024)).await.status, 204);
    let res = c.put_kv("b", &"b".repeat(5 * 1024)).await;
    assert_eq!(res.status, 413, "{}", res.body);
    assert_eq!(res.json()["limit"], 64 * 1024);
    assert_eq!(kv(&mut c).await.as_object().unwrap().len(), 1);
}

async fn data_limit_counts_update_too(b: Backend) {
    // `POST /counter` is `Session::update`: written at once, checked too.
    let app = serve_demo(b.layer().with_max_data_size(100)).await;
    let mut c = Client::new(&app);
    assert_eq!(c.post("/counter").await.json()["counter"], 1);
    // {"counter":1,"pad":"…78…"} is 22 + 78 = 100 bytes: at the limit.
    assert_eq!(c.put_kv("pad", &"p".repeat(78)).await.status, 204);
    for n in 2..=9 {
        // Same size: allowed.
        assert_eq!(c.post("/counter").await.json()["counter"], n);
    }
    // 9 -> 10 would make 101 bytes.
    let res = c.post("/counter").await;
    assert_eq!(res.status, 413, "{}", res.body);
    assert_eq!(res.json()["limit"], 100);
    assert_eq!(kv(&mut c).await["counter"], 9);
    assert_eq!(c.put_kv("pad", "").await.status, 204);
    assert_eq!(c.post("/counter").await.json()["counter"], 10);
}

async fn device_list_is_read_without_data(b: Backend) {
    let app = serve_demo(b.layer()).await;
    let mut phone = Client::new(&app);
    let mut laptop = Client::new(&app);
    for c in [&mut phone, &mut laptop] {
        c.login("alice").await;
        assert_eq!(c.put_kv("note", &"n".repeat(10_000)).await.status, 204);
    }
    let res = laptop.get("/sessions").await;
    assert_eq!(res.status, 200, "{}", res.body);
    let n = res.json()["sessions"].as_array().map(Vec::len);
    assert_eq!(n, Some(2), "{}", res.body);
    let list = SessionAdmin::new(b.store.clone())
        .list_user("alice")
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        list.iter().all(|r| r.data.is_empty()),
        "list_user read the data"
    );
    // The data is still there for the session itself.
    assert_eq!(kv(&mut phone).await["note"], "n".repeat(10_000));
}

async fn nul_is_refused_with_400_everywhere(b: Backend) {
    let app = serve(app(b.layer())).await;
    let mut c = Client::new(&app);
    assert_eq!(c.put_kv("ok", "fine").await.status, 204);
    // In a value.
    let res = c.put_kv("v", "a\u{0}b").await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.json()["error"], "nul_character");
    // In a key (`%00` decodes to U+0000).
    let res = c.put_kv("k%00ey", "x").await;
    assert_eq!(res.status, 400, "{}", res.body);
    // In a user id.
    let res = c.post("/login-as/al%00ice").await;
    assert_eq!(res.status, 400, "{}", res.body);
    // Nothing was written, and the session goes on.
    assert_eq!(kv(&mut c).await, serde_json::json!({ "ok": "fine" }));
    assert_eq!(c.post("/login-as/alice").await.status, 200);
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    // The admin calls by user id answer "none", not an error.
    let admin = SessionAdmin::new(b.store.clone());
    assert!(admin.list_user("al\u{0}ice").await.unwrap().is_empty());
    let by = axum_user_sessions::RevokedBy::operator("test");
    let reason = axum_user_sessions::RevokeReason::Admin;
    let n = admin
        .revoke_user_sessions("al\u{0}ice", None, by, reason)
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    // An operator's revocation text holding U+0000 is refused, not a 5xx
    // from the database, and revokes nothing.
    use axum_user_sessions::{Error, RevokeReason, RevokedBy};
    let id: uuid::Uuid = c.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let nul_reason = admin
        .revoke(
            id,
            RevokedBy::operator("cli"),
            RevokeReason::other("lost\u{0}phone"),
        )
        .await;
    assert!(
        matches!(nul_reason, Err(Error::NulCharacter)),
        "{nul_reason:?}"
    );
    let nul_by = admin
        .revoke_user_sessions(
            "alice",
            None,
            RevokedBy::operator("su\u{0}pport"),
            RevokeReason::Admin,
        )
        .await;
    assert!(matches!(nul_by, Err(Error::NulCharacter)), "{nul_by:?}");
    let everyone = admin
        .revoke_every_session(RevokedBy::operator("cli"), RevokeReason::other("\u{0}"))
        .await;
    assert!(matches!(everyone, Err(Error::NulCharacter)), "{everyone:?}");
    assert_eq!(c.me().await.as_deref(), Some("alice"));
}

async fn session_limit_revokes_the_least_recently_active(b: Backend) {
    let events: Arc<Mutex<Vec<SessionEvent>>> = Arc::default();
    let sink = events.clone();
    let layer = b
        .layer()
        .with_max_sessions_per_user(2)
        .with_events(move |e: &SessionEvent| sink.lock().unwrap().push(e.clone()));
    let app = serve_demo(layer).await;
    let (mut first, mut second, mut third) =
        (Client::new(&app), Client::new(&app), Client::new(&app));
    first.login("alice").await;
    let first_id = first.get("/me").await.json()["session_id"].clone();
    second.login("alice").await;
    let mut bob = Client::new(&app);
    bob.login("bob").await;
    assert_eq!(first.me().await.as_deref(), Some("alice"), "2 of 2: kept");
    third.login("alice").await;
    assert_eq!(first.me().await, None, "the least recently active went");
    assert_eq!(second.me().await.as_deref(), Some("alice"));
    assert_eq!(third.me().await.as_deref(), Some("alice"));
    assert_eq!(
        bob.me().await.as_deref(),
        Some("bob"),
        "another user's stay"
    );
    // Signing in again on a device that has a session revokes nothing.
    third.login("alice").await;
    assert_eq!(second.me().await.as_deref(), Some("alice"));

    let admin = SessionAdmin::new(b.store.clone());
    let id = first_id.as_str().unwrap().parse().unwrap();
    let gone = admin.session(id).await.unwrap().expect("the row is kept");
    assert_eq!(gone.revoke_reason.as_deref(), Some("session_limit"));
    assert_eq!(gone.revoked_by.as_deref(), Some("system"));
    assert_eq!(admin.list_user("alice").await.unwrap().len(), 2);
    let revoked: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            SessionEventKind::Revoked { reason, by, count } => {
                Some((e.session_id, reason.clone(), by.clone(), *count))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        revoked,
        vec![(Some(id), "session_limit".to_owned(), "system".to_owned(), 1)]
    );
}

/// A user far over the limit (set after the sessions were made) comes
/// under it over a few sign-ins: each reads a bounded number of sessions
/// (the most recently active: the limit and 64 more) and revokes those of
/// them past the limit.
async fn a_sign_in_revokes_a_bounded_number(b: Backend) {
    let now = time::OffsetDateTime::now_utc();
    let mut seeded = Vec::new();
    for i in 1..=100 {
        seeded.push(
            b.seed_session("alice", now - time::Duration::minutes(i))
                .await,
        );
    }
    let app = serve_demo(b.layer().with_max_sessions_per_user(3)).await;
    let live = || async {
        let now = time::OffsetDateTime::now_utc();
        let list = b.store.list_user("alice", now).await.unwrap();
        list.iter().map(|r| r.id).collect::<Vec<_>>()
    };
    let mut c = Client::new(&app);
    c.login("alice").await;
    let kept = live().await;
    assert_eq!(kept.len(), 101 - 64, "one sign-in revoked 64, no more");
    assert!(kept.contains(&seeded[0]) && kept.contains(&seeded[1]));
    assert!(
        seeded[2..66].iter().all(|id| !kept.contains(id)),
        "the 64 just past the limit went"
    );
    assert!(seeded[66..].iter().all(|id| kept.contains(id)));
    Client::new(&app).login("alice").await;
    assert_eq!(live().await.len(), 3, "the next sign-in finished the job");
    assert_eq!(c.me().await.as_deref(), Some("alice"));
}
