//! A remember-me restore whose response is sent after the grace (a slow
//! page): its cookies are left out, as a lost response's, and the browser
//! stays signed in. Every store, over real HTTP.

use crate::common;
use crate::credentials::past;

use axum::routing::get;
use axum_user_sessions::Session;
use common::{Backend, Client};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

everywhere!(a_slow_restore_after_an_idle_timeout_keeps_the_user);

/// A tab left open past the idle timeout (its session cookie still sent)
/// loads a slow page, which restores the session from the remember-me
/// cookie and answers after the grace: it sets no cookie. The browser's
/// next request, with the session cookie the restore retired, still within
/// the rotation grace, restores again instead of being anonymous (as a
/// request that left before a sign-in is); so does a restart after every
/// grace.
async fn a_slow_restore_after_an_idle_timeout_keeps_the_user(b: Backend) {
    let (loaded, gate) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (l, g) = (loaded.clone(), gate.clone());
    let slow = axum::Router::new().route(
        "/slow",
        get(move |s: Session| async move {
            let user = s.user_id();
            l.notify_one();
            g.notified().await;
            format!("{user:?}")
        }),
    );
    let grace = Duration::from_secs(1);
    let layer = b
        .layer()
        .with_remember_grace(grace)
        .with_rotation_grace(Duration::from_secs(60))
        .with_idle_timeout(Duration::from_secs(1));
    let app = common::serve(common::demo::routes().merge(slow).layer(layer)).await;
    let mut c = Client::new(&app);
    c.login_with("alice", true).await;
    let signed_in = (c.cookie.clone(), c.remember.clone());
    past(Instant::now() + Duration::from_millis(1200)).await; // idled out
    let tab = c.clone();
    let in_flight = tokio::spawn(async move { tab.send_raw("GET", "/slow", None, &[]).await });
    loaded.notified().await;
    past(Instant::now() + grace + Duration::from_millis(100)).await;
    gate.notify_one();
    let res = in_flight.await.unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(res.body, r#"Some("alice")"#, "the slow page restored");
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
    assert_eq!((c.cookie.clone(), c.remember.clone()), signed_in);
    assert_eq!(c.me().await.as_deref(), Some("alice"), "signed out");
    past(Instant::now() + grace + Duration::from_millis(100)).await;
    c.cookie = None;
    assert_eq!(c.me().await.as_deref(), Some("alice"));
}
