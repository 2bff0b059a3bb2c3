//! Binding a session to its client: IP address and User-Agent checks.

use crate::client::ClientInfo;
use crate::store::SessionRecord;
use std::fmt;
use std::net::IpAddr;

/// What a binding check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BindingMode {
    /// No check. The default for both IP and User-Agent.
    #[default]
    Off,
    /// Log a mismatch (`tracing` warning with the session's public id) and
    /// carry on.
    Log,
    /// A mismatch fails the session (see [`MismatchAction`]).
    Enforce,
}

impl std::str::FromStr for BindingMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(Self::Off),
            "log" => Ok(Self::Log),
            "enforce" => Ok(Self::Enforce),
            other => Err(format!("{other:?} is not off, log or enforce")),
        }
    }
}

/// What happens to a session whose enforced binding does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MismatchAction {
    /// The request is treated as anonymous; the session lives on for the
    /// client that matches. The default.
    #[default]
    Anonymous,
    /// The session is revoked (reason `binding_mismatch`): the legitimate
    /// user is signed out too. Strict, for high-value apps.
    Revoke,
}

/// The outcome of a binding check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindingCheck {
    /// The client matches (or nothing is checked).
    Accept,
    /// A mismatch to log; the session is used.
    Log(String),
    /// A mismatch that fails the session.
    Reject(String),
}

/// Decides whether the client of a request may use a session.
///
/// [`DefaultBinding`] covers IP and User-Agent; implement this trait, or pass
/// a closure, for anything else:
///
/// ```
/// use axum_user_sessions::{BindingCheck, ClientInfo, SessionLayer, MemoryStore};
/// use axum_user_sessions::store::SessionRecord;
///
/// let layer = SessionLayer::new(MemoryStore::new()).with_binding(
///     |session: &SessionRecord, client: &ClientInfo| {
///         if session.user_agent.as_deref() != client.user_agent() {
///             BindingCheck::Log("browser changed".into())
///         } else {
///             BindingCheck::Accept
///         }
///     },
/// );
/// ```
pub trait ClientBinding: Send + Sync + 'static {
    /// Checks `client` against what the session recorded at sign-in.
    fn check(&self, session: &SessionRecord, client: &ClientInfo) -> BindingCheck;
}

impl<F> ClientBinding for F
where
    F: Fn(&SessionRecord, &ClientInfo) -> BindingCheck + Send + Sync + 'static,
{
    fn check(&self, session: &SessionRecord, client: &ClientInfo) -> BindingCheck {
        self(session, client)
    }
}

/// IP and User-Agent binding, each off, logged or enforced.
///
/// Trade-offs: IP binding breaks sessions of users whose address changes
/// (mobile networks, Wi-Fi to cellular, IPv6 privacy addresses), which the
/// prefix comparison (/24 for IPv4, /64 for IPv6 by default) softens, and
/// gives little against attackers behind the same NAT. User-Agent binding
/// costs nothing but changes on every browser update, and any attacker can
/// copy a User-Agent. Both are therefore off by default; `Log` shows what
/// `Enforce` would do before you turn it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultBinding {
    /// IP check.
    pub ip: BindingMode,
    /// User-Agent check.
    pub user_agent: BindingMode,
    /// IPv4 addresses match when their first `ipv4_prefix` bits do (default 24).
    pub ipv4_prefix: u8,
    /// IPv6 addresses match when their first `ipv6_prefix` bits do (default 64).
    pub ipv6_prefix: u8,
}

impl Default for DefaultBinding {
    fn default() -> Self {
        Self {
            ip: BindingMode::Off,
            user_agent: BindingMode::Off,
            ipv4_prefix: 24,
            ipv6_prefix: 64,
        }
    }
}

impl DefaultBinding {
    /// Whether two addresses are in the same network at the configured prefix.
    pub fn same_network(&self, a: IpAddr, b: IpAddr) -> bool {
        match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let p = u32::from(self.ipv4_prefix.min(32));
                let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let p = u32::from(self.ipv6_prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

impl ClientBinding for DefaultBinding {
    fn check(&self, session: &SessionRecord, client: &ClientInfo) -> BindingCheck {
        let mut result = BindingCheck::Accept;
        let mut note = |mode: BindingMode, what: &str| match mode {
            BindingMode::Off => {}
            BindingMode::Log => {
                if result == BindingCheck::Accept {
                    result = BindingCheck::Log(what.to_owned());
                }
            }
            BindingMode::Enforce => result = BindingCheck::Reject(what.to_owned()),
        };
        if self.ip != BindingMode::Off
            && let Some(was) = session.ip
        {
            // An unknown client address (no `ConnectInfo`) cannot match.
            if !client.ip().is_some_and(|now| self.same_network(was, now)) {
                note(self.ip, "ip");
            }
        }
        if self.user_agent != BindingMode::Off
            && session.user_agent.as_deref() != client.user_agent()
        {
            note(self.user_agent, "user_agent");
        }
        result
    }
}

/// The binding a layer uses.
#[derive(Clone)]
pub(crate) enum Binding {
    Default(DefaultBinding),
    Custom(std::sync::Arc<dyn ClientBinding>),
}

impl fmt::Debug for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default(d) => d.fmt(f),
            Self::Custom(_) => f.write_str("CustomBinding"),
        }
    }
}

