//! A session's row as Postgres binds and reads it: its columns and its
//! tokens as arrays. Below both the storage operations (`storage.rs`) and
//! the batches (`batch/`), which send the same rows.

use super::{PgStorage, Query, statements as q};
use crate::store::credentials::Credentials;
use crate::store::error::Error;
use crate::store::sql::{self, RememberColumns, TokenColumns};
use crate::store::storage::StoredSession;
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use time::OffsetDateTime;

/// Binds the remember-me columns, then the token rows (`$3` … `$15`).
pub(super) fn bind_credentials(query: Query<'static>, credentials: &Credentials) -> Query<'static> {
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

impl PgStorage {
    /// The session a load statement reads: one row, its tokens as arrays.
    pub(super) async fn read_session(
        &self, query: Query<'static>,
    ) -> Result<Option<StoredSession>, Error> {
        self.row(query).await?.as_ref().map(stored).transpose()
    }
}
