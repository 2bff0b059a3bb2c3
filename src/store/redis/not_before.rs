//! Revoking everyone as a "not before" generation, read with each session.
//!
//! Each hash slot has a key of its own ([`slots`](super::slots)), a hash:
//! `g`, the slot's generation (absent: 0), and for each generation `n` the
//! revocation that started it (`[at, reason, by]`). A session's hash keeps
//! the generation of its slot when it was inserted (`g`). A session whose
//! generation is below its slot's was there when everyone was revoked: it
//! counts as revoked by the revocation that followed its insert, if it was
//! live then ([`StoredSession::apply_revocation`], the rule of every
//! store), without a write. Every script that writes a session reads its
//! slot's key in the same call (one slot), so no write lands on a session
//! that counts as revoked; every read (a load, a list, a scan) reads it in
//! the same round trip. The key keeps the revocations of the last
//! [`KEPT_GENERATIONS`] generations only: a session older than those counts
//! as revoked by the oldest kept (its "ended" time is then later than the
//! revocation that ended it), and the key stays a few hundred bytes.
//!
//! Why generations and not an instant: a generation is compared on the
//! master that holds the session, atomically with the insert that stamps
//! it, so no clock (of the app instances or of the masters) decides which
//! session came before; why one key per slot: a script reaches the keys of
//! one slot only, and 16384 keys (not one per placement tag, 65536) cover
//! them.

use super::codec::instant;
use crate::store::error::Error;
use crate::store::revocation::{Revocation, RevokeReason, RevokeScope, RevokedBy};
use crate::store::storage::StoredSession;
use std::collections::HashMap;

/// How many revocations of everyone a slot's key keeps (each a few dozen
/// bytes): a session inserted before older ones counts as revoked by the
/// oldest kept, so that neither the key nor every read of it grows with
/// each call.
pub(super) const KEPT_GENERATIONS: u64 = 8;

/// A slot's generation and the revocations that started each.
#[derive(Debug, Default)]
pub(super) struct NotBefore {
    generation: u64,
    revocations: HashMap<u64, Revocation>,
}

impl NotBefore {
    /// The slot's key, as `HGETALL` answers it (empty: never revoked).
    pub(super) fn decode(flat: &[Vec<u8>]) -> Result<Self, Error> {
        let mut out = Self::default();
        for pair in flat.chunks(2) {
            let [name, value] = pair else {
                return Err(Error::Corrupt("a Redis reply of an unexpected type"));
            };
            let number = |t: &[u8]| -> Result<u64, Error> {
                std::str::from_utf8(t)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .ok_or(Error::Corrupt("a generation is not a number"))
            };
            if name.as_slice() == b"g" {
                out.generation = number(value)?;
                continue;
            }
            let (at, reason, by): (i64, String, String) = serde_json::from_slice(value)
                .map_err(|_| Error::Corrupt("a revocation of everyone is not ours"))?;
            let how = Revocation::new(
                RevokeReason::from_stored(&reason),
                RevokedBy::operator(by),
                instant(at)?,
            );
            out.revocations.insert(number(name)?, how);
        }
        Ok(out)
    }

    /// The slot's generation.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// `session`, inserted at generation `generation`, as this slot's
    /// revocations leave it: revoked by the first that followed its insert
    /// if it was live then. Its version and epoch stay (nothing was
    /// written): the copy is for reading and deciding. A data write refuses
    /// a session of an older generation; a `SWAP` writes a copy judged here
    /// only while the slot is still at this generation, and stamps it so.
    pub(super) fn apply(&self, session: &mut StoredSession, generation: u64) -> Result<(), Error> {
        if generation >= self.generation {
            return Ok(());
        }
        // The revocation that followed its insert, or, when that one was
        // forgotten (`KEPT_GENERATIONS` more came since), the oldest kept.
        let how = self
            .revocations
            .get(&(generation + 1))
            .or_else(|| {
                let oldest = self.revocations.keys().min()?;
                self.revocations.get(oldest)
            })
            .ok_or(Error::Corrupt("a slot's generation without its revocation"))?;
        let (version, epoch) = (session.record.version, session.epoch);
        session.apply_revocation(&RevokeScope::Everyone, how);
        (session.record.version, session.epoch) = (version, epoch);
        Ok(())
    }

    /// Whether this slot's revocation `generation` revoked `session`
    /// (inserted at `inserted`): for counting what a revocation of
    /// everyone did.
    pub(super) fn revoked_by(
        &self, session: &StoredSession, inserted: u64, generation: u64,
    ) -> bool {
        let Some(how) = self.revocations.get(&generation) else {
            return false;
        };
        inserted + 1 == generation
            && session.record.revoked_at.is_none()
            && session.record.is_live(how.at)
    }
}
