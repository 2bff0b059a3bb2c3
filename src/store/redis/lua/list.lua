-- A user's sessions: the slot's "not before" key KEYS[2], then the hash of
-- each session key KEYS[3..] (their ids in ARGV, in the same order, as the
-- user index KEYS[1] names them), as HGETALL answers them, dropping from
-- the index the members whose session is gone (expired, or deleted). Every
-- key is declared (all in the user's slot): while the slot moves, Redis
-- refuses the call whole (ASK, TRYAGAIN) instead of running it on the
-- keys one node still has, which would drop live sessions from the index.
local out = {redis.call('HGETALL', KEYS[2])}
trim(KEYS[1])
for i = 3, #KEYS do
  local s = redis.call('HGETALL', KEYS[i])
  if #s > 0 then
    table.insert(out, s)
  else
    redis.call('ZREM', KEYS[1], ARGV[i - 2])
  end
end
return out
