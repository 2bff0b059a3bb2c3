//! Data writes in batches: [`WriteCall`], sent alone with `WRITE` or
//! together with `WRITE_BATCH`.

use super::{Batcher, Call};
use crate::store::data::DataPatch;
use crate::store::error::Error;
use crate::store::postgres::{PgStorage, statements as q};
use crate::store::sql::{self, Columns as _};
use crate::store::storage::{Write, WriteOutcome};
use serde_json::{Map, Value};
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use std::collections::HashMap;
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
    /// How many data writes this is (more than 1: merged, [`Call::merge`]):
    /// the versions it counts.
    writes: i64,
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
            writes: 1,
        })
    }

    /// A patch with no version to check and no activity: one that may go
    /// with the session's next such write.
    fn merges(&self) -> bool {
        self.patched
            && self.expected.is_none()
            && self.seen.is_none()
            && self.expires.is_none()
            && self.ip.is_none()
    }

    fn patch(&self) -> DataPatch {
        DataPatch {
            set: self.set.0.clone(),
            remove: self.remove.clone(),
        }
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

    fn merge(&self, later: &Self) -> Option<Self> {
        if self.id != later.id || !self.merges() || !later.merges() {
            return None;
        }
        let patch = self.patch().then(&later.patch());
        Some(Self {
            id: self.id,
            patched: true,
            set: Json(patch.set),
            remove: patch.remove,
            expected: None,
            seen: None,
            expires: None,
            ip: None,
            writes: self.writes + later.writes,
        })
    }

    /// Each merged write's version: the last one's is the row's, the
    /// others' the ones before it, in order.
    fn split(answer: WriteOutcome, n: usize) -> Vec<WriteOutcome> {
        (0..n)
            .map(|i| match answer {
                WriteOutcome::Written { version } => WriteOutcome::Written {
                    version: version - (n - 1 - i) as u64,
                },
                other => other,
            })
            .collect()
    }

    async fn send_one(self, storage: &PgStorage) -> Result<WriteOutcome, Error> {
        let checked = self.expected.is_some();
        let query = sqlx::query(q::WRITE)
            .bind(self.id)
            .bind(self.patched)
            .bind(self.set)
            .bind(self.remove)
            .bind(self.expected)
            .bind(self.seen)
            .bind(self.expires)
            .bind(self.ip)
            .bind(self.writes);
        let Some(row) = storage.row(query).await? else {
            return Err(Error::Corrupt("a write returned no row"));
        };
        outcome(&row, checked)
    }

    /// One statement for `calls` (one write per session): the outcome of
    /// each, in their order.
    async fn send_many(calls: &[Self], storage: &PgStorage) -> Result<Vec<WriteOutcome>, Error> {
        let query = sqlx::query(q::WRITE_BATCH)
            .bind(calls.iter().map(|w| w.id).collect::<Vec<_>>())
            .bind(calls.iter().map(|w| w.patched).collect::<Vec<_>>())
            .bind(calls.iter().map(|w| w.set.clone()).collect::<Vec<_>>())
            .bind(
                calls
                    .iter()
                    .map(|w| Json(w.remove.clone()))
                    .collect::<Vec<_>>(),
            )
            .bind(calls.iter().map(|w| w.expected).collect::<Vec<_>>())
            .bind(calls.iter().map(|w| w.seen).collect::<Vec<_>>())
            .bind(calls.iter().map(|w| w.expires).collect::<Vec<_>>())
            .bind(calls.iter().map(|w| w.ip.clone()).collect::<Vec<_>>())
            .bind(calls.iter().map(|w| w.writes).collect::<Vec<_>>());
        let found = storage.rows(query).await?;
        let mut by_id = HashMap::with_capacity(found.len());
        for row in &found {
            by_id.insert(row.try_get::<Uuid, _>("id")?, row);
        }
        calls
            .iter()
            .map(|w| {
                let row = by_id
                    .get(&w.id)
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
