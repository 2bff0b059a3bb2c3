//! The Postgres store's batching (`PgStore::batching`): a write at low load
//! goes alone and at once; writes that wait for a busy write statement go
//! out together, one statement for many sessions, at most one write per
//! session, each with its own outcome, their rows locked in id order; a
//! write whose caller went away before its batch left is never sent, and a
//! batch in flight is never cut. Loads by id that wait go out together too,
//! each answered with its own session.
//!
//! To make calls wait, each test holds one statement in flight: its row (or
//! the token table, for loads) is locked by a transaction of the test's
//! own, which it commits when the queue is set up. Statements are counted
//! on the wire.

use crate::common;
use axum_user_sessions::PgStore;
use axum_user_sessions::store::{
    Batching, DataPatch, Lookup, SessionProtocol, SessionRecord, SessionStore, TokenHash, Write,
    WriteOutcome,
};
use common::{WireCounter, eventually};
use futures::FutureExt as _;
use serde_json::json;
use sqlx::postgres::PgSslMode;
use sqlx::{PgPool, Postgres, Transaction};
use std::future::Future;
use std::net::ToSocketAddrs;
use std::pin::Pin;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

type Pending =
    Pin<Box<dyn Future<Output = Result<WriteOutcome, axum_user_sessions::store::Error>> + Send>>;

struct Setup {
    store: PgStore,
    /// A direct pool, for the test's own locks and reads.
    direct: PgPool,
    counter: WireCounter,
}

/// A store whose statements go through a counter, batching as `batching`
/// says, with its pool's connections open.
async fn setup(test_pool: &PgPool, batching: Batching) -> Setup {
    common::init_tracing();
    let opts = (*test_pool.connect_options())
        .clone()
        .ssl_mode(PgSslMode::Disable);
    let upstream = (opts.get_host(), opts.get_port())
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    let counter = WireCounter::start(upstream).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .min_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .test_before_acquire(false)
        .connect_with(opts.clone().host("127.0.0.1").port(counter.addr.port()))
        .await
        .unwrap();
    let direct = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await
        .unwrap();
    axum_user_sessions::migrate(&direct).await.unwrap();
    let opened = eventually(Duration::from_secs(10), || async {
        (pool.size() == 4 && pool.num_idle() == 4).then_some(())
    })
    .await;
    assert!(opened.is_some(), "the pool never opened its connections");
    let store = PgStore::new(pool).batching(batching);
    Setup {
        store,
        direct,
        counter,
    }
}

impl Setup {
    /// `n` live sessions, in id order.
    async fn sessions(&self, n: u8) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
        self.create(&ids).await;
        ids.sort();
        ids
    }

    /// Live sessions `ids`, made in that order.
    async fn create(&self, ids: &[Uuid]) {
        let now = OffsetDateTime::now_utc();
        for &id in ids {
            let mut r = SessionRecord::new(id, now);
            r.user_id = Some("alice".into());
            r.expires_at = now + time::Duration::minutes(30);
            r.absolute_expires_at = now + time::Duration::days(1);
            self.store.create(&r, &token_of(id)).await.unwrap();
        }
    }

    /// A write of `key` = `value` to session `id`, polled once: queued, or
    /// in flight.
    fn write(
        &self, id: Uuid, key: &str, value: serde_json::Value, expected: Option<u64>,
    ) -> Pending {
        let storage = self.store.storage().clone();
        let mut patch = DataPatch::default();
        patch.set.insert(key.into(), value);
        let mut pending: Pending =
            Box::pin(async move { storage.write(id, &Write::patch(&patch, expected)).await });
        assert!(
            (&mut pending).now_or_never().is_none(),
            "a write answered before its statement ran"
        );
        pending
    }

    /// Locks session `id`'s row in a transaction of the test's own.
    async fn lock(&self, id: Uuid) -> Transaction<'static, Postgres> {
        let mut tx = self.direct.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM axum_user_sessions.sessions WHERE id = $1 FOR UPDATE")
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    }

    /// Waits until `n` statements wait for a row lock.
    async fn until_waiting(&self, n: i64) {
        let waiting = eventually(Duration::from_secs(10), || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&self.direct)
            .await
            .unwrap();
            (waiting == n).then_some(())
        })
        .await;
        assert!(waiting.is_some(), "{n} statements never waited for a lock");
    }

    /// Session `id`'s version and data.
    async fn row(&self, id: Uuid) -> (i64, serde_json::Value) {
        sqlx::query_as("SELECT version, data FROM axum_user_sessions.sessions WHERE id = $1")
            .bind(id)
            .fetch_one(&self.direct)
            .await
            .unwrap()
    }

    /// A write in flight that waits, until the returned lock is let go.
    async fn blocked_write(&self) -> (Pending, Transaction<'static, Postgres>) {
        let blocker = self.sessions(1).await[0];
        let lock = self.lock(blocker).await;
        let pending = self.write(blocker, "blocker", json!(true), None);
        self.until_waiting(1).await;
        (pending, lock)
    }
}

/// The token `Setup::create` gives session `id`.
fn token_of(id: Uuid) -> TokenHash {
    let mut token = [0; 32];
    token[..16].copy_from_slice(id.as_bytes());
    TokenHash::from_bytes(token)
}

/// A load by `key` through the store's storage, polled once.
fn load_by(
    s: &Setup, key: Lookup,
) -> Pin<Box<dyn Future<Output = Option<axum_user_sessions::store::StoredSession>> + Send>> {
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
fn load(
    s: &Setup, id: Uuid,
) -> Pin<Box<dyn Future<Output = Option<axum_user_sessions::store::StoredSession>> + Send>> {
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
    // Every load waits while the token table is locked.
    let mut lock = s.direct.begin().await.unwrap();
    sqlx::query("LOCK TABLE axum_user_sessions.tokens IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let blocked = load(&s, b);
    s.until_waiting(1).await;
    let before = s.counter.statements();
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
    // The blocked load waited as its statement was prepared, before its
    // `Execute` went: it counts here, with the one statement of the four.
    assert_eq!(
        s.counter.statements() - before,
        2,
        "six loads, one statement"
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

fn written(outcome: Result<WriteOutcome, axum_user_sessions::store::Error>) -> u64 {
    match outcome {
        Ok(WriteOutcome::Written { version }) => version,
        other => panic!("expected a write, got {other:?}"),
    }
}

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
    // Six sessions, the first of them twice: the second write of it waits
    // for the next statement.
    let mut queued: Vec<Pending> = ids
        .iter()
        .map(|id| s.write(*id, "k", json!("first"), None))
        .collect();
    queued.push(s.write(ids[0], "k", json!("second"), None));
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
    let (blocked, lock) = s.blocked_write().await;
    // Postgres refuses a NUL character in a `jsonb` string.
    let queued = vec![
        s.write(a, "k", json!(1), None),
        s.write(b, "k", json!("nul \u{0} inside"), None),
        s.write(c, "k", json!(3), None),
    ];
    lock.commit().await.unwrap();
    written(blocked.await);
    let mut outcomes = futures::future::join_all(queued).await.into_iter();
    written(outcomes.next().unwrap());
    let refused = outcomes.next().unwrap();
    assert!(
        matches!(&refused, Err(e) if !e.is_unavailable()),
        "the refused row: {refused:?}"
    );
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
