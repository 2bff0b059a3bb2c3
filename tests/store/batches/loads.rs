//! Loads that wait go out together; a load waits for the writes this
//! process began before it.

use super::{Setup, setup, token_of, written};
use crate::common::eventually;
use axum_user_sessions::store::{Batching, Lookup, SessionStore as _, StoredSession};
use futures::FutureExt as _;
use serde_json::json;
use sqlx::PgPool;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use uuid::Uuid;

/// A load by `key` through the store's storage, polled once.
fn load_by(s: &Setup, key: Lookup) -> Pin<Box<dyn Future<Output = Option<StoredSession>> + Send>> {
    let storage = s.store.storage().clone();
    let mut pending: Pin<Box<dyn Future<Output = _> + Send>> =
        Box::pin(async move { storage.load(&key).await.unwrap() });
    assert!(
        (&mut pending).now_or_never().is_none(),
        "a load answered before its statement ran"
    );
    pending
}

/// A load of session `id`, polled once.
fn load(s: &Setup, id: Uuid) -> Pin<Box<dyn Future<Output = Option<StoredSession>> + Send>> {
    load_by(s, Lookup::Id(id))
}

#[sqlx::test(migrations = false)]
async fn loads_that_wait_go_out_together_each_with_its_session(pool: PgPool) {
    let s = setup(&pool, Batching::default().read_statements(1)).await;
    let [a, b] = s.sessions(2).await[..] else {
        unreachable!()
    };
    let before = s.counter.statements();
    // A load alone at low load: one statement.
    assert_eq!(load(&s, a).await.map(|l| l.record.id), Some(a));
    assert_eq!(s.counter.statements() - before, 1);
    // Counted from here: the blocked load and the batch.
    let before = s.counter.statements();
    // Every load waits while the token table is locked.
    let mut lock = s.direct.begin().await.unwrap();
    sqlx::query("LOCK TABLE axum_user_sessions.tokens IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let blocked = load(&s, b);
    s.until_waiting(1).await;
    let missing = Uuid::new_v4();
    let queued = vec![
        load(&s, a),
        load(&s, b),
        load(&s, a),
        load(&s, missing),
        load_by(&s, Lookup::Token(token_of(b))),
        load_by(&s, Lookup::Token(token_of(missing))),
    ];
    let withdrawn = load(&s, missing);
    drop(withdrawn);
    lock.commit().await.unwrap();
    assert_eq!(blocked.await.map(|l| l.record.id), Some(b));
    let answers: Vec<_> = futures::future::join_all(queued).await;
    assert_eq!(
        s.counter.statements() - before,
        2,
        "the blocked load, then six loads in one statement"
    );
    let ids: Vec<_> = answers
        .iter()
        .map(|l| l.as_ref().map(|l| l.record.id))
        .collect();
    assert_eq!(ids, [Some(a), Some(b), Some(a), None, Some(b), None]);
    assert_eq!(
        answers[0], answers[2],
        "a session asked twice is read once, answered twice"
    );
    assert!(
        !answers[1].as_ref().unwrap().credentials.tokens.is_empty(),
        "with its tokens"
    );
}

#[sqlx::test(migrations = false)]
async fn a_load_waits_for_a_write_this_process_began_before_it(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let [session] = s.sessions(1).await[..] else {
        unreachable!()
    };
    let (blocked, lock) = s.blocked_write().await;
    // Queued behind the blocked write: not sent yet.
    let write = s.write(session, "k", json!("written"), None);
    let before = s.counter.statements();
    let mut loading = tokio::spawn(load(&s, session));
    // The load's statement has run (while the write could not commit), and
    // the load waits for the write instead of answering what it read.
    let ran = eventually(Duration::from_secs(10), || async {
        let active: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND state = 'active'
                AND pid <> pg_backend_pid()",
        )
        .fetch_one(&s.direct)
        .await
        .unwrap();
        (s.counter.statements() > before && active == 1).then_some(())
    })
    .await;
    assert!(ran.is_some(), "the load's statement never ran");
    assert!(
        (&mut loading).now_or_never().is_none(),
        "the load answered before the write ended"
    );
    lock.commit().await.unwrap();
    written(blocked.await);
    written(write.await);
    let loaded = loading.await.unwrap().expect("the session");
    assert_eq!(loaded.record.data.get("k"), Some(&json!("written")));
}
