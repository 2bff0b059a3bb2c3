//! The SQLite store's statements, each with its placeholders. Tables are
//! prefixed `aus_`; times are Unix microseconds; token states are `0`
//! current, `1` pending, `2` superseded, `3` retired.

use crate::store::sql::{
    credential_cols, ended_at, insert_cols, live_at, revoke_where, stats_query, takes_writes,
};
use sqlx::Sqlite;
use sqlx::sqlite::SqliteArguments;

/// A statement with its arguments bound.
pub(super) type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

/// The columns of a session row `s` but the data, which a list does not
/// read.
macro_rules! listed_cols {
    () => {
        "s.id, s.user_id, s.created_at, s.authenticated_at, s.last_seen_at, \
         s.expires_at, s.absolute_expires_at, s.tokens_expire_at, s.rotated_at, s.ip, s.user_agent, \
         s.persistent, s.revoked_at, s.revoke_reason, s.revoked_by, s.version, s.name, \
         s.last_ip, s.location, s.sign_in_method, s.second_factor, s.api_client"
    };
}

/// A revocation of the live sessions that `$filter` picks with `?1` and
/// `?2`: `?3` reason, `?4` by, `?5` at, `?6` the instant it judges liveness at
/// ([`Revocation::live_after`](crate::store::Revocation::live_after)).
macro_rules! revoke {
    ($filter:literal) => {
        revoke_where!("aus_sessions", "?3", "?4", "?5", "?6", $filter)
    };
}

/// A whole session `s` as `SessionStore::load` reads it: one row per token (the
/// token's columns null when it has none), followed by the `WHERE` that
/// finds it.
macro_rules! load_where {
    ($filter:literal) => {
        concat!(
            "SELECT s.data, ",
            listed_cols!(),
            ", ",
            credential_cols!(),
            ",
               t.token_hash, t.state, t.created_at AS issued, t.superseded_at AS replaced
          FROM aus_sessions s LEFT JOIN aus_tokens t ON t.session_id = s.id
         WHERE ",
            $filter
        )
    };
}

/// Session `?1`, by its primary key.
pub(super) const LOAD_BY_ID: &str = load_where!("s.id = ?1");

/// The session of token hash `?1` (a cookie of 0.1's form).
pub(super) const LOAD_BY_TOKEN: &str =
    load_where!("s.id = (SELECT session_id FROM aus_tokens WHERE token_hash = ?1)");

/// The session holding remember-me selector `?1`.
pub(super) const LOAD_BY_SELECTOR: &str = load_where!("s.remember_selector = ?1");

/// The remember-me columns, assigned from placeholders `?3` … `?11` in the
/// order of `sql::REMEMBER_COLUMNS`.
macro_rules! set_remember {
    () => {
        "remember_selector = ?3, remember_validator_hash = ?4,
         remember_prev_validator_hash = ?5, remember_rotated_at = ?6,
         remember_expires_at = ?7, remember_pending_validator_hash = ?8,
         remember_pending_at = ?9, remember_prior_validator_hash = ?10,
         remember_prior_rotated_at = ?11"
    };
}

/// A new session `?1` of user `?2`, its remember-me columns `?3` … `?11`
/// and its row's columns `?12` …; version and epoch start at 0.
pub(super) const INSERT_SESSION: &str = concat!(
    "INSERT INTO aus_sessions (",
    insert_cols!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
               ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)"
);

/// A token row: hash `?1` of session `?2`, state `?3`, issued `?4`,
/// replaced `?5`.
pub(super) const INSERT_TOKEN: &str = "INSERT INTO aus_tokens
        (token_hash, session_id, state, created_at, superseded_at)
        VALUES (?1, ?2, ?3, ?4, ?5)";

/// Deletes the token rows of session `?1`.
pub(super) const DELETE_TOKENS: &str = "DELETE FROM aus_tokens WHERE session_id = ?1";

/// Deletes session `?1`.
pub(super) const DELETE: &str = "DELETE FROM aus_sessions WHERE id = ?1";

/// Records activity of session `?1` if it is not revoked and (`?2` not
/// null) at version `?2`: last seen `?3`, idle deadline `?4`, a new last IP
/// `?5` (null: unchanged), which clears the place label. Its new version.
pub(super) const WRITE_ACTIVITY: &str = concat!(
    "UPDATE aus_sessions
        SET last_seen_at = ?3, expires_at = ?4, version = version + 1,
            location = CASE WHEN ?5 IS NOT NULL AND ?5 IS NOT last_ip THEN NULL ELSE location END,
            last_ip = COALESCE(?5, last_ip)
      WHERE id = ?1 AND ",
    takes_writes!(""),
    " AND (?2 IS NULL OR version = ?2)
    RETURNING version"
);

/// What a data write of session `?1` reads first, under the write lock.
pub(super) const READ_FOR_WRITE: &str = concat!(
    "SELECT data, version, ",
    takes_writes!(""),
    " AS live FROM aus_sessions WHERE id = ?1"
);

/// Session `?1`'s new data `?2`, with `WRITE_ACTIVITY`'s `?3` … `?5`
/// (null: unchanged); its new version.
pub(super) const WRITE_DATA: &str = "UPDATE aus_sessions
        SET data = ?2, version = version + 1, last_seen_at = COALESCE(?3, last_seen_at),
            expires_at = COALESCE(?4, expires_at),
            location = CASE WHEN ?5 IS NOT NULL AND ?5 IS NOT last_ip THEN NULL ELSE location END,
            last_ip = COALESCE(?5, last_ip)
      WHERE id = ?1
    RETURNING version";

/// Whether session `?1` is there and not revoked.
pub(super) const LIVE: &str = concat!(
    "SELECT ",
    takes_writes!(""),
    " AS live FROM aus_sessions WHERE id = ?1"
);

