//! `Option<Session>`: `None` for a request without a live session, `Some` for
//! one with; never `None` for an outage. A session reached through the
//! request's extensions (`Extension<Session>`) writes what its handler
//! changed. Every store.

use crate::common;

use axum::Extension;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum_user_sessions::{Session, SessionLayer};
use common::{Backend, Client, TestApp};

conformance!(
    optional_session_is_none_without_a_session,
    optional_session_is_some_with_one,
    optional_session_expires_a_dead_cookie,
    a_change_through_the_extension_is_written,
);

/// The demo's routes plus `/maybe`, which reports what `Option<Session>` saw.
async fn serve(layer: SessionLayer) -> TestApp {
    let router = common::demo::routes()
        .route(
            "/maybe",
            get(|s: Option<Session>| async move {
                match s {
                    None => "none".to_owned(),
                    Some(s) => format!("some:{}", s.user_id().unwrap_or_default()),
                }
            }),
        )
        .route("/ext/{k}", put(ext_insert).delete(ext_remove))
        .route("/ext-big/{k}", put(ext_insert_big))
        .layer(layer);
    common::serve(router).await
}

/// Sets `k` on the session the request's extensions hold.
async fn ext_insert(Extension(s): Extension<Session>, Path(k): Path<String>) -> StatusCode {
    s.insert(&k, "via extension").unwrap();
    StatusCode::NO_CONTENT
}

/// Sets `k` to 40 KB, on the session the request's extensions hold.
async fn ext_insert_big(Extension(s): Extension<Session>, Path(k): Path<String>) -> StatusCode {
    s.insert(&k, "x".repeat(40_000)).unwrap();
    StatusCode::NO_CONTENT
}

/// Removes `k` from the session the request's extensions hold.
async fn ext_remove(Extension(s): Extension<Session>, Path(k): Path<String>) -> StatusCode {
    s.remove(&k);
    StatusCode::NO_CONTENT
}

async fn optional_session_is_none_without_a_session(b: Backend) {
    let app = serve(b.layer()).await;
    let mut c = Client::new(&app);
    let before = b.round_trips();
    let res = c.get("/maybe").await;
    assert_eq!((res.status, res.body.as_str()), (200, "none"));
    assert!(res.set_cookies().is_empty(), "no session was created");
    assert_eq!(b.round_trips(), before, "no cookie, no query");
}

async fn optional_session_is_some_with_one(b: Backend) {
    let app = serve(b.layer()).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let res = c.get("/maybe").await;
    assert_eq!((res.status, res.body.as_str()), (200, "some:alice"));
    // An anonymous session with data is a session too.
    let mut anon = Client::new(&app);
    assert_eq!(anon.put_kv("k", "v").await.status, 204);
    let res = anon.get("/maybe").await;
    assert_eq!((res.status, res.body.as_str()), (200, "some:"));
}

async fn optional_session_expires_a_dead_cookie(b: Backend) {
    let app = serve(b.layer()).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let stale = c.clone();
    assert_eq!(c.post("/logout").await.status, 303);
    // Replay the signed-out cookie: the handler sees `None`, and the response
    // expires the cookie as it would for `Session`.
    let res = stale.send_raw("GET", "/maybe", None, &[]).await;
    assert_eq!((res.status, res.body.as_str()), (200, "none"));
    assert_eq!(res.cookie_value("__Host-session").as_deref(), Some(""));
}

/// A handler that takes the session from the request's extensions, not
/// with the extractor, changes data on a session nobody loaded: the
/// change is written all the same (a removal too, and within the data
/// limit), a signed-in user's into their session, a visitor's into a new
/// one with its cookie.
async fn a_change_through_the_extension_is_written(b: Backend) {
    let app = serve(b.layer()).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    assert_eq!(c.send_with("PUT", "/ext/k", &[]).await.status, 204);
    assert_eq!(c.get("/kv").await.json()["k"], "via extension");
    assert_eq!(c.me().await.as_deref(), Some("alice"));
    // A removal too, and the data limit, counted once the session is
    // loaded (64 KiB: the second 40 KB value is refused, nothing written).
    assert_eq!(c.send_with("DELETE", "/ext/k", &[]).await.status, 204);
    assert_eq!(c.get("/kv").await.json().get("k"), None);
    assert_eq!(c.send_with("PUT", "/ext-big/a", &[]).await.status, 204);
    assert_eq!(c.send_with("PUT", "/ext-big/b", &[]).await.status, 413);
    let kv = c.get("/kv").await.json();
    assert!(kv.get("a").is_some() && kv.get("b").is_none(), "{kv}");

    let mut visitor = Client::new(&app);
    let res = visitor.send_with("PUT", "/ext/j", &[]).await;
    assert_eq!(res.status, 204);
    assert!(visitor.cookie.is_some(), "{:?}", res.set_cookies());
    assert_eq!(visitor.get("/kv").await.json()["j"], "via extension");
}
