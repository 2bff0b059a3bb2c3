//! [`PgStorage`]'s storage operations: one statement each (the statements
//! are in `statements.rs`, a session's row bound and read in `rows.rs`;
//! those both SQL dialects write alike come from `sql::impl_sql_storage!`).

use super::batch::{InsertCall, LoadCall, WriteCall};
use super::rows::bind_credentials;
use super::{PgStorage, Query, statements as q};
use crate::store::credentials::Credentials;
use crate::store::error::Error;
use crate::store::migrate;
use crate::store::report::{MigrationReport, StoreStats};
use crate::store::revocation::{Revocation, RevokeScope};
use crate::store::sql::{self, Columns as _};
use crate::store::storage::Extensions;
use crate::store::storage::{
    Deletion, DeviceWrite, ListQuery, Lookup, StoredSession, Write, WriteOutcome,
};
use crate::store::types::{SessionRecord, UpdateOutcome};
use serde_json::Value;
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use uuid::Uuid;

fn epoch(n: u64) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| Error::Corrupt("epoch or version out of range"))
}

sql::impl_sql_storage!(
    PgStorage,
    query = Query,
    row = PgRow,
    time = std::convert::identity,
    {
        async fn migrate(&self) -> Result<MigrationReport, Error> {
            migrate::run(&migrate::postgres(), &self.pool).await
        }

        async fn insert(&self, session: &StoredSession) -> Result<(), Error> {
            self.batched(InsertCall(session.clone())).await
        }

        async fn load(&self, key: &Lookup) -> Result<Option<StoredSession>, Error> {
            let mark = self.batches.going.mark();
            let found = self.batched(LoadCall(*key)).await?;
            // Read before a write this process began earlier had ended:
            // once it has, read again (`batch/order.rs`).
            match &found {
                Some(s) if self.batches.going.waited(s.record.id, mark).await => {
                    self.batched(LoadCall(*key)).await
                }
                _ => Ok(found),
            }
        }

        async fn write(&self, id: Uuid, write: &Write<'_>) -> Result<WriteOutcome, Error> {
            let call = WriteCall::new(id, write)?;
            let _going = self.batches.going.begin(id);
            self.batched(call).await
        }

        async fn swap_credentials(
            &self, id: Uuid, expected_epoch: u64, credentials: &Credentials,
            record: Option<&SessionRecord>,
        ) -> Result<bool, Error> {
            let query = sqlx::query(q::SWAP).bind(id).bind(epoch(expected_epoch)?);
            let r = record;
            let query = bind_credentials(query, credentials)
                .bind(r.is_some())
                .bind(r.and_then(|r| r.user_id.clone()))
                .bind(r.and_then(|r| r.authenticated_at))
                .bind(r.map(|r| r.rotated_at))
                .bind(sql::ip_text(r.and_then(|r| r.ip)))
                .bind(r.and_then(|r| r.user_agent.clone()))
                .bind(sql::ip_text(r.and_then(|r| r.last_ip)))
                .bind(r.and_then(|r| r.tokens_expire_at))
                .bind(r.map(|r| r.absolute_expires_at))
                .bind(r.map(|r| r.expires_at))
                .bind(r.map(|r| r.last_seen_at))
                .bind(r.is_some_and(|r| r.persistent))
                .bind(r.and_then(|r| r.sign_in_method.clone()))
                .bind(r.is_some_and(|r| r.second_factor))
                .bind(r.is_some_and(|r| r.api_client));
            let swapped = match self.row(query).await? {
                Some(row) => row.count("swapped")?,
                None => 0,
            };
            Ok(swapped == 1)
        }

        async fn delete(&self, what: &Deletion) -> Result<u64, Error> {
            let query = match *what {
                Deletion::One(id) => sqlx::query(q::DELETE).bind(id),
                Deletion::Ended {
                    now,
                    revoked_before,
                    limit,
                } => {
                    // Up to ten batches' worth of rows without one, a
                    // batch at a time.
                    for _ in 0..10 {
                        let fill = sqlx::query(q::FILL_COLLECT_AFTER).bind(i64::from(limit));
                        if self.execute(fill).await? < u64::from(limit) {
                            break;
                        }
                    }
                    sqlx::query(q::GC_BATCH)
                        .bind(now)
                        .bind(revoked_before)
                        .bind(i64::from(limit))
                }
            };
            self.execute(query).await
        }

        async fn update_value(
            &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
        ) -> Result<UpdateOutcome, Error> {
            let query = sqlx::query(q::UPDATE_VALUE)
                .bind(id)
                .bind(key.to_owned())
                .bind(expected.cloned().map(Json))
                .bind(new.cloned().map(Json));
            let Some(row) = self.row(query).await? else {
                return Ok(UpdateOutcome::Gone);
            };
            if let Some(version) = row.try_get::<Option<i64>, _>("version")? {
                let version =
                    u64::try_from(version).map_err(|_| Error::Corrupt("negative version"))?;
                return Ok(UpdateOutcome::Updated { version });
            }
            let current: Option<Json<Value>> = row.try_get("current")?;
            Ok(UpdateOutcome::Conflict {
                current: current.map(|j| j.0),
            })
        }

        fn extensions(&self) -> Extensions<'_> {
            Extensions::new().with_cache(self).with_devices(self)
        }
    }
);
