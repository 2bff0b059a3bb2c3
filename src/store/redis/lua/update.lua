-- The compare-and-set of one data key. KEYS: the session, its slot's "not
-- before" key. ARGV: the key's field, the JSON text it must hold ('':
-- absent), the text to set ('': remove it), the call's own token. {1,
-- version}: written; {0, text}: the field holds `text` (nil: absent);
-- {-1}: gone, revoked, moved away by a sign-in (`x`) or of an older
-- generation. The token of the last update and the version it wrote are
-- kept in `q` (`token:version`): the same call sent again (a Cluster
-- client resends after a connection drops) answers as written, with that
-- version, instead of comparing a second time.
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'r') == 1 then
  return {-1}
end
if redis.call('HEXISTS', KEYS[1], 'x') == 1 then return {-1} end
if generation(KEYS[1]) < generation(KEYS[2]) then return {-1} end
local last = redis.call('HGET', KEYS[1], 'q')
if last and string.sub(last, 1, #ARGV[4] + 1) == ARGV[4] .. ':' then
  return {1, tonumber(string.sub(last, #ARGV[4] + 2))}
end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current or '') ~= ARGV[2] then return {0, current} end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
local version = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'q', ARGV[4] .. ':' .. version)
return {1, version}
