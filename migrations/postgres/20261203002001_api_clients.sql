-- "Your devices": sessions of API clients (mobile apps, scripts) signed in
-- with `Session::login_api_client` and carried by `Authorization: Bearer`.
-- Rows of 0.1 (and every browser session) get false: a constant default
-- rewrites no row.
ALTER TABLE axum_user_sessions.sessions
    ADD COLUMN api_client boolean NOT NULL DEFAULT false;
