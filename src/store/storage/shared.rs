//! A shared store is a store: `Arc<S>` (`Arc<dyn SessionStore>` above all)
//! passes every call to `S`, so that a store chosen at run time
//! ([`connect_storage`](crate::store::connect_storage)) can go under a
//! [`Protocol`](crate::store::Protocol) or a
//! [`CountingStore`](crate::store::CountingStore).

use super::{
    Deletion, DeviceWrite, Extensions, ListQuery, Lookup, SessionStore, StoredSession, Write,
    WriteOutcome,
};
use crate::store::credentials::Credentials;
use crate::store::error::Error;
use crate::store::report::{MigrationReport, StoreStats};
use crate::store::revocation::{Revocation, RevokeScope};
use crate::store::types::{SessionRecord, UpdateOutcome};
use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for Arc<S> {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        (**self).migrate().await
    }

    async fn load(&self, key: &Lookup) -> Result<Option<StoredSession>, Error> {
        (**self).load(key).await
    }

    async fn insert(&self, session: &StoredSession) -> Result<(), Error> {
        (**self).insert(session).await
    }

    async fn write(&self, id: Uuid, write: &Write<'_>) -> Result<WriteOutcome, Error> {
        (**self).write(id, write).await
    }

    async fn swap_credentials(
        &self, id: Uuid, expected_epoch: u64, credentials: &Credentials,
        record: Option<&SessionRecord>,
    ) -> Result<bool, Error> {
        (**self)
            .swap_credentials(id, expected_epoch, credentials, record)
            .await
    }

    async fn revoke(&self, scope: &RevokeScope<'_>, how: &Revocation) -> Result<u64, Error> {
        (**self).revoke(scope, how).await
    }

    async fn delete(&self, what: &Deletion) -> Result<u64, Error> {
        (**self).delete(what).await
    }

    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<SessionRecord>, Error> {
        (**self).list(query).await
    }

    async fn stats(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime,
    ) -> Result<StoreStats, Error> {
        (**self).stats(now, revoked_before).await
    }

    async fn set_device(&self, id: Uuid, write: &DeviceWrite<'_>) -> Result<bool, Error> {
        (**self).set_device(id, write).await
    }

    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        (**self).update_value(id, key, expected, new).await
    }

    fn extensions(&self) -> Extensions<'_> {
        (**self).extensions()
    }
}
