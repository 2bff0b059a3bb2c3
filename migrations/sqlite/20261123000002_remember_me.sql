ALTER TABLE aus_sessions ADD COLUMN remember_selector BLOB;
ALTER TABLE aus_sessions ADD COLUMN remember_validator_hash BLOB;
ALTER TABLE aus_sessions ADD COLUMN remember_prev_validator_hash BLOB;
ALTER TABLE aus_sessions ADD COLUMN remember_rotated_at INTEGER;
ALTER TABLE aus_sessions ADD COLUMN remember_expires_at INTEGER;

CREATE UNIQUE INDEX aus_sessions_remember_selector_idx
    ON aus_sessions (remember_selector)
    WHERE remember_selector IS NOT NULL;
