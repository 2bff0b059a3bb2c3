-- Sets KEYS[1] to ARGV[1] for ARGV[2] ms, or, without arguments, deletes
-- it: a write of one key the caller makes wait for replicas (a selector's
-- entry, a deleted session, a barrier). How many keys it set or deleted.
if #ARGV == 0 then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
