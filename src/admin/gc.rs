//! Garbage collection: its settings, its report, the batch loop and the
//! background task. Run it through [`SessionAdmin::gc`] and
//! [`SessionAdmin::spawn_gc`].

use super::SessionAdmin;
use crate::error::Error;
use crate::store::SessionProtocol;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Garbage-collection settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcOptions {
    /// Rows deleted per statement (one short transaction each, no long
    /// locks). Default: 1,000. A batch size of 0 counts as 1.
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

    /// Sets how long revoked rows are kept. A retention longer than the
    /// calendar can count back from now (`Duration::MAX`, four billion days)
    /// keeps revoked rows for ever; it never overflows.
    pub fn with_revoked_retention(mut self, retention: Duration) -> Self {
        self.revoked_retention = retention;
        self
    }

    /// The rows one statement deletes at most: [`batch_size`](Self::batch_size),
    /// at least 1 (the field is public: a 0 set on it would delete nothing
    /// and loop for ever).
    fn batch(&self) -> u32 {
        self.batch_size.max(1)
    }

    /// Revoked rows revoked before this time may be deleted at `now`. Never
    /// overflows: a retention reaching before 1970 keeps every revoked row.
    pub(crate) fn revoked_horizon(&self, now: OffsetDateTime) -> OffsetDateTime {
        time::Duration::try_from(self.revoked_retention)
            .ok()
            .and_then(|r| now.checked_sub(r))
            .filter(|h| *h > OffsetDateTime::UNIX_EPOCH)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
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
    /// Users' device records deleted: no trusted device left, no failed
    /// sign-in within the retention.
    pub device_records: u64,
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
    store: &dyn SessionProtocol, options: &GcOptions, mut progress: impl FnMut(u64),
) -> Result<GcReport, Error> {
    let mut report = GcReport::default();
    loop {
        let now = OffsetDateTime::now_utc();
        let horizon = options.revoked_horizon(now);
        let n = store.gc_batch(now, horizon, options.batch()).await?;
        report.deleted += n;
        report.batches += 1;
        progress(report.deleted);
        if n < u64::from(options.batch()) {
            report.device_records = collect_devices(store, options).await?;
            return Ok(report);
        }
        tokio::task::yield_now().await;
    }
}

/// The users' device records with no trust left and no failed sign-in
/// within the retention, in batches: how many it deleted.
async fn collect_devices(store: &dyn SessionProtocol, options: &GcOptions) -> Result<u64, Error> {
    let Some(devices) = store.extensions().devices else {
        return Ok(0);
    };
    let mut deleted = 0;
    loop {
        let now = OffsetDateTime::now_utc();
        let horizon = options.revoked_horizon(now);
        let n = devices
            .collect_devices(now, horizon, options.batch())
            .await?;
        deleted += n;
        if n < u64::from(options.batch()) {
            return Ok(deleted);
        }
        tokio::task::yield_now().await;
    }
}

/// Runs [`collect`] every `every` (first run after one interval) until
/// [`GcTask::shutdown`]. Errors are logged and the next run tries again.
pub(super) fn spawn(
    store: Arc<dyn SessionProtocol>, every: Duration, options: GcOptions,
) -> GcTask {
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
    store: &dyn SessionProtocol, options: &GcOptions, progress: impl FnMut(u64),
) -> Result<GcReport, Error> {
    collect(store, options, progress).await
}

/// Runs the garbage collection every `every` until [`GcTask::shutdown`].
#[deprecated(
    since = "0.2.0",
    note = "use `SessionAdmin::new(store).spawn_gc(every, options)`"
)]
pub fn spawn_gc(store: Arc<dyn SessionProtocol>, every: Duration, options: GcOptions) -> GcTask {
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

    #[test]
    fn a_huge_retention_keeps_everything_and_never_overflows() {
        let now = OffsetDateTime::now_utc();
        let days = |n: u64| Duration::from_secs(n * 86_400);
        let horizon = |r| {
            GcOptions::default()
                .with_revoked_retention(r)
                .revoked_horizon(now)
        };
        assert_eq!(horizon(days(30)), now - time::Duration::days(30));
        for huge in [days(4_000_000_000), Duration::MAX, days(365 * 60)] {
            assert_eq!(horizon(huge), OffsetDateTime::UNIX_EPOCH, "{huge:?}");
        }
    }

    #[tokio::test]
    async fn gc_and_stats_with_a_huge_retention_succeed() {
        let admin = SessionAdmin::new(MemoryStore::new());
        let options = GcOptions::default().with_revoked_retention(Duration::MAX);
        admin.gc(&options).await.unwrap();
        admin.stats(&options).await.unwrap();
    }

    #[tokio::test]
    async fn gc_collects_device_records_without_trust_or_recent_failures() {
        use crate::store::devices::{self, FailedSignIn, TrustedDevice};
        let admin = SessionAdmin::new(MemoryStore::new());
        let store = admin.store().extensions().devices.unwrap();
        let now = OffsetDateTime::now_utc();
        let hash = crate::store::TokenHash::from_bytes([1; 32]);
        for (user, end) in [
            ("ended", now - time::Duration::HOUR),
            ("live", now + time::Duration::HOUR),
        ] {
            let trust = TrustedDevice::new([1; 16], &hash, now, end, None);
            let add = |d: &mut devices::UserDevices| {
                d.trust(trust.clone(), now);
                ((), true)
            };
            devices::update(store, user, add).await.unwrap();
        }
        let fail = |d: &mut devices::UserDevices| {
            d.record_failed(FailedSignIn::new(now, None, None));
            ((), true)
        };
        devices::update(store, "failed", fail).await.unwrap();
        let report = admin.gc(&GcOptions::default()).await.unwrap();
        assert_eq!(report.device_records, 1);
        assert!(store.load_devices("ended").await.unwrap().is_none());
        assert!(store.load_devices("live").await.unwrap().is_some());
        assert!(
            store.load_devices("failed").await.unwrap().is_some(),
            "within the retention"
        );
    }

    #[tokio::test]
    #[allow(deprecated)]
    async fn the_deprecated_free_functions_still_collect() {
        let store: Arc<dyn SessionProtocol> = Arc::new(MemoryStore::new());
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
