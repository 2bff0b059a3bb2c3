//! The SQLite store's write transaction, and the writes its calls repeat in
//! one.

use super::encoding::ts;
use super::statements::{self as q, Query};
use crate::store::error::Error;
use crate::store::sql;
use crate::store::types::TokenHash;
use serde_json::{Map, Value};
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use time::OffsetDateTime;
use uuid::Uuid;

/// A write transaction: `BEGIN IMMEDIATE` takes SQLite's write lock at the
/// start, so that concurrent read-modify-writes serialise instead of failing
/// on upgrade. Dropped without [`commit`](Self::commit), it rolls back.
///
/// A caller dropped in the middle (a client that disconnected) cannot leave
/// it open, unlike a Postgres transaction (see `postgres/tx.rs`): sqlx runs
/// each SQLite connection on a worker thread, which gets the rollback of a
/// dropped transaction at once and runs it right after the statement in
/// progress, and rolls back by itself a `BEGIN IMMEDIATE` whose caller is
/// gone. So the write lock is released without waiting for the connection's
/// next use (the store test `cancellation` checks it).
pub(super) struct WriteTx(sqlx::Transaction<'static, Sqlite>);

impl WriteTx {
    pub(super) async fn begin(pool: &SqlitePool) -> Result<Self, Error> {
        Ok(Self(pool.begin_with("BEGIN IMMEDIATE").await?))
    }

    pub(super) async fn commit(self) -> Result<(), Error> {
        Ok(self.0.commit().await?)
    }

    /// The connection, for reads inside the transaction.
    pub(super) fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.0
    }

    /// The data of live session `id`, read under the write lock; `None`
    /// when it is gone or revoked.
    pub(super) async fn data(&mut self, id: Uuid) -> Result<Option<Map<String, Value>>, Error> {
        let data: Option<String> = sqlx::query_scalar(q::DATA)
            .bind(id)
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(data.map(|d| serde_json::from_str(&d)).transpose()?)
    }

    /// Writes `data` as session `id`'s data: the row's new version.
    pub(super) async fn set_data(
        &mut self, id: Uuid, data: &Map<String, Value>,
    ) -> Result<u64, Error> {
        let version: i64 = sqlx::query_scalar(q::SET_DATA)
            .bind(id)
            .bind(serde_json::to_string(data)?)
            .fetch_one(&mut *self.0)
            .await?;
        u64::try_from(version).map_err(|_| Error::Corrupt("negative version"))
    }

    /// Runs a statement: how many rows it changed.
    pub(super) async fn run(&mut self, query: Query<'_>) -> Result<u64, Error> {
        Ok(query.execute(&mut *self.0).await?.rows_affected())
    }

    /// Adds token `token` of session `id`, issued `at`, in `state` (0
    /// current, 1 pending).
    pub(super) async fn insert_token(
        &mut self, token: &TokenHash, id: Uuid, state: i64, at: OffsetDateTime,
    ) -> Result<(), Error> {
        let query = sqlx::query(q::INSERT_TOKEN).bind(token.as_bytes().as_slice());
        self.run(query.bind(id).bind(state).bind(ts(at))).await?;
        Ok(())
    }

    /// Retires every token of session `id` at `at` (state 3, no grace).
    pub(super) async fn retire_tokens(
        &mut self, id: Uuid, at: OffsetDateTime,
    ) -> Result<(), Error> {
        self.run(sqlx::query(q::RETIRE_TOKENS).bind(id).bind(ts(at)))
            .await?;
        Ok(())
    }

    /// Keeps only the newest [`REPLACED_TOKENS_KEPT`](crate::store::REPLACED_TOKENS_KEPT) replaced tokens of
    /// session `id`; run after every write that supersedes or retires some.
    pub(super) async fn prune_tokens(&mut self, id: Uuid) -> Result<(), Error> {
        let query = sqlx::query(q::PRUNE_TOKENS).bind(id);
        self.run(query.bind(sql::REPLACED_KEPT)).await?;
        Ok(())
    }

    /// Deletes session `id` and its tokens: how many sessions (0 or 1).
    pub(super) async fn delete_session(&mut self, id: Uuid) -> Result<u64, Error> {
        self.run(sqlx::query(q::DELETE_TOKENS).bind(id)).await?;
        self.run(sqlx::query(q::DELETE).bind(id)).await
    }
}
