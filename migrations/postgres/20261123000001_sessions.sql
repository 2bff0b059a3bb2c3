-- One row per signed-in browser or device: what a user sees in "Your devices".
CREATE TABLE axum_user_sessions.sessions (
    id                  uuid PRIMARY KEY,
    user_id             text,
    data                jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL,
    authenticated_at    timestamptz,
    last_seen_at        timestamptz NOT NULL,
    -- min(last_seen_at + idle timeout, absolute_expires_at), kept by the touch.
    expires_at          timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    -- when the current (or pending) token was issued; rotation compare-and-set.
    rotated_at          timestamptz NOT NULL,
    ip                  inet,
    user_agent          text,
    persistent          boolean NOT NULL DEFAULT false,
    revoked_at          timestamptz,
    revoke_reason       text
);

-- "Your devices": a user's sessions, most recently active first.
CREATE INDEX sessions_user_last_seen_idx
    ON axum_user_sessions.sessions (user_id, last_seen_at DESC)
    WHERE user_id IS NOT NULL;

-- Garbage collection of expired rows.
CREATE INDEX sessions_expires_at_idx ON axum_user_sessions.sessions (expires_at);

-- Every token a session has had: SHA-256 of the cookie secret, never the secret.
-- state: 0 = current, 1 = pending (issued, not yet presented), 2 = superseded.
CREATE TABLE axum_user_sessions.tokens (
    token_hash    bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    session_id    uuid NOT NULL REFERENCES axum_user_sessions.sessions (id) ON DELETE CASCADE,
    state         smallint NOT NULL CHECK (state IN (0, 1, 2)),
    created_at    timestamptz NOT NULL,
    superseded_at timestamptz
);

CREATE INDEX tokens_session_id_idx ON axum_user_sessions.tokens (session_id);
