//! Failed sign-ins, recorded for their user off the response path.

use super::Session;
use std::sync::{Arc, LazyLock};
use tokio::sync::Semaphore;

/// How many recordings may be in flight in this process: past it (a flood
/// of wrong passwords), an attempt is logged and not recorded, rather than
/// queue without bound.
const IN_FLIGHT: usize = 256;

static PERMITS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(IN_FLIGHT)));

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
    /// and answer alike either way. Nothing is recorded on a store without
    /// device records, outside a Tokio runtime, or past 256 recordings in
    /// flight in this process (a flood: logged).
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
        let Ok(permit) = PERMITS.clone().try_acquire_owned() else {
            tracing::warn!("too many failed sign-ins being recorded: one is not");
            return;
        };
        let (admin, user) = (self.admin(), user_id.to_string());
        let client = self.inner.client.clone();
        let queues = self.config().key_queues.clone();
        runtime.spawn(async move {
            let _permit = permit;
            // One at a time per user in this process: each compare-and-set
            // then wins at its first attempt (another process may still race).
            let _turn = queues
                .turn(uuid::Uuid::nil(), &format!("\0failed:{user}"))
                .await;
            if let Err(e) = admin.record_failed_sign_in(&user, &client).await {
                tracing::debug!(error = %e, "a failed sign-in was not recorded");
            }
        });
    }
}
