//! Security and lifecycle events: a hook for the app, and `tracing`.

use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum SessionEventKind {
    /// A user signed in.
    Login,
    /// A user signed out.
    Logout,
    /// Sessions were revoked: one (`session_id` set) or several of a user.
    Revoked {
        /// Why: `"user"`, `"admin"`, `"password_change"`, `"token_reuse"`, ...
        reason: String,
        /// Who: a user id, or `"system"`.
        by: String,
        /// How many sessions.
        count: u64,
    },
    /// A new session token was issued by periodic rotation.
    Rotated,
    /// The client did not match the session's IP or User-Agent binding.
    BindingMismatch {
        /// `"ip"` or `"user_agent"` (or a custom binding's reason).
        check: String,
        /// Whether the session was refused (`Enforce`) or only logged.
        enforced: bool,
    },
    /// A superseded session token was replayed after the grace window: the
    /// session was revoked.
    TokenReuse,
    /// A session was re-opened from its remember-me credential.
    RememberRestored,
    /// A stale remember-me validator was presented: the session was revoked.
    RememberTheft,
    /// A sign-in from a browser and network not seen among the user's
    /// sessions still on record (the 200 most recently active).
    NewDevice {
        /// The device's name, e.g. "Firefox on Linux".
        device: String,
    },
    /// A request presented the token of a session past its idle or absolute
    /// timeout.
    Expired,
    /// A session token came on the other channel than the one it was
    /// issued for, and was refused (nothing written, the session not
    /// revoked): a browser's cookie token as `Authorization: Bearer`
    /// (`presented_as` `"bearer"`: a copied cookie, which suggests theft),
    /// or an API client's token as a cookie (`"cookie"`).
    WrongChannel {
        /// `"bearer"` or `"cookie"`: how the token came.
        presented_as: String,
    },
    /// The user trusted this device to skip the second factor
    /// ([`Session::trust_device`](crate::Session::trust_device)).
    DeviceTrusted,
    /// A trusted-device credential was presented after it was rotated (or
    /// with a wrong validator), or after its trust was forgotten on its
    /// own browser (which expired the cookie there): refused, and that
    /// trust forgotten. A copied cookie is the likely cause. (The browser
    /// of a trust forgotten from another device, presenting its own
    /// cookie, raises nothing.)
    TrustedDeviceReplayed,
    /// Trusted devices of the user were forgotten (by the user, sign-out
    /// everywhere, a password change).
    TrustedDevicesForgotten {
        /// How many.
        count: u64,
    },
    /// A sign-in of the user failed (a wrong password or code), as the app
    /// recorded it.
    FailedSignIn {
        /// Failed sign-ins since the user's last successful one, this one
        /// included.
        count: u64,
    },
}

impl SessionEventKind {
    /// A short name: `"login"`, `"token_reuse"`, ...
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

/// An event, with the session's public id (never a token) and the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SessionEvent {
    /// What happened.
    #[serde(flatten)]
    pub kind: SessionEventKind,
    /// The session's public id (`None` for bulk revocations).
    pub session_id: Option<Uuid>,
    /// The user concerned, if any.
    pub user_id: Option<String>,
    /// The client's IP (anonymised when configured), if known.
    pub ip: Option<IpAddr>,
    /// The client's User-Agent, if known.
    pub user_agent: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl SessionEvent {
    /// An event with no client details.
    pub fn new(
        kind: SessionEventKind, session_id: Option<Uuid>, user_id: Option<String>,
        at: OffsetDateTime,
    ) -> Self {
        Self {
            kind,
            session_id,
            user_id,
            ip: None,
            user_agent: None,
            at,
        }
    }
}

/// Receives [`SessionEvent`]s. Implemented for closures
/// `Fn(&SessionEvent) + Send + Sync`. Called inline on the request's task:
/// hand slow work (a database insert, a mail) to a channel or a spawned task.
///
/// ```
/// use axum_user_sessions::{MemoryStore, SessionEvent, SessionLayer};
///
/// let layer = SessionLayer::new(MemoryStore::new()).with_events(|e: &SessionEvent| {
///     println!("{}", serde_json::to_string(e).unwrap());
/// });
/// ```
pub trait SessionEvents: Send + Sync + 'static {
    /// Called once per event.
    fn on_event(&self, event: &SessionEvent);
}

