//! Devices as users see them: human names for User-Agents ("Firefox on
//! Linux", "Safari on iPhone") and [`DeviceView`], one session as "Your
//! devices" and the command-line tool show it.

use crate::store::{RevokeReason, SessionRecord};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// One session as "Your devices" lists it (its JSON is the routes' list
/// item) and the command-line tool prints it: no token, no hash, no data.
///
/// ```
/// use axum_user_sessions::DeviceView;
/// use axum_user_sessions::store::SessionRecord;
/// use time::OffsetDateTime;
///
/// let record = SessionRecord::new(uuid::Uuid::new_v4(), OffsetDateTime::now_utc());
/// let view = DeviceView::new(&record, Some(record.id));
/// assert!(view.current);
/// assert_eq!(view.device, "Unknown device");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeviceView {
    /// The session's public id (never its token).
    pub id: Uuid,
    /// Whether this is the session of the request that asked.
    pub current: bool,
    /// The name the user gave the device ("Work laptop"), if any; shown
    /// above [`device`](Self::device).
    pub name: Option<String>,
    /// The browser and system, from the User-Agent ([`device_name`]).
    pub device: String,
    /// The IP the session signed in from (where it was created), if
    /// known.
    pub ip: Option<String>,
    /// When the user signed in on this device (RFC 3339 in JSON).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the session was last used (RFC 3339 in JSON).
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    /// When the session ends unless used again; for a remembered device,
    /// when its remember-me credential ends (RFC 3339 in JSON).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Whether the device is remembered ("Remember me").
    pub persistent: bool,
    /// The IP the session was last used from
    /// ([`SessionRecord::last_ip`]), or, before its first touch since 0.1,
    /// the one it signed in from.
    pub last_ip: Option<String>,
    /// The place of `last_ip` ("Lisbon, Portugal"), when the app's
    /// [locator](crate::SessionLayer::with_locator) found one.
    pub location: Option<String>,
    /// How the user last proved who they are on this device (`"password"`,
    /// `"passkey"`, …; [`SignIn`](crate::SignIn)), if the app said.
    pub sign_in_method: Option<String>,
    /// Whether that proof included a second factor.
    pub second_factor: bool,
    /// An API client's session ([`SessionRecord::api_client`]): its
    /// [`device`](Self::device) reads "API client" unless its User-Agent is
    /// a browser's.
    pub api_client: bool,
    /// Whether the device may skip the second factor at its next sign-in
    /// ([`Session::trust_device`](crate::Session::trust_device)).
    pub trusted: bool,
}

impl DeviceView {
    /// The view of `record`; `current` is the id of the asking request's
    /// own session, if any.
    pub fn new(record: &SessionRecord, current: Option<Uuid>) -> Self {
        Self {
            id: record.id,
            current: current == Some(record.id),
            name: record.name.clone(),
            device: if record.api_client && !is_browser(record.user_agent.as_deref()) {
                "API client".into()
            } else {
                device_name(record.user_agent.as_deref())
            },
            ip: record.ip.map(|ip| ip.to_string()),
            created_at: record.created_at,
            last_seen_at: record.last_seen_at,
            // A remembered device stays signed in until its credential ends.
            expires_at: if record.persistent {
                record.absolute_expires_at
            } else {
                record.expires_at
            },
            persistent: record.persistent,
            last_ip: record.last_ip.or(record.ip).map(|ip| ip.to_string()),
            location: record.location.clone(),
            sign_in_method: record.sign_in_method.clone(),
            second_factor: record.second_factor,
            api_client: record.api_client,
            trusted: false,
        }
    }

    /// What the list calls this device: the name the user gave it, or else
    /// the parsed [`device`](Self::device). The one place the title is
    /// made (the built-in page and [`DeviceItem`](crate::routes::DeviceItem)).
    ///
    /// ```
    /// use axum_user_sessions::DeviceView;
    /// use axum_user_sessions::store::SessionRecord;
    ///
    /// let mut record = SessionRecord::new(uuid::Uuid::new_v4(), time::OffsetDateTime::now_utc());
    /// assert_eq!(DeviceView::new(&record, None).title(), "Unknown device");
    /// record.name = Some("Work laptop".into());
    /// assert_eq!(DeviceView::new(&record, None).title(), "Work laptop");
    /// ```
    pub fn title(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.device.clone())
    }
}

