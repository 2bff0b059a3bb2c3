-- A user's device records. KEYS[1]: the user's hash. ARGV: the expected
-- version ('': none), the new version, the document, the key's end in ms
-- since 1970, the call's own token. 1: written; 0: at another version.
-- The same call sent again answers written (`written_by`) instead of
-- finding its own version.
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '') ~= ARGV[1] then
  if written_by(KEYS[1], ARGV[5]) then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
wrote(KEYS[1], ARGV[5], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