impl<F> SessionEvents for F
where
    F: Fn(&SessionEvent) + Send + Sync + 'static,
{
    fn on_event(&self, event: &SessionEvent) {
        self(event)
    }
}

/// The hook a layer or admin handle sends events to.
#[derive(Clone, Default)]
pub(crate) struct EventSink(Option<Arc<dyn SessionEvents>>);

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "EventSink(hook)"
        } else {
            "EventSink(tracing)"
        })
    }
}

impl EventSink {
    pub(crate) fn new(hook: impl SessionEvents) -> Self {
        Self(Some(Arc::new(hook)))
    }

    /// Whether an app hook is registered (some events cost a query to compute).
    pub(crate) fn has_hook(&self) -> bool {
        self.0.is_some()
    }

    /// Logs the event and hands it to the hook.
    pub(crate) fn emit(&self, event: SessionEvent) {
        let session_id = event.session_id.map(|id| id.to_string());
        let security = matches!(
            event.kind,
            SessionEventKind::TokenReuse
                | SessionEventKind::RememberTheft
                | SessionEventKind::TrustedDeviceReplayed
                | SessionEventKind::BindingMismatch { enforced: true, .. }
                | SessionEventKind::WrongChannel { .. }
        );
        // One field list for both levels (a `tracing` level must be a constant).
        macro_rules! log_event {
            ($level:expr, $message:literal) => {
                tracing::event!(
                    target: "axum_user_sessions::events",
                    $level,
                    event = event.kind.name(),
                    session.id = session_id.as_deref().unwrap_or(""),
                    user.id = event.user_id.as_deref().unwrap_or(""),
                    detail = ?event.kind,
                    $message
                )
            };
        }
        if security {
            log_event!(tracing::Level::WARN, "security event");
        } else {
            log_event!(tracing::Level::INFO, "session event");
        }
        if let Some(hook) = &self.0 {
            hook.on_event(&event);
        }
    }
}

/// Truncates an address for storage: IPv4 to its /24, IPv6 to its /48.
pub fn anonymize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & 0xFFFF_FF00).into()),
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 80)).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymization() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(anonymize_ip(ip("203.0.113.77")), ip("203.0.113.0"));
        assert_eq!(
            anonymize_ip(ip("2001:db8:abcd:12:1::9")),
            ip("2001:db8:abcd::")
        );
    }

    #[test]
    fn names_are_the_serialized_kinds() {
        use SessionEventKind as K;
        let text = String::new;
        let kinds = [
            K::Login,
            K::Logout,
            K::Revoked {
                reason: text(),
                by: text(),
                count: 1,
            },
            K::Rotated,
            K::BindingMismatch {
                check: text(),
                enforced: true,
            },
            K::TokenReuse,
            K::RememberRestored,
            K::RememberTheft,
            K::NewDevice { device: text() },
            K::Expired,
            K::WrongChannel {
                presented_as: text(),
            },
            K::DeviceTrusted,
            K::TrustedDeviceReplayed,
            K::TrustedDevicesForgotten { count: 1 },
            K::FailedSignIn { count: 1 },
        ];
        let names: Vec<_> = kinds.iter().map(SessionEventKind::name).collect();
        // The names logs and apps match on: they never change.
        assert_eq!(
            names,
            [
                "login",
                "logout",
                "revoked",
                "rotated",
                "binding_mismatch",
                "token_reuse",
                "remember_restored",
                "remember_theft",
                "new_device",
                "expired",
                "wrong_channel",
                "device_trusted",
                "trusted_device_replayed",
                "trusted_devices_forgotten",
                "failed_sign_in",
            ]
        );
        for kind in &kinds {
            assert_eq!(serde_json::to_value(kind).unwrap()["kind"], kind.name());
        }
    }

    #[test]
    fn events_serialize_flat() {
        let e = SessionEvent::new(
            SessionEventKind::Revoked {
                reason: "user".into(),
                by: "alice".into(),
                count: 2,
            },
            None,
            Some("alice".into()),
            OffsetDateTime::UNIX_EPOCH,
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], "revoked");
        assert_eq!(v["count"], 2);
        assert_eq!(v["user_id"], "alice");
        assert_eq!(v["at"], "1970-01-01T00:00:00Z");
    }
}
