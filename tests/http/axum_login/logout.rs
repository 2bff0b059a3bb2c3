//! axum-login's `logout` (tower-sessions' `flush`) followed by a write to
//! the session in the same request: the sign-out still happens, and the
//! write lands in a new anonymous session, as tower-sessions would have it.

use super::{App, COOKIE, assert_redirected_to_login, current_id, example, location, start_with};
use crate::common::{Backend, Client};
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_login::AuthSession;
use axum_user_sessions::Session;

conformance!(
    logout_then_a_flash_signs_out,
    logout_in_a_failed_request_still_signs_out,
);

type Auth = AuthSession<example::Backend>;

/// The example app with `POST /logout-flash` (sign out, then a flash
/// through the tower-sessions handle), `POST /logout-fail` (sign out, then
/// `500`), and `GET /ours/{key}` (a key as our `Session` has it).
async fn start(b: &Backend) -> App {
    let extra = Router::new()
        .route(
            "/logout-flash",
            post(|mut auth: Auth| async move {
                auth.logout().await.unwrap();
                auth.session.insert("flash", "signed out").await.unwrap();
                Redirect::to("/login")
            }),
        )
        .route(
            "/logout-fail",
            post(|mut auth: Auth| async move {
                auth.logout().await.unwrap();
                auth.session.insert("flash", "signed out").await.unwrap();
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }),
        )
        .route(
            "/ours/{key}",
            get(|s: Session, Path(k): Path<String>| async move {
                let user = s.user_id().unwrap_or_default();
                let value = s.get::<String>(&k).unwrap().unwrap_or_default();
                format!("{user}|{value}")
            }),
        );
    start_with(b, extra).await
}

/// The old session is revoked as "logout" and its cookie worthless.
async fn assert_signed_out(app: &App, id: &str, stale: &Client) {
    assert_eq!(
        app.revocation(id).await,
        ("logout".into(), "1".into()),
        "revoked as a sign-out"
    );
    assert_redirected_to_login(&stale.clone().get("/").await);
    assert!(app.admin.list_user("1").await.unwrap().is_empty());
}

async fn logout_then_a_flash_signs_out(b: Backend) {
    let app = start(&b).await;
    let mut c = app.signed_in("alice", None).await;
    let id = current_id(&mut c).await;
    let stale = c.clone();

    let res = c.post("/logout-flash").await;
    assert_eq!(
        (res.status, location(&res)),
        (303, "/login"),
        "{}",
        res.body
    );
    assert!(c.cookie.is_some(), "the flash made a new session");
    assert_ne!(c.cookie, stale.cookie, "a new cookie for it");
    assert_signed_out(&app, &id, &stale).await;
    // The flash is in the new session, which is anonymous.
    assert_eq!(c.get("/ours/flash").await.body, "|signed out");
    assert_redirected_to_login(&c.get("/").await);
}

/// The docs promise a sign-out even when the handler answers `5xx`; its
/// data changes (the flash) are dropped.
async fn logout_in_a_failed_request_still_signs_out(b: Backend) {
    let app = start(&b).await;
    let mut c = app.signed_in("alice", None).await;
    let id = current_id(&mut c).await;
    let stale = c.clone();

    let res = c.post("/logout-fail").await;
    assert_eq!(res.status, 500, "{}", res.body);
    assert_eq!(
        res.cookie_value(COOKIE).as_deref(),
        Some(""),
        "cookie expired"
    );
    assert_signed_out(&app, &id, &stale).await;
    assert_eq!(c.get("/ours/flash").await.body, "|");
}
