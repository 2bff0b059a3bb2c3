//! Hash slots, as a Redis Cluster computes them (CRC16/XMODEM of the hash
//! tag, modulo 16384), for the keys that revoking everyone writes: one
//! "not before" key per slot, named with a hash tag of that slot, so that
//! every script on a session's slot can read its slot's key.

use std::sync::LazyLock;

/// How many hash slots a Cluster has.
pub(super) const SLOTS: usize = 16_384;

/// The slot of a key whose hash tag is `tag`.
pub(super) fn slot_of(tag: &str) -> usize {
    usize::from(crc16::State::<crc16::XMODEM>::calculate(tag.as_bytes())) % SLOTS
}

/// The slot of a session key with the placement tag `tag` (`{tttt}`).
pub(super) fn slot_of_placement(tag: u16) -> usize {
    slot_of(&format!("{tag:04x}"))
}

/// For each slot, a hash tag of that slot: `n<number>`, the smallest
/// number that lands there.
static TAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut tags = vec![String::new(); SLOTS];
    let mut left = SLOTS;
    let mut n = 0u32;
    while left > 0 {
        let tag = format!("n{n}");
        let slot = slot_of(&tag);
        if tags[slot].is_empty() {
            tags[slot] = tag;
            left -= 1;
        }
        n += 1;
    }
    tags
});

/// The hash tag of slot `slot`'s keys of its own.
pub(super) fn tag_of_slot(slot: usize) -> &'static str {
    &TAGS[slot % SLOTS]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_redis_slots() {
        // Redis' own examples (CLUSTER KEYSLOT).
        assert_eq!(slot_of("123456789"), 12_739);
        assert_eq!(slot_of("foo"), 12_182);
        assert_eq!(slot_of("user1000"), 3443);
        for slot in [0, 1, 5000, SLOTS - 1] {
            assert_eq!(slot_of(tag_of_slot(slot)), slot);
        }
    }
}
