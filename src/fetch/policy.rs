//! Where http(s) sources may connect: the network policy against server-side request
//! forgery.
//!
//! A feed URL, or a redirect a publisher sends, must not make veille read the machines
//! around it (an intranet page, a router's admin page, the cloud metadata service that
//! hands out credentials) and put their content in a digest. By default an http(s) fetch
//! may not connect to loopback (127.0.0.0/8, ::1), private (RFC 1918, fc00::/7, fec0::/10),
//! link-local (169.254.0.0/16, fe80::/10), CGNAT (100.64.0.0/10), multicast, unspecified,
//! "this network" (0.0.0.0/8), broadcast, documentation, benchmarking or reserved
//! addresses: every range of the IANA special-purpose registries that is not globally
//! reachable (2001::/23 is refused whole, its few anycast exceptions included). IPv6 forms
//! that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`,
//! IPv4-translated, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the IPv4 address
//! they lead to. Cloud metadata addresses (169.254.169.254, 169.254.170.2, 169.254.0.23,
//! 100.100.100.200, 192.0.0.192, 168.63.129.16, fd00:ec2::254, fd20:ce::254) are named as
//! such in the refusal, and only an allowance that names the address itself (`/32`,
//! `/128`) lifts them: allowing `169.254.0.0/16` for a device does not open the metadata
//! service. `file:` sources are not concerned: the admin wrote them.
//!
//! `daemon.allow_private_addresses` lifts the policy for the networks it names (an IPv6
//! form carrying an IPv4 address is allowed when that IPv4 address is).
//!
//! **Where it is checked.** Twice per request hop, both with the pure [`classify`]:
//! - before sending, the URL's host when it is an IP literal ([`NetworkPolicy::check_url`]):
//!   reqwest connects to literals without asking a resolver. The url crate has already
//!   normalized the odd IPv4 spellings (`http://2130706433/`, `http://0x7f.1/`,
//!   `http://127.1/` all become `127.0.0.1`), so they are checked as what they mean.
//! - at connect time, every address a name resolves to ([`PolicyResolver`], reqwest's DNS
//!   resolver): blocked addresses are dropped, and a name left with none is refused. reqwest
//!   connects to exactly the addresses the resolver returns, so a name that resolves to a
//!   public address when checked and to 127.0.0.1 when connected (DNS rebinding) cannot pass:
//!   there is one resolution, and it is the checked one.
//!
//! A refusal is a [`Refusal`], carried out of reqwest's error chain and recorded on the
//! source like any failure; it names the address, why it is blocked and the key to change.
//!
//! **Proxies.** reqwest's system-proxy feature honours `HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY` and `NO_PROXY`. With a proxy, reqwest connects to the proxy, so the resolver
//! sees the proxy's name, not the target's: the proxy itself must be allowed when it is
//! internal (it usually is: list its address), IP-literal targets are still checked before
//! each hop, and names are resolved by the proxy, whose own policy then applies to them.
//! We keep proxies rather than turn them off because the deployments that have one usually
//! have no other way out; the trade-off is that veille cannot see where a proxied name
//! leads, which `veille check` says when a proxy variable is set.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use url::{Host, Url};

/// The key that lifts the policy, as refusals name it.
pub const ALLOW_KEY: &str = "daemon.allow_private_addresses";

/// A kind of address that is not globally reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Loopback,
    Private,
    LinkLocal,
    /// 100.64.0.0/10, shared by carrier-grade NATs (and some clouds' internal services).
    Cgnat,
    Multicast,
    Unspecified,
    /// 0.0.0.0/8: Linux connects it to the local host.
    ThisNetwork,
    Broadcast,
    Documentation,
    Benchmarking,
    Reserved,
}

impl Range {
    pub fn label(self) -> &'static str {
        match self {
            Range::Loopback => "loopback",
            Range::Private => "private",
            Range::LinkLocal => "link-local",
            Range::Cgnat => "CGNAT shared address space",
            Range::Multicast => "multicast",
            Range::Unspecified => "unspecified",
            Range::ThisNetwork => "\"this network\" (0.0.0.0/8)",
            Range::Broadcast => "broadcast",
            Range::Documentation => "documentation",
            Range::Benchmarking => "benchmarking",
            Range::Reserved => "reserved",
        }
    }
}

