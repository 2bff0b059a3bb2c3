-- Every time a row holds is one the crate can read. Postgres takes
-- 'infinity', '-infinity' and years up to 294276; the crate's times (the
-- `time` crate's) end with the year 9999, and reading a row with a time
-- beyond panicked in sqlx's decoding: a request that read it, or every
-- request of a load batch it was in, answered 500. An operator's
-- `UPDATE ... SET absolute_expires_at = 'infinity'` (to keep a session for
-- ever) is now refused where it is written, naming the constraint.
--
-- NOT VALID: rows already there are not scanned (no lock held for the
-- length of a scan of a large table); every row written from now on is
-- checked. A NULL passes, as before.

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
