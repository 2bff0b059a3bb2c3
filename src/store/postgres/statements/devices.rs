//! The statements of "Your devices": a user's sessions, live (whole or by
//! page) and recently ended, and their names. None reads the session data.

use crate::store::sql::{ended_at, live_at};

/// The live sessions of user `$1` at `$2`, most recently active first,
/// without their data (an empty object: a list never needs it, and each
/// session may hold up to the data limit), after (`$3` last seen, `$4` id;
/// null: from the start) in that order, at most `$5`.
pub(in crate::store::postgres) const LIST_USER_PAGE: &str = concat!(
    list_of_user!(),
    live_at!("$2"),
    " AND ($3::timestamptz IS NULL OR s.last_seen_at < $3
            OR (s.last_seen_at = $3 AND s.id > $4))
      ORDER BY s.last_seen_at DESC, s.id LIMIT $5"
);

/// User `$1`'s sessions that are not live at `$2` and ended at or after
/// `$3`, the most recently ended first, at most `$4`.
pub(in crate::store::postgres) const LIST_USER_ENDED: &str = concat!(
    list_of_user!(),
    "NOT (",
    live_at!("$2"),
    ") AND ",
    ended_at!(),
    " >= $3 ORDER BY ",
    ended_at!(),
    " DESC, s.id LIMIT $4"
);

/// Names (`$3`; null clears) session `$1` of user `$2`, if it is live at `$4`.
pub(in crate::store::postgres) const RENAME: &str = concat!(
    "UPDATE axum_user_sessions.sessions SET name = $3 WHERE id = $1 AND user_id = $2 AND ",
    live_at!("$4")
);

/// Gives session `$1` the place label `$3` for its last IP, if that is
/// still `$2` (text) and the session is not revoked.
pub(in crate::store::postgres) const SET_LOCATION: &str = "UPDATE axum_user_sessions.sessions
        SET location = $3 WHERE id = $1 AND last_ip = $2::inet AND revoked_at IS NULL";
