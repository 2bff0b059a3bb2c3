//! A user's trusted devices and failed sign-ins: listing, forgetting,
//! recording ([`SessionAdmin`]'s calls over the store's
//! [`DeviceRecords`](crate::store::DeviceRecords)).

use super::SessionAdmin;
use crate::client::ClientInfo;
use crate::error::Error;
use crate::events::{SessionEvent, SessionEventKind};
use crate::store::devices::{self, DeviceRecords, FailedSignIn, TrustedDevice};
use time::OffsetDateTime;
use uuid::Uuid;

/// What [`SessionAdmin::forget_trusted_devices`] forgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForgetTrust {
    /// Every trusted device of the user.
    All,
    /// Every one but the device that signed in with this session.
    AllBut(Uuid),
    /// The device that signed in with this session.
    Session(Uuid),
}

impl ForgetTrust {
    fn covers(&self, t: &TrustedDevice) -> bool {
        match *self {
            Self::All => true,
            Self::AllBut(id) => t.session_id != Some(id),
            Self::Session(id) => t.session_id == Some(id),
        }
    }
}

impl SessionAdmin {
    /// A handle whose [`revoke_user_sessions`](Self::revoke_user_sessions)
    /// keeps the user's trusted devices (by default it forgets them all but
    /// the kept session's: signing out everywhere, or a password change,
    /// asks every other device for the second factor again).
    pub fn keeping_trusted_devices(mut self) -> Self {
        self.keep_trust = true;
        self
    }

    /// The store's device records; `None` for a store without them.
    fn device_records(&self) -> Option<&dyn DeviceRecords> {
        self.store.extensions().devices
    }

    /// The user's trusted devices (trusted now: not expired, not
    /// forgotten), the oldest first. Empty on a store without them.
    pub async fn trusted_devices(&self, user_id: &str) -> Result<Vec<TrustedDevice>, Error> {
        let Some(store) = self.device_records() else {
            return Ok(Vec::new());
        };
        let now = OffsetDateTime::now_utc();
        Ok(match store.load_devices(user_id).await? {
            Some((_, d)) => d.live(now).cloned().collect(),
            None => Vec::new(),
        })
    }

    /// Forgets the user's trusted devices `which` names: their next sign-in
    /// asks for the second factor again. Emits
    /// [`TrustedDevicesForgotten`](SessionEventKind::TrustedDevicesForgotten)
    /// when it forgot any. How many it forgot (0 on a store without
    /// trusted devices).
    ///
    /// Signing a user out everywhere
    /// ([`revoke_user_sessions`](Self::revoke_user_sessions)) forgets them
    /// too, but the kept session's device, unless the handle says
    /// otherwise ([`keeping_trusted_devices`](Self::keeping_trusted_devices)).
    ///
    /// ```no_run
    /// # async fn f(admin: axum_user_sessions::SessionAdmin) -> Result<(), axum_user_sessions::Error> {
    /// use axum_user_sessions::ForgetTrust;
    /// let n = admin.forget_trusted_devices("42", ForgetTrust::All).await?;
    /// # Ok(()) }
    /// ```
    pub async fn forget_trusted_devices(
        &self, user_id: &str, which: ForgetTrust,
    ) -> Result<u64, Error> {
        let Some(store) = self.device_records() else {
            return Ok(0);
        };
        let now = OffsetDateTime::now_utc();
        let n = devices::update(store, user_id, |d| {
            let n = d.forget(now, |t| which.covers(t));
            (n, n > 0)
        })
        .await?;
        if n > 0 {
            let kind = SessionEventKind::TrustedDevicesForgotten { count: n };
            let id = match which {
                ForgetTrust::Session(id) => Some(id),
                _ => None,
            };
            self.emit(kind, id, user_id, now);
        }
        Ok(n)
    }

    /// Records a failed sign-in of `user_id` from `client` (pass the client
    /// as it should be kept: [`anonymize_ip`](crate::anonymize_ip) its IP
    /// if your app anonymises; [`Session::record_failed_sign_in`](crate::Session::record_failed_sign_in)
    /// does this for you, off the response path). Emits
    /// [`FailedSignIn`](SessionEventKind::FailedSignIn). Returns how many
    /// failed since the user's last successful sign-in (0 on a store
    /// without device records), for apps that throttle.
    pub async fn record_failed_sign_in(
        &self, user_id: &str, client: &ClientInfo,
    ) -> Result<u64, Error> {
        let Some(store) = self.device_records() else {
            return Ok(0);
        };
        let now = OffsetDateTime::now_utc();
        let ua = client.user_agent().map(|u| u.chars().take(512).collect());
        let attempt = FailedSignIn::new(now, client.ip(), ua);
        let count = devices::update(store, user_id, |d| {
            d.record_failed(attempt.clone());
            (d.failed.count, true)
        })
        .await?;
        self.emit(SessionEventKind::FailedSignIn { count }, None, user_id, now);
        Ok(count)
    }

    /// The user's failed sign-ins since their previous successful sign-in
    /// (the first ones kept, oldest first) and how many there were in all.
    pub async fn failed_sign_ins(&self, user_id: &str) -> Result<(Vec<FailedSignIn>, u64), Error> {
        let Some(store) = self.device_records() else {
            return Ok((Vec::new(), 0));
        };
        Ok(match store.load_devices(user_id).await? {
            Some((_, d)) => {
                let (list, count) = d.failed_since_previous_sign_in();
                (list.into_iter().cloned().collect(), count)
            }
            None => (Vec::new(), 0),
        })
    }

    fn emit(&self, kind: SessionEventKind, id: Option<Uuid>, user: &str, at: OffsetDateTime) {
        let mut event = SessionEvent::new(kind, id, Some(user.to_owned()), at);
        if let Some(client) = &self.client {
            event.ip = client.ip();
            event.user_agent = client.user_agent().map(str::to_owned);
        }
        self.events.emit(event);
    }
}
