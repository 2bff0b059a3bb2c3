//! How the cache's copy of a session follows this process's own data
//! writes, including writes that overlap: each answer says the session's
//! version after it, so the copy applies the patches in version order,
//! whatever order their answers come back in, and is served again once it
//! holds every write that answered (and nothing newer was reported).

use super::*;

/// How long a load waits for this process's writes in flight on its
/// session ([`Shared::after_writes`]) before it asks the store.
const WRITE_WAIT: Duration = Duration::from_secs(1);

impl Shared {
    /// A data write on session `id` starts.
    pub(super) fn writing(&self, id: Uuid) {
        // Counted before its ticket is issued: a load that sees the ticket
        // sees the count.
        self.writes_in_flight.fetch_add(1, Ordering::AcqRel);
        let mut book = self.book();
        let since = self.seq.load(Ordering::Acquire);
        let w = book.writing.entry(id).or_insert_with(|| Writing {
            since,
            ..Writing::default()
        });
        w.tickets
            .push_back(self.tickets.fetch_add(1, Ordering::AcqRel) + 1);
    }

    /// The copy cached under `token`, once this process's data writes on
    /// its session that were in flight when the call began have ended (and
    /// the copy followed them), so that a request never reads a session
    /// from before a write an earlier request of this process is still
    /// making (two tabs, or a client that does not wait for its answers).
    /// `None`, for the store to answer, when there is no copy, or the
    /// writes took longer than [`WRITE_WAIT`].
    pub(super) async fn after_writes(&self, token: &TokenHash) -> Option<Arc<LoadedSession>> {
        let before = self.tickets.load(Ordering::Acquire);
        // No write of this process in flight: every write of a ticket up
        // to `before` has ended, its copy followed before the count went
        // down, so the copy read now is as new as it. The hot path: no
        // lock, no waiter.
        if self.writes_in_flight.load(Ordering::Acquire) == 0 {
            return self.entries.get(token);
        }
        let id = self.entries.get(token)?.record.id;
        let until = tokio::time::Instant::now() + WRITE_WAIT;
        loop {
            let wrote = self.wrote.notified();
            tokio::pin!(wrote);
            // Registered before the look: an end in between wakes it.
            wrote.as_mut().enable();
            let pending = self
                .book()
                .writing
                .get(&id)
                .is_some_and(|w| w.tickets.front().is_some_and(|t| *t <= before));
            if !pending {
                // Read after the look, so it holds what the writes it
                // waited for (or saw end) did to the copy.
                return self.entries.get(token);
            }
            tokio::time::timeout_at(until, wrote).await.ok()?;
        }
    }

    /// The data write on session `id` is over: `None` when its outcome is
    /// unknown (it failed, or was cancelled), else the patch it applied and
    /// the session's version after it. The copy takes the patches of the
    /// writes that answered, in version order; it is served while it holds
    /// every one of them and no newer version was reported, and goes when
    /// the last write is over and it still does not (another writer came
    /// between, or a write's outcome is unknown).
    pub(super) fn written(&self, id: Uuid, done: Option<(&DataPatch, u64)>) {
        self.finished(
            id,
            done.map_or(Finished::Unknown, |(p, v)| Finished::Wrote(p, v)),
        );
    }

    /// A compare-and-set on session `id` lost: it wrote nothing, and the
    /// copy is as right as it was.
    pub(super) fn not_written(&self, id: Uuid) {
        self.finished(id, Finished::Nothing);
    }

    /// A data write ended: the copy follows it, and the loads waiting for
    /// it look again.
    fn finished(&self, id: Uuid, done: Finished<'_>) {
        self.follow(id, done);
        // After the copy followed: a load that sees the count go down sees
        // the copy too.
        self.writes_in_flight.fetch_sub(1, Ordering::AcqRel);
        self.wrote.notify_waiters();
    }

    fn follow(&self, id: Uuid, done: Finished<'_>) {
        let mut book = self.book();
        let floor = book.floor;
        let seq = self.next(&mut book);
        match done {
            Finished::Wrote(_, version) => book.note(seq, id, Some(version)),
            // It may have landed: a load that read before it ended, and
            // fills after, must not cache what it read (without a feed,
            // nothing else would report the write).
            Finished::Unknown => book.note(seq, id, None),
            Finished::Nothing => {}
        }
        let cached = book
            .cached
            .get(&id)
            .and_then(|t| Some((*t, self.entries.get(t)?)));
        let Some(w) = book.writing.get_mut(&id) else {
            return self.evict(&mut book, id);
        };
        w.tickets.pop_front();
        w.lost |= floor > w.since;
        match done {
            // Postgres sets then removes, the other stores remove then set:
            // the same result unless a key is in both.
            Finished::Wrote(patch, version)
                if patch.remove.iter().all(|k| !patch.set.contains_key(k)) =>
            {
                w.done.push((version, patch.clone()));
            }
            Finished::Nothing => {}
            Finished::Wrote(..) | Finished::Unknown => w.lost = true,
        }
        let last = w.tickets.is_empty();
        let base = match w.parked.take() {
            Some(parked) => Some(parked),
            None => cached,
        };
        let followed = base.filter(|_| !w.lost).map(|(token, copy)| {
            let mut next = (*copy).clone();
            while let Some(i) = w
                .done
                .iter()
                .position(|(v, _)| *v == next.record.version + 1)
            {
                let (v, patch) = w.done.swap_remove(i);
                let record = Arc::make_mut(&mut next.record);
                patch.apply(&mut record.data);
                record.version = v;
            }
            w.done.retain(|(v, _)| *v > next.record.version);
            (token, next)
        });
        match followed {
            Some((token, next)) if w.done.is_empty() && next.record.version >= w.reported => {
                let serve = Arc::new(next);
                if last {
                    book.writing.remove(&id);
                }
                self.keep(&mut book, token, serve);
            }
            // A write answered for a version the copy cannot reach yet:
            // kept aside, unserved, for the answers still to come.
            Some((token, next)) if !last => {
                w.parked = Some((token, Arc::new(next)));
                self.evict(&mut book, id);
            }
            _ => {
                if last {
                    book.writing.remove(&id);
                }
                self.evict(&mut book, id);
            }
        }
    }
}

/// How a data write ended.
#[derive(Clone, Copy)]
enum Finished<'a> {
    /// Its outcome is unknown (it failed, or was cancelled).
    Unknown,
    /// It wrote nothing (a compare-and-set that lost).
    Nothing,
    /// It applied the patch, and the session is at this version.
    Wrote(&'a DataPatch, u64),
}

/// Forgets a session's copies when dropped, unless disarmed: a call that was
/// cancelled (its future dropped) may have changed the session.
pub(super) struct ForgetOnDrop<'a> {
    pub(super) cache: &'a CachedStore,
    pub(super) stale: Option<Stale<'a>>,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(stale) = self.stale.take() {
            self.cache.forget(stale);
        }
    }
}

/// Ends a data write whose call was cancelled: its outcome is unknown.
pub(super) struct WriteGuard<'a> {
    pub(super) shared: &'a Shared,
    pub(super) id: Uuid,
    pub(super) done: bool,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.shared.written(self.id, None);
        }
    }
}
