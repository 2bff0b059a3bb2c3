-- Every change that can make a cached session stale is announced on the
-- channel `axum_user_sessions` with the session's id, by triggers, so that
-- in-process caches on every app instance (and changes made by the CLI, an
-- admin job or plain SQL) stay coherent. NOTIFY is delivered on commit.
-- The touch of last_seen_at / expires_at alone announces nothing.
CREATE FUNCTION axum_user_sessions.notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sid uuid;
BEGIN
    IF TG_TABLE_NAME = 'tokens' THEN
        IF TG_OP = 'DELETE' THEN sid := OLD.session_id; ELSE sid := NEW.session_id; END IF;
    ELSE
        IF TG_OP = 'DELETE' THEN sid := OLD.id; ELSE sid := NEW.id; END IF;
    END IF;
    PERFORM pg_notify('axum_user_sessions', sid::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_changed
    AFTER UPDATE ON axum_user_sessions.sessions
    FOR EACH ROW
    WHEN (OLD.data IS DISTINCT FROM NEW.data
       OR OLD.user_id IS DISTINCT FROM NEW.user_id
       OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
       OR OLD.rotated_at IS DISTINCT FROM NEW.rotated_at
       OR OLD.authenticated_at IS DISTINCT FROM NEW.authenticated_at
       OR OLD.persistent IS DISTINCT FROM NEW.persistent
       OR OLD.absolute_expires_at IS DISTINCT FROM NEW.absolute_expires_at
       OR OLD.ip IS DISTINCT FROM NEW.ip
       OR OLD.user_agent IS DISTINCT FROM NEW.user_agent)
    EXECUTE FUNCTION axum_user_sessions.notify_change();

CREATE TRIGGER sessions_deleted
    AFTER DELETE ON axum_user_sessions.sessions
    FOR EACH ROW EXECUTE FUNCTION axum_user_sessions.notify_change();

-- A token changing state (rotation, promotion, sign-in) changes what a cached
-- lookup by token would answer.
CREATE TRIGGER tokens_changed
    AFTER UPDATE ON axum_user_sessions.tokens
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION axum_user_sessions.notify_change();

CREATE TRIGGER tokens_added
    AFTER INSERT ON axum_user_sessions.tokens
    FOR EACH ROW WHEN (NEW.state <> 0)
    EXECUTE FUNCTION axum_user_sessions.notify_change();
