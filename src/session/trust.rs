//! Trusted devices: after a sign-in that passed a second factor, the app may
//! trust the browser for a while ([`Session::trust_device`]), so that the
//! user's next sign-in there can skip the second factor
//! ([`Session::is_trusted_device_for`]). The credential is a cookie of its
//! own (`__Host-trust`, `selector.validator`, only the validator's SHA-256
//! stored) that outlives sign-out; each sign-in that presents it replaces
//! its validator, and a replaced one presented again (after the grace
//! window) is refused and forgets that trust. A forgotten trust is refused
//! too: as a replay when its browser's cookie was expired then, quietly
//! when the browser kept it (forgotten from another device).

use super::{Session, now};
use crate::cookie::{CookieChange, CookieToken};
use crate::error::Error;
use crate::events::SessionEventKind;
use crate::store::devices::{self, DeviceRecords, TrustCheck, TrustedDevice};
use crate::token::RememberToken;
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// The trusted-device cookie of one request: as read, and what to send.
#[derive(Default)]
pub(super) struct TrustState {
    /// The credential the request carried, if well-formed.
    cookie: Option<RememberToken>,
    /// The request carried the cookie (well-formed or not).
    present: bool,
    /// A credential to send: `(token, its end, its user)`.
    new: Option<(RememberToken, OffsetDateTime, String)>,
    /// Expire the cookie.
    clear: bool,
}

impl TrustState {
    /// The cookie as the request carried it, with nothing to send yet.
    #[cfg(feature = "tower-sessions-import")]
    pub(super) fn as_read(&self) -> Self {
        Self {
            cookie: self.cookie.clone(),
            present: self.present,
            ..Self::default()
        }
    }

    /// The cookie change this request calls for.
    pub(super) fn cookie_change(&self) -> Option<CookieChange> {
        match (&self.new, self.clear && self.present) {
            (Some((token, end, _)), _) => Some(CookieChange::Set {
                value: token.encode(),
                max_age: Some((*end - OffsetDateTime::now_utc()).whole_seconds().max(0)),
            }),
            (None, true) => Some(CookieChange::Expire),
            (None, false) => None,
        }
    }
}

impl Session {
    /// The request's trusted-device cookie (set by the service).
    pub(crate) fn set_trust_cookie(&self, cookie: CookieToken<RememberToken>) {
        let mut st = self.state();
        st.trust.present = cookie.is_present();
        if let CookieToken::Valid(token) = cookie {
            st.trust.cookie = Some(token);
        }
    }

    /// The store's device records, or `Unsupported`.
    fn device_records(&self) -> Result<&dyn DeviceRecords, Error> {
        self.store()
            .extensions()
            .devices
            .ok_or(Error::Store(crate::store::Error::Unsupported(
                "trusted devices",
            )))
    }

