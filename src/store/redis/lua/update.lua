-- The compare-and-set of one data key. KEYS: the session, its slot's "not
-- before" key. ARGV: the key's field, the JSON text it must hold ('':
-- absent), the text to set ('': remove it), the call's own token. {1,
-- version}: written; {0, text}: the field holds `text` (nil: absent);
-- {-1}: gone, revoked, moved away by a sign-in (`x`) or of an older
-- generation. The same call sent again answers as written, with the
-- version it wrote, instead of comparing a second time (`written_by`).
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'r') == 1 then
  return {-1}
end
if redis.call('HEXISTS', KEYS[1], 'x') == 1 then return {-1} end
if generation(KEYS[1]) < generation(KEYS[2]) then return {-1} end
local mine = written_by(KEYS[1], ARGV[4])
if mine then return {1, tonumber(mine)} end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current or '') ~= ARGV[2] then return {0, current} end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
local version = redis.call('HINCRBY', KEYS[1], 'v', 1)
wrote(KEYS[1], ARGV[4], version)
return {1, version}
