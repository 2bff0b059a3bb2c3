//! An in-process cache of loaded sessions, kept coherent across app instances
//! by the store's change feed (on Postgres, a poll of the changed rows).

use super::delegate::{Call, Stale, Wrapper, wrap_store};
use super::error::Error;
use super::feed::{Change, FeedOptions};
use super::session_store::{IntoSessionStore, SessionProtocol};
use super::types::{DataPatch, LoadedSession, TokenHash, TokenState, Touch, UpdateOutcome};
use clock::{Clock, lag_nanos};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// A [`SessionProtocol`] that keeps recently loaded sessions in memory.
///
/// Reading an unchanged session that was seen recently costs no database
/// round-trip; touches, writes, rotation and revocation still go to the store.
/// A data write updates the copy in place when nothing else changed the
/// session since it was read (the store's new
/// [`version`](super::SessionRecord::version) is the copy's plus one), so that
/// a session written at every request keeps being served from memory.
///
/// With Postgres, every change to a session, from any instance, the CLI or
/// plain SQL, reaches every instance's cache through the store's change feed
/// (a poll of what changed at most every
/// [`poll_interval`](CacheConfig::poll_interval) while the cache serves, every
/// 2 s while it is idle; see the [scale guide](crate::guide::scale)). A change
/// drops the copies older than it. While the feed fails, or lags by more than
/// [`max_lag`](CacheConfig::max_lag) (40 ms by default), the cache serves
/// nothing from memory (the read goes to the store, and asks the feed to
/// poll); after a failure it starts over empty. So a revoked session is
/// served from a stale copy for at most `max_lag`.
///
/// With SQLite or the memory store there is no cross-process feed: the cache
/// is only correct when one process uses the database. In that process,
/// revocations made through any [`SessionAdmin`](crate::SessionAdmin) on the
/// same database (`SessionAdmin::new(pool)`, a clone of the memory store)
/// reach the cache at once, and so does a write whose call was cut off (a
/// client that disconnected, a deadline) and that SQLite finished later.
/// Other writes made beside the cache (a second
/// layer without it on the same pool, plain SQL) are seen after at most
/// [`ttl`](CacheConfig::ttl): give every layer of the process the same
/// cache, by building them from one layer, or use
/// [`SessionLayer::admin`](crate::SessionLayer::admin).
///
/// ```no_run
/// # async fn f(pool: sqlx::PgPool) {
/// use axum_user_sessions::{CacheConfig, SessionLayer};
/// let layer = SessionLayer::new(pool).with_cache(CacheConfig::default());
/// # }
/// ```
#[derive(Clone)]
pub struct CachedStore {
    inner: Arc<dyn SessionProtocol>,
    shared: Arc<Shared>,
    /// Whether the store tells the cache of every change
    /// ([`Extensions::cacheable`](crate::store::Extensions::cacheable)),
    /// asked once.
    cacheable: bool,
}

/// How long the book remembers a change, for loads still running: a load
/// that started before a change it forgot cannot fill the cache.
const RECENT_FOR: Duration = Duration::from_secs(5);

struct Shared {
    entries: moka::sync::Cache<TokenHash, Arc<LoadedSession>>,
    /// What the feed and this process's writes changed, and where copies are.
    /// Every change of `entries` but the LRU's own happens under this lock.
    book: Mutex<Book>,
    /// Counts the changes the book recorded. A load takes the count before
    /// it asks the store; its answer is cached only if no change recorded
    /// since may be missing from it.
    seq: AtomicU64,
    config: CacheConfig,
    /// The change feed started: whether the store has one.
    feed: OnceCell<bool>,
    /// When the feed last caught up (see [`Clock`]); [`Clock::NEVER`] while
    /// it is down.
    caught_up: AtomicI64,
    hits: AtomicU64,
    /// The task draining the change feed: stopped with the cache, which
    /// closes the feed, which stops the store's polls.
    drain: Mutex<Option<tokio::task::AbortHandle>>,
    /// How to ask a feed that reads on demand for a fresher view.
    demand: OnceLock<Arc<tokio::sync::Notify>>,
    /// Counts the data writes started, for [`Writing::tickets`].
    tickets: AtomicU64,
    /// How many data writes are in flight: while none is, a hit is served
    /// without a look at the book ([`Shared::after_writes`]).
    writes_in_flight: AtomicU64,
    /// Wakes the loads waiting for this process's writes in flight
    /// ([`Shared::after_writes`]) when one ends.
    wrote: tokio::sync::Notify,
    /// Wakes the loads waiting for the poll in flight
    /// ([`Shared::fresh`]) when the feed catches up or fails.
    caught: tokio::sync::Notify,
}

