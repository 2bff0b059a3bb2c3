//! The remember-me statements: giving a session a credential, taking it
//! away, finding a session by it, and re-opening the session with a new
//! token.

/// Gives session `$1` the remember-me selector `$2` and validator hash `$3`,
/// ending at `$4`, issued at `$5`. The session's tokens keep their end (the
/// absolute end they had, if they had none of their own).
pub(in crate::store::postgres) const REMEMBER: &str = "UPDATE axum_user_sessions.sessions
        SET persistent = true, absolute_expires_at = $4,
            expires_at = LEAST(expires_at, $4),
            tokens_expire_at = COALESCE(tokens_expire_at, absolute_expires_at),
            remember_selector = $2, remember_validator_hash = $3,
            remember_prev_validator_hash = NULL, remember_rotated_at = $5,
            remember_pending_validator_hash = NULL, remember_pending_at = NULL,
            remember_expires_at = $4
      WHERE id = $1 AND revoked_at IS NULL";

/// Takes the remember-me credential of session `$1`, which then ends by `$2`.
pub(in crate::store::postgres) const FORGET: &str = "UPDATE axum_user_sessions.sessions
        SET persistent = false,
            absolute_expires_at = LEAST(absolute_expires_at, $2),
            expires_at = LEAST(expires_at, $2),
            remember_selector = NULL, remember_validator_hash = NULL,
            remember_prev_validator_hash = NULL, remember_rotated_at = NULL,
            remember_pending_validator_hash = NULL, remember_pending_at = NULL,
            remember_expires_at = NULL
      WHERE id = $1 AND revoked_at IS NULL";

/// The session holding the remember-me selector `$1`, with its credential.
pub(in crate::store::postgres) const FIND_REMEMBER: &str = concat!(
    "SELECT ",
    session_cols!(),
    ", s.last_seen_at, s.expires_at, s.version, s.remember_validator_hash,
       s.remember_prev_validator_hash, s.remember_rotated_at, s.remember_expires_at,
       s.remember_pending_validator_hash, s.remember_pending_at, ",
    seen_cols!(),
    "
       FROM axum_user_sessions.sessions s WHERE s.remember_selector = $1"
);

/// Re-opens session `$1` with the new current token `$2` at `$3`, idle
/// deadline `$4`, tokens ending at `$5`; the validator step `$6` (0 keep,
/// 1 issue the pending validator `$8` if the current one is still `$7` and
/// no pending one was issued after `$9`, 2 promote the pending validator
/// `$7`); with a step, retires the other tokens issued at or before `$10`,
/// keeping the newest `$11` replaced ones. The client's IP `$12` (when not
/// null) is where it was last used from. `authenticated_at` is cleared: a
/// restore proves nothing, so the session is not fresh until the user
/// signs in or re-authenticates.
pub(in crate::store::postgres) const RESTORE_REMEMBERED: &str = concat!(
    "WITH s AS (
        UPDATE axum_user_sessions.sessions
           SET last_seen_at = $3, authenticated_at = NULL,
               last_ip = COALESCE($12::inet, last_ip),
               location = CASE WHEN $12::inet IS DISTINCT FROM last_ip AND $12::inet IS NOT NULL
                               THEN NULL ELSE location END,
               expires_at = LEAST($4, absolute_expires_at, $5::timestamptz),
               tokens_expire_at = $5::timestamptz,
               remember_prev_validator_hash = CASE WHEN $6 = 2
                   THEN remember_validator_hash ELSE remember_prev_validator_hash END,
               remember_validator_hash = CASE WHEN $6 = 2
                   THEN remember_pending_validator_hash ELSE remember_validator_hash END,
               remember_rotated_at = CASE WHEN $6 = 2 THEN $3 ELSE remember_rotated_at END,
               remember_pending_validator_hash = CASE WHEN $6 = 1 THEN $8::bytea
                   WHEN $6 = 2 THEN NULL ELSE remember_pending_validator_hash END,
               remember_pending_at = CASE WHEN $6 = 1 THEN $3
                   WHEN $6 = 2 THEN NULL ELSE remember_pending_at END,
               rotated_at = CASE WHEN $6 = 0 THEN rotated_at ELSE $3 END
         WHERE id = $1 AND revoked_at IS NULL
           AND ($6 = 0
             OR ($6 = 1 AND remember_validator_hash = $7::bytea
                 AND (remember_pending_at IS NULL OR remember_pending_at <= $9))
             OR ($6 = 2 AND remember_pending_validator_hash = $7::bytea))
        RETURNING id
    ), ",
    replace_tokens!(
        "$1",
        "CASE WHEN $6 <> 0 AND t.state <> 3 AND t.created_at <= $10
                   AND EXISTS (SELECT 1 FROM s) THEN 3 END",
        "$3",
        "$11"
    ),
    "
    INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
    SELECT $2, id, 0, $3 FROM s"
);
