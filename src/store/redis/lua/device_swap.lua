-- A user's device records. KEYS[1]: the user's hash. ARGV: the expected
-- version ('': none), the new version, the document, the key's end in ms
-- since 1970. 1: written; 0: at another version. Sent again (a Cluster
-- client resends after a connection drops) after it was written, it finds
-- its own version and document and answers written.
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '') ~= ARGV[1] then
  if v == ARGV[2] and redis.call('HGET', KEYS[1], 'd') == ARGV[3] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
