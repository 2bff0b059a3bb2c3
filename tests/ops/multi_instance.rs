//! Two app instances with the cache on, sharing one Postgres: what one does,
//! or plain SQL does, reaches the other within a bounded wait; and an
//! instance whose change feed is down, or lags, reads from the database
//! instead of its cache. The first two also through PgBouncer in
//! transaction mode (each instance its own pool through it).

use crate::common;

use axum_user_sessions::store::{CountingStore, Protocol};
use axum_user_sessions::{
    CacheConfig, CachedStore, PgStore, RevokeReason, RevokedBy, SessionAdmin, SessionLayer,
};
use common::pgbouncer::PgBouncer;
use common::{Client, TestApp, eventually};
use std::time::{Duration, Instant};
use uuid::Uuid;

struct Instance {
    app: TestApp,
    cache: CachedStore,
    /// The calls that reached Postgres beneath the cache.
    counted: CountingStore,
}

/// An instance on the test database, connecting as `role` (the test's own
/// when `None`).
async fn instance_as(test_pool: &sqlx::PgPool, name: &str, role: Option<&str>) -> Instance {
    instance_via(test_pool, name, role, None).await
}

/// An instance on the test database, through `bouncer` when given.
async fn instance_via(
    test_pool: &sqlx::PgPool, name: &str, role: Option<&str>, bouncer: Option<&PgBouncer>,
) -> Instance {
    let mut opts = (*test_pool.connect_options())
        .clone()
        .application_name(name);
    if let Some(bouncer) = bouncer {
        opts = bouncer.route(&opts);
    }
    if let Some(role) = role {
        opts = opts.username(role);
    } else {
        axum_user_sessions::migrate(test_pool).await.unwrap();
    }
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .test_before_acquire(false)
        .connect_with(opts)
        .await
        .unwrap();
    let store = PgStore::new(pool);
    let store = if bouncer.is_some() {
        store.behind_pgbouncer()
    } else {
        store
    };
    let counted = CountingStore::new(store.storage().clone());
    let cache = CachedStore::new(Protocol::new(counted.clone()), CacheConfig::default());
    common::wait_listening(&cache).await;
    let app = common::serve_demo(SessionLayer::new(cache.clone())).await;
    Instance {
        app,
        cache,
        counted,
    }
}

async fn instance(test_pool: &sqlx::PgPool, name: &str) -> Instance {
    instance_as(test_pool, name, None).await
}

/// The same browser, sent to instance `i` (a load balancer's choice).
fn on(c: &Client, i: &Instance) -> Client {
    let mut c = c.clone();
    c.base = i.app.base.clone();
    c
}

/// Uses the session on `i` until `i` serves it from memory three times in a
/// row (on a loaded machine a late poll may make a read miss).
async fn warm(c: &Client, i: &Instance) {
    assert_eq!(on(c, i).me().await.as_deref(), Some("alice"));
    let warmed = eventually(Duration::from_secs(10), || async {
        let (hits, trips) = (i.cache.hits(), i.counted.round_trips());
        for _ in 0..3 {
            assert_eq!(on(c, i).me().await.as_deref(), Some("alice"));
        }
        (i.cache.hits() - hits == 3 && i.counted.round_trips() == trips).then_some(())
    })
    .await;
    assert!(warmed.is_some(), "never served from the cache");
}

