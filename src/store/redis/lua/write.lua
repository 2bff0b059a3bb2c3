-- A data and/or activity write. KEYS: the session, its slot's "not before"
-- key. ARGV: the expected version ('': any), the new `last_seen_at` ('':
-- no activity), the new `expires_at`, a new last IP ('': none, the place
-- label stays), the number `n` of data fields to remove, those `n` fields,
-- then the data field-value pairs to set. The new version; -1: gone,
-- revoked, moved away by a sign-in (`x`), or of an older generation
-- (revoked with everyone); -2: at
-- another version.
local v = redis.call('HGET', KEYS[1], 'v')
if not v or redis.call('HEXISTS', KEYS[1], 'r') == 1 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'x') == 1 then return -1 end
if generation(KEYS[1]) < generation(KEYS[2]) then return -1 end
if ARGV[1] ~= '' and v ~= ARGV[1] then return -2 end
local n = tonumber(ARGV[5])
for i = 6, 5 + n do redis.call('HDEL', KEYS[1], ARGV[i]) end
for i = 6 + n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'ts', ARGV[2], 'te', ARGV[3])
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[1], 'ip', ARGV[4])
    redis.call('HDEL', KEYS[1], 'loc')
  end
end
return redis.call('HINCRBY', KEYS[1], 'v', 1)
