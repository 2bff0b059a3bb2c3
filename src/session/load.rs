//! The lazy load: what the request's cookies name, once per request.
//!
//! A session token may be current, pending (a rotation's new token, promoted
//! on first use), superseded (by a rotation: accepted for the grace window,
//! then taken for theft) or retired (by a sign-in or restore: no access). With
//! no usable session token, a remember-me credential may re-open the session.
//! Either way the client binding is checked first.
//!
//! The three revocations made here (token reuse, remember-me token reuse,
//! binding mismatch) are the `Revocation::system` calls below.

use super::restored::reopened;
use super::{Session, now};
use crate::cookie::CookieToken;
use crate::error::Error;
use crate::events::SessionEventKind;
use crate::store::{
    Restore, Revocation, RevokeReason, RevokeScope, SessionRecord, TokenHash, TokenState,
    ValidatorStep,
};
use crate::token::RememberToken;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// How many times a remember-me restore decides again after losing its
/// compare-and-set to another restore of the same session.
const RESTORE_TRIES: usize = 8;

impl Session {
    /// Loads the session from the store, once per request.
    pub(crate) async fn ensure_loaded(&self) -> Result<(), Error> {
        self.inner
            .loaded
            .get_or_try_init(|| self.load())
            .await
            .map(|_| ())
    }

    async fn load(&self) -> Result<(), Error> {
        let now = now();
        let mut live = match &self.inner.cookie {
            CookieToken::Absent => None,
            CookieToken::Malformed => {
                self.state().clear_cookie = true;
                None
            }
            CookieToken::Valid(token) => {
                // Hashed once: the load and what follows it use the hash.
                let (id, hash) = (token.session(), token.hash());
                let live = match self.load_by_token(id, &hash, now).await? {
                    Some(usable) => self.accept_token(id, &hash, usable, now).await?,
                    None => None,
                };
                let mut st = self.state();
                st.clear_cookie = live.is_none() && !st.retired_token;
                live
            }
        };
        let may_restore = {
            let st = self.state();
            !st.binding_rejected && !st.late_retired
        };
        if live.is_none() && may_restore {
            match &self.inner.remember {
                CookieToken::Absent => {}
                CookieToken::Malformed => self.state().clear_remember = true,
                CookieToken::Valid(remember) => {
                    // Boxed: the rare path's state off every request's future.
                    live = Box::pin(self.restore(remember, now)).await?.map(Arc::new);
                }
            }
        }
        let mut st = self.state();
        if st.binding_rejected {
            st.clear_cookie = false;
        }
        st.cleared_at_load = st.clear_cookie || st.clear_remember;
        st.record = live;
        Ok(())
    }

    /// Checks the client binding of a session a token names, and only then
    /// writes what using it writes: the promotion of a pending token, or the
    /// touch that the load left out (a second round-trip, only with a
    /// binding and only when the touch is due). A refused request writes
    /// nothing but the revocation, if the policy revokes.
    async fn accept_token(
        &self, id: Option<Uuid>, hash: &TokenHash, usable: Usable, now: OffsetDateTime,
    ) -> Result<Option<Arc<SessionRecord>>, Error> {
        let Some(record) = self.check_binding(usable.record, now).await? else {
            return Ok(None);
        };
        match usable.token {
            TokenState::Pending => {
                self.store().promote(record.id, hash, now).await?;
                tracing::debug!(session.id = %record.id, "rotated session token promoted");
                Ok(Some(record))
            }
            TokenState::Current if self.checks_before_touching() => {
                let touch = self.touch(now);
                if !touch.is_due(&record, TokenState::Current) {
                    return Ok(Some(record));
                }
                // The same load, with the touch this time; a token that
                // changed state in between keeps the copy read first.
                Ok(match self.store().load(id, hash, &touch).await? {
                    Some(l) if l.token == TokenState::Current && l.record.id == record.id => {
                        Some(l.record)
                    }
                    _ => Some(record),
                })
            }
            _ => Ok(Some(record)),
        }
    }

