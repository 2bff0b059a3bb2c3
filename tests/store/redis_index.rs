//! A user's index scores each session by when its keys expire, and keeps
//! that score when a revocation of the user moves the expiry (a session
//! that ended within the clocks' allowance gets the ended-list retention
//! from the revocation on): the index must not drop a member before its
//! key is gone, or "recently signed out" would lose it early. A sign-in
//! that failed leaves nothing in it.

use crate::common::redis::{fresh_prefix, hash, node_url, user_record};
use axum_user_sessions::SessionProtocol;
use axum_user_sessions::store::{
    RedisOptions, RedisStore, Revocation, RevokeReason, RevokeScope, placement,
};
use std::time::Duration;
use time::OffsetDateTime;

#[tokio::test]
async fn redis_a_users_revocation_keeps_the_index_at_each_keys_expiry() {
    let Some(url) = node_url() else {
        return;
    };
    let prefix = fresh_prefix();
    let options = RedisOptions::default().prefix(prefix.clone());
    let s = RedisStore::connect_with(&url, options).await.unwrap();
    let user = "ended-a-minute-ago";
    let mut r = user_record(placement::session_id(Some(user)), user);
    let ended = OffsetDateTime::now_utc() - Duration::from_secs(60);
    (r.expires_at, r.absolute_expires_at) = (ended, ended);
    s.create(&r, &hash(1)).await.unwrap();
    // The revocation's expiry (from now) lies past the insert's.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let how = Revocation::system(RevokeReason::User, OffsetDateTime::now_utc());
    let scope = RevokeScope::User {
        user_id: user,
        keep: None,
    };
    assert_eq!(s.revoke(&scope, &how).await.unwrap(), 1);

    let tag = placement::tag_of_user(user);
    let index = format!("{prefix}:{{{tag:04x}}}:u:{user}");
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let score: f64 = redis::cmd("ZSCORE")
        .arg(&index)
        .arg(r.id.to_string())
        .query_async(&mut c)
        .await
        .unwrap();
    let key = format!(
        "{prefix}:{{{:04x}}}:s:{}",
        placement::tag_of_session(r.id),
        r.id
    );
    let expires: i64 = redis::cmd("PEXPIRETIME")
        .arg(&key)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(
        score as i64, expires,
        "the index entry leaves before its key"
    );
}

/// A sign-in whose wait for replicas fails answers `503` and leaves no
/// session behind: one no cookie names would count against the user's
/// session limit while it lived, and the limit would sign real devices
/// out in its place.
#[tokio::test]
async fn redis_a_sign_in_not_replicated_leaves_no_session() {
    let Some(url) = node_url() else {
        return;
    };
    // The node has no replica: every wait for one fails.
    let options = RedisOptions::default()
        .prefix(fresh_prefix())
        .min_replicas(1)
        .wait_timeout(Duration::from_millis(20));
    let s = RedisStore::connect_with(&url, options).await.unwrap();
    let user = "not-replicated";
    let r = user_record(placement::session_id(Some(user)), user);
    let err = s.create(&r, &hash(1)).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(s.get(r.id).await.unwrap().is_none(), "the session stayed");
    let now = OffsetDateTime::now_utc();
    let s: &dyn SessionProtocol = &s;
    let listed = s.list_user(user, now).await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}
