-- A user's device records. KEYS[1]: the user's hash. ARGV: the expected
-- version ('': none), the new version, the document, the key's end in ms
-- since 1970, the call's own token. 1: written; 0: at another version.
-- The token of the last write is kept in `q`: the same call sent again (a
-- Cluster client resends after a connection drops) answers written
-- instead of finding its own version.
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '') ~= ARGV[1] then
  if redis.call('HGET', KEYS[1], 'q') == ARGV[5] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'q', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
