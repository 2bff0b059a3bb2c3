-- Every time a row holds is one the crate can read. Postgres takes
-- 'infinity', '-infinity' and years up to 294276; the crate's times (the
-- `time` crate's) end with the year 9999, and reading a row with a time
-- beyond panicked in sqlx's decoding: a request that read it, or every
-- request of a load batch it was in, answered 500. An operator's
-- `UPDATE ... SET absolute_expires_at = 'infinity'` (to keep a session for
-- ever) is now refused where it is written, naming the constraint.
--
-- The constraints are NOT VALID (Postgres does not scan the table again to
-- check them; the clamp below already read it once, without blocking
-- writers); every row written from now on is checked. A NULL passes.

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

ALTER TABLE axum_user_sessions.sessions
    ADD CONSTRAINT sessions_times_in_range CHECK (
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
    ) NOT VALID;

ALTER TABLE axum_user_sessions.tokens
    ADD CONSTRAINT tokens_times_in_range CHECK (
        isfinite(created_at) AND created_at < '10000-01-01 00:00:00+00'
        AND isfinite(superseded_at) AND superseded_at < '10000-01-01 00:00:00+00'
    ) NOT VALID;
