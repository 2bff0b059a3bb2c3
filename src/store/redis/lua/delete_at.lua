-- Deletes the session KEYS[1] if it is at version ARGV[1]. 1: deleted.
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
