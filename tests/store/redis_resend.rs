//! A call the Cluster client sent again (redis-rs resends a script after
//! its connection dropped or its reply timed out, although the first try
//! may have run) finds its own write, and answers as the first try would
//! have: an insert as inserted, a compare-and-set as written. Here the
//! second try is the same call made again, which takes the same path. On
//! the node and on the Cluster. (A revocation sent again answers 0, as
//! the kit asks of a session revoked already: the count is off by one, the
//! session is revoked.) A data key's compare-and-set and a user's device
//! records likewise: written once, answered as written.

use crate::common::redis::{both, fresh_prefix, hash, node_url, user_record};
use axum_user_sessions::store::devices::{FailedSignIn, UserDevices};
use axum_user_sessions::store::{
    Credentials, DeviceRecords, Error, Lookup, RedisOptions, RedisStore, SessionStore,
    StoredSession, TokenEntry, TokenState, UpdateOutcome, placement,
};
use time::OffsetDateTime;

/// Credentials of one current token, `hash(n)`.
fn token(n: u8) -> Credentials {
    let at = time::OffsetDateTime::now_utc();
    Credentials::new(
        vec![TokenEntry::new(hash(n), TokenState::Current, at)],
        None,
    )
}

/// A new session of `user` with token `hash(n)`.
fn stored(user: &str, n: u8) -> StoredSession {
    let r = user_record(placement::session_id(Some(user)), user);
    StoredSession::new(r, token(n), 0)
}

#[tokio::test]
async fn redis_an_insert_sent_again_is_answered_as_inserted() {
    for s in both(RedisOptions::default()).await {
        let session = stored("dora", 1);
        s.storage().insert(&session).await.unwrap();
        s.storage().insert(&session).await.expect("sent again");
        // Another session under that id is still a conflict.
        let mut other = stored("dora", 2);
        other.record.id = session.record.id;
        let err = s.storage().insert(&other).await.unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    }
}

#[tokio::test]
async fn redis_a_swap_sent_again_is_answered_as_written() {
    for s in both(RedisOptions::default()).await {
        let session = stored("erin", 1);
        let id = session.record.id;
        s.storage().insert(&session).await.unwrap();
        let next = token(2);
        assert!(
            s.storage()
                .swap_credentials(id, 0, &next, None)
                .await
                .unwrap()
        );
        let again = s.storage().swap_credentials(id, 0, &next, None).await;
        assert!(
            again.unwrap(),
            "sent again: answered as a lost compare-and-set"
        );
        // Another change on the epoch it read is lost, as ever.
        let lost = s.storage().swap_credentials(id, 0, &token(3), None).await;
        assert!(!lost.unwrap());
        let now = s.storage().load(&Lookup::Id(id)).await.unwrap().unwrap();
        assert_eq!((now.epoch, now.credentials), (1, next));
    }
}

/// The store's compare-and-set of one data key, as it sends it.
const UPDATE: &str = concat!(
    include_str!("../../src/store/redis/lua/lib.lua"),
    include_str!("../../src/store/redis/lua/update.lua")
);
/// The store's compare-and-set of a user's device records.
const DEVICE_SWAP: &str = concat!(
    include_str!("../../src/store/redis/lua/lib.lua"),
    include_str!("../../src/store/redis/lua/device_swap.lua")
);

/// A connection of its own to the node, and the one key of `pattern`.
async fn raw(url: String, pattern: String) -> (redis::aio::MultiplexedConnection, String) {
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut conn)
        .await
        .unwrap();
    let [key] = &keys[..] else {
        panic!("one key of {pattern}: {keys:?}")
    };
    (conn, key.clone())
}

/// The same call twice, as the Cluster client resends it: both answers.
async fn twice(
    conn: &mut redis::aio::MultiplexedConnection, call: &redis::Cmd,
) -> (redis::Value, redis::Value) {
    let first = call.query_async(conn).await.unwrap();
    (first, call.query_async(conn).await.unwrap())
}

