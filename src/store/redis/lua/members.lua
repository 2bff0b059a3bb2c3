-- The members of the user index KEYS[1] (session ids), which `list.lua`
-- then declares as keys.
return redis.call('ZRANGE', KEYS[1], 0, -1)
