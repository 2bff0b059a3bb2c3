//! Sign-in state changes, written at once: sign-in (with or without
//! remember-me), re-authentication, explicit rotation, sign-out; and the
//! "new device" check after a sign-in.

use super::reissue::NewToken;
use super::{Session, now};
use crate::error::Error;
use crate::events::SessionEventKind;
use crate::store::{RememberCredential, Revocation, RevokeReason, RevokedBy, SignIn, placement};
use crate::token::RememberToken;
use std::fmt;
use std::sync::Arc;
use uuid::Uuid;

/// How many sessions beyond the session limit one sign-in reads, so revokes
/// at most: a user far over a newly set limit comes under it over a few
/// sign-ins, each a bounded query.
const LIMIT_EXCESS: u32 = 64;

/// How many of the user's most recently active sessions a sign-in compares
/// its device with, for the new-device event.
const NEW_DEVICE_WINDOW: u32 = 200;

/// What "the same browser" means for new-device detection: the parsed device
/// name when the `routes` feature (and its User-Agent parser) is on, the raw
/// User-Agent otherwise.
fn device_label(user_agent: Option<&str>) -> String {
    #[cfg(feature = "routes")]
    {
        crate::device::device_name(user_agent)
    }
    #[cfg(not(feature = "routes"))]
    {
        user_agent.unwrap_or("").to_owned()
    }
}

impl Session {
    /// Signs `user_id` in: records the user and `authenticated_at`, and issues
    /// a new token at once, with no grace for the old one (no session
    /// fixation). Accepts any id that displays as text: integers, strings,
    /// UUIDs.
    ///
    /// The session's data is kept when the session was anonymous or already
    /// belonged to this user. A session of another user is ended and a fresh
    /// one started, so that one user never inherits another's data.
    pub async fn login(&self, user_id: impl fmt::Display) -> Result<(), Error> {
        self.login_remember(user_id, false).await
    }

    /// [`login`](Self::login), and with `remember` on, "keep me signed in":
    /// a second, persistent cookie (`selector.validator`, only the validator's
    /// SHA-256 is stored) that re-opens this same session after the browser
    /// restarts or the session idles out, for the
    /// [remember-me lifetime](crate::SessionLayer::with_remember_lifetime)
    /// (30 days by default, not extended by use). Each use replaces the
    /// validator; a replaced validator presented after a short grace window
    /// is taken for theft and revokes the session.
    ///
    /// With `remember` off, a remember-me credential the session had is
    /// dropped.
    pub async fn login_remember(
        &self, user_id: impl fmt::Display, remember: bool,
    ) -> Result<(), Error> {
        self.login_remember_with(user_id, remember, SignIn::default())
            .await
    }

    /// [`login_remember`](Self::login_remember), recording `how` the user
    /// signed in ([`login_with`](Self::login_with)).
    pub async fn login_remember_with(
        &self, user_id: impl fmt::Display, remember: bool, how: SignIn,
    ) -> Result<(), Error> {
        self.login_inner(user_id.to_string(), &how).await?;
        // An API client has no remember-me cookie to keep.
        let remember = remember && !self.state().api;
        self.set_remember(remember).await
    }

    pub(super) async fn login_inner(&self, user_id: String, how: &SignIn) -> Result<(), Error> {
        super::limits::check_text(&user_id)?;
        self.sign_in(&user_id, how).await?;
        self.signed_in(user_id).await
    }

