-- Deletes the session KEYS[1] if it is at version ARGV[1] and its slot's
-- "not before" key KEYS[2] is still at generation ARGV[2], the one its
-- copy was judged at (a revocation of everyone since may have ended it
-- another way: it is judged again at the next pass). 1: deleted.
if redis.call('HGET', KEYS[1], 'v') == ARGV[1]
  and generation(KEYS[2]) == tonumber(ARGV[2]) then
  return redis.call('DEL', KEYS[1])
end
return 0
