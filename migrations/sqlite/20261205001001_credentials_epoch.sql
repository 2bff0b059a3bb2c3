-- The credentials' epoch (issue #23): the compare-and-set of a write of a
-- session's credentials (its token rows and remember-me columns), computed
-- in Rust above the store. Each write of the credentials counts one more,
-- and so does a revocation; a touch or a data write does not. Existing
-- sessions and token hashes stay as they are.
ALTER TABLE aus_sessions ADD COLUMN cred_epoch INTEGER NOT NULL DEFAULT 0;
