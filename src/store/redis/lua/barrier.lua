-- A write that changes nothing the store reads, for a WAIT to count: sets
-- KEYS[1] (a key of the session's slot) for 10 s. 1.
redis.call('SET', KEYS[1], '1', 'PX', 10000)
return 1
