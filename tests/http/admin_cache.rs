//! A layer with the cache, and revocations made through another admin
//! handle on the same database (`SessionAdmin::new(pool)`): they reach the
//! cache at once on SQLite and memory (which have no change feed), and
//! through the feed on Postgres, on every store.

use crate::common;

use axum_user_sessions::{CacheConfig, RevokeReason, RevokedBy, SessionAdmin};
use common::{Backend, Client, Kind, eventually, serve_demo};
use std::time::Duration;

conformance!(revocation_by_another_admin_handle_reaches_the_cache);

/// An admin handle of its own on `b`'s database: a new store on the pool,
/// as an app's admin code would make it (the memory store is its clones).
fn separate_admin(b: &Backend) -> SessionAdmin {
    match b.kind {
        Kind::Sqlite => SessionAdmin::new(b.sqlite.clone().unwrap()),
        Kind::Postgres | Kind::PostgresCached => SessionAdmin::new(b.pg.clone().unwrap()),
        Kind::PgBouncer => {
            let pool =
                sqlx::postgres::PgPoolOptions::new().connect_lazy_with(b.store_connect_options());
            SessionAdmin::new(b.pg_store(pool))
        }
        Kind::Memory | Kind::Redis | Kind::RedisCluster => SessionAdmin::new(b.store.clone()),
    }
}

/// Whether `c` is signed in, waiting (bounded) for the feed on Postgres;
/// on SQLite and memory the answer must be right at once.
async fn signed_out(b: &Backend, c: &mut Client) -> bool {
    if matches!(b.kind, Kind::Sqlite | Kind::Memory) {
        return c.me().await.is_none();
    }
    eventually(Duration::from_secs(10), || {
        let mut c = c.clone();
        async move { c.me().await.is_none().then_some(()) }
    })
    .await
    .is_some()
}

async fn revocation_by_another_admin_handle_reaches_the_cache(b: Backend) {
    // The backend's own cache for Postgres+cache; the layer's otherwise.
    let layer = if b.cached() {
        b.layer()
    } else {
        b.layer().with_cache(CacheConfig::default())
    };
    let app = serve_demo(layer).await;
    let (mut phone, mut laptop, mut tablet) =
        (Client::new(&app), Client::new(&app), Client::new(&app));
    for c in [&mut phone, &mut laptop, &mut tablet] {
        c.login("alice").await;
        assert_eq!(c.me().await.as_deref(), Some("alice"));
    }
    // Served from the cache now.
    let before = b.round_trips();
    assert_eq!(phone.me().await.as_deref(), Some("alice"));
    if !matches!(b.kind, Kind::Postgres | Kind::PgBouncer) {
        assert_eq!(b.round_trips(), before, "not served from the cache");
    }

    let admin = separate_admin(&b);
    let id = phone.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let by = || RevokedBy::operator("support");
    assert!(admin.revoke(id, by(), RevokeReason::Admin).await.unwrap());
    assert!(signed_out(&b, &mut phone).await, "revoked, yet served");
    assert_eq!(laptop.me().await.as_deref(), Some("alice"));

    // A user's sessions, all at once.
    let n = admin
        .revoke_user_sessions("alice", None, by(), RevokeReason::PasswordChange)
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert!(signed_out(&b, &mut laptop).await, "revoked, yet served");
    assert!(signed_out(&b, &mut tablet).await, "revoked, yet served");
}