/// Why an address is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Range(Range),
    /// A cloud platform's metadata or host service, inside `Range` when it has one (Azure's
    /// WireServer, 168.63.129.16, is a public address).
    CloudMetadata(Option<Range>),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Range(range) => f.write_str(range.label()),
            Reason::CloudMetadata(Some(range)) => write!(f, "{}: cloud metadata", range.label()),
            Reason::CloudMetadata(None) => f.write_str("cloud metadata"),
        }
    }
}

/// How an IPv6 address carries an IPv4 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d`
    Mapped,
    /// `::a.b.c.d` (deprecated)
    Compatible,
    /// `::ffff:0:a.b.c.d` (SIIT)
    Translated,
    /// `64:ff9b::a.b.c.d`
    Nat64,
    /// `2002:aabb:ccdd::/48`
    SixToFour,
}

impl Embedding {
    fn label(self) -> &'static str {
        match self {
            Embedding::Mapped => "IPv4-mapped",
            Embedding::Compatible => "IPv4-compatible",
            Embedding::Translated => "IPv4-translated",
            Embedding::Nat64 => "NAT64",
            Embedding::SixToFour => "6to4",
        }
    }
}

/// A blocked address: why, and through which IPv4 address when it is an IPv6 form of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    pub reason: Reason,
    pub embedded: Option<(Embedding, Ipv4Addr)>,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.reason)?;
        if let Some((embedding, v4)) = self.embedded {
            write!(f, "; {} form of {v4}", embedding.label())?;
        }
        Ok(())
    }
}

/// What the policy thinks of an address, before any allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Blocked(Blocked),
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// IPv4 special-purpose ranges that are not globally reachable (IANA registry), the first
/// match wins.
const V4_RANGES: [(Ipv4Net, Range); 17] = [
    (v4(0, 0, 0, 0, 32), Range::Unspecified),
    (v4(0, 0, 0, 0, 8), Range::ThisNetwork),
    (v4(10, 0, 0, 0, 8), Range::Private),
    (v4(100, 64, 0, 0, 10), Range::Cgnat),
    (v4(127, 0, 0, 0, 8), Range::Loopback),
    (v4(169, 254, 0, 0, 16), Range::LinkLocal),
    (v4(172, 16, 0, 0, 12), Range::Private),
    (v4(192, 0, 0, 0, 24), Range::Reserved),
    (v4(192, 0, 2, 0, 24), Range::Documentation),
    // The deprecated 6to4 relay anycast.
    (v4(192, 88, 99, 0, 24), Range::Reserved),
    (v4(192, 168, 0, 0, 16), Range::Private),
    (v4(198, 18, 0, 0, 15), Range::Benchmarking),
    (v4(198, 51, 100, 0, 24), Range::Documentation),
    (v4(203, 0, 113, 0, 24), Range::Documentation),
    (v4(224, 0, 0, 0, 4), Range::Multicast),
    (v4(255, 255, 255, 255, 32), Range::Broadcast),
    (v4(240, 0, 0, 0, 4), Range::Reserved),
];

/// IPv6 ranges that are not globally reachable, once the forms carrying an IPv4 address
/// are set aside.
const V6_RANGES: [(Ipv6Net, Range); 11] = [
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), Range::Unspecified),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), Range::Loopback),
    // Local-use NAT64 (RFC 8215): translates into the site's own IPv4 space.
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), Range::Private),
    // Discard-only.
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), Range::Reserved),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        Range::Documentation,
    ),
    // IETF protocol assignments, Teredo (2001::/32) included.
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), Range::Reserved),
    (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), Range::Documentation),
    // Segment routing identifiers.
    (v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), Range::Reserved),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), Range::Private),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), Range::LinkLocal),
    // Site-local, deprecated but still routed inside some sites.
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), Range::Private),
];

