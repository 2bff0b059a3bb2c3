//! The demo app: sign in, a counter, a key-value scratchpad.
//!
//! Run with (no database to install: sessions go to a SQLite file in the
//! working directory):
//!
//! ```sh
//! cargo run --example demo
//! ```
//!
//! or against Postgres:
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run --example demo
//! ```
//!
//! Users `alice`, `bob` and `carol`, each with the password `password`.
//!
//! Environment: `DATABASE_URL` (`postgres://…` or `sqlite:…`; default a SQLite
//! file `axum-user-sessions-demo.db` here), without it `REDIS_CLUSTER_NODES`
//! (`host:port,host:port,…`: a Redis Cluster) or `REDIS_URL`
//! (`redis://host:port`: one Redis node), with the feature `redis`
//! (`cargo run --example demo --features redis`; not with `SESSION_CACHE`,
//! which Redis refuses), `BIND` (default `127.0.0.1:3000`),
//! `SESSION_IDLE_SECS`, `SESSION_ABSOLUTE_SECS`, `SESSION_ROTATE_SECS`
//! (`0` turns rotation off), `SESSION_GRACE_SECS`, `SESSION_BIND_IP` and
//! `SESSION_BIND_UA` (`off|log|enforce`), `TRUSTED_PROXIES` (comma-separated
//! CIDRs whose `X-Forwarded-For` is believed), `SESSION_REAUTH_SECS` (revoking
//! devices needs a password entered that recently; `POST /reauth` with
//! `password` refreshes it), `SESSION_ANONYMIZE_IP` (`1`: store IPs cut to
//! /24 and /48), `SESSION_COOKIE_SECURE`
//! (`1` for `Secure` cookies behind https; the demo defaults to `0`, plain-http
//! friendly cookies, and says so in its log), `SESSION_CACHE` (`1`: the
//! in-process cache, `with_cache(CacheConfig::default())`),
//! `SESSION_MAX_DATA_BYTES` (the data limit, default 65536: `PUT /kv/{key}`
//! past it answers `413`), `SESSION_MAX_PER_USER` (sessions per user; a
//! sign-in past it signs the least recently active out; default no limit),
//! `SESSION_BEARER` (`1`: API clients, `with_bearer_tokens(true)`, and
//! `POST /api/login` with `username`, `password` (JSON or a form), which
//! answers the token in the `Session-Token` header and `{"user_id": ...}`;
//! the client then sends `Authorization: Bearer <token>`),
//! `SESSION_IMPORT` (`tower-sessions`: adopt tower-sessions sessions from
//! its table in the same database, signing in the user named under the
//! record's key `user_id`; the feature `tower-sessions-import`, on by
//! default), `SESSION_IDS_IN_TOKENS` (`1`: tokens name their session,
//! `with_session_ids_in_tokens(true)`; off, the default, keeps 0.1's form
//! so that a 0.1 demo can share the database).
//! `POST /login` also takes `second_factor=on` (the demo's stand-in for a
//! passed second factor) and `trust_device=on` (trust this browser:
//! `Session::trust_device`); `GET /me` says `"trusted_device"`. A wrong
//! password of an existing user is recorded for them (`failed_sign_ins` in
//! `GET /sessions`).
//! Session events are printed to stdout as `event {json}` lines.

#![allow(dead_code, unreachable_pub)] // tests include this file for its `app`

#[path = "demo/api.rs"]
pub mod api;
#[path = "demo/settings.rs"]
pub mod settings;
use settings::env_secs;
pub use settings::{layer_from_env, storage_from_env, store_from_env};
#[cfg(feature = "tower-sessions-import")]
#[path = "demo/import.rs"]
pub mod import;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use axum_user_sessions::{Session, SessionLayer, SignIn};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

/// The demo's users: name and password.
const USERS: &[(&str, &str)] = &[
    ("alice", "password"),
    ("bob", "password"),
    ("carol", "password"),
];

/// The demo's routes, without the session layer, with "Your devices" as the
/// environment configures it (`SESSION_REAUTH_SECS`). Its sign-in form is on
/// `/`, where the devices page sends an anonymous browser.
pub fn routes() -> Router {
    let mut devices = axum_user_sessions::SessionRoutes::new().with_sign_in_url("/");
    if let Some(d) = env_secs("SESSION_REAUTH_SECS") {
        devices = devices.with_reauthentication(d);
    }
    routes_with(devices)
}

/// The demo's routes with the given "Your devices" settings.
pub fn routes_with(devices: axum_user_sessions::SessionRoutes) -> Router {
    let router = match api::enabled() {
        true => Router::new().route("/api/login", post(api::login)),
        false => Router::new(),
    };
    router
        .nest("/sessions", devices.into_router())
        .route("/reauth", post(reauth))
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/counter", post(counter))
        .route("/kv", get(kv_all))
        .route("/kv/{key}", put(kv_put))
        .route("/health", get(|| async { "ok" }))
}

