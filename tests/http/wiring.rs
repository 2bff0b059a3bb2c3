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
use std::io::Write;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// A log destination the test can read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `req` answered by `app` (on this thread: the test runtime is
/// single-threaded), its status, body, and what it logged.
async fn call(app: Router, req: Request<Body>) -> (StatusCode, String, String) {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
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
