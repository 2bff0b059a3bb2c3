-- `collect_after` follows a row's end back as well as forward.
--
-- Until now it only moved forward (to the end plus a slack of at most an
-- hour, so that a touch, which pushes the idle end on by seconds, leaves
-- the index alone and stays a HOT update). A rare write that moves the end
-- back (a remembered device forgotten: `persistent` cleared, the absolute
-- end cut to a day) left it at the old end, so garbage collection took
-- the row up to a month after it ended, and `stats().collectable` counted
-- it meanwhile.
--
-- Now it also moves when the new end plus its slack is more than an hour
-- before it: a touch never does that (it moves the end forward), so
-- touches stay HOT, and a row is collected at most two hours after its
-- end. Same signature: the session trigger and the crate's `WRITE`
-- statement call it as they did. The function stays one expression, which
-- the planner inlines into the statement.
CREATE OR REPLACE FUNCTION axum_user_sessions.collect_after(
    persistent boolean, expires_at timestamptz, absolute_expires_at timestamptz,
    last_seen_at timestamptz, current timestamptz
) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN current IS NULL
          OR (CASE WHEN persistent THEN absolute_expires_at
                   ELSE LEAST(expires_at, absolute_expires_at) END) > current
          OR (CASE WHEN persistent THEN absolute_expires_at
                   ELSE LEAST(expires_at, absolute_expires_at) END)
             + LEAST(interval '1 hour', GREATEST(expires_at - last_seen_at, interval '0'))
             < current - interval '1 hour'
        THEN (CASE WHEN persistent THEN absolute_expires_at
                   ELSE LEAST(expires_at, absolute_expires_at) END)
             + LEAST(interval '1 hour', GREATEST(expires_at - last_seen_at, interval '0'))
        ELSE current
    END
$$;
