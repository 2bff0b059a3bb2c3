//! [`SqliteStorage`]'s storage operations. SQLite has one writer at a
//! time: an operation of several statements is one short write transaction
//! (`BEGIN IMMEDIATE`), which no other writer can come into.

use super::encoding::ts;
use super::{Query, SqliteStorage, statements as q};
use crate::store::credentials::Credentials;
use crate::store::error::Error;
use crate::store::migrate;
use crate::store::report::{MigrationReport, StoreStats};
use crate::store::revocation::{Revocation, RevokeScope};
use crate::store::sql::{self, Columns as _, Dialect as _, RememberColumns};
use crate::store::storage::Extensions;
use crate::store::storage::{
    Deletion, DeviceWrite, ListQuery, Lookup, StoredSession, Write, WriteOutcome,
};
use crate::store::types::{SessionRecord, UpdateOutcome};
use serde_json::Value;
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

/// Binds the remember-me columns (`?3` … `?11`).
fn bind_remember(query: Query<'static>, credentials: &Credentials) -> Query<'static> {
    let r = RememberColumns::of(credentials.remember.as_ref());
    query
        .bind(r.selector)
        .bind(r.validator)
        .bind(r.previous)
        .bind(r.rotated_at.map(ts))
        .bind(r.expires_at.map(ts))
        .bind(r.pending)
        .bind(r.pending_at.map(ts))
        .bind(r.prior)
        .bind(r.prior_rotated_at.map(ts))
}

/// A session as `LOAD_BY_*` reads it: one row per token.
fn stored(rows: &[SqliteRow]) -> Result<Option<StoredSession>, Error> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut tokens = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(hash) = row.opt_bytes("token_hash")? {
            let code: i64 = row.try_get("state")?;
            let entry =
                sql::token_entry(&hash, code, row.time("issued")?, row.opt_time("replaced")?);
            tokens.push(entry?);
        }
    }
    sql::stored_session(first, tokens).map(Some)
}

fn version(v: i64) -> Result<u64, Error> {
    u64::try_from(v).map_err(|_| Error::Corrupt("negative version"))
}

impl SqliteStorage {
    /// The session a load statement reads: a row per token.
    async fn read_session(&self, query: Query<'static>) -> Result<Option<StoredSession>, Error> {
        stored(&self.rows(query).await?)
    }
}