impl Binding {
    /// Whether a check can refuse a client (an enforced check, or a custom
    /// binding): then a load must not write before the check.
    pub(crate) fn may_refuse(&self) -> bool {
        match self {
            Self::Default(d) => {
                d.ip == BindingMode::Enforce || d.user_agent == BindingMode::Enforce
            }
            Self::Custom(_) => true,
        }
    }

    /// Whether a check can refuse or log anything (the default binding with
    /// both checks off cannot).
    pub(crate) fn is_active(&self) -> bool {
        match self {
            Self::Default(d) => d.ip != BindingMode::Off || d.user_agent != BindingMode::Off,
            Self::Custom(_) => true,
        }
    }

    pub(crate) fn check(&self, session: &SessionRecord, client: &ClientInfo) -> BindingCheck {
        match self {
            _ if !self.is_active() => BindingCheck::Accept,
            Self::Default(d) => d.check(session, client),
            Self::Custom(c) => c.check(session, client),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn rec(ip: &str, ua: &str) -> SessionRecord {
        let mut r = SessionRecord::new(uuid::Uuid::nil(), OffsetDateTime::UNIX_EPOCH);
        r.ip = Some(ip.parse().unwrap());
        r.user_agent = Some(ua.into());
        r
    }

    fn client(ip: &str, ua: &str) -> ClientInfo {
        ClientInfo::new(Some(ip.parse().unwrap()), Some(ua.into()))
    }

    #[test]
    fn prefixes() {
        let b = DefaultBinding::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(b.same_network(ip("192.0.2.1"), ip("192.0.2.254")));
        assert!(!b.same_network(ip("192.0.2.1"), ip("192.0.3.1")));
        assert!(b.same_network(ip("2001:db8:1:2::1"), ip("2001:db8:1:2:ffff::9")));
        assert!(!b.same_network(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1")));
        assert!(!b.same_network(ip("192.0.2.1"), ip("2001:db8::1")));
        let exact = DefaultBinding {
            ipv4_prefix: 32,
            ipv6_prefix: 128,
            ..b
        };
        assert!(!exact.same_network(ip("192.0.2.1"), ip("192.0.2.2")));
        let any = DefaultBinding {
            ipv4_prefix: 0,
            ipv6_prefix: 0,
            ..b
        };
        assert!(any.same_network(ip("1.1.1.1"), ip("9.9.9.9")));
    }

    #[test]
    fn modes() {
        use BindingCheck::{Accept, Log, Reject};
        use BindingMode::{Enforce, Log as LogMode, Off};
        let r = rec("192.0.2.1", "Firefox");
        let off = DefaultBinding::default();
        // (ip mode, user-agent mode, client ip, client user agent, verdict)
        let cases = [
            (Off, Off, "9.9.9.9", "curl", Accept),
            (LogMode, LogMode, "9.9.9.9", "Firefox", Log("ip".into())),
            (LogMode, LogMode, "192.0.2.9", "Firefox", Accept),
            (
                LogMode,
                Enforce,
                "9.9.9.9",
                "curl",
                Reject("user_agent".into()),
            ),
            (LogMode, Enforce, "9.9.9.9", "Firefox", Log("ip".into())),
        ];
        for (ip, user_agent, addr, agent, verdict) in cases {
            let binding = DefaultBinding {
                ip,
                user_agent,
                ..off
            };
            assert_eq!(
                binding.check(&r, &client(addr, agent)),
                verdict,
                "{ip:?}/{user_agent:?} for {addr} {agent}"
            );
        }
        // Enforce fails closed when the client's address is unknown.
        let enforce_ip = DefaultBinding {
            ip: BindingMode::Enforce,
            ..off
        };
        let no_ip = ClientInfo::new(None, Some("Firefox".into()));
        assert_eq!(
            enforce_ip.check(&r, &no_ip),
            BindingCheck::Reject("ip".into())
        );
        assert_eq!("Enforce".parse::<BindingMode>(), Ok(BindingMode::Enforce));
        assert!("sometimes".parse::<BindingMode>().is_err());
    }
}
