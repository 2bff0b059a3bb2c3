//! The compare-and-set loop of [`Protocol`]'s changes of credentials: read,
//! compute with [`Credentials`](crate::store::Credentials), swap on the
//! epoch read, and on a lost swap read again.

use super::Protocol;
use crate::store::error::Error;
use crate::store::storage::{Lookup, SessionStore, StoredSession};
use uuid::Uuid;

/// How many times a compare-and-set is tried (a first read and at most two
/// re-reads) before a call gives up on a contended session.
pub(super) const ATTEMPTS: usize = 3;

/// The outcome of one step of a compare-and-set loop.
pub(super) enum Step<T> {
    /// Done: the call's answer.
    Done(T),
    /// Store the credentials as the step changed them (and, with
    /// `with_record`, the record's fields) on the epoch read; then answer.
    Swap {
        /// Whether the record changed too (a version is counted).
        with_record: bool,
        /// The call's answer once stored.
        answer: T,
    },
}

impl<S: SessionStore> Protocol<S> {
    /// Reads session `id` (`None`: gone or revoked, and `gone` is the
    /// answer), lets `step` compute a change, and stores it with a
    /// compare-and-set on the epoch read; on a lost compare-and-set, reads
    /// again and recomputes, at most [`ATTEMPTS`] times in all.
    pub(super) async fn swap<T>(
        &self, id: Uuid, gone: T, step: impl FnMut(&mut StoredSession) -> Step<T> + Send,
    ) -> Result<T, Error>
    where
        T: Copy + Send,
    {
        self.try_swap(id, gone, step).await?.ok_or_else(contended)
    }

    /// [`swap`](Self::swap), its first attempt on `read`, a copy of session
    /// `id` the caller has just read (one round-trip less).
    pub(super) async fn swap_read<T>(
        &self, read: StoredSession, gone: T, step: impl FnMut(&mut StoredSession) -> Step<T> + Send,
    ) -> Result<T, Error>
    where
        T: Copy + Send,
    {
        let id = read.record.id;
        let attempt = self.attempt(id, Some(read), gone, step);
        attempt.await?.ok_or_else(contended)
    }

    /// [`swap`](Self::swap), answering `None` when every attempt lost its
    /// compare-and-set (for a caller that decides again on a fresh read).
    pub(super) async fn try_swap<T>(
        &self, id: Uuid, gone: T, step: impl FnMut(&mut StoredSession) -> Step<T> + Send,
    ) -> Result<Option<T>, Error>
    where
        T: Copy + Send,
    {
        self.attempt(id, None, gone, step).await
    }

    /// The loop of [`try_swap`](Self::try_swap), its first attempt on
    /// `read` when there is one.
    async fn attempt<T>(
        &self, id: Uuid, mut read: Option<StoredSession>, gone: T,
        mut step: impl FnMut(&mut StoredSession) -> Step<T> + Send,
    ) -> Result<Option<T>, Error>
    where
        T: Copy + Send,
    {
        for _ in 0..ATTEMPTS {
            let read = match read.take() {
                Some(s) => Some(s),
                None => self.storage.load(&Lookup::Id(id)).await?,
            };
            let Some(mut s) = read else {
                return Ok(Some(gone));
            };
            if s.record.revoked_at.is_some() {
                return Ok(Some(gone));
            }
            let epoch = s.epoch;
            match step(&mut s) {
                Step::Done(answer) => return Ok(Some(answer)),
                Step::Swap {
                    with_record,
                    answer,
                } => {
                    let record = with_record.then_some(&s.record);
                    let stored = self
                        .storage
                        .swap_credentials(id, epoch, &s.credentials, record)
                        .await?;
                    if stored {
                        return Ok(Some(answer));
                    }
                }
            }
        }
        Ok(None)
    }
}

/// A session that kept changing under a compare-and-set.
fn contended() -> Error {
    Error::unavailable("the session kept changing during a compare-and-set")
}
