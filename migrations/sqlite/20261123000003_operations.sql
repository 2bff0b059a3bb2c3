ALTER TABLE aus_sessions ADD COLUMN revoked_by TEXT;

CREATE INDEX aus_sessions_absolute_expires_at_idx ON aus_sessions (absolute_expires_at);
CREATE INDEX aus_sessions_revoked_at_idx ON aus_sessions (revoked_at)
    WHERE revoked_at IS NOT NULL;

-- Token state 3: retired by a sign-in, re-authentication or explicit rotation.
-- SQLite cannot alter a CHECK constraint: rebuild the table.
CREATE TABLE aus_tokens_new (
    token_hash    BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
    session_id    BLOB NOT NULL REFERENCES aus_sessions (id) ON DELETE CASCADE,
    state         INTEGER NOT NULL CHECK (state IN (0, 1, 2, 3)),
    created_at    INTEGER NOT NULL,
    superseded_at INTEGER
) WITHOUT ROWID;
INSERT INTO aus_tokens_new SELECT token_hash, session_id, state, created_at, superseded_at FROM aus_tokens;
DROP TABLE aus_tokens;
ALTER TABLE aus_tokens_new RENAME TO aus_tokens;
CREATE INDEX aus_tokens_session_id_idx ON aus_tokens (session_id);
