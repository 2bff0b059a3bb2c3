//! The Postgres store's statements, each with its placeholders. The tables
//! live in the schema `axum_user_sessions`; token states are `0` current,
//! `1` pending, `2` superseded, `3` retired.

use crate::store::sql::{revoke_where, stats_query};

/// The columns of a session row `s`, but for those `LOAD` reads after its
/// touch (`last_seen_at`, `expires_at`, `version`, and `seen_cols!`).
macro_rules! session_cols {
    () => {
        concat!("s.data, ", listed_cols!())
    };
}

/// The columns of `session_cols!` but the data, which a list does not read.
macro_rules! listed_cols {
    () => {
        "s.id, s.user_id, s.created_at, s.authenticated_at, s.absolute_expires_at, \
         s.tokens_expire_at, s.rotated_at, host(s.ip) AS ip, s.user_agent, s.persistent, s.revoked_at, \
         s.revoke_reason, s.revoked_by, s.name, s.sign_in_method, s.second_factor, s.api_client"
    };
}

/// Deletes up to `$limit` change-log rows older than five minutes (by the
/// database's clock, longer than any feed needs), skipping rows another
/// instance is deleting.
macro_rules! collect_log {
    ($limit:literal) => {
        concat!(
            "DELETE FROM axum_user_sessions.session_changes
             WHERE ctid = ANY (ARRAY(
                SELECT ctid FROM axum_user_sessions.session_changes
                 WHERE at < clock_timestamp() - interval '5 minutes'
                 LIMIT ",
            $limit,
            " FOR UPDATE SKIP LOCKED))"
        )
    };
}

/// When a row that is not revoked ends (`collectable!` takes it once this
/// is past), null for a revoked row: the expression of the index
/// `sessions_live_end_idx`, which garbage collection uses. It must stay the
/// same expression as in the migration, or the planner does not use it.
macro_rules! live_end {
    () => {
        "(CASE WHEN revoked_at IS NULL THEN \
           CASE WHEN persistent THEN absolute_expires_at \
           ELSE LEAST(expires_at, absolute_expires_at) END END)"
    };
}

/// Where the session was last used from, which a touch changes: read beside
/// `last_seen_at` (`LOAD` reads them after its touch).
macro_rules! seen_cols {
    () => {
        "host(s.last_ip) AS last_ip, s.location"
    };
}

/// The head of a list of user `$1`'s sessions: every column but the data
/// (an empty object: a list never needs it, and each session may hold up to
/// the data limit), up to `WHERE s.user_id = $1 AND `.
macro_rules! list_of_user {
    () => {
        concat!(
            "SELECT '{}'::jsonb AS data, ",
            listed_cols!(),
            ", s.last_seen_at, s.expires_at, s.version, ",
            seen_cols!(),
            "
               FROM axum_user_sessions.sessions s
              WHERE s.user_id = $1 AND "
        )
    };
}

/// A revocation of the live sessions that `$filter` picks with `$1` and
/// `$2`: `$3` reason, `$4` by, `$5` at.
macro_rules! revoke {
    ($filter:literal) => {
        revoke_where!("axum_user_sessions.sessions", "$3", "$4", "$5", $filter)
    };
}

/// The CTEs that move the tokens of session `$sid` to their next states and
/// keep only the newest `$kept` replaced ones, in the statement that replaces
/// them (one round-trip). `$next` is the new state of a token row (SQL over
/// its columns; `NULL` leaves it as it is): `0` current, or `2` superseded /
/// `3` retired at `$now`.
///
/// A statement sees the table as it was when it started, so the states are
/// first computed (`next`), the replaced rows past the newest `$kept` picked
/// from them (`doomed`: by when they were replaced, then issued), and then
/// each row is either updated or deleted, never both.
macro_rules! replace_tokens {
    ($sid:literal, $next:literal, $now:literal, $kept:literal) => {
        concat!(
            "next AS (
        SELECT t.token_hash, t.created_at, t.state AS old_state, t.superseded_at AS old_at,
               COALESCE(n.state, t.state) AS state,
               CASE WHEN n.state IS NULL THEN t.superseded_at
                    WHEN n.state IN (2, 3) THEN ",
            $now,
            "::timestamptz END AS superseded_at
          FROM axum_user_sessions.tokens t
          CROSS JOIN LATERAL (SELECT (",
            $next,
            ")::smallint AS state) n
         WHERE t.session_id = ",
            $sid,
            "
    ), doomed AS (
        SELECT token_hash FROM next WHERE state IN (2, 3)
         ORDER BY superseded_at DESC, created_at DESC, token_hash DESC
        OFFSET ",
            $kept,
            "
    ), changed AS (
        UPDATE axum_user_sessions.tokens t
           SET state = n.state, superseded_at = n.superseded_at
          FROM next n
         WHERE t.token_hash = n.token_hash
           AND (n.state, n.superseded_at) IS DISTINCT FROM (n.old_state, n.old_at)
           AND n.token_hash NOT IN (SELECT token_hash FROM doomed)
        RETURNING t.token_hash
    ), pruned AS (
        DELETE FROM axum_user_sessions.tokens
         WHERE token_hash IN (SELECT token_hash FROM doomed)
    )"
        )
    };
}

/// The session of token hash `$1`, with the token's state, touched in the
/// same statement when the token is current, the session usable at `$2`
/// (now) and last seen at or before `$3`, or before `$6` when it was last
/// used from another IP than `$5` (the client's, text; null: unknown); `$4`
/// is the new idle deadline. The touch records `$5` as `last_ip`, and a new
/// IP clears the location found for the old one. A session of another
/// channel than `$7` (`api_client`; null: either) is not touched.
pub(super) const LOAD: &str = concat!(
    "WITH tok AS (
        SELECT session_id, state, superseded_at
          FROM axum_user_sessions.tokens
         WHERE token_hash = $1 AND ($8::uuid IS NULL OR session_id = $8::uuid)
    ), touched AS (
        UPDATE axum_user_sessions.sessions s
           SET last_seen_at = $2,
               expires_at = LEAST($4, s.absolute_expires_at, s.tokens_expire_at),
               last_ip = COALESCE($5::inet, s.last_ip),
               location = CASE WHEN $5::inet IS DISTINCT FROM s.last_ip AND $5::inet IS NOT NULL
                               THEN NULL ELSE s.location END
          FROM tok
         WHERE s.id = tok.session_id AND tok.state = 0 AND s.revoked_at IS NULL
           AND s.expires_at > $2
           AND ($7::boolean IS NULL OR s.api_client = $7::boolean)
           AND (s.last_seen_at <= $3
             OR ($5::inet IS NOT NULL AND s.last_ip IS DISTINCT FROM $5::inet
                 AND s.last_seen_at <= $6))
        RETURNING s.id, s.last_seen_at, s.expires_at, s.version, s.last_ip, s.location
    )
    SELECT ",
    session_cols!(),
    ",
           COALESCE(t.last_seen_at, s.last_seen_at) AS last_seen_at,
           COALESCE(t.expires_at, s.expires_at) AS expires_at,
           COALESCE(t.version, s.version) AS version,
           host(CASE WHEN t.id IS NULL THEN s.last_ip ELSE t.last_ip END) AS last_ip,
           CASE WHEN t.id IS NULL THEN s.location ELSE t.location END AS location,
           tok.state, tok.superseded_at,
           EXISTS (SELECT 1 FROM axum_user_sessions.tokens p
                    WHERE p.session_id = s.id AND p.state = 1) AS has_pending
      FROM tok
      JOIN axum_user_sessions.sessions s ON s.id = tok.session_id
      LEFT JOIN touched t ON t.id = s.id"
);

/// A new session (`$1` … `$12`, the row's columns in order) with its current
/// token `$13`; last used from its IP `$10`; signed in by `$14`, with a
/// second factor `$15`; an API client's with `$16`.
pub(super) const CREATE: &str = "WITH s AS (
        INSERT INTO axum_user_sessions.sessions
            (id, user_id, data, created_at, authenticated_at, last_seen_at, expires_at,
             absolute_expires_at, rotated_at, ip, user_agent, persistent, last_ip,
             sign_in_method, second_factor, api_client)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::inet, $11, $12, $10::inet, $14, $15,
                $16)
        RETURNING id
    )
    INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
    SELECT $13, id, 0, $9 FROM s";