    /// After a sign-in of `user_id`: its event, the "new device" check and
    /// the session limit.
    pub(super) async fn signed_in(&self, user_id: String) -> Result<(), Error> {
        if let Some(id) = self.id() {
            self.emit_for(SessionEventKind::Login, Some(id), Some(user_id.clone()));
            self.devices_after_sign_in(&user_id, id).await;
            let hook = self.config().events.has_hook();
            let limit = self.config().max_sessions_per_user;
            if hook || limit.is_some() {
                // One bounded query for both: the user's most recently
                // active live sessions.
                let window = limit.map_or(0, |max| max.saturating_add(LIMIT_EXCESS));
                let window = if hook {
                    window.max(NEW_DEVICE_WINDOW)
                } else {
                    window
                };
                let live = self
                    .store()
                    .list_user_page(&user_id, now(), None, window)
                    .await?;
                if hook {
                    self.detect_new_device(id, &user_id, &live);
                }
                if let Some(max) = limit {
                    self.admin()
                        .enforce_session_limit(&user_id, id, &live, max)
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn sign_in(&self, user_id: &str, how: &SignIn) -> Result<(), Error> {
        self.ensure_loaded().await?;
        let now = now();
        let existing = self.state().record.as_ref().map(|r| {
            let same_user = r.user_id.is_none() || r.user_id.as_deref() == Some(user_id);
            (r.id, same_user)
        });
        if let Some((id, same_user)) = existing {
            if same_user {
                if self.reissue(NewToken::SignIn(user_id, how), now).await? {
                    return Ok(());
                }
            } else {
                self.store().delete(id).await?;
                let mut st = self.state();
                st.record = None;
                st.changes.clear();
            }
        }
        let mut record = self.new_record(now);
        record.id = placement::session_id(Some(user_id));
        record.user_id = Some(user_id.to_owned());
        record.authenticated_at = Some(now);
        record.sign_in_method.clone_from(&how.method);
        record.second_factor = how.second_factor;
        self.create(record).await
    }

    /// Gives the session a remember-me credential (`remember`) or drops the
    /// one it had.
    async fn set_remember(&self, remember: bool) -> Result<(), Error> {
        let cfg = self.config();
        let now = now();
        let Some((id, persistent)) = self.state().record.as_ref().map(|r| (r.id, r.persistent))
        else {
            return Ok(());
        };
        if remember {
            let token = RememberToken::generate()?;
            let credential = RememberCredential {
                selector: token.selector,
                validator: token.validator_hash(),
                expires_at: now + cfg.remember.lifetime,
            };
            let cleared = now + cfg.absolute_timeout;
            if self
                .store()
                .set_remember(id, Some(&credential), cleared, now)
                .await?
            {
                let mut st = self.state();
                if let Some(r) = st.record.as_mut().map(Arc::make_mut) {
                    r.persistent = true;
                    r.tokens_expire_at = r.tokens_expire_at.or(Some(r.absolute_expires_at));
                    r.absolute_expires_at = credential.expires_at;
                }
                st.new_remember = Some((token, credential.expires_at));
                st.clear_remember = false;
            }
        } else if persistent || self.inner.remember.is_present() {
            let cleared = now + cfg.absolute_timeout;
            self.store().set_remember(id, None, cleared, now).await?;
            let mut st = self.state();
            if let Some(r) = st.record.as_mut().map(Arc::make_mut) {
                r.persistent = false;
                r.absolute_expires_at = r.absolute_expires_at.min(cleared);
            }
            st.new_remember = None;
            st.clear_remember = true;
        }
        Ok(())
    }

    /// Proves the user again (after a password prompt): refreshes
    /// `authenticated_at` and issues a new token with no grace for the old one.
    /// Does nothing for a request without a session.
    ///
    /// It records a proof of an unknown kind: the sign-in method stays as
    /// it was, and the session no longer counts a second factor (a
    /// [`Reauth`](crate::Reauth) policy that asks for one refuses it until
    /// [`reauthenticate_with`](Self::reauthenticate_with) says one was used).
    pub async fn reauthenticate(&self) -> Result<(), Error> {
        self.ensure_loaded().await?;
        let method = self
            .state()
            .record
            .as_ref()
            .and_then(|r| r.sign_in_method.clone());
        let how = SignIn {
            method,
            second_factor: false,
        };
        self.reauthenticate_as(&how).await
    }

    /// A re-authentication that proved `how`.
    pub(super) async fn reauthenticate_as(&self, how: &SignIn) -> Result<(), Error> {
        self.ensure_loaded().await?;
        self.reissue(NewToken::Reauthenticate(how), now())
            .await
            .map(|_| ())
    }

    /// Issues a new token now, with no grace for the old one. Call it after a
    /// privilege change (e.g. the user became an admin). Does nothing for a
    /// request without a session.
    pub async fn rotate(&self) -> Result<(), Error> {
        self.ensure_loaded().await?;
        self.reissue(NewToken::Rotate, now()).await.map(|_| ())
    }

    /// "Sign out everywhere else": revokes every other session of the
    /// signed-in user (reason `user`, by the user), and gives this session a
    /// new token at once (no grace for the old one) and, when it is
    /// remembered, a new remember-me credential (same end), so that a copy of
    /// this device's cookies does not survive it either. The device itself
    /// stays signed in. Returns how many sessions were revoked; `0` (and
    /// nothing done) for a request without a signed-in session.
    ///
    /// This is what the ready-made `POST /revoke-others` route calls.
    /// [`SessionAdmin::revoke_user_sessions`](crate::SessionAdmin::revoke_user_sessions)
    /// with `keep` revokes the others only: it has no response to send this
    /// device's new cookies in.
    ///
    /// ```no_run
    /// use axum_user_sessions::Session;
    ///
    /// async fn sign_out_elsewhere(session: Session) -> Result<String, axum_user_sessions::Error> {
    ///     let n = session.revoke_other_sessions().await?;
    ///     Ok(format!("{n} other devices signed out"))
    /// }
    /// ```
    pub async fn revoke_other_sessions(&self) -> Result<u64, Error> {
        self.ensure_loaded().await?;
        let Some((id, Some(user), persistent, remember_end)) = self
            .state()
            .record
            .as_ref()
            .map(|r| (r.id, r.user_id.clone(), r.persistent, r.absolute_expires_at))
        else {
            return Ok(0);
        };
        let by = crate::store::RevokedBy::user(&user);
        let n = self
            .admin()
            .revoke_user_sessions(&user, Some(id), by, crate::store::RevokeReason::User)
            .await?;
        let now = now();
        if persistent {
            // A new selector first, then the new token: a copy of the old
            // cookie that restores before the selector changes gets a token
            // the reissue retires, and after it names nothing. (The other
            // order left a token restored in between current.)
            let token = RememberToken::generate()?;
            let credential =
                RememberCredential::new(token.selector, token.validator_hash(), remember_end);
            let cleared = now + self.config().absolute_timeout;
            if !self
                .store()
                .set_remember(id, Some(&credential), cleared, now)
                .await?
            {
                return Ok(n);
            }
            // Sent even if the reissue fails: the old selector is gone.
            let mut st = self.state();
            st.new_remember = Some((token, remember_end));
            st.clear_remember = false;
        }
        self.reissue(NewToken::Rotate, now).await?;
        Ok(n)
    }

    /// Signs out: ends the session in the store at once and expires the
    /// cookie. The request continues as anonymous.
    ///
    /// A signed-in session is revoked (reason `logout`), in one statement
    /// like a delete: it gives no access from then on, and stays listed as
    /// "Signed out" in the user's "Recently signed out" until garbage
    /// collection deletes it after the revoked-row retention
    /// ([`GcOptions`](crate::GcOptions)). An anonymous session is deleted.
    pub async fn logout(&self) -> Result<(), Error> {
        self.ensure_loaded().await?;
        let id = self.state().record.as_ref().map(|r| r.id);
        if let Some(id) = id {
            let user = self.user_id();
            match &user {
                Some(user) => {
                    let how = Revocation::new(RevokeReason::Logout, RevokedBy::user(user), now());
                    self.store()
                        .revoke(&crate::store::RevokeScope::session(id), &how)
                        .await?;
                }
                None => {
                    self.store().delete(id).await?;
                }
            }
            self.emit_for(SessionEventKind::Logout, Some(id), user);
        }
        let clear_cookie = self.inner.cookie.is_present() || id.is_some();
        self.state().end(clear_cookie);
        Ok(())
    }

    /// After a sign-in: "new device" when none of the user's other live
    /// sessions (`others`) has this browser and this network. Only when the
    /// app registered an event hook (the list costs one query).
    fn detect_new_device(&self, id: Uuid, user: &str, others: &[crate::store::SessionRecord]) {
        let client = &self.inner.client;
        let device = device_label(client.user_agent());
        let same_network = |ip: Option<std::net::IpAddr>| match (ip, client.ip()) {
            (Some(a), Some(b)) => crate::events::anonymize_ip(a) == crate::events::anonymize_ip(b),
            (a, b) => a == b,
        };
        let seen = others.iter().any(|r| {
            r.id != id && device_label(r.user_agent.as_deref()) == device && same_network(r.ip)
        });
        if !seen {
            self.emit_for(
                SessionEventKind::NewDevice { device },
                Some(id),
                Some(user.to_owned()),
            );
        }
    }
}
