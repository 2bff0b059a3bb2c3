//! A store that implements only the trait's required methods, each
//! answered by a memory store (as a store written outside the crate before
//! device names, places and the ended list would): the provided methods
//! keep their default bodies, and its list answers the live sessions only.

use axum_user_sessions::store::{
    DataPatch, Error, ListQuery, LoadedSession, MigrationReport, Reissue, RememberCredential,
    RememberedSession, Restore, Revocation, RevokeScope, SessionRecord, StoreStats, TokenHash,
    Touch, UpdateOutcome,
};
use axum_user_sessions::{MemoryStore, SessionProtocol};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// The required methods, each answered by a memory store; the provided
/// ones left to their default bodies.
#[derive(Debug, Default)]
pub struct RequiredOnly(MemoryStore);

#[async_trait::async_trait]
impl SessionProtocol for RequiredOnly {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        self.0.migrate().await
    }
    async fn load(
        &self, session: Option<Uuid>, token: &TokenHash, touch: &Touch,
    ) -> Result<Option<LoadedSession>, Error> {
        self.0.load(session, token, touch).await
    }
    async fn create(&self, record: &SessionRecord, token: &TokenHash) -> Result<(), Error> {
        self.0.create(record, token).await
    }
    async fn patch_data(&self, id: Uuid, patch: &DataPatch) -> Result<Option<u64>, Error> {
        self.0.patch_data(id, patch).await
    }
    async fn reissue(&self, id: Uuid, token: &TokenHash, r: &Reissue) -> Result<bool, Error> {
        self.0.reissue(id, token, r).await
    }
    async fn delete(&self, id: Uuid) -> Result<bool, Error> {
        self.0.delete(id).await
    }
    async fn begin_rotation(
        &self, id: Uuid, expected: OffsetDateTime, pending: &TokenHash, now: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.0.begin_rotation(id, expected, pending, now).await
    }
    async fn promote(&self, id: Uuid, token: &TokenHash, now: OffsetDateTime) -> Result<(), Error> {
        self.0.promote(id, token, now).await
    }
    async fn set_remember(
        &self, id: Uuid, c: Option<&RememberCredential>, end: OffsetDateTime, now: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.0.set_remember(id, c, end, now).await
    }
    async fn find_remember(&self, selector: &[u8; 16]) -> Result<Option<RememberedSession>, Error> {
        self.0.find_remember(selector).await
    }
    async fn restore_remembered(&self, id: Uuid, restore: &Restore) -> Result<bool, Error> {
        self.0.restore_remembered(id, restore).await
    }
    async fn get(&self, id: Uuid) -> Result<Option<SessionRecord>, Error> {
        self.0.get(id).await
    }
    async fn revoke(&self, scope: &RevokeScope<'_>, how: &Revocation) -> Result<u64, Error> {
        self.0.revoke(scope, how).await
    }
    async fn stats(
        &self, now: OffsetDateTime, before: OffsetDateTime,
    ) -> Result<StoreStats, Error> {
        self.0.stats(now, before).await
    }
    async fn gc_batch(
        &self, now: OffsetDateTime, before: OffsetDateTime, limit: u32,
    ) -> Result<u64, Error> {
        self.0.gc_batch(now, before, limit).await
    }
    /// The live sessions; no ended ones, as a store that keeps no ended
    /// rows would answer.
    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<SessionRecord>, Error> {
        match query {
            ListQuery::Live { .. } => self.0.list(query).await,
            _ => Err(Error::Unsupported("the list of ended sessions")),
        }
    }
    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        self.0.update_value(id, key, expected, new).await
    }
}
