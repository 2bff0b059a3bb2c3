//! [`PgStorage`]'s storage operations: one statement each (the statements
//! are in `statements.rs`; those both SQL dialects write alike come from
//! `sql::impl_sql_storage!`).

use super::batch::{InsertCall, LoadCall, WriteCall};
use super::{PgStorage, Query, statements as q};
use crate::store::credentials::Credentials;
use crate::store::error::Error;
use crate::store::migrate;
use crate::store::report::{MigrationReport, StoreStats};
use crate::store::revocation::{Revocation, RevokeScope};
use crate::store::sql::{self, Columns as _, RememberColumns, TokenColumns};
use crate::store::storage::Extensions;
use crate::store::storage::{
    Deletion, DeviceWrite, ListQuery, Lookup, StoredSession, Write, WriteOutcome,
};
use crate::store::types::{SessionRecord, UpdateOutcome};
use serde_json::Value;
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// Binds the remember-me columns, then the token rows (`$3` … `$15`).
fn bind_credentials(query: Query<'static>, credentials: &Credentials) -> Query<'static> {
    let r = RememberColumns::of(credentials.remember.as_ref());
    let t = TokenColumns::of(credentials);
    query
        .bind(r.selector)
        .bind(r.validator)
        .bind(r.previous)
        .bind(r.rotated_at)
        .bind(r.expires_at)
        .bind(r.pending)
        .bind(r.pending_at)
        .bind(r.prior)
        .bind(r.prior_rotated_at)
        .bind(t.hashes)
        .bind(t.states)
        .bind(t.issued)
        .bind(t.replaced)
}

/// `INSERT` of a new session, bound.
pub(super) fn bind_new_session(session: &StoredSession) -> Query<'static> {
    let r = &session.record;
    let query = sqlx::query(q::INSERT).bind(r.id).bind(r.user_id.clone());
    let query = bind_credentials(query, &session.credentials).bind(Json(r.data.clone()));
    sql::bind_record!(query, r, std::convert::identity)
}

/// A session as `LOAD_BY_*` reads it.
pub(super) fn stored(row: &PgRow) -> Result<StoredSession, Error> {
    let hashes: Option<Vec<Vec<u8>>> = row.try_get("hashes")?;
    let states: Option<Vec<i16>> = row.try_get("states")?;
    let issued: Option<Vec<OffsetDateTime>> = row.try_get("issued")?;
    let replaced: Option<Vec<Option<OffsetDateTime>>> = row.try_get("replaced")?;
    let (hashes, states) = (hashes.unwrap_or_default(), states.unwrap_or_default());
    let (issued, replaced) = (issued.unwrap_or_default(), replaced.unwrap_or_default());
    if [states.len(), issued.len(), replaced.len()] != [hashes.len(); 3] {
        return Err(Error::Corrupt("token columns of different lengths"));
    }
    let tokens = (0..hashes.len())
        .map(|i| sql::token_entry(&hashes[i], states[i].into(), issued[i], replaced[i]))
        .collect::<Result<_, _>>()?;
    sql::stored_session(row, tokens)
}

fn epoch(n: u64) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| Error::Corrupt("epoch or version out of range"))
}

impl PgStorage {
    /// The session a load statement reads: one row, its tokens as arrays.
    pub(super) async fn read_session(
        &self, query: Query<'static>,
    ) -> Result<Option<StoredSession>, Error> {
        self.row(query).await?.as_ref().map(stored).transpose()
    }
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
                } => sqlx::query(q::GC_BATCH)
                    .bind(now)
                    .bind(revoked_before)
                    .bind(i64::from(limit)),
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
