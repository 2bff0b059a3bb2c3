//! An in-process cache of loaded sessions, kept coherent across app instances
//! by the store's change feed (Postgres `LISTEN/NOTIFY`).

use super::delegate::{Call, Stale, Wrapper, wrap_store};
use super::error::Error;
use super::feed::Change;
use super::session_store::{IntoSessionStore, SessionStore};
use super::types::{LoadedSession, TokenHash, TokenState, Touch};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::OnceCell;
use uuid::Uuid;

/// Cache settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Most sessions kept (memory is bounded by this). Default: 100,000.
    pub max_entries: u64,
    /// How long an entry may be served before it is read again, whatever
    /// the change feed says. Default: 60 seconds.
    pub ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            ttl: Duration::from_secs(60),
        }
    }
}

impl CacheConfig {
    /// Sets the most entries kept.
    pub fn with_max_entries(mut self, n: u64) -> Self {
        self.max_entries = n;
        self
    }

    /// Sets the time to live of an entry.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
}

/// A [`SessionStore`] that keeps recently loaded sessions in memory.
///
/// Reading an unchanged session that was seen recently costs no database
/// round-trip; touches, writes, rotation and revocation still go to the store.
/// With Postgres, every change to a session (from any instance, the CLI or
/// plain SQL) is announced by a trigger over `LISTEN/NOTIFY`, and every
/// instance drops its copy; while the listening connection is down the cache
/// is bypassed, and it is flushed when the connection comes back, so a revoked
/// session is never served from a stale cache. The listener holds one
/// connection of the pool.
///
/// With SQLite or the memory store there is no cross-process feed: the cache
/// is only correct when one process uses the database.
///
/// ```no_run
/// # async fn f(pool: sqlx::PgPool) {
/// use axum_user_sessions::{CacheConfig, SessionLayer};
/// let layer = SessionLayer::new(pool).with_cache(CacheConfig::default());
/// # }
/// ```
#[derive(Clone)]
pub struct CachedStore {
    inner: Arc<dyn SessionStore>,
    shared: Arc<Shared>,
}

struct Shared {
    entries: moka::sync::Cache<TokenHash, Arc<LoadedSession>>,
    /// Bumped by every invalidation: a load that raced one is not cached.
    generation: AtomicU64,
    /// The change feed is connected (always true without a feed).
    live: OnceCell<Arc<AtomicBool>>,
    hits: AtomicU64,
    /// The task draining the change feed: stopped with the cache, which
    /// closes the feed, which stops the store's listener (and frees its
    /// connection).
    drain: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(task) = self.drain.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

impl std::fmt::Debug for CachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStore")
            .field("inner", &self.inner)
            .field("entries", &self.shared.entries.entry_count())
            .field("listening", &self.is_listening())
            .finish()
    }
}

impl CachedStore {
    /// A cache in front of `store`.
    pub fn new(store: impl IntoSessionStore, config: CacheConfig) -> Self {
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_live(config.ttl)
            .support_invalidation_closures()
            .build();
        Self {
            inner: store.into_session_store(),
            shared: Arc::new(Shared {
                entries,
                generation: AtomicU64::new(0),
                live: OnceCell::new(),
                hits: AtomicU64::new(0),
                drain: std::sync::Mutex::new(None),
            }),
        }
    }

    /// Whether the cache may serve from memory now: the change feed is
    /// connected (or the store has none). `false` before the first request.
    pub fn is_listening(&self) -> bool {
        self.shared
            .live
            .get()
            .is_some_and(|l| l.load(Ordering::Acquire))
    }

    /// Reads served from memory so far.
    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::Relaxed)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn SessionStore> {
        &self.inner
    }

    /// Starts the change feed on first use (it needs a Tokio runtime).
    async fn feed(&self) -> &Arc<AtomicBool> {
        self.shared
            .live
            .get_or_init(|| async {
                match self.inner.subscribe() {
                    Some(feed) => {
                        let shared = Arc::downgrade(&self.shared);
                        let live = feed.live.clone();
                        let task = tokio::spawn(drain(feed.changes, shared));
                        if let Ok(mut slot) = self.shared.drain.lock() {
                            *slot = Some(task.abort_handle());
                        }
                        live
                    }
                    None => Arc::new(AtomicBool::new(true)),
                }
            })
            .await
    }

    /// Drops the copies a call makes stale.
    fn forget(&self, stale: Stale<'_>) {
        match stale {
            Stale::Nothing => {}
            Stale::Session(id) | Stale::SessionAfter(id) => self.shared.forget(id),
            Stale::User(user_id) => self.shared.forget_user(user_id),
            Stale::Every => self.shared.flush(),
        }
    }
}

