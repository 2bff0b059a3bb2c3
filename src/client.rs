//! Who is asking: the client's IP (behind trusted proxies) and User-Agent.

use crate::rejection::MissingSessionLayer;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The longest User-Agent kept with a session; the rest is cut.
const MAX_USER_AGENT: usize = 512;
/// Forwarding entries read at most, right to left.
const MAX_HOPS: usize = 32;

/// Which header the trusted proxies append the client address to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// `X-Forwarded-For` (nginx, HAProxy, most load balancers). The default.
    #[default]
    XForwardedFor,
    /// The standard `Forwarded` header (RFC 7239), its `for=` parameters.
    Forwarded,
}

impl ProxyHeader {
    fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// Trusted proxies and the header they set.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProxyConfig {
    pub(crate) trusted: Vec<IpNet>,
    pub(crate) header: ProxyHeader,
}

impl ProxyConfig {
    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the socket peer, unless the peer is a trusted
    /// proxy; then the forwarding header read right to left, skipping trusted
    /// hops. Entries left of the first untrusted one are whatever the client
    /// chose to send, and are never looked at.
    pub(crate) fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = canonical(peer?);
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let parse: fn(&str) -> Option<IpAddr> = match self.header {
            ProxyHeader::XForwardedFor => parse_node,
            ProxyHeader::Forwarded => forwarded_for,
        };
        Some(self.walk(peer, entries_from_right(headers, self.header.name()), parse))
    }

    /// Walks the forwarding entries right to left from the trusted `peer`,
    /// skipping trusted hops, looking at `MAX_HOPS` entries at most: a header
    /// of any length costs the same.
    fn walk<'a>(
        &self, peer: IpAddr, entries: impl Iterator<Item = Option<&'a str>>,
        mut parse: impl FnMut(&str) -> Option<IpAddr>,
    ) -> IpAddr {
        let mut client = peer;
        for entry in entries.take(MAX_HOPS) {
            match entry.and_then(&mut parse) {
                Some(ip) => {
                    client = ip;
                    if !self.is_trusted(ip) {
                        break;
                    }
                }
                // Garbage where an address should be: the nearest hop we
                // could read is the best answer.
                None => break,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The comma-separated entries of every line of a header, last first, split
/// bytewise and lazily (nothing left of what the walk reads is split or
/// decoded): an entry that is not text is unreadable (`None`) and stops the
/// right-to-left walk there, without hiding the entries a proxy appended to
/// its right on the same line.
fn entries_from_right<'a>(
    headers: &'a HeaderMap, name: &'static str,
) -> impl Iterator<Item = Option<&'a str>> {
    headers
        .get_all(name)
        .iter()
        .rev()
        .flat_map(|line| line.as_bytes().rsplit(|b| *b == b','))
        .map(|entry| std::str::from_utf8(entry).ok().map(str::trim))
}

/// The `for=` of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(v.trim()))
            .flatten()
    })
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]:443`, optionally in double quotes.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    let inner = s.strip_prefix('[')?.split(']').next()?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

/// The client of the current request, as the session layer sees it: its IP
/// address (the socket peer, or the forwarded address when the peer is a
/// trusted proxy) and its User-Agent.
///
/// Extract it in handlers that need the same answer as the layer (audit logs,
/// rate limits). Requires [`SessionLayer`](crate::SessionLayer), and the
/// server to be run with `into_make_service_with_connect_info::<SocketAddr>()`
/// for the IP.
///
/// ```
/// use axum_user_sessions::ClientInfo;
/// async fn handler(client: ClientInfo) -> String {
///     format!("{:?}", client.ip())
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub(crate) ip: Option<IpAddr>,
    pub(crate) user_agent: Option<String>,
}

impl ClientInfo {
    /// Reads the client from a request's parts.
    pub(crate) fn read(
        proxies: &ProxyConfig, peer: Option<&ConnectInfo<SocketAddr>>, headers: &HeaderMap,
    ) -> Self {
        Self {
            ip: proxies.client_ip(peer.map(|c| c.0.ip()), headers),
            user_agent: user_agent(headers),
        }
    }

    /// A client with these values (for tests and custom bindings).
    pub fn new(ip: Option<IpAddr>, user_agent: Option<String>) -> Self {
        Self { ip, user_agent }
    }

    /// The client's IP address; `None` when the server runs without
    /// `ConnectInfo`.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The User-Agent, without control characters, at most 512 characters.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ClientInfo>()
            .cloned()
            .ok_or(MissingSessionLayer)
    }
}

