//! The layer's client settings: binding a session to its client, and where
//! the client's IP comes from.

use super::SessionLayer;
use crate::binding::{Binding, BindingMode, ClientBinding, DefaultBinding, MismatchAction};
use crate::client::ProxyHeader;
use ipnet::IpNet;
use std::sync::Arc;

/// Client binding and client IP.
impl SessionLayer {
    fn default_binding(self, f: impl FnOnce(&mut DefaultBinding)) -> Self {
        self.config(|c| {
            let mut d = match &c.binding {
                Binding::Default(d) => *d,
                Binding::Custom(_) => DefaultBinding::default(),
            };
            f(&mut d);
            c.binding = Binding::Default(d);
        })
    }

    /// Checks the client's IP against the one the session started from.
    /// Default: [`BindingMode::Off`]. See [`DefaultBinding`] for the
    /// trade-offs, and [`with_ip_prefixes`](Self::with_ip_prefixes).
    pub fn with_ip_binding(self, mode: BindingMode) -> Self {
        self.default_binding(|d| d.ip = mode)
    }

    /// Checks the client's User-Agent against the one the session started
    /// with. Default: [`BindingMode::Off`].
    pub fn with_user_agent_binding(self, mode: BindingMode) -> Self {
        self.default_binding(|d| d.user_agent = mode)
    }

    /// How much of an address must match for IP binding: the first `ipv4`
    /// bits of IPv4 addresses (default 24) and `ipv6` bits of IPv6 addresses
    /// (default 64). `32` / `128` demand the exact address.
    ///
    /// # Panics
    ///
    /// When `ipv4 > 32` or `ipv6 > 128`.
    pub fn with_ip_prefixes(self, ipv4: u8, ipv6: u8) -> Self {
        assert!(
            ipv4 <= 32,
            "axum-user-sessions: an IPv4 prefix is at most 32 bits"
        );
        assert!(
            ipv6 <= 128,
            "axum-user-sessions: an IPv6 prefix is at most 128 bits"
        );
        self.default_binding(|d| {
            d.ipv4_prefix = ipv4;
            d.ipv6_prefix = ipv6;
        })
    }

    /// A binding of your own, instead of the IP / User-Agent checks (a
    /// closure `Fn(&SessionRecord, &ClientInfo) -> BindingCheck` works).
    pub fn with_binding(self, binding: impl ClientBinding) -> Self {
        let binding = Binding::Custom(Arc::new(binding));
        self.config(|c| c.binding = binding)
    }

    /// What an enforced mismatch does. Default: [`MismatchAction::Anonymous`]
    /// (the request is anonymous; the session survives for its rightful
    /// client).
    pub fn with_binding_mismatch_action(self, action: MismatchAction) -> Self {
        self.config(|c| c.mismatch_action = action)
    }

    /// Proxies whose forwarding header is believed. Default: none (the client
    /// IP is the socket peer's, and forwarding headers are ignored).
    ///
    /// When the peer is in one of these networks, the
    /// [forwarding header](Self::with_proxy_header) is read right to left,
    /// skipping trusted hops; the first untrusted address is the client.
    /// Entries further left are whatever the client sent and are never used.
    ///
    /// ```
    /// use axum_user_sessions::ipnet::IpNet;
    /// use axum_user_sessions::{MemoryStore, SessionLayer};
    /// let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
    /// let layer = SessionLayer::new(MemoryStore::new()).with_trusted_proxies(proxies);
    /// ```
    pub fn with_trusted_proxies(self, proxies: impl IntoIterator<Item = IpNet>) -> Self {
        let trusted: Vec<IpNet> = proxies.into_iter().collect();
        self.config(|c| c.proxies.trusted = trusted)
    }

    /// Which header trusted proxies set. Default:
    /// [`ProxyHeader::XForwardedFor`]. Pick the one your proxy appends to:
    /// the other is under the client's control.
    pub fn with_proxy_header(self, header: ProxyHeader) -> Self {
        self.config(|c| c.proxies.header = header)
    }

    /// Stores client IPs truncated (IPv4 to /24, IPv6 to /48) so that full
    /// addresses never reach the database or events; IP binding then compares
    /// the truncated forms. Default: off. Handlers still get the full address
    /// from [`ClientInfo`](crate::ClientInfo).
    pub fn with_ip_anonymization(self, on: bool) -> Self {
        self.config(|c| c.anonymize_ip = on)
    }
}
