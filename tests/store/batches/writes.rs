//! Writes that wait go out together, each with its own outcome.

use super::{Pending, REFUSED, refused, setup, written};
use axum_user_sessions::store::{Batching, WriteOutcome};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

#[sqlx::test(migrations = false)]
async fn a_write_at_low_load_is_sent_at_once_alone(pool: PgPool) {
    let s = setup(&pool, Batching::default()).await;
    let ids = s.sessions(3).await;
    for (i, id) in ids.iter().enumerate() {
        let before = s.counter.statements();
        let version = written(s.write(*id, "k", json!(i), None).await);
        assert_eq!(
            s.counter.statements() - before,
            1,
            "write {i} took more than its statement"
        );
        assert_eq!(s.row(*id).await, (version as i64, json!({ "k": i })));
    }
}

#[sqlx::test(migrations = false)]
async fn writes_that_wait_go_out_together_one_per_session(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let ids = s.sessions(6).await;
    let versions =
        futures::future::join_all(ids.iter().map(|id| async { s.row(*id).await.0 })).await;
    let (blocked, lock) = s.blocked_write().await;
    let before = s.counter.statements();
    // Six sessions, the first of them twice: the second write of it checks
    // a version, so it cannot go with the first, and waits for the next
    // statement (`merges.rs`: writes that can).
    let mut queued: Vec<Pending> = ids
        .iter()
        .map(|id| s.write(*id, "k", json!("first"), None))
        .collect();
    let after_first = versions[0] as u64 + 1;
    queued.push(s.write(ids[0], "k", json!("second"), Some(after_first)));
    lock.commit().await.unwrap();
    written(blocked.await);
    let outcomes = futures::future::join_all(queued).await;
    assert_eq!(
        s.counter.statements() - before,
        2,
        "seven writes, two statements"
    );
    let mut outcomes = outcomes.into_iter().map(written);
    for (id, version) in ids.iter().zip(&versions) {
        assert_eq!(outcomes.next(), Some(*version as u64 + 1));
        let expected = if *id == ids[0] { "second" } else { "first" };
        assert_eq!(s.row(*id).await.1, json!({ "k": expected }));
    }
    assert_eq!(
        outcomes.next(),
        Some(versions[0] as u64 + 2),
        "the second write of a session goes after the first"
    );
}

#[sqlx::test(migrations = false)]
async fn each_write_of_a_batch_has_its_own_outcome(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let [stale, revoked, fresh] = s.sessions(3).await[..] else {
        unreachable!()
    };
    sqlx::query("UPDATE axum_user_sessions.sessions SET revoked_at = now() WHERE id = $1")
        .bind(revoked)
        .execute(&s.direct)
        .await
        .unwrap();
    let (fresh_version, _) = s.row(fresh).await;
    let (blocked, lock) = s.blocked_write().await;
    let before = s.counter.statements();
    let queued = vec![
        s.write(stale, "k", json!(1), Some(999)),
        s.write(revoked, "k", json!(1), None),
        s.write(Uuid::new_v4(), "k", json!(1), None),
        s.write(fresh, "k", json!(1), Some(fresh_version as u64)),
    ];
    lock.commit().await.unwrap();
    written(blocked.await);
    let outcomes: Vec<_> = futures::future::join_all(queued)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        s.counter.statements() - before,
        1,
        "the four writes went in one statement"
    );
    assert_eq!(
        outcomes,
        [
            WriteOutcome::Conflict,
            WriteOutcome::Gone,
            WriteOutcome::Gone,
            WriteOutcome::Written {
                version: fresh_version as u64 + 1
            },
        ]
    );
    assert_eq!(
        s.row(stale).await.1,
        json!({}),
        "nothing written on a conflict"
    );
    assert_eq!(
        s.row(revoked).await.1,
        json!({}),
        "nothing written on a revoked session"
    );
}

