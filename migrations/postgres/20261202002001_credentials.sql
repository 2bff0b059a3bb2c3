-- The credential state machine (issue #14).
--
-- `tokens_expire_at`: the hard end of the session's tokens, counted from the
-- sign-in or remember-me restore that issued them (issue time + absolute
-- timeout). A remembered session lives until its remember-me credential
-- ends; its session tokens do not: once they end, the device restores again
-- with its remember-me cookie. NULL (every 0.1 row) means no end of their
-- own beyond `absolute_expires_at`, as in 0.1, until the next sign-in or
-- restore sets it.
--
-- The pending validator: a restore issues a new validator as pending; it
-- becomes current when a restore presents it, and the current one stays
-- valid until then, so that a lost response never makes the next restore
-- look like theft. 0.1 rows have none.
ALTER TABLE axum_user_sessions.sessions
    ADD COLUMN tokens_expire_at timestamptz,
    ADD COLUMN remember_pending_validator_hash bytea
        CHECK (octet_length(remember_pending_validator_hash) = 32),
    ADD COLUMN remember_pending_at timestamptz;
