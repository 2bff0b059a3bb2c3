-- How many times a session row changed (`SessionRecord::version`), which a
-- cache compares with its copy's. The crate's statements that need the new
-- version count it up themselves; this trigger counts every other change,
-- plain SQL included.
ALTER TABLE aus_sessions ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER aus_sessions_version AFTER UPDATE ON aus_sessions
    FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN
    UPDATE aus_sessions SET version = OLD.version + 1 WHERE id = NEW.id;
END;
