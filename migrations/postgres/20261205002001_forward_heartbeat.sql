-- A heartbeat that only moves forward (issue #25). A cache's feed used to set
-- `feed_heartbeat` with `setval`, so every role that ran a cache held UPDATE
-- on it, and any of them could set it back (`setval(…, 0)`): writes then
-- skipped the change log while another instance's cache kept serving their
-- sessions. Feeds now beat through `feed_beat()`, which runs as the owner
-- and only ever moves the value forward, to the database's clock; every
-- role may call it (the worst it can do is make writers log). No role but
-- the owner needs UPDATE on the sequence any more, and this migration takes
-- it from every role that was granted it: an instance of an older build of
-- this crate (none released) then sees its heartbeat fail, and its cache
-- bypasses (slower, never stale) until it is upgraded. Each poll also
-- checks that the value is still at or after the one its feed last beat,
-- and far enough ahead of the database's clock for writers to be logging
-- (a clock that jumped forward); if not, the cache forgets all and
-- bypasses (the crate's `store/postgres/feed.rs`).
CREATE FUNCTION axum_user_sessions.feed_beat() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT setval('axum_user_sessions.feed_heartbeat',
                  greatest(last_value, (extract(epoch FROM clock_timestamp()) * 1000)::bigint))
      FROM axum_user_sessions.feed_heartbeat
$$;
REVOKE ALL ON FUNCTION axum_user_sessions.feed_beat() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION axum_user_sessions.feed_beat() TO PUBLIC;

REVOKE UPDATE ON SEQUENCE axum_user_sessions.feed_heartbeat FROM PUBLIC;
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT quote_ident(r.rolname)
          FROM pg_class c
          CROSS JOIN LATERAL aclexplode(c.relacl) a
          JOIN pg_roles r ON r.oid = a.grantee
         WHERE c.oid = 'axum_user_sessions.feed_heartbeat'::regclass
           AND a.privilege_type = 'UPDATE'
           AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('REVOKE UPDATE ON SEQUENCE axum_user_sessions.feed_heartbeat FROM %s', grantee);
    END LOOP;
END
$$;
