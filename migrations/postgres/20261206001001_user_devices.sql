-- "Your devices": each user's trusted devices and failed sign-ins, one
-- document per user (JSON text, its rules computed in Rust), written with a
-- compare-and-set on `version`. `trust_until` (when the last trust ends) and
-- `failed_at` (the last failed sign-in kept) are microseconds since 1970,
-- what garbage collection compares. A new table: existing rows are untouched.
CREATE TABLE axum_user_sessions.user_devices (
    user_id     text PRIMARY KEY,
    version     bigint NOT NULL,
    doc         text NOT NULL,
    trust_until bigint,
    failed_at   bigint
);
