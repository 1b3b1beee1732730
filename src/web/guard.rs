//! Who may reach the listener, decided before any page runs: the `Host` a request names,
//! the `Origin` of a form, who the client is (for login throttling), and who may read
//! `/metrics`.
//!
//! **Host (DNS rebinding).** A page on `attacker.example` can make its name resolve to
//! this machine, and the victim's browser then talks to our listener as if it were the
//! attacker's own site: same origin for the browser, so it may read our pages and post our
//! forms with matching `Origin`s. What the browser cannot change is the name it puts in
//! `Host`. So every request must name us: `web.base_url`'s host and port, a loopback name
//! or address (`localhost`, `127.x.y.z`, `[::1]`, any port), or the IP address the client
//! connected to (an IP literal is no attacker's name: nobody can rebind it). Anything else
//! gets **421 Misdirected Request** ("this server does not serve that authority", which is
//! exactly the case) with a short page. The trade-off: a listener reached under a host
//! name other than `base_url`'s (an internal alias, a Docker port mapping) is refused
//! until `base_url` names it; we prefer that to a list of allowed names to keep in sync.
//! Exempt: `/healthz` (load balancers probe it by IP or by their own names, and it only
//! tells whether the database answers and a few counts), and `/metrics` requests carrying
//! the right bearer token (a rebinding page cannot know the token; scrapers name the
//! target however their configuration says).
//!
//! **Origin.** A form's `Origin` must be `base_url`'s origin (scheme, host and port), a
//! loopback origin, or the connected IP; never compared with `Host`, which a rebinding
//! page chooses along with the `Origin`. Absent (curl, old clients) or `null` (our own
//! forms under `Referrer-Policy: no-referrer`) lets the CSRF token decide.
//!
//! **Client address and reverse proxies.** The client is the TCP peer. Behind a reverse
//! proxy on the same host every peer is 127.0.0.1, so a request from a **loopback peer**
//! that carries proxy headers is taken to come from the address the proxy names: the
//! `for=` of the last `Forwarded` element, else the last `X-Forwarded-For` entry, else
//! `X-Real-IP`. The last, because a proxy appends the address it saw to whatever the
//! client sent: the entries before it are the client's own claims. From any other peer the
//! headers are ignored (anyone on the network could write them). IPv6 clients count per
//! /64, the block one subscriber gets. A client whose proxy headers name no address is
//! "an unknown client behind the proxy", one key for all of them. What a proxy cannot
//! fake: a request without proxy headers from a loopback peer is this machine itself
//! ([`Client::local`]), and anything else, whatever its headers say, counts towards the
//! overall login limit (see `throttle`).
//!
//! **/metrics** names watches and sources. With `daemon.metrics_token_file` set it needs
//! `Authorization: Bearer <token>` (compared in constant time), else 401. Without it, only
//! this machine reads it: a loopback peer with no proxy headers; anyone else gets 403.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::connect_info::Connected;
use axum::http::{HeaderMap, header};
use axum::serve::IncomingStream;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use url::Url;

use crate::model::Secret;

/// The headers a reverse proxy adds. Their presence marks a request as proxied.
pub const PROXY_HEADERS: [&str; 4] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-real-ip",
];

/// Both ends of the connection a request came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The client's end (or its proxy's).
    pub remote: SocketAddr,
    /// Our end: the address the client connected to.
    pub local: SocketAddr,
}

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Peer {
        let remote = *stream.remote_addr();
        // Unknown only if the socket is already gone; the unspecified address then
        // matches no Host.
        let local = stream
            .io()
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        Peer { remote, local }
    }
}

/// Whether the request carries reverse-proxy headers.
pub fn proxied(headers: &HeaderMap) -> bool {
    PROXY_HEADERS.iter().any(|name| headers.contains_key(*name))
}

/// Whether the request comes from this machine itself: a loopback peer, no proxy headers.
pub fn from_this_machine(peer: &Peer, headers: &HeaderMap) -> bool {
    peer.remote.ip().to_canonical().is_loopback() && !proxied(headers)
}

/// Who a client is, for throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// An IPv4 address, or the /64 of an IPv6 address.
    Addr(IpAddr),
    /// A proxied request whose headers name no address.
    UnknownBehindProxy,
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientKey::Addr(IpAddr::V6(ip)) if !ip.is_loopback() => write!(f, "{ip}/64"),
            ClientKey::Addr(ip) => write!(f, "{ip}"),
            ClientKey::UnknownBehindProxy => f.write_str("an unnamed client behind the proxy"),
        }
    }
}

