//! What the SQL stores (Postgres, SQLite) share: the session rules as SQL
//! fragments, and reading rows into records.
//!
//! The fragments are written once for both dialects, which differ here only
//! in their placeholders (`$5` against `?5`): pass the placeholder. They are
//! macros so that statements stay `&'static str` (`concat!`).

use super::error::Error;
use super::report::StoreStats;
use super::types::{RememberedSession, SessionRecord, TokenHash, TokenState};
use serde_json::{Map, Value};
use sqlx::{ColumnIndex, Decode, Row, Type};
use time::OffsetDateTime;
use uuid::Uuid;

/// A live row at time `$t`: the SQL of [`SessionRecord::is_live`].
macro_rules! live_at {
    ($t:literal) => {
        concat!(
            "revoked_at IS NULL AND absolute_expires_at > ",
            $t,
            " AND (persistent OR expires_at > ",
            $t,
            ")"
        )
    };
}

/// A row garbage collection may delete, expired at `$now` or revoked before
/// `$horizon`: the SQL of [`SessionRecord::is_collectable`].
macro_rules! collectable {
    ($now:literal, $horizon:literal) => {
        concat!(
            "((revoked_at IS NULL AND (absolute_expires_at <= ",
            $now,
            " OR (NOT persistent AND expires_at <= ",
            $now,
            "))) OR revoked_at < ",
            $horizon,
            ")"
        )
    };
}

/// An `UPDATE` of `$table` that revokes the live rows `$filter` picks, with
/// the placeholders of the reason, who and when. The remember-me credential
/// dies with the session.
macro_rules! revoke_where {
    ($table:literal, $reason:literal, $by:literal, $at:literal, $filter:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " SET revoked_at = ",
            $at,
            ", revoke_reason = ",
            $reason,
            ", revoked_by = ",
            $by,
            ", remember_selector = NULL, remember_validator_hash = NULL, ",
            "remember_prev_validator_hash = NULL WHERE ",
            $filter,
            " AND ",
            $crate::store::sql::live_at!($at)
        )
    };
}

/// Live sessions and users of `$table` at `$now`, and its rows collectable
/// at `$now` with the retention horizon `$horizon`: the columns [`stats`]
/// reads.
macro_rules! stats_query {
    ($table:literal, $now:literal, $horizon:literal) => {
        concat!(
            "SELECT count(*) FILTER (WHERE ",
            $crate::store::sql::live_at!($now),
            ") AS sessions, count(DISTINCT user_id) FILTER (WHERE ",
            $crate::store::sql::live_at!($now),
            ") AS users, count(*) FILTER (WHERE ",
            $crate::store::sql::collectable!($now, $horizon),
            ") AS collectable FROM ",
            $table
        )
    };
}

pub(crate) use {collectable, live_at, revoke_where, stats_query};

/// [`REPLACED_TOKENS_KEPT`](super::types::REPLACED_TOKENS_KEPT), as the
/// statements that prune a session's tokens bind it.
pub(crate) const REPLACED_KEPT: i64 = super::types::REPLACED_TOKENS_KEPT as i64;

/// What the dialects store differently: times (Postgres `timestamptz`,
/// SQLite microseconds), the data (`jsonb`, text) and small integers.
pub(crate) trait Dialect: Row {
    /// A `NOT NULL` time column.
    fn time(&self, col: &str) -> Result<OffsetDateTime, Error>;
    /// A nullable time column.
    fn opt_time(&self, col: &str) -> Result<Option<OffsetDateTime>, Error>;
    /// The session data column.
    fn data(&self, col: &str) -> Result<Map<String, Value>, Error>;
    /// A small integer code column (token states).
    fn code(&self, col: &str) -> Result<i64, Error>;
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
    /// A `NOT NULL` hash column.
    fn hash(&self, col: &str) -> Result<TokenHash, Error>;
    /// A nullable hash column.
    fn opt_hash(&self, col: &str) -> Result<Option<TokenHash>, Error>;
}

impl<R> Columns for R
where
    R: Dialect,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
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

    fn hash(&self, col: &str) -> Result<TokenHash, Error> {
        hash(self.try_get(col)?)
    }

    fn opt_hash(&self, col: &str) -> Result<Option<TokenHash>, Error> {
        self.try_get::<Option<Vec<u8>>, _>(col)?
            .map(hash)
            .transpose()
    }
}

fn hash(bytes: Vec<u8>) -> Result<TokenHash, Error> {
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(TokenHash::from_bytes)
        .map_err(|_| Error::Corrupt("hash is not 32 bytes"))
}

/// A session row. `ip` is read as text.
pub(crate) fn record(row: &impl Columns) -> Result<SessionRecord, Error> {
    Ok(SessionRecord {
        id: row.uuid("id")?,
        user_id: row.text("user_id")?,
        data: row.data("data")?,
        created_at: row.time("created_at")?,
        authenticated_at: row.opt_time("authenticated_at")?,
        last_seen_at: row.time("last_seen_at")?,
        expires_at: row.time("expires_at")?,
        absolute_expires_at: row.time("absolute_expires_at")?,
        rotated_at: row.time("rotated_at")?,
        ip: row.text("ip")?.and_then(|s| s.parse().ok()),
        user_agent: row.text("user_agent")?,
        persistent: row.flag("persistent")?,
        revoked_at: row.opt_time("revoked_at")?,
        revoke_reason: row.text("revoke_reason")?,
        revoked_by: row.text("revoked_by")?,
        name: row.text("name")?,
        version: row.unsigned("version")?,
    })
}

/// A session row with its remember-me columns.
pub(crate) fn remembered(row: &impl Columns) -> Result<RememberedSession, Error> {
    Ok(RememberedSession {
        record: record(row)?,
        validator: row.hash("remember_validator_hash")?,
        previous: row.opt_hash("remember_prev_validator_hash")?,
        rotated_at: row.time("remember_rotated_at")?,
        expires_at: row.time("remember_expires_at")?,
    })
}

/// The state of a token row: the columns `state` and `superseded_at`.
pub(crate) fn token_state(row: &impl Columns) -> Result<TokenState, Error> {
    match (row.code("state")?, row.opt_time("superseded_at")?) {
        (0, _) => Ok(TokenState::Current),
        (1, _) => Ok(TokenState::Pending),
        (2, Some(at)) => Ok(TokenState::Superseded { at }),
        (3, Some(at)) => Ok(TokenState::Retired { at }),
        _ => Err(Error::Corrupt("unknown token state")),
    }
}

/// The counts of `stats`: the columns `sessions`, `users`, `collectable`.
pub(crate) fn stats(row: &impl Columns) -> Result<StoreStats, Error> {
    Ok(StoreStats {
        active_sessions: row.count("sessions")?,
        active_users: row.count("users")?,
        collectable: row.count("collectable")?,
    })
}