/// The cache's bookkeeping, under one lock.
#[derive(Debug, Default)]
struct Book {
    /// The token each cached session is cached under (one per session: a
    /// fill under another token drops the older copy).
    cached: HashMap<Uuid, TokenHash>,
    /// The changes of the last [`RECENT_FOR`], by session.
    recent: HashMap<Uuid, Recent>,
    /// `recent`'s entries in the order they were written, to forget them.
    order: VecDeque<(Instant, Uuid, u64)>,
    /// Loads that started before this count are not cached: the cache was
    /// flushed since, or the book forgot what they may have missed.
    floor: u64,
    /// This process's data writes in flight, by session.
    writing: HashMap<Uuid, Writing>,
    /// How many lines `cached` may hold before the next sweep of those
    /// whose copy left on its own ([`Shared::sweep`]).
    sweep_above: usize,
}

/// The data writes in flight on one session. The feed may report a write's
/// new version before the write's answer is back: the copy then leaves the
/// cache (it is no longer served) but is kept here, for the write to patch.
#[derive(Debug, Default)]
struct Writing {
    /// The tickets of the writes in flight, oldest first (a write that
    /// ends takes the oldest: [`Shared::after_writes`] only needs as many
    /// ends as there were writes before it).
    tickets: VecDeque<u64>,
    /// The count when the first started: a flush since, and no copy
    /// follows the write.
    since: u64,
    /// The writes whose answer came back but that the copy does not hold
    /// yet (another write's answer, for the version before, is still
    /// awaited), as their new version and patch.
    done: Vec<(u64, DataPatch)>,
    /// A write whose outcome is unknown (it failed, or was cancelled): the
    /// copy cannot follow.
    lost: bool,
    /// The highest version the feed reported meanwhile.
    reported: u64,
    /// The copy, out of the cache since a newer version was reported.
    parked: Option<(TokenHash, Arc<LoadedSession>)>,
}

