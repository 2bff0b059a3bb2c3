//! In-memory store: for tests and prototypes. One process only; everything is
//! lost on restart. Do not use it behind several app instances. It is a
//! [`SessionStore`] (a map of sessions and two indexes) under the [`Protocol`].

use crate::store::delegate::protocol_store;

mod devices;
use crate::store::error::Error;
use crate::store::protocol::Protocol;
use crate::store::report::{MigrationReport, StoreStats};
use crate::store::revocation::{Revocation, RevokeScope};
use crate::store::storage::{
    Deletion, DeviceWrite, Extensions, ListQuery, Lookup, SessionStore, StoredSession, Write,
    WriteOutcome,
};
use crate::store::{Credentials, SessionRecord};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use time::OffsetDateTime;
use uuid::Uuid;

/// A [`SessionProtocol`](crate::store::SessionProtocol) in process memory.
///
/// For tests, examples and prototypes. Sessions are lost when the process
/// exits, and two processes do not see each other's sessions: never use it
/// behind several app instances.
///
/// ```
/// use axum_user_sessions::{MemoryStore, SessionLayer};
/// let layer = SessionLayer::new(MemoryStore::new());
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore(Protocol<MemoryStorage>);

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: no session ids, users or keys in logs.
        let t = self.0.storage().lock();
        f.debug_struct("MemoryStore")
            .field("sessions", &t.sessions.len())
            .field("tokens", &t.tokens.len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The storage underneath the protocol (to count its calls with a
    /// [`CountingStore`](crate::store::CountingStore), say).
    pub fn storage(&self) -> &MemoryStorage {
        self.0.storage()
    }
}

protocol_store!(MemoryStore);

/// The [`SessionStore`] under [`MemoryStore`]: sessions by id, with indexes
/// of their tokens and remember-me selectors. Clones share the maps.
#[derive(Clone)]
pub struct MemoryStorage {
    tables: Arc<Mutex<Tables>>,
    /// The name of the tables, for the caches of this process: their
    /// address, which clones share.
    name: Arc<str>,
}

impl Default for MemoryStorage {
    fn default() -> Self {
        let tables = Arc::<Mutex<Tables>>::default();
        let name = format!("memory:{:p}", Arc::as_ptr(&tables)).into();
        Self { tables, name }
    }
}

/// The sessions, and where each token and selector is.
#[derive(Debug, Default)]
struct Tables {
    sessions: HashMap<Uuid, StoredSession>,
    tokens: HashMap<crate::store::TokenHash, Uuid>,
    selectors: HashMap<[u8; 16], Uuid>,
    /// Each user's trusted devices and failed sign-ins, with their version.
    devices: HashMap<String, (u64, crate::store::devices::UserDevices)>,
}

impl std::fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStorage").finish_non_exhaustive()
    }
}

impl MemoryStorage {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave the maps half-updated
        // in a way that matters more than losing the process; keep serving.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Tables {
    /// Moves the indexes of session `id` from `old` credentials to `new`.
    fn reindex(&mut self, id: Uuid, old: Option<&Credentials>, new: Option<&Credentials>) {
        for t in old.into_iter().flat_map(|c| &c.tokens) {
            self.tokens.remove(&t.hash);
        }
        if let Some(r) = old.and_then(|c| c.remember.as_ref()) {
            self.selectors.remove(&r.selector);
        }
        for t in new.into_iter().flat_map(|c| &c.tokens) {
            self.tokens.insert(t.hash, id);
        }
        if let Some(r) = new.and_then(|c| c.remember.as_ref()) {
            self.selectors.insert(r.selector, id);
        }
    }

    /// Deletes session `id` with its index entries.
    fn remove(&mut self, id: Uuid) -> bool {
        let Some(s) = self.sessions.remove(&id) else {
            return false;
        };
        self.reindex(id, Some(&s.credentials), None);
        true
    }
}

#[async_trait]
impl SessionStore for MemoryStorage {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        Ok(MigrationReport::default())
    }

    async fn load(&self, key: &Lookup) -> Result<Option<StoredSession>, Error> {
        let t = self.lock();
        let id = match key {
            Lookup::Id(id) => Some(*id),
            Lookup::Selector(s) => t.selectors.get(s).copied(),
            Lookup::Token(h) => t.tokens.get(h).copied(),
        };
        Ok(id.and_then(|id| t.sessions.get(&id).cloned()))
    }

    async fn insert(&self, session: &StoredSession) -> Result<(), Error> {
        let mut t = self.lock();
        let id = session.record.id;
        let taken = session
            .credentials
            .tokens
            .iter()
            .any(|e| t.tokens.contains_key(&e.hash));
        if t.sessions.contains_key(&id) || taken {
            return Err(Error::Corrupt("duplicate session id or token"));
        }
        t.reindex(id, None, Some(&session.credentials));
        t.sessions.insert(id, session.clone());
        Ok(())
    }

    async fn write(&self, id: Uuid, write: &Write<'_>) -> Result<WriteOutcome, Error> {
        Ok(match self.lock().sessions.get_mut(&id) {
            Some(s) => s.apply_write(write),
            None => WriteOutcome::Gone,
        })
    }

    async fn swap_credentials(
        &self, id: Uuid, expected_epoch: u64, credentials: &Credentials,
        record: Option<&SessionRecord>,
    ) -> Result<bool, Error> {
        let mut t = self.lock();
        let Some(s) = t.sessions.get_mut(&id) else {
            return Ok(false);
        };
        let old = s.credentials.clone();
        if !s.apply_swap(expected_epoch, credentials, record) {
            return Ok(false);
        }
        t.reindex(id, Some(&old), Some(credentials));
        Ok(true)
    }

    async fn revoke(&self, scope: &RevokeScope<'_>, how: &Revocation) -> Result<u64, Error> {
        let mut t = self.lock();
        let (mut count, mut selectors) = (0, Vec::new());
        for s in t.sessions.values_mut() {
            let selector = s.credentials.remember.map(|r| r.selector);
            if s.apply_revocation(scope, how) {
                count += 1;
                selectors.extend(selector);
            }
        }
        for selector in selectors {
            t.selectors.remove(&selector);
        }
        Ok(count)
    }

    async fn delete(&self, what: &Deletion) -> Result<u64, Error> {
        let mut t = self.lock();
        let doomed: Vec<Uuid> = match *what {
            Deletion::One(id) => vec![id],
            _ => t
                .sessions
                .values()
                .filter(|s| what.covers(&s.record))
                .take(what.limit())
                .map(|s| s.record.id)
                .collect(),
        };
        Ok(doomed.into_iter().filter(|id| t.remove(*id)).count() as u64)
    }

    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<SessionRecord>, Error> {
        let t = self.lock();
        Ok(query.select(t.sessions.values().map(|s| &s.record)))
    }

    async fn stats(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime,
    ) -> Result<StoreStats, Error> {
        let t = self.lock();
        Ok(StoreStats::of(
            t.sessions.values().map(|s| &s.record),
            now,
            revoked_before,
        ))
    }

    async fn set_device(&self, id: Uuid, write: &DeviceWrite<'_>) -> Result<bool, Error> {
        let mut t = self.lock();
        Ok(t.sessions.get_mut(&id).is_some_and(|s| write.apply(s)))
    }

    fn extensions(&self) -> Extensions<'_> {
        Extensions::new().in_process(&self.name).with_devices(self)
    }
}