/// Where cloud platforms answer a machine's questions about itself (and hand out its
/// credentials): AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle, Hetzner (169.254.169.254),
/// AWS ECS (169.254.170.2), Tencent (169.254.0.23), Alibaba (100.100.100.200), Oracle's
/// legacy address (192.0.0.192), Azure's WireServer (168.63.129.16), AWS over IPv6
/// (fd00:ec2::254) and GCP over IPv6 (fd20:ce::254).
const CLOUD_METADATA: [IpAddr; 8] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 0, 23)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V4(Ipv4Addr::new(192, 0, 0, 192)),
    IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V6(Ipv6Addr::new(0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254)),
];

fn range_v4(ip: Ipv4Addr) -> Option<Range> {
    V4_RANGES
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, range)| *range)
}

fn range_v6(ip: Ipv6Addr) -> Option<Range> {
    if ip.is_multicast() {
        return Some(Range::Multicast);
    }
    V6_RANGES
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, range)| *range)
}

/// The IPv4 address an IPv6 address leads to, and how it carries it. `::` and `::1` are
/// themselves, not IPv4-compatible forms of 0.0.0.0 and 0.0.0.1.
pub fn embedded_v4(ip: Ipv6Addr) -> Option<(Embedding, Ipv4Addr)> {
    let s = ip.segments();
    let last = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some((Embedding::Mapped, last(hi, lo))),
        [0, 0, 0, 0, 0, 0, hi, lo] => Some((Embedding::Compatible, last(hi, lo))),
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => Some((Embedding::Translated, last(hi, lo))),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some((Embedding::Nat64, last(hi, lo))),
        [0x2002, hi, lo, ..] => Some((Embedding::SixToFour, last(hi, lo))),
        _ => None,
    }
}

fn classify_direct(ip: IpAddr) -> Option<Reason> {
    let range = match ip {
        IpAddr::V4(v4) => range_v4(v4),
        IpAddr::V6(v6) => range_v6(v6),
    };
    if CLOUD_METADATA.contains(&ip) {
        return Some(Reason::CloudMetadata(range));
    }
    range.map(Reason::Range)
}

/// Whether an address may be reached by default, and if not why. Pure: no allowance, no
/// I/O.
pub fn classify(ip: IpAddr) -> Verdict {
    let ip = match ip {
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some((embedding, v4)) => {
                return match classify_direct(IpAddr::V4(v4)) {
                    Some(reason) => Verdict::Blocked(Blocked {
                        reason,
                        embedded: Some((embedding, v4)),
                    }),
                    None => Verdict::Allowed,
                };
            }
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    match classify_direct(ip) {
        Some(reason) => Verdict::Blocked(Blocked {
            reason,
            embedded: None,
        }),
        None => Verdict::Allowed,
    }
}

/// An address the policy refused, and the host name that led to it (for a name resolved
/// at connect time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub address: IpAddr,
    pub host: Option<String>,
    pub blocked: Blocked,
}

impl Refusal {
    /// The network to allow to reach this address: the address alone (the IPv4 address an
    /// IPv6 form carries, since allowing it allows its forms too).
    pub fn network_to_allow(&self) -> IpNet {
        match self.blocked.embedded {
            Some((_, v4)) => IpNet::from(IpAddr::V4(v4)),
            None => IpNet::from(self.address),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused to connect to ")?;
        if let Some(host) = &self.host {
            write!(f, "{host} at ")?;
        }
        write!(
            f,
            "{} ({}): add \"{}\" to {ALLOW_KEY} if this source is yours",
            self.address,
            self.blocked,
            self.network_to_allow()
        )
    }
}

impl std::error::Error for Refusal {}

/// The policy a fetcher applies: the default blocks, minus the networks the admin allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    allowed: Vec<IpNet>,
}

impl NetworkPolicy {
    /// The default policy, with `allowed` lifted (`daemon.allow_private_addresses`).
    pub fn allowing(allowed: Vec<IpNet>) -> NetworkPolicy {
        NetworkPolicy { allowed }
    }

    pub fn allowed(&self) -> &[IpNet] {
        &self.allowed
    }