/// A client as the login throttle sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub key: ClientKey,
    /// This machine itself (loopback peer, no proxy headers): exempt from the overall
    /// limit, so an admin on the machine (or an SSH tunnel) can log in during an attack.
    pub local: bool,
}

/// The client of a request (see the module doc for whom we believe).
pub fn client_of(peer: &Peer, headers: &HeaderMap) -> Client {
    let remote = peer.remote.ip().to_canonical();
    if !proxied(headers) || !remote.is_loopback() {
        return Client {
            key: ClientKey::Addr(key_of(remote)),
            local: remote.is_loopback() && !proxied(headers),
        };
    }
    let named = forwarded_for(headers)
        .or_else(|| last_list_entry(headers, "x-forwarded-for"))
        .or_else(|| last_list_entry(headers, "x-real-ip"));
    Client {
        key: named.map_or(ClientKey::UnknownBehindProxy, |ip| {
            ClientKey::Addr(key_of(ip.to_canonical()))
        }),
        local: false,
    }
}

/// IPv6 addresses count per /64 (but `::1` is this machine).
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if !v6.is_loopback() => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(Ipv6Addr::from(segments))
        }
        v4 => v4,
    }
}

/// The `for=` of the last element of the last `Forwarded` header (RFC 7239), if it is an
/// address (`for="[2001:db8::1]:4711"`, `for=192.0.2.60`; not `unknown` or `_hidden`).
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get_all("forwarded").iter().next_back()?;
    let last = value.to_str().ok()?.rsplit(',').next()?;
    let node = last.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })?;
    parse_node(node)
}

/// The last comma-separated entry of the last header `name`, as an address.
fn last_list_entry(headers: &HeaderMap, name: &str) -> Option<IpAddr> {
    let value = headers.get_all(name).iter().next_back()?;
    parse_node(value.to_str().ok()?.rsplit(',').next()?.trim())
}

/// An address, possibly with a port: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:80`,
/// `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    let inner = node.strip_prefix('[')?.split(']').next()?;
    inner.parse().ok()
}

/// A host as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    Ip(IpAddr),
    /// Lower case, without a final dot.
    Domain(String),
}

/// Splits `host[:port]` (`Host` header, or the authority of an `Origin`). None when it is
/// not a plain host name or address (user info, paths and spaces are not).
fn parse_authority(authority: &str) -> Option<(Name, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inner.parse().ok()?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (Name::Ip(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let name = match host.parse::<std::net::Ipv4Addr>() {
            Ok(ip) => Name::Ip(IpAddr::V4(ip)),
            Err(_) => {
                let host = host.strip_suffix('.').unwrap_or(host);
                let plain = !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
                if !plain {
                    return None;
                }
                Name::Domain(host.to_ascii_lowercase())
            }
        };
        (name, port)
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    Some((host, port))
}

/// The names this listener answers to: `web.base_url`'s, loopback, and the address the
/// client connected to.
#[derive(Debug, Clone)]
pub struct Names<'a> {
    pub base_url: Option<&'a Url>,
    pub local: IpAddr,
}

impl Names<'_> {
    /// Loopback, or the IP the client connected to (when that is a real address).
    fn is_ours_anywhere(&self, name: &Name) -> bool {
        match name {
            Name::Domain(domain) => domain == "localhost",
            Name::Ip(ip) => {
                let ip = ip.to_canonical();
                ip.is_loopback() || (ip == self.local.to_canonical() && !ip.is_unspecified())
            }
        }
    }

    /// Whether `name` (with its `port`, as written) is `base_url`'s host and port. A missing
    /// port means the default port of `base_url`'s scheme, which is how a `Host` header
    /// names it.
    fn is_base(&self, name: &Name, port: Option<u16>, scheme: Option<&str>) -> bool {
        let Some(base) = self.base_url else {
            return false;
        };
        if scheme.is_some_and(|s| !s.eq_ignore_ascii_case(base.scheme())) {
            return false;
        }
        let same_host = match (base.host(), name) {
            (Some(url::Host::Domain(d)), Name::Domain(n)) => {
                d.trim_end_matches('.').eq_ignore_ascii_case(n)
            }
            (Some(url::Host::Ipv4(b)), Name::Ip(ip)) => IpAddr::V4(b) == ip.to_canonical(),
            (Some(url::Host::Ipv6(b)), Name::Ip(ip)) => IpAddr::V6(b) == *ip,
            _ => false,
        };
        let base_port = base.port_or_known_default();
        let port_matches = match port {
            Some(p) => Some(p) == base_port,
            None => base.port().is_none(),
        };
        same_host && port_matches
    }

    /// Whether a `Host` header (or a request target's authority) names this listener.
    pub fn host_allowed(&self, host: &str) -> bool {
        match parse_authority(host.trim()) {
            Some((name, port)) => self.is_ours_anywhere(&name) || self.is_base(&name, port, None),
            None => false,
        }
    }

    /// Whether an `Origin` header is one of our own pages' (`null` counts as ours: the
    /// CSRF token decides).
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim();
        if origin == "null" {
            return true;
        }
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
            return false;
        }
        match parse_authority(authority) {
            Some((name, port)) => {
                self.is_ours_anywhere(&name) || self.is_base(&name, port, Some(scheme))
            }
            None => false,
        }
    }
}

