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
    RedisOptions, RedisStore, Revocation, RevokeReason, RevokeScope, UpdateOutcome, placement,
};
use std::time::Duration;
use time::OffsetDateTime;

/// Node `port`'s id.
fn id_of(port: u16) -> String {
    cli(port, &["cluster", "myid"]).trim().to_owned()
}

/// A store on the Cluster of `ports`, under `prefix`.
async fn store_on(ports: &[u16], prefix: &str) -> RedisStore {
    let addrs: Vec<String> = ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    let options = RedisOptions::default().prefix(prefix);
    RedisStore::cluster_with(&addrs, options).await.unwrap()
}

/// The index of `user`'s sessions, whose slot their keys share.
fn index_key(prefix: &str, user: &str) -> String {
    format!("{prefix}:{{{:04x}}}:u:{user}", placement::tag_of_user(user))
}

/// A slot moving from its master (`from`) to another (`to`).
struct Move {
    slot: String,
    from: u16,
    to: u16,
    to_id: String,
    /// Every master.
    all: Vec<u16>,
}

/// Starts moving the slot of `key` to another master: `to` importing it,
/// its master migrating it (`any`: a node to ask).
fn start_move(any: u16, key: &str) -> Move {
    let slot = cli(any, &["cluster", "keyslot", key]).trim().to_owned();
    let owns = |p: u16| cli(p, &["cluster", "countkeysinslot", &slot]).trim() != "0";
    let all = masters(any);
    let from = *all.iter().find(|&&p| owns(p)).expect("the slot's master");
    let to = *all.iter().find(|&&p| p != from).unwrap();
    let (from_id, to_id) = (id_of(from), id_of(to));
    cli(to, &["cluster", "setslot", &slot, "importing", &from_id]);
    cli(from, &["cluster", "setslot", &slot, "migrating", &to_id]);
    Move {
        slot,
        from,
        to,
        to_id,
        all,
    }
}

/// Moves the keys of `slot` still on `from` to `to`.
fn migrate_rest(from: u16, to: u16, slot: &str) {
    let rest = cli(from, &["cluster", "getkeysinslot", slot, "1000"]);
    for key in rest.lines().filter(|k| !k.is_empty()) {
        let moved = cli(
            from,
            &["migrate", "127.0.0.1", &to.to_string(), key, "0", "5000"],
        );
        assert!(moved.contains("OK"), "{moved}");
    }
}

/// Ends the move of `slot`: every master names `to_id`, and the Cluster
/// (`ports`) settles.
async fn end_move(ports: &[u16], all: &[u16], slot: &str, to_id: &str) {
    for &p in all {
        cli(p, &["cluster", "setslot", slot, "node", to_id]);
    }
    let settled = eventually(Duration::from_secs(20), || async {
        ports
            .iter()
            .all(|&p| cli(p, &["cluster", "info"]).contains("cluster_state:ok"))
            .then_some(())
    })
    .await;
    assert!(settled.is_some(), "the Cluster did not settle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_users_sessions_survive_their_slot_moving() {
    let Some(nodes) = start_cluster().await else {
        return;
    };
    let prefix = fresh_prefix();
    let store = store_on(&nodes.ports, &prefix).await;
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

    let Move {
        slot,
        from,
        to,
        to_id,
        all,
    } = start_move(nodes.ports[0], &index_key(&prefix, user));
    // Half moved: the index and the "not before" key are on `to`, the
    // session still on `from`.
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
    migrate_rest(from, to, &slot);
    end_move(&nodes.ports, &all, &slot, &to_id).await;

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

/// A script sent to the importing node of a moving slot (by `ASK`), which
/// never ran it, runs there: `NOSCRIPT` sends it again with its source.
/// (Loading it where the slot map points loaded it on the node that
/// answered `ASK` again, three times, then answered 503.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_script_runs_on_an_importing_node_that_lacks_it() {
    let Some(nodes) = start_cluster().await else {
        return;
    };
    let prefix = fresh_prefix();
    let store = store_on(&nodes.ports, &prefix).await;
    let store: &dyn SessionProtocol = &store;
    let user = "importing";
    // Every slot's "not before" key exists (a script that names a key the
    // importing node lacks is refused with TRYAGAIN, another story).
    let how = Revocation::system(RevokeReason::Admin, OffsetDateTime::now_utc());
    store.revoke(&RevokeScope::Everyone, &how).await.unwrap();
    let r = user_record(placement::session_id(Some(user)), user);
    store.create(&r, &hash(1)).await.unwrap();
    let zero = serde_json::json!(0);
    let written = store.update_value(r.id, "k", None, Some(&zero)).await;
    assert!(
        matches!(written, Ok(UpdateOutcome::Updated { .. })),
        "{written:?}"
    );

    // Every key of the slot on `to`, which has no script: the slot's
    // master answers `ASK` for each.
    let m = start_move(nodes.ports[0], &index_key(&prefix, user));
    migrate_rest(m.from, m.to, &m.slot);
    assert_eq!(cli(m.to, &["script", "flush"]).trim(), "OK");
    let one = serde_json::json!(1);
    let out = store.update_value(r.id, "k", Some(&zero), Some(&one)).await;
    assert!(matches!(out, Ok(UpdateOutcome::Updated { .. })), "{out:?}");

    end_move(&nodes.ports, &m.all, &m.slot, &m.to_id).await;
    let after = store.get(r.id).await.unwrap().expect("the session");
    assert_eq!(after.data["k"], one);
}
