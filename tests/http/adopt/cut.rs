//! An adoption cut off in the middle, on Postgres: tower-sessions' row is
//! held by a row lock of the test's own, so that the adoption's `DELETE …
//! RETURNING` waits on it while the request goes away (the client leaves)
//! or stops waiting (the layer's store timeout). The adoption still runs
//! to its end, and the browser's next request comes back signed in.

use super::tower::Switch;
use super::{expires_old_cookie, old_app, old_login, present};
use crate::common::{Client, TestApp, demo, eventually, serve};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum_user_sessions::SessionLayer;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long any awaited condition may take before the test fails.
const BOUND: Duration = Duration::from_secs(20);

/// Sets its flag when dropped before it is disarmed: a request whose
/// future the server dropped.
struct Cut(Arc<AtomicBool>, bool);

impl Drop for Cut {
    fn drop(&mut self) {
        if !self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// Records in `cut` that the server dropped a request before its answer.
async fn watch(State(cut): State<Arc<AtomicBool>>, req: Request, next: Next) -> Response {
    let mut guard = Cut(cut, false);
    let res = next.run(req).await;
    guard.1 = true;
    res
}

/// The demo behind `layer` adopting with its mapping, and the flag that
/// tells a request the server dropped.
async fn new_app(switch: &Switch, layer: SessionLayer) -> (TestApp, Arc<AtomicBool>) {
    let cut = Arc::new(AtomicBool::new(false));
    let layer = layer.adopt_tower_sessions(switch.import(demo::import::user_of));
    let app = demo::routes()
        .layer(layer)
        .layer(middleware::from_fn_with_state(cut.clone(), watch));
    (serve(app).await, cut)
}

/// Locks tower-sessions' row of `id` in a transaction of its own.
async fn lock_row(switch: &Switch, id: &str) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = switch.backend.pg.as_ref().unwrap().begin().await.unwrap();
    let locked: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM tower_sessions.session WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .unwrap();
    assert_eq!(locked, Some(1), "the row is there");
    tx
}

/// Waits until a `DELETE` waits on a row lock: the adoption took its turn.
async fn delete_waiting(switch: &Switch) {
    let pg = switch.backend.pg.clone().unwrap();
    let waiting = eventually(BOUND, || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM%'",
        )
        .fetch_one(&pg)
        .await
        .unwrap();
        (n > 0).then_some(())
    })
    .await;
    assert!(waiting.is_some(), "the adoption's DELETE never waited");
}

/// Waits until tower-sessions' row of `id` is gone.
async fn row_gone(switch: &Switch, id: &str) {
    let pg = switch.backend.pg.clone().unwrap();
    let gone = eventually(BOUND, || async {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM tower_sessions.session WHERE id = $1")
                .bind(id)
                .fetch_one(&pg)
                .await
                .unwrap();
        (n == 0).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the row was never taken");
}

/// The browser leaves while its adopting request waits on tower-sessions'
/// row: the request's future is dropped, the adoption is not, and takes
/// the row. The app, and tower-sessions' session id.
async fn adopted_after_the_browser_left(switch: &Switch) -> (TestApp, String) {
    let old = old_app(switch).await;
    let (new, cut) = new_app(switch, switch.backend.layer()).await;
    let id = old_login(&old, "alice").await;
    let lock = lock_row(switch, &id).await;

    let mut leaving = Client::new(&new);
    let first = {
        let id = id.clone();
        tokio::spawn(async move { present(&mut leaving, &id).await })
    };
    delete_waiting(switch).await;
    first.abort(); // the browser closes the connection
    let dropped = eventually(BOUND, || async { cut.load(Ordering::SeqCst).then_some(()) }).await;
    assert!(dropped.is_some(), "the server never dropped the request");
    lock.rollback().await.unwrap();
    row_gone(switch, &id).await;
    (new, id)
}

/// The browser's next request, with the same old cookie, comes back signed
/// in after the adoption its earlier request left.
#[sqlx::test(migrations = false)]
async fn a_request_that_goes_away_still_adopts(pool: sqlx::PgPool) {
    let switch = Switch::postgres(pool).await;
    let (new, id) = adopted_after_the_browser_left(&switch).await;
    let mut browser = Client::new(&new);
    let res = present(&mut browser, &id).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["user_id"], "alice");
    assert_eq!(browser.me().await.as_deref(), Some("alice"));
}

/// The browser's next request goes to a route that never reads the session
/// (a health check, a static file): it joins the adoption, and sets our
/// cookie as it expires the old one, so the browser stays signed in.
#[sqlx::test(migrations = false)]
async fn a_joining_request_that_reads_no_session_keeps_the_sign_in(pool: sqlx::PgPool) {
    let switch = Switch::postgres(pool).await;
    let (new, id) = adopted_after_the_browser_left(&switch).await;
    let mut browser = Client::new(&new);
    let cookie = format!("id={id}");
    let res = browser
        .send_with("GET", "/health", &[("cookie", &cookie)])
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        browser.me().await.as_deref(),
        Some("alice"),
        "signed out: {:?}",
        res.set_cookies()
    );
}

