//! A call the Cluster client sent again (redis-rs resends a script after
//! its connection dropped or its reply timed out, although the first try
//! may have run) finds its own write, and answers as the first try would
//! have: an insert as inserted, a compare-and-set as written. Here the
//! second try is the same call made again, which takes the same path. On
//! the node and on the Cluster. (A revocation sent again answers 0, as
//! the kit asks of a session revoked already: the count is off by one, the
//! session is revoked.)

use crate::common::redis::{both, hash, user_record};
use axum_user_sessions::store::{
    Credentials, Error, Lookup, RedisOptions, SessionStore, StoredSession, TokenEntry, TokenState,
    placement,
};

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
