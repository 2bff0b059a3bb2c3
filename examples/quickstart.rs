//! The README's usage example: sign-in with sessions in Postgres.
//!
//! Run with:
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run --example quickstart
//! ```

use axum::{
    Form, Router,
    http::StatusCode,
    response::Redirect,
    routing::{get, post},
};
use axum_user_sessions::{Session, SessionLayer};
use serde::Deserialize;
use sqlx::postgres::PgPoolOptions;
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pool = PgPoolOptions::new()
        .test_before_acquire(false) // one database round-trip per request, not two
        .connect(&url)
        .await?;
    axum_user_sessions::migrate(&pool).await?; // embedded, idempotent

    let app = Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .nest("/sessions", axum_user_sessions::routes()) // "Your devices"
        .layer(SessionLayer::new(pool).with_secure(false)); // plain http for local use only

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("Open http://127.0.0.1:3000/");
    // With ConnectInfo the session knows the client's IP (else it is `null`).
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}

async fn home(session: Session) -> Result<String, axum_user_sessions::Error> {
    // Atomic: concurrent requests, even on several app instances, lose no visit.
    let visits = session
        .update("visits", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(match session.user_id() {
        Some(user) => format!("Hello {user}, visit number {visits}"),
        None => format!("Hello stranger, visit number {visits}"),
    })
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn login(session: Session, Form(f): Form<Credentials>) -> Result<Redirect, StatusCode> {
    if f.password != "password" {
        return Err(StatusCode::UNAUTHORIZED); // check real credentials here
    }
    session
        .login(&f.username) // new token: no session fixation
        .await
        .map_err(|e| e.status())?;
    Ok(Redirect::to("/"))
}

async fn logout(session: Session) -> Result<Redirect, axum_user_sessions::Error> {
    session.logout().await?; // revoked server-side, cookie expired
    Ok(Redirect::to("/"))
}
