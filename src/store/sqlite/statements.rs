//! The SQLite store's statements, each with its placeholders. Tables are
//! prefixed `aus_`; times are Unix microseconds; token states are `0`
//! current, `1` pending, `2` superseded, `3` retired.

use crate::store::sql::{collectable, ended_at, live_at, revoke_where, stats_query};
use sqlx::Sqlite;
use sqlx::sqlite::SqliteArguments;

/// A statement with its arguments bound.
pub(super) type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

/// The columns of a session row `s`.
macro_rules! cols {
    () => {
        concat!("s.data, ", listed_cols!())
    };
}

/// The columns of `cols!` but the data, which a list does not read.
macro_rules! listed_cols {
    () => {
        "s.id, s.user_id, s.created_at, s.authenticated_at, s.last_seen_at, \
         s.expires_at, s.absolute_expires_at, s.tokens_expire_at, s.rotated_at, s.ip, s.user_agent, \
         s.persistent, s.revoked_at, s.revoke_reason, s.revoked_by, s.version, s.name, \
         s.last_ip, s.location, s.sign_in_method, s.second_factor, s.api_client"
    };
}

/// A revocation of the live sessions that `$filter` picks with `?1` and
/// `?2`: `?3` reason, `?4` by, `?5` at.
macro_rules! revoke {
    ($filter:literal) => {
        revoke_where!("aus_sessions", "?3", "?4", "?5", $filter)
    };
}

/// The session of token hash `?1`, with the token's state.
pub(super) const LOAD: &str = concat!(
    "SELECT ",
    cols!(),
    ", t.state, t.superseded_at,
            EXISTS (SELECT 1 FROM aus_tokens p WHERE p.session_id = s.id AND p.state = 1)
                AS has_pending
       FROM aus_tokens t JOIN aus_sessions s ON s.id = t.session_id
      WHERE t.token_hash = ?1 AND (?2 IS NULL OR t.session_id = ?2)"
);

/// Records activity of session `?1`: last seen `?2`, idle deadline `?3`,
/// from `?4` (`last_ip`) at `?5` (`location`); the row's new version.
pub(super) const TOUCH: &str = "UPDATE aus_sessions
        SET last_seen_at = ?2, expires_at = ?3, last_ip = ?4, location = ?5,
            version = version + 1
      WHERE id = ?1 AND revoked_at IS NULL AND last_seen_at < ?2
    RETURNING version";

/// A new session row (`?1` … `?12`, its columns in order), last used from
/// its IP `?10`, signed in by `?13` with a second factor `?14`; an API
/// client's with `?15`.
pub(super) const CREATE: &str = "INSERT INTO aus_sessions
        (id, user_id, data, created_at, authenticated_at, last_seen_at, expires_at,
         absolute_expires_at, rotated_at, ip, user_agent, persistent, last_ip,
         sign_in_method, second_factor, api_client)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?10, ?13, ?14, ?15)";

/// A token `?1` of session `?2` in state `?3`, issued at `?4`.
pub(super) const INSERT_TOKEN: &str =
    "INSERT INTO aus_tokens (token_hash, session_id, state, created_at) VALUES (?1, ?2, ?3, ?4)";

/// Retires at `?2` every token of session `?1` (dead, but still recognised).
pub(super) const RETIRE_TOKENS: &str =
    "UPDATE aus_tokens SET state = 3, superseded_at = ?2 WHERE session_id = ?1 AND state <> 3";

/// Deletes the replaced (superseded or retired) tokens of session `?1` but
/// the newest `?2`: by when they were replaced, then when they were issued.
pub(super) const PRUNE_TOKENS: &str = "DELETE FROM aus_tokens
      WHERE session_id = ?1 AND state IN (2, 3)
        AND token_hash NOT IN (SELECT token_hash FROM aus_tokens
                                WHERE session_id = ?1 AND state IN (2, 3)
                                ORDER BY superseded_at DESC, created_at DESC, token_hash DESC
                                LIMIT ?2)";

/// The data of live session `?1`.
pub(super) const DATA: &str = "SELECT data FROM aus_sessions WHERE id = ?1 AND revoked_at IS NULL";

