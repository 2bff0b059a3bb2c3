-- A gap in the change log can no longer hide behind a heartbeat. Writers
-- skip the log while `feed_heartbeat` is 60 s or more behind their
-- transaction's start: no feed is registered, or the database's clock
-- jumped forward, or the owner set the heartbeat back. Each poll checks the
-- heartbeat against the clock, but only a poll that runs inside the gap
-- sees it: the next beat (this feed's or another instance's) moves the
-- heartbeat to the clock again and hides it, while the skipped write (a
-- revocation, say) never reaches any cache.
--
-- `feed_beat()` now counts every beat that finds the heartbeat more than
-- 40 s behind the clock in `feed_gaps`: a writer may have skipped the log
-- before it. Each poll reads the count, and a feed that sees it change
-- forgets its cache and registers again (the crate's
-- `store/postgres/feed/`). The count changes only when the log was quiet:
-- at the first feed's start, after every feed stopped for a while, or after
-- a jump of the clock; a running fleet's beats never change it. Only the
-- owner of `feed_beat()` may change it: a role that could set it back to
-- what the feeds registered with would hide a gap again.
CREATE SEQUENCE axum_user_sessions.feed_gaps;
-- Called once, so that every later call moves `last_value` (a fresh
-- sequence's first call returns its start and leaves `last_value` as it is).
SELECT nextval('axum_user_sessions.feed_gaps');
GRANT SELECT ON SEQUENCE axum_user_sessions.feed_gaps TO PUBLIC;
DO $$
DECLARE
    grantee text;
BEGIN
    -- Owned by the function's owner (the role it runs as), whoever runs
    -- this migration.
    EXECUTE format('ALTER SEQUENCE axum_user_sessions.feed_gaps OWNER TO %s',
                   (SELECT proowner::regrole FROM pg_proc
                     WHERE oid = 'axum_user_sessions.feed_beat()'::regprocedure));
    -- No UPDATE for anyone else, default privileges included.
    REVOKE UPDATE ON SEQUENCE axum_user_sessions.feed_gaps FROM PUBLIC;
    FOR grantee IN
        SELECT DISTINCT quote_ident(r.rolname)
          FROM pg_class c
          CROSS JOIN LATERAL aclexplode(c.relacl) a
          JOIN pg_roles r ON r.oid = a.grantee
         WHERE c.oid = 'axum_user_sessions.feed_gaps'::regclass
           AND a.privilege_type = 'UPDATE'
           AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('REVOKE UPDATE ON SEQUENCE axum_user_sessions.feed_gaps FROM %s', grantee);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION axum_user_sessions.feed_beat() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    clock bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    beat bigint;
BEGIN
    SELECT last_value INTO beat FROM axum_user_sessions.feed_heartbeat;
    IF beat < clock - 40000 THEN
        PERFORM nextval('axum_user_sessions.feed_gaps');
    END IF;
    RETURN setval('axum_user_sessions.feed_heartbeat', greatest(beat, clock));
END
$$;
REVOKE ALL ON FUNCTION axum_user_sessions.feed_beat() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION axum_user_sessions.feed_beat() TO PUBLIC;
