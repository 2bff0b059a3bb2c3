//! An in-process cache of loaded sessions, kept coherent across app instances
//! by the store's change feed (on Postgres, a poll of the changed rows).

use super::delegate::{Call, Stale, Wrapper, wrap_store};
use super::error::Error;
use super::feed::{Change, FeedOptions};
use super::session_store::{IntoSessionStore, SessionStore};
use super::types::{DataPatch, LoadedSession, TokenHash, TokenState, Touch};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
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
    /// How often the change feed reads what changed (on Postgres, one
    /// statement on the pool per poll, per app instance). A change made
    /// elsewhere reaches this cache after about this long. Default: 10 ms.
    pub poll_interval: Duration,
    /// How far behind the change feed may be (since the start of its last
    /// successful read) for the cache to serve from memory. Past it, or
    /// while the feed fails, every read goes to the store. This bounds how
    /// long a change made elsewhere (a revocation) can go unseen here.
    /// Default: 250 ms.
    pub max_lag: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            ttl: Duration::from_secs(60),
            poll_interval: Duration::from_millis(10),
            max_lag: Duration::from_millis(250),
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

    /// Sets how often the change feed reads what changed.
    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Sets how far behind the change feed may be for the cache to serve.
    pub fn with_max_lag(mut self, lag: Duration) -> Self {
        self.max_lag = lag;
        self
    }
}

/// A [`SessionStore`] that keeps recently loaded sessions in memory.
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
/// (a poll every [`poll_interval`](CacheConfig::poll_interval) of what changed,
/// see the README's "Cache and scale"). A change drops the copies older than
/// it. While the feed fails, or lags by more than
/// [`max_lag`](CacheConfig::max_lag), the cache serves nothing from memory;
/// after a failure it starts over empty. So a revoked session is served from
/// a stale copy for at most `max_lag`, usually for one poll interval.
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
}