/// Replaces the data of session `?1` by `?2`: the row's new version.
pub(super) const SET_DATA: &str =
    "UPDATE aus_sessions SET data = ?2, version = version + 1 WHERE id = ?1 RETURNING version";

/// A sign-in on session `?1`: user `?2`, authenticated at `?3` (when not
/// null), rotated at `?4`; with `?5`, the client `?6`, `?7`; tokens ending
/// at `?8` (when not null); with `?9`, signed in by `?10` with a second
/// factor `?11`. The client's IP is also where it was last used from.
pub(super) const REISSUE: &str = "UPDATE aus_sessions
        SET user_id = ?2, authenticated_at = COALESCE(?3, authenticated_at), rotated_at = ?4,
            tokens_expire_at = COALESCE(?8, tokens_expire_at),
            ip = CASE WHEN ?5 THEN ?6 ELSE ip END,
            user_agent = CASE WHEN ?5 THEN ?7 ELSE user_agent END,
            location = CASE WHEN ?5 AND ?6 IS NOT NULL AND last_ip IS NOT ?6
                            THEN NULL ELSE location END,
            last_ip = CASE WHEN ?5 AND ?6 IS NOT NULL THEN ?6 ELSE last_ip END,
            sign_in_method = CASE WHEN ?9 THEN ?10 ELSE sign_in_method END,
            second_factor = CASE WHEN ?9 THEN ?11 ELSE second_factor END
      WHERE id = ?1 AND revoked_at IS NULL";

/// The tokens of session `?1`.
pub(super) const DELETE_TOKENS: &str = "DELETE FROM aus_tokens WHERE session_id = ?1";

/// Session `?1`.
pub(super) const DELETE: &str = "DELETE FROM aus_sessions WHERE id = ?1";

/// Starts a rotation of session `?1` if it was last rotated at `?2`:
/// rotated at `?3`.
pub(super) const BEGIN_ROTATION: &str = "UPDATE aus_sessions SET rotated_at = ?3
      WHERE id = ?1 AND rotated_at = ?2 AND revoked_at IS NULL";

/// Keeps only the newest pending token of session `?1`.
pub(super) const PRUNE_PENDING: &str = "DELETE FROM aus_tokens WHERE session_id = ?1 AND state = 1
        AND token_hash <> (SELECT token_hash FROM aus_tokens
                            WHERE session_id = ?1 AND state = 1
                            ORDER BY created_at DESC LIMIT 1)";

/// When the pending token `?1` of session `?2` was issued.
pub(super) const PENDING_ISSUED: &str = "SELECT created_at FROM aus_tokens
      WHERE token_hash = ?1 AND session_id = ?2 AND state = 1";

/// Makes the pending token `?2` of session `?1` current, superseding at `?3`
/// the current token and the pending tokens issued at or before `?4`.
pub(super) const PROMOTE: &str = "UPDATE aus_tokens
        SET state = CASE WHEN token_hash = ?2 THEN 0 ELSE 2 END,
            superseded_at = CASE WHEN token_hash = ?2 THEN NULL ELSE ?3 END
      WHERE session_id = ?1
        AND (token_hash = ?2 OR state = 0 OR (state = 1 AND created_at <= ?4))";

/// Gives session `?1` the remember-me selector `?2` and validator hash `?3`,
/// ending at `?4`, issued at `?5`.
pub(super) const REMEMBER: &str = "UPDATE aus_sessions
        SET persistent = 1, absolute_expires_at = ?4,
            expires_at = min(expires_at, ?4),
            tokens_expire_at = COALESCE(tokens_expire_at, absolute_expires_at),
            remember_selector = ?2, remember_validator_hash = ?3,
            remember_prev_validator_hash = NULL, remember_rotated_at = ?5,
            remember_pending_validator_hash = NULL, remember_pending_at = NULL,
            remember_expires_at = ?4
      WHERE id = ?1 AND revoked_at IS NULL";

