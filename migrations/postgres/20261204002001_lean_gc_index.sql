-- Fewer index entries per new session and per touch (issue #13). Garbage
-- collection found expired rows through two indexes, on `expires_at` and on
-- `absolute_expires_at`; no other query uses either. Every new session wrote
-- an entry into both, and so did every touch (which changes `expires_at`,
-- so it is never a HOT update). One index on when a live row ends does the
-- same job with one entry: GC asks for rows whose end is past, or that were
-- revoked before the retention horizon (`sessions_revoked_at_idx`, partial:
-- a live row has no entry there).
--
-- The expression is null for a revoked row. The index is not partial, so
-- that ANALYZE keeps statistics on the expression and the planner knows how
-- few rows are past their end (it keeps none for a partial index's
-- expression, and would then scan the table). It must stay the expression
-- of `live_end!` in the crate's `store/postgres/statements.rs`.
--
-- Building it locks writes to `sessions` while it runs (as any migration
-- here does); instances of earlier versions, during a rolling upgrade, keep
-- collecting, by a scan of the table.
CREATE INDEX sessions_live_end_idx ON axum_user_sessions.sessions
    ((CASE WHEN revoked_at IS NULL THEN
        CASE WHEN persistent THEN absolute_expires_at
        ELSE LEAST(expires_at, absolute_expires_at) END END));
DROP INDEX axum_user_sessions.sessions_expires_at_idx;
DROP INDEX axum_user_sessions.sessions_absolute_expires_at_idx;