#[sqlx::test(migrations = false)]
async fn a_row_the_database_refuses_fails_alone(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let [a, b, c] = s.sessions(3).await[..] else {
        unreachable!()
    };
    let mut outcomes = s
        .queued_together(&[
            (a, "k", json!(1)),
            (b, "k", json!(REFUSED)),
            (c, "k", json!(3)),
        ])
        .await
        .into_iter();
    written(outcomes.next().unwrap());
    refused(&outcomes.next().unwrap());
    written(outcomes.next().unwrap());
    assert_eq!(s.row(a).await.1, json!({ "k": 1 }));
    assert_eq!(s.row(b).await.1, json!({}));
    assert_eq!(s.row(c).await.1, json!({ "k": 3 }));
}

#[sqlx::test(migrations = false)]
async fn a_batch_locks_its_rows_in_id_order(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let mut ids = [Uuid::new_v4(), Uuid::new_v4()];
    ids.sort();
    let [low, high] = ids;
    // Made, and queued, high first: whatever the plan's order, only the
    // id order locks `low` first.
    s.create(&[high, low]).await;
    let (blocked, lock) = s.blocked_write().await;
    let high_lock = s.lock(high).await;
    let queued = vec![
        s.write(high, "k", json!(1), None),
        s.write(low, "k", json!(1), None),
    ];
    lock.commit().await.unwrap();
    written(blocked.await);
    s.until_waiting(1).await;
    let taken =
        sqlx::query("SELECT 1 FROM axum_user_sessions.sessions WHERE id = $1 FOR UPDATE NOWAIT")
            .bind(low)
            .execute(&s.direct)
            .await;
    let code = taken.err().and_then(|e| {
        e.as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned()))
    });
    assert_eq!(
        code.as_deref(),
        Some("55P03"),
        "the lower id was not locked first"
    );
    high_lock.commit().await.unwrap();
    for outcome in futures::future::join_all(queued).await {
        written(outcome);
    }
}

#[sqlx::test(migrations = false)]
async fn a_write_whose_caller_went_away_is_never_sent(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let [gone, kept] = s.sessions(2).await[..] else {
        unreachable!()
    };
    let before_version = s.row(gone).await.0;
    let (blocked, lock) = s.blocked_write().await;
    let before = s.counter.statements();
    drop(s.write(gone, "k", json!("never"), None));
    lock.commit().await.unwrap();
    written(blocked.await);
    // The queue is empty when a later write comes back alone.
    written(s.write(kept, "k", json!(1), None).await);
    assert_eq!(
        s.counter.statements() - before,
        1,
        "only the later write was sent"
    );
    assert_eq!(s.row(gone).await, (before_version, json!({})));
}

#[sqlx::test(migrations = false)]
async fn a_batch_in_flight_is_not_cut_when_its_callers_go_away(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let [a, b] = s.sessions(2).await[..] else {
        unreachable!()
    };
    let (blocked, lock) = s.blocked_write().await;
    let b_lock = s.lock(b).await;
    let dropped = s.write(a, "k", json!("kept"), None);
    let waited = s.write(b, "k", json!("kept"), None);
    lock.commit().await.unwrap();
    written(blocked.await);
    s.until_waiting(1).await; // the batch is in flight, waiting for `b`
    drop(dropped);
    b_lock.commit().await.unwrap();
    written(waited.await);
    assert_eq!(
        s.row(a).await.1,
        json!({ "k": "kept" }),
        "the batch was cut"
    );
}

#[sqlx::test(migrations = false)]
async fn a_batch_in_an_outage_answers_unavailable_for_each_write(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let [a, b] = s.sessions(2).await[..] else {
        unreachable!()
    };
    let (blocked, lock) = s.blocked_write().await;
    let queued = vec![
        s.write(a, "k", json!(1), None),
        s.write(b, "k", json!(1), None),
    ];
    // Every connection of the store's pool is cut, and new ones refused.
    s.counter.down();
    drop(lock);
    let _ = blocked.await;
    for outcome in futures::future::join_all(queued).await {
        let e = outcome.expect_err("a write without a database");
        assert!(e.is_unavailable(), "expected unavailable, got {e:?}");
    }
}
