-- Remember-me: a persistent credential per session (selector.validator).
-- Only the SHA-256 of the validator is stored; the previous one is kept for a
-- short grace window so that concurrent restores are not mistaken for theft.
ALTER TABLE axum_user_sessions.sessions
    ADD COLUMN remember_selector            bytea CHECK (octet_length(remember_selector) = 16),
    ADD COLUMN remember_validator_hash      bytea CHECK (octet_length(remember_validator_hash) = 32),
    ADD COLUMN remember_prev_validator_hash bytea,
    ADD COLUMN remember_rotated_at          timestamptz,
    ADD COLUMN remember_expires_at          timestamptz;

CREATE UNIQUE INDEX sessions_remember_selector_idx
    ON axum_user_sessions.sessions (remember_selector)
    WHERE remember_selector IS NOT NULL;
