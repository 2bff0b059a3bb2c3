//! The Lua scripts: each runs atomically on one hash slot (every key it
//! names shares the session's tag), sent by SHA (`EVALSHA`) and loaded
//! again on `NOSCRIPT` by the client.
//!
//! A session's hash has the fields of [`hash`](super::hash) (the scripts
//! name `v`, `r`, `ts`, `te`, `ip`, `loc` and `g`, and `d:` data fields
//! come from Rust); every script that writes a session also reads its
//! slot's "not before" key ([`not_before`](super::not_before)) and writes
//! nothing on a session of an older generation (revoked with everyone). Two kinds of writes, neither of which decides anything the
//! protocol decides:
//!
//! - a whole copy decided in Rust on a read copy ([`SWAP`], [`SWAP_MANY`]),
//!   a compare-and-set on `v`: it lands only if nothing changed in between;
//! - a data or activity write ([`WRITE`], [`UPDATE`]) in one round trip:
//!   [`StoredSession::apply_write`](crate::store::StoredSession::apply_write)'s
//!   own checks (the session is there and not revoked, at the version Rust
//!   expects, or the key holds the JSON text Rust expects) and its effect
//!   (fields set and removed as Rust wrote them, one more version).
//!
//! The key's expiry is set with each whole copy (the hard end plus the
//! ended-list retention, computed by the caller); a data or activity write
//! changes no end.

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

/// Lua: the generation of the session `KEYS[s]` and of its slot's "not
/// before" key `KEYS[nb]` ([`not_before`](super::not_before)), as `gs`
/// and `gn` (absent: 0).
macro_rules! generations_lua {
    ($s:literal, $nb:literal) => {
        concat!(
            "local gs = tonumber(redis.call('HGET', KEYS[",
            $s,
            "], 'g') or '0')\n",
            "local gn = tonumber(redis.call('HGET', KEYS[",
            $nb,
            "], 'g') or '0')\n",
        )
    };
}

/// Inserts a session unless its key exists, at its slot's generation.
/// KEYS: the session, its slot's "not before" key, the user index (a
/// user's session). ARGV: expiry (Unix ms), id, then the hash's
/// field-value pairs. 1: inserted; 0: the key exists.
pub(super) static INSERT: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n",
        "for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n",
        "redis.call('HSET', KEYS[1], 'g', redis.call('HGET', KEYS[2], 'g') or '0')\n",
        "redis.call('PEXPIREAT', KEYS[1], ARGV[1])\n",
        index_lua!("3", "2", "1"),
        "return 1\n",
    ))
});

/// Replaces a session's hash if it is at the expected version and of its
/// slot's generation. KEYS: the session, its slot's "not before" key, the
/// user index (a user's session). ARGV: expected version, expiry (Unix
/// ms), id, then the hash's field-value pairs. 1: written; 0: at another
/// version, or of an older generation (read again: it counts as revoked);
/// -1: gone.
pub(super) static SWAP: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local v = redis.call('HGET', KEYS[1], 'v')\n",
        "if not v then return -1 end\n",
        generations_lua!("1", "2"),
        "if v ~= ARGV[1] or gs < gn then return 0 end\n",
        "redis.call('DEL', KEYS[1])\n",
        "for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n",
        "redis.call('HSET', KEYS[1], 'g', gs)\n",
        "redis.call('PEXPIREAT', KEYS[1], ARGV[2])\n",
        index_lua!("3", "3", "2"),
        "return 1\n",
    ))
});

/// [`SWAP`] of several sessions of one slot at once (a user's
/// revocation). KEYS: the slot's "not before" key, then the sessions.
/// ARGV, for each session: expected version, expiry, the number `n` of
/// pairs, then `n` field-value pairs. One answer per session, as `SWAP`'s.
pub(super) static SWAP_MANY: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local out, a = {}, 1\n",
        "local gn = tonumber(redis.call('HGET', KEYS[1], 'g') or '0')\n",
        "for i = 2, #KEYS do\n",
        "  local key = KEYS[i]\n",
        "  local expected, at, first = ARGV[a], ARGV[a + 1], a + 3\n",
        "  a = first + 2 * tonumber(ARGV[a + 2])\n",
        "  local v = redis.call('HGET', key, 'v')\n",
        "  local gs = tonumber(redis.call('HGET', key, 'g') or '0')\n",
        "  if not v then out[i - 1] = -1\n",
        "  elseif v ~= expected or gs < gn then out[i - 1] = 0\n",
        "  else\n",
        "    redis.call('DEL', key)\n",
        "    for j = first, a - 1, 2 do redis.call('HSET', key, ARGV[j], ARGV[j + 1]) end\n",
        "    redis.call('HSET', key, 'g', gs)\n",
        "    redis.call('PEXPIREAT', key, at)\n",
        "    out[i - 1] = 1\n",
        "  end\n",
        "end\n",
        "return out\n",
    ))
});