/// The authority a request names: the request target's, when it is in absolute form, and
/// the `Host` header. Both must name us.
pub fn request_hosts<'a>(uri: &'a axum::http::Uri, headers: &'a HeaderMap) -> Vec<&'a str> {
    let mut hosts: Vec<&str> = uri.authority().map(|a| a.as_str()).into_iter().collect();
    for value in headers.get_all(header::HOST) {
        // A Host that is not visible ASCII names nothing we serve.
        hosts.push(value.to_str().unwrap_or("\u{0}"));
    }
    hosts
}

/// Whether the request carries `Authorization: Bearer <token>` with the configured token.
/// Both sides are hashed first, so the comparison takes as long whatever the lengths, and
/// the digests are compared in constant time (`subtle`).
pub fn bearer_matches(headers: &HeaderMap, token: &Secret) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
    else {
        return false;
    };
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(token.expose().as_bytes()),
    );
    bool::from(subtle::ConstantTimeEq::ct_eq(a.as_slice(), b.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn parts(base: Option<&str>, local: &str) -> (Option<Url>, IpAddr) {
        (
            base.map(|b| Url::parse(b).unwrap_or_else(|e| panic!("{b}: {e}"))),
            local.parse().unwrap_or_else(|e| panic!("{local}: {e}")),
        )
    }

    #[test]
    fn hosts_must_name_base_url_loopback_or_the_connected_address() {
        let (base, local) = parts(Some("https://veille.example.org/"), "10.0.0.5");
        let names = Names {
            base_url: base.as_ref(),
            local,
        };
        for (host, allowed) in [
            ("veille.example.org", true),
            ("VEILLE.example.org.", true),
            ("veille.example.org:443", true),
            ("veille.example.org:8443", false),
            ("localhost", true),
            ("localhost:8710", true),
            ("127.0.0.1", true),
            ("127.0.0.1:8710", true),
            ("127.3.2.1:1", true),
            ("[::1]:8710", true),
            ("[::1]", true),
            ("10.0.0.5:8710", true),
            ("10.0.0.6:8710", false),
            ("attacker.example", false),
            ("attacker.example:8710", false),
            ("veille.example.org.attacker.example", false),
            ("foo.localhost", false),
            ("localhost.attacker.example", false),
            ("admin@127.0.0.1", false),
            ("127.0.0.1/x", false),
            ("127.0.0.1:", false),
            ("127.0.0.1:99999", false),
            ("", false),
            ("\u{0}", false),
        ] {
            assert_eq!(names.host_allowed(host), allowed, "{host:?}");
        }
        // Without [web]: loopback and the connected address only; an unspecified local
        // address matches nothing.
        let (base, local) = parts(None, "0.0.0.0");
        let bare = Names {
            base_url: base.as_ref(),
            local,
        };
        for (host, allowed) in [
            ("127.0.0.1:9480", true),
            ("localhost", true),
            ("0.0.0.0:9480", false),
            ("veille.example.org", false),
        ] {
            assert_eq!(bare.host_allowed(host), allowed, "{host:?}");
        }
        // A base_url on a custom port: the Host must carry it.
        let (base, local) = parts(Some("http://veille.lan:8710/"), "127.0.0.1");
        let custom = Names {
            base_url: base.as_ref(),
            local,
        };
        assert!(custom.host_allowed("veille.lan:8710"));
        assert!(!custom.host_allowed("veille.lan"));
        assert!(!custom.host_allowed("veille.lan:80"));
    }

    #[test]
    fn origins_are_compared_with_base_url_never_with_host() {
        let (base, local) = parts(Some("https://veille.example.org/"), "127.0.0.1");
        let names = Names {
            base_url: base.as_ref(),
            local,
        };
        for (origin, allowed) in [
            ("https://veille.example.org", true),
            ("https://Veille.Example.org:443", true),
            ("http://veille.example.org", false),
            ("https://veille.example.org:8443", false),
            ("http://127.0.0.1:8710", true),
            ("http://localhost:8710", true),
            ("http://[::1]:8710", true),
            ("null", true),
            ("http://attacker.example", false),
            ("http://attacker.example:8710", false),
            ("ftp://127.0.0.1", false),
            ("127.0.0.1:8710", false),
            ("", false),
        ] {
            assert_eq!(names.origin_allowed(origin), allowed, "{origin:?}");
        }
    }

    type Header = (&'static str, &'static str);

    fn headers(pairs: &[Header]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn proxy_headers_are_believed_only_from_a_loopback_peer() {
        let peer = |remote: &str| Peer {
            remote: remote.parse().unwrap_or_else(|e| panic!("{remote}: {e}")),
            local: "127.0.0.1:8710".parse().unwrap_or_else(|e| panic!("{e}")),
        };
        let ip = |s: &str| ClientKey::Addr(s.parse().unwrap_or_else(|e| panic!("{s}: {e}")));
        type Case = (&'static str, &'static [Header], ClientKey, bool);
        let cases: [Case; 11] = [
            ("127.0.0.1:5000", &[], ip("127.0.0.1"), true),
            ("[::1]:5000", &[], ip("::1"), true),
            (
                "127.0.0.1:5000",
                &[("x-forwarded-for", "198.51.100.1, 203.0.113.7")],
                ip("203.0.113.7"),
                false,
            ),
            (
                "127.0.0.1:5000",
                &[
                    ("x-forwarded-for", "198.51.100.1"),
                    ("x-forwarded-for", "203.0.113.8"),
                ],
                ip("203.0.113.8"),
                false,
            ),
            (
                "127.0.0.1:5000",
                &[
                    (
                        "forwarded",
                        "for=198.51.100.1, for=\"[2001:db8:1:2:3::9]:4711\"",
                    ),
                    ("x-forwarded-for", "192.0.2.1"),
                ],
                ip("2001:db8:1:2::"),
                false,
            ),
            (
                "127.0.0.1:5000",
                &[("x-real-ip", "192.0.2.44")],
                ip("192.0.2.44"),
                false,
            ),
            (
                "127.0.0.1:5000",
                &[("x-forwarded-for", "unknown")],
                ClientKey::UnknownBehindProxy,
                false,
            ),
            (
                "127.0.0.1:5000",
                &[("forwarded", "for=_hidden")],
                ClientKey::UnknownBehindProxy,
                false,
            ),
            // From the network, the headers are the client's own claims.
            (
                "198.51.100.9:5000",
                &[("x-forwarded-for", "127.0.0.1")],
                ip("198.51.100.9"),
                false,
            ),
            ("198.51.100.9:5000", &[], ip("198.51.100.9"), false),
            (
                "[2001:db8:aa:bb:1:2:3:4]:5000",
                &[],
                ip("2001:db8:aa:bb::"),
                false,
            ),
        ];
        for (remote, pairs, key, local) in cases {
            let client = client_of(&peer(remote), &headers(pairs));
            assert_eq!(client, Client { key, local }, "{remote} {pairs:?}");
        }
    }

    #[test]
    fn the_bearer_token_must_match_exactly() {
        let token = Secret::new("s3cret-token-of-some-length");
        for (value, ok) in [
            (Some("Bearer s3cret-token-of-some-length"), true),
            (Some("bearer s3cret-token-of-some-length"), true),
            (Some("Bearer s3cret-token-of-some-lengt"), false),
            (Some("Bearer s3cret-token-of-some-length2"), false),
            (Some("Basic s3cret-token-of-some-length"), false),
            (Some("s3cret-token-of-some-length"), false),
            (Some("Bearer "), false),
            (None, false),
        ] {
            let mut headers = HeaderMap::new();
            if let Some(value) = value {
                headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            }
            assert_eq!(bearer_matches(&headers, &token), ok, "{value:?}");
        }
    }
}
