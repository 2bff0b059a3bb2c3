//! Garbage collection: its settings, its report, the batch loop and the
//! background task. Run it through [`SessionAdmin::gc`] and
//! [`SessionAdmin::spawn_gc`].

use super::SessionAdmin;
use crate::error::Error;
use crate::store::SessionStore;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Garbage-collection settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcOptions {
    /// Rows deleted per statement (one short transaction each, no long
    /// locks). Default: 1,000.
    pub batch_size: u32,
    /// How long revoked rows are kept for audit ("who revoked what, when,
    /// why") before they are deleted. Default: 30 days. Expired rows are
    /// deleted at once.
    pub revoked_retention: Duration,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            batch_size: 1_000,
            revoked_retention: Duration::from_secs(30 * 24 * 60 * 60),
        }
    }
}

impl GcOptions {
    /// Sets the batch size (at least 1).
    pub fn with_batch_size(mut self, batch_size: u32) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Sets how long revoked rows are kept.
    pub fn with_revoked_retention(mut self, retention: Duration) -> Self {
        self.revoked_retention = retention;
        self
    }
}

/// What a garbage collection did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcReport {
    /// Rows deleted.
    pub deleted: u64,
    /// Batches run.
    pub batches: u32,
}

/// A background garbage collector, started by [`SessionAdmin::spawn_gc`].
/// Stop it with [`GcTask::shutdown`].
#[derive(Debug)]
pub struct GcTask {
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl GcTask {
    /// Stops the collector, letting a batch in progress finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

/// The batch loop: deletes expired sessions, and revoked ones past their
/// retention, until a batch comes back short. `progress` gets the running
/// total after each batch.
pub(super) async fn collect(
    store: &dyn SessionStore, options: &GcOptions, mut progress: impl FnMut(u64),
) -> Result<GcReport, Error> {
    let mut report = GcReport::default();
    loop {
        let now = OffsetDateTime::now_utc();
        let horizon = now - options.revoked_retention;
        let n = store.gc_batch(now, horizon, options.batch_size).await?;
        report.deleted += n;
        report.batches += 1;
        progress(report.deleted);
        if n < u64::from(options.batch_size) {
            return Ok(report);
        }
        tokio::task::yield_now().await;
    }
}

/// Runs [`collect`] every `every` (first run after one interval) until
/// [`GcTask::shutdown`]. Errors are logged and the next run tries again.
pub(super) fn spawn(store: Arc<dyn SessionStore>, every: Duration, options: GcOptions) -> GcTask {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => return,
            }
            match collect(store.as_ref(), &options, |_| {}).await {
                Ok(r) if r.deleted > 0 => {
                    tracing::info!(deleted = r.deleted, batches = r.batches, "session gc")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "session gc failed; retrying next run"),
            }
            if *stopped.borrow() {
                return;
            }
        }
    });
    GcTask { stop, handle }
}

/// Deletes expired sessions, and revoked ones past their retention, in
/// batches until none is left. `progress` is called after each batch with
/// the running total.
#[deprecated(
    since = "0.2.0",
    note = "use `SessionAdmin::new(store).gc(&options)`, or `gc_with_progress(&options, progress)`"
)]
pub async fn gc(
    store: &dyn SessionStore, options: &GcOptions, progress: impl FnMut(u64),
) -> Result<GcReport, Error> {
    collect(store, options, progress).await
}

/// Runs the garbage collection every `every` until [`GcTask::shutdown`].
#[deprecated(
    since = "0.2.0",
    note = "use `SessionAdmin::new(store).spawn_gc(every, options)`"
)]
pub fn spawn_gc(store: Arc<dyn SessionStore>, every: Duration, options: GcOptions) -> GcTask {
    spawn(store, every, options)
}

impl SessionAdmin {
    /// Deletes expired sessions, and revoked ones past their retention, in
    /// batches of [`GcOptions::batch_size`] until none is left. Safe to run
    /// on several app instances at once (Postgres skips rows another
    /// collector holds).
    pub async fn gc(&self, options: &GcOptions) -> Result<GcReport, Error> {
        self.gc_with_progress(options, |_| {}).await
    }

    /// [`gc`](Self::gc), calling `progress` after each batch with the
    /// number of rows deleted so far (for a progress bar).
    pub async fn gc_with_progress(
        &self, options: &GcOptions, progress: impl FnMut(u64),
    ) -> Result<GcReport, Error> {
        collect(self.store.as_ref(), options, progress).await
    }

    /// Starts a background collector: runs [`gc`](Self::gc) every `every`
    /// (first run after one interval) until [`GcTask::shutdown`]. Errors are
    /// logged and the next run tries again.
    ///
    /// ```no_run
    /// # async fn f(pool: sqlx::PgPool) {
    /// use axum_user_sessions::{GcOptions, SessionAdmin};
    /// use std::time::Duration;
    ///
    /// let admin = SessionAdmin::new(pool);
    /// let gc = admin.spawn_gc(Duration::from_secs(600), GcOptions::default());
    /// // ... serve the app ...
    /// gc.shutdown().await;
    /// # }
    /// ```
    pub fn spawn_gc(&self, every: Duration, options: GcOptions) -> GcTask {
        spawn(self.store.clone(), every, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::tests::session_of;
    use crate::store::MemoryStore;

    #[tokio::test]
    #[allow(deprecated)]
    async fn the_deprecated_free_functions_still_collect() {
        let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
        let hour = time::Duration::hours(1);
        session_of(store.as_ref(), "alice", -hour).await;
        session_of(store.as_ref(), "alice", hour).await;
        let mut seen = Vec::new();
        let options = GcOptions::default();
        let report = gc(store.as_ref(), &options, |n| seen.push(n))
            .await
            .unwrap();
        assert_eq!((report.deleted, report.batches, seen), (1, 1, vec![1]));
        let task = spawn_gc(store, Duration::from_secs(600), GcOptions::default());
        task.shutdown().await;
    }
}