/// A data and/or activity write ([`SessionStore::write`](crate::store::SessionStore::write)).
/// KEYS: the session, its slot's "not before" key. ARGV: the expected
/// version (`''`: any), the new `last_seen_at` (`''`: no activity), the
/// new `expires_at`, a new last IP (`''`: none, the place label stays), the
/// number `n` of data fields to remove, those `n` fields, then the data
/// field-value pairs to set. The new version; -1: gone, revoked, or of an
/// older generation (revoked with everyone); -2: at another version.
pub(super) static WRITE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local v = redis.call('HGET', KEYS[1], 'v')\n",
        "if not v or redis.call('HEXISTS', KEYS[1], 'r') == 1 then return -1 end\n",
        generations_lua!("1", "2"),
        "if gs < gn then return -1 end\n",
        "if ARGV[1] ~= '' and v ~= ARGV[1] then return -2 end\n",
        "local n = tonumber(ARGV[5])\n",
        "for i = 6, 5 + n do redis.call('HDEL', KEYS[1], ARGV[i]) end\n",
        "for i = 6 + n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n",
        "if ARGV[2] ~= '' then\n",
        "  redis.call('HSET', KEYS[1], 'ts', ARGV[2], 'te', ARGV[3])\n",
        "  if ARGV[4] ~= '' then\n",
        "    redis.call('HSET', KEYS[1], 'ip', ARGV[4])\n",
        "    redis.call('HDEL', KEYS[1], 'loc')\n",
        "  end\n",
        "end\n",
        "return redis.call('HINCRBY', KEYS[1], 'v', 1)\n",
    ))
});

/// The compare-and-set of one data key ([`SessionStore::update_value`](crate::store::SessionStore::update_value)).
/// KEYS: the session, its slot's "not before" key. ARGV: the key's field,
/// the JSON text it must hold (`''`: absent), the text to set (`''`:
/// remove it). `{1, version}`: written; `{0, text}`: the field holds
/// `text` (nil: absent); `{-1}`: gone, revoked or of an older generation.
pub(super) static UPDATE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'r') == 1 then\n",
        "  return {-1}\n",
        "end\n",
        generations_lua!("1", "2"),
        "if gs < gn then return {-1} end\n",
        "local current = redis.call('HGET', KEYS[1], ARGV[1])\n",
        "if (current or '') ~= ARGV[2] then return {0, current} end\n",
        "if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1])\n",
        "else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end\n",
        "return {1, redis.call('HINCRBY', KEYS[1], 'v', 1)}\n",
    ))
});

/// A user's sessions, from the index `KEYS[1]`: the slot's "not before"
/// key `KEYS[2]`, then each session's hash, as `HGETALL` answers them,
/// dropping the index's members whose session is gone. ARGV: what the
/// user's session keys start with (same slot as the index).
pub(super) static LIST: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local out = {redis.call('HGETALL', KEYS[2])}\n",
        "for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n",
        "  local s = redis.call('HGETALL', ARGV[1] .. id)\n",
        "  if #s > 0 then\n",
        "    table.insert(out, s)\n",
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

/// A write that changes nothing the store reads, for a `WAIT` to count:
/// sets `KEYS[1]` (a key of the session's slot) for 10 s. 1.
pub(super) static BARRIER: LazyLock<Lua> =
    LazyLock::new(|| Lua::new("redis.call('SET', KEYS[1], '1', 'PX', 10000)\nreturn 1\n"));

/// Starts a new generation of a slot's sessions: those inserted before
/// count as revoked by `ARGV[1]` (`[at, reason, by]`), and the revocation
/// of the generation `ARGV[2]` before it is forgotten (the key stays
/// bounded). KEYS: the slot's "not before" key. The new generation.
pub(super) static BUMP: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local g = redis.call('HINCRBY', KEYS[1], 'g', 1)\n",
        "redis.call('HSET', KEYS[1], tostring(g), ARGV[1])\n",
        "redis.call('HDEL', KEYS[1], tostring(g - tonumber(ARGV[2])))\n",
        "return g\n",
    ))
});
