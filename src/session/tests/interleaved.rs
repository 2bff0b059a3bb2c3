//! A memory storage that lets another request in at a chosen point of a
//! request's calls, to run a race step by step, or stalls its writes.

use super::*;
use crate::store::{
    Deletion, ListQuery, Lookup, MigrationReport, Revocation, RevokeScope, SessionRecord,
    SessionStore, StoredSession, Write, WriteOutcome,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use uuid::Uuid;

/// Another request, run to completion at the chosen point.
pub(super) type Hook = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A memory storage that runs a hook (another request, to completion)
/// right after the next change of credentials it stores, or the next
/// remember-me credential it finds.
#[derive(Debug, Default, Clone)]
pub(super) struct Interleaved {
    inner: MemoryStorage,
    pub(super) after_next_swap: Arc<Mutex<Option<HookSlot>>>,
    pub(super) after_next_selector: Arc<Mutex<Option<HookSlot>>>,
    /// Set: every data write waits forever (a row another transaction
    /// holds).
    pub(super) stall_writes: Arc<std::sync::atomic::AtomicBool>,
}

/// Runs the hook in `slot`, if any, once.
async fn run(slot: &Mutex<Option<HookSlot>>) {
    let hook = slot.lock().unwrap().take();
    if let Some(HookSlot(hook)) = hook {
        hook.await;
    }
}

/// The hook, boxed (a `Debug` of its own for the store's).
pub(super) struct HookSlot(pub(super) Hook);

impl std::fmt::Debug for HookSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookSlot")
    }
}

#[async_trait::async_trait]
impl SessionStore for Interleaved {
    async fn migrate(&self) -> Result<MigrationReport, crate::store::Error> {
        self.inner.migrate().await
    }
    async fn load(&self, key: &Lookup) -> Result<Option<StoredSession>, crate::store::Error> {
        let found = self.inner.load(key).await?;
        if matches!(key, Lookup::Selector(_)) {
            run(&self.after_next_selector).await;
        }
        Ok(found)
    }
    async fn insert(&self, session: &StoredSession) -> Result<(), crate::store::Error> {
        self.inner.insert(session).await
    }
    async fn write(&self, id: Uuid, w: &Write<'_>) -> Result<WriteOutcome, crate::store::Error> {
        if self.stall_writes.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.write(id, w).await
    }
    async fn swap_credentials(
        &self, id: Uuid, epoch: u64, credentials: &crate::store::Credentials,
        record: Option<&SessionRecord>,
    ) -> Result<bool, crate::store::Error> {
        let swapped = self
            .inner
            .swap_credentials(id, epoch, credentials, record)
            .await?;
        run(&self.after_next_swap).await;
        Ok(swapped)
    }
    async fn revoke(
        &self, scope: &RevokeScope<'_>, how: &Revocation,
    ) -> Result<u64, crate::store::Error> {
        self.inner.revoke(scope, how).await
    }
    async fn delete(&self, what: &Deletion) -> Result<u64, crate::store::Error> {
        self.inner.delete(what).await
    }
    async fn list(&self, q: &ListQuery<'_>) -> Result<Vec<SessionRecord>, crate::store::Error> {
        self.inner.list(q).await
    }
}

/// A browser over a new [`Interleaved`] storage, under `config`, signed in
/// as `user` with "remember me".
pub(super) async fn remembered(user: &str, config: SessionConfig) -> (Interleaved, Browser) {
    let storage = Interleaved::default();
    let mut b = Browser::over(storage.clone(), config);
    let s = b.request().await;
    s.login_remember(user, true).await.unwrap();
    b.respond(&s).await;
    (storage, b)
}