/// Takes the remember-me credential of session `?1`, which then ends by `?2`.
pub(super) const FORGET: &str = "UPDATE aus_sessions
        SET persistent = 0,
            absolute_expires_at = min(absolute_expires_at, ?2),
            expires_at = min(expires_at, ?2),
            remember_selector = NULL, remember_validator_hash = NULL,
            remember_prev_validator_hash = NULL, remember_rotated_at = NULL,
            remember_pending_validator_hash = NULL, remember_pending_at = NULL,
            remember_expires_at = NULL
      WHERE id = ?1 AND revoked_at IS NULL";

/// The session holding the remember-me selector `?1`, with its credential.
pub(super) const FIND_REMEMBER: &str = concat!(
    "SELECT ",
    cols!(),
    ", s.remember_validator_hash, s.remember_prev_validator_hash,
            s.remember_rotated_at, s.remember_expires_at,
            s.remember_pending_validator_hash, s.remember_pending_at
       FROM aus_sessions s WHERE s.remember_selector = ?1"
);

/// Session `?1`.
/// Re-opens session `?1` at `?2` (idle deadline `?3`), tokens ending at
/// `?4`; the validator step `?5` (0 keep, 1 issue the pending validator `?7`
/// if the current one is still `?6` and no pending one was issued after
/// `?8`, 2 promote the pending validator `?6`); from the IP `?9`.
/// `authenticated_at` is cleared (a restore is not fresh), as by the two
/// above.
pub(super) const RESTORE_REMEMBERED: &str = "UPDATE aus_sessions
        SET last_seen_at = ?2, expires_at = min(?3, absolute_expires_at, ?4),
            authenticated_at = NULL,
            location = CASE WHEN ?9 IS NOT NULL AND last_ip IS NOT ?9 THEN NULL ELSE location END,
            last_ip = COALESCE(?9, last_ip),
            tokens_expire_at = ?4,
            remember_prev_validator_hash = CASE WHEN ?5 = 2
                THEN remember_validator_hash ELSE remember_prev_validator_hash END,
            remember_validator_hash = CASE WHEN ?5 = 2
                THEN remember_pending_validator_hash ELSE remember_validator_hash END,
            remember_rotated_at = CASE WHEN ?5 = 2 THEN ?2 ELSE remember_rotated_at END,
            remember_pending_validator_hash = CASE WHEN ?5 = 1 THEN ?7
                WHEN ?5 = 2 THEN NULL ELSE remember_pending_validator_hash END,
            remember_pending_at = CASE WHEN ?5 = 1 THEN ?2
                WHEN ?5 = 2 THEN NULL ELSE remember_pending_at END,
            rotated_at = CASE WHEN ?5 = 0 THEN rotated_at ELSE ?2 END
      WHERE id = ?1 AND revoked_at IS NULL
        AND (?5 = 0
          OR (?5 = 1 AND remember_validator_hash = ?6
              AND (remember_pending_at IS NULL OR remember_pending_at <= ?8))
          OR (?5 = 2 AND remember_pending_validator_hash = ?6))";

/// Retires at `?2` the tokens of session `?1` issued at or before `?3`.
pub(super) const RETIRE_TOKENS_BEFORE: &str = "UPDATE aus_tokens SET state = 3, superseded_at = ?2
      WHERE session_id = ?1 AND state <> 3 AND created_at <= ?3";

pub(super) const GET: &str = concat!("SELECT ", cols!(), " FROM aus_sessions s WHERE s.id = ?1");

/// One page of `LIST_USER`: the rows after (`?3` last seen, `?4` id; null:
/// from the start) in its order, at most `?5`.
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

/// At most `?3` sessions collectable at `?1` with the horizon `?2`.
pub(super) const COLLECTABLE: &str = concat!(
    "SELECT id FROM aus_sessions WHERE ",
    collectable!("?1", "?2"),
    " LIMIT ?3"
);

/// The live sessions of user `?1` at `?2`, most recently active first,
/// without their data (an empty object): the list never needs it.
pub(super) const LIST_USER: &str = concat!(
    "SELECT '{}' AS data, ",
    listed_cols!(),
    " FROM aus_sessions s WHERE s.user_id = ?1 AND ",
    live_at!("?2"),
    " ORDER BY s.last_seen_at DESC, s.id"
);
