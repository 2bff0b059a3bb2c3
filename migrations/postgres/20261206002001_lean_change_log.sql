-- A leaner change log (issue #25). Every data write while a cache runs
-- inserts one row into `session_changes` (migration 20261204001001), and
-- each insert also went into the index on `at`, which nothing reads any
-- more: the feeds collect the log below a horizon of transaction ids
-- (`session_changes_xid_idx`), never by age (migration
-- 20261205002001). Without it, a cached write costs one index insertion
-- less: 480 bytes of WAL per write instead of 546 (a HOT update of one
-- session, measured with pg_current_wal_lsn over 2,000 writes). The
-- column stays: it tells an operator when a change was logged.
DROP INDEX IF EXISTS axum_user_sessions.session_changes_at_idx;
