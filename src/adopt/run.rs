//! One adoption, from taking tower-sessions' row to our session made (or
//! the row put back), in a task of its own: a request that goes away in
//! the middle (its client left) drops only its wait, never the adoption,
//! so a row once taken is always adopted or put back.

use super::join::Adopter;
use super::source;
use crate::client::ClientInfo;
use crate::session::{Session, now};
use std::sync::Arc;
use tokio::sync::watch;

/// What an adoption came to. (No `Debug`: it holds a token.)
#[derive(Clone)]
pub(super) enum Outcome {
    /// A session of ours, with this token, made for this client.
    Adopted(String, ClientInfo),
    /// Nothing to adopt: no row (unknown, forged, replayed), an expired or
    /// undecodable record, a refusal, or our write failed.
    Nothing,
    /// tower-sessions' table could not be read, or our store was out of
    /// reach or not set up (the row was put back): its cookie is kept, to
    /// try again on the next request.
    Retry,
}

/// An adoption's outcome, once there is one.
pub(super) type Watch = watch::Receiver<Option<Outcome>>;

impl Adopter {
    /// Starts the adoption of `id` into `session` (the request's that
    /// started it), marked with `generation`: it runs to its end whoever
    /// still waits, settles its marker, then tells the waiters. A panic in
    /// it comes to [`Outcome::Retry`].
    pub(super) fn spawn(self: &Arc<Self>, id: String, session: Session, generation: u64) -> Watch {
        let (tx, rx) = watch::channel(None);
        let adopter = Arc::clone(self);
        let run = {
            let (adopter, id) = (Arc::clone(self), id.clone());
            tokio::spawn(async move { adopter.adopt(&id, &session).await })
        };
        tokio::spawn(async move {
            let outcome = run.await.unwrap_or_else(|e| {
                // The message of a panic may quote anything: not logged.
                tracing::error!(
                    panicked = e.is_panic(),
                    "adopting a tower-sessions session failed: nothing adopted, to try again"
                );
                Outcome::Retry
            });
            adopter.settle(&id, generation, &outcome);
            tx.send_replace(Some(outcome));
        });
        rx
    }

    /// Takes `id`'s row and signs its user into `session`.
    async fn adopt(&self, id: &str, session: &Session) -> Outcome {
        let bytes = match self.import.source.take(id).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Outcome::Nothing,
            Err(e) => {
                tracing::warn!(error = %e, "tower-sessions' table could not be read: nothing adopted");
                return Outcome::Retry;
            }
        };
        let Some(record) = source::decode(id, &bytes) else {
            return Outcome::Nothing;
        };
        if record.expiry_date <= now() {
            tracing::debug!("an expired tower-sessions session was not adopted");
            return Outcome::Nothing;
        }
        let (data, expiry) = (record.data.clone(), record.expiry_date);
        // The app's code, in a task of its own: a panic in it puts the row
        // back rather than losing it.
        let mapping = Arc::clone(&self.import.mapping);
        let user = match tokio::spawn(async move { mapping(record).await }).await {
            Ok(user) => user,
            Err(e) => {
                // The message of a panic may quote anything: not logged.
                tracing::error!(
                    panicked = e.is_panic(),
                    "the app's tower-sessions mapping failed: the row is put back"
                );
                return self.put_back(id, &bytes, expiry).await;
            }
        };
        let Some(user) = user else {
            tracing::info!("the app refused a tower-sessions session: nothing adopted");
            return Outcome::Nothing;
        };
        match session.adopt(user, data).await {
            Ok(Some(token)) => Outcome::Adopted(token, session.client().clone()),
            Ok(None) => Outcome::Nothing,
            // Our store refused this session for a reason of its own (its
            // data, its user id): another try would fail alike, so the row
            // stays taken rather than be taken again by every request.
            Err(e) if !worth_retrying(&e) => {
                tracing::warn!(error = %e, "a tower-sessions session could not be adopted: nothing adopted");
                Outcome::Nothing
            }
            Err(e) => {
                tracing::warn!(error = %e, "a tower-sessions session could not be adopted");
                // Nobody else can hold the row: it goes back for the next
                // request, rather than signing the user out.
                self.put_back(id, &bytes, expiry).await
            }
        }
    }

    /// Puts `id`'s row back, to try again on the next request.
    async fn put_back(&self, id: &str, bytes: &[u8], expiry: time::OffsetDateTime) -> Outcome {
        match self.import.source.put_back(id, bytes, expiry).await {
            Ok(()) => Outcome::Retry,
            Err(e) => {
                tracing::warn!(error = %e, "a tower-sessions session could not be put back");
                Outcome::Nothing
            }
        }
    }
}

/// Whether an adoption that failed with `e` may work on a later request:
/// our store was out of reach or too slow, or is not set up (its tables
/// missing, misconfigured: the operator's fix makes it work).
fn worth_retrying(e: &crate::error::Error) -> bool {
    e.is_unavailable() || e.hint().is_some()
}
