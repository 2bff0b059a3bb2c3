//! axum-login on top of axum-user-sessions: axum-login's backend,
//! `AuthSession` and `login_required!` / `permission_required!`, with the
//! sessions kept (and listed in "Your devices") by this crate.
//!
//! ```sh
//! cargo run --example axum_login --features axum-login
//! ```
//!
//! Users `alice` (an admin) and `bob`, each with the password `password`.
//! Sessions go to the SQLite file `axum-login-example.db` here, or to
//! `DATABASE_URL` (`postgres://…` or `sqlite:…`).
//!
//! - `GET /`: signed-in users only (`login_required!`), else a redirect to
//!   `/login?next=%2F`;
//! - `GET /admin`: `permission_required!` (`alice` only; `403` for `bob`);
//! - `GET /login` (the form), `POST /login` (`username`, `password`; `303` to
//!   `/`), `POST /logout` (`303` to `/login`);
//! - `POST /password` (`password`: the new one): changes the password, keeps
//!   this device signed in and signs out the others;
//! - `/sessions`: "Your devices" (list, revoke).
//!
//! Coming from axum-login on tower-sessions: with `--features
//! tower-sessions-import` and `SESSION_IMPORT=tower-sessions`, sessions the
//! app made with tower-sessions' sqlx store in the same database are adopted
//! on their first request, unless the password changed since
//! ([`tower_sessions_user`]).

#![allow(dead_code, unreachable_pub)] // tests include this file for its `app`

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_login::{
    AuthSession, AuthUser, AuthnBackend, AuthzBackend, UserId, login_required, permission_required,
};
use axum_user_sessions::{AxumLoginLayer, SessionLayer};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A user of the app.
#[derive(Clone)]
pub struct User {
    id: i64,
    name: String,
    pw_hash: Vec<u8>,
    admin: bool,
}

// No password hash in logs.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    /// Changes with the password: sessions signed in before a password
    /// change stop matching, and are revoked.
    fn session_auth_hash(&self) -> &[u8] {
        &self.pw_hash
    }
}

/// Demo only: a real app stores a salted, slow hash (argon2, for example
/// through the `password-auth` crate) and verifies passwords with it.
fn hash(password: &str) -> Vec<u8> {
    Sha256::digest(password.as_bytes()).to_vec()
}

/// The users, in memory: `alice` (id 1, admin) and `bob` (id 2).
#[derive(Debug, Clone)]
pub struct Backend {
    users: Arc<Mutex<HashMap<i64, User>>>,
}

impl Default for Backend {
    fn default() -> Self {
        let user = |id, name: &str, admin| {
            let pw_hash = hash("password");
            (
                id,
                User {
                    id,
                    name: name.into(),
                    pw_hash,
                    admin,
                },
            )
        };
        let users = HashMap::from([user(1, "alice", true), user(2, "bob", false)]);
        Self {
            users: Arc::new(Mutex::new(users)),
        }
    }
}

impl Backend {
    /// Sets a user's password; the updated user.
    pub fn set_password(&self, id: i64, password: &str) -> Option<User> {
        let mut users = self.users.lock().unwrap();
        let user = users.get_mut(&id)?;
        user.pw_hash = hash(password);
        Some(user.clone())
    }
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

// No password in logs.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = Infallible;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<User>, Infallible> {
        let users = self.users.lock().unwrap();
        let hash = hash(&creds.password);
        Ok(users
            .values()
            .find(|u| u.name == creds.username && u.pw_hash == hash)
            .cloned())
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Infallible> {
        Ok(self.users.lock().unwrap().get(id).cloned())
    }
}

impl AuthzBackend for Backend {
    type Permission = &'static str;

    async fn get_user_permissions(&self, user: &User) -> Result<HashSet<&'static str>, Infallible> {
        Ok(if user.admin {
            HashSet::from(["admin"])
        } else {
            HashSet::new()
        })
    }
}

type Auth = AuthSession<Backend>;

/// The app: its routes, axum-login's layer, the session layer outermost.
pub fn app(sessions: SessionLayer, backend: Backend) -> Router {
    routes().layer(AxumLoginLayer::new(backend)).layer(sessions)
}

