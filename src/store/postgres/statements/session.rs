//! The storage operations on one session: a load (by id, token or
//! remember-me selector), a new session, a write of its data and activity,
//! and the compare-and-set of its credentials.

use crate::store::sql::{credential_cols, insert_cols, takes_writes};

/// A whole session `s` as `SessionStore::load` reads it: the row, its epoch, its
/// remember-me columns and its token rows (as four arrays, null when it has
/// none), followed by the `WHERE` that finds it.
macro_rules! load_where {
    ($filter:literal) => {
        concat!(
            "SELECT s.data, ",
            listed_cols!(),
            ", s.last_seen_at, s.expires_at, s.version, ",
            seen_cols!(),
            ", ",
            credential_cols!(),
            ",
               t.hashes, t.states, t.issued, t.replaced
          FROM axum_user_sessions.sessions s
         CROSS JOIN LATERAL (
            SELECT array_agg(token_hash) AS hashes, array_agg(state) AS states,
                   array_agg(created_at) AS issued, array_agg(superseded_at) AS replaced
              FROM axum_user_sessions.tokens WHERE session_id = s.id) t
         WHERE ",
            $filter
        )
    };
}

/// Session `$1`, by its primary key.
pub(in crate::store::postgres) const LOAD_BY_ID: &str = load_where!("s.id = $1");

/// The sessions of ids `$1`, token hashes `$2` and remember-me selectors
/// `$3` (arrays), by their primary key: a row each. The ids of the tokens'
/// and selectors' sessions are looked up first, once.
pub(in crate::store::postgres) const LOAD_BY_KEYS: &str = load_where!(
    "s.id = ANY($1::uuid[]
               || ARRAY(SELECT session_id FROM axum_user_sessions.tokens
                         WHERE token_hash = ANY($2::bytea[]))
               || ARRAY(SELECT id FROM axum_user_sessions.sessions
                         WHERE remember_selector = ANY($3::bytea[])))"
);

/// The session of token hash `$1` (a cookie of 0.1's form).
pub(in crate::store::postgres) const LOAD_BY_TOKEN: &str =
    load_where!("s.id = (SELECT session_id FROM axum_user_sessions.tokens WHERE token_hash = $1)");

/// The session holding remember-me selector `$1`.
pub(in crate::store::postgres) const LOAD_BY_SELECTOR: &str =
    load_where!("s.remember_selector = $1");

/// The remember-me columns, assigned from placeholders `$3` … `$11` in the
/// order of `sql::REMEMBER_COLUMNS`.
macro_rules! set_remember {
    () => {
        "remember_selector = $3, remember_validator_hash = $4,
         remember_prev_validator_hash = $5, remember_rotated_at = $6,
         remember_expires_at = $7, remember_pending_validator_hash = $8,
         remember_pending_at = $9, remember_prior_validator_hash = $10,
         remember_prior_rotated_at = $11"
    };
}

/// Inserts session `$1` with its token rows (`$12` hashes, `$13` states,
/// `$14` issued, `$15` replaced: arrays) and remember-me columns (`$3` …
/// `$11`); its row's columns `$2`, `$16` … `$32`, and `collect_after`, its
/// end (migration `hot_touches`). Version and epoch start at 0.
pub(in crate::store::postgres) const INSERT: &str = concat!(
    "WITH s AS (
        INSERT INTO axum_user_sessions.sessions (",
    insert_cols!(),
    ", collect_after)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                $16, $17, $18, $19, $20, $21, $22, $23, $24::inet, $25, $26,
                $27::inet, $28, $29, $30, $31, $32,
                CASE WHEN $26 THEN $21 ELSE LEAST($20, $21) END)
        RETURNING id
    )
    INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at, superseded_at)
    SELECT u.h, s.id, u.st, u.c, u.r
      FROM s, unnest($12::bytea[], $13::int2[], $14::timestamptz[], $15::timestamptz[])
              AS u(h, st, c, r)"
);

/// [`INSERT`] for many sessions at once: each column of the session rows
/// as an array (`$1` … `$28`, in the order of `insert_cols!`, one element
/// per session), and their token rows flattened (`$29` session ids, `$30`
/// hashes, `$31` states, `$32` issued, `$33` replaced). One commit for all.
pub(in crate::store::postgres) const INSERT_BATCH: &str = concat!(
    "WITH s AS (
        INSERT INTO axum_user_sessions.sessions (",
    insert_cols!(),
    ", collect_after)
        SELECT i.*, CASE WHEN i.persistent THEN i.absolute_expires_at
                         ELSE LEAST(i.expires_at, i.absolute_expires_at) END
          FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::bytea[], $5::bytea[],
                      $6::timestamptz[], $7::timestamptz[], $8::bytea[], $9::timestamptz[],
                      $10::bytea[], $11::timestamptz[], $12::jsonb[], $13::timestamptz[],
                      $14::timestamptz[], $15::timestamptz[], $16::timestamptz[],
                      $17::timestamptz[], $18::timestamptz[], $19::timestamptz[],
                      $20::text[]::inet[], $21::text[], $22::bool[], $23::text[]::inet[],
                      $24::text[], $25::text[], $26::bool[], $27::bool[], $28::text[])
               AS i(",
    insert_cols!(),
    ")
        RETURNING id
    )
    INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at, superseded_at)
    SELECT u.h, s.id, u.st, u.c, u.r
      FROM unnest($29::uuid[], $30::bytea[], $31::int2[], $32::timestamptz[],
                  $33::timestamptz[]) AS u(sid, h, st, c, r)
      JOIN s ON s.id = u.sid"
);

