//! Idle and absolute expiry, and the throttled touch that pushes the idle
//! deadline back, on every store.

use crate::common;

use common::{Backend, Client, serve_demo};
use std::time::Duration;
use tokio::time::sleep;

everywhere!(idle_expiry, absolute_expiry, touch_is_throttled);

async fn idle_expiry(b: Backend) {
    let layer = b.layer().with_idle_timeout(Duration::from_secs(2));
    let app = serve_demo(layer).await;
    // An active user stays signed in past the idle timeout.
    let mut active = Client::new(&app);
    active.login("alice").await;
    for _ in 0..8 {
        sleep(Duration::from_millis(400)).await;
        assert_eq!(active.me().await.as_deref(), Some("alice"));
    }
    // An idle one is signed out.
    let mut idle = Client::new(&app);
    idle.login("bob").await;
    sleep(Duration::from_millis(2300)).await;
    assert_eq!(idle.me().await, None);
}

async fn absolute_expiry(b: Backend) {
    let layer = b
        .layer()
        .with_idle_timeout(Duration::from_secs(60))
        .with_absolute_timeout(Duration::from_secs(2));
    let app = serve_demo(layer).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    let mut signed_in = 0;
    for _ in 0..7 {
        if c.me().await.is_some() {
            signed_in += 1;
        }
        sleep(Duration::from_millis(500)).await;
    }
    assert!(signed_in >= 3, "signed in for {signed_in} polls");
    assert_eq!(
        c.me().await,
        None,
        "still signed in after the absolute timeout"
    );
}

async fn touch_is_throttled(b: Backend) {
    let app = serve_demo(b.layer()).await; // touch interval 60 s
    let mut c = Client::new(&app);
    c.login("alice").await;
    let seen = |b: &Backend| {
        let store = b.store.clone();
        async move {
            store
                .list_user("alice", time::OffsetDateTime::now_utc())
                .await
                .unwrap()[0]
                .last_seen_at
        }
    };
    let first = seen(&b).await;
    let n = b.round_trips();
    for _ in 0..5 {
        sleep(Duration::from_millis(20)).await;
        assert!(c.me().await.is_some());
    }
    // One statement per read, none of them a write; with the cache, only the
    // first read reaches the database.
    let expected = if b.cached() { 1 } else { 5 };
    assert_eq!(b.round_trips() - n, expected);
    assert_eq!(
        seen(&b).await,
        first,
        "last_seen_at written before the touch interval"
    );

    // With a 1 s touch interval, activity is recorded once it has passed.
    let app = serve_demo(b.layer().with_touch_interval(Duration::from_secs(1))).await;
    let mut c = Client::new(&app);
    c.login("carol").await;
    let seen_carol = || {
        let store = b.store.clone();
        async move {
            store
                .list_user("carol", time::OffsetDateTime::now_utc())
                .await
                .unwrap()[0]
                .clone()
        }
    };
    let before = seen_carol().await;
    sleep(Duration::from_millis(1100)).await;
    assert!(c.me().await.is_some());
    let after = seen_carol().await;
    assert!(after.last_seen_at > before.last_seen_at);
    assert!(
        after.expires_at > before.expires_at,
        "idle deadline not pushed back"
    );
}
