//! `Session::update` over a `MemoryStore`: written at once, retried and
//! bounded, and what the request's commit does afterwards.

use super::{Browser, NOTHING, session_cookie, with_session};
use crate::error::Error;
use crate::session::update::MAX_ATTEMPTS;
use crate::store::UpdateOutcome;
use futures::FutureExt as _;
use serde_json::json;
use uuid::Uuid;

/// The second request of a browser whose session holds `k = 1`: the
/// browser, the request's session and its id.
async fn next_request() -> (Browser, crate::session::Session, Uuid) {
    let b = with_session().await;
    let s = b.request().await;
    let id = s.id().unwrap();
    (b, s, id)
}

#[tokio::test]
async fn an_update_is_written_at_once_and_survives_a_failed_handler() {
    let (b, s, id) = next_request().await;
    s.insert("other", "pending").unwrap();
    let trips = b.round_trips();
    assert_eq!(
        s.update("k", |k: Option<u32>| k.unwrap() + 1)
            .await
            .unwrap(),
        2
    );
    assert_eq!(b.round_trips() - trips, 1);
    assert_eq!(s.get::<u32>("k").unwrap(), Some(2), "the local view");
    let stored = b.store.get(id).await.unwrap().unwrap().data;
    assert_eq!(stored["k"], json!(2), "not written at once");
    // The handler fails: its pending insert is dropped, the update stays.
    let commit = s.commit(true).await;
    assert!(commit.error.is_none());
    assert_eq!(commit.cookies, NOTHING);
    let stored = b.store.get(id).await.unwrap().unwrap().data;
    assert_eq!(stored, json!({ "k": 2 }).as_object().unwrap().clone());
    assert_eq!(s.config().key_queues.len(), 0, "the key's turn was kept");
}

#[tokio::test]
async fn an_update_without_a_session_creates_it_with_its_cookie() {
    let mut b = Browser::new();
    let s = b.request().await;
    assert_eq!(
        s.update("k", |k: Option<u32>| k.unwrap_or(0) + 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(b.sessions().await, 1, "not created at once");
    let update = b.respond(&s).await;
    let token = session_cookie(&update.session);
    let s = b.request_with(Some(&token), None).await;
    assert_eq!(s.get::<u32>("k").unwrap(), Some(1));
}

#[tokio::test]
async fn an_update_gives_up_after_its_attempts_and_writes_nothing() {
    let (b, s, id) = next_request().await;
    // Another writer changes the key between each read and write.
    let store = b.store.clone();
    let mut calls = 0;
    let trips = b.round_trips();
    let err = s
        .update("k", |k: Option<u32>| {
            calls += 1;
            let k = k.unwrap();
            let (was, now) = (json!(k), json!(k + 100));
            let meddle = store.update_value(id, "k", Some(&was), Some(&now));
            let done = meddle.now_or_never().unwrap().unwrap();
            assert!(matches!(done, UpdateOutcome::Updated { .. }), "{done:?}");
            k + 1
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UpdateConflict(n) if n == MAX_ATTEMPTS),
        "{err:?}"
    );
    assert_eq!(calls, MAX_ATTEMPTS);
    // One round-trip per attempt, and one per meddling write.
    assert_eq!(b.round_trips() - trips, 2 * u64::from(MAX_ATTEMPTS));
    let last = 1 + 100 * MAX_ATTEMPTS;
    let stored = b.store.get(id).await.unwrap().unwrap().data;
    assert_eq!(stored["k"], json!(last), "the update wrote something");
    // The session goes on: the next update starts from what it learnt.
    assert_eq!(
        s.update("k", |k: Option<u32>| k.unwrap() + 1)
            .await
            .unwrap(),
        last + 1
    );
    assert_eq!(s.config().key_queues.len(), 0);
}

#[tokio::test]
async fn a_value_of_another_type_is_an_error_and_nothing_is_written() {
    let (b, s, id) = next_request().await;
    let trips = b.round_trips();
    let err = s
        .update("k", |_: Option<String>| {
            unreachable!("called with a number")
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Serde(_)), "{err:?}");
    assert_eq!(b.round_trips(), trips);
    assert_eq!(b.store.get(id).await.unwrap().unwrap().data["k"], json!(1));
}

#[tokio::test]
async fn an_update_of_an_ended_session_is_an_error_and_sets_no_cookie() {
    let (b, s, id) = next_request().await;
    s.insert("other", "pending").unwrap();
    // Signed out elsewhere while this request ran.
    assert!(b.store.delete(id).await.unwrap());
    let err = s
        .update("k", |k: Option<u32>| k.unwrap() + 1)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SessionEnded), "{err:?}");
    assert_eq!(s.id(), None);
    // A handler that writes on after the error makes no new session,
    // whose cookie would replace the one the other request set.
    s.insert("after", 1).unwrap();
    let commit = s.commit(false).await;
    assert!(
        matches!(commit.error, Some(Error::SessionEnded)),
        "{:?}",
        commit.error
    );
    assert_eq!(commit.cookies.session, None);
    assert_eq!(commit.cookies.remember, None);
    assert_eq!(b.sessions().await, 0, "the update must not resurrect it");
}

/// A stuck store (a row another transaction holds): the requests updating
/// one key take their turns, and each answers `503` within the store
/// timeout of its own start, not after every turn before it timed out.
/// (Time is paused: the clock moves only when every task waits.)
#[tokio::test(start_paused = true)]
async fn updates_of_a_key_waiting_on_a_stuck_store_answer_within_its_timeout() {
    use super::interleaved::Interleaved;
    use std::sync::atomic::Ordering;
    let limit = std::time::Duration::from_secs(1);
    let config = crate::config::SessionConfig {
        store_timeout: limit,
        ..Default::default()
    };
    let storage = Interleaved::default();
    let mut b = Browser::over(storage.clone(), config);
    b.store = std::sync::Arc::new(crate::store::timeout::TimeoutStore::new(b.store, limit));
    let s = b.request().await;
    s.insert("k", 1).unwrap();
    b.respond(&s).await;
    let (first, second) = (b.request().await, b.request().await);
    storage.stall_writes.store(true, Ordering::SeqCst);
    let start = tokio::time::Instant::now();
    let bump = |n: Option<u32>| n.unwrap_or(0) + 1;
    let (one, (two, took)) = tokio::join!(first.update("k", bump), async {
        let two = second.update("k", bump).await;
        (two, start.elapsed())
    });
    assert!(one.unwrap_err().is_unavailable());
    assert!(two.unwrap_err().is_unavailable());
    assert!(took <= limit, "the second waited {took:?}");
    assert_eq!(second.config().key_queues.len(), 0, "a turn was kept");
}
