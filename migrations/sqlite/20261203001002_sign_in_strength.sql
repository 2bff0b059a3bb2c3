-- "Your devices": how strongly a session signed in. `sign_in_method` is the
-- method of the latest proof (sign-in or re-authentication; NULL when the
-- app did not say), `second_factor` whether that proof included a second
-- factor; `authenticated_at` is its time. Rows of 0.1 get NULL and false.
ALTER TABLE aus_sessions ADD COLUMN sign_in_method TEXT;
ALTER TABLE aus_sessions ADD COLUMN second_factor BOOLEAN NOT NULL DEFAULT 0;
