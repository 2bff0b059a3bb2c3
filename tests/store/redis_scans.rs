//! What spans every session on Redis (garbage collection, statistics, the
//! count of a revocation of everyone): a scan of every master's session
//! keys, which goes on across collection batches and skips a key that
//! holds no session of ours.

use crate::common::redis::{counted, fresh_prefix};
use axum_user_sessions::SessionProtocol;
use axum_user_sessions::store::{
    RedisOptions, RedisStore, Revocation, RevokeReason, RevokeScope, RevokedBy, SessionRecord,
    TokenHash, placement,
};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// A session of `user` created ten minutes ago: live for an hour, or, when
/// `ended`, past its idle end since nine minutes (collectable).
fn session(user: &str, ended: bool) -> SessionRecord {
    let t0 = OffsetDateTime::now_utc() - Duration::from_secs(600);
    let mut r = SessionRecord::new(placement::session_id(Some(user)), t0);
    r.user_id = Some(user.into());
    let idle = if ended { 60 } else { 3600 };
    (r.expires_at, r.absolute_expires_at) = (
        t0 + Duration::from_secs(idle),
        t0 + Duration::from_secs(86_400),
    );
    r
}

/// Creates `n` sessions, `ended` or not, each of its own user.
async fn create(s: &dyn SessionProtocol, tag: &str, n: u8, ended: bool) -> Vec<SessionRecord> {
    let mut made = Vec::new();
    for i in 0..n {
        let r = session(&format!("{tag}-{i}"), ended);
        s.create(&r, &TokenHash::from_bytes([i; 32])).await.unwrap();
        made.push(r);
    }
    made
}

/// Collection in batches of 10 over 25 ended sessions among 30 live ones
/// goes on where each batch stopped: the pass reads each session once
/// (its fields but its data, `HMGET`), where starting over at every batch
/// would read the first ones again at each; and it collects the ended
/// sessions only.
#[tokio::test]
async fn redis_collection_goes_on_where_its_last_batch_stopped() {
    let Some((s, counter)) = counted(RedisOptions::default().prefix(fresh_prefix())).await else {
        return;
    };
    let live = create(&s, "live", 30, false).await;
    create(&s, "ended", 25, true).await;
    let now = OffsetDateTime::now_utc();
    let before = counter.commands().len();
    let mut batches = Vec::new();
    loop {
        let n = s.gc_batch(now, now, 10).await.unwrap();
        batches.push(n);
        if n < 10 {
            break;
        }
    }
    let calls = counter.calls().split_off(before);
    assert_eq!(batches, [10, 10, 5]);
    let reads: Vec<&String> = calls
        .iter()
        .filter(|(name, key)| name == "HMGET" && key.contains("}:s:"))
        .map(|(_, key)| key)
        .collect();
    let distinct: std::collections::HashSet<_> = reads.iter().collect();
    assert_eq!(distinct.len(), 55, "each session read");
    // Once each, but for a key a `SCAN` returns twice (it may, while the
    // server resizes its table); starting over at each batch reads the
    // live ones read before again: 55 plus those, and all 30 at the last.
    assert!(reads.len() < 70, "{} reads", reads.len());
    let whole = calls
        .iter()
        .filter(|(name, key)| name == "HGETALL" && key.contains("}:s:"))
        .count();
    assert_eq!(whole, 0, "no session read with its data");
    for r in &live {
        assert!(s.get(r.id).await.unwrap().is_some(), "a live session stays");
    }
    // The pass is over: the next batch starts a new one, and finds nothing.
    assert_eq!(s.gc_batch(now, now, 10).await.unwrap(), 0);
}

/// A key named like a session key that holds something else (a string
/// another client wrote, or a hash that is not a session) is skipped by
/// collection, statistics and the count of a revocation of everyone, which
/// go on with the other sessions; a load of it is still an error.
#[tokio::test]
async fn redis_a_key_that_is_no_session_is_skipped_by_scans() {
    let Some(url) = crate::common::redis::node_url() else {
        return;
    };
    let prefix = fresh_prefix();
    let options = RedisOptions::default().prefix(prefix.clone());
    let s = RedisStore::connect_with(&url, options).await.unwrap();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let (string, hash) = (Uuid::new_v4(), Uuid::new_v4());
    let key = |id: Uuid| format!("{prefix}:{{{:04x}}}:s:{id}", placement::tag_of_session(id));
    let _: () = redis::cmd("SET")
        .arg(key(string))
        .arg("not a session")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(key(hash))
        .arg("v")
        .arg("x")
        .query_async(&mut c)
        .await
        .unwrap();
    let live = create(&s, "live", 3, false).await;
    create(&s, "ended", 2, true).await;
    let now = OffsetDateTime::now_utc();

    let stats = s.stats(now, now).await.unwrap();
    assert_eq!((stats.active_sessions, stats.collectable), (3, 2));
    assert_eq!(s.gc_batch(now, now, 100).await.unwrap(), 2);
    let how = Revocation::new(RevokeReason::Admin, RevokedBy::operator("ops"), now);
    assert_eq!(s.revoke(&RevokeScope::Everyone, &how).await.unwrap(), 3);
    for r in &live {
        let kept = s.get(r.id).await.unwrap().unwrap();
        assert_eq!(kept.revoked_at, Some(now));
    }
    assert!(s.get(string).await.is_err(), "a load of it says what it is");
    assert!(s.get(hash).await.is_err());
}

/// A collection batch that stops keeps the copies it read for the next;
/// everyone is revoked in between. The next batch, at an instant when
/// the sessions' idle ends have passed, must not delete them as expired
/// on those copies: they were revoked first (and kept, for the ended
/// list, until the revocation's retention); the slot's generation moved,
/// so the copies are read again at the next pass.
#[tokio::test]
async fn redis_collection_does_not_delete_on_a_copy_older_than_a_revocation() {
    let Some(s) = crate::common::redis::node_store(RedisOptions::default()).await else {
        return;
    };
    let made = create(&s, "judged", 20, false).await;
    let now = OffsetDateTime::now_utc();
    // Stops at the first session it reads: those it read are kept.
    assert_eq!(s.gc_batch(now, now, 0).await.unwrap(), 0);
    let how = Revocation::new(RevokeReason::Admin, RevokedBy::operator("ops"), now);
    assert_eq!(s.revoke(&RevokeScope::Everyone, &how).await.unwrap(), 20);
    let later = now + Duration::from_secs(7200);
    let horizon = now - Duration::from_secs(3600);
    assert_eq!(s.gc_batch(later, horizon, 100).await.unwrap(), 0);
    for r in &made {
        let kept = s
            .get(r.id)
            .await
            .unwrap()
            .expect("a revoked session is kept");
        assert_eq!(kept.revoked_at, Some(now));
    }
}
