//! A user's slot moving between the masters of a Cluster (a resharding),
//! on servers of the test's own: the read of the user's sessions declares
//! every key it reads, so that while the slot moves Redis refuses it whole
//! rather than run it where the index is and a session is not (which
//! dropped the live session from the index: revocations of the user
//! missed it from then on).

use crate::common::eventually;
use crate::common::redis::{fresh_prefix, hash, user_record};
use crate::common::redis_cluster::{cli, masters, start_cluster};
use axum_user_sessions::SessionProtocol;
use axum_user_sessions::store::{
    RedisOptions, RedisStore, Revocation, RevokeReason, RevokeScope, placement,
};
use std::time::Duration;
use time::OffsetDateTime;

/// The store's read of a user's sessions, as it loads it.
const LIST: &str = concat!(
    include_str!("../../src/store/redis/lua/lib.lua"),
    include_str!("../../src/store/redis/lua/list.lua")
);
const MEMBERS: &str = concat!(
    include_str!("../../src/store/redis/lua/lib.lua"),
    include_str!("../../src/store/redis/lua/members.lua")
);

/// Node `port`'s id.
fn id_of(port: u16) -> String {
    cli(port, &["cluster", "myid"]).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_users_sessions_survive_their_slot_moving() {
    let Some(nodes) = start_cluster().await else {
        return;
    };
    let addrs: Vec<String> = nodes
        .ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    let prefix = fresh_prefix();
    let options = RedisOptions::default().prefix(prefix.clone());
    let store = RedisStore::cluster_with(&addrs, options).await.unwrap();
    let store: &dyn SessionProtocol = &store;
    let user = "moving";
    // A revocation of everyone first: the slot of the session it ends gets
    // its "not before" key, which the read of a user's sessions declares
    // beside the index.
    let ended = user_record(placement::session_id(Some(user)), user);
    store.create(&ended, &hash(2)).await.unwrap();
    let how = Revocation::system(RevokeReason::Admin, OffsetDateTime::now_utc());
    store.revoke(&RevokeScope::Everyone, &how).await.unwrap();
    let r = user_record(placement::session_id(Some(user)), user);
    store.create(&r, &hash(1)).await.unwrap();

    // The slot of the user's keys, its master (`from`) and another (`to`).
    let index = format!("{prefix}:{{{:04x}}}:u:{user}", placement::tag_of_user(user));
    let any = nodes.ports[0];
    let slot = cli(any, &["cluster", "keyslot", &index]).trim().to_owned();
    let owns = |p: u16| cli(p, &["cluster", "countkeysinslot", &slot]).trim() != "0";
    let all = masters(any);
    let from = *all.iter().find(|&&p| owns(p)).expect("the slot's master");
    let to = *all.iter().find(|&&p| p != from).unwrap();
    let (from_id, to_id) = (id_of(from), id_of(to));

    // Every master has the store's scripts, as after any traffic (a
    // script a node lacks answers NOSCRIPT, which a moving slot turns
    // into `503`: that would hide what this test looks at).
    for script in [LIST, MEMBERS] {
        for &p in &all {
            let sha = cli(p, &["script", "load", script]);
            assert_eq!(sha.trim().len(), 40, "{sha}");
        }
    }

    // Half moved: the index and the "not before" key are on `to`, the
    // session still on `from`.
    cli(to, &["cluster", "setslot", &slot, "importing", &from_id]);
    cli(from, &["cluster", "setslot", &slot, "migrating", &to_id]);
    let to_port = to.to_string();
    let keys = cli(from, &["cluster", "getkeysinslot", &slot, "1000"]);
    let session_key = format!(":s:{}", r.id);
    let first: Vec<&str> = keys
        .lines()
        .filter(|k| !k.is_empty() && !k.ends_with(&session_key))
        .collect();
    assert!(first.len() >= 2, "the index and the not-before key: {keys}");
    let mut migrate = vec!["migrate", "127.0.0.1", &to_port, "", "0", "5000", "keys"];
    migrate.extend(&first);
    let moved = cli(from, &migrate);
    assert!(moved.contains("OK"), "{moved}");
    let how = Revocation::system(RevokeReason::User, OffsetDateTime::now_utc());
    let user_scope = RevokeScope::User {
        user_id: user,
        keep: None,
    };
    // Refused whole while the slot moves, or done whole.
    match store.revoke(&user_scope, &how).await {
        Ok(n) => assert_eq!(n, 1, "a revocation of the user missed a session"),
        Err(e) => assert!(e.is_unavailable(), "{e:?}"),
    }

    // The move ends: every key on `to`, which every master names.
    let rest = cli(from, &["cluster", "getkeysinslot", &slot, "1000"]);
    for key in rest.lines().filter(|k| !k.is_empty()) {
        cli(from, &["migrate", "127.0.0.1", &to_port, key, "0", "5000"]);
    }
    for &p in &all {
        cli(p, &["cluster", "setslot", &slot, "node", &to_id]);
    }
    let settled = eventually(Duration::from_secs(20), || async {
        nodes
            .ports
            .iter()
            .all(|&p| cli(p, &["cluster", "info"]).contains("cluster_state:ok"))
            .then_some(())
    })
    .await;
    assert!(settled.is_some(), "the Cluster did not settle");

    // The session is still the user's, in the index: listed while live,
    // revoked by the next revocation of the user.
    let now = OffsetDateTime::now_utc();
    let listed = store.list_user(user, now).await.unwrap();
    if let Some(live) = listed.first() {
        assert_eq!(live.id, r.id);
        assert_eq!(store.revoke(&user_scope, &how).await.unwrap(), 1);
    }
    let after = store.get(r.id).await.unwrap().expect("the session's key");
    assert!(after.revoked_at.is_some(), "never revoked: {after:?}");
    let ended = store
        .list_user(user, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(ended.is_empty(), "{ended:?}");
}