#[tokio::test]
async fn redis_a_device_swap_sent_again_is_answered_as_written() {
    let (Some(url), prefix) = (node_url(), fresh_prefix()) else {
        return;
    };
    let options = RedisOptions::default().prefix(prefix.clone());
    let store = RedisStore::connect_with(&url, options).await.unwrap();
    let storage = store.storage();
    let doc = UserDevices::default();
    assert!(storage.swap_devices("fay", None, 7, &doc).await.unwrap());
    let (mut conn, key) = raw(url, format!("{prefix}:*:d:fay")).await;
    let mut next = doc.clone();
    next.record_failed(FailedSignIn::new(OffsetDateTime::now_utc(), None, None));
    let text = serde_json::to_string(&next).unwrap();
    let end = (OffsetDateTime::now_utc() + time::Duration::days(1)).unix_timestamp() * 1000;
    let mut call = redis::cmd("EVAL");
    call.arg(DEVICE_SWAP).arg(1).arg(&key);
    call.arg("7").arg("8").arg(&text).arg(end).arg("token-1");
    let (first, again) = twice(&mut conn, &call).await;
    assert_eq!(first, redis::Value::Int(1));
    assert_eq!(
        again,
        redis::Value::Int(1),
        "sent again: answered as lost, so its change (a failed sign-in) is made twice"
    );
    assert_eq!(storage.load_devices("fay").await.unwrap(), Some((8, next)));
    // Another call on the version it read is lost, as ever.
    assert!(!storage.swap_devices("fay", Some(7), 8, &doc).await.unwrap());
}

#[tokio::test]
async fn redis_an_update_of_a_key_sent_again_is_answered_as_written() {
    let (Some(url), prefix) = (node_url(), fresh_prefix()) else {
        return;
    };
    let options = RedisOptions::default().prefix(prefix.clone());
    let store = RedisStore::connect_with(&url, options).await.unwrap();
    let session = stored("gus", 1);
    let id = session.record.id;
    store.storage().insert(&session).await.unwrap();
    let (mut conn, key) = raw(url, format!("{prefix}:*:s:{id}")).await;
    // The key absent, set to 1, under one token.
    let mut call = redis::cmd("EVAL");
    call.arg(UPDATE)
        .arg(2)
        .arg(&key)
        .arg(format!("{prefix}:nb"));
    call.arg("d:n").arg("").arg("1").arg("token-1");
    let (first, again) = twice(&mut conn, &call).await;
    let written = |v| redis::Value::Array(vec![redis::Value::Int(1), redis::Value::Int(v)]);
    assert_eq!(first, written(1));
    // Other writes in between (an update of another key by another call,
    // a swap of the credentials): a resend still answers its own version.
    let mut other = redis::cmd("EVAL");
    other
        .arg(UPDATE)
        .arg(2)
        .arg(&key)
        .arg(format!("{prefix}:nb"));
    other.arg("d:m").arg("").arg("2").arg("token-2");
    let (_, _) = twice(&mut conn, &other).await;
    let storage = store.storage();
    assert!(
        storage
            .swap_credentials(id, 0, &token(2), None)
            .await
            .unwrap()
    );
    let later: redis::Value = call.query_async(&mut conn).await.unwrap();
    assert_eq!(
        (again, later),
        (written(1), written(1)),
        "sent again: not answered as written, with the version it wrote"
    );
    let now = storage.load(&Lookup::Id(id)).await.unwrap().unwrap();
    assert_eq!(now.record.data["m"], serde_json::json!(2));
    assert_eq!(now.record.data["n"], serde_json::json!(1));
    // Another call (another token) on the value it expected compares as
    // ever: a conflict.
    let out = store
        .storage()
        .update_value(id, "n", None, Some(&serde_json::json!(2)))
        .await
        .unwrap();
    assert!(
        matches!(out, UpdateOutcome::Conflict { current: Some(ref c) } if *c == serde_json::json!(1)),
        "{out:?}"
    );
}