/// One write of session `$1`, if it is not revoked and (`$5` not null) is
/// at version `$5`: with `$2`, the keys `$3` (an object) set and `$4`
/// removed; with `$6`, the activity: last seen `$6`, idle deadline `$7`,
/// and a new last IP `$8` (text; null: unchanged), which clears the place
/// label. It counts `$9` versions: 1, or the number of data writes it does
/// at once (`batch::Call::merge`). `version`: the new version, null when
/// nothing was written; `live`: whether the session is there and not
/// revoked (as the statement began).
///
/// It counts the version and moves `collect_after` itself, so that the
/// session trigger runs only while a cache is registered (migration
/// `20261206003001_quiet_writes`, which has the rule).
pub(in crate::store::postgres) const WRITE: &str = concat!(
    "WITH u AS (
        UPDATE axum_user_sessions.sessions
           SET data = CASE WHEN $2 THEN (data || $3::jsonb) - $4::text[] ELSE data END,
               version = version + $9::int8,
               collect_after = axum_user_sessions.collect_after(persistent,
                   COALESCE($7, expires_at), absolute_expires_at,
                   COALESCE($6, last_seen_at), collect_after),
               last_seen_at = COALESCE($6, last_seen_at),
               expires_at = COALESCE($7, expires_at),
               location = CASE WHEN $8::inet IS NOT NULL AND $8::inet IS DISTINCT FROM last_ip
                               THEN NULL ELSE location END,
               last_ip = COALESCE($8::inet, last_ip)
         WHERE id = $1 AND ",
    takes_writes!(""),
    " AND ($5::bigint IS NULL OR version = $5)
        RETURNING version
    )
    SELECT (SELECT version FROM u) AS version,
           -- Only a write that matched no row looks again (an initplan
           -- runs when first needed): gone, or at another version?
           CASE WHEN (SELECT version FROM u) IS NOT NULL THEN true
                ELSE EXISTS (SELECT 1 FROM axum_user_sessions.sessions
                              WHERE id = $1 AND ",
    takes_writes!(""),
    ") END AS live"
);

/// [`WRITE`] for many sessions at once (`$1` … `$9` as arrays, one element
/// per session, one session at most once; `$4`: each patch's keys to
/// remove as a JSON array): a row per session, with `id`, `version` and
/// `live` as `WRITE` answers them. The rows are locked in id order first,
/// so that two batches never wait on each other in a cycle.
pub(in crate::store::postgres) const WRITE_BATCH: &str = concat!(
    "WITH i AS MATERIALIZED (
        SELECT * FROM unnest($1::uuid[], $2::bool[], $3::jsonb[], $4::jsonb[], $5::int8[],
                             $6::timestamptz[], $7::timestamptz[], $8::text[]::inet[],
                             $9::int8[])
                   AS i(id, patched, set, remove, expected, seen, expires, ip, writes)
    ), l AS MATERIALIZED (
        SELECT s.id FROM axum_user_sessions.sessions s JOIN i ON i.id = s.id
         WHERE ",
    takes_writes!("s."),
    " AND (i.expected IS NULL OR s.version = i.expected)
         ORDER BY s.id
           FOR NO KEY UPDATE OF s
    ), u AS (
        UPDATE axum_user_sessions.sessions s
           SET data = CASE WHEN i.patched
                           THEN (s.data || i.set) - ARRAY(SELECT jsonb_array_elements_text(i.remove))
                           ELSE s.data END,
               version = s.version + i.writes,
               collect_after = axum_user_sessions.collect_after(s.persistent,
                   COALESCE(i.expires, s.expires_at), s.absolute_expires_at,
                   COALESCE(i.seen, s.last_seen_at), s.collect_after),
               last_seen_at = COALESCE(i.seen, s.last_seen_at),
               expires_at = COALESCE(i.expires, s.expires_at),
               location = CASE WHEN i.ip IS NOT NULL AND i.ip IS DISTINCT FROM s.last_ip
                               THEN NULL ELSE s.location END,
               last_ip = COALESCE(i.ip, s.last_ip)
          FROM i
         WHERE s.id = i.id AND s.id IN (SELECT id FROM l)
        RETURNING s.id, s.version
    )
    SELECT i.id, u.version,
           u.version IS NOT NULL OR EXISTS (SELECT 1 FROM axum_user_sessions.sessions x
                                             WHERE x.id = i.id AND ",
    takes_writes!("x."),
    ") AS live
      FROM i LEFT JOIN u ON u.id = i.id"
);

