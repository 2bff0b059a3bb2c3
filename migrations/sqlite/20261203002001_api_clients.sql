-- "Your devices": sessions of API clients (mobile apps, scripts) signed in
-- with `Session::login_api_client` and carried by `Authorization: Bearer`.
-- Rows of 0.1 (and every browser session) get false.
ALTER TABLE aus_sessions ADD COLUMN api_client BOOLEAN NOT NULL DEFAULT 0;
