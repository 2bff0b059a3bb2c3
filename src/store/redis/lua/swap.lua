-- Replaces a session's hash with a copy Rust decided on, if the session is
-- at the version read and the copy was judged at its slot's generation
-- (the revocations of everyone it counts were applied to the copy). KEYS:
-- the session, its slot's "not before" key, the user index (a user's
-- session). ARGV: expected version, the generation the copy was judged at,
-- expiry (Unix ms), id, then the hash's field-value pairs. The copy keeps
-- that generation: a session there when everyone was revoked that the
-- revocation did not end (it had ended before) can still be written, as on
-- every store, and one it ended is written revoked. 1: written; 0: at
-- another version, or judged at another generation (read again); -1: gone.
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
local gn = generation(KEYS[2])
if v ~= ARGV[1] or tostring(gn) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'g', gn)
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
if #KEYS >= 3 then index(KEYS[3], ARGV[4], ARGV[3]) end
return 1
