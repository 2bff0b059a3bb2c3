//! Failed sign-ins, recorded for their user off the response path: one
//! writer per user, which records in one write every attempt that waited
//! for it, so that a flood of one user's failures costs one write at a
//! time and delays nobody else's.

use super::Session;
use crate::admin::{FailedBatch, SessionAdmin};
use crate::client::ClientInfo;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use time::OffsetDateTime;

/// How many users' failed sign-ins may wait in one layer: past it (a
/// flood across that many users at once), an attempt of another user is
/// logged and not recorded, rather than wait without bound.
const USERS_WAITING: usize = 256;

/// How many of one user's waiting attempts keep their client (IP and
/// browser) and fire their event; those past it are counted only.
const CLIENTS_WAITING: usize = 64;

/// The failed sign-ins waiting to be recorded, by user (per layer). A user
/// has an entry while their writer runs.
#[derive(Clone, Default)]
pub(crate) struct FailedQueue(Arc<Mutex<HashMap<String, FailedBatch>>>);

impl fmt::Debug for FailedQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A count only: no user ids in logs.
        f.debug_struct("FailedQueue")
            .field("users", &self.map().len())
            .finish()
    }
}

/// What [`FailedQueue::push`] did with an attempt.
#[derive(Debug, PartialEq, Eq)]
enum Pushed {
    /// It waits for the user's running writer.
    Joined,
    /// It waits, and the caller must start the user's writer.
    Start,
    /// Too many users wait: it was dropped.
    Full,
}

impl FailedQueue {
    fn map(&self) -> MutexGuard<'_, HashMap<String, FailedBatch>> {
        // Never held across an await.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many users have failed sign-ins waiting or being written.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }

    fn push(&self, user: &str, at: OffsetDateTime, client: ClientInfo) -> Pushed {
        let mut map = self.map();
        let pushed = if map.contains_key(user) {
            Pushed::Joined
        } else if map.len() >= USERS_WAITING {
            return Pushed::Full;
        } else {
            Pushed::Start
        };
        let batch = map.entry(user.to_owned()).or_default();
        if batch.attempts.len() < CLIENTS_WAITING {
            batch.attempts.push((at, client));
        } else {
            batch.more += 1;
            batch.more_last_at = batch.more_last_at.max(Some(at));
        }
        pushed
    }

    /// What waits for `user`, taken; `None` (and the user's entry removed,
    /// in the same turn of the lock) when nothing does.
    fn take(&self, user: &str) -> Option<FailedBatch> {
        let mut map = self.map();
        let batch = map.get_mut(user)?;
        if batch.is_empty() {
            map.remove(user);
            return None;
        }
        Some(std::mem::take(batch))
    }
}

/// The writer of one user's failed sign-ins. Made before its task is
/// spawned, so that a task dropped early (never run, cancelled, a panic)
/// removes the user's entry: later attempts would otherwise join an entry
/// that nobody writes.
struct Writer {
    queue: FailedQueue,
    user: String,
    /// It saw the user's entry empty and removed it.
    done: bool,
}

impl Writer {
    /// Records what waits for the user until nothing does.
    async fn run(mut self, admin: SessionAdmin) {
        while let Some(batch) = self.queue.take(&self.user) {
            self.write(&admin, &batch).await;
        }
        self.done = true;
    }

    /// Records `batch`. A failure is logged, not tried again: the write may
    /// have committed before its answer was lost, and a second would count
    /// the same attempts twice.
    async fn write(&self, admin: &SessionAdmin, batch: &FailedBatch) {
        if batch.more > 0 {
            tracing::warn!(
                count = batch.more,
                "a flood of failed sign-ins for one user: counted without their clients"
            );
        }
        if let Err(e) = admin.record_failed_batch(&self.user, batch).await {
            let count = batch.attempts.len() as u64 + batch.more;
            tracing::warn!(error = %e, count, "failed sign-ins were not recorded");
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.done {
            self.queue.map().remove(&self.user);
        }
    }
}

impl Session {
    /// Records a failed sign-in (a wrong password or code) of `user_id` from
    /// this request's client (its IP anonymised when the layer is set to),
    /// for the user's "Your devices": the attempts since their previous
    /// successful sign-in are shown there, the first
    /// [`FAILED_SIGN_INS_KEPT`](crate::store::devices::FAILED_SIGN_INS_KEPT)
    /// kept with a count of all, and a
    /// [`FailedSignIn`](crate::SessionEventKind::FailedSignIn) event fires.
    ///
    /// The write happens in a task of its own, after this call returns, so
    /// that the answer's timing does not tell whether the user exists: call
    /// it for known users only (an unknown name has no list to show it in),
    /// and answer alike either way. The attempts of one user that come while
    /// their previous ones are written wait, and go in one write: a flood of
    /// one user's failures is counted in full without delaying anyone
    /// else's (past 64 waiting, they are counted without their client and
    /// fire no event). Nothing is recorded on a store without device
    /// records, outside a Tokio runtime, or while 256 users' failures wait
    /// in this layer (logged).
    ///
    /// ```no_run
    /// use axum_user_sessions::Session;
    ///
    /// async fn wrong_password(session: Session, user: String) -> &'static str {
    ///     session.record_failed_sign_in(&user);
    ///     "Wrong username or password."
    /// }
    /// ```
    pub fn record_failed_sign_in(&self, user_id: impl std::fmt::Display) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (queue, user) = (self.config().failed_queue.clone(), user_id.to_string());
        let now = OffsetDateTime::now_utc();
        // Its browser as it is kept (bounded, as what waits must be).
        let mut client = self.inner.client.clone();
        client.user_agent = client.user_agent.map(|u| u.chars().take(512).collect());
        match queue.push(&user, now, client) {
            Pushed::Joined => {}
            Pushed::Start => {
                let writer = Writer {
                    queue,
                    user,
                    done: false,
                };
                runtime.spawn(writer.run(self.admin()));
            }
            Pushed::Full => {
                tracing::warn!("too many users' failed sign-ins being recorded: one is not");
            }
        }
    }
}

#[cfg(test)]
mod tests;
