//! Data writes in batches: [`WriteCall`], sent alone with `WRITE` or
//! together with `WRITE_BATCH`.

use super::{Batcher, Call, Queued, outage};
use crate::store::error::Error;
use crate::store::postgres::{PgStorage, statements as q};
use crate::store::sql::{self, Columns as _};
use crate::store::storage::{Write, WriteOutcome};
use serde_json::{Map, Value};
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// One data write as bound: what a statement sends for one session.
#[derive(Debug)]
pub(in crate::store::postgres) struct WriteCall {
    id: Uuid,
    patched: bool,
    set: Json<Map<String, Value>>,
    remove: Vec<String>,
    expected: Option<i64>,
    seen: Option<OffsetDateTime>,
    expires: Option<OffsetDateTime>,
    ip: Option<String>,
}

impl WriteCall {
    pub(in crate::store::postgres) fn new(id: Uuid, write: &Write<'_>) -> Result<Self, Error> {
        let expected = write
            .expected_version
            .map(i64::try_from)
            .transpose()
            .map_err(|_| Error::Corrupt("version out of range"))?;
        let activity = write.activity.as_ref();
        Ok(Self {
            id,
            patched: write.patch.is_some(),
            set: Json(write.patch.map(|p| p.set.clone()).unwrap_or_default()),
            remove: write.patch.map(|p| p.remove.clone()).unwrap_or_default(),
            expected,
            seen: activity.map(|a| a.last_seen_at),
            expires: activity.map(|a| a.expires_at),
            ip: sql::ip_text(activity.and_then(|a| a.new_ip)),
        })
    }
}

impl Call for WriteCall {
    type Answer = WriteOutcome;
    const ONE_PER_SESSION: bool = true;

    fn session(&self) -> Option<Uuid> {
        Some(self.id)
    }

    fn queue(storage: &PgStorage) -> &Batcher<Self> {
        &storage.batches.writes
    }

    async fn send(storage: &PgStorage, batch: Vec<Queued<Self>>) {
        if batch.len() == 1 {
            for Queued { call, reply } in batch {
                let _ = reply.send(storage.write_one(call).await);
            }
            return;
        }
        match storage.write_many(&batch).await {
            Ok(outcomes) => {
                for (queued, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = queued.reply.send(Ok(outcome));
                }
            }
            Err(e) if e.is_unavailable() => {
                for queued in batch {
                    let _ = queued.reply.send(Err(outage(&e)));
                }
            }
            // Not an outage (a deadlock with a revocation over many
            // sessions, a value one row's column refuses): each write alone,
            // so that one never fails the others.
            Err(_) => {
                for Queued { call, reply } in batch {
                    let _ = reply.send(storage.write_one(call).await);
                }
            }
        }
    }
}

impl PgStorage {
    async fn write_one(&self, w: WriteCall) -> Result<WriteOutcome, Error> {
        let checked = w.expected.is_some();
        let query = sqlx::query(q::WRITE)
            .bind(w.id)
            .bind(w.patched)
            .bind(w.set)
            .bind(w.remove)
            .bind(w.expected)
            .bind(w.seen)
            .bind(w.expires)
            .bind(w.ip);
        let Some(row) = self.row(query).await? else {
            return Err(Error::Corrupt("a write returned no row"));
        };
        outcome(&row, checked)
    }

    /// One statement for `batch` (one write per session): the outcome of
    /// each, in its order.
    async fn write_many(&self, batch: &[Queued<WriteCall>]) -> Result<Vec<WriteOutcome>, Error> {
        let calls = || batch.iter().map(|q| &q.call);
        let query = sqlx::query(q::WRITE_BATCH)
            .bind(calls().map(|w| w.id).collect::<Vec<_>>())
            .bind(calls().map(|w| w.patched).collect::<Vec<_>>())
            .bind(calls().map(|w| w.set.clone()).collect::<Vec<_>>())
            .bind(calls().map(|w| Json(w.remove.clone())).collect::<Vec<_>>())
            .bind(calls().map(|w| w.expected).collect::<Vec<_>>())
            .bind(calls().map(|w| w.seen).collect::<Vec<_>>())
            .bind(calls().map(|w| w.expires).collect::<Vec<_>>())
            .bind(calls().map(|w| w.ip.clone()).collect::<Vec<_>>());
        let found = self.rows(query).await?;
        calls()
            .map(|w| {
                let row = found
                    .iter()
                    .find(|row| row.try_get::<Uuid, _>("id").is_ok_and(|id| id == w.id))
                    .ok_or(Error::Corrupt("a batch of writes left a write unanswered"))?;
                outcome(row, w.expected.is_some())
            })
            .collect()
    }
}

/// A write's outcome from its row of `WRITE` or `WRITE_BATCH`.
fn outcome(row: &PgRow, checked: bool) -> Result<WriteOutcome, Error> {
    let version: Option<i64> = row.try_get("version")?;
    Ok(match version {
        Some(v) => WriteOutcome::Written {
            version: u64::try_from(v).map_err(|_| Error::Corrupt("negative version"))?,
        },
        None if row.flag("live")? && checked => WriteOutcome::Conflict,
        None => WriteOutcome::Gone,
    })
}