/// A failed sign-in, as the devices list shows it to its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FailedSignInView {
    /// When (RFC 3339 in JSON).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// From which IP (anonymised when configured), if known.
    pub ip: Option<String>,
    /// With which browser and system ([`device_name`]).
    pub device: String,
}

impl FailedSignInView {
    /// The view of `attempt`.
    pub fn new(attempt: &crate::store::devices::FailedSignIn) -> Self {
        Self {
            at: attempt.at,
            ip: attempt.ip.map(|ip| ip.to_string()),
            device: device_name(attempt.user_agent.as_deref()),
        }
    }
}

/// A session that ended, as "Recently signed out" lists it: the device as
/// it was, when and why it ended. It cannot be revoked again (the routes
/// answer `404`) and gives no access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EndedDeviceView {
    /// The device, as it was listed (`current` is always `false`).
    #[serde(flatten)]
    pub device: DeviceView,
    /// When it ended (RFC 3339 in JSON).
    #[serde(with = "time::serde::rfc3339")]
    pub ended_at: OffsetDateTime,
    /// Why, as a code: `logout`, `user` (from another device), `admin`,
    /// `expired`, `token_reuse`, `remember_token_reuse`, `session_limit`,
    /// `binding_mismatch`, `password_change`, or an app's own reason.
    pub reason: String,
    /// Why, in plain words ([`ended_reason_text`]).
    pub reason_text: String,
    /// Why, as the phrase the page shows.
    #[serde(skip)]
    pub(crate) kind: EndedReason,
}

impl EndedDeviceView {
    /// The view of `record`, a session that is no longer live.
    pub fn new(record: &SessionRecord) -> Self {
        let reason = match record.revoked_at {
            Some(_) => record
                .revoke_reason
                .clone()
                .unwrap_or_else(|| "other".into()),
            None => "expired".into(),
        };
        let by_owner = record.revoked_by.is_some() && record.revoked_by == record.user_id;
        let by_system = record.revoked_by.as_deref() == Some("system");
        Self {
            device: DeviceView::new(record, None),
            ended_at: record.ended_at(),
            reason_text: ended_reason_text(&reason, by_owner || by_system).into(),
            kind: EndedReason::of(&reason, by_owner || by_system),
            reason,
        }
    }
}

/// The plain words for why a session ended: `reason` is the stored code
/// (`"expired"` for a session that timed out); `by_owner_or_system`: the
/// user or the library ended it, not an administrator or an operator.
///
/// ```
/// use axum_user_sessions::ended_reason_text;
/// assert_eq!(ended_reason_text("token_reuse", true), "Signed out because a stolen token was used");
/// assert_eq!(ended_reason_text("lost_phone", false), "Signed out by an administrator");
/// ```
pub fn ended_reason_text(reason: &str, by_owner_or_system: bool) -> &'static str {
    EndedReason::of(reason, by_owner_or_system).english()
}

/// The phrases "Recently signed out" says why a session ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndedReason {
    SignedOut,
    SignedOutElsewhere,
    Admin,
    Expired,
    StolenToken,
    DeviceLimit,
    NetworkChanged,
    PasswordChanged,
}

impl EndedReason {
    /// The phrase for the stored `reason` code.
    pub(crate) fn of(reason: &str, by_owner_or_system: bool) -> Self {
        if reason == "expired" {
            return Self::Expired;
        }
        match RevokeReason::from_stored(reason) {
            RevokeReason::Logout => Self::SignedOut,
            RevokeReason::User => Self::SignedOutElsewhere,
            RevokeReason::Admin => Self::Admin,
            RevokeReason::TokenReuse | RevokeReason::RememberTokenReuse => Self::StolenToken,
            RevokeReason::SessionLimit => Self::DeviceLimit,
            RevokeReason::BindingMismatch => Self::NetworkChanged,
            RevokeReason::PasswordChange => Self::PasswordChanged,
            _ if !by_owner_or_system => Self::Admin,
            _ => Self::SignedOut,
        }
    }

