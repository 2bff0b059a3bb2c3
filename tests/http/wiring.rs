//! Errors at the joins say what to do: a layer in the wrong order (the log
//! names the right one, the client gets a plain `500`), the cross-site
//! refusal (it names the headers), and an anonymous visitor of the HTML
//! page (a link to sign in). In process, on the memory store, with the log
//! captured.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum_user_sessions::{MemoryStore, Session, SessionLayer, SessionRoutes};
use tower::ServiceExt;

/// `req` answered by `app` (on this thread: the test runtime is
/// single-threaded), its status, body, and what it logged.
async fn call(app: Router, req: Request<Body>) -> (StatusCode, String, String) {
    let logs = crate::common::Captured::default();
    let subscriber = logs.subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let logged = logs.text();
    (status, String::from_utf8(body.to_vec()).unwrap(), logged)
}

fn get_req(path: &str, accept: &str) -> Request<Body> {
    Request::get(path)
        .header("accept", accept)
        .body(Body::empty())
        .unwrap()
}

/// A route added after the layer is outside it: its `Session` extractor
/// finds nothing. The client learns nothing about the wiring; the log says
/// what to change.
#[tokio::test]
async fn an_extractor_outside_the_layer_logs_the_order() {
    let app = Router::new()
        .layer(SessionLayer::new(MemoryStore::new()))
        .route("/late", get(|_: Session| async { "unreachable" }));
    let (status, body, logged) = call(app, get_req("/late", "*/*")).await;
    assert_eq!(status, 500);
    assert_eq!(body, "internal server error");
    assert!(logged.contains("ERROR"), "{logged}");
    assert!(logged.contains("layer order"), "{logged}");
    assert!(
        logged.contains(".layer(SessionLayer::new(store))"),
        "{logged}"
    );
}

#[cfg(feature = "axum-login")]
mod login {
    use super::*;
    use ::axum_login::{AuthUser, AuthnBackend, UserId};
    use axum_user_sessions::AxumLoginLayer;

    #[derive(Debug, Clone)]
    struct User(i64);

    impl AuthUser for User {
        type Id = i64;
        fn id(&self) -> i64 {
            self.0
        }
        fn session_auth_hash(&self) -> &[u8] {
            b"hash"
        }
    }

    #[derive(Debug, Clone)]
    struct Users;

    impl AuthnBackend for Users {
        type User = User;
        type Credentials = ();
        type Error = std::convert::Infallible;
        async fn authenticate(&self, _: ()) -> Result<Option<User>, Self::Error> {
            Ok(None)
        }
        async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Self::Error> {
            Ok(Some(User(*id)))
        }
    }

    /// `AxumLoginLayer` outside `SessionLayer` (the order of
    /// tower-sessions' `SessionManagerLayer` and axum-login's builder is the
    /// other way round): a plain 500, and the log names the order that
    /// works.
    #[tokio::test]
    async fn axum_login_outside_the_session_layer_logs_the_order() {
        let app = Router::new()
            .route("/", get(|| async { "home" }))
            .layer(SessionLayer::new(MemoryStore::new()))
            .layer(AxumLoginLayer::new(Users));
        let (status, body, logged) = call(app, get_req("/", "*/*")).await;
        assert_eq!(status, 500);
        assert_eq!(body, "internal server error");
        assert!(!body.contains("SessionLayer"), "{body}");
        assert!(
            logged.contains("`AxumLoginLayer` found no session"),
            "{logged}"
        );
        assert!(
            logged.contains(".layer(AxumLoginLayer::new(backend)).layer(SessionLayer::new(store))"),
            "{logged}"
        );
    }

    /// `set_expiry` on axum-login's tower-sessions handle changes nothing
    /// here: the first call warns, naming what to use, and later ones stay
    /// quiet (once per process; nextest runs each test in its own).
    #[tokio::test]
    async fn set_expiry_on_the_handle_warns_once_naming_login_remember() {
        use ::axum_login::AuthSession;
        use ::axum_login::tower_sessions::Expiry;
        let app = Router::new()
            .route(
                "/remember",
                get(|auth: AuthSession<Users>| async move {
                    let days = time::Duration::days(30);
                    auth.session.set_expiry(Some(Expiry::OnInactivity(days)));
                    "ok"
                }),
            )
            .layer(AxumLoginLayer::new(Users))
            .layer(SessionLayer::new(MemoryStore::new()));
        let (status, _, logged) = call(app.clone(), get_req("/remember", "*/*")).await;
        assert_eq!(status, 200);
        assert!(logged.contains("WARN"), "{logged}");
        assert!(logged.contains("ignores `set_expiry`"), "{logged}");
        assert!(logged.contains("Session::login_remember"), "{logged}");
        assert!(logged.contains("with_idle_timeout"), "{logged}");
        let (status, _, logged) = call(app, get_req("/remember", "*/*")).await;
        assert_eq!(status, 200);
        assert!(!logged.contains("set_expiry"), "warned twice: {logged}");
    }

