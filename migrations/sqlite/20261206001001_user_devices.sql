-- "Your devices": each user's trusted devices and failed sign-ins, one
-- document per user (JSON text, its rules computed in Rust), written with a
-- compare-and-set on `version`. `trust_until` (when the last trust ends) and
-- `failed_at` (the last failed sign-in kept) are microseconds since 1970,
-- what garbage collection compares. A new table: existing rows are untouched.
CREATE TABLE aus_user_devices (
    user_id     TEXT PRIMARY KEY NOT NULL,
    version     INTEGER NOT NULL,
    doc         TEXT NOT NULL,
    trust_until INTEGER,
    failed_at   INTEGER
);