    /// The English phrase (the default page's, and
    /// [`ended_reason_text`]'s).
    pub(crate) fn english(self) -> &'static str {
        match self {
            Self::SignedOut => "Signed out",
            Self::SignedOutElsewhere => "Signed out from another device",
            Self::Admin => "Signed out by an administrator",
            Self::Expired => "Expired",
            Self::StolenToken => "Signed out because a stolen token was used",
            Self::DeviceLimit => "Replaced by the device limit",
            Self::NetworkChanged => "Signed out because the network or browser changed",
            Self::PasswordChanged => "Signed out because the password changed",
        }
    }
}

/// A short, human name for the browser and system of a User-Agent, as shown
/// in "Your devices". Parsed with the `woothee` crate.
///
/// ```
/// use axum_user_sessions::device_name;
/// let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
/// assert_eq!(device_name(Some(ua)), "Firefox on Linux");
/// assert_eq!(device_name(None), "Unknown device");
/// ```
pub fn device_name(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|u| !u.trim().is_empty()) else {
        return "Unknown device".into();
    };
    let parsed = woothee::parser::Parser::new().parse(ua);
    let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
    match parsed {
        Some(r) if known(r.name) && known(r.os) => format!("{} on {}", r.name, os_name(r.os)),
        Some(r) if known(r.name) => r.name.to_owned(),
        Some(r) if known(r.os) => format!("Unknown browser on {}", os_name(r.os)),
        _ => "Unknown device".into(),
    }
}

/// Whether a User-Agent is a browser's (a known browser on a computer or a
/// phone), not a script's, a library's or a crawler's.
fn is_browser(user_agent: Option<&str>) -> bool {
    let Some(parsed) = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua)) else {
        return false;
    };
    parsed.name != woothee::woothee::VALUE_UNKNOWN
        && !parsed.name.is_empty()
        && matches!(parsed.category, "pc" | "smartphone" | "mobilephone")
}

fn os_name(os: &str) -> &str {
    match os {
        "Mac OSX" => "macOS",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_browsers() {
        let cases = [
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on Windows 10",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
        ];
        for (ua, want) in cases {
            assert_eq!(device_name(Some(ua)), want, "{ua}");
        }
        assert_eq!(device_name(Some("")), "Unknown device");
        assert_eq!(device_name(Some("\u{0}garbage\u{7f}")), "Unknown device");
    }

    #[test]
    fn api_clients() {
        let mut r = SessionRecord::new(Uuid::nil(), OffsetDateTime::UNIX_EPOCH);
        r.api_client = true;
        for ua in [
            None,
            Some("curl/8.5.0"),
            Some("okhttp/4.12.0"),
            Some("python-requests/2.31"),
        ] {
            r.user_agent = ua.map(str::to_owned);
            assert_eq!(DeviceView::new(&r, None).device, "API client", "{ua:?}");
        }
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        r.user_agent = Some(firefox.into());
        assert_eq!(DeviceView::new(&r, None).device, "Firefox on Linux");
    }

    #[test]
    fn view_of_a_record() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut r = SessionRecord::new(Uuid::nil(), now);
        r.ip = Some("203.0.113.7".parse().unwrap());
        r.expires_at = now + time::Duration::minutes(30);
        r.absolute_expires_at = now + time::Duration::days(30);
        let v = DeviceView::new(&r, None);
        assert!(!v.current);
        assert_eq!(v.expires_at, r.expires_at);
        r.persistent = true;
        let v = DeviceView::new(&r, Some(r.id));
        assert!(v.current);
        assert_eq!(
            v.expires_at, r.absolute_expires_at,
            "remembered: its credential's end"
        );
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(
            json,
            r#"{"id":"00000000-0000-0000-0000-000000000000","current":true,"name":null,"device":"Unknown device","ip":"203.0.113.7","created_at":"1970-01-01T00:00:00Z","last_seen_at":"1970-01-01T00:00:00Z","expires_at":"1970-01-31T00:00:00Z","persistent":true,"last_ip":"203.0.113.7","location":null,"sign_in_method":null,"second_factor":false,"api_client":false,"trusted":false}"#
        );
    }
}
