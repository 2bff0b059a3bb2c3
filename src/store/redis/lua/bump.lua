-- Starts a new generation of a slot's sessions: those inserted before
-- count as revoked by ARGV[1] ([at, reason, by]), and the revocation of
-- the generation ARGV[2] before it is forgotten (the key stays bounded).
-- KEYS: the slot's "not before" key. The new generation.
local g = redis.call('HINCRBY', KEYS[1], 'g', 1)
redis.call('HSET', KEYS[1], tostring(g), ARGV[1])
redis.call('HDEL', KEYS[1], tostring(g - tonumber(ARGV[2])))
return g
