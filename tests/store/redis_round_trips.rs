//! What one call of the Redis store costs on the wire, counted by a proxy
//! in front of the node ([`RespCounter`]): a data write, the
//! compare-and-set of one key and a load whose touch is due, each with its
//! checks in one script; and a waiting call that answers without writing
//! (revoking a session already revoked) waits behind a write of its own.

use crate::common::redis::{counted, fresh_prefix, node_url, sent};
use axum_user_sessions::SessionProtocol;
use axum_user_sessions::store::{
    DataPatch, ListQuery, RedisOptions, RedisStore, Revocation, RevokeReason, RevokeScope,
    RevokedBy, SessionRecord, TokenHash, Touch, UpdateOutcome, placement,
};
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;

fn session(user: &str) -> SessionRecord {
    let t0 = OffsetDateTime::now_utc() - Duration::from_secs(600);
    let mut r = SessionRecord::new(placement::session_id(Some(user)), t0);
    r.user_id = Some(user.into());
    (r.expires_at, r.absolute_expires_at) = (
        t0 + Duration::from_secs(3600),
        t0 + Duration::from_secs(86_400),
    );
    r
}

/// A data write and the compare-and-set of one key are one command each
/// (one script, its checks in it); a load whose touch is due is two (the
/// read, then the touch at the version read).
#[tokio::test]
async fn redis_data_writes_are_one_round_trip() {
    let Some((s, counter)) = counted(RedisOptions::default().prefix(fresh_prefix())).await else {
        return;
    };
    let token = TokenHash::from_bytes([1; 32]);
    let r = session("round-trips");
    s.create(&r, &token).await.unwrap();
    let mut patch = DataPatch::default();
    patch.set.insert("cart".into(), json!([1, 2]));
    // Once each first: a script the server does not have yet costs a load.
    s.patch_data(r.id, &patch).await.unwrap().unwrap();
    s.update_value(r.id, "n", None, Some(&json!(0)))
        .await
        .unwrap();

    patch.set.insert("cart".into(), json!([1, 2, 3]));
    patch.remove.push("gone".into());
    let (version, cmds) = sent(&counter, s.patch_data(r.id, &patch)).await;
    assert!(version.unwrap().is_some());
    assert_eq!(cmds, ["EVALSHA"], "a data write");

    let (out, cmds) = sent(
        &counter,
        s.update_value(r.id, "n", Some(&json!(0)), Some(&json!(1))),
    )
    .await;
    assert!(out.unwrap().is_updated());
    assert_eq!(cmds, ["EVALSHA"], "a compare-and-set that wins");
    let (out, cmds) = sent(
        &counter,
        s.update_value(r.id, "n", Some(&json!(0)), Some(&json!(2))),
    )
    .await;
    assert_eq!(
        out.unwrap(),
        UpdateOutcome::Conflict {
            current: Some(json!(1))
        }
    );
    assert_eq!(cmds, ["EVALSHA"], "a compare-and-set that loses");

    let now = OffsetDateTime::now_utc();
    let touch = Touch::new(now, now + Duration::from_secs(1800))
        .with_ip(Some("192.0.2.7".parse().unwrap()), now);
    let (loaded, cmds) = sent(&counter, s.load(Some(r.id), &token, &touch)).await;
    let loaded = loaded.unwrap().unwrap();
    // The session and its slot's "not before" key, in one pipeline; then
    // the touch.
    assert_eq!(
        cmds,
        ["HGETALL", "HGETALL", "EVALSHA"],
        "a load whose touch is due"
    );
    let kept = s.get(r.id).await.unwrap().unwrap();
    assert_eq!(kept.last_seen_at, now);
    assert_eq!(kept.last_ip, touch.ip);
    assert_eq!(kept.version, loaded.record.version);
    assert_eq!(kept.data.get("n"), Some(&json!(1)));
    assert_eq!(kept.data.get("cart"), Some(&json!([1, 2, 3])));

    let touch = Touch::new(now, now + Duration::from_secs(1800))
        .with_stale_before(now - Duration::from_secs(60));
    let (_, cmds) = sent(&counter, s.load(Some(r.id), &token, &touch)).await;
    assert_eq!(
        cmds,
        ["HGETALL", "HGETALL"],
        "a load whose touch is not due"
    );
}

