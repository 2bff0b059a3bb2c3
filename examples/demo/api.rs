//! The demo's API clients (`SESSION_BEARER=1`): `POST /api/login` signs a
//! client in with `username` and `password` (JSON or a form) and answers
//! its token in the `Session-Token` header, with `{"user_id": ...}`. The
//! client then sends `Authorization: Bearer <token>` (to `/me`,
//! `/sessions`, ...) and keeps the newest `Session-Token` it is sent.

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use axum_user_sessions::{Session, SignIn};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct ApiCredentials {
    username: String,
    password: String,
}

/// Whether the environment turns API clients on (`SESSION_BEARER=1`).
pub fn enabled() -> bool {
    std::env::var("SESSION_BEARER").is_ok_and(|v| v.trim() == "1")
}

/// `POST /api/login`: JSON or form `username`, `password`.
pub async fn login(session: Session, req: Request) -> Response {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let creds = if json {
        Json::<ApiCredentials>::from_request(req, &())
            .await
            .map(|Json(c)| c)
            .map_err(IntoResponse::into_response)
    } else {
        Form::<ApiCredentials>::from_request(req, &())
            .await
            .map(|Form(c)| c)
            .map_err(IntoResponse::into_response)
    };
    let creds = match creds {
        Ok(c) => c,
        Err(refusal) => return refusal,
    };
    let known = super::USERS
        .iter()
        .any(|(u, p)| *u == creds.username && *p == creds.password);
    if !known {
        let body = Json(json!({ "error": "wrong username or password" }));
        return (StatusCode::UNAUTHORIZED, body).into_response();
    }
    match session
        .login_api_client_with(&creds.username, SignIn::new("password"))
        .await
    {
        Ok(()) => Json(json!({ "user_id": creds.username })).into_response(),
        Err(e) => e.into_response(),
    }
}
