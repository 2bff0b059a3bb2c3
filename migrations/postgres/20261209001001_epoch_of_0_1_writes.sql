-- A change of credentials by an instance of 0.1 counts an epoch too.
-- This version changes a session's credentials with a compare-and-set on
-- `cred_epoch` (its `SWAP`), which every write of the credentials moves.
-- 0.1's statements, in a fleet that mixes both during a rolling upgrade,
-- change them without it: a rotation's pending token and `rotated_at`
-- (its BEGIN_ROTATION), a remember-me credential set or taken (REMEMBER,
-- FORGET), a restore's validator step (RESTORE), a sign-in (REISSUE). A
-- swap computed on a copy read before such a change then landed over it:
-- it deleted the pending token the 0.1 instance had just sent the browser,
-- or put back a validator it had replaced, and the browser's next request
-- was anonymous, or taken for theft.
--
-- `log_session` (the trigger that runs for every update that does not
-- count its own version: 0.1's statements, plain SQL, this version's rarer
-- statements) now counts one more epoch for an update that changes the
-- session's user, freshness, `rotated_at` or remember-me columns and
-- leaves the epoch as it was. This version's own writes of those columns
-- (the swap, a revocation) move the epoch themselves and are not counted
-- twice; a touch or a data write changes none of them. 0.1's changes of
-- token rows alone (a promotion, a restore that keeps the validator) are
-- not counted: a swap over them puts back a pending token the browser then
-- presents again, or drops a token whose browser restores with its
-- remember-me cookie, which signs nobody out.
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
    IF NEW.cred_epoch = OLD.cred_epoch
       AND (NEW.user_id, NEW.authenticated_at, NEW.rotated_at, NEW.remember_selector,
            NEW.remember_validator_hash, NEW.remember_prev_validator_hash,
            NEW.remember_rotated_at, NEW.remember_expires_at)
           IS DISTINCT FROM
           (OLD.user_id, OLD.authenticated_at, OLD.rotated_at, OLD.remember_selector,
            OLD.remember_validator_hash, OLD.remember_prev_validator_hash,
            OLD.remember_rotated_at, OLD.remember_expires_at) THEN
        NEW.cred_epoch := OLD.cred_epoch + 1;
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
