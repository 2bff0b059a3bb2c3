-- Shared by every script of the store: prepended to each before it is loaded.

-- The generation of a hash (a session, or its slot's "not before" key):
-- its `g` field, 0 when absent.
local function generation(key)
  return tonumber(redis.call('HGET', key, 'g') or '0')
end

-- Adds `id` to the user index `key`, which then lives at least until `at`
-- (the index of a fresh set gets the expiry outright).
local function index(key, id, at)
  redis.call('SADD', key, id)
  if redis.call('PTTL', key) < 0 then
    redis.call('PEXPIREAT', key, at)
  else
    redis.call('PEXPIREAT', key, at, 'GT')
  end
end
