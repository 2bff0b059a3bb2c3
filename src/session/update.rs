//! The atomic read-modify-write of one key: [`Session::update`], written at
//! once with a compare-and-set in the store, retried on conflict.

use super::{Session, now};
use crate::error::Error;
use crate::store::UpdateOutcome;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use uuid::Uuid;

/// How many compare-and-set attempts an update makes before it fails with
/// [`Error::UpdateConflict`].
///
/// Updates of a key take turns within a process (`crate::key_queue`), so an
/// attempt fails only when another process wrote the key since the value it
/// compares with was read: an update retries at most once per such write
/// made while it runs. The bound is that many writes of one key, at once,
/// from other instances. It is not smaller because an instance whose turns
/// follow each other closely can win several rounds in a row: with 50
/// concurrent increments on each of two instances, a few updates needed more
/// than 20 attempts (when a lost attempt held the row through a disk flush;
/// see `UPDATE_VALUE` in the Postgres store).
pub(crate) const MAX_ATTEMPTS: u32 = 64;

impl Session {
    /// Changes the value of `key` from what it is to `f(value)`, atomically,
    /// and returns the new value: no change made to the key by another
    /// request, in this app instance or another, is lost.
    ///
    /// ```
    /// # async fn f(session: axum_user_sessions::Session) -> Result<(), axum_user_sessions::Error> {
    /// let n = session.update("counter", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
    /// # let _ = n; Ok(()) }
    /// ```
    ///
    /// `f` gets the key's value (`None` when it is absent). Its result is
    /// written at once, not after the handler, with a compare-and-set: only
    /// if the key still holds what `f` was given. If another request changed
    /// it in between, `f` is called again with the fresh value. So `f` may
    /// run more than once: keep it free of side effects but for what it
    /// records in its captures, which end as the last call, the one written,
    /// left them (to learn, say, whether a decrement happened:
    /// `|n| { ok = n > 0; if ok { n - 1 } else { n } }`).
    ///
    /// In one app instance, updates of the same key of the same session take
    /// turns, each starting from the value the one before wrote, so they
    /// need no retry. An attempt fails only when another instance (or an
    /// [`insert`](Self::insert) written after a handler, or plain SQL) wrote
    /// the key in between: an update retries at most once per such write
    /// made while it runs, and gives up after 64 attempts with
    /// [`Error::UpdateConflict`] (`409`), having written nothing. Each
    /// attempt is one database round-trip.
    ///
    /// - **After an [`insert`](Self::insert) or [`remove`](Self::remove) of
    ///   the same key in this request** (not yet written: they are written
    ///   after the handler), the update starts from that change: `f` gets the
    ///   inserted value (or `None` after a remove), and its result is written
    ///   in place of the change, which is then no longer pending. As the
    ///   change would have at the end of the request, it overwrites what
    ///   other requests wrote to the key meanwhile; `f` runs once.
    /// - **A request without a session** gets one, created at once with the
    ///   value (and the request's other pending changes), and its cookie, as
    ///   a first [`insert`](Self::insert) would after the handler.
    /// - **A session that was logged out or revoked** meanwhile (by another
    ///   request) is not brought back: nothing is written, the call fails
    ///   with [`Error::SessionEnded`] (`401`), and the request continues as
    ///   anonymous, as when its after-handler write finds the session ended.
    /// - **The key holds something that is not a `T`:** a
    ///   [`Serde`](Error::Serde) error, and nothing is written.
    ///
    /// Afterwards [`get`](Self::get) returns the new value. A write made by
    /// `update` stays even if the handler then fails (like
    /// [`login`](Self::login)), while its pending `insert`s and `remove`s are
    /// dropped.
    pub async fn update<T, F>(&self, key: &str, f: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> T,
    {
        self.update_with(key, f, |v| serde_json::to_value(v).map(Some))
            .await
    }

    /// [`update`](Self::update) where `f` may also remove the key, by
    /// returning `None`; returns what `f` returned. Everything said of
    /// `update` holds; on a request without a session, a `None` writes
    /// nothing (there is nothing to keep, and no session is created).
    ///
    /// Removing a one-time value atomically (two concurrent requests cannot
    /// both get it):
    ///
    /// ```
    /// # async fn f(session: axum_user_sessions::Session) -> Result<(), axum_user_sessions::Error> {
    /// let mut taken = None;
    /// session
    ///     .update_or_remove("nonce", |nonce: Option<String>| {
    ///         taken = nonce;
    ///         None
    ///     })
    ///     .await?;
    /// # let _ = taken; Ok(()) }
    /// ```
    pub async fn update_or_remove<T, F>(&self, key: &str, f: F) -> Result<Option<T>, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> Option<T>,
    {
        self.update_with(key, f, |v| v.as_ref().map(serde_json::to_value).transpose())
            .await
    }

    /// The update, for an `f` whose result `encode` turns into the key's new
    /// JSON value (`None`: removed).
    async fn update_with<T: DeserializeOwned, U>(
        &self, key: &str, mut f: impl FnMut(Option<T>) -> U,
        encode: impl Fn(&U) -> Result<Option<Value>, serde_json::Error>,
    ) -> Result<U, Error> {
        super::limits::check_text(key)?;
        self.ensure_loaded().await?;
        let (id, pending, loaded) = {
            let st = self.state();
            let record = st.record.as_ref();
            let loaded = record.and_then(|r| r.data.get(key).cloned());
            (record.map(|r| r.id), st.changes.get(key).cloned(), loaded)
        };
        let Some(id) = id else {
            return self.update_new(key, pending, f, encode).await;
        };
        // The turn waits for this process's earlier updates of the key;
        // each of their store calls is bounded by the store timeout, their
        // sum is not: the wait is bounded too, so that behind a stuck store
        // every request answers `503` within the timeout.
        let limit = self.config().store_timeout;
        let turn = self.config().key_queues.turn(id, key);
        let mut turn = tokio::time::timeout(limit, turn)
            .await
            .map_err(|_| crate::store::Error::Timeout(limit))?;
        // The key's value in the store, as far as this process knows: what
        // the previous turn saw, or else this request's load.
        let mut current = turn.take().unwrap_or(loaded);
        // Over a pending change, `f`'s input does not depend on the store:
        // it runs once, and only the comparison is retried.
        let mut fixed: Option<(U, Option<Value>)> = None;
        for _ in 0..MAX_ATTEMPTS {
            let (out, new) = match fixed.take() {
                Some(done) => done,
                None => {
                    let input = pending.clone().unwrap_or_else(|| current.clone());
                    let out = f(input.map(serde_json::from_value).transpose()?);
                    let new = encode(&out)?;
                    self.check_write(key, new.as_ref())?;
                    (out, new)
                }
            };
            // Unknown until the store answers (it may fail, or this future
            // be dropped, after the write).
            *turn = None;
            let outcome = self
                .store()
                .update_value(id, key, current.as_ref(), new.as_ref())
                .await?;
            match outcome {
                UpdateOutcome::Updated { .. } => {
                    *turn = Some(new.clone());
                    self.updated(id, key, pending.as_ref(), new);
                    return Ok(out);
                }
                UpdateOutcome::Conflict { current: now_there } => {
                    *turn = Some(now_there.clone());
                    current = now_there;
                    if pending.is_some() {
                        fixed = Some((out, new));
                    }
                }
                UpdateOutcome::Gone => {
                    tracing::debug!(session.id = %id, "session ended during the request; update dropped");
                    self.state().ended_elsewhere();
                    return Err(Error::SessionEnded);
                }
            }
        }
        tracing::debug!(session.id = %id, attempts = MAX_ATTEMPTS, "update kept conflicting; given up");
        Err(Error::UpdateConflict(MAX_ATTEMPTS))
    }

    /// The update of a request without a session: a new one, holding the
    /// value.
    async fn update_new<T: DeserializeOwned, U>(
        &self, key: &str, pending: Option<Option<Value>>, mut f: impl FnMut(Option<T>) -> U,
        encode: impl Fn(&U) -> Result<Option<Value>, serde_json::Error>,
    ) -> Result<U, Error> {
        let input = pending.clone().flatten();
        let out = f(input.map(serde_json::from_value).transpose()?);
        let Some(new) = encode(&out)? else {
            // Nothing to keep, and no session to keep it in: the key is
            // absent, as after a `remove`.
            if pending.is_some() {
                self.state().changes.insert(key.to_owned(), None);
            }
            return Ok(out);
        };
        self.check_write(key, Some(&new))?;
        self.state().changes.insert(key.to_owned(), Some(new));
        if let Err(e) = self.create(self.new_record(now())).await {
            // `create` put the pending changes back: this one was not
            // written, and must not be written after the handler either.
            let mut st = self.state();
            match pending {
                Some(change) => st.changes.insert(key.to_owned(), change),
                None => st.changes.remove(key),
            };
            return Err(e);
        }
        Ok(out)
    }

    /// The update of `key` to `new` is written: the request's copy shows it,
    /// and the change it replaced (`pending`) is no longer pending.
    fn updated(&self, id: Uuid, key: &str, pending: Option<&Option<Value>>, new: Option<Value>) {
        let mut st = self.state();
        if st.changes.get(key) == pending {
            st.changes.remove(key);
        }
        if let Some(record) = st.record.as_mut().filter(|r| r.id == id).map(Arc::make_mut) {
            match new {
                Some(v) => record.data.insert(key.to_owned(), v),
                None => record.data.remove(key),
            };
        }
    }
}