/// Compare-and-set of the credentials of session `?1`: if it is not
/// revoked and its epoch is still `?2`, writes its remember-me columns
/// (`?3` … `?11`) and counts one more epoch (its token rows follow in the
/// same transaction); with `?12`, also the fields a change of credentials
/// changes (`?13` …): the later of its own and the stored `last_seen_at`
/// and `expires_at`, and a new `last_ip`, which clears the place label.
pub(super) const SWAP: &str = concat!(
    "UPDATE aus_sessions SET cred_epoch = cred_epoch + 1, ",
    set_remember!(),
    ",
        user_id = CASE WHEN ?12 THEN ?13 ELSE user_id END,
        authenticated_at = CASE WHEN ?12 THEN ?14 ELSE authenticated_at END,
        rotated_at = CASE WHEN ?12 THEN ?15 ELSE rotated_at END,
        ip = CASE WHEN ?12 THEN ?16 ELSE ip END,
        user_agent = CASE WHEN ?12 THEN ?17 ELSE user_agent END,
        location = CASE WHEN ?12 AND ?18 IS NOT last_ip THEN NULL ELSE location END,
        last_ip = CASE WHEN ?12 THEN ?18 ELSE last_ip END,
        tokens_expire_at = CASE WHEN ?12 THEN ?19 ELSE tokens_expire_at END,
        absolute_expires_at = CASE WHEN ?12 THEN ?20 ELSE absolute_expires_at END,
        expires_at = CASE WHEN ?12 THEN max(expires_at, ?21) ELSE expires_at END,
        last_seen_at = CASE WHEN ?12 THEN max(last_seen_at, ?22) ELSE last_seen_at END,
        persistent = CASE WHEN ?12 THEN ?23 ELSE persistent END,
        sign_in_method = CASE WHEN ?12 THEN ?24 ELSE sign_in_method END,
        second_factor = CASE WHEN ?12 THEN ?25 ELSE second_factor END,
        api_client = CASE WHEN ?12 THEN ?26 ELSE api_client END
      WHERE id = ?1 AND cred_epoch = ?2 AND revoked_at IS NULL"
);

/// The live sessions of user `?1` at `?2`, most recently active first,
/// without their data (an empty object: a list never needs it), after
/// (`?3` last seen, `?4` id; null: from the start) in that order, at most
/// `?5`.
pub(super) const LIST_USER_PAGE: &str = concat!(
    "SELECT '{}' AS data, ",
    listed_cols!(),
    " FROM aus_sessions s WHERE s.user_id = ?1 AND ",
    live_at!("?2"),
    " AND (?3 IS NULL OR s.last_seen_at < ?3 OR (s.last_seen_at = ?3 AND s.id > ?4))
      ORDER BY s.last_seen_at DESC, s.id LIMIT ?5"
);

/// User `?1`'s sessions that are not live at `?2` and ended at or after
/// `?3`, the most recently ended first, at most `?4`.
pub(super) const LIST_USER_ENDED: &str = concat!(
    "SELECT '{}' AS data, ",
    listed_cols!(),
    " FROM aus_sessions s WHERE s.user_id = ?1 AND NOT (",
    live_at!("?2"),
    ") AND ",
    ended_at!(),
    " >= ?3 ORDER BY ",
    ended_at!(),
    " DESC, s.id LIMIT ?4"
);

/// Names (`?3`; null clears) session `?1` of user `?2`, if it is live at `?4`.
pub(super) const RENAME: &str = concat!(
    "UPDATE aus_sessions SET name = ?3 WHERE id = ?1 AND user_id = ?2 AND ",
    live_at!("?4")
);

/// Gives session `?1` the place label `?3` for its last IP, if that is
/// still `?2` and the session is not revoked.
pub(super) const SET_LOCATION: &str = "UPDATE aus_sessions SET location = ?3
      WHERE id = ?1 AND last_ip = ?2 AND revoked_at IS NULL";

/// Revokes session `?1`, if user `?2` (when not null) owns it.
pub(super) const REVOKE: &str = revoke!("id = ?1 AND (?2 IS NULL OR user_id = ?2)");

/// Revokes the sessions of user `?1` but `?2` (when not null).
pub(super) const REVOKE_USER: &str = revoke!("user_id = ?1 AND (?2 IS NULL OR id <> ?2)");

/// Revokes every session (`?1` and `?2` are null).
pub(super) const REVOKE_EVERY: &str = revoke!("?1 IS NULL AND ?2 IS NULL");

/// Live sessions and users at `?1`, and rows collectable at `?1` with the
/// retention horizon `?2`.
pub(super) const STATS: &str = stats_query!("aus_sessions", "?1", "?2");

/// At most `?3` sessions collectable at `?1` with the horizon `?2`: the
/// rule of `collectable!` (which [`STATS`] counts with), as three
/// disjoint ranges on the indexes made for them, so that a batch reads
/// no row it does not collect (the macro's nested `OR` can use no index,
/// and scanned the table under the write lock). Each branch's
/// `revoked_at IS NULL` and `NOT persistent` name the partial indexes of
/// migration `20261208001001`, term for term; the `+` keeps the third
/// range on `expires_at`. The tests compare its rows with the rule's.
pub(super) const COLLECTABLE: &str = "\
    SELECT id FROM aus_sessions WHERE revoked_at < ?2 \
    UNION ALL \
    SELECT id FROM aus_sessions WHERE revoked_at IS NULL AND absolute_expires_at <= ?1 \
    UNION ALL \
    SELECT id FROM aus_sessions WHERE revoked_at IS NULL AND NOT persistent \
       AND expires_at <= ?1 AND +absolute_expires_at > ?1 \
    LIMIT ?3";
