-- The credentials' epoch (issue #23). A session's credentials (its token
-- rows and its remember-me columns) are computed in Rust above the store
-- (`store::Credentials`) and written back with a compare-and-set on this
-- counter: each write of the credentials counts one more, and so does a
-- revocation; a touch or a data write does not, so that they never make a
-- rotation retry.
--
-- A pending remember-me validator is kept where 0.1 looks for the current
-- one, so that instances of 0.1 and of this version share a fleet (the
-- crate's `store/sql/credentials.rs`); the validator before the current
-- one, and when it was replaced, then go to the two `prior` columns.
--
-- Constant defaults and nullable columns: nothing is rewritten, and a
-- populated database keeps every session and token hash as they are.
ALTER TABLE axum_user_sessions.sessions
    ADD COLUMN cred_epoch bigint NOT NULL DEFAULT 0,
    ADD COLUMN remember_prior_validator_hash bytea
        CHECK (octet_length(remember_prior_validator_hash) = 32),
    ADD COLUMN remember_prior_rotated_at timestamptz;
