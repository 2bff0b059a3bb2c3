//! [`Protocol`]: the session protocol computed once, in Rust, over any
//! [`SessionStore`]. It implements [`SessionProtocol`] with the rules of
//! [`Credentials`] and the store's compare-and-set on the credentials'
//! epoch.

use super::credentials::Credentials;
use super::error::Error;
use super::remember::{Reissue, RememberCredential, RememberedSession};
use super::report::{MigrationReport, StoreStats};
use super::restore::Restore;
use super::revocation::{Revocation, RevokeScope};
use super::session_store::SessionProtocol;
use super::storage::{
    Activity, Deletion, DeviceWrite, Extensions, ListQuery, Lookup, SessionStore, StoredSession,
    Write, WriteOutcome,
};
use super::types::{DataPatch, LoadedSession, SessionRecord, TokenHash, Touch, UpdateOutcome};
use async_trait::async_trait;
use cas::Step;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

mod cas;
mod moving;
#[cfg(test)]
mod tests;

/// A [`SessionProtocol`] made of a [`SessionStore`]: every rule of the session
/// protocol (token states, two-phase rotation, remember-me validator
/// steps, the bounded token history, touches) is computed here, and the
/// storage persists the outcome.
///
/// ```
/// use axum_user_sessions::store::{Protocol, SessionStore};
/// fn layer<S: SessionStore>(storage: S) -> axum_user_sessions::SessionLayer {
///     axum_user_sessions::SessionLayer::new(Protocol::new(storage))
/// }
/// ```
///
/// A change of credentials (a rotation, a promotion, a sign-in, a
/// remember-me step) reads the session, computes the change and stores it
/// with [`SessionStore::swap_credentials`] on the epoch it read; when another
/// writer came first, it reads again and recomputes, at most twice more.
#[derive(Debug, Clone, Default)]
pub struct Protocol<S> {
    storage: S,
}

impl<S: SessionStore> Protocol<S> {
    /// The protocol over `storage`.
    pub fn new(storage: S) -> Self {
        Self { storage }
    }

    /// The storage underneath.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The session a cookie names: by `session` id, or else by the token
    /// if the storage looks tokens up.
    async fn locate(
        &self, session: Option<Uuid>, token: &TokenHash,
    ) -> Result<Option<StoredSession>, Error> {
        let key = match session {
            Some(id) => Lookup::Id(id),
            None => Lookup::Token(*token),
        };
        self.storage.load(&key).await
    }
}

