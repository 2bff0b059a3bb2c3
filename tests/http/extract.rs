//! `Option<Session>`: `None` for a request without a live session, `Some` for
//! one with; never `None` for an outage. Every store.

use crate::common;

use axum::routing::get;
use axum_user_sessions::{Session, SessionLayer};
use common::{Backend, Client, TestApp};

conformance!(
    optional_session_is_none_without_a_session,
    optional_session_is_some_with_one,
    optional_session_expires_a_dead_cookie,
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
        .layer(layer);
    common::serve(router).await
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
