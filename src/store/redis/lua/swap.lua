-- Replaces a session's hash if it is at the expected version and of its
-- slot's generation. KEYS: the session, its slot's "not before" key, the
-- user index (a user's session). ARGV: expected version, the slot's
-- generation the copy was judged at when the copy is a revocation ('':
-- it is not), expiry (Unix ms), id, then the hash's field-value pairs.
-- A session of an older generation (there when everyone was revoked)
-- takes no write, as in WRITE, but a revocation judged at the slot's
-- generation: it brings nothing back, and a session the revocation of
-- everyone missed (stamped after its idle end by a clock ahead) can still
-- be revoked. 1: written; 0: at another version, or judged at another
-- generation (read again); -1: gone, or of an older generation.
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
local gs, gn = generation(KEYS[1]), generation(KEYS[2])
if gs < gn and ARGV[2] ~= tostring(gn) then
  if ARGV[2] == '' then return -1 end
  return 0
end
if v ~= ARGV[1] then return 0 end
local calls = redis.call('HGET', KEYS[1], 'q')
redis.call('DEL', KEYS[1])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'g', gs)
if calls then redis.call('HSET', KEYS[1], 'q', calls) end
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
if #KEYS >= 3 then index(KEYS[3], ARGV[4], ARGV[3]) end
return 1
