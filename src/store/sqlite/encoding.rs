//! How the SQLite store keeps what SQLite has no type for: times as Unix
//! microseconds (UTC), session data as JSON text.

use crate::store::error::Error;
use crate::store::sql::Dialect;
use serde_json::{Map, Value};
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

/// A time as stored: Unix microseconds.
pub(super) fn ts(t: OffsetDateTime) -> i64 {
    // Saturating: past what i64 holds (only with `time`'s `large-dates`),
    // as far as it goes, never wrapped to the other end.
    let micros = t.unix_timestamp_nanos() / 1_000;
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

fn from_ts(micros: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| Error::Corrupt("timestamp out of range"))
}

impl Dialect for SqliteRow {
    fn time(&self, col: &str) -> Result<OffsetDateTime, Error> {
        from_ts(self.try_get(col)?)
    }

    fn opt_time(&self, col: &str) -> Result<Option<OffsetDateTime>, Error> {
        self.try_get::<Option<i64>, _>(col)?
            .map(from_ts)
            .transpose()
    }

    fn data(&self, col: &str) -> Result<Map<String, Value>, Error> {
        Ok(serde_json::from_str(self.try_get(col)?)?)
    }
}