sql::impl_sql_storage!(SqliteStorage, query = Query, row = SqliteRow, time = ts, {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        migrate::run(&migrate::sqlite(), &self.pool).await
    }

    async fn load(&self, key: &Lookup) -> Result<Option<StoredSession>, Error> {
        self.read_session(Self::load_query(key)).await
    }

    async fn insert(&self, session: &StoredSession) -> Result<(), Error> {
        let r = &session.record;
        let query = sqlx::query(q::INSERT_SESSION)
            .bind(r.id)
            .bind(r.user_id.clone());
        let query =
            bind_remember(query, &session.credentials).bind(serde_json::to_string(&r.data)?);
        let query = sql::bind_record!(query, r, ts);
        let mut tx = self.write_tx().await?;
        tx.run(query).await?;
        tx.insert_tokens(r.id, &session.credentials).await?;
        tx.commit().await
    }

    async fn write(&self, id: Uuid, write: &Write<'_>) -> Result<WriteOutcome, Error> {
        let expected = write.expected_version.map(i64::try_from).transpose();
        let expected = expected.map_err(|_| Error::Corrupt("version out of range"))?;
        let activity = write.activity.as_ref();
        let (seen, expires) = (
            activity.map(|a| ts(a.last_seen_at)),
            activity.map(|a| ts(a.expires_at)),
        );
        let new_ip = sql::ip_text(activity.and_then(|a| a.new_ip));
        let Some(patch) = write.patch else {
            // Activity alone: one statement, and a read only when it wrote
            // nothing (to tell a conflict from a session that is gone).
            let query = sqlx::query(q::WRITE_ACTIVITY)
                .bind(id)
                .bind(expected)
                .bind(seen)
                .bind(expires)
                .bind(new_ip);
            if let Some(row) = self.write_row(query).await? {
                return Ok(WriteOutcome::Written {
                    version: version(row.try_get("version")?)?,
                });
            }
            let live = match self.row(sqlx::query(q::LIVE).bind(id)).await? {
                Some(row) => row.flag("live")?,
                None => false,
            };
            return Ok(if live && expected.is_some() {
                WriteOutcome::Conflict
            } else {
                WriteOutcome::Gone
            });
        };
        // Data: read, patched here, and written under the write lock, so no
        // other writer comes between.
        let mut tx = self.write_tx().await?;
        let outcome = match tx.live_data(id).await? {
            None => WriteOutcome::Gone,
            Some((_, v)) if expected.is_some_and(|e| e != v) => WriteOutcome::Conflict,
            Some((mut data, _)) => {
                patch.apply(&mut data);
                let version = tx.write_data(id, &data, seen, expires, new_ip).await?;
                WriteOutcome::Written { version }
            }
        };
        // Ends the transaction (and frees the write lock) at once, written
        // or not.
        tx.commit().await?;
        Ok(outcome)
    }

    async fn swap_credentials(
        &self, id: Uuid, expected_epoch: u64, credentials: &Credentials,
        record: Option<&SessionRecord>,
    ) -> Result<bool, Error> {
        let epoch =
            i64::try_from(expected_epoch).map_err(|_| Error::Corrupt("epoch out of range"))?;
        let r = record;
        let query = sqlx::query(q::SWAP).bind(id).bind(epoch);
        let query = bind_remember(query, credentials)
            .bind(r.is_some())
            .bind(r.and_then(|r| r.user_id.clone()))
            .bind(r.and_then(|r| r.authenticated_at).map(ts))
            .bind(r.map(|r| ts(r.rotated_at)))
            .bind(sql::ip_text(r.and_then(|r| r.ip)))
            .bind(r.and_then(|r| r.user_agent.clone()))
            .bind(sql::ip_text(r.and_then(|r| r.last_ip)))
            .bind(r.and_then(|r| r.tokens_expire_at).map(ts))
            .bind(r.map(|r| ts(r.absolute_expires_at)))
            .bind(r.map(|r| ts(r.expires_at)))
            .bind(r.map(|r| ts(r.last_seen_at)))
            .bind(r.is_some_and(|r| r.persistent))
            .bind(r.and_then(|r| r.sign_in_method.clone()))
            .bind(r.is_some_and(|r| r.second_factor))
            .bind(r.is_some_and(|r| r.api_client));
        let mut tx = self.write_tx().await?;
        if tx.run(query).await? != 1 {
            tx.commit().await?;
            return Ok(false);
        }
        tx.run(sqlx::query(q::DELETE_TOKENS).bind(id)).await?;
        tx.insert_tokens(id, credentials).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete(&self, what: &Deletion) -> Result<u64, Error> {
        let mut tx = self.write_tx().await?;
        let ids: Vec<Uuid> = match *what {
            Deletion::One(id) => vec![id],
            Deletion::Ended {
                now,
                revoked_before,
                limit,
            } => {
                sqlx::query_scalar(q::COLLECTABLE)
                    .bind(ts(now))
                    .bind(ts(revoked_before))
                    .bind(i64::from(limit))
                    .fetch_all(tx.conn()?)
                    .await?
            }
        };
        let mut deleted = 0;
        for id in &ids {
            deleted += tx.delete_session(*id).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        // Read and written under SQLite's write lock: no other writer comes
        // between the comparison and the write.
        let mut tx = self.write_tx().await?;
        let outcome = match tx.live_data(id).await? {
            Some((mut data, _)) => match UpdateOutcome::apply(&mut data, key, expected, new) {
                Ok(()) => UpdateOutcome::Updated {
                    version: tx.write_data(id, &data, None, None, None).await?,
                },
                Err(conflict) => conflict,
            },
            None => UpdateOutcome::Gone,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    fn extensions(&self) -> Extensions<'_> {
        Extensions::new()
            .in_process(&self.database)
            .with_devices(self)
    }
});
