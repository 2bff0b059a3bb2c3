//! Two app instances with the cache on, sharing one Postgres: a revocation on
//! one takes effect on the other, and an instance whose change listener is
//! down reads from the database instead of its cache.

use crate::common;

use axum_user_sessions::{CacheConfig, CachedStore, PgStore, SessionLayer, SessionStore};
use common::{Client, TestApp, eventually};
use std::time::{Duration, Instant};

struct Instance {
    app: TestApp,
    cache: CachedStore,
}

async fn instance(test_pool: &sqlx::PgPool, name: &str) -> Instance {
    let opts = (*test_pool.connect_options())
        .clone()
        .application_name(name);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .test_before_acquire(false)
        .connect_with(opts)
        .await
        .unwrap();
    axum_user_sessions::migrate(&pool).await.unwrap();
    let cache = CachedStore::new(PgStore::new(pool), CacheConfig::default());
    common::wait_listening(&cache).await;
    let app = common::serve_demo(SessionLayer::new(cache.clone())).await;
    Instance { app, cache }
}

/// The same browser, sent to instance `i` (a load balancer's choice).
fn on(c: &Client, i: &Instance) -> Client {
    let mut c = c.clone();
    c.base = i.app.base.clone();
    c
}

/// Uses the session on `i` until `i` serves it from memory.
async fn warm(c: &Client, i: &Instance) {
    assert_eq!(on(c, i).me().await.as_deref(), Some("alice"));
    let (hits, trips) = (i.cache.hits(), i.cache.round_trips());
    for _ in 0..3 {
        assert_eq!(on(c, i).me().await.as_deref(), Some("alice"));
    }
    assert_eq!(i.cache.hits() - hits, 3, "not served from the cache");
    assert_eq!(
        i.cache.round_trips(),
        trips,
        "cached reads reached the database"
    );
}

/// Polls `i` with `c`'s cookie until it is refused; the time it took.
async fn refused_within(c: &Client, i: &Instance, limit: Duration) -> Duration {
    let start = Instant::now();
    let refused = eventually(limit, || {
        let mut probe = on(c, i);
        async move { probe.me().await.is_none().then_some(()) }
    })
    .await;
    assert!(refused.is_some(), "still accepted after {limit:?}");
    start.elapsed()
}

#[sqlx::test(migrations = false)]
async fn revocation_on_one_instance_reaches_the_other(pool: sqlx::PgPool) {
    common::init_tracing();
    let a = instance(&pool, "instance-a").await;
    let b = instance(&pool, "instance-b").await;
    let mut c = Client::new(&a.app);
    c.login("alice").await;
    warm(&c, &b).await;

    // "Sign out everywhere" on A; B must refuse the cookie.
    let kept = c.clone();
    let res = c
        .send_with(
            "POST",
            "/sessions/revoke-all",
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(res.json()["revoked"], 1);
    let took = refused_within(&kept, &b, Duration::from_secs(5)).await;
    println!("revocation reached instance B in {took:?}");

    // A logout on B reaches A the same way.
    let mut c = Client::new(&b.app);
    c.login("alice").await;
    warm(&c, &a).await;
    let kept = c.clone();
    assert_eq!(c.post("/logout").await.status, 303);
    refused_within(&kept, &a, Duration::from_secs(5)).await;
}

#[sqlx::test(migrations = false)]
async fn without_its_listener_an_instance_reads_the_database(pool: sqlx::PgPool) {
    common::init_tracing();
    let a = instance(&pool, "instance-a").await;
    let b = instance(&pool, "instance-b").await;
    let mut c = Client::new(&a.app);
    c.login("alice").await;
    warm(&c, &b).await;

    // Cut B's change listener (as a network blip or a failover would).
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'instance-b' AND query ILIKE 'LISTEN%'
               AND datname = current_database()) t",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(killed, 1, "B's listener connection not found");
    // Revoke behind B's back: plain SQL on the shared database, while B
    // cannot hear about it.
    sqlx::query(
        "UPDATE axum_user_sessions.sessions SET revoked_at = now(), revoke_reason = 'test'
          WHERE user_id = 'alice'",
    )
    .execute(&pool)
    .await
    .unwrap();
    // B noticed the loss (or already reconnected and flushed): either way its
    // next read goes to the database, and the session is refused.
    let trips = b.cache.round_trips();
    assert_eq!(
        on(&c, &b).me().await,
        None,
        "B served a revoked session from its cache"
    );
    assert!(b.cache.round_trips() > trips, "B did not read the database");
    // And B listens again afterwards.
    let back = eventually(Duration::from_secs(10), || async {
        b.cache.is_listening().then_some(())
    })
    .await;
    assert!(back.is_some(), "B's listener did not come back");
    let mut c = Client::new(&a.app);
    c.login("alice").await;
    warm(&c, &b).await;
}