    /// The session a session token (session `id` when it names one, and
    /// its `hash`) names, if the token may be used, handling rotation
    /// states; nothing written but revocations.
    async fn load_by_token(
        &self, id: Option<Uuid>, hash: &TokenHash, now: OffsetDateTime,
    ) -> Result<Option<Usable>, Error> {
        let cfg = self.config();
        let found = self.store().load(id, hash, &self.load_touch(now)).await?;
        if found
            .as_ref()
            .is_some_and(|l| self.refuses_legacy_session(&l.record))
        {
            return Ok(None);
        }
        Ok(match found {
            None => {
                tracing::debug!("session cookie names no session");
                None
            }
            // Retired (by a sign-in, perhaps one that moved the session to
            // a new id and ended the old): recognised whether or not its row
            // still lives, so that its response never expires the new cookie.
            Some(l)
                if !l.record.token_active(now)
                    && !matches!(l.token, TokenState::Retired { .. }) =>
            {
                tracing::debug!(session.id = %l.record.id, "session expired or revoked");
                if l.record.revoked_at.is_none() {
                    self.emit(SessionEventKind::Expired, &l.record);
                }
                None
            }
            Some(l) if l.record.api_client != self.inner.bearer => {
                // A browser's token in `Authorization`, or an API client's
                // in a cookie: each works only where it was issued. The
                // load's touch was for this channel only: nothing written.
                let presented_as = if self.inner.bearer {
                    "bearer"
                } else {
                    "cookie"
                };
                let kind = SessionEventKind::WrongChannel {
                    presented_as: presented_as.to_owned(),
                };
                self.emit(kind, &l.record);
                None
            }
            Some(l) => match l.token {
                TokenState::Current => {
                    let (at, pending) = (l.record.rotated_at, l.has_pending);
                    let mut st = self.state();
                    let moving = st.legacy.session && cfg.rotation.due_to_move(at, pending, now);
                    let due = moving || cfg.rotation.due(at, pending, now);
                    st.rotation_due = due.then_some(at);
                    drop(st);
                    Some(Usable::new(l.record, l.token))
                }
                TokenState::Pending => Some(Usable::new(l.record, l.token)),
                TokenState::Retired { at } => {
                    // A request that left before a sign-in (or re-auth) on
                    // this browser: anonymous, and its response must not
                    // expire the cookie the sign-in just set. Within the
                    // grace window (to its arrival, however long it waited
                    // to load) its writes create no session and its
                    // remember-me cookie (as old as it) restores nothing,
                    // unless the row's last step is a restore (remembered,
                    // no `authenticated_at`; a sign-in or re-auth sets it):
                    // that cookie may be the restore's own, kept by a late
                    // response (`restored.rs`). Judged at arrival.
                    let late = self.inner.arrived - at <= cfg.rotation.grace;
                    let by_restore = l.record.persistent && l.record.authenticated_at.is_none();
                    if !late {
                        tracing::warn!(
                            session.id = %l.record.id,
                            "retired session token presented (a token from before a sign-in)"
                        );
                    }
                    // Past it, its writes may start a session: a browser
                    // whose sign-in response was lost still holds it.
                    let mut st = self.state();
                    st.retired_token = true;
                    st.late_retired = late && !by_restore;
                    st.no_new_session = late;
                    None
                }
                TokenState::Superseded { at }
                    if self.presented_at(now) - at <= cfg.rotation.grace =>
                {
                    Some(Usable::new(l.record, l.token))
                }
                TokenState::Superseded { at } if self.inner.arrived - at <= cfg.rotation.grace => {
                    // Current when it arrived, but held past HELD_AT_MOST:
                    // no access earned by waiting, and no replay either.
                    // Anonymous, leaving the cookies and the session alone.
                    let mut st = self.state();
                    (st.retired_token, st.late_retired, st.no_new_session) = (true, true, true);
                    None
                }
                TokenState::Superseded { .. } => {
                    let how = Revocation::system(RevokeReason::TokenReuse, now);
                    self.store()
                        .revoke(&RevokeScope::session(l.record.id), &how)
                        .await?;
                    // A superseded token replayed after the grace window.
                    self.emit(SessionEventKind::TokenReuse, &l.record);
                    self.state().clear_remember = true;
                    None
                }
            },
        })
    }

