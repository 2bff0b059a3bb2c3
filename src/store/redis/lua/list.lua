-- A user's sessions, from the index KEYS[1]: the slot's "not before" key
-- KEYS[2], then each session's hash, as HGETALL answers them, dropping the
-- index's members whose session is gone. ARGV: what the user's session
-- keys start with (same slot as the index).
local out = {redis.call('HGETALL', KEYS[2])}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local s = redis.call('HGETALL', ARGV[1] .. id)
  if #s > 0 then
    table.insert(out, s)
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
