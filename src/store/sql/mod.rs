//! What the SQL stores (Postgres, SQLite) share: the session rules as SQL
//! fragments, and reading rows into records.
//!
//! The fragments are written once for both dialects, which differ here only
//! in their placeholders (`$5` against `?5`): pass the placeholder. They are
//! macros so that statements stay `&'static str` (`concat!`).

use super::error::Error;
use sqlx::{Database, Pool};
use std::future::Future;
use std::pin::Pin;

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

/// A row that takes writes, its columns prefixed with `$p` (`""` or
/// `"s."`): the SQL of [`SessionRecord::takes_writes`].
macro_rules! takes_writes {
    ($p:literal) => {
        concat!(
            $p,
            "revoked_at IS NULL AND ",
            $p,
            "absolute_expires_at > ",
            $p,
            "rotated_at"
        )
    };
}

/// When a row ends or ended: the SQL of [`SessionRecord::ended_at`].
macro_rules! ended_at {
    () => {
        "COALESCE(revoked_at, CASE WHEN persistent OR absolute_expires_at < expires_at \
         THEN absolute_expires_at ELSE expires_at END)"
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

/// A session row `s`'s credentials as a load reads them: their epoch,
/// then the remember-me columns in [`RememberColumns`]'s order.
macro_rules! credential_cols {
    () => {
        "s.cred_epoch, s.remember_selector, s.remember_validator_hash, \
         s.remember_prev_validator_hash, s.remember_rotated_at, s.remember_expires_at, \
         s.remember_pending_validator_hash, s.remember_pending_at, \
         s.remember_prior_validator_hash, s.remember_prior_rotated_at"
    };
}

/// The columns a new session row is inserted with, in the order of its
/// placeholders: its id and user, the remember-me columns, its data, then
/// the record's columns as [`bind_record!`] binds them.
macro_rules! insert_cols {
    () => {
        "id, user_id, remember_selector, remember_validator_hash,
         remember_prev_validator_hash, remember_rotated_at, remember_expires_at,
         remember_pending_validator_hash, remember_pending_at,
         remember_prior_validator_hash, remember_prior_rotated_at,
         data, created_at, authenticated_at, last_seen_at, expires_at,
         absolute_expires_at, tokens_expire_at, rotated_at, ip, user_agent, persistent,
         last_ip, location, sign_in_method, second_factor, api_client, name"
    };
}

/// Binds the columns of record `$r` that follow its data in
/// [`insert_cols!`] (`created_at` … `name`) to `$query`, each time through
/// the dialect's `$time`.
macro_rules! bind_record {
    ($query:expr, $r:expr, $time:path) => {
        $query
            .bind($time($r.created_at))
            .bind($r.authenticated_at.map($time))
            .bind($time($r.last_seen_at))
            .bind($time($r.expires_at))
            .bind($time($r.absolute_expires_at))
            .bind($r.tokens_expire_at.map($time))
            .bind($time($r.rotated_at))
            .bind($crate::store::sql::ip_text($r.ip))
            .bind($r.user_agent.clone())
            .bind($r.persistent)
            .bind($crate::store::sql::ip_text($r.last_ip))
            .bind($r.location.clone())
            .bind($r.sign_in_method.clone())
            .bind($r.second_factor)
            .bind($r.api_client)
            .bind($r.name.clone())
    };
}

/// An `UPDATE` of `$table` that revokes the rows `$filter` picks that are
/// live at `$live_after` ([`Revocation::reaches`](super::Revocation::reaches)),
/// with the placeholders of the reason, who and when, counting one more epoch of
/// their credentials. The remember-me credential and the session's data die
/// with the session: a revoked row keeps only what "Recently signed out"
/// and the audit show (and its token rows, so that a replayed token is
/// recognised).
macro_rules! revoke_where {
    (
        $table:literal, $reason:literal, $by:literal, $at:literal, $live_after:literal,
        $filter:literal
    ) => {
        concat!(
            "UPDATE ",
            $table,
            " SET revoked_at = ",
            $at,
            ", revoke_reason = ",
            $reason,
            ", revoked_by = ",
            $by,
            ", data = '{}', remember_selector = NULL, remember_validator_hash = NULL, ",
            "remember_prev_validator_hash = NULL, remember_pending_validator_hash = NULL, ",
            "remember_pending_at = NULL, remember_prior_validator_hash = NULL, ",
            "remember_prior_rotated_at = NULL, cred_epoch = cred_epoch + 1 WHERE ",
            $filter,
            " AND ",
            $crate::store::sql::live_at!($live_after)
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

/// `impl SessionStore for $storage` for a SQL store: the operations that both
/// dialects make alike (one statement each), written here once, and
/// `$own`, the store's own; and the store's statement helpers (`execute`,
/// one statement that writes, sent through the store's `one_write`; `row`,
/// `rows`, one that reads, through its `one`; and
/// `load_query`, the load of one session by id, token or selector). The
/// store reads a loaded session with its own `read_session`.
/// `$time` turns a time into the value the dialect binds, `$query` and
/// `$row` are the dialect's query and row types. The expansion site provides
/// the store's statements as `q`; the store has the field `pool`.
macro_rules! impl_sql_storage {
    ($storage:ty, query = $query:ident, row = $row:ty, time = $time:path, { $($own:tt)* }) => {
        impl $storage {
            /// Runs one statement that writes: how many rows it changed.
            pub(super) async fn execute(&self, query: $query<'static>) -> Result<u64, Error> {
                self.one_write(query, |q, c| Box::pin(async move { Ok(q.execute(c).await?.rows_affected()) }))
                    .await
            }

            /// Runs one statement that reads at most one row.
            pub(super) async fn row(&self, query: $query<'static>) -> Result<Option<$row>, Error> {
                self.one(query, |q, c| Box::pin(q.fetch_optional(c))).await
            }

            /// Runs one statement that reads rows.
            pub(super) async fn rows(&self, query: $query<'static>) -> Result<Vec<$row>, Error> {
                self.one(query, |q, c| Box::pin(q.fetch_all(c))).await
            }

            /// The statement that loads the one session `key` finds.
            pub(super) fn load_query(key: &Lookup) -> $query<'static> {
                match key {
                    Lookup::Id(id) => sqlx::query(q::LOAD_BY_ID).bind(*id),
                    Lookup::Token(h) => sqlx::query(q::LOAD_BY_TOKEN).bind(h.as_bytes().to_vec()),
                    Lookup::Selector(s) => sqlx::query(q::LOAD_BY_SELECTOR).bind(s.to_vec()),
                }
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::storage::SessionStore for $storage {
            $($own)*

            async fn revoke(
                &self, scope: &RevokeScope<'_>, how: &Revocation,
            ) -> Result<u64, Error> {
                // Each filter has two placeholders; the unused ones are null.
                let query = match *scope {
                    RevokeScope::Session { id, owner } => {
                        sqlx::query(q::REVOKE).bind(id).bind(owner)
                    }
                    RevokeScope::User { user_id, keep } => {
                        sqlx::query(q::REVOKE_USER).bind(user_id).bind(keep)
                    }
                    RevokeScope::Everyone => sqlx::query(q::REVOKE_EVERY).bind(None::<i64>).bind(None::<i64>),
                };
                let query = query.bind(how.reason.as_str()).bind(how.by.as_str());
                self.execute(query.bind($time(how.at)).bind($time(how.live_after()))).await
            }

            async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<SessionRecord>, Error> {
                let query = match *query {
                    ListQuery::Live { user_id, now, after, limit } => sqlx::query(q::LIST_USER_PAGE)
                        .bind(user_id)
                        .bind($time(now))
                        .bind(after.map(|(t, _)| $time(t)))
                        .bind(after.map(|(_, id)| id))
                        .bind(i64::from(limit)),
                    ListQuery::Ended { user_id, since, now, limit } => sqlx::query(q::LIST_USER_ENDED)
                        .bind(user_id)
                        .bind($time(now))
                        .bind($time(since))
                        .bind(i64::from(limit)),
                };
                self.rows(query).await?.iter().map($crate::store::sql::record).collect()
            }

            async fn stats(
                &self, now: time::OffsetDateTime, revoked_before: time::OffsetDateTime,
            ) -> Result<StoreStats, Error> {
                let query = sqlx::query(q::STATS).bind($time(now)).bind($time(revoked_before));
                match self.row(query).await? {
                    Some(row) => $crate::store::sql::stats(&row),
                    None => Err(Error::Corrupt("an aggregate returned no row")),
                }
            }

            async fn set_device(&self, id: uuid::Uuid, write: &DeviceWrite<'_>) -> Result<bool, Error> {
                let query = match *write {
                    DeviceWrite::Name { user_id, name, now } => sqlx::query(q::RENAME)
                        .bind(id)
                        .bind(user_id)
                        .bind(name)
                        .bind($time(now)),
                    DeviceWrite::Location { ip, location } => sqlx::query(q::SET_LOCATION)
                        .bind(id)
                        .bind(ip.to_string())
                        .bind(location),
                };
                Ok(self.execute(query).await? == 1)
            }
        }
    };
}

pub(crate) use {
    bind_record, collectable, credential_cols, ended_at, impl_sql_storage, insert_cols, live_at,
    revoke_where, stats_query, takes_writes,
};

/// An IP address as both dialects keep it: text (Postgres casts it to
/// `inet`).
pub(crate) fn ip_text(ip: Option<std::net::IpAddr>) -> Option<String> {
    ip.map(|ip| ip.to_string())
}

/// One statement running on a connection: what a store's `one` is given.
pub(crate) type Run<'c, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// A statement of database `DB`, its arguments bound.
pub(crate) type Statement<DB> = sqlx::query::Query<'static, DB, <DB as Database>::Arguments>;

/// Runs one statement, `run(query, connection)`, on a connection from `pool`;
/// a connection that cannot write any more is closed rather than given
/// back ([`spoils_connection`](crate::store::sqlx_error::spoils_connection)).
pub(crate) async fn on_pool<DB, T, F>(
    pool: &Pool<DB>, query: Statement<DB>, run: F,
) -> Result<T, Error>
where
    DB: Database,
    F: for<'c> FnOnce(Statement<DB>, &'c mut DB::Connection) -> Run<'c, T>,
{
    let mut conn = pool.acquire().await?;
    let result = run(query, &mut conn).await;
    if result
        .as_ref()
        .is_err_and(crate::store::sqlx_error::spoils_connection)
    {
        conn.close_on_drop();
    }
    Ok(result?)
}

mod credentials;
pub(crate) mod devices;
mod rows;
pub(crate) use credentials::{RememberColumns, TokenColumns, token_entry};
pub(crate) use rows::{Columns, Dialect, record, stats, stored_session};
