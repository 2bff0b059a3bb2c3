//! The tool on Redis (the feature `cli` includes `redis`): on a node,
//! `DATABASE_URL=redis://…`, on a database number of this test's own,
//! counted by differences (keys of earlier runs may still be there, with
//! their TTL); on a Cluster, `DATABASE_URL=redis://a,redis://b,…`.

use super::{FIREFOX, assert_error, cli, hash, ids, ok, stats_json};
use axum_user_sessions::store::{SessionRecord, placement};
use time::OffsetDateTime;

#[tokio::test]
async fn redis_end_to_end() {
    let Some(node) = crate::common::redis::node_url() else {
        return;
    };
    let url = format!("{}/7", node.trim_end_matches('/'));
    let out = ok(&url, &["migrate"]).await;
    assert!(out.contains("Nothing to do"), "{out}");
    let store = axum_user_sessions::store::connect(&url).await.unwrap();
    let before = stats_json(&ok(&url, &["stats", "--json"]).await);

    let (alice, bob) = (
        format!("alice-{}", uuid::Uuid::new_v4().simple()),
        format!("bob-{}", uuid::Uuid::new_v4().simple()),
    );
    let now = OffsetDateTime::now_utc();
    let mut made = Vec::new();
    for (n, user, ttl) in [
        (1, &alice, time::Duration::hours(1)),
        (2, &alice, time::Duration::hours(1)),
        (3, &bob, -time::Duration::hours(1)),
    ] {
        let mut r = SessionRecord::new(placement::session_id(Some(user)), now);
        r.user_id = Some(user.clone());
        r.user_agent = Some(FIREFOX.into());
        (r.expires_at, r.absolute_expires_at) = (now + ttl, now + ttl + time::Duration::hours(1));
        store.create(&r, &hash(n)).await.unwrap();
        made.push(r);
    }

    let json = ok(&url, &["list", "--user", &alice, "--json"]).await;
    let want = [made[0].id.to_string(), made[1].id.to_string()];
    assert_eq!(ids(&json), want.into_iter().collect(), "{json}");
    let table = ok(&url, &["list", "--user", &alice]).await;
    assert!(table.contains("Firefox on Linux"), "{table}");
    let after = stats_json(&ok(&url, &["stats", "--json"]).await);
    assert_eq!(
        after.0 - before.0,
        2,
        "active sessions: {before:?} -> {after:?}"
    );
    assert_eq!(
        after.1 - before.1,
        1,
        "active users: {before:?} -> {after:?}"
    );
    assert!(after.2 > before.2 || after.2 >= 1, "collectable: {after:?}");

    let id = made[0].id.to_string();
    let out = ok(&url, &["revoke", "--session", &id]).await;
    assert!(out.contains("Revoked 1 session"), "{out}");
    let run = cli(Some(&url), &["revoke", "--session", &id]).await;
    assert_eq!(run.code, 1, "{run:?}");

    let out = ok(&url, &["gc"]).await;
    assert!(out.contains("Deleted"), "{out}");
    assert!(
        store.get(made[2].id).await.unwrap().is_none(),
        "gc took bob's expired session"
    );
    assert!(store.get(made[1].id).await.unwrap().is_some());
}

/// A Cluster from comma-separated URLs; a Redis URL the client cannot
/// read is a usage error (exit 2), not an outage.
#[tokio::test]
async fn redis_cluster_and_a_bad_url() {
    let Some(nodes) = crate::common::redis::cluster_nodes() else {
        return;
    };
    let url: Vec<String> = nodes.iter().map(|n| format!("redis://{n}")).collect();
    let url = url.join(",");
    let store = axum_user_sessions::store::connect(&url).await.unwrap();
    let user = format!("carol-{}", uuid::Uuid::new_v4().simple());
    let now = OffsetDateTime::now_utc();
    let mut r = SessionRecord::new(placement::session_id(Some(&user)), now);
    r.user_id = Some(user.clone());
    (r.expires_at, r.absolute_expires_at) = (
        now + time::Duration::hours(1),
        now + time::Duration::hours(2),
    );
    store.create(&r, &hash(1)).await.unwrap();
    let json = ok(&url, &["list", "--user", &user, "--json"]).await;
    assert_eq!(
        ids(&json),
        [r.id.to_string()].into_iter().collect(),
        "{json}"
    );
    let out = ok(&url, &["revoke", "--user", &user]).await;
    assert!(out.contains("Revoked 1 session"), "{out}");

    let run = cli(Some("redis://127.0.0.1:notaport"), &["stats"]).await;
    assert_error(&run, 2, "invalid database URL");
}
