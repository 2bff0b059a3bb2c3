//! How the SQL stores keep a session's [`Credentials`]: its tokens as rows
//! of the token table (by hash, so that a token of 0.1's form is found by
//! it), its remember-me credential in the session row's `remember_*`
//! columns. Both are the shapes 0.1 reads and writes, so that a fleet that
//! still runs 0.1 beside this version shares them.
//!
//! The one difference is a pending remember-me validator, which 0.1 does
//! not know. It is kept where 0.1 looks for the current one
//! (`remember_validator_hash`), with the current one where 0.1 looks for
//! the one it replaced (`remember_prev_validator_hash`, accepted for its
//! grace after `remember_rotated_at`, set to when the pending one was
//! issued); `remember_pending_validator_hash` marks it, and the columns
//! `remember_prior_*` keep the previous validator and when it was replaced.
//! So a 0.1 instance accepts the validator a client holds whether or not it
//! got the pending one, and replaces them as 0.1 does (after which the mark
//! no longer names the validator column, and is ignored).

use super::rows::Columns;
use crate::store::credentials::{Credentials, RememberState, TokenEntry};
use crate::store::error::Error;
use crate::store::types::{TokenHash, TokenState};
use time::OffsetDateTime;

/// The code and time of a token row's state: `0` current, `1` pending,
/// `2` superseded, `3` retired (with when).
pub(crate) fn state_code(state: TokenState) -> (i16, Option<OffsetDateTime>) {
    match state {
        TokenState::Current => (0, None),
        TokenState::Pending => (1, None),
        TokenState::Superseded { at } => (2, Some(at)),
        TokenState::Retired { at } => (3, Some(at)),
    }
}

/// The state a token row's code and time say.
pub(crate) fn token_state(code: i64, at: Option<OffsetDateTime>) -> Result<TokenState, Error> {
    match (code, at) {
        (0, _) => Ok(TokenState::Current),
        (1, _) => Ok(TokenState::Pending),
        (2, Some(at)) => Ok(TokenState::Superseded { at }),
        (3, Some(at)) => Ok(TokenState::Retired { at }),
        _ => Err(Error::Corrupt("unknown token state")),
    }
}

/// The token rows of `credentials`, as columns: hashes, state codes, when
/// each was issued, and when each was replaced.
pub(crate) struct TokenColumns {
    pub(crate) hashes: Vec<Vec<u8>>,
    pub(crate) states: Vec<i16>,
    pub(crate) issued: Vec<OffsetDateTime>,
    pub(crate) replaced: Vec<Option<OffsetDateTime>>,
}

impl TokenColumns {
    pub(crate) fn of(credentials: &Credentials) -> Self {
        let mut cols = Self {
            hashes: Vec::new(),
            states: Vec::new(),
            issued: Vec::new(),
            replaced: Vec::new(),
        };
        for t in &credentials.tokens {
            let (code, at) = state_code(t.state);
            cols.hashes.push(t.hash.as_bytes().to_vec());
            cols.states.push(code);
            cols.issued.push(t.issued_at);
            cols.replaced.push(at);
        }
        cols
    }
}

/// One token row, read back.
pub(crate) fn token_entry(
    hash: &[u8], code: i64, issued: OffsetDateTime, replaced: Option<OffsetDateTime>,
) -> Result<TokenEntry, Error> {
    let hash = <[u8; 32]>::try_from(hash).map_err(|_| Error::Corrupt("hash is not 32 bytes"))?;
    Ok(TokenEntry::new(
        TokenHash::from_bytes(hash),
        token_state(code, replaced)?,
        issued,
    ))
}

/// The `remember_*` columns of a session row, in the order
/// `REMEMBER_COLUMNS` names them.
#[derive(Debug, Default)]
pub(crate) struct RememberColumns {
    pub(crate) selector: Option<Vec<u8>>,
    pub(crate) validator: Option<Vec<u8>>,
    pub(crate) previous: Option<Vec<u8>>,
    pub(crate) rotated_at: Option<OffsetDateTime>,
    pub(crate) expires_at: Option<OffsetDateTime>,
    pub(crate) pending: Option<Vec<u8>>,
    pub(crate) pending_at: Option<OffsetDateTime>,
    pub(crate) prior: Option<Vec<u8>>,
    pub(crate) prior_rotated_at: Option<OffsetDateTime>,
}

/// The remember-me columns, in [`RememberColumns`]'s order.
const REMEMBER_COLUMNS: [&str; 9] = [
    "remember_selector",
    "remember_validator_hash",
    "remember_prev_validator_hash",
    "remember_rotated_at",
    "remember_expires_at",
    "remember_pending_validator_hash",
    "remember_pending_at",
    "remember_prior_validator_hash",
    "remember_prior_rotated_at",
];

fn bytes(h: &TokenHash) -> Vec<u8> {
    h.as_bytes().to_vec()
}

impl RememberColumns {
    /// The columns that keep `remember` (all null without one).
    pub(crate) fn of(remember: Option<&RememberState>) -> Self {
        let Some(r) = remember else {
            return Self::default();
        };
        let mut cols = Self {
            selector: Some(r.selector.to_vec()),
            expires_at: Some(r.expires_at),
            ..Self::default()
        };
        match r.pending {
            None => {
                cols.validator = Some(bytes(&r.validator));
                cols.previous = r.previous.as_ref().map(bytes);
                cols.rotated_at = Some(r.rotated_at);
            }
            Some((pending, at)) => {
                // Where 0.1 looks: the pending validator as current, the
                // current one as replaced when it was issued.
                cols.validator = Some(bytes(&pending));
                cols.previous = Some(bytes(&r.validator));
                cols.rotated_at = Some(at);
                cols.pending = Some(bytes(&pending));
                cols.pending_at = Some(at);
                cols.prior = r.previous.as_ref().map(bytes);
                cols.prior_rotated_at = Some(r.rotated_at);
            }
        }
        cols
    }

    /// The credential the columns of `row` keep, if any.
    pub(crate) fn read(row: &impl Columns) -> Result<Option<RememberState>, Error> {
        let selector = row.opt_bytes(REMEMBER_COLUMNS[0])?;
        let (Some(selector), Some(validator)) = (selector, row.opt_hash(REMEMBER_COLUMNS[1])?)
        else {
            return Ok(None);
        };
        let selector = <[u8; 16]>::try_from(selector.as_slice())
            .map_err(|_| Error::Corrupt("selector is not 16 bytes"))?;
        let previous = row.opt_hash(REMEMBER_COLUMNS[2])?;
        let rotated_at = row.opt_time(REMEMBER_COLUMNS[3])?;
        let expires_at = row.time(REMEMBER_COLUMNS[4])?;
        let pending = row.opt_hash(REMEMBER_COLUMNS[5])?;
        let marked = pending.is_some_and(|p| p == validator);
        let state = match (marked, previous, row.opt_time(REMEMBER_COLUMNS[6])?) {
            // Marked pending, and no 0.1 instance replaced it since.
            (true, Some(current), Some(at)) => RememberState::new(
                selector,
                current,
                row.opt_hash(REMEMBER_COLUMNS[7])?,
                Some((validator, at)),
                row.opt_time(REMEMBER_COLUMNS[8])?.unwrap_or(at),
                expires_at,
            ),
            _ => RememberState::new(
                selector,
                validator,
                previous,
                None,
                rotated_at.unwrap_or(expires_at),
                expires_at,
            ),
        };
        Ok(Some(state))
    }
}