/// The demo app: its routes behind `layer`.
pub fn app(layer: SessionLayer) -> Router {
    routes().layer(layer)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,axum_user_sessions=debug".into()),
        )
        .init();
    let store = store_from_env().await?;
    let layer = layer_from_env(store);
    #[cfg(feature = "tower-sessions-import")]
    let layer = import::from_env(layer, &settings::database_url()?).await?;
    let app = app(layer);
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let addr = listener.local_addr()?;
    tracing::info!(
        "demo listening on http://{addr}/  (users alice, bob, carol; password `password`)"
    );
    println!("Open http://{addr}/");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>axum-user-sessions demo</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1f2328}}
label{{display:block;margin:.6rem 0}}input[type=text],input[type=password]{{display:block;width:100%;padding:.4rem;margin-top:.2rem}}
button{{padding:.45rem 1rem;margin-top:.6rem}}.error{{color:#b3261e}}</style></head>
<body><h1>axum-user-sessions demo</h1>{body}</body></html>"#
    ))
}

fn login_form(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    format!(
        r#"{error}<form method="post" action="/login">
<label>Username <input type="text" name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<label><input type="checkbox" name="remember" value="on"> Remember me</label>
<label><input type="checkbox" name="second_factor" value="on"> I entered my second-factor code (demo)</label>
<label><input type="checkbox" name="trust_device" value="on"> Don't ask for a code on this device for 30 days</label>
<button type="submit">Sign in</button></form>
<p>Users <code>alice</code>, <code>bob</code>, <code>carol</code>; password <code>password</code>.</p>"#
    )
}

async fn home(session: Session) -> Html<String> {
    match session.user_id() {
        Some(user) => page(&format!(
            r#"<p>Signed in as <strong>{}</strong>.</p>
<p><a href="/sessions">Your devices</a></p>
<form method="post" action="/reauth"><label>Confirm your password (needed to sign out other devices when recent sign-in is required)
<input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Confirm</button></form>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>"#,
            escape(&user)
        )),
        None => page(&login_form(None)),
    }
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
    #[serde(default)]
    remember: Option<String>,
    /// `on`: the demo's stand-in for a second factor passed at this sign-in.
    #[serde(default)]
    second_factor: Option<String>,
    /// `on`: "Don't ask again on this device" (needs `second_factor=on`).
    #[serde(default)]
    trust_device: Option<String>,
}

async fn login(session: Session, Form(f): Form<Credentials>) -> Response {
    let known = USERS
        .iter()
        .any(|(u, p)| *u == f.username && *p == f.password);
    if !known {
        // A wrong password of an existing user is shown to that user, off
        // the response path (the answer is the same for unknown names).
        if USERS.iter().any(|(u, _)| *u == f.username) {
            session.record_failed_sign_in(&f.username);
        }
        return (
            StatusCode::UNAUTHORIZED,
            page(&login_form(Some("Wrong username or password."))),
        )
            .into_response();
    }
    let remember = f.remember.as_deref() == Some("on");
    let second_factor = f.second_factor.as_deref() == Some("on");
    let how = SignIn::default().with_second_factor(second_factor);
    if let Err(e) = session
        .login_remember_with(&f.username, remember, how)
        .await
    {
        return e.into_response();
    }
    if f.trust_device.as_deref() == Some("on")
        && let Err(e) = session.trust_device().await
    {
        return e.into_response();
    }
    Redirect::to("/").into_response()
}

#[derive(Deserialize)]
struct Password {
    password: String,
}

/// Re-enter the password: refreshes "recent authentication".
async fn reauth(session: Session, Form(f): Form<Password>) -> Response {
    let Some(user) = session.user_id() else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "not signed in" })),
        )
            .into_response();
    };
    if !USERS.iter().any(|(u, p)| *u == user && *p == f.password) {
        return (
            StatusCode::UNAUTHORIZED,
            page(&login_form(Some("Wrong password."))),
        )
            .into_response();
    }
    match session.reauthenticate().await {
        Ok(()) => Redirect::to("/sessions").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn logout(session: Session) -> Response {
    match session.logout().await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn me(session: Session) -> Response {
    match (session.user_id(), session.id()) {
        (Some(user_id), Some(id)) => match session.is_trusted_device().await {
            Ok(trusted) => Json(json!({
                "user_id": user_id,
                "session_id": id,
                "trusted_device": trusted,
            }))
            .into_response(),
            Err(e) => e.into_response(),
        },
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "not signed in" })),
        )
            .into_response(),
    }
}

/// Adds one to the session's counter and answers `{"counter": n}`. Atomic:
/// concurrent increments, on this instance or another, never lose one.
async fn counter(session: Session) -> Result<Json<serde_json::Value>, axum_user_sessions::Error> {
    let n = session
        .update("counter", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(Json(json!({ "counter": n })))
}

async fn kv_put(
    session: Session, Path(key): Path<String>, body: String,
) -> Result<StatusCode, axum_user_sessions::Error> {
    session.insert(&key, body)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn kv_all(session: Session) -> Json<serde_json::Map<String, serde_json::Value>> {
    Json(session.entries())
}
