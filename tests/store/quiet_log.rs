//! The Postgres change log is written only while some cache's change feed is
//! registered on the database (its heartbeat, migration `quiet_log`): with
//! no cache, a write pays nothing for coherence; a cache that starts while a
//! writer is open is not live before that writer ends; a cache whose
//! heartbeat cannot be renewed stops serving from memory.

use crate::common;
use axum_user_sessions::{CacheConfig, CachedStore, PgStore, SessionProtocol};
use common::{Backend, Client, eventually, serve_demo, wait_listening};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// The change log's rows, by kind (0 a session row, 1 tokens, 2 deletions).
async fn kinds(pg: &sqlx::PgPool) -> BTreeMap<i16, i64> {
    let rows: Vec<(i16, i64)> = sqlx::query_as(
        "SELECT kind, count(*) FROM axum_user_sessions.session_changes GROUP BY kind",
    )
    .fetch_all(pg)
    .await
    .unwrap();
    rows.into_iter().collect()
}

pub(crate) async fn session_id(c: &mut Client) -> Uuid {
    c.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A transaction that sets session `id`'s key `k` to `"after"` and stays
/// open.
pub(crate) async fn open_writer(
    pg: &sqlx::PgPool, id: Uuid,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut writer = pg.begin().await.unwrap();
    sqlx::query(
        "UPDATE axum_user_sessions.sessions SET data = data || '{\"k\":\"after\"}' WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *writer)
    .await
    .unwrap();
    writer
}

/// Through the real layer over HTTP: a data write, a rotation, a sign-out
/// (a revocation), an admin revocation and a deletion.
async fn write_every_way(b: &Backend) {
    let layer = b
        .layer()
        .with_rotation_interval(Duration::from_secs(1))
        .with_rotation_grace(Duration::from_secs(5));
    let app = serve_demo(layer).await;
    let (mut phone, mut laptop, mut tablet) =
        (Client::new(&app), Client::new(&app), Client::new(&app));
    for c in [&mut phone, &mut laptop, &mut tablet] {
        c.login("alice").await;
    }
    assert_eq!(phone.put_kv("k", "v").await.status, 204);
    let before = phone.cookie.clone();
    let rotated = eventually(Duration::from_secs(20), || {
        let mut c = phone.clone();
        let before = before.clone();
        async move {
            let res = c.get("/me").await;
            assert_eq!(res.status, 200, "{}", res.body);
            c.absorb(&res);
            (c.cookie != before).then_some(c)
        }
    })
    .await;
    phone = rotated.expect("the token never rotated");
    assert_eq!(phone.me().await.as_deref(), Some("alice"));
    assert_eq!(laptop.post("/logout").await.status, 303);
    let admin = axum_user_sessions::SessionAdmin::new(b.pg.clone().unwrap());
    let by = axum_user_sessions::RevokedBy::operator("support");
    let reason = axum_user_sessions::RevokeReason::Admin;
    let id = session_id(&mut phone).await;
    assert!(admin.revoke(id, by, reason).await.unwrap());
    let id = session_id(&mut tablet).await;
    assert!(b.store.delete(id).await.unwrap());
}

#[sqlx::test(migrations = false)]
async fn with_no_cache_running_writes_log_nothing(pool: sqlx::PgPool) {
    let b = Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    write_every_way(&b).await;
    let plain = "UPDATE axum_user_sessions.sessions SET revoked_at = now()";
    sqlx::query(plain).execute(&pg).await.unwrap();
    assert_eq!(kinds(&pg).await, BTreeMap::new(), "logged with no cache");
}

#[sqlx::test(migrations = false)]
async fn with_a_cache_running_every_kind_of_write_is_logged(pool: sqlx::PgPool) {
    let b = Backend::postgres_cached(pool).await;
    let pg = b.pg.clone().unwrap();
    write_every_way(&b).await;
    let logged = kinds(&pg).await;
    for kind in [0, 1, 2] {
        assert!(logged.get(&kind).copied().unwrap_or(0) > 0, "{logged:?}");
    }
    // A second instance's cache sees a plain-SQL change.
    let app = serve_demo(b.layer()).await;
    let mut c = Client::new(&app);
    c.login("bob").await;
    let other = b.another_instance().await;
    let app_b = serve_demo(axum_user_sessions::SessionLayer::new(other)).await;
    let mut on_b = c.clone();
    on_b.base = app_b.base.clone();
    assert_eq!(on_b.me().await.as_deref(), Some("bob"));
    assert_eq!(on_b.me().await.as_deref(), Some("bob"));
    sqlx::query("UPDATE axum_user_sessions.sessions SET revoked_at = now() WHERE user_id = 'bob'")
        .execute(&pg)
        .await
        .unwrap();
    let refused = eventually(Duration::from_secs(10), || {
        let mut c = on_b.clone();
        async move { c.me().await.is_none().then_some(()) }
    })
    .await;
    assert!(refused.is_some(), "B served a session revoked by plain SQL");
}

/// The race the registration closes: a writer that read the heartbeat
/// before the cache registered logged nothing; the cache must not serve
/// the copy it would read while that writer is open.
#[sqlx::test(migrations = false)]
async fn a_cache_is_not_live_until_writers_open_at_its_start_end(pool: sqlx::PgPool) {
    let b = Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    let plain = serve_demo(b.layer()).await;
    let mut c = Client::new(&plain);
    c.login("alice").await;
    assert_eq!(c.put_kv("k", "before").await.status, 204);
    let id = session_id(&mut c).await;

    // The writer, open from before the cache starts.
    let writer = open_writer(&pg, id).await;

    let cached = CachedStore::new(PgStore::new(pg.clone()), CacheConfig::default());
    let probe = axum_user_sessions::store::TokenHash::from_bytes([0; 32]);
    let now = time::OffsetDateTime::now_utc();
    let touch = axum_user_sessions::store::Touch::new(now, now);
    cached.load(None, &probe, &touch).await.unwrap(); // starts the feed
    // Registered (the heartbeat is fresh), yet not live while the writer is open.
    let registered = eventually(Duration::from_secs(10), || {
        let pg = pg.clone();
        async move {
            let ms: i64 =
                sqlx::query_scalar("SELECT last_value FROM axum_user_sessions.feed_heartbeat")
                    .fetch_one(&pg)
                    .await
                    .unwrap();
            (ms > 0).then_some(())
        }
    })
    .await;
    assert!(registered.is_some(), "the feed never sent its heartbeat");
    let live = eventually(Duration::from_secs(2), || async {
        cached.is_listening().then_some(())
    })
    .await;
    assert!(
        live.is_none(),
        "live while a writer that skipped the log is open"
    );
    let app = serve_demo(axum_user_sessions::SessionLayer::new(cached.clone())).await;
    let mut on_cached = c.clone();
    on_cached.base = app.base.clone();
    for _ in 0..3 {
        assert_eq!(on_cached.get("/kv").await.json()["k"], "before");
    }
    writer.commit().await.unwrap();
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM axum_user_sessions.session_changes WHERE session_id = $1",
    )
    .bind(id)
    .fetch_one(&pg)
    .await
    .unwrap();
    assert_eq!(logged, 0, "the writer logged: the race was not set up");
    wait_listening(&cached).await;
    for _ in 0..3 {
        assert_eq!(
            on_cached.get("/kv").await.json()["k"],
            "after",
            "served the copy from before the writer committed"
        );
    }
    assert!(cached.hits() > 0, "never served from memory once live");
}

#[sqlx::test(migrations = false)]
async fn an_expired_heartbeat_stops_the_log(pool: sqlx::PgPool) {
    let b = Backend::postgres_cached(pool).await;
    let pg = b.pg.clone().unwrap();
    let id = b
        .seed_session("alice", time::OffsetDateTime::now_utc())
        .await;
    let write = "UPDATE axum_user_sessions.sessions SET data = data || '{\"n\":1}' WHERE id = $1";
    sqlx::query(write).bind(id).execute(&pg).await.unwrap();
    assert_eq!(
        kinds(&pg).await.get(&0),
        Some(&1),
        "not logged with a cache"
    );
    drop(b); // the cache stops, and so does its feed
    // Set the heartbeat back (again, should a last heartbeat land after).
    let quiet = eventually(Duration::from_secs(20), || {
        let pg = pg.clone();
        async move {
            let before = kinds(&pg).await.get(&0).copied();
            sqlx::query("SELECT setval('axum_user_sessions.feed_heartbeat', 0)")
                .execute(&pg)
                .await
                .unwrap();
            sqlx::query(write).bind(id).execute(&pg).await.unwrap();
            (kinds(&pg).await.get(&0).copied() == before).then_some(())
        }
    })
    .await;
    assert!(
        quiet.is_some(),
        "writes kept logging after the heartbeat expired"
    );
}

#[sqlx::test(migrations = false)]
async fn a_cache_whose_heartbeat_fails_stops_serving(pool: sqlx::PgPool) {
    let b = Backend::postgres_cached(pool).await;
    let pg = b.pg.clone().unwrap();
    let cached = CachedStore::new(PgStore::new(pg.clone()), CacheConfig::default());
    wait_listening(&cached).await;
    // Every heartbeat (`setval`) now waits for this lock until it times
    // out; polls do not touch the sequence, and reads of it do not wait.
    let mut blocker = pg.begin().await.unwrap();
    sqlx::query("ALTER SEQUENCE axum_user_sessions.feed_heartbeat CACHE 1")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let down = eventually(Duration::from_secs(30), || async {
        (!cached.is_listening()).then_some(())
    })
    .await;
    assert!(down.is_some(), "served from memory without a heartbeat");
    blocker.rollback().await.unwrap();
    wait_listening(&cached).await;
    drop(b);
}
