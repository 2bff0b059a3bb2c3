-- HOT session writes (issue #13). The change feed's mark `changed_xid` was an
-- indexed column of `sessions` and `tokens` that every update changed, so no
-- update of a session was a HOT update: each one wrote a new entry into
-- every index of the table (about 600 bytes of WAL for a one-key write,
-- against 110 for a plain primary-key update). The marks move out of the
-- rows into an insert-only log, `session_changes`, that the triggers write
-- and the feed polls (see the crate's `store/postgres/feed.rs`); it takes
-- over the tombstones. A write that changes no indexed column (a data
-- write, a sign-in's token change) is then a HOT update: one heap tuple,
-- plus one small log row.
--
-- kind: 0 a session row changed (`version`: its new version), 1 a token row
-- of the session changed, 2 the session (or some of its tokens) was deleted.
CREATE TABLE axum_user_sessions.session_changes (
    session_id uuid NOT NULL,
    kind       smallint NOT NULL CHECK (kind IN (0, 1, 2)),
    version    bigint,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX session_changes_xid_idx ON axum_user_sessions.session_changes (xid);
CREATE INDEX session_changes_at_idx ON axum_user_sessions.session_changes (at);

-- Tombstones not yet collected carry over, with their marks: a feed of the
-- new version polls the log only (a feed of the old version fails on the
-- dropped columns, and its cache is bypassed until it is upgraded).
INSERT INTO axum_user_sessions.session_changes (session_id, kind, xid, at)
SELECT session_id, 2, xid, at FROM axum_user_sessions.session_tombstones;

-- Every update of a session row, by this crate or by plain SQL, counts one
-- more version and logs it. A new row logs nothing (no copy of a session
-- can predate it), so creating a session runs no trigger of ours.
DROP TRIGGER sessions_mark ON axum_user_sessions.sessions;
DROP FUNCTION axum_user_sessions.mark_session();
CREATE FUNCTION axum_user_sessions.log_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    INSERT INTO axum_user_sessions.session_changes (session_id, kind, version)
    VALUES (NEW.id, 0, NEW.version);
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        INSERT INTO axum_user_sessions.session_changes (session_id, kind)
        VALUES (OLD.id, 2);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER sessions_log
    BEFORE UPDATE ON axum_user_sessions.sessions
    FOR EACH ROW EXECUTE FUNCTION axum_user_sessions.log_session();

-- A token changing state (rotation, promotion, sign-in, or plain SQL):
-- one log row per session and statement.
DROP TRIGGER tokens_mark ON axum_user_sessions.tokens;
DROP FUNCTION axum_user_sessions.mark_token();
CREATE FUNCTION axum_user_sessions.log_tokens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO axum_user_sessions.session_changes (session_id, kind)
    SELECT session_id, 1::smallint FROM changed
    UNION
    SELECT session_id, 1::smallint FROM was;
    RETURN NULL;
END
$$;
CREATE TRIGGER tokens_log
    AFTER UPDATE ON axum_user_sessions.tokens
    REFERENCING OLD TABLE AS was NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION axum_user_sessions.log_tokens();

-- Deletions log as tombstones did.
CREATE OR REPLACE FUNCTION axum_user_sessions.bury_sessions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO axum_user_sessions.session_changes (session_id, kind)
    SELECT DISTINCT id, 2::smallint FROM gone;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION axum_user_sessions.bury_tokens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO axum_user_sessions.session_changes (session_id, kind)
    SELECT DISTINCT g.session_id, 2::smallint FROM gone g
     WHERE EXISTS (SELECT 1 FROM axum_user_sessions.sessions s WHERE s.id = g.session_id);
    RETURN NULL;
END
$$;

DROP TABLE axum_user_sessions.session_tombstones;

-- The marks go (dropping a column rewrites no row; their indexes go with them).
ALTER TABLE axum_user_sessions.sessions DROP COLUMN changed_xid;
ALTER TABLE axum_user_sessions.tokens DROP COLUMN changed_xid;

-- Room on each page for the new version of a row, so that updates stay HOT
-- (pages written from now on; existing rows are not rewritten).
ALTER TABLE axum_user_sessions.sessions SET (fillfactor = 85);