/// Sets the keys `$2` (an object) and removes the keys `$3` of session `$1`:
/// its new version.
pub(super) const PATCH_DATA: &str = "UPDATE axum_user_sessions.sessions
        SET data = (data || $2::jsonb) - $3::text[]
      WHERE id = $1 AND revoked_at IS NULL
    RETURNING version";

/// A sign-in on session `$1`, locking its row: user `$2`, authenticated at
/// `$3` (when not null), rotated at `$4`; with `$5`, the client `$6`, `$7`;
/// tokens ending at `$8` (when not null); with `$9`, signed in by `$10`,
/// with a second factor `$11`. The client's IP is also where it was last
/// used from.
pub(super) const REISSUE: &str = "UPDATE axum_user_sessions.sessions
        SET user_id = $2, authenticated_at = COALESCE($3, authenticated_at),
            rotated_at = $4, tokens_expire_at = COALESCE($8, tokens_expire_at),
            ip = CASE WHEN $5 THEN $6::inet ELSE ip END,
            user_agent = CASE WHEN $5 THEN $7 ELSE user_agent END,
            last_ip = CASE WHEN $5 AND $6::inet IS NOT NULL THEN $6::inet ELSE last_ip END,
            location = CASE WHEN $5 AND $6::inet IS DISTINCT FROM last_ip AND $6::inet IS NOT NULL
                            THEN NULL ELSE location END,
            sign_in_method = CASE WHEN $9 THEN $10 ELSE sign_in_method END,
            second_factor = CASE WHEN $9 THEN $11 ELSE second_factor END
      WHERE id = $1 AND revoked_at IS NULL";

