-- Cache coherence off the commit path. The notification triggers of
-- `change_notifications` called pg_notify inside every transaction that
-- changed a session, and Postgres serialises the commits of all such
-- transactions, cluster-wide, on one lock held through the WAL flush. They
-- go. Instead every change leaves a mark in the rows it writes (the id of
-- the transaction that wrote them, `changed_xid`) and every deletion a
-- tombstone; caches poll for the marks they have not seen yet (see the
-- crate's `store/postgres/feed.rs`). A write pays one indexed column for it:
-- no notification, no lock beyond its own rows.
DROP TRIGGER sessions_changed ON axum_user_sessions.sessions;
DROP TRIGGER sessions_deleted ON axum_user_sessions.sessions;
DROP TRIGGER tokens_changed ON axum_user_sessions.tokens;
DROP TRIGGER tokens_added ON axum_user_sessions.tokens;
DROP FUNCTION axum_user_sessions.notify_change();

-- `version` counts the changes of a session row: a cache keeps a copy whose
-- version is the row's, and drops an older one. Rows of 0.1 start at 0 and
-- carry no mark until they next change (no cache holds them by then: caches
-- start empty).
ALTER TABLE axum_user_sessions.sessions
    ADD COLUMN version     bigint NOT NULL DEFAULT 0,
    ADD COLUMN changed_xid xid8;
ALTER TABLE axum_user_sessions.tokens ADD COLUMN changed_xid xid8;

CREATE INDEX sessions_changed_xid_idx ON axum_user_sessions.sessions (changed_xid);
CREATE INDEX tokens_changed_xid_idx ON axum_user_sessions.tokens (changed_xid);

-- Every insert or update of a session row, by this crate or by plain SQL,
-- marks it with its transaction and counts one more version.
CREATE FUNCTION axum_user_sessions.mark_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_xid := pg_current_xact_id();
    IF TG_OP = 'UPDATE' THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER sessions_mark
    BEFORE INSERT OR UPDATE ON axum_user_sessions.sessions
    FOR EACH ROW EXECUTE FUNCTION axum_user_sessions.mark_session();

-- A token changing state (rotation, promotion, sign-in, or plain SQL) changes
-- what a cached lookup by token answers. A new token does not: no copy of a
-- token's lookup can predate the token (and a new token always comes with a
-- change of its session row, or a new session).
CREATE FUNCTION axum_user_sessions.mark_token() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_xid := pg_current_xact_id();
    RETURN NEW;
END
$$;

CREATE TRIGGER tokens_mark
    BEFORE UPDATE ON axum_user_sessions.tokens
    FOR EACH ROW EXECUTE FUNCTION axum_user_sessions.mark_token();

-- A deleted row leaves no mark: deletions leave a tombstone instead, one per
-- session and statement. Garbage collection removes tombstones after a few
-- minutes (caches that fell further behind start over empty).
CREATE TABLE axum_user_sessions.session_tombstones (
    session_id uuid NOT NULL,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX session_tombstones_xid_idx ON axum_user_sessions.session_tombstones (xid);
CREATE INDEX session_tombstones_at_idx ON axum_user_sessions.session_tombstones (at);

CREATE FUNCTION axum_user_sessions.bury_sessions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO axum_user_sessions.session_tombstones (session_id)
    SELECT DISTINCT id FROM gone;
    RETURN NULL;
END
$$;

-- Tokens deleted with their session (ON DELETE CASCADE) need no tombstone of
-- their own: the session's covers them.
CREATE FUNCTION axum_user_sessions.bury_tokens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO axum_user_sessions.session_tombstones (session_id)
    SELECT DISTINCT g.session_id FROM gone g
     WHERE EXISTS (SELECT 1 FROM axum_user_sessions.sessions s WHERE s.id = g.session_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_bury
    AFTER DELETE ON axum_user_sessions.sessions
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION axum_user_sessions.bury_sessions();

CREATE TRIGGER tokens_bury
    AFTER DELETE ON axum_user_sessions.tokens
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION axum_user_sessions.bury_tokens();
