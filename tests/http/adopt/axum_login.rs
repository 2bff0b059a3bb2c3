//! Coming from axum-login on tower-sessions: the example app
//! (`examples/axum_login.rs`) adopts the sessions axum-login made on
//! tower-sessions, unless the password changed since.

use super::tower::{Switch, old_cookie};
use crate::axum_login::example;
use crate::common::{Client, TestApp, serve};
use axum::Router;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::routing::post;
use axum_login::{AuthManagerLayerBuilder, AuthSession};
use tower_sessions::SessionManagerLayer;

/// Before the switch: axum-login on tower-sessions, the example's users;
/// `POST /login` signs in (`200`).
async fn old_app(switch: &Switch, users: &example::Backend) -> TestApp {
    async fn login(
        mut auth: AuthSession<example::Backend>, Form(creds): Form<example::Credentials>,
    ) -> StatusCode {
        let user = auth
            .authenticate(creds)
            .await
            .unwrap()
            .expect("credentials");
        auth.login(&user).await.unwrap();
        StatusCode::OK
    }
    let sessions = SessionManagerLayer::new(switch.store.clone()).with_secure(false);
    let auth = AuthManagerLayerBuilder::new(users.clone(), sessions).build();
    serve(Router::new().route("/login", post(login)).layer(auth)).await
}

/// After it: the example app, adopting with its mapping.
async fn new_app(switch: &Switch, users: &example::Backend) -> TestApp {
    let mapped = users.clone();
    let import = switch.import(move |record| {
        let users = mapped.clone();
        async move {
            example::tower_sessions_user(users, record)
                .await
                .map(|id| id.to_string())
        }
    });
    let layer = switch.backend.layer().adopt_tower_sessions(import);
    serve(example::app(layer, users.clone())).await
}

/// `GET /` with tower-sessions' cookie: the example's home page for a
/// signed-in user, a redirect to `/login` otherwise.
async fn home(app: &TestApp, id: &str) -> (u16, String) {
    let mut client = Client::new(app);
    let cookie = format!("id={id}");
    let res = client.send_with("GET", "/", &[("cookie", &cookie)]).await;
    (res.status, res.body)
}

/// A session axum-login made comes back signed in; one whose user changed
/// password since is refused.
async fn signed_in_unless_the_password_changed(switch: Switch) {
    let users = example::Backend::default();
    let (old, new) = (
        old_app(&switch, &users).await,
        new_app(&switch, &users).await,
    );
    let alice = old_cookie(&old, "/login", "username=alice&password=password").await;
    let bob = old_cookie(&old, "/login", "username=bob&password=password").await;
    users.set_password(2, "changed").expect("bob");

    let (status, body) = home(&new, &alice).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Hello alice"), "{body}");
    let (status, body) = home(&new, &bob).await;
    assert_ne!(status, 200, "bob's session ended with his password: {body}");
    // Refused by the mapping: no session of ours was made for bob.
    assert_eq!(switch.sessions_of("2").await, 0);
    assert_eq!(switch.sessions_of("1").await, 1);
}

on_both!(signed_in_unless_the_password_changed);