    /// Whether `ip` is allowed: it is not blocked, or an allowance covers it (or the IPv4
    /// address it carries). A cloud metadata address needs an allowance naming it alone.
    pub fn check(&self, ip: IpAddr) -> Result<(), Blocked> {
        let blocked = match classify(ip) {
            Verdict::Allowed => return Ok(()),
            Verdict::Blocked(blocked) => blocked,
        };
        let target = blocked.embedded.map_or(ip, |(_, v4)| IpAddr::V4(v4));
        let lifted = |net: &IpNet| match blocked.reason {
            Reason::CloudMetadata(_) => {
                net.prefix_len() == net.max_prefix_len() && net.addr() == target
            }
            Reason::Range(_) => net.contains(&ip) || net.contains(&target),
        };
        if self.allowed.iter().any(lifted) {
            Ok(())
        } else {
            Err(blocked)
        }
    }

    /// Checks a URL's host when it is an IP address (names are checked when they resolve,
    /// see [`PolicyResolver`]).
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            // The url crate turns every IPv4 spelling into Host::Ipv4; this is a second
            // net in case a later version does not.
            Some(Host::Domain(name)) => match name.trim_end_matches('.').parse::<IpAddr>() {
                Ok(ip) => ip,
                Err(_) => return Ok(()),
            },
            None => return Ok(()),
        };
        self.check(ip).map_err(|blocked| Refusal {
            address: ip,
            host: None,
            blocked,
        })
    }

    /// The DNS resolver that enforces this policy at connect time.
    pub fn resolver(&self) -> PolicyResolver {
        PolicyResolver {
            policy: Arc::new(self.clone()),
        }
    }
}

/// reqwest's DNS resolver: resolves with the system resolver (tokio's `lookup_host`, the
/// same getaddrinfo reqwest uses by default) and returns only the addresses the policy
/// allows; a name left with none fails with its [`Refusal`].
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: Arc<NetworkPolicy>,
}

impl PolicyResolver {
    /// The allowed addresses of `name`.
    pub async fn lookup(&self, name: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name, 0))
            .await
            .map_err(ResolveError::Lookup)?
            .collect();
        let mut refusal = None;
        let allowed: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|addr| match self.policy.check(addr.ip()) {
                Ok(()) => true,
                Err(blocked) => {
                    refusal.get_or_insert(Refusal {
                        address: addr.ip(),
                        host: Some(name.to_string()),
                        blocked,
                    });
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), refusal) {
            (true, Some(refusal)) => Err(ResolveError::Refused(refusal)),
            (true, None) => Err(ResolveError::Lookup(std::io::Error::other(format!(
                "{name} has no address"
            )))),
            (false, refusal) => {
                if let Some(refusal) = refusal {
                    tracing::debug!(%refusal, "some addresses of this name are not used");
                }
                Ok(allowed)
            }
        }
    }
}

/// Why a name gave no address to connect to.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Lookup(std::io::Error),
    #[error(transparent)]
    Refused(Refusal),
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            match resolver.lookup(name.as_str()).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                // The refusal itself travels up reqwest's error chain, where
                // [`refusal_in`] finds it.
                Err(ResolveError::Refused(refusal)) => Err(Box::new(refusal) as _),
                Err(ResolveError::Lookup(e)) => Err(Box::new(e) as _),
            }
        })
    }
}

