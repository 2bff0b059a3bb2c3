-- The credential state machine (issue #14); see the Postgres migration of
-- the same name. `tokens_expire_at`: the hard end of the session's tokens
-- (NULL for 0.1 rows: `absolute_expires_at` alone, as in 0.1). The pending
-- remember-me validator, current once presented.
ALTER TABLE aus_sessions ADD COLUMN tokens_expire_at INTEGER;
ALTER TABLE aus_sessions ADD COLUMN remember_pending_validator_hash BLOB;
ALTER TABLE aus_sessions ADD COLUMN remember_pending_at INTEGER;