/// The routes, without the layers.
pub fn routes() -> Router {
    Router::new()
        .route("/admin", get(|| async { "admins only" }))
        .route_layer(permission_required!(Backend, "admin"))
        .route("/", get(home))
        .route("/password", post(change_password))
        .route_layer(login_required!(Backend, login_url = "/login"))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .nest("/sessions", axum_user_sessions::routes())
}

async fn home(auth: Auth) -> Html<String> {
    let name = auth.user.map(|u| u.name).unwrap_or_default();
    Html(format!(
        "<h1>Hello {name}</h1><p><a href=/sessions>Your devices</a></p>\
         <form method=post action=/password><input name=password type=password>\
         <button>Change password</button></form>\
         <form method=post action=/logout><button>Sign out</button></form>"
    ))
}

async fn login_page() -> Html<&'static str> {
    Html(
        "<form method=post action=/login><input name=username placeholder=alice>\
         <input name=password type=password placeholder=password><button>Sign in</button></form>",
    )
}

async fn login(mut auth: Auth, Form(creds): Form<Credentials>) -> Response {
    let user = match auth.authenticate(creds).await {
        Ok(Some(user)) => user,
        Ok(None) => return (StatusCode::UNAUTHORIZED, login_page().await).into_response(),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    match auth.login(&user).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn logout(mut auth: Auth) -> Response {
    match auth.logout().await {
        Ok(_) => Redirect::to("/login").into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Deserialize)]
struct NewPassword {
    password: String,
}

/// Changes the password, then signs this device in again with the new auth
/// hash: it stays signed in, every other device of the user is signed out.
async fn change_password(mut auth: Auth, Form(new): Form<NewPassword>) -> Response {
    let Some(user) = auth
        .user
        .as_ref()
        .and_then(|u| auth.backend.set_password(u.id, &new.password))
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match auth.login(&user).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Whose a tower-sessions session is: the user axum-login's data in it
/// names (`"axum-login.data"`: `user_id`, `auth_hash`), if the stored auth
/// hash is still the user's. A session a password change ended (as
/// axum-login would have ended it) is refused.
#[cfg(feature = "tower-sessions-import")]
pub async fn tower_sessions_user(
    backend: Backend, record: axum_user_sessions::TowerRecord,
) -> Option<i64> {
    #[derive(Deserialize)]
    struct AuthData {
        user_id: i64,
        auth_hash: Vec<u8>,
    }
    let data: AuthData = serde_json::from_value(record.get("axum-login.data")?.clone()).ok()?;
    let user = backend.get_user(&data.user_id).await.ok()??;
    (user.pw_hash == data.auth_hash).then_some(user.id)
}

/// `sessions`, adopting tower-sessions sessions from the database at `url`
/// when `SESSION_IMPORT` is `tower-sessions`.
#[cfg(feature = "tower-sessions-import")]
async fn with_import(
    sessions: SessionLayer, url: &str, backend: Backend,
) -> Result<SessionLayer, sqlx::Error> {
    use axum_user_sessions::TowerSessionsImport;
    if std::env::var("SESSION_IMPORT").as_deref() != Ok("tower-sessions") {
        return Ok(sessions);
    }
    let user = move |record| tower_sessions_user(backend.clone(), record);
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await?;
        return Ok(sessions.adopt_tower_sessions(TowerSessionsImport::postgres(pool, user)));
    }
    let pool = sqlx::SqlitePool::connect(url).await?;
    Ok(sessions.adopt_tower_sessions(TowerSessionsImport::sqlite(pool, user)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://axum-login-example.db".into());
    let store = axum_user_sessions::store::connect(&url).await?;
    axum_user_sessions::migrate(&store).await?;
    let sessions = SessionLayer::new(store).with_secure(false); // plain http for local use only
    let backend = Backend::default();
    #[cfg(feature = "tower-sessions-import")]
    let sessions = with_import(sessions, &url, backend.clone()).await?;
    let app = app(sessions, backend);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("Open http://127.0.0.1:3000/ (alice or bob, password `password`)");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