/// The policy's refusal among an error's causes (reqwest wraps what the resolver returned
/// in several layers).
pub fn refusal_in(error: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    std::iter::successors(Some(error), |e| e.source())
        .find_map(|e| e.downcast_ref::<Refusal>())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or_else(|e| panic!("{text} is not an address: {e}"))
    }

    fn net(text: &str) -> IpNet {
        text.parse()
            .unwrap_or_else(|e| panic!("{text} is not a network: {e}"))
    }

    /// Each address and what the default policy says of it (None: allowed).
    #[test]
    fn each_internal_range_is_blocked_with_its_reason() {
        let cases: &[(&str, Option<&str>)] = &[
            ("8.8.8.8", None),
            ("93.184.215.14", None),
            ("1.1.1.1", None),
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("10.0.0.1", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("172.32.0.1", None),
            ("192.168.1.1", Some("private")),
            ("169.254.1.1", Some("link-local")),
            ("100.64.0.1", Some("CGNAT shared address space")),
            ("100.127.255.255", Some("CGNAT shared address space")),
            ("100.128.0.1", None),
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("\"this network\" (0.0.0.0/8)")),
            ("224.0.0.1", Some("multicast")),
            ("239.255.255.250", Some("multicast")),
            ("255.255.255.255", Some("broadcast")),
            ("240.0.0.1", Some("reserved")),
            ("192.0.0.8", Some("reserved")),
            ("192.0.2.1", Some("documentation")),
            ("198.18.0.1", Some("benchmarking")),
            // Cloud metadata, each named.
            ("169.254.169.254", Some("link-local: cloud metadata")),
            ("169.254.170.2", Some("link-local: cloud metadata")),
            ("169.254.0.23", Some("link-local: cloud metadata")),
            (
                "100.100.100.200",
                Some("CGNAT shared address space: cloud metadata"),
            ),
            ("192.0.0.192", Some("reserved: cloud metadata")),
            ("168.63.129.16", Some("cloud metadata")),
            ("fd00:ec2::254", Some("private: cloud metadata")),
            ("fd20:ce::254", Some("private: cloud metadata")),
            // IPv6.
            ("2606:4700::1111", None),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fc00::1", Some("private")),
            ("fd12:3456::1", Some("private")),
            ("fe80::1", Some("link-local")),
            ("fec0::1", Some("private")),
            ("ff02::1", Some("multicast")),
            ("ff0e::1", Some("multicast")),
            ("2001:db8::1", Some("documentation")),
            ("2001::1", Some("reserved")),
            ("100::1", Some("reserved")),
            ("64:ff9b:1::1", Some("private")),
            // IPv6 forms of IPv4 addresses: judged by the IPv4 address.
            (
                "::ffff:127.0.0.1",
                Some("loopback; IPv4-mapped form of 127.0.0.1"),
            ),
            ("::ffff:8.8.8.8", None),
            (
                "::ffff:169.254.169.254",
                Some("link-local: cloud metadata; IPv4-mapped form of 169.254.169.254"),
            ),
            (
                "::127.0.0.1",
                Some("loopback; IPv4-compatible form of 127.0.0.1"),
            ),
            (
                "::ffff:0:10.0.0.1",
                Some("private; IPv4-translated form of 10.0.0.1"),
            ),
            ("64:ff9b::7f00:1", Some("loopback; NAT64 form of 127.0.0.1")),
            (
                "64:ff9b::a9fe:a9fe",
                Some("link-local: cloud metadata; NAT64 form of 169.254.169.254"),
            ),
            ("64:ff9b::808:808", None),
            ("2002:7f00:1::1", Some("loopback; 6to4 form of 127.0.0.1")),
            ("2002:c0a8:101::", Some("private; 6to4 form of 192.168.1.1")),
            ("2002:808:808::1", None),
        ];
        for (address, want) in cases {
            let got = match classify(ip(address)) {
                Verdict::Allowed => None,
                Verdict::Blocked(blocked) => Some(blocked.to_string()),
            };
            assert_eq!(got.as_deref(), *want, "{address}");
        }
    }

    /// The url crate reads odd IPv4 spellings as the address they mean, so the literal check
    /// sees them.
    #[test]
    fn odd_ipv4_literals_are_checked_as_what_they_mean() {
        let policy = NetworkPolicy::default();
        let cases: &[(&str, &str)] = &[
            ("http://2130706433/feed", "127.0.0.1"),
            ("http://0x7f.1/feed", "127.0.0.1"),
            ("http://127.1/feed", "127.0.0.1"),
            ("http://0177.0.0.1/feed", "127.0.0.1"),
            ("http://0x7f000001/feed", "127.0.0.1"),
            ("http://127.0.0.1./feed", "127.0.0.1"),
            ("http://0/feed", "0.0.0.0"),
            ("http://[::ffff:127.0.0.1]/feed", "::ffff:127.0.0.1"),
            ("http://[::ffff:7f00:1]:8080/feed", "::ffff:127.0.0.1"),
            ("http://[0:0:0:0:0:0:0:1]/feed", "::1"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
            ),
            ("http://0xa9fea9fe/", "169.254.169.254"),
        ];
        for (text, address) in cases {
            let url = Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            match policy.check_url(&url) {
                Err(refusal) => assert_eq!(refusal.address, ip(address), "{text}"),
                Ok(()) => panic!("{text} ({url}) was allowed"),
            }
        }
        for text in [
            "http://example.org/feed",
            "http://8.8.8.8/",
            "https://[2606:4700::1111]/",
        ] {
            let url = Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(policy.check_url(&url), Ok(()), "{text}");
        }
    }

    #[test]
    fn allowances_lift_only_the_networks_they_name() {
        let policy = NetworkPolicy::allowing(vec![
            net("127.0.0.0/8"),
            net("10.20.0.0/16"),
            net("169.254.0.0/16"),
        ]);
        let allowed = [
            "127.0.0.1",
            "10.20.3.4",
            "::ffff:10.20.3.4",
            "64:ff9b::a14:304",
            "169.254.1.1",
        ];
        for address in allowed {
            assert_eq!(policy.check(ip(address)), Ok(()), "{address}");
        }
        // Not named: still blocked. A metadata address inside an allowed range too.
        let blocked = [
            "::1",
            "10.21.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "::ffff:169.254.169.254",
        ];
        for address in blocked {
            assert!(policy.check(ip(address)).is_err(), "{address} was allowed");
        }
        let metadata = NetworkPolicy::allowing(vec![net("169.254.169.254/32")]);
        assert_eq!(metadata.check(ip("169.254.169.254")), Ok(()));
        assert_eq!(metadata.check(ip("::ffff:169.254.169.254")), Ok(()));
        assert!(metadata.check(ip("169.254.169.253")).is_err());
    }

    #[test]
    fn a_refusal_names_the_address_the_reason_and_the_key() {
        let policy = NetworkPolicy::default();
        let url = Url::parse("http://169.254.169.254/latest/meta-data/")
            .unwrap_or_else(|e| panic!("{e}"));
        let refusal = policy
            .check_url(&url)
            .err()
            .unwrap_or_else(|| panic!("the metadata address was allowed"));
        assert_eq!(
            refusal.to_string(),
            "refused to connect to 169.254.169.254 (link-local: cloud metadata): add \"169.254.169.254/32\" to daemon.allow_private_addresses if this source is yours"
        );
        let mapped = Url::parse("http://[::ffff:10.0.0.1]/").unwrap_or_else(|e| panic!("{e}"));
        let refusal = policy
            .check_url(&mapped)
            .err()
            .unwrap_or_else(|| panic!("a mapped private address was allowed"));
        assert_eq!(
            refusal.to_string(),
            "refused to connect to ::ffff:10.0.0.1 (private; IPv4-mapped form of 10.0.0.1): add \"10.0.0.1/32\" to daemon.allow_private_addresses if this source is yours"
        );
    }

    #[tokio::test]
    async fn a_name_is_checked_on_every_address_it_resolves_to() {
        let resolver = NetworkPolicy::default().resolver();
        match resolver.lookup("localhost").await {
            Err(ResolveError::Refused(refusal)) => {
                assert_eq!(refusal.host.as_deref(), Some("localhost"));
                assert!(refusal.address.is_loopback(), "{refusal}");
                assert!(
                    refusal
                        .to_string()
                        .starts_with("refused to connect to localhost at "),
                    "{refusal}"
                );
            }
            other => panic!("localhost was not refused: {other:?}"),
        }
        // Allowing IPv4 loopback only: localhost keeps its IPv4 addresses, loses ::1.
        let resolver = NetworkPolicy::allowing(vec![net("127.0.0.0/8")]).resolver();
        let addrs = resolver
            .lookup("localhost")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.is_ipv4()), "{addrs:?}");
    }
}
