-- Every time a row holds is one the crate can read. Postgres takes
-- 'infinity', '-infinity' and years up to 294276; the crate's times (the
-- `time` crate's) end with the year 9999, and reading a row with a time
-- beyond panicked in sqlx's decoding: a request that read it, or every
-- request of a load batch it was in, answered 500. An operator's
-- `UPDATE ... SET absolute_expires_at = 'infinity'` (to keep a session for
-- ever) is now refused where it is written (`check_violation`).
--
-- An update by plain SQL is checked (the trigger below); the tokens'
-- constraint is NOT VALID (Postgres does not scan the table again to check
-- it; the clamp below already read it once, without blocking writers). A
-- NULL passes.

CREATE FUNCTION axum_user_sessions.in_range(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN t = '-infinity' THEN '1970-01-01 00:00:00+00'::timestamptz
        WHEN t >= '10000-01-01 00:00:00+00' THEN '9999-12-31 23:59:59+00'::timestamptz
        ELSE t
    END
$$;

-- Rows that already hold such a time are brought into range first (a
-- single pass; few rows, if any, change): 'infinity' and times past 9999
-- become the last instant of 9999, '-infinity' the epoch. Left as they
-- were, every update of them (a revocation of everyone included) would
-- fail the new check.
UPDATE axum_user_sessions.sessions SET
    created_at = axum_user_sessions.in_range(created_at),
    authenticated_at = axum_user_sessions.in_range(authenticated_at),
    last_seen_at = axum_user_sessions.in_range(last_seen_at),
    expires_at = axum_user_sessions.in_range(expires_at),
    absolute_expires_at = axum_user_sessions.in_range(absolute_expires_at),
    rotated_at = axum_user_sessions.in_range(rotated_at),
    revoked_at = axum_user_sessions.in_range(revoked_at),
    remember_rotated_at = axum_user_sessions.in_range(remember_rotated_at),
    remember_expires_at = axum_user_sessions.in_range(remember_expires_at),
    tokens_expire_at = axum_user_sessions.in_range(tokens_expire_at),
    remember_pending_at = axum_user_sessions.in_range(remember_pending_at),
    remember_prior_rotated_at = axum_user_sessions.in_range(remember_prior_rotated_at)
WHERE NOT (
        isfinite(created_at) AND created_at < '10000-01-01 00:00:00+00'
        AND isfinite(authenticated_at) AND authenticated_at < '10000-01-01 00:00:00+00'
        AND isfinite(last_seen_at) AND last_seen_at < '10000-01-01 00:00:00+00'
        AND isfinite(expires_at) AND expires_at < '10000-01-01 00:00:00+00'
        AND isfinite(absolute_expires_at) AND absolute_expires_at < '10000-01-01 00:00:00+00'
        AND isfinite(rotated_at) AND rotated_at < '10000-01-01 00:00:00+00'
        AND isfinite(revoked_at) AND revoked_at < '10000-01-01 00:00:00+00'
        AND isfinite(remember_rotated_at) AND remember_rotated_at < '10000-01-01 00:00:00+00'
        AND isfinite(remember_expires_at) AND remember_expires_at < '10000-01-01 00:00:00+00'
        AND isfinite(tokens_expire_at) AND tokens_expire_at < '10000-01-01 00:00:00+00'
        AND isfinite(remember_pending_at) AND remember_pending_at < '10000-01-01 00:00:00+00'
        AND isfinite(remember_prior_rotated_at)
        AND remember_prior_rotated_at < '10000-01-01 00:00:00+00'
    );

UPDATE axum_user_sessions.tokens SET
    created_at = axum_user_sessions.in_range(created_at),
    superseded_at = axum_user_sessions.in_range(superseded_at)
WHERE NOT (
        isfinite(created_at) AND created_at < '10000-01-01 00:00:00+00'
        AND isfinite(superseded_at) AND superseded_at < '10000-01-01 00:00:00+00'
    );

DROP FUNCTION axum_user_sessions.in_range(timestamptz);

-- Sessions: checked by a trigger, not a check constraint. A constraint is
-- evaluated at every update, and the crate's hot writes (a touch, a data
-- write) paid for it: a bare touch ran at about 13.2k a second with it,
-- 15.8k without (pgbench, 100k sessions, two clients, commits not waiting
-- for the disk). The crate never writes such a time (its times end with
-- 9999, its timeouts at 100 years); plain SQL is what may. Plain SQL leaves
-- the version as it is, and so do the crate's rarer statements, which
-- the trigger `sessions_log` (migration quiet_writes) counts: this one
-- runs on the same condition, and before it (triggers fire in the order
-- of their names; `sessions_log` moves the version forward). The crate's
-- hot writes move the version themselves and run neither.
CREATE FUNCTION axum_user_sessions.check_times() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (
        isfinite(NEW.created_at) AND NEW.created_at < '10000-01-01 00:00:00+00'
        AND isfinite(NEW.last_seen_at) AND NEW.last_seen_at < '10000-01-01 00:00:00+00'
        AND isfinite(NEW.expires_at) AND NEW.expires_at < '10000-01-01 00:00:00+00'
        AND isfinite(NEW.absolute_expires_at)
        AND NEW.absolute_expires_at < '10000-01-01 00:00:00+00'
        AND isfinite(NEW.rotated_at) AND NEW.rotated_at < '10000-01-01 00:00:00+00'
        AND coalesce(isfinite(NEW.authenticated_at)
            AND NEW.authenticated_at < '10000-01-01 00:00:00+00', true)
        AND coalesce(isfinite(NEW.revoked_at)
            AND NEW.revoked_at < '10000-01-01 00:00:00+00', true)
        AND coalesce(isfinite(NEW.remember_rotated_at)
            AND NEW.remember_rotated_at < '10000-01-01 00:00:00+00', true)
        AND coalesce(isfinite(NEW.remember_expires_at)
            AND NEW.remember_expires_at < '10000-01-01 00:00:00+00', true)
        AND coalesce(isfinite(NEW.tokens_expire_at)
            AND NEW.tokens_expire_at < '10000-01-01 00:00:00+00', true)
        AND coalesce(isfinite(NEW.remember_pending_at)
            AND NEW.remember_pending_at < '10000-01-01 00:00:00+00', true)
        AND coalesce(isfinite(NEW.remember_prior_rotated_at)
            AND NEW.remember_prior_rotated_at < '10000-01-01 00:00:00+00', true)
    ) THEN
        RAISE EXCEPTION 'a session time the crate cannot read (infinity, or past the year 9999)'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'sessions_times_in_range',
                  TABLE = 'sessions', SCHEMA = 'axum_user_sessions';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER sessions_check_times
    BEFORE UPDATE ON axum_user_sessions.sessions
    FOR EACH ROW
    WHEN (NEW.version <= OLD.version)
    EXECUTE FUNCTION axum_user_sessions.check_times();

-- Tokens (0.1's table, rarely written): a check constraint.
ALTER TABLE axum_user_sessions.tokens
    ADD CONSTRAINT tokens_times_in_range CHECK (
        isfinite(created_at) AND created_at < '10000-01-01 00:00:00+00'
        AND isfinite(superseded_at) AND superseded_at < '10000-01-01 00:00:00+00'
    ) NOT VALID;
