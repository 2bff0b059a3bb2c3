-- The credentials' epoch (issue #23): the compare-and-set of a write of a
-- session's credentials (its token rows and remember-me columns), computed
-- in Rust above the store. Each write of the credentials counts one more,
-- and so does a revocation; a touch or a data write does not. A pending
-- remember-me validator is kept where 0.1 looks for the current one (the
-- crate's `store/sql/credentials.rs`); the validator before the current one
-- and when it was replaced go to the `prior` columns. Existing sessions and
-- token hashes stay as they are.
ALTER TABLE aus_sessions ADD COLUMN cred_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE aus_sessions ADD COLUMN remember_prior_validator_hash BLOB;
ALTER TABLE aus_sessions ADD COLUMN remember_prior_rotated_at INTEGER;
