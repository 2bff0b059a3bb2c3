//! Revoking everyone as a "not before" generation, read with each session.
//!
//! Each hash slot has a key of its own ([`slots`](super::slots)), a hash:
//! `g`, the slot's generation (absent: 0), and for each generation `n` the
//! revocation that started it (`[at, reason, by]`). A session's hash keeps
//! the generation of its slot when it was inserted (`g`). A session whose
//! generation is below its slot's was there when everyone was revoked: it
//! counts as revoked by the first revocation after its insert at which it
//! was live ([`StoredSession::apply_revocation`], the rule of every store),
//! without a write. Every script that writes a session reads its slot's
//! key in the same call (one slot) and writes nothing on a session of an
//! older generation: whether a revocation ended it or it had ended before,
//! no write brings it back. Only a revocation lands on one (it brings
//! nothing back), judged at the slot's current generation: a session a
//! revocation of everyone missed (its instant after the session's idle
//! end, from a clock ahead) can still be revoked. Every read (a load, a list, a scan) reads the
//! key in the same round trip. The key keeps the revocations of the last
//! [`KEPT_GENERATIONS`] generations only: a session older than those is
//! judged by the kept ones (revoked by the oldest at which it was live,
//! its "ended" time then later than the revocation that ended it), and
//! the key stays a few hundred bytes.
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
/// bytes): a session inserted before older ones is judged by the kept
/// ones alone, so that neither the key nor every read of it grows with
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
    /// at which it was live ([`ender`](Self::ender)). Its version and
    /// epoch stay (nothing was written): the copy is for reading and
    /// deciding, and every write but a revocation refuses a session of an
    /// older generation.
    pub(super) fn apply(&self, session: &mut StoredSession, generation: u64) -> Result<(), Error> {
        if generation >= self.generation {
            return Ok(());
        }
        if self.revocations.is_empty() {
            return Err(Error::Corrupt("a slot's generation without its revocation"));
        }
        let Some(how) = self.ender(session, generation).map(|(_, how)| how) else {
            return Ok(());
        };
        let (version, epoch) = (session.record.version, session.epoch);
        session.apply_revocation(&RevokeScope::Everyone, how);
        (session.record.version, session.epoch) = (version, epoch);
        Ok(())
    }

    /// The revocation of this slot that ended `session` (inserted at
    /// generation `inserted`, read as kept), with its generation: the
    /// first kept one after the insert at which it was live, as every
    /// store revokes, at each revocation of everyone, the sessions live at
    /// its instant (clocks may disagree: one that missed the session does
    /// not hide a later one that did not). `None`: revoked before, or
    /// ended before each. A session older than the kept ones is judged by
    /// those alone.
    fn ender(&self, session: &StoredSession, inserted: u64) -> Option<(u64, &Revocation)> {
        if session.record.revoked_at.is_some() {
            return None;
        }
        let mut after: Vec<(u64, &Revocation)> = self
            .revocations
            .iter()
            .filter(|(n, _)| **n > inserted)
            .map(|(n, how)| (*n, how))
            .collect();
        after.sort_unstable_by_key(|(n, _)| *n);
        after
            .into_iter()
            .find(|(_, how)| how.reaches(&session.record))
    }

    /// Whether this slot's revocation `generation` revoked `session`
    /// (inserted at `inserted`, read as kept): for counting what a
    /// revocation of everyone did.
    pub(super) fn revoked_by(
        &self, session: &StoredSession, inserted: u64, generation: u64,
    ) -> bool {
        self.ender(session, inserted)
            .is_some_and(|(n, _)| n == generation)
    }
}
