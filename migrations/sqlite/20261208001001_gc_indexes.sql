-- Garbage collection through indexes. COLLECTABLE's nested OR could use no
-- index, so every batch scanned the whole table under the write lock (about
-- 0.35 s at a million rows, on every round). It is now three disjoint
-- SELECTs, each a range on an index: revoked rows past the retention
-- (aus_sessions_revoked_at_idx), live rows past their absolute end, and live
-- rows that are not remembered past their idle end. The new indexes hold
-- live rows only, so revoked rows kept for their retention and remembered
-- rows idle past expires_at are never walked. Their WHERE must stay, term
-- for term, in COLLECTABLE (SQLite uses a partial index only then); the
-- trailing columns make them covering. No statement used the two dropped
-- indexes.
CREATE INDEX aus_sessions_live_absolute_end_idx
    ON aus_sessions (absolute_expires_at, revoked_at)
    WHERE revoked_at IS NULL;
CREATE INDEX aus_sessions_live_idle_end_idx
    ON aus_sessions (expires_at, absolute_expires_at, persistent, revoked_at)
    WHERE revoked_at IS NULL AND NOT persistent;
DROP INDEX aus_sessions_expires_at_idx;
DROP INDEX aus_sessions_absolute_expires_at_idx;