#[async_trait]
impl<S: SessionStore> SessionProtocol for Protocol<S> {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        self.storage.migrate().await
    }

    async fn load(
        &self, session: Option<Uuid>, token: &TokenHash, touch: &Touch,
    ) -> Result<Option<LoadedSession>, Error> {
        let Some(stored) = self.locate(session, token).await? else {
            return Ok(None);
        };
        let Some((state, has_pending)) = stored.credentials.classify(token) else {
            return Ok(None);
        };
        let mut record = stored.record;
        if touch.is_due(&record, state) {
            let mut touched = record.clone();
            touch.apply(&mut touched);
            // Only on the row as read: a touch computed from an older copy
            // never mixes with a write that came between (the next request
            // touches then).
            let mut write = Write::activity(Activity::between(&record, &touched));
            write.expected_version = Some(record.version);
            match self.storage.write(record.id, &write).await? {
                WriteOutcome::Written { version } => {
                    touched.version = version;
                    record = touched;
                }
                // Changed, revoked or deleted meanwhile: the copy read says
                // what it was; the next request sees what it is.
                WriteOutcome::Gone | WriteOutcome::Conflict => {}
            }
        }
        Ok(Some(LoadedSession::new(record, state, has_pending)))
    }

    async fn create(&self, record: &SessionRecord, token: &TokenHash) -> Result<(), Error> {
        let credentials = Credentials::first(*token, record.rotated_at);
        let session = StoredSession::new(record.clone(), credentials, 0);
        self.storage.insert(&session).await
    }

    async fn patch_data(&self, id: Uuid, patch: &DataPatch) -> Result<Option<u64>, Error> {
        Ok(
            match self.storage.write(id, &Write::patch(patch, None)).await? {
                WriteOutcome::Written { version } => Some(version),
                WriteOutcome::Gone | WriteOutcome::Conflict => None,
            },
        )
    }

    async fn reissue(&self, id: Uuid, token: &TokenHash, reissue: &Reissue) -> Result<bool, Error> {
        if let Some(new_id) = reissue.new_id {
            return self.move_to(id, new_id, token, reissue).await;
        }
        self.swap(id, false, |s| {
            s.credentials.reissue(&mut s.record, *token, reissue);
            Step::Swap {
                with_record: true,
                answer: true,
            }
        })
        .await
    }

    async fn delete(&self, id: Uuid) -> Result<bool, Error> {
        Ok(self.storage.delete(&Deletion::One(id)).await? > 0)
    }

    async fn begin_rotation(
        &self, id: Uuid, expected_rotated_at: OffsetDateTime, pending: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.swap(id, false, |s| {
            // Another rotation or a sign-in came first (one that moved the
            // session to a new id too): no new token.
            if s.record.rotated_at != expected_rotated_at {
                return Step::Done(false);
            }
            s.credentials.begin_rotation(*pending, now);
            s.record.rotated_at = now;
            Step::Swap {
                with_record: true,
                answer: true,
            }
        })
        .await
    }

    async fn promote(&self, id: Uuid, token: &TokenHash, now: OffsetDateTime) -> Result<(), Error> {
        self.swap(id, (), |s| {
            if s.credentials.promote(token, now) {
                // Tokens only: the row itself does not change.
                Step::Swap {
                    with_record: false,
                    answer: (),
                }
            } else {
                Step::Done(())
            }
        })
        .await
    }

    async fn set_remember(
        &self, id: Uuid, credential: Option<&RememberCredential>,
        absolute_if_cleared: OffsetDateTime, now: OffsetDateTime,
    ) -> Result<bool, Error> {
        if let Some(c) = credential {
            let holder = self.storage.load(&Lookup::Selector(c.selector)).await?;
            if holder.is_some_and(|other| other.record.id != id) {
                return Err(Error::Corrupt("duplicate remember-me selector"));
            }
        }
        self.swap(id, false, |s| {
            let r = &mut s.record;
            s.credentials
                .set_remember(r, credential, absolute_if_cleared, now);
            Step::Swap {
                with_record: true,
                answer: true,
            }
        })
        .await
    }

    async fn find_remember(&self, selector: &[u8; 16]) -> Result<Option<RememberedSession>, Error> {
        let Some(s) = self.storage.load(&Lookup::Selector(*selector)).await? else {
            return Ok(None);
        };
        Ok(s.credentials
            .remember
            .filter(|c| c.selector == *selector)
            .map(|c| {
                let found = RememberedSession::new(
                    s.record,
                    c.validator,
                    c.previous,
                    c.rotated_at,
                    c.expires_at,
                );
                match c.pending {
                    Some((hash, at)) => found.with_pending(hash, at),
                    None => found,
                }
            }))
    }

    async fn restore_remembered(&self, id: Uuid, restore: &Restore) -> Result<bool, Error> {
        // Tabs restoring at once each add a token: a restore that kept
        // losing answers `false`, and the layer decides again on what the
        // store then holds (its validator step may have changed).
        let restored = self
            .try_swap(id, false, |s| {
                if s.credentials.restore(&mut s.record, restore) {
                    Step::Swap {
                        with_record: true,
                        answer: true,
                    }
                } else {
                    Step::Done(false)
                }
            })
            .await?;
        Ok(restored.unwrap_or(false))
    }

    async fn get(&self, id: Uuid) -> Result<Option<SessionRecord>, Error> {
        Ok(self.storage.load(&Lookup::Id(id)).await?.map(|s| s.record))
    }

    async fn revoke(&self, scope: &RevokeScope<'_>, how: &Revocation) -> Result<u64, Error> {
        self.storage.revoke(scope, how).await
    }

    async fn stats(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime,
    ) -> Result<StoreStats, Error> {
        self.storage.stats(now, revoked_before).await
    }

    async fn gc_batch(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime, limit: u32,
    ) -> Result<u64, Error> {
        let what = Deletion::Ended {
            now,
            revoked_before,
            limit,
        };
        self.storage.delete(&what).await
    }

    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<SessionRecord>, Error> {
        self.storage.list(query).await
    }

    async fn set_device(&self, id: Uuid, write: &DeviceWrite<'_>) -> Result<bool, Error> {
        self.storage.set_device(id, write).await
    }

    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        self.storage.update_value(id, key, expected, new).await
    }

    fn extensions(&self) -> Extensions<'_> {
        self.storage.extensions()
    }
}