    /// Trusts this browser for the signed-in user: the next sign-in of that
    /// user here may skip the second factor
    /// ([`is_trusted_device_for`](Self::is_trusted_device_for)) until the
    /// [trust's lifetime](crate::SessionLayer::with_trusted_device_lifetime)
    /// ends (30 days by default, not extended by use). Sends the
    /// `__Host-trust` cookie, which outlives sign-out.
    ///
    /// Granted only within minutes
    /// ([`with_trusted_device_grant_window`](crate::SessionLayer::with_trusted_device_grant_window))
    /// of a sign-in that passed a second factor
    /// ([`SignIn::with_second_factor`](crate::SignIn::with_second_factor)),
    /// never after a remember-me restore, never for an API client: `false`,
    /// and nothing done, otherwise.
    ///
    /// ```no_run
    /// use axum_user_sessions::{Session, SignIn};
    ///
    /// async fn code_ok(session: Session, user: String, trust: bool) -> Result<(), axum_user_sessions::Error> {
    ///     session.login_with(&user, SignIn::new("password").with_second_factor(true)).await?;
    ///     if trust {
    ///         session.trust_device().await?; // "Don't ask again on this device"
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub async fn trust_device(&self) -> Result<bool, Error> {
        self.ensure_loaded().await?;
        let now = now();
        let window = time::Duration::try_from(self.config().trust.grant_window)
            .unwrap_or(time::Duration::ZERO);
        let (id, user) = {
            let st = self.state();
            let Some(r) = st.record.as_ref() else {
                return Ok(false);
            };
            let fresh = r.authenticated_at.is_some_and(|at| now - at <= window);
            match (
                &r.user_id,
                fresh && r.second_factor && st.restored.is_none() && !st.api,
            ) {
                (Some(user), true) => (r.id, user.clone()),
                _ => return Ok(false),
            }
        };
        let store = self.device_records()?;
        let token = RememberToken::generate()?;
        let lifetime =
            time::Duration::try_from(self.config().trust.lifetime).unwrap_or(time::Duration::ZERO);
        let client = &self.inner.client;
        let device = TrustedDevice::new(
            token.selector,
            &token.validator_hash(),
            now,
            now + lifetime,
            Some(id),
        )
        .with_client(client.user_agent().map(str::to_owned), client.ip());
        let replaced = self.state().trust.cookie.as_ref().map(|t| t.selector);
        devices::update(store, &user, |d| {
            // This browser's earlier trust, if any, gives way to the new one
            // (its cookie is replaced: a copy of it is a replay).
            d.forget(now, |t| Some(t.selector) == replaced);
            d.cookie_expired(|t| Some(t.selector) == replaced);
            d.trust(device.clone(), now);
            ((), true)
        })
        .await?;
        let expires_at = device.expires_at;
        self.state().trust.new = Some((token, expires_at, user.clone()));
        self.emit_for(SessionEventKind::DeviceTrusted, Some(id), Some(user));
        Ok(true)
    }

    /// Whether this browser is trusted for the signed-in user (see
    /// [`is_trusted_device_for`](Self::is_trusted_device_for)); `false`
    /// for an anonymous request.
    pub async fn is_trusted_device(&self) -> Result<bool, Error> {
        self.ensure_loaded().await?;
        match self.user_id() {
            Some(user) => self.is_trusted_device_for(user).await,
            None => Ok(false),
        }
    }

    /// Whether this browser is trusted for `user_id`: ask it after the
    /// password, before asking for a second factor, and skip the code when
    /// it answers `true`. A credential that was rotated (a copied cookie)
    /// answers `false`, forgets that trust and raises
    /// [`TrustedDeviceReplayed`](SessionEventKind::TrustedDeviceReplayed);
    /// so does a forgotten one whose browser's cookie was expired then,
    /// while one forgotten from another device answers `false` quietly.
    /// `false` for a store without trusted devices.
    ///
    /// ```no_run
    /// use axum_user_sessions::{Session, SignIn};
    ///
    /// async fn password_ok(session: Session, user: String) -> Result<&'static str, axum_user_sessions::Error> {
    ///     if session.is_trusted_device_for(&user).await? {
    ///         session.login_with(&user, SignIn::new("password")).await?;
    ///         return Ok("signed in");
    ///     }
    ///     Ok("enter the code we sent you")
    /// }
    /// ```
    pub async fn is_trusted_device_for(&self, user_id: impl fmt::Display) -> Result<bool, Error> {
        let user = user_id.to_string();
        let cookie = {
            let st = self.state();
            if st.trust.new.as_ref().is_some_and(|(_, _, u)| *u == user) {
                return Ok(true);
            }
            st.trust.cookie.clone()
        };
        let (Some(cookie), Some(store)) = (cookie, self.store().extensions().devices) else {
            return Ok(false);
        };
        let Some((_, doc)) = store.load_devices(&user).await? else {
            return Ok(false);
        };
        match doc.check(
            &cookie.selector,
            &cookie.validator_hash(),
            now(),
            self.trust_grace(),
        ) {
            TrustCheck::Trusted(_) => Ok(true),
            TrustCheck::Unknown => Ok(false),
            TrustCheck::Replayed(id) => {
                self.trust_replayed(store, &user, id).await?;
                Ok(false)
            }
        }
    }

    /// How long a replaced validator is still accepted: the remember-me
    /// grace (tabs of one browser racing a sign-in).
    fn trust_grace(&self) -> time::Duration {
        time::Duration::try_from(self.config().remember.grace).unwrap_or(time::Duration::ZERO)
    }