/// The data writes in flight on one session. The feed may report a write's
/// new version before the write's answer is back: the copy then leaves the
/// cache (it is no longer served) but is kept here, for the write to patch.
#[derive(Debug, Default)]
struct Writing {
    /// How many.
    count: u32,
    /// The count when the first started: a flush since, and no copy
    /// follows the write.
    since: u64,
    /// Two at once: their answers may come back in any order, so none
    /// patches the copy.
    overlapped: bool,
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
            .max_capacity(config.max_entries)
            .time_to_live(config.ttl)
            .build();
        Self {
            inner: store.into_session_store(),
            shared: Arc::new(Shared {
                entries,
                book: Mutex::default(),
                seq: AtomicU64::new(0),
                config,
                feed: OnceCell::new(),
                caught_up: AtomicI64::new(Clock::NEVER),
                hits: AtomicU64::new(0),
                drain: Mutex::new(None),
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
    pub fn inner(&self) -> &Arc<dyn SessionStore> {
        &self.inner
    }

    /// Starts the change feed on first use (it needs a Tokio runtime).
    async fn start_feed(&self) {
        self.shared
            .feed
            .get_or_init(|| async {
                let options = FeedOptions::new(self.shared.config.poll_interval);
                let Some(feed) = self.inner.subscribe(&options) else {
                    return false;
                };
                let shared = Arc::downgrade(&self.shared);
                let task = tokio::spawn(drain(feed.changes, shared));
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

/// Instants as numbers, for an atomic: nanoseconds from the first reading
/// (negative before it).
struct Clock;

impl Clock {
    /// Stands for "never", below every instant.
    const NEVER: i64 = i64::MIN;

    fn stamp(at: Instant) -> i64 {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        let epoch = *EPOCH.get_or_init(Instant::now);
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        match at.checked_duration_since(epoch) {
            Some(after) => nanos(after),
            None => -nanos(epoch.duration_since(at)),
        }
    }
}

impl Shared {
    /// The feed caught up recently enough (or there is none).
    fn is_live(&self) -> bool {
        match self.feed.get() {
            None => false,
            Some(false) => true,
            Some(true) => match self.caught_up.load(Ordering::Acquire) {
                Clock::NEVER => false,
                at => Clock::stamp(Instant::now()).saturating_sub(at) <= lag_nanos(&self.config),
            },
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // The book is consistent between statements: keep going after a
        // panic elsewhere.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next count, for a change recorded under the book's lock.
    fn next(&self, book: &mut Book) -> u64 {
        let now = Instant::now();
        book.prune(now);
        self.seq.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Drops the copy of session `id`, if any.
    fn evict(&self, book: &mut Book, id: Uuid) {
        if let Some(token) = book.cached.remove(&id) {
            self.entries.invalidate(&token);
        }
    }

    /// Session `id` changed to `version` (`None`: in a way no copy survives).
    fn changed(&self, book: &mut Book, id: Uuid, version: Option<u64>) {
        let seq = self.next(book);
        book.note(seq, id, version);
        let writing = book.writing.get_mut(&id);
        let Some(v) = version else {
            if let Some(w) = writing {
                w.parked = None;
            }
            return self.evict(book, id);
        };
        let copy = book
            .cached
            .get(&id)
            .and_then(|t| Some((*t, self.entries.get(t)?)));
        match (copy, writing) {
            (Some((_, copy)), _) if copy.record.version >= v => {}
            // Perhaps the write in flight: park the copy for it.
            (copy, Some(w)) => {
                w.reported = w.reported.max(v);
                if let Some(copy) = copy {
                    w.parked = Some(copy);
                }
                self.evict(book, id);
            }
            (_, None) => self.evict(book, id),
        }
    }

    /// This process changed session `id` (or may have: the call failed).
    fn forget(&self, id: Uuid) {
        let mut book = self.book();
        self.changed(&mut book, id, None);
    }

    /// A data write on session `id` starts.
    fn writing(&self, id: Uuid) {
        let mut book = self.book();
        let since = self.seq.load(Ordering::Acquire);
        let w = book.writing.entry(id).or_insert_with(|| Writing {
            since,
            ..Writing::default()
        });
        w.count += 1;
        w.overlapped |= w.count > 1;
    }

    /// The data write on session `id` is over: `None` when its outcome is
    /// unknown (it failed, or was cancelled), else the patch it applied and
    /// the session's version after it. The copy follows the write when it
    /// was at the version before and nothing newer was reported meanwhile;
    /// otherwise it goes.
    fn written(&self, id: Uuid, done: Option<(&DataPatch, u64)>) {
        let mut book = self.book();
        let floor = book.floor;
        let (overlapped, reported, parked) = match book.writing.get_mut(&id) {
            Some(w) => {
                w.count = w.count.saturating_sub(1);
                let out = (w.overlapped || floor > w.since, w.reported, w.parked.take());
                if w.count == 0 {
                    book.writing.remove(&id);
                }
                out
            }
            None => (true, 0, None),
        };
        let Some((patch, version)) = done else {
            return self.changed(&mut book, id, None);
        };
        let seq = self.next(&mut book);
        book.note(seq, id, Some(version));
        let cached = book
            .cached
            .get(&id)
            .and_then(|t| Some((*t, self.entries.get(t)?)));
        if let Some((_, copy)) = &cached
            && copy.record.version >= version.max(reported)
        {
            return; // a load cached the row after the write
        }
        // Postgres sets then removes, the other stores remove then set: the
        // same result unless a key is in both.
        let disjoint = patch.remove.iter().all(|k| !patch.set.contains_key(k));
        match cached.or(parked) {
            Some((token, copy))
                if copy.record.version + 1 == version
                    && reported <= version
                    && disjoint
                    && !overlapped =>
            {
                let mut next = (*copy).clone();
                patch.apply(&mut next.record.data);
                next.record.version = version;
                book.cached.insert(id, token);
                self.entries.insert(token, Arc::new(next));
            }
            _ => self.evict(&mut book, id),
        }
    }

    fn forget_user(&self, user_id: &str) {
        let mut book = self.book();
        book.floor = self.next(&mut book);
        for (token, copy) in &self.entries {
            if copy.record.user_id.as_deref() == Some(user_id) {
                book.cached.remove(&copy.record.id);
                self.entries.invalidate(&*token);
            }
        }
    }

    fn flush(&self) {
        let mut book = self.book();
        self.clear(&mut book);
    }

    /// Drops every copy; loads running now will not be cached.
    fn clear(&self, book: &mut Book) {
        book.floor = self.next(book);
        book.cached.clear();
        book.recent.clear();
        book.order.clear();
        for w in book.writing.values_mut() {
            w.parked = None;
        }
        self.entries.invalidate_all();
    }

    /// Caches what a load that started at count `ticket` found, unless a
    /// change recorded since may be missing from it, or a newer copy is there.
    fn fill(&self, token: &TokenHash, loaded: &LoadedSession, ticket: u64) {
        let (id, version) = (loaded.record.id, loaded.record.version);
        let mut book = self.book();
        if ticket < book.floor {
            return;
        }
        if let Some(r) = book.recent.get(&id)
            && (r.killed > ticket || r.version > version)
        {
            return;
        }
        if let Some(copy) = self.entries.get(token)
            && copy.record.version > version
        {
            return;
        }
        if let Some(older) = book.cached.insert(id, *token)
            && older != *token
        {
            self.entries.invalidate(&older);
        }
        self.entries.insert(*token, Arc::new(loaded.clone()));
    }

    /// Applies what the feed sent, in order.
    fn apply(&self, changes: &[Change]) {
        let mut book = self.book();
        for change in changes {
            match *change {
                Change::Session { id, version } => self.changed(&mut book, id, version),
                Change::CaughtUp { at } => {
                    self.caught_up.fetch_max(Clock::stamp(at), Ordering::AcqRel);
                }
                Change::Flush => {
                    self.caught_up.store(Clock::NEVER, Ordering::Release);
                    self.clear(&mut book);
                }
            }
        }
        // Sessions that left the cache on their own (LRU, time to live)
        // leave their line in `cached`; sweep now and then.
        if book.cached.len() > 1024 + 2 * self.entries.entry_count() as usize {
            book.cached
                .retain(|_, token| self.entries.contains_key(token));
        }
    }
}

impl Book {
    fn note(&mut self, seq: u64, id: Uuid, version: Option<u64>) {
        let r = self.recent.entry(id).or_default();
        r.seq = seq;
        match version {
            Some(v) => r.version = r.version.max(v),
            None => r.killed = seq,
        }
        self.order.push_back((Instant::now(), id, seq));
    }

    /// Forgets changes older than [`RECENT_FOR`]: loads that started before
    /// them will not be cached.
    fn prune(&mut self, now: Instant) {
        while let Some(&(at, id, seq)) = self.order.front() {
            if now.saturating_duration_since(at) < RECENT_FOR {
                break;
            }
            self.order.pop_front();
            if self.recent.get(&id).is_some_and(|r| r.seq == seq) {
                self.recent.remove(&id);
            }
            self.floor = self.floor.max(seq);
        }
    }
}

fn lag_nanos(config: &CacheConfig) -> i64 {
    i64::try_from(config.max_lag.as_nanos()).unwrap_or(i64::MAX)
}

/// Applies the feed's changes until the cache or the feed is gone.
async fn drain(
    mut changes: tokio::sync::mpsc::UnboundedReceiver<Change>, shared: std::sync::Weak<Shared>,
) {
    let mut batch = Vec::new();
    while changes.recv_many(&mut batch, 1024).await > 0 {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.apply(&batch);
        batch.clear();
    }
    // The store's feed ended: serve nothing more from memory.
    if let Some(shared) = shared.upgrade() {
        shared.apply(&[Change::Flush]);
    }
}

/// Forgets a session's copies when dropped, unless disarmed: a call that was
/// cancelled (its future dropped) may have changed the session.
struct ForgetOnDrop<'a> {
    cache: &'a CachedStore,
    stale: Option<Stale<'a>>,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(stale) = self.stale.take() {
            self.cache.forget(stale);
        }
    }
}

/// Ends a data write whose call was cancelled: its outcome is unknown.
struct WriteGuard<'a> {
    shared: &'a Shared,
    id: Uuid,
    done: bool,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.shared.written(self.id, None);
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

    async fn load(&self, token: &TokenHash, touch: &Touch) -> Result<Option<LoadedSession>, Error> {
        self.start_feed().await;
        let live = self.shared.is_live();
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
        let ticket = self.shared.seq.load(Ordering::Acquire);
        let loaded = self.inner.load(token, touch).await?;
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

    fn wrapped(&self) -> &dyn SessionStore {
        self.inner.as_ref()
    }
}

wrap_store!(CachedStore);

#[cfg(test)]
mod tests {
    use super::{CacheConfig, CachedStore};
    use crate::store::feed::Change;
    use crate::store::memory::MemoryStore;
    use crate::store::revocation::{Revocation, RevokeReason};
    use crate::store::session_store::SessionStore;
    use crate::store::types::{DataPatch, LoadedSession, SessionRecord, TokenHash, Touch};
    use std::sync::atomic::Ordering;
    use time::{Duration, OffsetDateTime};
    use uuid::Uuid;

    struct Fixture {
        cache: CachedStore,
        record: SessionRecord,
        token: TokenHash,
        touch: Touch,
    }

    /// A cache over a memory store holding one session of "ann"; with
    /// `feed`, the cache behaves as if its store had a change feed, which
    /// the test plays by hand (`Shared::apply`).
    async fn fixture(feed: bool) -> Fixture {
        let cache = CachedStore::new(MemoryStore::new(), CacheConfig::default());
        if feed {
            cache.shared.feed.set(true).unwrap();
        }
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
        Fixture {
            cache,
            record,
            token,
            touch,
        }
    }

    impl Fixture {
        async fn load(&self) -> LoadedSession {
            let l = self.cache.load(&self.token, &self.touch).await;
            l.unwrap().unwrap()
        }

        fn feed(&self, changes: &[Change]) {
            self.cache.shared.apply(changes);
        }

        fn caught_up(&self) {
            self.feed(&[Change::CaughtUp {
                at: std::time::Instant::now(),
            }]);
        }

        fn changed(&self, version: Option<u64>) -> Change {
            Change::Session {
                id: self.record.id,
                version,
            }
        }
    }

    fn set(key: &str, value: u64) -> DataPatch {
        let mut patch = DataPatch::default();
        patch.set.insert(key.into(), value.into());
        patch
    }

    #[tokio::test]
    async fn writes_update_their_copy_and_revocations_drop_it() {
        let f = fixture(false).await;
        f.load().await;
        f.load().await;
        assert_eq!(f.cache.hits(), 1, "the second load is served from memory");

        let trips = f.cache.round_trips();
        for n in 1..=3 {
            assert_eq!(
                f.cache.patch_data(f.record.id, &set("n", n)).await.unwrap(),
                Some(n)
            );
            let l = f.load().await;
            assert_eq!(
                (l.record.data["n"].as_u64(), l.record.version),
                (Some(n), n)
            );
        }
        assert_eq!(f.cache.hits(), 4, "a write keeps its copy up to date");
        assert_eq!(f.cache.round_trips() - trips, 3, "one round-trip a write");

        let how = Revocation::system(RevokeReason::User, f.touch.now);
        f.cache
            .revoke_user_sessions("ann", None, &how)
            .await
            .unwrap();
        assert!(f.load().await.record.revoked_at.is_some());
        assert_eq!(f.cache.hits(), 4, "revoking the user's sessions drops them");
    }

    #[tokio::test]
    async fn a_write_elsewhere_in_between_drops_the_copy() {
        let f = fixture(false).await;
        f.load().await;
        // Another process writes (straight to the store), then this one.
        f.cache
            .inner()
            .patch_data(f.record.id, &set("a", 1))
            .await
            .unwrap();
        assert_eq!(
            f.cache.patch_data(f.record.id, &set("b", 2)).await.unwrap(),
            Some(2)
        );
        let l = f.load().await;
        assert_eq!(f.cache.hits(), 0, "the copy missed a write: not patched");
        assert_eq!((l.record.data.len(), l.record.version), (2, 2));
    }

    #[tokio::test]
    async fn the_feed_drops_older_copies_and_keeps_current_ones() {
        let f = fixture(true).await;
        f.load().await;
        f.load().await;
        assert_eq!(
            f.cache.hits(),
            0,
            "not caught up yet: nothing served from memory"
        );
        f.caught_up();
        assert!(f.cache.is_listening());
        f.load().await;
        f.load().await;
        assert_eq!(f.cache.hits(), 1);

        // This process's own write, reported by the feed: the copy stays.
        assert_eq!(
            f.cache.patch_data(f.record.id, &set("n", 1)).await.unwrap(),
            Some(1)
        );
        f.feed(&[f.changed(Some(1)), f.changed(Some(0))]);
        f.load().await;
        assert_eq!(f.cache.hits(), 2, "a change the copy has dropped it");

        // A change made elsewhere: newer than the copy.
        f.cache
            .inner()
            .patch_data(f.record.id, &set("n", 2))
            .await
            .unwrap();
        f.feed(&[f.changed(Some(2))]);
        assert_eq!(f.load().await.record.data["n"], 2);
        assert_eq!(f.cache.hits(), 2, "a newer change did not drop the copy");
        f.load().await;
        assert_eq!(f.cache.hits(), 3, "the newer row is cached again");

        // Token changes and deletions carry no version: always dropped.
        f.feed(&[f.changed(None)]);
        f.load().await;
        assert_eq!(f.cache.hits(), 3);
    }

    #[tokio::test]
    async fn a_write_the_feed_reports_before_its_answer_keeps_its_copy() {
        let f = fixture(true).await;
        f.caught_up();
        f.load().await;
        let (shared, id) = (&f.cache.shared, f.record.id);
        let write = async |n: u64| {
            shared.writing(id);
            let patch = set("n", n);
            let version = f.cache.inner().patch_data(id, &patch).await.unwrap();
            (patch, version.unwrap())
        };

        // The feed sees the write committed before the write's answer is in.
        let (patch, version) = write(1).await;
        f.feed(&[f.changed(Some(version))]);
        shared.written(id, Some((&patch, version)));
        let l = f.load().await;
        assert_eq!((f.cache.hits(), l.record.data["n"].as_u64()), (1, Some(1)));

        // A newer version than the write's was reported (another process
        // wrote right after): the copy goes.
        let (patch, version) = write(2).await;
        let elsewhere = f.cache.inner().patch_data(id, &set("x", 0)).await.unwrap();
        f.feed(&[f.changed(elsewhere)]);
        shared.written(id, Some((&patch, version)));
        f.load().await;
        assert_eq!(
            f.cache.hits(),
            1,
            "kept a copy older than a reported change"
        );

        // A write whose outcome is unknown (failed, cancelled): the copy goes.
        f.load().await;
        assert_eq!(f.cache.hits(), 2);
        shared.writing(id);
        shared.written(id, None);
        f.load().await;
        assert_eq!(
            f.cache.hits(),
            2,
            "kept a copy after a write of unknown outcome"
        );
    }

    #[tokio::test]
    async fn a_load_that_raced_a_change_is_not_cached() {
        let f = fixture(true).await;
        f.caught_up();
        let shared = &f.cache.shared;
        let loaded = f
            .cache
            .inner()
            .load(&f.token, &f.touch)
            .await
            .unwrap()
            .unwrap();
        let cached = || shared.entries.get(&f.token).is_some();

        let ticket = shared.seq.load(Ordering::Acquire);
        f.feed(&[f.changed(None)]);
        shared.fill(&f.token, &loaded, ticket);
        assert!(!cached(), "filled after a change the load may have missed");

        let ticket = shared.seq.load(Ordering::Acquire);
        f.feed(&[f.changed(Some(0))]);
        shared.fill(&f.token, &loaded, ticket);
        assert!(cached(), "a change the load saw (its version) refused it");

        let ticket = shared.seq.load(Ordering::Acquire);
        f.feed(&[f.changed(Some(1))]);
        shared.fill(&f.token, &loaded, ticket);
        assert!(!cached(), "an older row was cached after a newer change");

        let ticket = shared.seq.load(Ordering::Acquire);
        f.feed(&[Change::Flush]);
        f.caught_up();
        shared.fill(&f.token, &loaded, ticket);
        assert!(!cached(), "filled across a flush");
    }

    #[tokio::test]
    async fn a_feed_that_fails_or_lags_is_bypassed() {
        let f = fixture(true).await;
        f.caught_up();
        f.load().await;
        f.load().await;
        assert_eq!(f.cache.hits(), 1);

        f.feed(&[Change::Flush]);
        assert!(!f.cache.is_listening());
        f.load().await;
        f.load().await;
        assert_eq!(
            f.cache.hits(),
            1,
            "served from memory while the feed is down"
        );

        f.caught_up();
        f.load().await;
        f.load().await;
        assert_eq!(f.cache.hits(), 2);

        // Caught up long ago: lagging.
        f.cache
            .shared
            .caught_up
            .store(super::Clock::NEVER, Ordering::Release);
        let lag = f.cache.shared.config.max_lag;
        let long_ago = std::time::Instant::now() - lag * 4;
        f.feed(&[Change::CaughtUp { at: long_ago }]);
        assert!(!f.cache.is_listening());
        f.load().await;
        assert_eq!(f.cache.hits(), 2, "served from memory while the feed lags");
    }
}
