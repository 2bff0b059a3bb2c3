-- "Your devices": how strongly a session signed in. `sign_in_method` is the
-- method of the latest proof (sign-in or re-authentication: "password",
-- "passkey", "sso", ...; NULL when the app did not say), `second_factor`
-- whether that proof included a second factor; `authenticated_at` is its
-- time. Rows of 0.1 get NULL and false (a constant default rewrites no row).
ALTER TABLE axum_user_sessions.sessions
    ADD COLUMN sign_in_method text,
    ADD COLUMN second_factor boolean NOT NULL DEFAULT false;