/// What recently happened to one session.
#[derive(Debug, Default, Clone, Copy)]
struct Recent {
    /// The count of its latest change.
    seq: u64,
    /// The count of its latest change that no copy survives (no version).
    killed: u64,
    /// The highest version a change reported.
    version: u64,
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
            .max_capacity(config.max_bytes.max(1))
            .weigher(move |_: &TokenHash, session: &Arc<LoadedSession>| config.weight(session))
            .time_to_live(config.ttl.min(config::TTL_CEILING))
            .build();
        let inner = store.into_session_store();
        Self {
            cacheable: inner.extensions().cacheable(),
            inner,
            shared: Arc::new(Shared {
                entries,
                book: Mutex::default(),
                seq: AtomicU64::new(0),
                config,
                feed: OnceCell::new(),
                caught_up: AtomicI64::new(Clock::NEVER),
                hits: AtomicU64::new(0),
                drain: Mutex::new(None),
                demand: OnceLock::new(),
                caught: tokio::sync::Notify::new(),
                tickets: AtomicU64::new(0),
                writes_in_flight: AtomicU64::new(0),
                wrote: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Whether the cache may serve from memory now: the change feed caught
    /// up within [`max_lag`](CacheConfig::max_lag) (or the store has none).
    /// `false` before the first request.
    pub fn is_listening(&self) -> bool {
        self.shared.is_live()
    }

    /// Reads served from memory so far.
    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::Relaxed)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn SessionProtocol> {
        &self.inner
    }

    /// Starts the change feed on first use (it needs a Tokio runtime).
    async fn start_feed(&self) {
        self.shared
            .feed
            .get_or_init(|| async {
                let options = FeedOptions::new(self.shared.config.poll_interval);
                let offered = self.inner.extensions();
                let Some(feed) = offered.cache.map(|s| s.subscribe(&options)) else {
                    // No feed: changes made through other handles on this
                    // database, in this process, come through the registry.
                    if let Some(database) = offered.in_process_database {
                        siblings::register(database, &self.shared);
                    }
                    return false;
                };
                if let Some(demand) = feed.demand {
                    let _ = self.shared.demand.set(demand);
                }
                let shared = Arc::downgrade(&self.shared);
                let task = tokio::spawn(book::drain(feed.changes, shared));
                if let Ok(mut slot) = self.shared.drain.lock() {
                    *slot = Some(task.abort_handle());
                }
                true
            })
            .await;
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

impl Wrapper for CachedStore {
    /// Forgets what the call makes stale: before it runs (so no copy is
    /// served meanwhile) when it changes a session at once, and after it in
    /// every case, cancelled or not, which also keeps a load that raced it
    /// from caching.
    async fn around<T>(
        &self, call: Call<'_>, run: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if call.stale.at_start() {
            self.forget(call.stale);
        }
        let _after = ForgetOnDrop {
            cache: self,
            stale: Some(call.stale),
        };
        run.await
    }

    async fn load(
        &self, session: Option<Uuid>, token: &TokenHash, touch: &Touch,
    ) -> Result<Option<LoadedSession>, Error> {
        if !self.cacheable {
            return Err(Error::Unsupported(
                "the in-process cache (it offers no change feed, so a cache would serve sessions \
                 another instance revoked: run without `with_cache`)",
            ));
        }
        self.start_feed().await;
        let live = self.shared.fresh().await;
        if live
            && let Some(hit) = self.shared.after_writes(token).await
            // Asked again after the wait for a write: the feed may have
            // fallen behind meanwhile.
            && self.shared.is_live()
            && session.is_none_or(|id| id == hit.record.id)
        {
            let r = &hit.record;
            // Served from memory only while no write is due: the touch (a
            // new IP's included), an expiry, or anything but a plain current
            // token goes to the store.
            if hit.token == TokenState::Current
                && r.token_active(touch.now)
                && !touch.is_due(r, hit.token)
            {
                self.shared.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Some((*hit).clone()));
            }
        }
        let ticket = self.shared.seq.load(Ordering::Acquire);
        // Asked again once the ticket is taken: a feed that failed while
        // this load waited for a write of its session (a flush, whose floor
        // the ticket is not below) lets no copy in, for a revocation made
        // before the feed is back would never be reported.
        let live = live && self.shared.is_live();
        let loaded = self.inner.load(session, token, touch).await?;
        if let Some(l) = &loaded
            && live
            && l.token == TokenState::Current
        {
            self.shared.fill(token, l, ticket);
        }
        Ok(loaded)
    }

    /// One round-trip, and the copy follows the write: the store says which
    /// version the row is at now, and the copy is patched when it was the
    /// version before (no other change came in between), dropped otherwise.
    async fn patch_data(&self, id: Uuid, patch: &DataPatch) -> Result<Option<u64>, Error> {
        self.shared.writing(id);
        let mut guard = WriteGuard {
            shared: &self.shared,
            id,
            done: false,
        };
        let written = self.inner.patch_data(id, patch).await;
        guard.done = true;
        let done = match &written {
            Ok(Some(version)) => Some((patch, *version)),
            _ => None,
        };
        self.shared.written(id, done);
        written
    }

    /// One round-trip, and the copy follows a successful compare-and-set as
    /// it follows [`patch_data`](Self::patch_data): the store says which
    /// version the row is at now. A conflict leaves it as it was (nothing
    /// was written); a failure drops it (the outcome is unknown).
    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        self.shared.writing(id);
        let mut guard = WriteGuard {
            shared: &self.shared,
            id,
            done: false,
        };
        let outcome = self.inner.update_value(id, key, expected, new).await;
        guard.done = true;
        match &outcome {
            Ok(UpdateOutcome::Updated { version }) => {
                let patch = DataPatch::of_key(key, new);
                self.shared.written(id, Some((&patch, *version)));
            }
            Ok(UpdateOutcome::Conflict { .. }) => self.shared.not_written(id),
            _ => self.shared.written(id, None),
        }
        outcome
    }

    fn wrapped(&self) -> &dyn SessionProtocol {
        self.inner.as_ref()
    }
}

wrap_store!(CachedStore);

mod book;
mod clock;
mod config;
pub(crate) mod siblings;
mod writes;

use writes::{ForgetOnDrop, WriteGuard};

pub use config::CacheConfig;
#[cfg(test)]
mod tests;
