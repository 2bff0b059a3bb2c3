-- Who revoked a session (the user, an admin, "system" for theft detection).
ALTER TABLE axum_user_sessions.sessions ADD COLUMN revoked_by text;

-- Garbage collection finds rows past their absolute end or revoked long ago.
CREATE INDEX sessions_absolute_expires_at_idx
    ON axum_user_sessions.sessions (absolute_expires_at);
CREATE INDEX sessions_revoked_at_idx
    ON axum_user_sessions.sessions (revoked_at)
    WHERE revoked_at IS NOT NULL;

-- Token state 3: retired by a sign-in, re-authentication or explicit rotation.
-- Dead at once, but kept so that a request still in flight with it is told
-- "anonymous" without its response expiring the new cookie.
ALTER TABLE axum_user_sessions.tokens
    DROP CONSTRAINT tokens_state_check,
    ADD CONSTRAINT tokens_state_check CHECK (state IN (0, 1, 2, 3));
