//! The cache's bookkeeping: what each session's entries are, which writes
//! are in flight, and what the change feed reported (and the task that
//! drains it).

use super::*;

impl Shared {
    /// The feed caught up recently enough (or there is none). Asks a feed
    /// that reads on demand for a fresher view once this one is half the
    /// poll interval (or the lag) old: a cache that serves keeps its feed
    /// polling, an idle one lets it rest.
    pub(super) fn is_live(&self) -> bool {
        match self.feed.get() {
            None => false,
            Some(false) => true,
            Some(true) => {
                let lag = lag_nanos(&self.config);
                let age = match self.caught_up.load(Ordering::Acquire) {
                    Clock::NEVER => i64::MAX,
                    at => Clock::now().saturating_sub(at),
                };
                let poll = i64::try_from(self.config.poll_interval.as_nanos()).unwrap_or(i64::MAX);
                if age > lag.min(poll) / 2
                    && let Some(demand) = self.demand.get()
                {
                    demand.notify_one();
                }
                age <= lag
            }
        }
    }

    /// [`is_live`](Self::is_live), or else, when the view just got too old
    /// on a healthy feed (it caught up within twice the lag), the same
    /// question once the poll in flight is back (waiting at most the lag):
    /// a busy cache's reads wait a moment for the poll its feed is sending,
    /// instead of each going to the database while it runs. A feed that
    /// failed, or lags further, is not waited for.
    pub(super) async fn fresh(&self) -> bool {
        if self.is_live() {
            return true;
        }
        let lag = lag_nanos(&self.config);
        let healthy = self.feed.get() == Some(&true)
            && match self.caught_up.load(Ordering::Acquire) {
                Clock::NEVER => false,
                at => Clock::now().saturating_sub(at) <= lag.saturating_mul(2),
            };
        if !healthy {
            return false;
        }
        let caught = self.caught.notified();
        tokio::pin!(caught);
        // Registered before the second look: a catch-up in between wakes it.
        caught.as_mut().enable();
        if self.is_live() {
            return true;
        }
        let bound = self.config.max_lag.min(config::LAG_CEILING);
        let _ = tokio::time::timeout(bound, caught).await;
        self.is_live()
    }

    pub(super) fn book(&self) -> MutexGuard<'_, Book> {
        // The book is consistent between statements: keep going after a
        // panic elsewhere.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next count, for a change recorded under the book's lock.
    pub(super) fn next(&self, book: &mut Book) -> u64 {
        let now = Instant::now();
        book.prune(now);
        self.seq.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Drops the copy of session `id`, if any.
    pub(super) fn evict(&self, book: &mut Book, id: Uuid) {
        if let Some(token) = book.cached.remove(&id) {
            self.entries.invalidate(&token);
        }
    }

    /// Session `id` changed to `version` (`None`: in a way no copy survives).
    pub(super) fn changed(&self, book: &mut Book, id: Uuid, version: Option<u64>) {
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
    pub(super) fn forget(&self, id: Uuid) {
        let mut book = self.book();
        self.changed(&mut book, id, None);
    }

    pub(super) fn forget_user(&self, user_id: &str) {
        let mut book = self.book();
        book.floor = self.next(&mut book);
        for (token, copy) in &self.entries {
            if copy.record.user_id.as_deref() == Some(user_id) {
                book.cached.remove(&copy.record.id);
                self.entries.invalidate(&*token);
            }
        }
    }

    pub(super) fn flush(&self) {
        let mut book = self.book();
        self.clear(&mut book);
    }

    /// Drops every copy; loads running now will not be cached.
    pub(super) fn clear(&self, book: &mut Book) {
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
    pub(super) fn fill(&self, token: &TokenHash, loaded: &LoadedSession, ticket: u64) {
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
        self.keep(&mut book, *token, Arc::new(loaded.clone()));
        self.sweep(&mut book);
    }

    /// Serves `copy` under `token`, the one line of its session: a copy
    /// under another token (the session's before a rotation) goes, so that
    /// whatever forgets the session forgets every copy of it.
    pub(super) fn keep(&self, book: &mut Book, token: TokenHash, copy: Arc<LoadedSession>) {
        if let Some(older) = book.cached.insert(copy.record.id, token)
            && older != token
        {
            self.entries.invalidate(&older);
        }
        self.entries.insert(token, copy);
    }

    /// Sessions that left the cache on their own (LRU, time to live) leave
    /// their line in `cached`: swept after the feed's changes and after
    /// fills (a store without a feed has no changes), once the lines have
    /// doubled since the last sweep (and passed 1024): `cached` holds at
    /// most twice the copies there were at the last sweep (or 1024 lines),
    /// at a cost amortised over the fills.
    fn sweep(&self, book: &mut Book) {
        if book.cached.len() > book.sweep_above.max(1024) {
            book.cached
                .retain(|_, token| self.entries.contains_key(token));
            book.sweep_above = 2 * book.cached.len();
        }
    }

    /// Applies what the feed sent, in order.
    pub(super) fn apply(&self, changes: &[Change]) {
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
        if changes
            .iter()
            .any(|c| matches!(c, Change::CaughtUp { .. } | Change::Flush))
        {
            self.caught.notify_waiters();
        }
        self.sweep(&mut book);
    }
}

impl Book {
    pub(super) fn note(&mut self, seq: u64, id: Uuid, version: Option<u64>) {
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
    pub(super) fn prune(&mut self, now: Instant) {
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

/// Applies the feed's changes until the cache or the feed is gone.
pub(super) async fn drain(
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
