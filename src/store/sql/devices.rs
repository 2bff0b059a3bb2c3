//! [`DeviceRecords`](crate::store::DeviceRecords) for both SQL dialects:
//! one row per user (the document as JSON text, its version, and the two
//! instants garbage collection compares, as microseconds since 1970).

use crate::store::devices::UserDevices;
use crate::store::error::Error;
use time::OffsetDateTime;

/// `t` in microseconds since 1970, as the table keeps it.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    let micros = t.unix_timestamp_nanos() / 1_000;
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

/// A row's version and document.
pub(crate) fn read(version: i64, doc: &str) -> Result<(u64, UserDevices), Error> {
    let version = u64::try_from(version).map_err(|_| Error::Corrupt("negative version"))?;
    let devices =
        serde_json::from_str(doc).map_err(|_| Error::Corrupt("unreadable device records"))?;
    Ok((version, devices))
}

/// A document's row values: its text, when its trust ends, its last failed
/// sign-in.
pub(crate) fn columns(devices: &UserDevices) -> Result<(String, Option<i64>, Option<i64>), Error> {
    let doc = serde_json::to_string(devices)
        .map_err(|_| Error::Corrupt("device records that do not serialise"))?;
    Ok((
        doc,
        devices.trust_until().map(micros),
        devices.last_failed_at().map(micros),
    ))
}

/// `impl DeviceRecords for $storage` on table `$table`, with the dialect's
/// placeholders `$p` (`$1` or `?1` …) and query type `$query`; the storage
/// has `one` (runs one statement) and `one_write` (one that writes: on
/// SQLite, in this process's turn, `sqlite/gate.rs`) as the SQL stores do.
macro_rules! impl_device_records {
    ($storage:ty, query = $query:ident, table = $table:literal,
     p = [$p1:literal, $p2:literal, $p3:literal, $p4:literal, $p5:literal, $p6:literal]) => {
        #[async_trait::async_trait]
        impl $crate::store::devices::DeviceRecords for $storage {
            async fn load_devices(
                &self, user_id: &str,
            ) -> Result<Option<(u64, $crate::store::devices::UserDevices)>, Error> {
                let sql = concat!(
                    "SELECT version, doc FROM ",
                    $table,
                    " WHERE user_id = ",
                    $p1
                );
                let query: $query<'static> = sqlx::query(sql);
                let query = query.bind(user_id.to_owned());
                let row = self
                    .one(query, |q, c| Box::pin(q.fetch_optional(c)))
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let version: i64 = sqlx::Row::try_get(&row, "version")?;
                let doc: String = sqlx::Row::try_get(&row, "doc")?;
                $crate::store::sql::devices::read(version, &doc).map(Some)
            }

            async fn swap_devices(
                &self, user_id: &str, expected: Option<u64>, version: u64,
                devices: &$crate::store::devices::UserDevices,
            ) -> Result<bool, Error> {
                let (doc, trust_until, failed_at) = $crate::store::sql::devices::columns(devices)?;
                let sql = match expected {
                    None => concat!(
                        "INSERT INTO ",
                        $table,
                        " (user_id, version, doc, trust_until, failed_at) VALUES (",
                        $p1,
                        ", ",
                        $p5,
                        ", ",
                        $p2,
                        ", ",
                        $p3,
                        ", ",
                        $p4,
                        ") ON CONFLICT (user_id) DO NOTHING"
                    ),
                    Some(_) => concat!(
                        "UPDATE ",
                        $table,
                        " SET version = ",
                        $p5,
                        ", doc = ",
                        $p2,
                        ", trust_until = ",
                        $p3,
                        ", failed_at = ",
                        $p4,
                        " WHERE user_id = ",
                        $p1,
                        " AND version = ",
                        $p6
                    ),
                };
                let query: $query<'static> = sqlx::query(sql);
                let query = query
                    .bind(user_id.to_owned())
                    .bind(doc)
                    .bind(trust_until)
                    .bind(failed_at)
                    .bind(i64::try_from(version).unwrap_or(i64::MAX));
                let query = match expected {
                    None => query,
                    Some(v) => query.bind(i64::try_from(v).unwrap_or(i64::MAX)),
                };
                let changed = self
                    .one_write(query, |q, c| {
                        Box::pin(async move { Ok(q.execute(c).await?.rows_affected()) })
                    })
                    .await?;
                Ok(changed == 1)
            }

            async fn collect_devices(
                &self, now: time::OffsetDateTime, failed_before: time::OffsetDateTime, limit: u32,
            ) -> Result<u64, Error> {
                let sql = concat!(
                    "DELETE FROM ",
                    $table,
                    " WHERE user_id IN (SELECT user_id FROM ",
                    $table,
                    " WHERE (trust_until IS NULL OR trust_until <= ",
                    $p1,
                    ") AND (failed_at IS NULL OR failed_at < ",
                    $p2,
                    ") LIMIT ",
                    $p3,
                    // Again on the row deleted: a write that committed
                    // while the delete waited for its lock is judged by
                    // its new values (the subquery read the old ones).
                    ") AND (trust_until IS NULL OR trust_until <= ",
                    $p1,
                    ") AND (failed_at IS NULL OR failed_at < ",
                    $p2,
                    ")"
                );
                let query: $query<'static> = sqlx::query(sql);
                let query = query
                    .bind($crate::store::sql::devices::micros(now))
                    .bind($crate::store::sql::devices::micros(failed_before))
                    .bind(i64::from(limit));
                self.one_write(query, |q, c| {
                    Box::pin(async move { Ok(q.execute(c).await?.rows_affected()) })
                })
                .await
            }
        }
    };
}

pub(crate) use impl_device_records;