/// Retires every token of session `$1` at `$3`, keeping the newest `$4`
/// replaced ones, and makes `$2` current.
pub(super) const REISSUE_TOKENS: &str = concat!(
    "WITH ",
    replace_tokens!("$1", "CASE WHEN t.state <> 3 THEN 3 END", "$3", "$4"),
    "
    INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
    VALUES ($2, $1, 0, $3)"
);

/// Deletes session `$1` (its tokens go with it: `ON DELETE CASCADE`).
pub(super) const DELETE: &str = "DELETE FROM axum_user_sessions.sessions WHERE id = $1";

/// Starts a rotation of session `$1` if it was last rotated at `$2`: rotated
/// at `$3`, with the pending token `$4`.
pub(super) const BEGIN_ROTATION: &str = "WITH s AS (
        UPDATE axum_user_sessions.sessions SET rotated_at = $3
         WHERE id = $1 AND rotated_at = $2 AND revoked_at IS NULL
        RETURNING id
    ), older AS (
        -- keep only the newest older pending token
        DELETE FROM axum_user_sessions.tokens
         WHERE session_id IN (SELECT id FROM s) AND state = 1
           AND token_hash <> (SELECT token_hash FROM axum_user_sessions.tokens
                               WHERE session_id = $1 AND state = 1
                               ORDER BY created_at DESC LIMIT 1)
    )
    INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
    SELECT $4, id, 1, $3 FROM s";

/// Locks the row of session `$1`.
pub(super) const LOCK: &str = "SELECT 1 FROM axum_user_sessions.sessions WHERE id = $1 FOR UPDATE";

/// Makes the pending token `$2` of session `$1` current, superseding at `$3`
/// the current token and the pending tokens issued before it, and keeps the
/// newest `$4` replaced tokens.
pub(super) const PROMOTE: &str = concat!(
    "WITH p AS (
        SELECT created_at FROM axum_user_sessions.tokens
         WHERE token_hash = $2 AND session_id = $1 AND state = 1
    ), ",
    replace_tokens!(
        "$1",
        "CASE WHEN NOT EXISTS (SELECT 1 FROM p) THEN NULL
              WHEN t.token_hash = $2 THEN 0
              WHEN t.state = 0 OR (t.state = 1 AND t.created_at <= (SELECT created_at FROM p))
              THEN 2 END",
        "$3",
        "$4"
    ),
    "
    SELECT count(*) FROM changed"
);

/// Session `$1`.
pub(super) const GET: &str = concat!(
    "SELECT ",
    session_cols!(),
    ", s.last_seen_at, s.expires_at, s.version, ",
    seen_cols!(),
    "
       FROM axum_user_sessions.sessions s WHERE s.id = $1"
);

/// Revokes session `$1`, if user `$2` (when not null) owns it.
pub(super) const REVOKE: &str = revoke!("id = $1 AND ($2::text IS NULL OR user_id = $2)");

/// Revokes the sessions of user `$1` but `$2` (when not null).
pub(super) const REVOKE_USER: &str = revoke!("user_id = $1 AND ($2::uuid IS NULL OR id <> $2)");

/// Revokes every session (`$1` and `$2` are null).
pub(super) const REVOKE_EVERY: &str = revoke!("$1::bigint IS NULL AND $2::bigint IS NULL");

