//! In-memory store: for tests and prototypes. One process only; everything is
//! lost on restart. Do not use it behind several app instances. Its data
//! structure is in `tables.rs`.

use crate::store::error::Error;
use crate::store::remember::{Reissue, RememberCredential, RememberedSession};
use crate::store::report::{MigrationReport, StoreStats};
use crate::store::restore::Restore;
use crate::store::revocation::{Revocation, RevokeScope};
use crate::store::session_store::{CacheSupport, SessionStore};
use crate::store::types::{
    DataPatch, LoadedSession, SessionRecord, TokenHash, TokenState, Touch, UpdateOutcome,
};
use async_trait::async_trait;
use serde_json::Value;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tables::{Remember, Tables};
use time::OffsetDateTime;
use uuid::Uuid;

mod lists;
mod tables;

/// A [`SessionStore`] in process memory.
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
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: no session ids, users or keys in logs.
        let t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
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

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave the maps half-updated
        // in a way that matters more than losing the process; keep serving.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        Ok(MigrationReport::default())
    }

    async fn load(
        &self, session: Option<Uuid>, token: &TokenHash, touch: &Touch,
    ) -> Result<Option<LoadedSession>, Error> {
        let mut t = self.lock();
        let Some(row) = t
            .tokens
            .get(token)
            .filter(|row| session.is_none_or(|id| id == row.session_id))
            .cloned()
        else {
            return Ok(None);
        };
        let has_pending = t
            .tokens_of(row.session_id)
            .any(|(_, r)| r.state == TokenState::Pending);
        let Some(s) = t.sessions.get_mut(&row.session_id) else {
            return Ok(None);
        };
        if touch.is_due(s, row.state) {
            touch.apply(s);
            s.version += 1;
        }
        Ok(Some(LoadedSession {
            record: s.clone(),
            token: row.state,
            has_pending,
        }))
    }

    async fn create(&self, record: &SessionRecord, token: &TokenHash) -> Result<(), Error> {
        let mut t = self.lock();
        if t.sessions.contains_key(&record.id) || t.tokens.contains_key(token) {
            return Err(Error::Corrupt("duplicate session id or token"));
        }
        t.sessions.insert(record.id, record.clone());
        t.insert_token(*token, record.id, TokenState::Current, record.rotated_at);
        Ok(())
    }

    async fn patch_data(&self, id: Uuid, patch: &DataPatch) -> Result<Option<u64>, Error> {
        let mut t = self.lock();
        Ok(t.live_mut(id).map(|s| {
            patch.apply(&mut s.data);
            s.version += 1;
            s.version
        }))
    }

    async fn reissue(&self, id: Uuid, token: &TokenHash, reissue: &Reissue) -> Result<bool, Error> {
        let mut t = self.lock();
        let Some(s) = t.live_mut(id) else {
            return Ok(false);
        };
        s.user_id.clone_from(&reissue.user_id);
        if let Some(at) = reissue.authenticated_at {
            s.authenticated_at = Some(at);
        }
        s.rotated_at = reissue.now;
        if let Some(end) = reissue.tokens_expire_at {
            s.tokens_expire_at = Some(end);
        }
        s.version += 1;
        tables::record_sign_in(s, reissue);
        t.retire_tokens(id, reissue.now);
        t.prune_tokens(id);
        t.insert_token(*token, id, TokenState::Current, reissue.now);
        Ok(true)
    }

    async fn delete(&self, id: Uuid) -> Result<bool, Error> {
        Ok(self.lock().remove_session(id))
    }

    async fn begin_rotation(
        &self, id: Uuid, expected_rotated_at: OffsetDateTime, pending: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let mut t = self.lock();
        match t.live_mut(id) {
            Some(s) if s.rotated_at == expected_rotated_at => {
                s.rotated_at = now;
                s.version += 1;
            }
            _ => return Ok(false),
        }
        t.keep_newest_pending(id);
        t.insert_token(*pending, id, TokenState::Pending, now);
        Ok(true)
    }

    async fn promote(&self, id: Uuid, token: &TokenHash, now: OffsetDateTime) -> Result<(), Error> {
        let mut t = self.lock();
        let Some(issued) = t
            .tokens
            .get(token)
            .filter(|r| r.session_id == id && r.state == TokenState::Pending)
            .map(|r| r.created_at)
        else {
            return Ok(());
        };
        t.update_tokens_of(id, |hash, row| {
            if hash == token {
                row.state = TokenState::Current;
            } else if row.state == TokenState::Current
                || (row.state == TokenState::Pending && row.created_at <= issued)
            {
                row.state = TokenState::Superseded { at: now };
            }
        });
        t.prune_tokens(id);
        Ok(())
    }

    async fn set_remember(
        &self, id: Uuid, credential: Option<&RememberCredential>,
        absolute_if_cleared: OffsetDateTime, now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let mut t = self.lock();
        if let Some(c) = credential {
            let taken = t
                .remember
                .iter()
                .any(|(sid, r)| *sid != id && r.selector == c.selector);
            if taken {
                return Err(Error::Corrupt("duplicate remember-me selector"));
            }
        }
        let Some(s) = t.live_mut(id) else {
            return Ok(false);
        };
        s.version += 1;
        match credential {
            Some(c) => {
                s.persistent = true;
                s.tokens_expire_at = s.tokens_expire_at.or(Some(s.absolute_expires_at));
                s.absolute_expires_at = c.expires_at;
                s.expires_at = s.expires_at.min(c.expires_at);
                t.remember.insert(
                    id,
                    Remember {
                        selector: c.selector,
                        validator: c.validator,
                        previous: None,
                        pending: None,
                        rotated_at: now,
                        expires_at: c.expires_at,
                    },
                );
            }
            None => {
                s.persistent = false;
                s.absolute_expires_at = s.absolute_expires_at.min(absolute_if_cleared);
                s.expires_at = s.expires_at.min(s.absolute_expires_at);
                t.remember.remove(&id);
            }
        }
        Ok(true)
    }

    async fn find_remember(&self, selector: &[u8; 16]) -> Result<Option<RememberedSession>, Error> {
        let t = self.lock();
        let Some((id, r)) = t.remember.iter().find(|(_, r)| &r.selector == selector) else {
            return Ok(None);
        };
        Ok(t.sessions.get(id).map(|record| RememberedSession {
            record: record.clone(),
            validator: r.validator,
            previous: r.previous,
            rotated_at: r.rotated_at,
            expires_at: r.expires_at,
            pending: r.pending,
        }))
    }

    async fn restore_remembered(&self, id: Uuid, restore: &Restore) -> Result<bool, Error> {
        Ok(self.lock().restore_remembered(id, restore))
    }

    async fn get(&self, id: Uuid) -> Result<Option<SessionRecord>, Error> {
        Ok(self.lock().sessions.get(&id).cloned())
    }

    async fn revoke(&self, scope: &RevokeScope<'_>, how: &Revocation) -> Result<u64, Error> {
        Ok(self.lock().revoke_where(how, |s| scope.covers(s)))
    }

    async fn stats(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime,
    ) -> Result<StoreStats, Error> {
        Ok(lists::stats(&self.lock(), now, revoked_before))
    }

    async fn gc_batch(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime, limit: u32,
    ) -> Result<u64, Error> {
        let mut t = self.lock();
        let doomed: Vec<Uuid> = t
            .sessions
            .values()
            .filter(|s| s.is_collectable(now, revoked_before))
            .take(limit as usize)
            .map(|s| s.id)
            .collect();
        for id in &doomed {
            t.remove_session(*id);
        }
        Ok(doomed.len() as u64)
    }

    async fn list_user(
        &self, user_id: &str, now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, Error> {
        // The whole list is its first page, unbounded.
        Ok(lists::page(&self.lock(), user_id, now, None, u32::MAX))
    }

    async fn list_user_page(
        &self, user_id: &str, now: OffsetDateTime, after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<SessionRecord>, Error> {
        Ok(lists::page(&self.lock(), user_id, now, after, limit))
    }

    async fn list_user_ended(
        &self, user_id: &str, since: OffsetDateTime, now: OffsetDateTime, limit: u32,
    ) -> Result<Vec<SessionRecord>, Error> {
        Ok(lists::ended(&self.lock(), user_id, since, now, limit))
    }

    async fn rename(
        &self, id: Uuid, user_id: &str, name: Option<&str>, now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let mut t = self.lock();
        match t.sessions.get_mut(&id) {
            Some(s) if s.is_live(now) && s.user_id.as_deref() == Some(user_id) => {
                s.name = name.map(str::to_owned);
                s.version += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn set_location(&self, id: Uuid, ip: IpAddr, location: &str) -> Result<bool, Error> {
        Ok(self.lock().set_location(id, ip, location))
    }

    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        let mut t = self.lock();
        Ok(match t.live_mut(id) {
            Some(s) => match UpdateOutcome::apply(&mut s.data, key, expected, new) {
                Ok(()) => {
                    s.version += 1;
                    UpdateOutcome::Updated { version: s.version }
                }
                Err(conflict) => conflict,
            },
            None => UpdateOutcome::Gone,
        })
    }

    fn cache_support(&self) -> Option<&dyn CacheSupport> {
        Some(self)
    }
}

impl CacheSupport for MemoryStore {
    fn local_database(&self) -> Option<String> {
        // Clones share the tables: their address names them.
        Some(format!("memory:{:p}", Arc::as_ptr(&self.tables)))
    }
}