    /// Re-opens the session of a remember-me credential with a new session
    /// token, rotating the validator in two phases: the current validator
    /// issues a pending one (sent with this response, if it is sent within
    /// the grace: `restored.rs`); the pending one,
    /// presented, becomes current; the one it replaced is accepted for the
    /// grace window after that. A wrong validator for a known selector (or
    /// the replaced one after its grace window) is theft: the session is
    /// revoked.
    async fn restore(
        &self, remember: &RememberToken, now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, Error> {
        let cfg = self.config();
        let presented = remember.validator_hash();
        let touch = self.touch(now);
        let grace = cfg.remember.grace;
        // A lost compare-and-set (another request rotated first) is decided
        // again on what the store now holds. The contenders are the
        // browser's own tabs opening at once after a restart, each of
        // which wins once and is done: `RESTORE_TRIES` rounds (each of up
        // to three compare-and-sets in the store) outlast a dozen tabs on a
        // loaded machine, where three rounds signed the last tab out.
        // The presented validator opened a restore in an earlier round:
        // found unknown since, other tabs replaced it meanwhile, no theft.
        let mut was_good = false;
        for _ in 0..RESTORE_TRIES {
            let Some(found) = self.store().find_remember(&remember.selector).await? else {
                if !self.state().retired_token {
                    self.state().clear_remember = true;
                }
                return Ok(None);
            };
            // A token retired within the grace restores only because the
            // row's last step was a restore (the Retired branch): only while
            // it still is, so a sign-in or re-auth since keeps its freshness,
            // and it expires no cookie (a sign-in may have just set one).
            let by_restore = {
                let st = self.state();
                st.retired_token && st.no_new_session
            };
            if by_restore && (found.record.authenticated_at.is_some() || !found.record.persistent) {
                return Ok(None);
            }
            if self.refuses_legacy_remember(&found.record)
                || !found.record.is_live(now)
                || found.expires_at <= now
            {
                self.state().clear_remember = !by_restore;
                return Ok(None);
            }
            // The binding is checked before anything is rotated: a refused
            // client leaves the credential as it was for its rightful holder.
            if self
                .check_binding(Arc::new(found.record.clone()), now)
                .await?
                .is_none()
            {
                return Ok(None);
            }
            let mut next = None;
            let step = if found.pending.is_some_and(|(p, _)| p.ct_eq(&presented)) {
                ValidatorStep::Promote { presented }
            } else if presented.ct_eq(&found.validator) {
                // A concurrent tab's restore issued a pending validator (its
                // response carries it), or just promoted this one.
                // At arrival (unbounded: the current validator grants access
                // anyway): replacing a pending one sent to this browser since
                // would make it a theft when presented.
                let arrived = self.inner.arrived;
                let issued = found.pending.is_some_and(|(_, at)| arrived - at <= grace);
                let promoted = found.previous.is_some() && arrived - found.rotated_at <= grace;
                if issued || promoted {
                    ValidatorStep::Keep { presented }
                } else {
                    let token = remember.rotated()?;
                    let step = ValidatorStep::Issue {
                        presented,
                        next: token.validator_hash(),
                        stale_before: arrived - grace,
                    };
                    next = Some(token);
                    step
                }
            } else if found.previous.is_some_and(|p| p.ct_eq(&presented))
                && self.inner.arrived - found.rotated_at <= grace
            {
                if self.presented_at(now) - found.rotated_at > grace {
                    return Ok(None); // held too long: no access, no theft
                }
                ValidatorStep::Keep { presented }
            } else if was_good {
                return Ok(None);
            } else {
                return self.remember_theft(&found.record, now).await;
            };
            was_good = true;
            let token = self.issue_token(found.record.id)?;
            let restore = Restore::new(token.hash(), now + cfg.absolute_timeout, step, now, touch);
            if self
                .store()
                .restore_remembered(found.record.id, &restore)
                .await?
            {
                if !matches!(step, ValidatorStep::Keep { .. }) {
                    self.emit(SessionEventKind::RememberRestored, &found.record);
                }
                let mut st = self.state();
                let reopened = reopened(&mut st, found.record, token, &restore, next.as_ref());
                st.new_remember = next.map(|next| (next, found.expires_at));
                return Ok(Some(reopened));
            }
        }
        Ok(None)
    }

    /// A stale or wrong validator for a known selector: theft.
    async fn remember_theft(
        &self, record: &SessionRecord, now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, Error> {
        let how = Revocation::system(RevokeReason::RememberTokenReuse, now);
        self.store()
            .revoke(&RevokeScope::session(record.id), &how)
            .await?;
        self.emit(SessionEventKind::RememberTheft, record);
        let mut st = self.state();
        st.clear_remember = true;
        st.clear_cookie = true;
        Ok(None)
    }
}

/// A session that a token may use, before its binding is checked. The
/// record stays shared, as the store loaded it, through every step of the
/// load and into the request's state: an `Arc` moves as a pointer (the
/// record inline was a third of the cached read's copies), and a cache's
/// copy is shared until the request changes it.
struct Usable {
    record: Arc<SessionRecord>,
    token: TokenState,
}

impl Usable {
    fn new(record: Arc<SessionRecord>, token: TokenState) -> Self {
        Self { record, token }
    }
}