/// Live sessions and users at `$1`, and rows collectable at `$1` with the
/// retention horizon `$2`.
pub(super) const STATS: &str = stats_query!("axum_user_sessions.sessions", "$1", "$2");

/// Deletes at most `$3` rows collectable at `$1` with the horizon `$2`,
/// skipping rows another collector holds; and at most a thousand times `$3`
/// rows of the change log older than the change feed needs (five minutes,
/// by the database's clock): every write logs a row while a cache runs, so a collection keeps
/// up with writes at up to `$3` × 1000 per GC interval, and a batch that
/// finds no session to collect still clears the log.
///
/// The rows are `collectable!`'s, written as the index
/// `sessions_live_end_idx` (migration `20261204002001_lean_gc_index`) and
/// `sessions_revoked_at_idx` find them: a live row's end (`live_end!`) at or
/// before `$1`, or revoked before `$2`.
pub(super) const GC_BATCH: &str = concat!(
    "WITH doomed AS (
        SELECT id FROM axum_user_sessions.sessions
         WHERE ",
    live_end!(),
    " <= $1 OR revoked_at < $2
         LIMIT $3 FOR UPDATE SKIP LOCKED
    ), buried AS (",
    collect_log!("$3 * 1000"),
    ")
    DELETE FROM axum_user_sessions.sessions s USING doomed WHERE s.id = doomed.id"
);

/// Deletes change-log rows older than any feed needs, at most 10,000: what
/// a running cache's feed does every few seconds (`feed.rs`), so the log
/// stays short even where garbage collection never runs.
pub(super) const COLLECT_LOG: &str = collect_log!("10000");

/// A change feed's heartbeat: sets `feed_heartbeat` to the database's clock
/// (milliseconds since the epoch), which makes the triggers log changes for
/// the next 60 seconds (migration `quiet_log`, see `feed.rs`).
pub(super) const HEARTBEAT: &str = "SELECT setval('axum_user_sessions.feed_heartbeat',
        (extract(epoch FROM clock_timestamp()) * 1000)::bigint)";

/// Compare-and-set of key `$2` of session `$1`: if it holds `$3` (SQL null:
/// the key is absent), sets it to `$4` (SQL null: removes it). One row
/// (`version`: the row's version after the write, null when nothing was
/// written; `current`: what the key holds, read only when nothing was
/// written) when the session is live; none when it is gone or revoked.
///
/// One `UPDATE` with the comparison in its `WHERE`: a row another
/// transaction is writing is waited for and compared again in its committed
/// version (read committed), so a write never overwrites a value it did not
/// compare. Only when it wrote nothing is the row read again, locked, so
/// that `current` is its latest committed value. (A value committed after
/// the statement began but before the `UPDATE` reached the row can still
/// fail the comparison: the lost attempt then reports that value, and the
/// retry, with a fresh snapshot, writes.)
///
/// A lost comparison writes nothing but the row lock, and its commit does
/// not wait for the disk (`synchronous_commit` off for this transaction
/// only: losing a lock record in a crash loses nothing). Otherwise it would
/// hold the row through a flush while the winner's instance sends its next
/// update, which then goes first again: retries from another instance
/// would starve.
pub(super) const UPDATE_VALUE: &str = "WITH upd AS (
        UPDATE axum_user_sessions.sessions s
           SET data = CASE WHEN $4::jsonb IS NULL THEN s.data - $2::text
                           ELSE s.data || jsonb_build_object($2::text, $4::jsonb) END
         WHERE s.id = $1 AND s.revoked_at IS NULL
           AND s.data -> $2::text IS NOT DISTINCT FROM $3::jsonb
        RETURNING s.version
    ), cur AS (
        SELECT data -> $2::text AS value FROM axum_user_sessions.sessions
         WHERE id = $1 AND revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM upd)
           FOR NO KEY UPDATE
    )
    SELECT version, NULL::jsonb AS current, NULL::text AS relaxed FROM upd
    UNION ALL
    SELECT NULL, value, set_config('synchronous_commit', 'off', true) FROM cur";

// "Your devices": lists of a user's sessions and names.
mod devices;
pub(super) use devices::{LIST_USER, LIST_USER_ENDED, LIST_USER_PAGE, RENAME, SET_LOCATION};

// Remember-me: credentials and restores.
mod remember;
pub(super) use remember::{FIND_REMEMBER, FORGET, REMEMBER, RESTORE_REMEMBERED};
