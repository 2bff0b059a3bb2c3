//! The Lua scripts: each runs atomically on one hash slot (every key it
//! names shares the session's tag), sent by SHA (`EVALSHA`) and loaded
//! again on `NOSCRIPT` by the client.
//!
//! A session's hash holds `v` (version), `e` (epoch) and `b` (the
//! session); every write is a compare-and-set on `v`, so a change decided
//! in Rust on a read copy lands only if nothing changed in between. The
//! key's expiry is set with each write (the hard end plus the ended-list
//! retention, computed by the caller).

use redis::Script;
use std::sync::LazyLock;

/// A script: its source (for `SCRIPT LOAD`) and its SHA.
pub(super) struct Lua {
    pub(super) source: &'static str,
    pub(super) script: Script,
}

impl Lua {
    fn new(source: &'static str) -> Self {
        Self {
            source,
            script: Script::new(source),
        }
    }
}

/// Adds `ARGV[id]` to the user index `KEYS[i]`, which then lives at least
/// until `ARGV[at]` (the index of a fresh set gets the expiry outright).
macro_rules! index_lua {
    ($key:literal, $id:literal, $at:literal) => {
        concat!(
            "if #KEYS >= ",
            $key,
            " then\n",
            "  redis.call('SADD', KEYS[",
            $key,
            "], ARGV[",
            $id,
            "])\n",
            "  if redis.call('PTTL', KEYS[",
            $key,
            "]) < 0 then\n",
            "    redis.call('PEXPIREAT', KEYS[",
            $key,
            "], ARGV[",
            $at,
            "])\n",
            "  else\n",
            "    redis.call('PEXPIREAT', KEYS[",
            $key,
            "], ARGV[",
            $at,
            "], 'GT')\n",
            "  end\n",
            "end\n",
        )
    };
}

/// Inserts a session unless its key exists. KEYS: the session, the user
/// index (a user's session). ARGV: version, epoch, session, expiry (Unix
/// ms), id. 1: inserted; 0: the key exists.
pub(super) static INSERT: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n",
        "redis.call('HSET', KEYS[1], 'v', ARGV[1], 'e', ARGV[2], 'b', ARGV[3])\n",
        "redis.call('PEXPIREAT', KEYS[1], ARGV[4])\n",
        index_lua!("2", "5", "4"),
        "return 1\n",
    ))
});

/// Writes a session if it is at the expected version. KEYS: the session,
/// the user index (a user's session). ARGV: expected version, version,
/// epoch, session, expiry (Unix ms), id. 1: written; 0: at another
/// version; -1: gone.
pub(super) static SWAP: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local v = redis.call('HGET', KEYS[1], 'v')\n",
        "if not v then return -1 end\n",
        "if v ~= ARGV[1] then return 0 end\n",
        "redis.call('HSET', KEYS[1], 'v', ARGV[2], 'e', ARGV[3], 'b', ARGV[4])\n",
        "redis.call('PEXPIREAT', KEYS[1], ARGV[5])\n",
        index_lua!("2", "6", "5"),
        "return 1\n",
    ))
});

/// [`SWAP`] of several sessions of one slot at once (a user's
/// revocation). KEYS: the sessions. ARGV: five per key, `SWAP`'s first
/// five (expected version, version, epoch, session, expiry). One answer
/// per key, as `SWAP`'s.
pub(super) static SWAP_MANY: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local out = {}\n",
        "for i, key in ipairs(KEYS) do\n",
        "  local a = (i - 1) * 5\n",
        "  local v = redis.call('HGET', key, 'v')\n",
        "  if not v then out[i] = -1\n",
        "  elseif v ~= ARGV[a + 1] then out[i] = 0\n",
        "  else\n",
        "    redis.call('HSET', key, 'v', ARGV[a + 2], 'e', ARGV[a + 3], 'b', ARGV[a + 4])\n",
        "    redis.call('PEXPIREAT', key, ARGV[a + 5])\n",
        "    out[i] = 1\n",
        "  end\n",
        "end\n",
        "return out\n",
    ))
});

/// A user's sessions, from the index `KEYS[1]`: `id, v, e, b` for each,
/// dropping the index's members whose session is gone. ARGV: what the
/// user's session keys start with (same slot as the index).
pub(super) static LIST: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local out = {}\n",
        "for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n",
        "  local s = redis.call('HMGET', ARGV[1] .. id, 'v', 'e', 'b')\n",
        "  if s[1] then\n",
        "    table.insert(out, id); table.insert(out, s[1])\n",
        "    table.insert(out, s[2]); table.insert(out, s[3])\n",
        "  else\n",
        "    redis.call('SREM', KEYS[1], id)\n",
        "  end\n",
        "end\n",
        "return out\n",
    ))
});

/// Deletes the session `KEYS[1]` if it is at version `ARGV[1]`. 1: deleted.
pub(super) static DELETE_AT: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then\n",
        "  return redis.call('DEL', KEYS[1])\n",
        "end\n",
        "return 0\n",
    ))
});