/// A revocation that finds the session already revoked answers only once
/// the replicas have that revocation: its `WAIT` follows a write of its
/// own on the session's slot, on the same connection (a `WAIT` after no
/// write counts nothing). So does a user's revocation that finds every
/// session revoked (a retry after a `WAIT` that timed out). Asked for more
/// replicas than there are (the node has none; each Cluster master has
/// one), the call is unavailable rather than acknowledged.
#[tokio::test]
async fn redis_a_revocation_that_writes_nothing_still_waits() {
    let Some(url) = node_url() else {
        return;
    };
    let how = Revocation::system(RevokeReason::User, OffsetDateTime::now_utc());
    let user = "already-revoked";
    let r = session(user);
    let scopes = [
        RevokeScope::session(r.id),
        RevokeScope::User {
            user_id: user,
            keep: None,
        },
    ];
    for scope in scopes {
        let prefix = fresh_prefix();
        let node = RedisStore::connect_with(&url, RedisOptions::default().prefix(prefix.clone()))
            .await
            .unwrap();
        node.create(&r, &TokenHash::from_bytes([2; 32]))
            .await
            .unwrap();
        assert_eq!(node.revoke(&scope, &how).await.unwrap(), 1);

        let options = RedisOptions::default()
            .prefix(prefix)
            .min_replicas(1)
            .wait_timeout(Duration::from_millis(20));
        let (waiting, counter) = counted(options).await.unwrap();
        let (out, cmds) = sent(&counter, waiting.revoke(&scope, &how)).await;
        let err = out.unwrap_err();
        assert!(err.is_unavailable(), "{scope:?}: {err:?}");
        assert_eq!(
            cmds[cmds.len() - 2..],
            ["EVALSHA", "WAIT"],
            "{scope:?}: {cmds:?}"
        );
    }

    let Some(nodes) = crate::common::redis::cluster_nodes() else {
        return;
    };
    let prefix = fresh_prefix();
    let cluster = |options: RedisOptions| RedisStore::cluster_with(&nodes, options);
    let s = cluster(RedisOptions::default().prefix(prefix.clone()))
        .await
        .unwrap();
    let r = session("already-revoked");
    s.create(&r, &TokenHash::from_bytes([3; 32])).await.unwrap();
    let scope = RevokeScope::session(r.id);
    assert_eq!(s.revoke(&scope, &how).await.unwrap(), 1);
    let options = RedisOptions::default()
        .prefix(prefix)
        .min_replicas(3)
        .wait_timeout(Duration::from_millis(20));
    let err = cluster(options)
        .await
        .unwrap()
        .revoke(&scope, &how)
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

/// A `WAIT` holds its connection until the replicas answer: while a
/// revocation waits for a replica the node does not have, a read of
/// another session and a data write answer, on the connection the calls
/// that do not wait share.
#[tokio::test]
async fn redis_a_wait_holds_up_no_read_or_data_write() {
    let Some(url) = node_url() else {
        return;
    };
    let prefix = fresh_prefix();
    // Made by a store that waits for no replica: the node has none.
    let plain = RedisOptions::default().prefix(prefix.clone());
    let plain = RedisStore::connect_with(&url, plain).await.unwrap();
    let (revoked, other) = (session("waits"), session("reads"));
    plain
        .create(&revoked, &TokenHash::from_bytes([4; 32]))
        .await
        .unwrap();
    plain
        .create(&other, &TokenHash::from_bytes([5; 32]))
        .await
        .unwrap();

    let options = RedisOptions::default()
        .prefix(prefix)
        .min_replicas(1)
        .wait_timeout(Duration::from_secs(300));
    let (s, counter) = counted(options).await.unwrap();
    let how = Revocation::system(RevokeReason::User, OffsetDateTime::now_utc());
    let scope = RevokeScope::session(revoked.id);
    let revoking = s.revoke(&scope, &how);
    let reading = async {
        // Once the revocation's `WAIT` is in flight (a bounded poll).
        let waiting = || counter.commands().iter().any(|c| c == "WAIT");
        for _ in 0..2_000 {
            if waiting() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(waiting(), "no WAIT was sent");
        let read = s.get(other.id).await.unwrap();
        let mut patch = DataPatch::default();
        patch.set.insert("k".into(), json!(1));
        let written = s.patch_data(other.id, &patch).await.unwrap();
        (read.map(|r| r.id), written)
    };
    // The `WAIT` lasts 5 minutes; a read and a write behind it would not
    // answer in 1.
    let bounded = tokio::time::timeout(Duration::from_secs(60), reading);
    let answered = tokio::select! {
        biased;
        answered = bounded => answered.expect("the calls waited behind the revocation's WAIT"),
        out = revoking => panic!("the revocation answered first: {out:?}"),
    };
    assert_eq!(answered, (Some(other.id), Some(1)));
}

/// Revoking everyone writes no session: one "not before" generation per
/// hash slot (16384 scripts, however many sessions), and every session
/// inserted before counts as revoked at once, for reads, lists and
/// writes; one inserted after stays signed in. On the node (counted) and
/// on the Cluster.
#[tokio::test]
async fn redis_revoking_everyone_writes_one_key_per_slot() {
    let Some((node, counter)) = counted(RedisOptions::default().prefix(fresh_prefix())).await
    else {
        return;
    };
    let how = Revocation::new(
        RevokeReason::other("incident"),
        RevokedBy::operator("admin:zoe"),
        OffsetDateTime::now_utc(),
    );
    let mut made = Vec::new();
    for n in 0..12u8 {
        let r = session(&format!("everyone-{}", n % 4));
        node.create(&r, &TokenHash::from_bytes([n; 32]))
            .await
            .unwrap();
        made.push(r);
    }
    let (revoked, cmds) = sent(&counter, node.revoke(&RevokeScope::Everyone, &how)).await;
    assert_eq!(revoked.unwrap(), 12);
    let scripts = cmds.iter().filter(|c| *c == "EVALSHA").count();
    assert_eq!(scripts, 16_384, "one per slot, none per session");
    assert!(!cmds.iter().any(|c| c == "HSET" || c == "EVAL"), "{cmds:?}");
    let mut patch = DataPatch::default();
    patch.set.insert("k".into(), json!(1));
    for r in &made {
        let kept = node.get(r.id).await.unwrap().unwrap();
        assert_eq!(kept.revoked_at, Some(how.at));
        assert_eq!(kept.revoked_by.as_deref(), Some("admin:zoe"));
        assert_eq!(node.patch_data(r.id, &patch).await.unwrap(), None);
        let user = r.user_id.as_deref().unwrap();
        let listed = (&node as &dyn SessionProtocol)
            .list_user(user, how.at)
            .await;
        assert!(listed.unwrap().is_empty());
    }
    let after = session("everyone-0");
    node.create(&after, &TokenHash::from_bytes([99; 32]))
        .await
        .unwrap();
    assert!(
        node.get(after.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert!(node.patch_data(after.id, &patch).await.unwrap().is_some());
    let again = node.revoke(&RevokeScope::Everyone, &how).await.unwrap();
    assert_eq!(again, 1, "only the session inserted since");

    let Some(cluster) = crate::common::redis::cluster_store(RedisOptions::default()).await else {
        return;
    };
    let before = session("everyone-cluster");
    cluster
        .create(&before, &TokenHash::from_bytes([1; 32]))
        .await
        .unwrap();
    assert_eq!(
        cluster.revoke(&RevokeScope::Everyone, &how).await.unwrap(),
        1
    );
    assert_eq!(cluster.patch_data(before.id, &patch).await.unwrap(), None);
    let out = cluster
        .update_value(before.id, "k", None, Some(&json!(2)))
        .await
        .unwrap();
    assert_eq!(out, UpdateOutcome::Gone);
    let query = ListQuery::Ended {
        user_id: "everyone-cluster",
        since: how.at - Duration::from_secs(1),
        now: OffsetDateTime::now_utc(),
        limit: 10,
    };
    let ended = cluster.list(&query).await.unwrap();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].revoke_reason.as_deref(), Some("incident"));
}

/// Revoking everyone again and again keeps each slot's "not before" key
/// bounded (the last 8 revocations and the generation), and a session from
/// before them all still counts as revoked.
#[tokio::test]
async fn redis_revoking_everyone_keeps_a_bounded_history() {
    let prefix = fresh_prefix();
    let Some(url) = node_url() else {
        return;
    };
    let options = RedisOptions::default().prefix(prefix.clone());
    let node = RedisStore::connect_with(&url, options).await.unwrap();
    let first = session("everyone-old");
    node.create(&first, &TokenHash::from_bytes([5; 32]))
        .await
        .unwrap();
    let start = OffsetDateTime::now_utc();
    for n in 0..10u64 {
        let how = Revocation::new(
            RevokeReason::other("incident"),
            RevokedBy::operator("admin:zoe"),
            start + Duration::from_secs(n),
        );
        node.revoke(&RevokeScope::Everyone, &how).await.unwrap();
    }
    let kept = node.get(first.id).await.unwrap().unwrap();
    let at = kept.revoked_at.expect("the old session counts as revoked");
    assert!(at >= start && at <= start + Duration::from_secs(9), "{at}");

    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*:nb"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 16_384, "one key per slot");
    for key in keys.iter().take(64) {
        let fields: u64 = redis::cmd("HLEN")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            fields, 9,
            "{key}: the generation and the last 8 revocations"
        );
    }
}
