-- A change of credentials by an instance of 0.1 counts an epoch too (the
-- Postgres migration of the same name says why): an update that changes a
-- session's user, freshness, `rotated_at` or remember-me columns and
-- leaves `cred_epoch` as it was (0.1's statements, plain SQL) counts one
-- more, so that this version's compare-and-set on a copy read before it
-- fails rather than undo it. This version's own writes of those columns
-- move the epoch themselves; a touch or a data write changes none of them.
CREATE TRIGGER aus_sessions_cred_epoch AFTER UPDATE ON aus_sessions
    FOR EACH ROW WHEN NEW.cred_epoch = OLD.cred_epoch
        AND (NEW.user_id IS NOT OLD.user_id
             OR NEW.authenticated_at IS NOT OLD.authenticated_at
             OR NEW.rotated_at IS NOT OLD.rotated_at
             OR NEW.remember_selector IS NOT OLD.remember_selector
             OR NEW.remember_validator_hash IS NOT OLD.remember_validator_hash
             OR NEW.remember_prev_validator_hash IS NOT OLD.remember_prev_validator_hash
             OR NEW.remember_rotated_at IS NOT OLD.remember_rotated_at
             OR NEW.remember_expires_at IS NOT OLD.remember_expires_at)
BEGIN
    UPDATE aus_sessions SET cred_epoch = OLD.cred_epoch + 1 WHERE id = NEW.id;
END;
