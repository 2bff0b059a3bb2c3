-- A data write runs no plpgsql while no cache is registered (issue #25).
-- Every update of a session row ran the plpgsql trigger `log_session`
-- (migration 20261205003001_hot_touches): it counts one more version, keeps
-- `collect_after` at or after the row's end, and logs the change while a
-- cache's feed is registered (a fresh `feed_heartbeat`). Calling it cost
-- more than what it did: a write statement with the trigger ran at about
-- 12.4k a second, without it about 13.9k (pgbench, 100k sessions, two
-- clients, commits not waiting for the disk).
--
-- Now the crate's data write (its `WRITE` statement) counts the version and
-- moves `collect_after` itself, with the same rule (the function below,
-- which the trigger calls too), and the trigger only runs when it has
-- something to do that the statement did not:
--
-- - the row's version did not move forward: an update by plain SQL, or by
--   one of the crate's rarer statements (they leave the version to the
--   trigger, as before), whatever the heartbeat says;
-- - a cache is registered: every change is logged, the crate's included. A
--   heartbeat set back or a clock that jumps skips the log exactly as the
--   trigger's own test did before (the feeds detect both and bypass).
--
-- The trigger counts a version only where the statement did not move it
-- forward: an update that does (the crate's write, or plain SQL) is not
-- counted twice, and one that sets it back or leaves it gets the next one,
-- as before (a version never goes back: caches compare them). The sequence
-- is read with `pg_sequence_last_value`, a function call rather than a query (it is null until the first beat, as
-- the quiet state of a new database wants).

-- When a row that is not revoked may be collected: its end (the hard end
-- for a "remember me" session, else the earlier of the idle and hard ends),
-- or, when that is later than `current`, that end plus some slack (the
-- idle timeout, at most an hour), so that only about one touch in (slack /
-- touch interval) moves it; otherwise `current`.
CREATE FUNCTION axum_user_sessions.collect_after(
    persistent boolean, expires_at timestamptz, absolute_expires_at timestamptz,
    last_seen_at timestamptz, current timestamptz
) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN current IS NULL
          OR (CASE WHEN persistent THEN absolute_expires_at
                   ELSE LEAST(expires_at, absolute_expires_at) END) > current
        THEN (CASE WHEN persistent THEN absolute_expires_at
                   ELSE LEAST(expires_at, absolute_expires_at) END)
             + LEAST(interval '1 hour', GREATEST(expires_at - last_seen_at, interval '0'))
        ELSE current
    END
$$;

CREATE OR REPLACE FUNCTION axum_user_sessions.log_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version <= OLD.version THEN
        NEW.version := OLD.version + 1;
        IF NEW.revoked_at IS NULL THEN
            NEW.collect_after := axum_user_sessions.collect_after(
                NEW.persistent, NEW.expires_at, NEW.absolute_expires_at,
                NEW.last_seen_at, NEW.collect_after);
        END IF;
    END IF;
    IF pg_sequence_last_value('axum_user_sessions.feed_heartbeat'::regclass)
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

DROP TRIGGER sessions_log ON axum_user_sessions.sessions;
CREATE TRIGGER sessions_log
    BEFORE UPDATE ON axum_user_sessions.sessions
    FOR EACH ROW
    WHEN (NEW.version <= OLD.version
          OR pg_sequence_last_value('axum_user_sessions.feed_heartbeat'::regclass)
             > extract(epoch FROM now()) * 1000 - 60000)
    EXECUTE FUNCTION axum_user_sessions.log_session();
