-- HOT touches (issue #25). A touch (a request that records activity)
-- writes `last_seen_at` and `expires_at`; both were in an index
-- (`sessions_user_last_seen_idx` on the user and `last_seen_at`, and
-- `sessions_live_end_idx`, GC's, on an expression of `expires_at`), so no
-- touch was a HOT update: each wrote a new entry into every index of the
-- table. Now no index holds a column a touch writes:
--
-- - the device list finds a user's sessions by `user_id` alone and sorts
--   them (a user has a few; the per-user cap bounds them);
-- - garbage collection finds ended rows by `collect_after`, a time at or
--   after which the row may have ended: the row's end when it is written
--   by the crate's INSERT, and, when an update moves the end past it, the
--   new end plus some slack (the session's idle timeout, at most an hour),
--   so that only about one touch in (slack / touch interval) changes it.
--   The session trigger keeps it, for updates by the crate and plain SQL
--   alike. GC still checks the end itself (a row is collected only once
--   it ended), so a `collect_after` that is too early costs a look, never
--   a session; a too late one delays collection by at most the slack.
--   Rows written before this migration (and by an instance of an earlier
--   version) have none, and GC looks at those too.
--
-- The table keeps free room in each page (fillfactor 90) for the new
-- versions of HOT updates.
ALTER TABLE axum_user_sessions.sessions ADD COLUMN collect_after timestamptz;
CREATE INDEX sessions_collect_after_idx ON axum_user_sessions.sessions (collect_after);
DROP INDEX axum_user_sessions.sessions_live_end_idx;
CREATE INDEX sessions_user_idx ON axum_user_sessions.sessions (user_id)
    WHERE user_id IS NOT NULL;
DROP INDEX axum_user_sessions.sessions_user_last_seen_idx;
ALTER TABLE axum_user_sessions.sessions SET (fillfactor = 90);

-- The trigger of migration 20261204001001_quiet_log, with `collect_after`.
CREATE OR REPLACE FUNCTION axum_user_sessions.log_session() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ends timestamptz;
BEGIN
    NEW.version := OLD.version + 1;
    IF NEW.revoked_at IS NULL THEN
        ends := CASE WHEN NEW.persistent THEN NEW.absolute_expires_at
                     ELSE LEAST(NEW.expires_at, NEW.absolute_expires_at) END;
        IF NEW.collect_after IS NULL OR ends > NEW.collect_after THEN
            NEW.collect_after := ends + LEAST(interval '1 hour',
                GREATEST(NEW.expires_at - NEW.last_seen_at, interval '0'));
        END IF;
    END IF;
    IF (SELECT last_value FROM axum_user_sessions.feed_heartbeat)
       > extract(epoch FROM now()) * 1000 - 60000 THEN
        INSERT INTO axum_user_sessions.session_changes (session_id, kind, version)
        VALUES (NEW.id, 0, NEW.version);
        IF NEW.id IS DISTINCT FROM OLD.id THEN
            INSERT INTO axum_user_sessions.session_changes (session_id, kind)
            VALUES (OLD.id, 2);
        END IF;
    END IF;
    RETURN NEW;
END
$$;
