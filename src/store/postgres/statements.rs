//! The Postgres store's statements, each with its placeholders. The tables
//! live in the schema `axum_user_sessions`; token states are `0` current,
//! `1` pending, `2` superseded, `3` retired.

use crate::store::sql::{revoke_where, stats_query};

/// The columns of a session row `s` but the data, which a list does not
/// read, and those `LOAD` reads after its touch (`last_seen_at`,
/// `expires_at`, `version`, and `seen_cols!`).
macro_rules! listed_cols {
    () => {
        "s.id, s.user_id, s.created_at, s.authenticated_at, s.absolute_expires_at, \
         s.tokens_expire_at, s.rotated_at, host(s.ip) AS ip, s.user_agent, s.persistent, s.revoked_at, \
         s.revoke_reason, s.revoked_by, s.name, s.sign_in_method, s.second_factor, s.api_client"
    };
}

/// When a row that is not revoked ends (`collectable!` takes it once this
/// is past), null for a revoked row. No index holds it (a touch changes
/// it, and touches stay HOT): garbage collection finds rows through
/// `collect_after`, which the session trigger keeps at or after it
/// (migration `20261205003001_hot_touches`).
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
/// `$2`: `$3` reason, `$4` by, `$5` at, `$6` the instant it judges liveness at
/// ([`Revocation::live_after`](crate::store::Revocation::live_after)).
macro_rules! revoke {
    ($filter:literal) => {
        revoke_where!(
            "axum_user_sessions.sessions",
            "$3",
            "$4",
            "$5",
            "$6",
            $filter
        )
    };
}

/// Deletes session `$1` (its tokens go with it: `ON DELETE CASCADE`).
pub(super) const DELETE: &str = "DELETE FROM axum_user_sessions.sessions WHERE id = $1";

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
/// skipping rows another collector holds. The change log is the running
/// feeds' to collect (`feed/collect.rs`): only they know a horizon.
///
/// The rows are `collectable!`'s: a live row's end (`live_end!`) at or
/// before `$1`, or revoked before `$2`, found through
/// `sessions_collect_after_idx` (migration `20261205003001_hot_touches`: a
/// time at or after which the row may have ended) and
/// `sessions_revoked_at_idx`. A row with no `collect_after` (written by
/// 0.1, or by plain SQL) is found once [`FILL_COLLECT_AFTER`] gave it one.
pub(super) const GC_BATCH: &str = concat!(
    "WITH doomed AS (
        SELECT id FROM axum_user_sessions.sessions
         WHERE ",
    live_end!(),
    " <= $1 AND collect_after <= $1 OR revoked_at < $2
         LIMIT $3 FOR UPDATE SKIP LOCKED
    )
    DELETE FROM axum_user_sessions.sessions s USING doomed WHERE s.id = doomed.id"
);

/// Gives at most `$1` rows with no `collect_after` one (rows 0.1 wrote,
/// which no write of this version touched since, and rows inserted by
/// plain SQL), skipping rows another statement holds: run before each
/// [`GC_BATCH`], so that garbage collection finds them through the index
/// instead of reading every such row again in every batch. It counts one
/// more version, as the crate's writes do (a cache reloads the row once),
/// and leaves out a row with an infinite time (which plain SQL may insert:
/// the function would fail on it, and it never ends).
pub(super) const FILL_COLLECT_AFTER: &str = "UPDATE axum_user_sessions.sessions
       SET collect_after = axum_user_sessions.collect_after(persistent, expires_at,
               absolute_expires_at, last_seen_at, NULL),
           version = version + 1
     WHERE id = ANY (ARRAY(
        SELECT id FROM axum_user_sessions.sessions
         WHERE collect_after IS NULL AND isfinite(expires_at)
           AND isfinite(absolute_expires_at) AND isfinite(last_seen_at)
         LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED))";

/// Deletes up to 10,000 change-log rows of transactions below the horizon
/// `$1` (an `xmin` a feed saw at least `HORIZON_AGE` ago: every one of
/// those transactions had ended by then, and every feed has polled since),
/// skipping rows another instance is deleting; and answers this
/// statement's own `xmin`, the horizon of a later collection (`feed.rs`).
pub(super) const COLLECT_LOG: &str = "WITH gone AS (
        DELETE FROM axum_user_sessions.session_changes
         WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM axum_user_sessions.session_changes
             WHERE xid < $1::text::xid8
             LIMIT 10000 FOR UPDATE SKIP LOCKED))
        RETURNING 1
    )
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon,
           (SELECT count(*) FROM gone) AS collected";

/// The transactions in progress that write the session tables (they hold a
/// `ROW EXCLUSIVE` lock on `sessions` or `tokens`), as this statement's
/// snapshot names them: those a feed registering now must see end before
/// it may go live (`feed.rs`). Other transactions, however long, do not
/// delay it.
pub(super) const SESSION_WRITERS: &str = "SELECT coalesce(array_agg(x::text), '{}')
      FROM pg_snapshot_xip(pg_current_snapshot()) AS x
     WHERE x::xid IN (
        SELECT t.transactionid FROM pg_locks r
          JOIN pg_locks t ON t.virtualtransaction = r.virtualtransaction
                         AND t.locktype = 'transactionid'
         WHERE r.locktype = 'relation' AND r.mode = 'RowExclusiveLock'
           AND r.relation IN ('axum_user_sessions.sessions'::regclass,
                              'axum_user_sessions.tokens'::regclass))";

/// A change feed's heartbeat: moves `feed_heartbeat` forward to the
/// database's clock (milliseconds since the epoch), which makes the triggers
/// log changes for the next 60 seconds (migrations `quiet_log` and
/// `forward_heartbeat`, see `feed.rs`), and answers the value it holds.
pub(super) const HEARTBEAT: &str = "SELECT axum_user_sessions.feed_beat()";

// "Your devices": lists of a user's sessions and names.
mod devices;
pub(super) use devices::{LIST_USER_ENDED, LIST_USER_PAGE, RENAME, SET_LOCATION};

// The storage operations on one session: load, insert, write, swap.
mod session;
pub(super) use session::{
    INSERT, INSERT_BATCH, LOAD_BY_ID, LOAD_BY_KEYS, LOAD_BY_SELECTOR, LOAD_BY_TOKEN, SWAP,
    UPDATE_VALUE, WRITE, WRITE_BATCH,
};