impl Shared {
    fn forget(&self, id: Uuid) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let _ = self
            .entries
            .invalidate_entries_if(move |_, v| v.record.id == id);
    }

    fn forget_user(&self, user_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let user = user_id.to_owned();
        let _ = self
            .entries
            .invalidate_entries_if(move |_, v| v.record.user_id.as_deref() == Some(&user));
    }

    fn flush(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }
}

async fn drain(
    mut changes: tokio::sync::mpsc::UnboundedReceiver<Change>, shared: std::sync::Weak<Shared>,
) {
    while let Some(change) = changes.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match change {
            Change::Session(id) => shared.forget(id),
            Change::Flush => shared.flush(),
        }
    }
}

impl Wrapper for CachedStore {
    /// Forgets what the call makes stale: before it runs (so no copy is
    /// served meanwhile) when it changes a session at once, and after it in
    /// every case, which also keeps a load that raced it from caching.
    async fn around<T>(
        &self, call: Call<'_>, run: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if call.stale.at_start() {
            self.forget(call.stale);
        }
        let done = run.await;
        self.forget(call.stale);
        done
    }

    async fn load(&self, token: &TokenHash, touch: &Touch) -> Result<Option<LoadedSession>, Error> {
        let live = self.feed().await.load(Ordering::Acquire);
        if live && let Some(hit) = self.shared.entries.get(token) {
            let r = &hit.record;
            // Served from memory only while no write is due: the touch, an
            // expiry, or anything but a plain current token goes to the store.
            if hit.token == TokenState::Current
                && r.token_active(touch.now)
                && r.last_seen_at > touch.stale_before
            {
                self.shared.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Some((*hit).clone()));
            }
        }
        let generation = self.shared.generation.load(Ordering::Acquire);
        let loaded = self.inner.load(token, touch).await?;
        if let Some(l) = &loaded
            && live
            && l.token == TokenState::Current
            && self.shared.generation.load(Ordering::Acquire) == generation
        {
            self.shared.entries.insert(*token, Arc::new(l.clone()));
        }
        Ok(loaded)
    }

    fn wrapped(&self) -> &dyn SessionStore {
        self.inner.as_ref()
    }
}

wrap_store!(CachedStore);

#[cfg(test)]
mod tests {
    use super::{CacheConfig, CachedStore};
    use crate::store::memory::MemoryStore;
    use crate::store::revocation::{Revocation, RevokeReason};
    use crate::store::session_store::SessionStore;
    use crate::store::types::{DataPatch, SessionRecord, TokenHash, Touch};
    use time::{Duration, OffsetDateTime};
    use uuid::Uuid;

    #[tokio::test]
    async fn writes_drop_the_copies_they_make_stale() {
        let cache = CachedStore::new(MemoryStore::new(), CacheConfig::default());
        let now = OffsetDateTime::now_utc();
        let mut record = SessionRecord::new(Uuid::new_v4(), now);
        record.user_id = Some("ann".into());
        record.expires_at = now + Duration::hours(1);
        record.absolute_expires_at = now + Duration::hours(1);
        let token = TokenHash::from_bytes([7; 32]);
        cache.create(&record, &token).await.unwrap();
        // Never due: the copy may be served.
        let mut touch = Touch::new(now, now + Duration::hours(1));
        touch.stale_before = now - Duration::minutes(1);
        let load = async || cache.load(&token, &touch).await.unwrap().unwrap();

        load().await;
        load().await;
        assert_eq!(cache.hits(), 1, "the second load is served from memory");

        cache
            .patch_data(record.id, &DataPatch::default())
            .await
            .unwrap();
        load().await;
        assert_eq!(cache.hits(), 1, "a data write drops the copy");
        load().await;
        assert_eq!(cache.hits(), 2);

        let how = Revocation::system(RevokeReason::User, now);
        cache.revoke_user_sessions("ann", None, &how).await.unwrap();
        assert!(load().await.record.revoked_at.is_some());
        assert_eq!(cache.hits(), 2, "revoking the user's sessions drops them");
    }
}