/// Reads with `c` on `i` once: whether it was served from memory, and
/// whether the session was accepted.
async fn read_once(c: &Client, i: &Instance) -> (bool, bool) {
    let (hits, trips) = (i.cache.hits(), i.counted.round_trips());
    let accepted = on(c, i).me().await.is_some();
    let from_memory = i.cache.hits() > hits;
    assert_eq!(
        from_memory,
        i.counted.round_trips() == trips,
        "a read both hit the cache and reached the database, or neither"
    );
    (from_memory, accepted)
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

/// The session id `c` is signed in with.
async fn session_id(c: &Client) -> Uuid {
    let res = c.clone().get("/me").await;
    res.json()["session_id"].as_str().unwrap().parse().unwrap()
}

/// Signs alice in on `a` and warms `b`'s cache with the session.
async fn signed_in_on(a: &Instance, b: &Instance) -> (Client, Uuid) {
    let mut c = Client::new(&a.app);
    c.login("alice").await;
    warm(&c, b).await;
    let id = session_id(&c).await;
    (c, id)
}

/// Starts a PgBouncer in front of the test database.
async fn bouncer(pool: &sqlx::PgPool) -> PgBouncer {
    PgBouncer::start(&pool.connect_options()).await
}

#[sqlx::test(migrations = false)]
async fn revocation_on_one_instance_reaches_the_other(pool: sqlx::PgPool) {
    revocation_reaches_the_other(pool, None).await;
}

#[sqlx::test(migrations = false)]
async fn revocation_on_one_instance_reaches_the_other_through_pgbouncer(pool: sqlx::PgPool) {
    let bouncer = bouncer(&pool).await;
    revocation_reaches_the_other(pool, Some(&bouncer)).await;
}

async fn revocation_reaches_the_other(pool: sqlx::PgPool, via: Option<&PgBouncer>) {
    common::init_tracing();
    let a = instance_via(&pool, "instance-a", None, via).await;
    let b = instance_via(&pool, "instance-b", None, via).await;
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
async fn writes_and_plain_sql_reach_the_other_instance(pool: sqlx::PgPool) {
    writes_and_sql_reach_the_other(pool, None).await;
}

#[sqlx::test(migrations = false)]
async fn writes_and_plain_sql_reach_the_other_instance_through_pgbouncer(pool: sqlx::PgPool) {
    let bouncer = bouncer(&pool).await;
    writes_and_sql_reach_the_other(pool, Some(&bouncer)).await;
}

async fn writes_and_sql_reach_the_other(pool: sqlx::PgPool, via: Option<&PgBouncer>) {
    common::init_tracing();
    let a = instance_via(&pool, "instance-a", None, via).await;
    let b = instance_via(&pool, "instance-b", None, via).await;
    let limit = Duration::from_secs(5);

    // A write on A is read on B, which had the session in memory.
    let (mut c, _) = signed_in_on(&a, &b).await;
    assert_eq!(c.put_kv("colour", "green").await.status, 204);
    let seen = eventually(limit, || {
        let mut probe = on(&c, &b);
        async move { (probe.get("/kv").await.json()["colour"] == "green").then_some(()) }
    })
    .await;
    assert!(seen.is_some(), "B never read the write made on A");
    // And B's copy is the new one: served from memory again.
    warm(&c, &b).await;

    // Logout on A.
    let (mut c, _) = signed_in_on(&a, &b).await;
    let kept = c.clone();
    assert_eq!(c.post("/logout").await.status, 303);
    refused_within(&kept, &b, limit).await;

    // Revocation through the admin API on A.
    let (c, id) = signed_in_on(&a, &b).await;
    let admin = SessionAdmin::new(a.cache.clone());
    let how = (RevokedBy::operator("test"), RevokeReason::other("test"));
    assert!(admin.revoke(id, how.0, how.1).await.unwrap());
    refused_within(&c, &b, limit).await;

    // Plain SQL, behind both instances' backs.
    for sql in [
        "UPDATE axum_user_sessions.sessions SET revoked_at = now(), revoke_reason = 'sql' WHERE id = $1",
        "UPDATE axum_user_sessions.sessions SET expires_at = now() - interval '1 s' WHERE id = $1",
        "DELETE FROM axum_user_sessions.tokens WHERE session_id = $1",
        "UPDATE axum_user_sessions.tokens SET state = 3, superseded_at = now() WHERE session_id = $1",
        "DELETE FROM axum_user_sessions.sessions WHERE id = $1",
    ] {
        let (c, id) = signed_in_on(&a, &b).await;
        let done = sqlx::query(sql).bind(id).execute(&pool).await.unwrap();
        assert_eq!(done.rows_affected(), 1, "{sql}");
        let took = refused_within(&c, &b, limit).await;
        println!("{sql}: refused on B after {took:?}");
    }
}

/// A role for an instance, with what the crate needs on its tables; dropped
/// at the end of the test. Its name is made here (no injection).
struct Role(String);

async fn exec(pool: &sqlx::PgPool, sql: String) {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .unwrap();
}

impl Role {
    async fn create(pool: &sqlx::PgPool) -> Self {
        let name = format!("aus_test_{}", Uuid::new_v4().simple());
        for sql in [
            format!("CREATE ROLE {name} LOGIN"),
            format!("GRANT USAGE ON SCHEMA axum_user_sessions TO {name}"),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA axum_user_sessions TO {name}"
            ),
            // Nothing on the heartbeat: every role may read it and beat it
            // forward (`feed_beat()`), which this role's caches rely on.
        ] {
            exec(pool, sql).await;
        }
        Self(name)
    }

    async fn remove(self, pool: &sqlx::PgPool) {
        exec(pool, format!("DROP OWNED BY {}", self.0)).await;
        exec(pool, format!("DROP ROLE {}", self.0)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn an_instance_whose_feed_fails_reads_the_database(pool: sqlx::PgPool) {
    common::init_tracing();
    let a = instance(&pool, "instance-a").await;
    let role = Role::create(&pool).await;
    let b = instance_as(&pool, "instance-b", Some(&role.0)).await;
    let (c, _) = signed_in_on(&a, &b).await;

    // The database refuses B's polls (and nothing else B does).
    let refuse = format!(
        "REVOKE SELECT ON axum_user_sessions.session_changes FROM {}",
        role.0
    );
    exec(&pool, refuse).await;
    let down = eventually(Duration::from_secs(10), || async {
        (!b.cache.is_listening()).then_some(())
    })
    .await;
    assert!(down.is_some(), "B never noticed its feed failing");
    // From then on every read goes to the database: a live session is
    // accepted, a session revoked by plain SQL is refused at once.
    assert_eq!(read_once(&c, &b).await, (false, true));
    assert_eq!(read_once(&c, &b).await, (false, true));
    sqlx::query(
        "UPDATE axum_user_sessions.sessions SET revoked_at = now(), revoke_reason = 'test'
          WHERE user_id = 'alice'",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(
        read_once(&c, &b).await,
        (false, false),
        "B accepted a revoked session"
    );

    // The feed comes back, and B serves from memory again.
    let allow = format!(
        "GRANT SELECT ON axum_user_sessions.session_changes TO {}",
        role.0
    );
    exec(&pool, allow).await;
    let back = eventually(Duration::from_secs(10), || async {
        b.cache.is_listening().then_some(())
    })
    .await;
    assert!(back.is_some(), "B's feed did not come back");
    signed_in_on(&a, &b).await;
    drop(b);
    role.remove(&pool).await;
}

#[sqlx::test(migrations = false)]
async fn an_instance_whose_feed_lags_reads_the_database(pool: sqlx::PgPool) {
    common::init_tracing();
    let a = instance(&pool, "instance-a").await;
    let b = instance(&pool, "instance-b").await;
    let (c, id) = signed_in_on(&a, &b).await;

    // Every poll now waits for this transaction's lock: the feeds fall
    // behind (without failing, for a while), and B stops serving from memory.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE axum_user_sessions.session_changes IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let behind = eventually(Duration::from_secs(10), || async {
        (!b.cache.is_listening()).then_some(())
    })
    .await;
    assert!(behind.is_some(), "B never noticed its feed lagging");
    // Revoked by plain SQL with triggers off: a write that logs waits for
    // the lock too, and this one tells no feed. B refuses it all the same.
    let mut revoke = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *revoke)
        .await
        .unwrap();
    sqlx::query("UPDATE axum_user_sessions.sessions SET revoked_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *revoke)
        .await
        .unwrap();
    revoke.commit().await.unwrap();
    assert_eq!(
        read_once(&c, &b).await,
        (false, false),
        "B accepted a revoked session"
    );

    blocker.rollback().await.unwrap();
    let back = eventually(Duration::from_secs(15), || async {
        b.cache.is_listening().then_some(())
    })
    .await;
    assert!(back.is_some(), "B's feed did not catch up");
    signed_in_on(&a, &b).await;
}
