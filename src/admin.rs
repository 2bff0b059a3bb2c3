//! Operations: garbage collection and admin calls for an app's own admin
//! pages, jobs and the command-line tool.

use crate::Error;
use crate::events::{EventSink, SessionEvent, SessionEventKind};
use crate::store::{
    IntoSessionStore, Revocation, RevokeReason, RevokedBy, SessionRecord, SessionStore, StoreStats,
};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

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

/// Deletes expired sessions, and revoked ones past their retention, in
/// batches until none is left. Safe to run on several app instances at once
/// (Postgres skips rows another collector holds). `progress` is called after
/// each batch with the running total.
pub async fn gc(
    store: &dyn SessionStore,
    options: &GcOptions,
    mut progress: impl FnMut(u64),
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

/// A background garbage collector. Stop it with [`GcTask::shutdown`].
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

/// Runs [`gc`] every `every` (first run after one interval) until
/// [`GcTask::shutdown`]. Errors are logged and the next run tries again.
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
pub fn spawn_gc(store: Arc<dyn SessionStore>, every: Duration, options: GcOptions) -> GcTask {
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
            match gc(store.as_ref(), &options, |_| {}).await {
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

/// Admin operations on a store: for an app's admin pages and jobs (sign a
/// user out everywhere after a password reset), and the CLI. Every
/// revocation records who did it and why, and emits an event.
///
/// ```no_run
/// # async fn f(pool: sqlx::PgPool, current: uuid::Uuid) -> Result<(), axum_user_sessions::Error> {
/// use axum_user_sessions::{RevokeReason, RevokedBy, SessionAdmin};
///
/// let admin = SessionAdmin::new(pool);
/// // After a password change: sign out every other device (ASVS 3.3.3).
/// let by = RevokedBy::user(42);
/// let n = admin
///     .revoke_user_sessions("42", Some(current), by, RevokeReason::PasswordChange)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SessionAdmin {
    store: Arc<dyn SessionStore>,
    events: EventSink,
}

impl SessionAdmin {
    /// Admin calls on `store` (a pool or a store).
    pub fn new(store: impl IntoSessionStore) -> Self {
        Self {
            store: store.into_session_store(),
            events: EventSink::default(),
        }
    }

    pub(crate) fn with_sink(store: Arc<dyn SessionStore>, events: EventSink) -> Self {
        Self { store, events }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// A user's live sessions, most recently active first.
    pub async fn list_user(&self, user_id: &str) -> Result<Vec<SessionRecord>, Error> {
        Ok(self
            .store
            .list_user(user_id, OffsetDateTime::now_utc())
            .await?)
    }

    /// One session by public id, live or not.
    pub async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, Error> {
        Ok(self.store.get(id).await?)
    }

    /// Revokes one live session, recording who and why. `false` when there
    /// is no such live session.
    pub async fn revoke(
        &self,
        id: Uuid,
        by: RevokedBy,
        reason: RevokeReason,
    ) -> Result<bool, Error> {
        let now = OffsetDateTime::now_utc();
        let owner = self.store.get(id).await?.and_then(|r| r.user_id);
        let how = Revocation::new(reason, by, now);
        let done = self.store.revoke(id, None, &how).await?;
        if done {
            self.revoked(Some(id), owner, &how, 1);
        }
        Ok(done)
    }

    /// Revokes every live session of a user, except `keep` (the "after a
    /// password change, sign out other devices" case). Returns how many.
    pub async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
        by: RevokedBy,
        reason: RevokeReason,
    ) -> Result<u64, Error> {
        let how = Revocation::new(reason, by, OffsetDateTime::now_utc());
        let n = self.store.revoke_user_sessions(user_id, keep, &how).await?;
        if n > 0 {
            self.revoked(None, Some(user_id.to_owned()), &how, n);
        }
        Ok(n)
    }

    /// Revokes every live session of every user. Returns how many.
    pub async fn revoke_every_session(
        &self,
        by: RevokedBy,
        reason: RevokeReason,
    ) -> Result<u64, Error> {
        let how = Revocation::new(reason, by, OffsetDateTime::now_utc());
        let n = self.store.revoke_every_session(&how).await?;
        if n > 0 {
            self.revoked(None, None, &how, n);
        }
        Ok(n)
    }

    /// Revokes one live session. `false` when there is no such live session.
    #[deprecated(
        since = "0.2.0",
        note = "use `revoke(id, RevokedBy::operator(by), RevokeReason::other(reason))`: typed arguments cannot be swapped"
    )]
    pub async fn revoke_session(&self, id: Uuid, by: &str, reason: &str) -> Result<bool, Error> {
        self.revoke(id, RevokedBy::operator(by), RevokeReason::other(reason))
            .await
    }

    /// Revokes every live session of a user, except `keep`. Returns how many.
    #[deprecated(
        since = "0.2.0",
        note = "use `revoke_user_sessions` with `RevokedBy` and `RevokeReason`: typed arguments cannot be swapped"
    )]
    pub async fn revoke_user(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
        by: &str,
        reason: &str,
    ) -> Result<u64, Error> {
        self.revoke_user_sessions(
            user_id,
            keep,
            RevokedBy::operator(by),
            RevokeReason::other(reason),
        )
        .await
    }

    /// Revokes every live session of every user. Returns how many.
    #[deprecated(
        since = "0.2.0",
        note = "use `revoke_every_session` with `RevokedBy` and `RevokeReason`: typed arguments cannot be swapped"
    )]
    pub async fn revoke_everyone(&self, by: &str, reason: &str) -> Result<u64, Error> {
        self.revoke_every_session(RevokedBy::operator(by), RevokeReason::other(reason))
            .await
    }

    /// Live sessions, live users, and rows waiting for garbage collection
    /// under `options`.
    pub async fn stats(&self, options: &GcOptions) -> Result<StoreStats, Error> {
        let now = OffsetDateTime::now_utc();
        Ok(self
            .store
            .stats(now, now - options.revoked_retention)
            .await?)
    }

    /// Runs [`gc`] once.
    pub async fn gc(&self, options: &GcOptions) -> Result<GcReport, Error> {
        gc(self.store.as_ref(), options, |_| {}).await
    }

    /// Starts a background collector: see [`spawn_gc`].
    pub fn spawn_gc(&self, every: Duration, options: GcOptions) -> GcTask {
        spawn_gc(self.store.clone(), every, options)
    }

    fn revoked(&self, id: Option<Uuid>, user: Option<String>, how: &Revocation, count: u64) {
        self.events.emit(SessionEvent::new(
            SessionEventKind::Revoked {
                reason: how.reason.as_str().to_owned(),
                by: how.by.as_str().to_owned(),
                count,
            },
            id,
            user,
            how.at,
        ));
    }
}
