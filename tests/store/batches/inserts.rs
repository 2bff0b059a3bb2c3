//! New sessions that wait go out together, in one statement and one
//! commit; a session the database refuses fails alone.

use super::{Setup, setup, token_of};
use axum_user_sessions::store::{
    Batching, Error, Lookup, SessionProtocol as _, SessionRecord, SessionStore as _,
};
use futures::FutureExt as _;
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use std::future::Future;
use std::pin::Pin;
use time::OffsetDateTime;
use uuid::Uuid;

type Pending = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// A new session `id` (its data `data`), polled once: queued, or in flight.
fn insert(s: &Setup, id: Uuid, data: serde_json::Value) -> Pending {
    let store = s.store.clone();
    let now = OffsetDateTime::now_utc();
    let mut r = SessionRecord::new(id, now);
    r.user_id = Some(format!("user-{id}"));
    r.expires_at = now + time::Duration::minutes(30);
    r.absolute_expires_at = now + time::Duration::days(1);
    if let serde_json::Value::Object(map) = data {
        r.data = map;
    }
    let mut pending: Pending = Box::pin(async move { store.create(&r, &token_of(id)).await });
    assert!(
        (&mut pending).now_or_never().is_none(),
        "an insert answered before its statement ran"
    );
    pending
}

/// Holds every insert into the token table until the returned lock goes.
async fn lock_tokens(s: &Setup) -> Transaction<'static, Postgres> {
    let mut lock = s.direct.begin().await.unwrap();
    sqlx::query("LOCK TABLE axum_user_sessions.tokens IN SHARE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    lock
}

/// Whether session `id` loads by its token, with data `data`.
async fn loads_with(s: &Setup, id: Uuid, data: serde_json::Value) -> bool {
    let found = s.store.storage().load(&Lookup::Token(token_of(id))).await;
    found
        .unwrap()
        .is_some_and(|l| l.record.id == id && json!(l.record.data) == data)
}

#[sqlx::test(migrations = false)]
async fn new_sessions_that_wait_go_out_together(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    // Alone at low load: one statement.
    let first = Uuid::new_v4();
    let before = s.counter.statements();
    insert(&s, first, json!({})).await.unwrap();
    assert_eq!(s.counter.statements() - before, 1, "an insert alone");
    let lock = lock_tokens(&s).await;
    let blocked_id = Uuid::new_v4();
    let blocked = insert(&s, blocked_id, json!({}));
    s.until_waiting(1).await;
    let before = s.counter.statements();
    let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    let queued: Vec<Pending> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| insert(&s, *id, json!({ "n": i })))
        .collect();
    let withdrawn = Uuid::new_v4();
    drop(insert(&s, withdrawn, json!({})));
    lock.commit().await.unwrap();
    blocked.await.unwrap();
    for outcome in futures::future::join_all(queued).await {
        outcome.unwrap();
    }
    // The blocked insert waited after its statement was counted: it counts
    // here, with the one statement of the five.
    assert_eq!(
        s.counter.statements() - before,
        2,
        "five inserts, one statement"
    );
    for (i, id) in ids.iter().enumerate() {
        assert!(
            loads_with(&s, *id, json!({ "n": i })).await,
            "session {i} of the batch"
        );
    }
    assert!(loads_with(&s, blocked_id, json!({})).await);
    let never: i64 =
        sqlx::query_scalar("SELECT count(*) FROM axum_user_sessions.sessions WHERE id = $1")
            .bind(withdrawn)
            .fetch_one(&s.direct)
            .await
            .unwrap();
    assert_eq!(never, 0, "a withdrawn insert is never sent");
}

#[sqlx::test(migrations = false)]
async fn a_new_session_the_database_refuses_fails_alone(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let lock = lock_tokens(&s).await;
    let blocked = insert(&s, Uuid::new_v4(), json!({}));
    s.until_waiting(1).await;
    let [a, b, c] = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    // Postgres refuses a NUL character in a `jsonb` string.
    let queued = vec![
        insert(&s, a, json!({ "k": 1 })),
        insert(&s, b, json!({ "k": "nul \u{0} inside" })),
        insert(&s, c, json!({ "k": 3 })),
    ];
    lock.commit().await.unwrap();
    blocked.await.unwrap();
    let mut outcomes = futures::future::join_all(queued).await.into_iter();
    outcomes.next().unwrap().unwrap();
    let refused = outcomes.next().unwrap();
    assert!(
        matches!(&refused, Err(e) if !e.is_unavailable()),
        "the refused session: {refused:?}"
    );
    outcomes.next().unwrap().unwrap();
    assert!(loads_with(&s, a, json!({ "k": 1 })).await);
    assert!(!loads_with(&s, b, json!({})).await);
    assert!(loads_with(&s, c, json!({ "k": 3 })).await);
}
