-- SQLite mirror of the Postgres schema. Timestamps are Unix microseconds (UTC),
-- ids and hashes are blobs, data is JSON text.
CREATE TABLE aus_sessions (
    id                  BLOB PRIMARY KEY NOT NULL,
    user_id             TEXT,
    data                TEXT NOT NULL DEFAULT '{}',
    created_at          INTEGER NOT NULL,
    authenticated_at    INTEGER,
    last_seen_at        INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    rotated_at          INTEGER NOT NULL,
    ip                  TEXT,
    user_agent          TEXT,
    persistent          INTEGER NOT NULL DEFAULT 0,
    revoked_at          INTEGER,
    revoke_reason       TEXT
) WITHOUT ROWID;

CREATE INDEX aus_sessions_user_last_seen_idx
    ON aus_sessions (user_id, last_seen_at DESC)
    WHERE user_id IS NOT NULL;

CREATE INDEX aus_sessions_expires_at_idx ON aus_sessions (expires_at);

CREATE TABLE aus_tokens (
    token_hash    BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
    session_id    BLOB NOT NULL REFERENCES aus_sessions (id) ON DELETE CASCADE,
    state         INTEGER NOT NULL CHECK (state IN (0, 1, 2)),
    created_at    INTEGER NOT NULL,
    superseded_at INTEGER
) WITHOUT ROWID;

CREATE INDEX aus_tokens_session_id_idx ON aus_tokens (session_id);
