-- Replaces a session's hash if it is at the expected version and of its
-- slot's generation. KEYS: the session, its slot's "not before" key, the
-- user index (a user's session). ARGV: expected version, expiry (Unix ms),
-- id, then the hash's field-value pairs. 1: written; 0: at another
-- version; -1: gone, or of an older generation (there when everyone was
-- revoked: that ended it, or it had ended before, and no write brings it
-- back, as in WRITE).
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
local gs, gn = generation(KEYS[1]), generation(KEYS[2])
if gs < gn then return -1 end
if v ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'g', gs)
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
if #KEYS >= 3 then index(KEYS[3], ARGV[3], ARGV[2]) end
return 1
