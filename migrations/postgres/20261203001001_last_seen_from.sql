-- "Your devices": where a session was last used from. `last_ip` is the IP
-- of its latest recorded activity (it changes with the touch of
-- `last_seen_at`, in the same statement), `location` the place label an
-- app's locator gave for that IP (NULL until it answered). Rows of 0.1 get
-- NULL in both (adding nullable columns without a default rewrites no row):
-- the list shows their sign-in IP until their next touch.
ALTER TABLE axum_user_sessions.sessions
    ADD COLUMN last_ip inet,
    ADD COLUMN location text;
