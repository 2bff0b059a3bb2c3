-- Inserts a session unless its key exists, at its slot's generation.
-- KEYS: the session, its slot's "not before" key, the user index (a user's
-- session). ARGV: expiry (Unix ms), id, then the hash's field-value pairs.
-- 1: inserted; 0: the key exists.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'g', redis.call('HGET', KEYS[2], 'g') or '0')
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
if #KEYS >= 3 then index(KEYS[3], ARGV[2], ARGV[1]) end
return 1
