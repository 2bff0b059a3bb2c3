//! Operations: admin calls for an app's own admin pages, jobs, the
//! "Your devices" routes and the command-line tool, and garbage collection
//! ([`SessionAdmin::gc`], in `gc.rs`).
//!
//! [`SessionAdmin`] is the one owner of revocation: every revocation made on
//! purpose (by a user, an admin, an operator) goes through it, records who
//! and why, and emits a [`Revoked`](SessionEventKind::Revoked) event. (The
//! library's own automatic revocations on token reuse, binding mismatch and
//! remember-me theft happen where they are detected, in the session.)

mod devices;
mod failed;
mod gc;

pub use devices::ForgetTrust;
pub(crate) use failed::FailedBatch;

#[allow(deprecated)]
pub use gc::{GcOptions, GcReport, GcTask, gc, spawn_gc};

use crate::client::ClientInfo;
use crate::error::Error;
use crate::events::{EventSink, SessionEvent, SessionEventKind};
use crate::store::{
    IntoSessionStore, Revocation, RevokeReason, RevokeScope, RevokedBy, SessionProtocol,
    SessionRecord, StoreStats,
};
use crate::store::{Stale, siblings};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

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
    store: Arc<dyn SessionProtocol>,
    events: EventSink,
    /// The client of the request this handle acts for, if any: its IP and
    /// User-Agent go into the events.
    client: Option<ClientInfo>,
    /// Signing a user out everywhere keeps their trusted devices.
    keep_trust: bool,
}

impl SessionAdmin {
    /// Admin calls on `store` (a pool or a store).
    pub fn new(store: impl IntoSessionStore) -> Self {
        Self::with_sink(store.into_session_store(), EventSink::default())
    }

    pub(crate) fn with_sink(store: Arc<dyn SessionProtocol>, events: EventSink) -> Self {
        Self {
            store,
            events,
            client: None,
            keep_trust: false,
        }
    }

