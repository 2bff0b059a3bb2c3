//! Reading rows of either dialect into records: what the dialects store
//! differently, and the readers of session, token and stats columns.

use super::super::credentials::{Credentials, TokenEntry};
use super::super::error::Error;
use super::super::report::StoreStats;
use super::super::storage::StoredSession;
use super::super::types::{SessionRecord, TokenHash};
use super::RememberColumns;
use serde_json::{Map, Value};
use sqlx::{ColumnIndex, Decode, Row, Type};
use std::net::IpAddr;
use time::OffsetDateTime;
use uuid::Uuid;

/// What the dialects store differently: times (Postgres `timestamptz`,
/// SQLite microseconds), the data (`jsonb`, text) and small integers.
pub(crate) trait Dialect: Row {
    /// A `NOT NULL` time column.
    fn time(&self, col: &str) -> Result<OffsetDateTime, Error>;
    /// A nullable time column.
    fn opt_time(&self, col: &str) -> Result<Option<OffsetDateTime>, Error>;
    /// The session data column.
    fn data(&self, col: &str) -> Result<Map<String, Value>, Error>;
}

/// Reading the session columns from a row of either dialect.
pub(crate) trait Columns: Dialect {
    /// A uuid column.
    fn uuid(&self, col: &str) -> Result<Uuid, Error>;
    /// A nullable text column.
    fn text(&self, col: &str) -> Result<Option<String>, Error>;
    /// A boolean column.
    fn flag(&self, col: &str) -> Result<bool, Error>;
    /// A `count(*)`.
    fn count(&self, col: &str) -> Result<u64, Error>;
    /// A `NOT NULL` integer column that is never negative (a version).
    fn unsigned(&self, col: &str) -> Result<u64, Error>;
    /// A nullable hash column.
    fn opt_hash(&self, col: &str) -> Result<Option<TokenHash>, Error>;
    /// A nullable byte column.
    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>, Error>;
    /// A nullable IP address, stored as text.
    fn ip(&self, col: &str) -> Result<Option<IpAddr>, Error>;
}

impl<R> Columns for R
where
    R: Dialect,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn uuid(&self, col: &str) -> Result<Uuid, Error> {
        Ok(self.try_get(col)?)
    }

    fn text(&self, col: &str) -> Result<Option<String>, Error> {
        Ok(self.try_get(col)?)
    }

    fn flag(&self, col: &str) -> Result<bool, Error> {
        Ok(self.try_get(col)?)
    }

    fn count(&self, col: &str) -> Result<u64, Error> {
        Ok(u64::try_from(self.try_get::<i64, _>(col)?).unwrap_or(0))
    }

    fn unsigned(&self, col: &str) -> Result<u64, Error> {
        u64::try_from(self.try_get::<i64, _>(col)?).map_err(|_| Error::Corrupt("negative version"))
    }

    fn opt_hash(&self, col: &str) -> Result<Option<TokenHash>, Error> {
        self.try_get::<Option<Vec<u8>>, _>(col)?
            .map(hash)
            .transpose()
    }

    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.try_get(col)?)
    }

    fn ip(&self, col: &str) -> Result<Option<IpAddr>, Error> {
        let text: Option<String> = self.try_get(col)?;
        Ok(text.and_then(|s| s.parse().ok()))
    }
}

fn hash(bytes: Vec<u8>) -> Result<TokenHash, Error> {
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(TokenHash::from_bytes)
        .map_err(|_| Error::Corrupt("hash is not 32 bytes"))
}

/// `$ty { field: row.reader("field")?, … }`: each field read from the
/// column of its own name, with the [`Columns`] reader named beside it.
macro_rules! read_columns {
    ($row:ident => $ty:ident { $($field:ident: $reader:ident),* $(,)? }) => {
        $ty { $($field: $row.$reader(stringify!($field))?),* }
    };
}

/// A session row.
pub(crate) fn record(row: &impl Columns) -> Result<SessionRecord, Error> {
    Ok(read_columns!(row => SessionRecord {
        id: uuid, user_id: text, data: data, created_at: time, authenticated_at: opt_time,
        last_seen_at: time, expires_at: time, absolute_expires_at: time,
        tokens_expire_at: opt_time, rotated_at: time,
        ip: ip, user_agent: text, persistent: flag, revoked_at: opt_time,
        revoke_reason: text, revoked_by: text, version: unsigned, name: text,
        last_ip: ip, location: text, sign_in_method: text, second_factor: flag,
        api_client: flag,
    }))
}

/// A whole session: its row (with the remember-me columns and
/// `cred_epoch`) and its `tokens`, read from their own rows or columns.
pub(crate) fn stored_session(
    row: &impl Columns, tokens: Vec<TokenEntry>,
) -> Result<StoredSession, Error> {
    let credentials = Credentials::new(tokens, RememberColumns::read(row)?);
    Ok(StoredSession::new(
        record(row)?,
        credentials,
        row.unsigned("cred_epoch")?,
    ))
}

/// The counts of `stats`: the columns `sessions`, `users`, `collectable`.
pub(crate) fn stats(row: &impl Columns) -> Result<StoreStats, Error> {
    Ok(StoreStats {
        active_sessions: row.count("sessions")?,
        active_users: row.count("users")?,
        collectable: row.count("collectable")?,
    })
}
