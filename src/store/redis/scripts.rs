//! The Lua scripts: each runs atomically on one hash slot (every key it
//! names shares the session's tag), sent by SHA (`EVALSHA`), and sent
//! again with its source (`EVAL`) to a node that answers `NOSCRIPT`.
//! Their sources are the files of `lua/`, each with its keys, arguments
//! and answers at its head; every one starts with `lua/lib.lua`, the
//! functions they share.
//!
//! A session's hash has the fields of [`hash`](super::hash) (the scripts
//! name `v`, `r`, `ts`, `te`, `ip`, `loc` and `g`, and `d:` data fields
//! come from Rust); every script that writes a session also reads its
//! slot's "not before" key ([`not_before`](super::not_before)) and writes
//! nothing on a session of an older generation (there when everyone was
//! revoked) but a revocation judged at the slot's generation. Two kinds
//! of writes, neither of which decides anything the protocol decides:
//!
//! - a whole copy decided in Rust on a read copy ([`SWAP`], [`SWAP_MANY`]),
//!   a compare-and-set on `v`: it lands only if nothing changed in between;
//! - a data or activity write ([`WRITE`], [`UPDATE`]) in one round trip:
//!   [`StoredSession::apply_write`](crate::store::StoredSession::apply_write)'s
//!   own checks (the session is there, not revoked, of its slot's
//!   generation, at the version Rust expects, or the key holds the JSON text Rust expects) and its effect
//!   (fields set and removed as Rust wrote them, one more version).
//!
//! The key's expiry is set with each whole copy (the hard end plus the
//! ended-list retention, computed by the caller); a data or activity write
//! changes no end.

use redis::Script;
use std::sync::LazyLock;

/// A script: its source (for `EVAL` and `SCRIPT LOAD`) and its SHA.
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

/// The script of `lua/<name>.lua`, after the shared `lua/lib.lua`.
macro_rules! lua {
    ($name:literal) => {
        LazyLock::new(|| {
            Lua::new(concat!(
                include_str!("lua/lib.lua"),
                include_str!(concat!("lua/", $name, ".lua"))
            ))
        })
    };
}

/// Inserts a session unless its key exists ([`SessionStore::insert`](crate::store::SessionStore::insert)).
pub(super) static INSERT: LazyLock<Lua> = lua!("insert");
/// Replaces a session's hash at an expected version: a compare-and-set.
pub(super) static SWAP: LazyLock<Lua> = lua!("swap");
/// [`SWAP`] of several sessions of one slot at once (a user's revocation).
pub(super) static SWAP_MANY: LazyLock<Lua> = lua!("swap_many");
/// A data and/or activity write ([`SessionStore::write`](crate::store::SessionStore::write)).
pub(super) static WRITE: LazyLock<Lua> = lua!("write");
/// The compare-and-set of one data key ([`SessionStore::update_value`](crate::store::SessionStore::update_value)).
pub(super) static UPDATE: LazyLock<Lua> = lua!("update");
/// The ids in a user's index, for [`LIST`] to declare their keys.
pub(super) static MEMBERS: LazyLock<Lua> = lua!("members");
/// A user's sessions, their keys declared, from their index.
pub(super) static LIST: LazyLock<Lua> = lua!("list");
/// Deletes a session if it is at a version.
pub(super) static DELETE_AT: LazyLock<Lua> = lua!("delete_at");
/// Sets a key for a time, or deletes it: one key's write that can wait
/// for replicas (a selector's entry, a deleted session, a barrier).
pub(super) static PUT: LazyLock<Lua> = lua!("put");
/// Starts a new generation of a slot's sessions (revoked with everyone).
pub(super) static BUMP: LazyLock<Lua> = lua!("bump");
/// Writes a user's device records at an expected version.
pub(super) static DEVICE_SWAP: LazyLock<Lua> = lua!("device_swap");
