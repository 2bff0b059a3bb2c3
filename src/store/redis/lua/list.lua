-- A user's sessions, from the index KEYS[1]: the slot's "not before" key
-- KEYS[2], then each session's hash, as HGETALL answers them, dropping the
-- index's members whose session is gone (expired, or deleted). ARGV: what
-- the user's session keys start with (same slot as the index).
local out = {redis.call('HGETALL', KEYS[2])}
trim(KEYS[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local s = redis.call('HGETALL', ARGV[1] .. id)
  if #s > 0 then
    table.insert(out, s)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
