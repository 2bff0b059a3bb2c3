-- "Your devices": where a session was last used from. `last_ip` is the IP
-- of its latest recorded activity (written by the touch of `last_seen_at`),
-- `location` the place label an app's locator gave for that IP (NULL until
-- it answered). Rows of 0.1 get NULL in both.
ALTER TABLE aus_sessions ADD COLUMN last_ip TEXT;
ALTER TABLE aus_sessions ADD COLUMN location TEXT;
