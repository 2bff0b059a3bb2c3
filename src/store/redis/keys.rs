//! The key scheme. Every key starts with the store's prefix; a session's
//! key and its user's index carry the same hash tag, the user's placement
//! tag ([`placement`]), so that they sit in one hash slot of a Cluster and
//! one script reaches them all:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P:{tttt}:s:<id>` | hash | the session's fields ([`hash`](super::hash)): `v` version, `e` epoch, `r` revocation, `ts`/`te`/`ip`/`loc` activity, `d:<key>` data, `g` its slot's generation at insert, `b` the rest |
//! | `P:{tttt}:u:<user>` | sorted set | the ids of the user's sessions, each scored by when its keys expire (Unix ms): members whose keys expired are dropped by the next insert or list, deleted ones by the next list |
//! | `P:r:<selector hex>` | string | a remember-me selector's session id, with the credential's TTL: a hint, checked against the session |
//! | `P:{nN}:nb` | hash | a slot's "not before" ([`not_before`](super::not_before)): `g` its generation, and the revocation of everyone that started each; `nN` is a hash tag of that slot ([`slots`](super::slots)), one key per slot, kept without expiry |
//! | `P:{tttt}:w` | string | set for 10 s by a waiting call that wrote nothing, for its `WAIT` to count ([`RedisStorage::update`](super::RedisStorage)) |
//!
//! `tttt` is the 4 hex digits of the session id's first 16 bits; for a
//! user's session they are the user's tag, since sign-in mints its id with
//! it (an insert or swap that breaks this is refused).

use super::slots;
use crate::store::error::Error;
use crate::store::placement;
use uuid::Uuid;

/// The keys of one store, under its prefix.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix`: ASCII letters, digits, `_`, `-`, `.` and `:`
    /// only, so that no hash tag and no pattern character hides in it.
    pub(super) fn new(prefix: &str) -> Result<Self, &'static str> {
        let fine = |c: char| c.is_ascii_alphanumeric() || "_-.:".contains(c);
        if prefix.is_empty() || !prefix.chars().all(fine) {
            return Err("a Redis key prefix is ASCII letters, digits, `_`, `-`, `.` and `:`");
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    /// The session `id`'s hash.
    pub(super) fn session(&self, id: Uuid) -> String {
        format!(
            "{}:{{{:04x}}}:s:{id}",
            self.prefix,
            placement::tag_of_session(id)
        )
    }

    /// A key of session `id`'s slot that a write with nothing to change
    /// sets, so that the `WAIT` after it counts the slot's writes before it.
    pub(super) fn barrier(&self, id: Uuid) -> String {
        self.barrier_of_tag(placement::tag_of_session(id))
    }

    /// [`barrier`](Self::barrier) of the slot of `user`'s sessions.
    pub(super) fn barrier_of_user(&self, user: &str) -> String {
        self.barrier_of_tag(placement::tag_of_user(user))
    }

    fn barrier_of_tag(&self, tag: u16) -> String {
        format!("{}:{{{tag:04x}}}:w", self.prefix)
    }

    /// The "not before" key of hash slot `slot`
    /// ([`not_before`](super::not_before)).
    pub(super) fn not_before(&self, slot: usize) -> String {
        format!("{}:{{{}}}:nb", self.prefix, slots::tag_of_slot(slot))
    }

    /// The "not before" key of session `id`'s slot.
    pub(super) fn not_before_of(&self, id: Uuid) -> String {
        self.not_before(slot_of_session(id))
    }

    /// The "not before" key of `user`'s slot.
    pub(super) fn not_before_of_user(&self, user: &str) -> String {
        self.not_before(slots::slot_of_placement(placement::tag_of_user(user)))
    }

    /// The index of `user`'s sessions: in the slot of its sessions.
    pub(super) fn user(&self, user: &str) -> String {
        format!(
            "{}:{{{:04x}}}:u:{user}",
            self.prefix,
            placement::tag_of_user(user)
        )
    }

    /// What a user's session keys start with (its slot's sessions).
    pub(super) fn user_sessions(&self, user: &str) -> String {
        format!(
            "{}:{{{:04x}}}:s:",
            self.prefix,
            placement::tag_of_user(user)
        )
    }

    /// The remember-me selector's index entry.
    pub(super) fn selector(&self, selector_hex: &str) -> String {
        format!("{}:r:{selector_hex}", self.prefix)
    }

    /// A `SCAN MATCH` pattern of every session key.
    pub(super) fn every_session(&self) -> String {
        format!("{}:{{*}}:s:*", self.prefix)
    }

    /// The id a session key names; `None` for a key the scan pattern also
    /// matches that is not a session's (the index or device records of a
    /// user whose id ends in `}:s:<uuid>`, on another slot than that id's).
    pub(super) fn id_of(&self, key: &str) -> Option<Uuid> {
        let id = key.rsplit_once(":s:")?.1.parse().ok()?;
        (self.session(id) == key).then_some(id)
    }
}

/// The hash slot of session `id`'s keys.
pub(super) fn slot_of_session(id: Uuid) -> usize {
    slots::slot_of_placement(placement::tag_of_session(id))
}

/// Refuses a user's session whose id does not carry the user's tag: its
/// key would not share the user's slot.
pub(super) fn check_placement(id: Uuid, user: Option<&str>) -> Result<(), Error> {
    match user {
        Some(u) if placement::tag_of_session(id) != placement::tag_of_user(u) => Err(
            Error::Corrupt("a user's session id must carry the user's placement tag"),
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_session_and_index_share_a_hash_tag() {
        let k = Keys::new("t1").unwrap();
        let id = placement::session_id(Some("alice"));
        let tag = |key: &str| key.split(['{', '}']).nth(1).unwrap().to_owned();
        assert_eq!(tag(&k.session(id)), tag(&k.user("alice")));
        assert!(k.session(id).starts_with(&k.user_sessions("alice")));
        assert_eq!(k.id_of(&k.session(id)), Some(id));
        assert!(check_placement(id, Some("alice")).is_ok());
        assert!(
            check_placement(uuid::Uuid::nil(), Some("alice")).is_err()
                || placement::tag_of_user("alice") == 0
        );
        assert!(Keys::new("a{b}").is_err());
        assert!(Keys::new("").is_err());
    }

    /// The session scan's pattern also matches the index of a user whose
    /// id ends like a session key: that key names no session.
    #[test]
    fn only_a_session_key_names_a_session() {
        let k = Keys::new("t1").unwrap();
        let id = uuid::Uuid::from_u128(7);
        let user = format!("x}}:s:{id}");
        let index = k.user(&user);
        assert!(
            index.starts_with("t1:{") && index.contains(":s:"),
            "{index}"
        );
        assert_eq!(k.id_of(&index), None);
        assert_eq!(k.id_of(&k.session(id)), Some(id));
    }
}
