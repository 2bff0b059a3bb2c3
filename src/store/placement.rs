//! Where a session lives in a store that spreads sessions over shards (a
//! Redis Cluster's hash slots, a Citus distribution column): a session's id
//! carries its user's placement tag, so that every session of one user, and
//! the user's own keys, can sit on one shard and a per-user operation (the
//! device list, "sign out everywhere", the session cap) stays on one shard.
//!
//! The tag is the first 16 bits of the id. An anonymous session's id is
//! random through and through; a sign-in gives the session a new id
//! ([`session_id`] of the user), whose tag is the first 16 bits of the
//! SHA-256 of the user id. A store that does not shard ignores all this.
//!
//! Ids are UUIDs of version 8 (RFC 9562's own layout), random in the same
//! 122 bits as a version 4's: 0.1 gave sessions version 4 ids, and an id
//! is never changed, so the version tells a session 0.1 created from one
//! of today's ([`created_by_0_1`]).
//!
//! ```
//! use axum_user_sessions::store::placement;
//!
//! let id = placement::session_id(Some("alice"));
//! assert_eq!(placement::tag_of_session(id), placement::tag_of_user("alice"));
//! assert_eq!(id.get_version_num(), 8);
//! assert!(!placement::created_by_0_1(id));
//! assert!(placement::created_by_0_1(uuid::Uuid::new_v4()));
//! ```

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A new session id: random, and for a user's session, starting with the
/// user's placement tag ([`tag_of_user`]). 106 of its bits stay random for a
/// user's session (122 for an anonymous one): ids are not secrets (they
/// appear in the device list), only unique.
pub fn session_id(user_id: Option<&str>) -> Uuid {
    let mut bytes = *Uuid::new_v4().as_bytes();
    if let Some(user) = user_id {
        // Bytes 0 and 1 hold no version or variant bits.
        bytes[..2].copy_from_slice(&tag_of_user(user).to_be_bytes());
    }
    Uuid::new_v8(bytes)
}

/// Whether session `id` was created by 0.1 (a version 4 id): no session
/// of today's has one.
pub fn created_by_0_1(id: Uuid) -> bool {
    id.get_version_num() == 4
}

/// The placement tag of `user_id`'s sessions: the first 16 bits of the
/// SHA-256 of the id.
pub fn tag_of_user(user_id: &str) -> u16 {
    let digest = Sha256::digest(user_id.as_bytes());
    u16::from_be_bytes([digest[0], digest[1]])
}

/// The placement tag a session id carries: its first 16 bits.
pub fn tag_of_session(id: Uuid) -> u16 {
    let b = id.as_bytes();
    u16::from_be_bytes([b[0], b[1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_sessions_share_its_tag_and_stay_unique() {
        let a = session_id(Some("42"));
        let b = session_id(Some("42"));
        assert_ne!(a, b);
        assert_eq!(tag_of_session(a), tag_of_user("42"));
        assert_eq!(tag_of_session(b), tag_of_user("42"));
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(tag_of_user("42"), tag_of_user("43"));
    }

    #[test]
    fn anonymous_ids_are_plain_random_uuids() {
        let ids: std::collections::HashSet<u16> =
            (0..64).map(|_| tag_of_session(session_id(None))).collect();
        assert!(ids.len() > 32, "anonymous tags spread: {}", ids.len());
    }
}
