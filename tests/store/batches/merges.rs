//! Data writes of one session that wait one after the other go as one row
//! of one statement, in their order, each with its own version; any write
//! that checks a version keeps its place in the order.

use super::{Pending, REFUSED, refused, setup, written};
use axum_user_sessions::store::{Batching, WriteOutcome};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn writes_of_a_session_that_wait_go_as_one_row(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let [id, other] = s.sessions(2).await[..] else {
        unreachable!()
    };
    let (version, _) = s.row(id).await;
    let (blocked, lock) = s.blocked_write().await;
    let before = s.counter.statements();
    let queued = vec![
        s.write(id, "k", json!("a"), None),
        s.write(other, "k", json!("other"), None),
        s.write(id, "j", json!("b"), None),
        s.write(id, "k", json!("c"), None),
    ];
    lock.commit().await.unwrap();
    written(blocked.await);
    let outcomes = versions(queued).await;
    assert_eq!(
        s.counter.statements() - before,
        1,
        "four writes, two sessions: one statement"
    );
    let v = version as u64;
    assert_eq!(
        [outcomes[0], outcomes[2], outcomes[3]],
        [v + 1, v + 2, v + 3],
        "each write has the version it made, in its order"
    );
    assert_eq!(
        s.row(id).await,
        (version + 3, json!({ "k": "c", "j": "b" })),
        "the last write of a key wins, and each counted a version"
    );
    assert_eq!(s.row(other).await.1, json!({ "k": "other" }));
}

#[sqlx::test(migrations = false)]
async fn a_write_that_checks_a_version_keeps_its_place(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let id = s.sessions(1).await[0];
    let (version, _) = s.row(id).await;
    let v = version as u64;
    let (blocked, lock) = s.blocked_write().await;
    let before = s.counter.statements();
    // The third may not go with the first: it would overtake the second.
    let queued = vec![
        s.write(id, "k", json!(1), None),
        s.write(id, "k", json!(2), Some(v + 1)),
        s.write(id, "k", json!(3), None),
    ];
    lock.commit().await.unwrap();
    written(blocked.await);
    let outcomes = versions(queued).await;
    assert_eq!(outcomes, [v + 1, v + 2, v + 3]);
    assert_eq!(
        s.counter.statements() - before,
        3,
        "one statement each: none could go with another"
    );
    assert_eq!(s.row(id).await, (version + 3, json!({ "k": 3 })));
}

#[sqlx::test(migrations = false)]
async fn a_write_the_database_refuses_fails_alone_when_merged(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let id = s.sessions(1).await[0];
    let (version, _) = s.row(id).await;
    let outcomes = s
        .queued_together(&[
            (id, "k", json!(1)),
            (id, "bad", json!(REFUSED)),
            (id, "k", json!(3)),
        ])
        .await;
    let v = version as u64;
    assert_eq!(
        outcomes[0].as_ref().unwrap(),
        &WriteOutcome::Written { version: v + 1 }
    );
    refused(&outcomes[1]);
    assert_eq!(
        outcomes[2].as_ref().unwrap(),
        &WriteOutcome::Written { version: v + 2 }
    );
    assert_eq!(s.row(id).await, (version + 2, json!({ "k": 3 })));
}

/// The version each of `queued` wrote, in their order.
async fn versions(queued: Vec<Pending>) -> Vec<u64> {
    let outcomes = futures::future::join_all(queued).await;
    outcomes.into_iter().map(written).collect()
}
