//! A sign-in that moves an anonymous session to a new id
//! ([`Reissue::new_id`]): the session is stored anew under the id, with its
//! data and the new token, and the old id keeps only its tokens, retired,
//! until garbage collection.

use super::Protocol;
use super::cas::Step;
use crate::store::credentials::Credentials;
use crate::store::error::Error;
use crate::store::remember::Reissue;
use crate::store::storage::{Lookup, SessionStore, StoredSession};
use crate::store::types::TokenHash;
use uuid::Uuid;

impl<S: SessionStore> Protocol<S> {
    /// [`reissue`](crate::store::SessionProtocol::reissue) to `new_id`:
    /// `false` when session `id` is gone or revoked. Three round-trips (a
    /// sign-in is rare): the read, the new session, the old one's end. A
    /// request that still carries an old token finds it retired, as after a
    /// sign-in that keeps the id; the move carries no remember-me
    /// credential (an anonymous session has none).
    pub(super) async fn move_to(
        &self, id: Uuid, new_id: Uuid, token: &TokenHash, reissue: &Reissue,
    ) -> Result<bool, Error> {
        let Some(old) = self.storage.load(&Lookup::Id(id)).await? else {
            return Ok(false);
        };
        if old.record.revoked_at.is_some() {
            return Ok(false);
        }
        let mut record = old.record.clone();
        record.id = new_id;
        record.version = 0;
        record.persistent = false;
        let mut credentials = Credentials::new(Vec::new(), None);
        credentials.reissue(&mut record, *token, reissue);
        self.storage
            .insert(&StoredSession::new(record, credentials, 0))
            .await?;
        // The old id ends now: its tokens are retired (never usable again,
        // recognised while the row lasts), and GC collects it. On the copy
        // read: the swap's epoch says whether it is still the row.
        let now = reissue.now;
        self.swap_read(old, true, |s| {
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
        .await
    }
}
