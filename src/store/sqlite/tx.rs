//! The SQLite store's write transaction, and the writes its calls repeat in
//! one.

use super::encoding::ts;
use super::settle::Writing;
use super::statements::{self as q, Query};
use crate::store::credentials::Credentials;
use crate::store::error::Error;
use crate::store::sql::TokenColumns;
use serde_json::{Map, Value};
use sqlx::{Executor as _, Row as _, SqliteConnection, SqlitePool};
use std::sync::Arc;
use uuid::Uuid;

/// A write transaction: `BEGIN IMMEDIATE` takes SQLite's write lock at the
/// start, so that concurrent read-modify-writes serialise instead of failing
/// on upgrade. Dropped without [`commit`](Self::commit), it rolls back.
///
/// A caller dropped in the middle (a client that disconnected) cannot leave
/// it open, unlike a Postgres transaction (see `postgres/tx.rs`): the
/// connection ([`Writing`]) gets the `ROLLBACK` at once, which SQLite's
/// worker runs right after the statement in progress, so the write lock is
/// released without waiting for the connection's next use (the store test
/// `cancellation` checks it). A caller dropped during the `COMMIT` may see
/// it land later: the caches of this process hear of it then.
pub(super) struct WriteTx(Writing);

impl WriteTx {
    pub(super) async fn begin(pool: &SqlitePool, database: &Arc<str>) -> Result<Self, Error> {
        let mut w = Writing::acquire(pool, database).await?;
        w.open = true;
        let begun = w.conn()?.execute("BEGIN IMMEDIATE").await;
        if let Err(e) = begun {
            // Nothing began: nothing to roll back.
            let e = w.spoiled_by(e);
            w.finish();
            return Err(e.into());
        }
        Ok(Self(w))
    }

    pub(super) async fn commit(mut self) -> Result<(), Error> {
        self.0.may_land = true;
        let committed = self.0.conn()?.execute("COMMIT").await;
        committed.map_err(|e| self.0.spoiled_by(e))?;
        self.0.finish();
        Ok(())
    }

    /// The connection, for reads inside the transaction.
    pub(super) fn conn(&mut self) -> Result<&mut SqliteConnection, Error> {
        self.0.conn()
    }

    /// Runs a statement: how many rows it changed.
    pub(super) async fn run(&mut self, query: Query<'_>) -> Result<u64, Error> {
        let done = query.execute(self.0.conn()?).await;
        Ok(done.map_err(|e| self.0.spoiled_by(e))?.rows_affected())
    }

    /// Deletes session `id` and its tokens: how many sessions (0 or 1).
    /// Inserts the token rows of `credentials` for session `id`.
    pub(super) async fn insert_tokens(
        &mut self, id: Uuid, credentials: &Credentials,
    ) -> Result<(), Error> {
        let t = TokenColumns::of(credentials);
        for i in 0..t.hashes.len() {
            let query = sqlx::query(q::INSERT_TOKEN)
                .bind(t.hashes[i].clone())
                .bind(id)
                .bind(t.states[i])
                .bind(ts(t.issued[i]))
                .bind(t.replaced[i].map(ts));
            self.run(query).await?;
        }
        Ok(())
    }

    /// Session `id`'s data and version, if it is there and not revoked:
    /// read under the write lock, so no other writer comes between this and
    /// [`write_data`](Self::write_data).
    pub(super) async fn live_data(
        &mut self, id: Uuid,
    ) -> Result<Option<(Map<String, Value>, i64)>, Error> {
        let row = sqlx::query(q::READ_FOR_WRITE)
            .bind(id)
            .fetch_optional(self.0.conn()?)
            .await?;
        match row {
            Some(row) if row.try_get::<bool, _>("live")? => {
                let data = serde_json::from_str(row.try_get("data")?)?;
                Ok(Some((data, row.try_get("version")?)))
            }
            _ => Ok(None),
        }
    }

    /// Writes session `id`'s data, and the activity (`seen`, `expires`,
    /// `ip`; `None`: unchanged): its new version.
    pub(super) async fn write_data(
        &mut self, id: Uuid, data: &Map<String, Value>, seen: Option<i64>, expires: Option<i64>,
        ip: Option<String>,
    ) -> Result<u64, Error> {
        let v: i64 = sqlx::query_scalar(q::WRITE_DATA)
            .bind(id)
            .bind(serde_json::to_string(data)?)
            .bind(seen)
            .bind(expires)
            .bind(ip)
            .fetch_one(self.0.conn()?)
            .await
            .map_err(|e| self.0.spoiled_by(e))?;
        u64::try_from(v).map_err(|_| Error::Corrupt("negative version"))
    }

    pub(super) async fn delete_session(&mut self, id: Uuid) -> Result<u64, Error> {
        self.run(sqlx::query(q::DELETE_TOKENS).bind(id)).await?;
        self.run(sqlx::query(q::DELETE).bind(id)).await
    }
}
