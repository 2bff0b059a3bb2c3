//! Revocations on Redis: one session through the storage's
//! compare-and-set, a user's sessions in one script on their slot.

use super::conn::Call;
use super::hash;
use super::scripts::SWAP_MANY;
use super::storage::{Acks, RedisStorage, Step};
use crate::store::error::Error;
use crate::store::revocation::{Revocation, RevokeScope};
use uuid::Uuid;

impl RedisStorage {
    /// Revokes the sessions of one user that `scope` covers: one script
    /// for all of them, then one by one those that changed in between.
    pub(super) async fn revoke_user(
        &self, user: &str, scope: &RevokeScope<'_>, how: &Revocation,
    ) -> Result<u64, Error> {
        let mut changed = Vec::new();
        let mut call = Call::new(&SWAP_MANY)
            .key(self.keys.not_before_of_user(user))
            .key(self.keys.user(user));
        for mut s in self.of_user(user).await? {
            let read = s.record.version;
            if s.apply_revocation(scope, how) {
                let fields = hash::encode(&s)?;
                call = call
                    .key(self.keys.session(s.record.id))
                    .arg(read)
                    .arg(self.expiry(&s.record)?)
                    .arg(s.record.id)
                    .arg(fields.len())
                    .pairs(fields);
                changed.push(s.record.id);
            }
        }
        if changed.is_empty() {
            // Already revoked, perhaps by a call whose `WAIT` timed out: the
            // answer waits for the replicas all the same.
            self.barrier(self.keys.barrier_of_user(user)).await?;
            return Ok(0);
        }
        let answers: Vec<i64> = self.run(&call, self.wait).await?;
        let wrote = answers.contains(&1);
        let mut count = 0;
        for (id, answer) in changed.into_iter().zip(answers) {
            count += match answer {
                1 => 1,
                -1 => 0,
                _ => self.revoke_one(id, scope, how).await?,
            };
        }
        if !wrote {
            // Every session gone or ended by a revocation of everyone:
            // the answer rests on writes this connection did not make.
            self.barrier(self.keys.barrier_of_user(user)).await?;
        }
        Ok(count)
    }

    /// Revokes session `id` if `scope` covers it.
    pub(super) async fn revoke_one(
        &self, id: Uuid, scope: &RevokeScope<'_>, how: &Revocation,
    ) -> Result<u64, Error> {
        let revoked = self
            .update(id, Acks::All, |s| match s.apply_revocation(scope, how) {
                true => Step::Write(1),
                false => Step::Stop(0),
            })
            .await?;
        Ok(revoked.unwrap_or(0))
    }
}