    /// A replayed credential of trust `id`: forget it, expire the cookie,
    /// raise the event.
    async fn trust_replayed(
        &self, store: &dyn DeviceRecords, user: &str, id: Uuid,
    ) -> Result<(), Error> {
        let now = now();
        devices::update(store, user, |d| {
            let n = d.forget(now, |t| t.id == id);
            ((), d.cookie_expired(|t| t.id == id) || n > 0)
        })
        .await?;
        let mut st = self.state();
        st.trust.cookie = None;
        st.trust.clear = true;
        let session = st.record.as_ref().map(|r| r.id);
        drop(st);
        self.emit_for(
            SessionEventKind::TrustedDeviceReplayed,
            session,
            Some(user.to_owned()),
        );
        Ok(())
    }

    /// After a sign-in of `user` as session `id`: the failed sign-ins since
    /// the last one become those shown, and a trust credential of this
    /// browser gets a new validator (a replayed one forgets its trust). One
    /// read, and a write only when something changed. Failures are logged:
    /// the sign-in stands.
    pub(super) async fn devices_after_sign_in(&self, user: &str, id: Uuid) {
        let Some(store) = self.store().extensions().devices else {
            return;
        };
        if let Err(e) = self.after_sign_in(store, user, id).await {
            tracing::warn!(session.id = %id, error = %e, "updating the user's device records failed");
        }
    }

    async fn after_sign_in(
        &self, store: &dyn DeviceRecords, user: &str, id: Uuid,
    ) -> Result<(), Error> {
        let cookie = self.state().trust.cookie.clone();
        let rotated = match &cookie {
            Some(c) => Some(c.rotated()?),
            None => None,
        };
        let (now, grace) = (now(), self.trust_grace());
        let check = devices::update(store, user, |d| {
            let shifted = d.signed_in();
            let (Some(c), Some(r)) = (&cookie, &rotated) else {
                return ((TrustCheck::Unknown, None), shifted);
            };
            match d.check(&c.selector, &c.validator_hash(), now, grace) {
                TrustCheck::Trusted(t) => {
                    d.rotate(t, &r.validator_hash(), Some(id), now);
                    let end = d.trusted.iter().find(|x| x.id == t).map(|x| x.expires_at);
                    ((TrustCheck::Trusted(t), end), true)
                }
                TrustCheck::Replayed(t) => {
                    d.forget(now, |x| x.id == t);
                    d.cookie_expired(|x| x.id == t);
                    ((TrustCheck::Replayed(t), None), true)
                }
                TrustCheck::Unknown => ((TrustCheck::Unknown, None), shifted),
            }
        })
        .await?;
        match (check, rotated) {
            ((TrustCheck::Trusted(_), Some(end)), Some(token)) => {
                self.state().trust.new = Some((token, end, user.to_owned()));
            }
            ((TrustCheck::Replayed(_), _), _) => {
                let mut st = self.state();
                st.trust.cookie = None;
                st.trust.clear = true;
                drop(st);
                let kind = SessionEventKind::TrustedDeviceReplayed;
                self.emit_for(kind, Some(id), Some(user.to_owned()));
            }
            _ => {}
        }
        Ok(())
    }
}

impl Session {
    /// Expires this browser's trusted-device cookie, whose trust (of
    /// `user`'s) was just forgotten here, and records that in the trust
    /// ([`TrustedDevice::cookie_expired`]): a copy presented later is a
    /// replay, where this browser, had it kept its cookie, would present
    /// it in good faith. Used by the routes' "Forget" and "Sign out
    /// everywhere"; a failure to record it is logged.
    #[cfg(feature = "routes")]
    pub(crate) async fn expire_trust_cookie(&self, user: &str) {
        let selector = {
            let mut st = self.state();
            st.trust.new = None;
            st.trust.clear = true;
            st.trust.cookie.take().map(|c| c.selector)
        };
        let (Some(selector), Some(store)) = (selector, self.store().extensions().devices) else {
            return;
        };
        let expired =
            |d: &mut devices::UserDevices| ((), d.cookie_expired(|t| t.selector == selector));
        if let Err(e) = devices::update(store, user, expired).await {
            tracing::warn!(error = %e, "recording a forgotten trust's expired cookie failed");
        }
    }
}