pub(crate) fn user_agent(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::USER_AGENT)?.as_bytes();
    // The usual header (printable ASCII, not too long) is kept as it is,
    // in one copy: this runs on every request.
    if !raw.is_empty()
        && raw.len() <= MAX_USER_AGENT
        && raw.iter().all(|b| (b' '..=b'~').contains(b))
    {
        return std::str::from_utf8(raw).ok().map(str::to_owned);
    }
    let text = String::from_utf8_lossy(raw);
    let text: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT)
        .collect();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(nets: &[&str], header: ProxyHeader) -> ProxyConfig {
        ProxyConfig {
            trusted: nets.iter().map(|n| n.parse().unwrap()).collect(),
            header,
        }
    }

    fn hdrs(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let p = proxies(&[], ProxyHeader::XForwardedFor);
        let h = hdrs(&[("x-forwarded-for", "9.9.9.9")]);
        assert_eq!(p.client_ip(ip("1.2.3.4"), &h), ip("1.2.3.4"));
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        assert_eq!(p.client_ip(ip("1.2.3.4"), &h), ip("1.2.3.4"));
    }

    #[test]
    fn right_to_left_skipping_trusted_hops() {
        let p = proxies(&["10.0.0.0/8", "fd00::/8"], ProxyHeader::XForwardedFor);
        // client spoofs 6.6.6.6 on the left; proxies append the real address.
        let h = hdrs(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("203.0.113.7"));
        // Several header lines count as one list.
        let h = hdrs(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.7, 10.1.1.1"),
        ]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("203.0.113.7"));
        // IPv6 and ports.
        let h = hdrs(&[("x-forwarded-for", "[2001:db8::5]:1234, fd00::1")]);
        assert_eq!(p.client_ip(ip("fd00::2"), &h), ip("2001:db8::5"));
        // Everything trusted: the leftmost.
        let h = hdrs(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("10.9.9.9"));
        // Bytes that are not text on the client's side of a line do not hide
        // what the proxy appended.
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff, 203.0.113.7, 10.0.0.2").unwrap(),
        );
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("203.0.113.7"));
        // Garbage stops the walk at the nearest readable hop.
        let h = hdrs(&[("x-forwarded-for", "203.0.113.9, not-an-ip, 10.0.0.2")]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.2"));
        // No header: the proxy itself.
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        // IPv4-mapped peers count as IPv4.
        let h = hdrs(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(p.client_ip(ip("::ffff:10.0.0.1"), &h), ip("203.0.113.7"));
    }

    #[test]
    fn forwarded_header() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::Forwarded);
        let h = hdrs(&[(
            "forwarded",
            r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=10.0.0.3;by=10.0.0.1"#,
        )]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("2001:db8:cafe::17"));
        // XFF is ignored when Forwarded is configured.
        let h = hdrs(&[("x-forwarded-for", "6.6.6.6")]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        // Obfuscated identifiers are not addresses.
        let h = hdrs(&[("forwarded", "for=_hidden, for=10.0.0.5")]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.5"));
    }

    #[test]
    fn a_long_forwarding_header_is_read_from_the_right_only() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        let mut line = "9.9.9.9, ".repeat(40_000);
        line.push_str("203.0.113.7, 10.0.0.2");
        let h = hdrs(&[("x-forwarded-for", &line)]);
        let peer = "10.0.0.1".parse().unwrap();
        assert_eq!(p.client_ip(Some(peer), &h), ip("203.0.113.7"));
        // Count the entries the walk parses: two, not 40,002.
        let mut parsed = 0;
        let entries = entries_from_right(&h, "x-forwarded-for");
        let client = p.walk(peer, entries, |e| {
            parsed += 1;
            parse_node(e)
        });
        assert_eq!((client, parsed), (ip("203.0.113.7").unwrap(), 2));
        // All trusted: at most MAX_HOPS entries are looked at.
        let all_trusted = "10.0.0.3, ".repeat(40_000) + "10.0.0.2";
        let h = hdrs(&[("x-forwarded-for", &all_trusted)]);
        let mut parsed = 0;
        p.walk(peer, entries_from_right(&h, "x-forwarded-for"), |e| {
            parsed += 1;
            parse_node(e)
        });
        assert_eq!(parsed, MAX_HOPS);
    }

    #[test]
    fn user_agent_is_cleaned_and_capped() {
        let mut h = HeaderMap::new();
        h.insert(
            header::USER_AGENT,
            HeaderValue::from_bytes(&[b'a'; 2000]).unwrap(),
        );
        assert_eq!(user_agent(&h).unwrap().len(), MAX_USER_AGENT);
        h.insert(
            header::USER_AGENT,
            HeaderValue::from_bytes(b"x\xff\ty").unwrap(),
        );
        assert_eq!(user_agent(&h).unwrap(), "x\u{fffd}y");
        // Printable ASCII is kept as it is, up to the cap.
        let plain = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/146.0";
        h.insert(header::USER_AGENT, HeaderValue::from_static(plain));
        assert_eq!(user_agent(&h).unwrap(), plain);
        h.insert(header::USER_AGENT, HeaderValue::from_static(" "));
        assert_eq!(user_agent(&h).unwrap(), " ");
        h.insert(header::USER_AGENT, HeaderValue::from_static(""));
        assert_eq!(user_agent(&h), None);
    }
}
