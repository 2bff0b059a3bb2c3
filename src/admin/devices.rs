//! A user's trusted devices: listing and forgetting them
//! ([`SessionAdmin`]'s calls over the store's
//! [`DeviceRecords`](crate::store::DeviceRecords)).

use super::SessionAdmin;
use crate::client::ClientInfo;
use crate::error::Error;
use crate::events::{SessionEvent, SessionEventKind};
use crate::store::devices::{self, DeviceRecords, TrustedDevice};
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

    /// The store's device records of `user_id`; `None` for a store
    /// without them, and for a user id holding U+0000, which names nobody
    /// (a sign-in refuses one, and Postgres cannot store one).
    pub(super) fn device_records(&self, user_id: &str) -> Option<&dyn DeviceRecords> {
        if user_id.contains('\0') {
            return None;
        }
        self.store.extensions().devices
    }

    /// The user's trusted devices (trusted now: not expired, not
    /// forgotten), the oldest first. Empty on a store without them.
    pub async fn trusted_devices(&self, user_id: &str) -> Result<Vec<TrustedDevice>, Error> {
        let Some(store) = self.device_records(user_id) else {
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
        let Some(store) = self.device_records(user_id) else {
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

    fn emit(&self, kind: SessionEventKind, id: Option<Uuid>, user: &str, at: OffsetDateTime) {
        self.emit_from(kind, id, user, at, self.client.as_ref());
    }

    /// Emits an event of `user` at `at`, from `client`'s IP and browser.
    pub(super) fn emit_from(
        &self, kind: SessionEventKind, id: Option<Uuid>, user: &str, at: OffsetDateTime,
        client: Option<&ClientInfo>,
    ) {
        let mut event = SessionEvent::new(kind, id, Some(user.to_owned()), at);
        if let Some(client) = client {
            event.ip = client.ip();
            event.user_agent = client.user_agent().map(str::to_owned);
        }
        self.events.emit(event);
    }
}