/// tower-sessions' table answers slower than the layer's store timeout:
/// the request goes on without the adoption (anonymous, the old cookie
/// kept), as when the table cannot be read. The adoption goes on; once it
/// is done, the browser's next request comes back signed in.
#[sqlx::test(migrations = false)]
async fn a_slow_table_answers_within_the_store_timeout(pool: sqlx::PgPool) {
    let switch = Switch::postgres(pool).await;
    let old = old_app(&switch).await;
    let limit = Duration::from_secs(2);
    let (new, _) = new_app(&switch, switch.backend.layer().with_store_timeout(limit)).await;
    let id = old_login(&old, "alice").await;
    let lock = lock_row(&switch, &id).await;

    let mut browser = Client::new(&new);
    let answered = tokio::time::timeout(5 * limit, present(&mut browser, &id)).await;
    let res = answered.expect("the request waited past the store timeout");
    assert_eq!(res.status, 401, "anonymous meanwhile: {}", res.body);
    assert!(!expires_old_cookie(&res), "{:?}", res.set_cookies());
    assert!(browser.cookie.is_none(), "{:?}", res.set_cookies());

    lock.rollback().await.unwrap();
    row_gone(&switch, &id).await;
    let res = present(&mut browser, &id).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["user_id"], "alice");
    assert!(expires_old_cookie(&res), "{:?}", res.set_cookies());
}

/// The app's mapping panics: tower-sessions' row is put back, not lost
/// with the adoption's task, and the browser's next request (the mapping
/// working again) comes back signed in.
#[sqlx::test(migrations = false)]
async fn a_mapping_that_panics_puts_the_row_back(pool: sqlx::PgPool) {
    let switch = Switch::postgres(pool).await;
    let old = old_app(&switch).await;
    let panicked = Arc::new(AtomicBool::new(false));
    let once = panicked.clone();
    let mapping = move |record| {
        let once = once.clone();
        async move {
            assert!(
                once.swap(true, Ordering::SeqCst),
                "the app's mapping failed"
            );
            demo::import::user_of(record).await
        }
    };
    let layer = switch
        .backend
        .layer()
        .adopt_tower_sessions(switch.import(mapping));
    let new = serve(demo::routes().layer(layer)).await;
    let id = old_login(&old, "alice").await;

    let mut browser = Client::new(&new);
    let res = present(&mut browser, &id).await;
    assert!(panicked.load(Ordering::SeqCst), "the mapping never ran");
    assert_eq!(res.status, 401, "anonymous meanwhile: {}", res.body);
    assert!(!expires_old_cookie(&res), "{:?}", res.set_cookies());
    let res = present(&mut browser, &id).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["user_id"], "alice");
}