    /// `delete` without `flush` signs nobody out: it warns once, naming
    /// `AuthSession::logout`.
    #[tokio::test]
    async fn delete_on_the_handle_warns_naming_logout() {
        use ::axum_login::AuthSession;
        let app = Router::new()
            .route(
                "/delete",
                get(|auth: AuthSession<Users>| async move {
                    auth.session.delete().await.unwrap();
                    "ok"
                }),
            )
            .route(
                "/",
                get(|s: Session| async move { s.insert("k", 1).unwrap() }),
            )
            .layer(AxumLoginLayer::new(Users))
            .layer(SessionLayer::new(MemoryStore::new()));
        // A session first: `delete` needs an id.
        let res = app.clone().oneshot(get_req("/", "*/*")).await.unwrap();
        let cookie = res.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let mut req = get_req("/delete", "*/*");
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
        let (status, _, logged) = call(app, req).await;
        assert_eq!(status, 200);
        assert!(logged.contains("ignores `delete`"), "{logged}");
        assert!(logged.contains("AuthSession::logout"), "{logged}");
    }
}

/// The routes under the layer, with `routes`' configuration.
fn devices(routes: SessionRoutes) -> Router {
    Router::new()
        .nest("/sessions", routes.into_router())
        .layer(SessionLayer::new(MemoryStore::new()))
}

/// A state-changing request with neither `Sec-Fetch-Site` nor `Origin` is
/// refused, and the message says which headers it needs.
#[tokio::test]
async fn the_cross_site_refusal_names_the_headers() {
    let req = Request::post("/sessions/revoke-all")
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let (status, body, _) = call(devices(SessionRoutes::new()), req).await;
    assert_eq!(status, 403);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "cross_site_request");
    let message = json["message"].as_str().unwrap();
    assert!(message.contains("Sec-Fetch-Site"), "{message}");
    assert!(message.contains("Origin"), "{message}");
}

/// An anonymous browser gets a page that says to sign in, linking where the
/// app says (default `/login`); a JSON client keeps its `401` error.
#[tokio::test]
async fn an_anonymous_visitor_of_the_page_is_sent_to_sign_in() {
    let html = "text/html,application/xhtml+xml";
    let (status, body, _) = call(devices(SessionRoutes::new()), get_req("/sessions", html)).await;
    assert_eq!(status, 401);
    assert!(body.contains("Sign in to see"), "{body}");
    assert!(body.contains(r#"<a href="/login">Sign in</a>"#), "{body}");

    let routes = SessionRoutes::new().with_sign_in_url("/account?next=/sessions");
    let (status, body, _) = call(devices(routes.clone()), get_req("/sessions", html)).await;
    assert_eq!(status, 401);
    assert!(
        body.contains(r#"<a href="/account?next=/sessions">Sign in</a>"#),
        "{body}"
    );

    let (status, body, _) = call(devices(routes), get_req("/sessions", "application/json")).await;
    assert_eq!(status, 401);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "unauthenticated");
}

/// The demo's sign-in form is on `/`: its devices page links there.
#[tokio::test]
async fn the_demo_sends_anonymous_browsers_to_its_sign_in_form() {
    let app = crate::common::demo::routes().layer(SessionLayer::new(MemoryStore::new()));
    let (status, body, _) = call(app, get_req("/sessions", "text/html")).await;
    assert_eq!(status, 401);
    assert!(body.contains(r#"<a href="/">Sign in</a>"#), "{body}");
}

/// Only an outage invites a retry: a `503` carries `Retry-After`, a `500`
/// (a missing table, say) does not, and neither body says more.
#[test]
fn only_an_outage_answers_retry_after() {
    use axum::response::IntoResponse;
    use axum_user_sessions::{Error, store};
    let io = || std::io::Error::other("test");
    let res = Error::from(store::Error::missing_schema(io())).into_response();
    assert_eq!(res.status(), 500);
    assert!(res.headers().get("retry-after").is_none(), "{res:?}");
    let res = Error::from(store::Error::unavailable(io())).into_response();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    let res = Error::from(store::Error::Unsupported("device names")).into_response();
    assert_eq!(res.status(), 501);
    assert!(res.headers().get("retry-after").is_none(), "{res:?}");
}