    /// Events from this handle carry `client`'s IP and User-Agent (a
    /// handle acting for a request).
    #[cfg_attr(not(feature = "routes"), allow(dead_code))]
    pub(crate) fn with_client(mut self, client: ClientInfo) -> Self {
        self.client = Some(client);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SessionProtocol> {
        &self.store
    }

    /// A user's live sessions, most recently active first, without their
    /// data (each record's `data` is empty). A user id holding U+0000 (which
    /// no session can have) has none, on every store.
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
    /// is no such live session (one whose timeouts ran out less than
    /// [`Revocation::CLOCK_ALLOWANCE`](crate::store::Revocation::CLOCK_ALLOWANCE)
    /// ago counts as live here: another instance's clock may still serve it).
    pub async fn revoke(
        &self, id: Uuid, by: RevokedBy, reason: RevokeReason,
    ) -> Result<bool, Error> {
        let how = revocation(reason, by)?;
        let owner = self.store.get(id).await?.and_then(|r| r.user_id);
        let done = self.store.revoke(&RevokeScope::session(id), &how).await? == 1;
        if done {
            siblings::changed(self.store.as_ref(), Stale::Session(id));
            self.revoked(Some(id), owner, &how, 1);
        }
        Ok(done)
    }

    /// Revokes one live session of `owner`, recording who and why. `false`
    /// when `owner` has no such live session (unknown, ended, or someone
    /// else's: the caller cannot tell which).
    #[cfg_attr(not(feature = "routes"), allow(dead_code))]
    pub(crate) async fn revoke_owned(
        &self, id: Uuid, owner: &str, by: RevokedBy, reason: RevokeReason,
    ) -> Result<bool, Error> {
        let how = Revocation::new(reason, by, OffsetDateTime::now_utc());
        let scope = RevokeScope::Session {
            id,
            owner: Some(owner),
        };
        let done = self.store.revoke(&scope, &how).await? == 1;
        if done {
            siblings::changed(self.store.as_ref(), Stale::Session(id));
            self.revoked(Some(id), Some(owner.to_owned()), &how, 1);
        }
        Ok(done)
    }

    /// An administrator, the signed-in user `admin`, revokes another user's
    /// live session, if `allowed(owner)` says so (reason
    /// [`RevokeReason::Admin`]). `false` when there is no such live session,
    /// when it is `admin`'s own, or when `allowed` refuses.
    #[cfg_attr(not(feature = "routes"), allow(dead_code))]
    pub(crate) async fn revoke_as_admin(
        &self, id: Uuid, admin: &str, allowed: impl FnOnce(&str) -> bool,
    ) -> Result<bool, Error> {
        let now = OffsetDateTime::now_utc();
        let owner = self.store.get(id).await?;
        let Some(owner) = owner.filter(|r| r.is_live(now)).and_then(|r| r.user_id) else {
            return Ok(false);
        };
        if owner == admin || !allowed(&owner) {
            return Ok(false);
        }
        let by = RevokedBy::user(admin);
        self.revoke_owned(id, &owner, by, RevokeReason::Admin).await
    }

    /// Revokes every live session of a user, except `keep` (the "after a
    /// password change, sign out other devices" case). Returns how many (0
    /// for a user id holding U+0000, which no session can have).
    pub async fn revoke_user_sessions(
        &self, user_id: &str, keep: Option<Uuid>, by: RevokedBy, reason: RevokeReason,
    ) -> Result<u64, Error> {
        let how = revocation(reason, by)?;
        if user_id.contains('\0') {
            return Ok(0);
        }
        let n = self
            .store
            .revoke(&RevokeScope::User { user_id, keep }, &how)
            .await?;
        if n > 0 {
            siblings::changed(self.store.as_ref(), Stale::User(user_id));
            self.revoked(None, Some(user_id.to_owned()), &how, n);
        }
        if !self.keep_trust {
            let which = keep.map_or(ForgetTrust::All, ForgetTrust::AllBut);
            self.forget_trusted_devices(user_id, which).await?;
        }
        Ok(n)
    }

    /// The layer's session limit, after `user` signed in on `keep`: of the
    /// user's other live sessions (`live`, most recently active first), all
    /// but the `max - 1` most recently active are revoked
    /// ([`RevokeReason::SessionLimit`], by the library), those that signed
    /// in after `keep` excepted (their own sign-in enforces the limit).
    /// Returns how many.
    pub(crate) async fn enforce_session_limit(
        &self, user: &str, keep: Uuid, live: &[SessionRecord], max: u32,
    ) -> Result<u64, Error> {
        let others = live.iter().filter(|r| r.id != keep);
        let allowed = usize::try_from(max.saturating_sub(1)).unwrap_or(usize::MAX);
        // Sign-ins that race (two devices, a form sent twice) each list the
        // other: each revokes only sessions that signed in before its own,
        // in one order both agree on (the sign-in's instant, then the id),
        // so the later stays and enforces the limit on the earlier.
        let rank = |r: &SessionRecord| (r.authenticated_at.unwrap_or(r.created_at), r.id);
        let ours = live
            .iter()
            .find(|r| r.id == keep)
            .map_or((OffsetDateTime::now_utc(), keep), rank);
        let mut n = 0;
        for record in others.skip(allowed).filter(|r| rank(r) < ours) {
            let how = Revocation::system(RevokeReason::SessionLimit, OffsetDateTime::now_utc());
            let scope = RevokeScope::Session {
                id: record.id,
                owner: Some(user),
            };
            if self.store.revoke(&scope, &how).await? == 1 {
                siblings::changed(self.store.as_ref(), Stale::Session(record.id));
                self.revoked(Some(record.id), Some(user.to_owned()), &how, 1);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Revokes every live session of every user. Returns how many.
    pub async fn revoke_every_session(
        &self, by: RevokedBy, reason: RevokeReason,
    ) -> Result<u64, Error> {
        let how = revocation(reason, by)?;
        let n = self.store.revoke(&RevokeScope::Everyone, &how).await?;
        if n > 0 {
            siblings::changed(self.store.as_ref(), Stale::Every);
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
        &self, user_id: &str, keep: Option<Uuid>, by: &str, reason: &str,
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
        Ok(self.store.stats(now, options.revoked_horizon(now)).await?)
    }

    /// Emits the `Revoked` event of a revocation, with the client, if any.
    fn revoked(&self, id: Option<Uuid>, user: Option<String>, how: &Revocation, count: u64) {
        let kind = SessionEventKind::Revoked {
            reason: how.reason.as_str().to_owned(),
            by: how.by.as_str().to_owned(),
            count,
        };
        let mut event = SessionEvent::new(kind, id, user, how.at);
        if let Some(client) = &self.client {
            event.ip = client.ip();
            event.user_agent = client.user_agent().map(str::to_owned);
        }
        self.events.emit(event);
    }
}

/// A revocation now, refused with [`Error::NulCharacter`] when the reason or
/// who holds U+0000 (Postgres text cannot, so no store gets it).
fn revocation(reason: RevokeReason, by: RevokedBy) -> Result<Revocation, Error> {
    if reason.as_str().contains('\0') || by.as_str().contains('\0') {
        return Err(Error::NulCharacter);
    }
    Ok(Revocation::new(reason, by, OffsetDateTime::now_utc()))
}

#[cfg(test)]
pub(crate) mod tests;
