//! The README's axum-login example: a whole app, sessions in Postgres.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --example axum_login_minimal --features axum-login
//! ```

use axum::routing::{get, post};
use axum::{Form, Router, http::StatusCode, response::Redirect};
use axum_login::{AuthSession, AuthUser, AuthnBackend, UserId, login_required};
use axum_user_sessions::{AxumLoginLayer, SessionLayer};
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Debug, Clone)]
struct User {
    id: i64,
    pw_hash: &'static [u8], // changes with the password: older sessions are revoked
}

impl AuthUser for User {
    type Id = i64;
    fn id(&self) -> i64 {
        self.id
    }
    fn session_auth_hash(&self) -> &[u8] {
        self.pw_hash
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Debug, Clone)]
struct Backend; // one user, `alice`; a real app asks its database

const ALICE: User = User {
    id: 1,
    pw_hash: b"v1",
};

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = std::convert::Infallible;

    async fn authenticate(&self, c: Credentials) -> Result<Option<User>, Self::Error> {
        let ok = c.username == "alice" && c.password == "password"; // use a password hash
        Ok(ok.then_some(ALICE))
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Self::Error> {
        Ok((*id == ALICE.id).then_some(ALICE))
    }
}

type Auth = AuthSession<Backend>;
const E500: StatusCode = StatusCode::INTERNAL_SERVER_ERROR;

async fn login(mut auth: Auth, Form(c): Form<Credentials>) -> Result<Redirect, StatusCode> {
    let user = auth.authenticate(c).await.map_err(|_| E500)?;
    let user = user.ok_or(StatusCode::UNAUTHORIZED)?;
    auth.login(&user).await.map_err(|_| E500)?;
    Ok(Redirect::to("/"))
}

async fn logout(mut auth: Auth) -> Result<Redirect, StatusCode> {
    auth.logout().await.map_err(|_| E500)?;
    Ok(Redirect::to("/login"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .test_before_acquire(false)
        .connect(&url)
        .await?;
    axum_user_sessions::migrate(&pool).await?;

    let app = Router::new()
        .route("/", get(|| async { "signed in" }))
        .route_layer(login_required!(Backend, login_url = "/login"))
        .route("/login", get(|| async { "POST the form here" }).post(login))
        .route("/logout", post(logout))
        .nest("/sessions", axum_user_sessions::routes()) // "Your devices"
        .layer(AxumLoginLayer::new(Backend)) // instead of AuthManagerLayerBuilder
        .layer(SessionLayer::new(pool).with_secure(false)); // outermost; https: drop with_secure

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    let app = app.into_make_service_with_connect_info::<SocketAddr>(); // devices' IPs
    axum::serve(listener, app).await?;
    Ok(())
}
