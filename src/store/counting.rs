//! A storage that counts the calls that reach the storage it wraps: the
//! layer's database cost per request, measured beneath the protocol.

use super::credentials::Credentials;
use super::devices::{DeviceRecords, UserDevices};
use super::error::Error;
use super::report::{MigrationReport, StoreStats};
use super::revocation::{Revocation, RevokeScope};
use super::storage::{
    Deletion, DeviceWrite, Extensions, ListQuery, Lookup, SessionStore, StoredSession, Write,
    WriteOutcome,
};
use super::types::{SessionRecord, UpdateOutcome};
use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;
use uuid::Uuid;

/// Wraps a [`SessionStore`] and counts the calls made to it: each is one
/// storage operation (one statement, transaction or script; under load the
/// Postgres store may send several in one statement), so the count is what
/// the layer cost the database. It sits beneath the
/// [`Protocol`](super::Protocol), so a request whose protocol step reads
/// and then writes (a touch that is due, a rotation) counts both; beneath a
/// [`CachedStore`](super::CachedStore), whose hits then count nothing.
/// Read [`round_trips`](Self::round_trips) before and after the requests
/// you measure. Clones share the count. `migrate` is not counted, nor is a
/// cache's change feed; the device records' calls are.
///
/// A call a store answers with a default body of [`SessionStore`] counts
/// once, whatever that body asks of the store.
///
/// ```
/// use axum_user_sessions::store::{CountingStore, Protocol};
/// use axum_user_sessions::{MemoryStore, SessionLayer};
///
/// let store = MemoryStore::new();
/// let counted = CountingStore::new(store.storage().clone());
/// let layer = SessionLayer::new(Protocol::new(counted.clone()));
/// assert_eq!(counted.round_trips(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct CountingStore {
    inner: Arc<dyn SessionStore>,
    calls: Arc<AtomicU64>,
}

impl CountingStore {
    /// Counts the calls made to `storage`.
    pub fn new(storage: impl SessionStore) -> Self {
        Self {
            inner: Arc::new(storage),
            calls: Arc::default(),
        }
    }

    /// How many calls reached the wrapped storage so far.
    pub fn round_trips(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The wrapped storage, one call more counted.
    fn counted(&self) -> &dyn SessionStore {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.as_ref()
    }

    /// The wrapped storage's device records, one call more counted.
    fn devices(&self) -> Result<&dyn DeviceRecords, Error> {
        let devices = self.inner.extensions().devices;
        let devices = devices.ok_or(Error::Unsupported("trusted devices and failed sign-ins"))?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(devices)
    }
}

#[async_trait]
impl SessionStore for CountingStore {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        self.inner.migrate().await
    }

    async fn load(&self, key: &Lookup) -> Result<Option<StoredSession>, Error> {
        self.counted().load(key).await
    }

    async fn insert(&self, session: &StoredSession) -> Result<(), Error> {
        self.counted().insert(session).await
    }

    async fn write(&self, id: Uuid, write: &Write<'_>) -> Result<WriteOutcome, Error> {
        self.counted().write(id, write).await
    }

    async fn swap_credentials(
        &self, id: Uuid, expected_epoch: u64, credentials: &Credentials,
        record: Option<&SessionRecord>,
    ) -> Result<bool, Error> {
        let inner = self.counted();
        inner
            .swap_credentials(id, expected_epoch, credentials, record)
            .await
    }

    async fn revoke(&self, scope: &RevokeScope<'_>, how: &Revocation) -> Result<u64, Error> {
        self.counted().revoke(scope, how).await
    }

    async fn delete(&self, what: &Deletion) -> Result<u64, Error> {
        self.counted().delete(what).await
    }

    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<SessionRecord>, Error> {
        self.counted().list(query).await
    }

    async fn stats(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime,
    ) -> Result<StoreStats, Error> {
        self.counted().stats(now, revoked_before).await
    }

    async fn set_device(&self, id: Uuid, write: &DeviceWrite<'_>) -> Result<bool, Error> {
        self.counted().set_device(id, write).await
    }

    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        self.counted().update_value(id, key, expected, new).await
    }

    /// The wrapped storage's, its device records counted here.
    fn extensions(&self) -> Extensions<'_> {
        let mut offered = self.inner.extensions();
        if offered.devices.is_some() {
            offered.devices = Some(self);
        }
        offered
    }
}

#[async_trait]
impl DeviceRecords for CountingStore {
    async fn load_devices(&self, user_id: &str) -> Result<Option<(u64, UserDevices)>, Error> {
        self.devices()?.load_devices(user_id).await
    }

    async fn swap_devices(
        &self, user_id: &str, expected: Option<u64>, version: u64, devices: &UserDevices,
    ) -> Result<bool, Error> {
        self.devices()?
            .swap_devices(user_id, expected, version, devices)
            .await
    }

    async fn collect_devices(
        &self, now: OffsetDateTime, failed_before: OffsetDateTime, limit: u32,
    ) -> Result<u64, Error> {
        let devices = self.devices()?;
        devices.collect_devices(now, failed_before, limit).await
    }
}