/// Compare-and-set of the credentials of session `$1`: if it is not
/// revoked and its epoch is still `$2`, writes its remember-me columns (`$3`
/// … `$11`) and token rows (`$12` … `$15`, as `INSERT`'s: the rows not
/// listed go, the listed ones are inserted or updated), counts one more
/// epoch and, with `$16`, writes the row's fields a change of credentials
/// changes (`$17` …): the later of its own and the stored `last_seen_at`
/// and `expires_at`, and a new `last_ip`, which clears the place label.
/// `swapped`: 1 or 0.
///
/// The session row is locked first (its `UPDATE`), then its token rows, as
/// every statement here does.
pub(in crate::store::postgres) const SWAP: &str = concat!(
    "WITH s AS (
        UPDATE axum_user_sessions.sessions
           SET cred_epoch = cred_epoch + 1, ",
    set_remember!(),
    ",
               user_id = CASE WHEN $16 THEN $17 ELSE user_id END,
               authenticated_at = CASE WHEN $16 THEN $18 ELSE authenticated_at END,
               rotated_at = CASE WHEN $16 THEN $19 ELSE rotated_at END,
               ip = CASE WHEN $16 THEN $20::inet ELSE ip END,
               user_agent = CASE WHEN $16 THEN $21 ELSE user_agent END,
               location = CASE WHEN $16 AND $22::inet IS DISTINCT FROM last_ip
                               THEN NULL ELSE location END,
               last_ip = CASE WHEN $16 THEN $22::inet ELSE last_ip END,
               tokens_expire_at = CASE WHEN $16 THEN $23 ELSE tokens_expire_at END,
               absolute_expires_at = CASE WHEN $16 THEN $24 ELSE absolute_expires_at END,
               expires_at = CASE WHEN $16 THEN GREATEST(expires_at, $25) ELSE expires_at END,
               last_seen_at = CASE WHEN $16 THEN GREATEST(last_seen_at, $26)
                                   ELSE last_seen_at END,
               persistent = CASE WHEN $16 THEN $27 ELSE persistent END,
               sign_in_method = CASE WHEN $16 THEN $28 ELSE sign_in_method END,
               second_factor = CASE WHEN $16 THEN $29 ELSE second_factor END,
               api_client = CASE WHEN $16 THEN $30 ELSE api_client END
         WHERE id = $1 AND cred_epoch = $2 AND revoked_at IS NULL
        RETURNING id
    ), gone AS (
        DELETE FROM axum_user_sessions.tokens t USING s
         WHERE t.session_id = s.id AND t.token_hash <> ALL ($12::bytea[])
    ), put AS (
        INSERT INTO axum_user_sessions.tokens AS t
               (token_hash, session_id, state, created_at, superseded_at)
        SELECT u.h, s.id, u.st, u.c, u.r
          FROM s, unnest($12::bytea[], $13::int2[], $14::timestamptz[], $15::timestamptz[])
                  AS u(h, st, c, r)
        ON CONFLICT (token_hash) DO UPDATE
           SET state = EXCLUDED.state, superseded_at = EXCLUDED.superseded_at
         WHERE t.session_id = EXCLUDED.session_id
           AND (t.state, t.superseded_at) IS DISTINCT FROM (EXCLUDED.state, EXCLUDED.superseded_at)
    )
    SELECT count(*) AS swapped FROM s"
);

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
pub(in crate::store::postgres) const UPDATE_VALUE: &str = concat!(
    "WITH upd AS (
        UPDATE axum_user_sessions.sessions s
           SET data = CASE WHEN $4::jsonb IS NULL THEN s.data - $2::text
                           ELSE s.data || jsonb_build_object($2::text, $4::jsonb) END
         WHERE s.id = $1 AND ",
    takes_writes!("s."),
    "
           AND s.data -> $2::text IS NOT DISTINCT FROM $3::jsonb
        RETURNING s.version
    ), cur AS (
        SELECT data -> $2::text AS value FROM axum_user_sessions.sessions
         WHERE id = $1 AND ",
    takes_writes!(""),
    " AND NOT EXISTS (SELECT 1 FROM upd)
           FOR NO KEY UPDATE
    )
    SELECT version, NULL::jsonb AS current, NULL::text AS relaxed FROM upd
    UNION ALL
    SELECT NULL, value, set_config('synchronous_commit', 'off', true) FROM cur"
);
