-- Shared by every script of the store: prepended to each before it is loaded.

-- The generation of a hash (a session, or its slot's "not before" key):
-- its `g` field, 0 when absent.
local function generation(key)
  return tonumber(redis.call('HGET', key, 'g') or '0')
end

-- The server's time, Unix ms: what its keys expire by.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Drops from the user index `key` the sessions whose keys expired: each
-- member is scored by when its session's keys expire (Unix ms, the
-- server's clock decides both).
local function trim(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. now_ms())
end

-- Adds `id`, whose keys expire at `at`, to the user index `key` (a sorted
-- set by that expiry), which then lives at least until `at` (the index of
-- a fresh set gets the expiry outright), and drops the members whose keys
-- expired: a user who signs in again and again, and never lists, does not
-- grow it past the sessions whose keys are still there.
local function index(key, id, at)
  redis.call('ZADD', key, at, id)
  trim(key)
  if redis.call('PTTL', key) < 0 then
    redis.call('PEXPIREAT', key, at)
  else
    redis.call('PEXPIREAT', key, at, 'GT')
  end
end

-- The version the call `token` wrote on `key`, if it is one of the last
-- four calls that wrote it (its `q` field: `token:version` entries, newest
-- first; a SWAP keeps it): a call sent again (a Cluster client resends
-- after a connection drops) answers as its first try did. nil otherwise.
local function written_by(key, token)
  local kept = redis.call('HGET', key, 'q')
  if not kept then return nil end
  local at = string.find(' ' .. kept, ' ' .. token .. ':', 1, true)
  if not at then return nil end
  return string.match(kept, '^[^ ]+', at + #token + 1)
end

-- Records on `key` that the call `token` wrote `version`.
local function wrote(key, token, version)
  local entries = {token .. ':' .. version}
  for e in string.gmatch(redis.call('HGET', key, 'q') or '', '%S+') do
    if #entries < 4 then entries[#entries + 1] = e end
  end
  redis.call('HSET', key, 'q', table.concat(entries, ' '))
end
