-- A write pays nothing for coherence when no cache runs (issue #13). The
-- change log (`session_changes`, migration 20261203003001) is written only
-- while some cache's change feed is registered on the database: every
-- running feed sets `feed_heartbeat` to the database's clock (milliseconds
-- since the epoch) every few seconds, and the triggers log while that value
-- is less than 60 seconds older than their transaction's start (`now()`,
-- which errs towards logging). A sequence is read outside MVCC: a `setval`
-- is seen at once by every transaction, a REPEATABLE READ one that began
-- before it included. How a feed goes live without missing a write that
-- skipped logging just before it registered: the crate's
-- `store/postgres/feed.rs`.
--
-- Every role that writes sessions reads the sequence in the triggers: it is
-- readable by all (its value is a time, nothing secret), so that roles
-- granted table by table keep writing after this migration. A role whose
-- instances run the cache needs UPDATE on it (without it, the cache's feed
-- fails and the cache serves nothing from memory; the log says why).
CREATE SEQUENCE axum_user_sessions.feed_heartbeat MINVALUE 0 START 0;
GRANT SELECT ON SEQUENCE axum_user_sessions.feed_heartbeat TO PUBLIC;

-- Upgrading a database in use: instances still on the previous version
-- send no heartbeat, yet their caches rely on the log. So a populated
-- database logs for ten minutes from now whatever runs (a heartbeat nine
-- minutes ahead), time for a rolling upgrade; once upgraded instances run
-- their caches, their heartbeats keep it logging. A new, empty database
-- starts quiet.
SELECT setval('axum_user_sessions.feed_heartbeat',
              (extract(epoch FROM clock_timestamp()) * 1000)::bigint + 540000)
 WHERE EXISTS (SELECT 1 FROM axum_user_sessions.sessions);

-- The version bump stays unconditional: caches compare versions.
CREATE OR REPLACE FUNCTION axum_user_sessions.log_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
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

CREATE OR REPLACE FUNCTION axum_user_sessions.log_tokens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT last_value FROM axum_user_sessions.feed_heartbeat)
       > extract(epoch FROM now()) * 1000 - 60000 THEN
        INSERT INTO axum_user_sessions.session_changes (session_id, kind)
        SELECT session_id, 1::smallint FROM changed
        UNION
        SELECT session_id, 1::smallint FROM was;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION axum_user_sessions.bury_sessions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT last_value FROM axum_user_sessions.feed_heartbeat)
       > extract(epoch FROM now()) * 1000 - 60000 THEN
        INSERT INTO axum_user_sessions.session_changes (session_id, kind)
        SELECT DISTINCT id, 2::smallint FROM gone;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION axum_user_sessions.bury_tokens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT last_value FROM axum_user_sessions.feed_heartbeat)
       > extract(epoch FROM now()) * 1000 - 60000 THEN
        INSERT INTO axum_user_sessions.session_changes (session_id, kind)
        SELECT DISTINCT g.session_id, 2::smallint FROM gone g
         WHERE EXISTS (SELECT 1 FROM axum_user_sessions.sessions s WHERE s.id = g.session_id);
    END IF;
    RETURN NULL;
END
$$;
