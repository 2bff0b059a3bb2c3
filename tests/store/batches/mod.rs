//! The Postgres store's batching (`PgStore::batching`): a write at low load
//! goes alone and at once; writes that wait for a busy write statement go
//! out together, one statement for many sessions, at most one write per
//! session, each with its own outcome, their rows locked in id order; a
//! write whose caller went away before its batch left is never sent, and a
//! batch in flight is never cut. Loads by id that wait go out together too,
//! each answered with its own session, and so do new sessions, one commit
//! for all, a session the database refuses failing alone.
//!
//! To make calls wait, each test holds one statement in flight: its row (or
//! the token table, for loads) is locked by a transaction of the test's
//! own, which it commits when the queue is set up. Statements are counted
//! on the wire.

use crate::common;
use axum_user_sessions::PgStore;
use axum_user_sessions::store::{
    Batching, DataPatch, SessionProtocol, SessionRecord, SessionStore, TokenHash, Write,
    WriteOutcome,
};
use common::{WireCounter, eventually};
use futures::FutureExt as _;
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

pub(super) type Pending =
    Pin<Box<dyn Future<Output = Result<WriteOutcome, axum_user_sessions::store::Error>> + Send>>;

pub(super) struct Setup {
    pub(super) store: PgStore,
    /// A direct pool, for the test's own locks and reads.
    pub(super) direct: PgPool,
    pub(super) counter: WireCounter,
}

/// A store whose statements go through a counter, batching as `batching`
/// says, with its pool's connections open.
pub(super) async fn setup(test_pool: &PgPool, batching: Batching) -> Setup {
    common::init_tracing();
    let (counter, counted) = WireCounter::in_front_of(test_pool).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .min_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .test_before_acquire(false)
        .connect_with(counted)
        .await
        .unwrap();
    let direct = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with((*test_pool.connect_options()).clone())
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
    pub(super) async fn sessions(&self, n: u8) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
        self.create(&ids).await;
        ids.sort();
        ids
    }

    /// Live sessions `ids`, made in that order.
    pub(super) async fn create(&self, ids: &[Uuid]) {
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
    pub(super) fn write(
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
    pub(super) async fn lock(&self, id: Uuid) -> Transaction<'static, Postgres> {
        let mut tx = self.direct.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM axum_user_sessions.sessions WHERE id = $1 FOR UPDATE")
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    }

    /// Waits until `n` statements wait for a row lock.
    pub(super) async fn until_waiting(&self, n: i64) {
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
    pub(super) async fn row(&self, id: Uuid) -> (i64, serde_json::Value) {
        sqlx::query_as("SELECT version, data FROM axum_user_sessions.sessions WHERE id = $1")
            .bind(id)
            .fetch_one(&self.direct)
            .await
            .unwrap()
    }

    /// Writes each `(id, key, value)`, all queued behind a write in flight
    /// so that they leave together; their outcomes, in order.
    pub(super) async fn queued_together(
        &self, writes: &[(Uuid, &str, serde_json::Value)],
    ) -> Vec<Result<WriteOutcome, axum_user_sessions::store::Error>> {
        let (blocked, lock) = self.blocked_write().await;
        let queued: Vec<Pending> = writes
            .iter()
            .map(|(id, key, value)| self.write(*id, key, value.clone(), None))
            .collect();
        lock.commit().await.unwrap();
        written(blocked.await);
        futures::future::join_all(queued).await
    }

    /// A write in flight that waits, until the returned lock is let go.
    pub(super) async fn blocked_write(&self) -> (Pending, Transaction<'static, Postgres>) {
        let blocker = self.sessions(1).await[0];
        let lock = self.lock(blocker).await;
        let pending = self.write(blocker, "blocker", json!(true), None);
        self.until_waiting(1).await;
        (pending, lock)
    }
}

/// A JSON string Postgres refuses in a `jsonb`: it holds a NUL character.
pub(super) const REFUSED: &str = "nul \u{0} inside";

/// Asserts that `outcome` is the database refusing the write, not an outage.
pub(super) fn refused(outcome: &Result<WriteOutcome, axum_user_sessions::store::Error>) {
    assert!(
        matches!(outcome, Err(e) if !e.is_unavailable()),
        "the refused write: {outcome:?}"
    );
}

/// The version a write made.
pub(super) fn written(outcome: Result<WriteOutcome, axum_user_sessions::store::Error>) -> u64 {
    match outcome {
        Ok(WriteOutcome::Written { version }) => version,
        other => panic!("expected a write, got {other:?}"),
    }
}

/// The token `Setup::create` gives session `id`.
pub(super) fn token_of(id: Uuid) -> TokenHash {
    let mut token = [0; 32];
    token[..16].copy_from_slice(id.as_bytes());
    TokenHash::from_bytes(token)
}

mod inserts;
mod loads;
mod merges;
mod writes;
