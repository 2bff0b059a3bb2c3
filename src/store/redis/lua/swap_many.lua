-- SWAP of several sessions of one slot at once (a user's revocation).
-- KEYS: the slot's "not before" key, then the sessions. ARGV, for each
-- session: expected version, expiry, the number `n` of pairs, then `n`
-- field-value pairs. One answer per session: 1 written; -1 gone; 0 at
-- another version or of an older generation (the caller goes through
-- SWAP for those, one by one, judging each at its slot's generation).
local out, a = {}, 1
local gn = generation(KEYS[1])
for i = 2, #KEYS do
  local key = KEYS[i]
  local expected, at, first = ARGV[a], ARGV[a + 1], a + 3
  a = first + 2 * tonumber(ARGV[a + 2])
  local v = redis.call('HGET', key, 'v')
  local gs = generation(key)
  if not v then out[i - 1] = -1
  elseif v ~= expected or gs < gn then out[i - 1] = 0
  else
    redis.call('DEL', key)
    for j = first, a - 1, 2 do redis.call('HSET', key, ARGV[j], ARGV[j + 1]) end
    redis.call('HSET', key, 'g', gs)
    redis.call('PEXPIREAT', key, at)
    out[i - 1] = 1
  end
end
return out
