-- SWAP of several sessions of one slot at once (a user's revocation).
-- KEYS: the slot's "not before" key, the user's index, then the sessions.
-- ARGV, for each session: expected version, expiry, id, the number `n` of
-- pairs, then `n` field-value pairs. One answer per session: 1 written
-- (its index entry follows its expiry, as in SWAP); -1 gone; 0 at another
-- version or of an older generation (the caller goes through SWAP for
-- those, one by one, judging each at its slot's generation).
local out, a = {}, 1
local gn = generation(KEYS[1])
for i = 3, #KEYS do
  local key = KEYS[i]
  local expected, at, id, first = ARGV[a], ARGV[a + 1], ARGV[a + 2], a + 4
  a = first + 2 * tonumber(ARGV[a + 3])
  local v = redis.call('HGET', key, 'v')
  local gs = generation(key)
  if not v then out[i - 2] = -1
  elseif v ~= expected or gs < gn then out[i - 2] = 0
  else
    local calls = redis.call('HGET', key, 'q')
    redis.call('DEL', key)
    for j = first, a - 1, 2 do redis.call('HSET', key, ARGV[j], ARGV[j + 1]) end
    redis.call('HSET', key, 'g', gs)
    if calls then redis.call('HSET', key, 'q', calls) end
    redis.call('PEXPIREAT', key, at)
    index(KEYS[2], id, at)
    out[i - 2] = 1
  end
end
return out
