//! A sign-in that moves an anonymous session to a new id
//! ([`Reissue::new_id`]): the session is stored anew under the id, with its
//! data and the new token, and the old id keeps only its tokens, retired,
//! until garbage collection. A data write that read the session before
//! the move either reaches the new id or is refused, never acknowledged
//! on the old one alone.

use super::Protocol;
use super::cas::Step;
use crate::store::credentials::Credentials;
use crate::store::error::Error;
use crate::store::remember::Reissue;
use crate::store::storage::{Deletion, Lookup, SessionStore, StoredSession, Write};
use crate::store::types::{DataPatch, TokenHash};
use serde_json::{Map, Value};
use uuid::Uuid;

impl<S: SessionStore> Protocol<S> {
    /// [`reissue`](crate::store::SessionProtocol::reissue) to `new_id`:
    /// `false` when session `id` is gone or revoked. Four round-trips (a
    /// sign-in is rare): the read, the new session, the old one's end, the
    /// read of what data writes left on it (and a fifth, their carry, when
    /// one came between). A
    /// request that still carries an old token finds it retired, as after a
    /// sign-in that keeps the id; the move carries no remember-me
    /// credential (an anonymous session has none).
    ///
    /// The old id's end also closes it to writes
    /// ([`takes_writes`](crate::store::SessionRecord::takes_writes)): a
    /// data write that lands after it is refused, and its request told
    /// so. One that landed between the read and the end is carried to the
    /// new id.
    pub(super) async fn move_to(
        &self, id: Uuid, new_id: Uuid, token: &TokenHash, reissue: &Reissue,
    ) -> Result<bool, Error> {
        let Some(old) = self.storage.load(&Lookup::Id(id)).await? else {
            return Ok(false);
        };
        if old.record.revoked_at.is_some() {
            return Ok(false);
        }
        let copied = old.record.data.clone();
        let mut record = old.record.clone();
        record.id = new_id;
        record.version = 0;
        record.persistent = false;
        // The session the sign-in makes lasts the absolute timeout from the
        // sign-in (which the tokens' end counts), not what was left of the
        // anonymous visit's: nor, for a sign-in sent twice, the old id's
        // end, which the first one's move set to its instant.
        if let Some(end) = reissue.tokens_expire_at {
            record.absolute_expires_at = record.absolute_expires_at.max(end);
        }
        let mut credentials = Credentials::new(Vec::new(), None);
        credentials.reissue(&mut record, *token, reissue);
        self.storage
            .insert(&StoredSession::new(record, credentials, 0))
            .await?;
        // The old id ends now: its tokens are retired (never usable again,
        // recognised while the row lasts), and GC collects it. On the copy
        // read: the swap's epoch says whether it is still the row.
        let now = reissue.now;
        let moved = self
            .swap_read(old, true, |s| {
                s.credentials.retire_issued_before(now, None);
                s.credentials.prune();
                s.credentials.remember = None;
                s.record.absolute_expires_at = s.record.absolute_expires_at.min(now);
                s.record.tokens_expire_at = Some(now);
                s.record.persistent = false;
                // A rotation begun by a request that read the session before
                // the move loses its compare-and-set on `rotated_at`, as after
                // a sign-in that keeps the id: its response must not set a
                // token of the ended row over the sign-in's cookie.
                s.record.rotated_at = now;
                Step::Swap {
                    with_record: true,
                    answer: true,
                }
            })
            .await;
        let moved = match moved {
            Ok(moved) => moved,
            Err(e) => {
                // The old id did not end (or no answer said it did): the
                // sign-in fails, and the new id, which no cookie will name,
                // goes rather than wait out its timeouts. Best effort: an
                // outage that failed the swap may fail this too.
                let _ = self.storage.delete(&Deletion::One(new_id)).await;
                return Err(e);
            }
        };
        if moved && let Err(e) = self.carry_late_writes(id, new_id, &copied).await {
            // The sign-in stands (the old id has ended): a write that came
            // between is what this costs, never the sign-in itself.
            tracing::warn!(error = %e, "a data write that raced a sign-in was not carried over");
        }
        Ok(moved)
    }

    /// Writes to `new_id` what data writes changed on `id` after the move
    /// read it (`copied`) and before its end, which refuses later ones.
    async fn carry_late_writes(
        &self, id: Uuid, new_id: Uuid, copied: &Map<String, Value>,
    ) -> Result<(), Error> {
        let Some(old) = self.storage.load(&Lookup::Id(id)).await? else {
            return Ok(());
        };
        if old.record.revoked_at.is_some() {
            // Revoked meanwhile: its data went with the revocation, and no
            // write landed that was not refused since.
            return Ok(());
        }
        let late = DataPatch::between(copied, &old.record.data);
        if !late.is_empty() {
            self.storage
                .write(new_id, &Write::patch(&late, None))
                .await?;
        }
        Ok(())
    }
}
