-- A TRUNCATE of the session tables reaches every cache. The log's
-- triggers are row and statement triggers on INSERT, UPDATE and DELETE;
-- TRUNCATE fires none of them, so an operator's `TRUNCATE ... CASCADE` (to
-- sign everyone out) was logged nowhere, and every cache kept serving its
-- copies until their time to live. A statement trigger on TRUNCATE now
-- logs kind 4, "everything changed" (under the nil session id), which the
-- feed reports as a flush: the caches forget every copy. It logs whether
-- or not a cache is registered (a TRUNCATE is rare): the row waits for a
-- feed to collect it, as any other.

ALTER TABLE axum_user_sessions.session_changes
    DROP CONSTRAINT session_changes_kind_check,
    ADD CONSTRAINT session_changes_kind_check CHECK (kind IN (0, 1, 2, 4));

CREATE FUNCTION axum_user_sessions.log_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO axum_user_sessions.session_changes (session_id, kind)
    VALUES ('00000000-0000-0000-0000-000000000000', 4);
    RETURN NULL;
END;
$$;

CREATE TRIGGER sessions_truncate_logged AFTER TRUNCATE ON axum_user_sessions.sessions
    FOR EACH STATEMENT EXECUTE FUNCTION axum_user_sessions.log_truncate();
CREATE TRIGGER tokens_truncate_logged AFTER TRUNCATE ON axum_user_sessions.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION axum_user_sessions.log_truncate();
