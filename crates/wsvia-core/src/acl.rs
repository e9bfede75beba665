//! Destination rules for a forward proxy: which `host:port` a client may
//! reach through it.
//!
//! This module owns [`AccessRules`] (allowed ports, allow and deny lists and
//! the private-address guard), the list entries ([`Destination`],
//! [`PortSet`]), the outcome ([`Verdict`], [`Denial`]) and [`is_private`]. It
//! is sans-IO: it never resolves a name. The proxy (crate `wsvia-proxy`)
//! checks a target twice:
//!
//! 1. [`AccessRules::check_name`] with the host as the client sent it, before
//!    any DNS query. It denies early what the port, the deny list or a
//!    name-only allow list already rule out. For a name it cannot judge the
//!    address rules, so [`Verdict::Allow`] here means "resolve it and go on".
//! 2. [`AccessRules::check_address`] for every resolved address, right
//!    before connecting. This is the check that counts; it repeats the name
//!    rules and adds the address ones, so a name whose DNS answer points to a
//!    private address (DNS rebinding) is refused. Connect only to addresses
//!    that get [`Verdict::Allow`].
//!
//! An IP-literal host (`10.1.2.3`, `[::1]`) is its own resolved address:
//! `check_name` applies every rule to it at once.
//!
//! # Rules, in order
//!
//! 1. **Port.** With [`AccessRules::allow_ports`] set, any other port is
//!    denied ([`Denial::Port`]).
//! 2. **Deny list.** A target matching any deny entry, by name or by
//!    address, is denied ([`Denial::Denied`]). Deny wins over allow.
//! 3. **Allow list.** When the allow list is not empty, the target must match
//!    one of its entries, by name or (for address and network entries) by the
//!    resolved address ([`Denial::NotAllowed`]).
//! 4. **Private addresses.** With [`AccessRules::allow_private`] false, an
//!    address for which [`is_private`] holds is denied ([`Denial::Private`])
//!    unless an allow entry that is an *address or network* contains it. An
//!    allow entry by *name* never lifts this: the name's owner controls what
//!    it resolves to.
//!
//! # Entries
//!
//! | written as                      | [`Destination`]            | matches                                      |
//! |---------------------------------|----------------------------|----------------------------------------------|
//! | `example.com`                   | `Name`                     | `example.com` only                           |
//! | `.example.com`                  | `Suffix { apex: true }`    | `example.com` and every name under it        |
//! | `*.example.com`                 | `Suffix { apex: false }`   | every name under `example.com`, not itself   |
//! | `10.1.2.3`, `::1`, `[::1]`      | `Addr`                     | that address                                 |
//! | `10.0.0.0/8`, `[fd00::]/8`      | `Net`                      | every address in the network                 |
//!
//! Names compare case-insensitively and ignore one trailing dot on both
//! sides; `www.example.com` is under `example.com`, `badexample.com` is not.
//! Name entries never match an IP-literal host and address entries never
//! match a name (only the name's resolved addresses). An address entry also
//! matches an IPv6 address that carries the IPv4 address inside it (the
//! IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`,
//! IPv4-compatible `::a.b.c.d` and NAT64 `64:ff9b::a.b.c.d` forms), so
//! `--deny 10.0.0.0/8` also stops `::ffff:10.0.0.1`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

pub use ipnet::IpNet;

/// A set of TCP ports written as `443,80,8000-9000`.
///
/// # Examples
///
/// ```
/// use wsvia_core::acl::PortSet;
///
/// let ports = PortSet::parse("443, 80,8000-9000")?;
/// assert!(ports.contains(443) && ports.contains(8500));
/// assert!(!ports.contains(25));
/// assert_eq!(ports.to_string(), "443,80,8000-9000");
/// # Ok::<(), wsvia_core::acl::AclError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSet {
    /// Inclusive ranges in the order written; a single port is `(p, p)`.
    ranges: Vec<(u16, u16)>,
}

impl PortSet {
    /// Parses a comma-separated list of ports (`1`–`65535`) and inclusive
    /// ranges `low-high`. Spaces around items and empty items are ignored.
    ///
    /// # Errors
    ///
    /// [`AclError::EmptyPortList`] when there is no port at all,
    /// [`AclError::InvalidPort`] for an item that is not a number or a
    /// range (`https`, `1-2-3`), [`AclError::PortOutOfRange`] for `0` or
    /// more than `65535`, and [`AclError::ReversedPortRange`] for `80-20`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::acl::{AclError, PortSet};
    ///
    /// assert!(PortSet::parse("1-65535")?.contains(65535));
    /// assert!(matches!(PortSet::parse("0"), Err(AclError::PortOutOfRange { .. })));
    /// assert!(matches!(PortSet::parse("80-20"), Err(AclError::ReversedPortRange { .. })));
    /// # Ok::<(), AclError>(())
    /// ```
    pub fn parse(list: &str) -> Result<PortSet, AclError> {
        let mut ranges = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (low, high) = match item.split_once('-') {
                Some((low, high)) => (parse_port(item, low)?, parse_port(item, high)?),
                None => {
                    let port = parse_port(item, item)?;
                    (port, port)
                }
            };
            if low > high {
                return Err(AclError::ReversedPortRange {
                    entry: item.to_owned(),
                });
            }
            ranges.push((low, high));
        }
        if ranges.is_empty() {
            return Err(AclError::EmptyPortList);
        }
        Ok(PortSet { ranges })
    }

    /// Whether `port` is in the set.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::acl::PortSet;
    ///
    /// let ports = PortSet::parse("8000-8002")?;
    /// assert_eq!((7999..=8003).map(|p| ports.contains(p)).collect::<Vec<_>>(),
    ///            [false, true, true, true, false]);
    /// # Ok::<(), wsvia_core::acl::AclError>(())
    /// ```
    pub fn contains(&self, port: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(low, high)| (low..=high).contains(&port))
    }
}

impl FromStr for PortSet {
    type Err = AclError;

    fn from_str(list: &str) -> Result<PortSet, AclError> {
        PortSet::parse(list)
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(low, high)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if low == high {
                write!(f, "{low}")?;
            } else {
                write!(f, "{low}-{high}")?;
            }
        }
        Ok(())
    }
}

/// One allow or deny entry; see the [module docs](self) for what each form
/// matches.
///
/// # Examples
///
/// ```
/// use wsvia_core::acl::Destination;
///
/// assert_eq!(Destination::parse("Example.COM.")?, Destination::Name("example.com".into()));
/// assert_eq!(
///     Destination::parse("*.example.com")?,
///     Destination::Suffix { domain: "example.com".into(), apex: false }
/// );
/// assert_eq!(Destination::parse("[::1]")?.to_string(), "::1");
/// assert_eq!(Destination::parse("10.0.0.0/8")?.to_string(), "10.0.0.0/8");
/// # Ok::<(), wsvia_core::acl::AclError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Exactly this host name (lowercase, no trailing dot).
    Name(String),
    /// Names under `domain` (lowercase, no leading or trailing dot), and
    /// `domain` itself when `apex` is set: `.example.com` has `apex: true`,
    /// `*.example.com` has `apex: false`.
    Suffix {
        /// The parent domain, e.g. `example.com`.
        domain: String,
        /// Whether the parent domain itself matches too.
        apex: bool,
    },
    /// Exactly this address.
    Addr(IpAddr),
    /// Every address in this network, as written (host bits are kept for
    /// display and ignored for matching).
    Net(IpNet),
}

impl Destination {
    /// Parses one entry: a host name, `.domain` / `*.domain`, an IP address
    /// (IPv6 with or without brackets) or a CIDR network.
    ///
    /// Names are lowercased and lose one trailing dot. Names must be ASCII
    /// (write internationalised names in their `xn--` form) and are made of
    /// letters, digits, `-` and `_`.
    ///
    /// # Errors
    ///
    /// [`AclError::InvalidPrefix`] for a CIDR with a bad prefix length
    /// (`10.0.0.0/33`), [`AclError::InvalidDestination`] for anything else
    /// that is not one of the forms above, with the reason (an empty entry,
    /// a port, a `*` elsewhere than in front, a malformed address...).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::acl::{AclError, Destination};
    ///
    /// assert!(matches!(Destination::parse("10.0.0.0/33"), Err(AclError::InvalidPrefix { .. })));
    /// assert!(matches!(
    ///     Destination::parse("example.com:443"),
    ///     Err(AclError::InvalidDestination { .. })
    /// ));
    /// ```
    pub fn parse(entry: &str) -> Result<Destination, AclError> {
        let text = entry.trim();
        let invalid = |reason: &'static str| AclError::InvalidDestination {
            entry: text.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(invalid("the entry is empty"));
        }
        if let Some(bracketed) = text.strip_prefix('[') {
            let Some((inside, after)) = bracketed.split_once(']') else {
                return Err(invalid("'[' is not closed by ']'"));
            };
            let Ok(addr) = inside.parse::<Ipv6Addr>() else {
                return Err(invalid("brackets must hold an IPv6 address"));
            };
            return match after {
                "" => Ok(Destination::Addr(IpAddr::V6(addr))),
                _ => match after.strip_prefix('/') {
                    Some(bits) => net(text, IpAddr::V6(addr), bits),
                    None if after.starts_with(':') => Err(invalid(PORT_REASON)),
                    None => Err(invalid("only '/bits' may follow ']'")),
                },
            };
        }
        if let Some((addr, bits)) = text.split_once('/') {
            let Ok(addr) = addr.parse::<IpAddr>() else {
                return Err(invalid(
                    "the part before '/' must be an IP address (networks are CIDRs)",
                ));
            };
            return net(text, addr, bits);
        }
        if let Ok(addr) = text.parse::<IpAddr>() {
            return Ok(Destination::Addr(addr));
        }
        if text.contains(':') {
            return Err(invalid(if text.matches(':').count() == 1 {
                PORT_REASON
            } else {
                "it is not a valid IPv6 address"
            }));
        }
        let (name, suffix) = if let Some(rest) = text.strip_prefix("*.") {
            (rest, Some(false))
        } else if let Some(rest) = text.strip_prefix('.') {
            (rest, Some(true))
        } else {
            (text, None)
        };
        let name = normalize_name(name).map_err(invalid)?;
        Ok(match suffix {
            None => Destination::Name(name),
            Some(apex) => Destination::Suffix { domain: name, apex },
        })
    }

    /// Whether this entry matches the (normalized) host by name.
    fn matches_host(&self, host: &Host) -> bool {
        let Host::Name(host) = host else {
            return false;
        };
        match self {
            Destination::Name(name) => host == name,
            Destination::Suffix { domain, apex } => {
                (*apex && host == domain)
                    || host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|head| head.len() > 1 && head.ends_with('.'))
            }
            Destination::Addr(_) | Destination::Net(_) => false,
        }
    }

    /// Whether this is an address entry containing `addr` or the IPv4
    /// address embedded in it.
    fn matches_addr(&self, addr: IpAddr) -> bool {
        let embedded = match addr {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let contains = |candidate: IpAddr| match self {
            Destination::Addr(entry) => *entry == candidate,
            Destination::Net(net) => net.contains(&candidate),
            Destination::Name(_) | Destination::Suffix { .. } => false,
        };
        contains(addr) || embedded.is_some_and(contains)
    }

    fn is_address(&self) -> bool {
        matches!(self, Destination::Addr(_) | Destination::Net(_))
    }
}

impl FromStr for Destination {
    type Err = AclError;

    fn from_str(entry: &str) -> Result<Destination, AclError> {
        Destination::parse(entry)
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Name(name) => f.write_str(name),
            Destination::Suffix { domain, apex: true } => write!(f, ".{domain}"),
            Destination::Suffix {
                domain,
                apex: false,
            } => write!(f, "*.{domain}"),
            Destination::Addr(addr) => write!(f, "{addr}"),
            Destination::Net(net) => write!(f, "{net}"),
        }
    }
}

/// The destination rules of a proxy; see the [module docs](self) for the
/// order in which they apply.
///
/// The default allows every port and destination, private ones included.
///
/// # Examples
///
/// ```
/// use wsvia_core::acl::{AccessRules, Denial, PortSet, Verdict};
///
/// let rules = AccessRules {
///     allow_ports: Some(PortSet::parse("443")?),
///     deny: AccessRules::parse_list(".corp.example")?,
///     allow_private: false,
///     ..AccessRules::default()
/// };
/// assert_eq!(rules.check_name("echo.example", 443), Verdict::Allow);
/// assert_eq!(
///     rules.check_name("echo.example", 25),
///     Verdict::Deny(Denial::Port { port: 25 })
/// );
/// // After DNS: the name was fine, the address it resolved to is not.
/// let verdict = rules.check_address("echo.example", "127.0.0.1".parse()?, 443);
/// assert_eq!(verdict.to_string(), "denied: 127.0.0.1 is a private address (use --allow-private)");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRules {
    /// Ports a client may connect to; `None` allows every port.
    pub allow_ports: Option<PortSet>,
    /// When not empty, the destination must match one of these.
    pub allow: Vec<Destination>,
    /// Destinations that are always refused (deny wins over allow).
    pub deny: Vec<Destination>,
    /// Whether private, loopback and other special addresses (see
    /// [`is_private`]) may be reached without an explicit address allow entry.
    pub allow_private: bool,
}

impl Default for AccessRules {
    fn default() -> AccessRules {
        AccessRules {
            allow_ports: None,
            allow: Vec::new(),
            deny: Vec::new(),
            allow_private: true,
        }
    }
}

impl AccessRules {
    /// Parses a comma-separated list of [`Destination`]s, as `--allow` and
    /// `--deny` take them. Spaces around entries and empty entries are
    /// ignored, so `""` is the empty list (which, as an allow list, allows
    /// everything).
    ///
    /// # Errors
    ///
    /// The first entry that [`Destination::parse`] rejects.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::acl::{AccessRules, Destination};
    ///
    /// let list = AccessRules::parse_list("example.com, .corp, 10.0.0.0/8,")?;
    /// assert_eq!(list.len(), 3);
    /// assert_eq!(list[1].to_string(), ".corp");
    /// assert!(AccessRules::parse_list("").map(|l| l.is_empty())?);
    /// assert!(AccessRules::parse_list("ok.example, bad entry").is_err());
    /// # Ok::<(), wsvia_core::acl::AclError>(())
    /// ```
    pub fn parse_list(list: &str) -> Result<Vec<Destination>, AclError> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(Destination::parse)
            .collect()
    }

    /// Checks a target before resolving it.
    ///
    /// `host` is the host as the client sent it (a name, an IPv4 address or
    /// an IPv6 address with or without brackets). For an IP-literal host
    /// this is the whole check. For a name, [`Verdict::Allow`] only means
    /// nothing rules it out yet: resolve it and call
    /// [`AccessRules::check_address`] for every address.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::acl::{AccessRules, Denial, Verdict};
    ///
    /// let rules = AccessRules { allow_private: false, ..AccessRules::default() };
    /// assert_eq!(rules.check_name("localtest.example", 80), Verdict::Allow);
    /// assert_eq!(
    ///     rules.check_name("[::1]", 80),
    ///     Verdict::Deny(Denial::Private { addr: "::1".parse()? })
    /// );
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn check_name(&self, host: &str, port: u16) -> Verdict {
        let host = Host::parse(host);
        if let Host::Addr(addr) = host {
            return self.check(&host, Some(addr), port);
        }
        self.check(&host, None, port)
    }

    /// Checks one resolved address of `host` (the host as the client sent
    /// it), right before connecting to it.
    ///
    /// Applies every rule: the name rules again (so a caller may skip
    /// [`AccessRules::check_name`]) and the address rules.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::acl::{AccessRules, Denial, Verdict};
    ///
    /// let rules = AccessRules {
    ///     allow: AccessRules::parse_list("app.example, 10.9.0.0/16")?,
    ///     allow_private: false,
    ///     ..AccessRules::default()
    /// };
    /// // The name is allowed, but its owner cannot point it at a private address...
    /// let v = rules.check_address("app.example", "10.1.0.1".parse()?, 443);
    /// assert!(matches!(v, Verdict::Deny(Denial::Private { .. })));
    /// // ...unless an address entry allows that address.
    /// assert_eq!(rules.check_address("db.example", "10.9.0.1".parse()?, 443), Verdict::Allow);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_address(&self, host: &str, addr: IpAddr, port: u16) -> Verdict {
        self.check(&Host::parse(host), Some(addr), port)
    }

    /// All rules; address rules only when `addr` is known.
    fn check(&self, host: &Host, addr: Option<IpAddr>, port: u16) -> Verdict {
        if self.allow_ports.as_ref().is_some_and(|p| !p.contains(port)) {
            return Verdict::Deny(Denial::Port { port });
        }
        let matches = |entry: &Destination| {
            entry.matches_host(host) || addr.is_some_and(|addr| entry.matches_addr(addr))
        };
        if let Some(entry) = self.deny.iter().find(|entry| matches(entry)) {
            return Verdict::Deny(Denial::Denied {
                entry: entry.to_string(),
            });
        }
        if !self.allow.is_empty() && !self.allow.iter().any(matches) {
            // Before DNS, an address entry may still match a resolved address.
            let undecided = addr.is_none() && self.allow.iter().any(Destination::is_address);
            if !undecided {
                return Verdict::Deny(Denial::NotAllowed);
            }
        }
        match addr {
            Some(addr) if !self.allow_private && is_private(addr) => {
                let exempt = self
                    .allow
                    .iter()
                    .any(|entry| entry.is_address() && entry.matches_addr(addr));
                if exempt {
                    Verdict::Allow
                } else {
                    Verdict::Deny(Denial::Private { addr })
                }
            }
            _ => Verdict::Allow,
        }
    }
}

/// The outcome of a check.
///
/// # Examples
///
/// ```
/// use wsvia_core::acl::{AccessRules, Verdict};
///
/// let verdict = AccessRules::default().check_name("example.com", 443);
/// assert!(verdict.is_allow());
/// assert_eq!(verdict.to_string(), "allowed");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// Go on (see [`AccessRules::check_name`] for what it means before DNS).
    Allow,
    /// Refuse, for this reason.
    Deny(Denial),
}

impl Verdict {
    /// Whether this is [`Verdict::Allow`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::acl::{Denial, Verdict};
    ///
    /// assert!(Verdict::Allow.is_allow());
    /// assert!(!Verdict::Deny(Denial::NotAllowed).is_allow());
    /// ```
    pub fn is_allow(&self) -> bool {
        matches!(self, Verdict::Allow)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Allow => f.write_str("allowed"),
            Verdict::Deny(denial) => write!(f, "denied: {denial}"),
        }
    }
}

/// Why a destination was refused. `Display` gives a short reason fit for a
/// `403` body or a log line.
///
/// # Examples
///
/// ```
/// use wsvia_core::acl::Denial;
///
/// assert_eq!(Denial::Port { port: 25 }.to_string(), "port 25 is not allowed");
/// assert_eq!(
///     Denial::Denied { entry: ".corp".into() }.to_string(),
///     "destination matches deny entry '.corp'"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The port is not in [`AccessRules::allow_ports`].
    Port {
        /// The requested port.
        port: u16,
    },
    /// The destination matches a deny entry.
    Denied {
        /// The entry, as [`Destination`]'s `Display` writes it.
        entry: String,
    },
    /// The allow list is not empty and nothing in it matches.
    NotAllowed,
    /// The address is private (see [`is_private`]) and no address allow
    /// entry contains it.
    Private {
        /// The refused address.
        addr: IpAddr,
    },
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::Port { port } => write!(f, "port {port} is not allowed"),
            Denial::Denied { entry } => write!(f, "destination matches deny entry '{entry}'"),
            Denial::NotAllowed => f.write_str("destination is not in the allow list"),
            Denial::Private { addr } => {
                write!(f, "{addr} is a private address (use --allow-private)")
            }
        }
    }
}

/// Whether a proxy should keep clients away from `addr` by default: any
/// address that is not plainly a public unicast host.
///
/// IPv4: `0.0.0.0/8` (this network, unspecified), `10/8`, `172.16/12`,
/// `192.168/16` (RFC 1918), `100.64/10` (CGNAT), `127/8` (loopback),
/// `169.254/16` (link-local), `192.0.0.0/24` (IETF protocol assignments),
/// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24` (documentation),
/// `198.18/15` (benchmarking), `224/4` (multicast) and `240/4` (reserved,
/// with the broadcast address).
///
/// IPv6: `::` and `::1`, `fc00::/7` (ULA), `fe80::/10` (link-local),
/// `fec0::/10` (old site-local), `ff00::/8` (multicast), `2001:db8::/32`
/// and `3fff::/20` (documentation), `2001:2::/48` (benchmarking),
/// `100::/64` (discard-only) and `64:ff9b:1::/48` (local-use NAT64). IPv6
/// forms that carry an IPv4 address are judged by that address:
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and 6to4
/// `2002:aabb:ccdd::/48`. (Teredo's obfuscated addresses are not decoded.)
///
/// # Examples
///
/// ```
/// use wsvia_core::acl::is_private;
///
/// for private in ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fd00::1", "::ffff:127.0.0.1"] {
///     assert!(is_private(private.parse()?), "{private}");
/// }
/// for public in ["93.184.215.14", "2606:4700::1111", "::ffff:1.1.1.1"] {
///     assert!(!is_private(public.parse()?), "{public}");
/// }
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn is_private(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

/// Errors in the text of a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AclError {
    /// The port list has no port in it.
    #[error("the port list is empty: give ports and ranges like 443,80,8000-9000")]
    EmptyPortList,
    /// A port list item is neither a number nor a `low-high` range.
    #[error("invalid port `{entry}`: expected a port (1-65535) or a range like 8000-9000")]
    InvalidPort {
        /// The item as written.
        entry: String,
    },
    /// A port is `0` or above `65535`.
    #[error("port `{entry}` is out of range: ports are 1 to 65535")]
    PortOutOfRange {
        /// The item as written.
        entry: String,
    },
    /// A range has its high end first.
    #[error("port range `{entry}` is reversed: write the lower port first, e.g. 20-80")]
    ReversedPortRange {
        /// The item as written.
        entry: String,
    },
    /// A CIDR's prefix length is not a number within the family's width.
    #[error("invalid network `{entry}`: the prefix length must be a number from 0 to {max}")]
    InvalidPrefix {
        /// The entry as written.
        entry: String,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
    /// A destination entry has none of the accepted forms.
    #[error(
        "invalid destination `{entry}`: {reason}; expected a host name (example.com), \
         a domain (.example.com or *.example.com), an IP address (10.1.2.3, ::1, [::1]) \
         or a network (10.0.0.0/8, fd00::/8)"
    )]
    InvalidDestination {
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

const PORT_REASON: &str = "destinations do not take a port (restrict ports with the port list)";

/// The target host, classified once.
enum Host {
    /// Lowercase, without one trailing dot.
    Name(String),
    Addr(IpAddr),
}

impl Host {
    fn parse(host: &str) -> Host {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(addr) = bare.parse::<IpAddr>() {
            return Host::Addr(addr);
        }
        let mut name = host.to_ascii_lowercase();
        if name.ends_with('.') {
            name.pop();
        }
        Host::Name(name)
    }
}

/// One port of `entry`, from `text`: ASCII digits, `1..=65535`.
fn parse_port(entry: &str, text: &str) -> Result<u16, AclError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AclError::InvalidPort {
            entry: entry.to_owned(),
        });
    }
    match text.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(AclError::PortOutOfRange {
            entry: entry.to_owned(),
        }),
    }
}

/// A `Net` entry from an address and the digits after `/`.
fn net(entry: &str, addr: IpAddr, bits: &str) -> Result<Destination, AclError> {
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bad = || AclError::InvalidPrefix {
        entry: entry.to_owned(),
        max,
    };
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let bits = bits.parse::<u8>().map_err(|_| bad())?;
    IpNet::new(addr, bits)
        .map(Destination::Net)
        .map_err(|_| bad())
}

/// Lowercases a host name entry, drops one trailing dot and checks it.
fn normalize_name(text: &str) -> Result<String, &'static str> {
    let mut name = text.to_ascii_lowercase();
    if name.ends_with('.') {
        name.pop();
    }
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.contains('*') {
        return Err("'*' is only allowed as a leading '*.'");
    }
    if !name.is_ascii() {
        return Err("write internationalised names in their punycode (xn--) form");
    }
    if name.len() > 253 {
        return Err("a name is at most 253 characters long");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("the name has an empty label (two dots in a row)");
        }
        if label.len() > 63 {
            return Err("a label (between dots) is at most 63 characters long");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("a name may contain only letters, digits, '-', '_' and dots");
        }
    }
    let last = name.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err("it looks like an IPv4 address but is not a valid one");
    }
    Ok(name)
}

/// The IPv4 address that stands for the host itself inside an IPv6 one:
/// mapped `::ffff:0:0/96`, translated `::ffff:0:0:0/96`, compatible `::/96`
/// (but not `::` or `::1`) and NAT64 `64:ff9b::/96`.
fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = v6.to_bits();
    // Truncation intended: the low 32 bits are the IPv4 address.
    let v4 = bits as u32;
    match bits >> 32 {
        0xffff | 0xffff_0000 | 0x0064_ff9b_0000_0000_0000_0000 => Some(Ipv4Addr::from_bits(v4)),
        0 if v4 > 1 => Some(Ipv4Addr::from_bits(v4)),
        _ => None,
    }
}

/// Whether `addr` is in `net/len`, both `width` bits wide (`len <= width`).
fn in_prefix(addr: u128, net: u128, len: u32, width: u32) -> bool {
    len == 0 || (addr ^ net) >> (width - len) == 0
}

const PRIVATE_V4: &[([u8; 4], u32)] = &[
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 24),
    ([192, 0, 2, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    ([224, 0, 0, 0], 4),
    ([240, 0, 0, 0], 4),
];

const PRIVATE_V6: &[(u128, u32)] = &[
    (0, 128),                     // ::
    (1, 128),                     // ::1
    (0x0064_ff9b_0001 << 80, 48), // 64:ff9b:1::/48
    (0x0100 << 112, 64),          // 100::/64
    (0x2001_0002 << 96, 48),      // 2001:2::/48
    (0x2001_0db8 << 96, 32),      // 2001:db8::/32
    (0x3fff << 112, 20),          // 3fff::/20
    (0xfc00 << 112, 7),           // fc00::/7
    (0xfe80 << 112, 10),          // fe80::/10
    (0xfec0 << 112, 10),          // fec0::/10
    (0xff00 << 112, 8),           // ff00::/8
];

fn is_private_v4(addr: Ipv4Addr) -> bool {
    let bits = u128::from(addr.to_bits());
    PRIVATE_V4
        .iter()
        .any(|&(net, len)| in_prefix(bits, u128::from(u32::from_be_bytes(net)), len, 32))
}

fn is_private_v6(addr: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_ipv4(addr) {
        return is_private_v4(v4);
    }
    let bits = addr.to_bits();
    if bits >> 112 == 0x2002 {
        // 6to4: 2002:aabb:ccdd::/48 routes to the IPv4 host aa.bb.cc.dd.
        // Truncation intended: bits 80..112 are the IPv4 address.
        return is_private_v4(Ipv4Addr::from_bits((bits >> 80) as u32));
    }
    PRIVATE_V6
        .iter()
        .any(|&(net, len)| in_prefix(bits, net, len, 128))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn rules(allow: &str, deny: &str, ports: Option<&str>, allow_private: bool) -> AccessRules {
        AccessRules {
            allow_ports: ports.map(|p| PortSet::parse(p).expect("test port list")),
            allow: AccessRules::parse_list(allow).expect("test allow list"),
            deny: AccessRules::parse_list(deny).expect("test deny list"),
            allow_private,
        }
    }

    fn deny_entry(entry: &str) -> Verdict {
        Verdict::Deny(Denial::Denied {
            entry: entry.to_owned(),
        })
    }

    fn private(addr: &str) -> Verdict {
        Verdict::Deny(Denial::Private { addr: ip(addr) })
    }

    const NOT_ALLOWED: Verdict = Verdict::Deny(Denial::NotAllowed);

    #[test]
    fn port_sets() {
        let cases: &[(&str, &[u16], &[u16], &str)] = &[
            ("443", &[443], &[442, 444, 80], "443"),
            (
                "443,80,8000-9000",
                &[80, 443, 8000, 8500, 9000],
                &[7999, 9001],
                "443,80,8000-9000",
            ),
            (" 80 , 443 ,", &[80, 443], &[81], "80,443"),
            ("1-65535", &[1, 65535], &[0], "1-65535"),
            ("22-22", &[22], &[21, 23], "22"),
        ];
        for (text, inside, outside, shown) in cases {
            let set = PortSet::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            for port in *inside {
                assert!(set.contains(*port), "{port} in {text:?}");
            }
            for port in *outside {
                assert!(!set.contains(*port), "{port} not in {text:?}");
            }
            assert_eq!(set.to_string(), *shown);
            assert_eq!(text.parse::<PortSet>().as_ref(), Ok(&set));
        }
    }

    #[test]
    fn bad_port_sets() {
        let invalid = |e: &str| AclError::InvalidPort { entry: e.into() };
        let range = |e: &str| AclError::PortOutOfRange { entry: e.into() };
        let cases = [
            ("", AclError::EmptyPortList),
            (" , ", AclError::EmptyPortList),
            ("0", range("0")),
            ("70000", range("70000")),
            ("65536", range("65536")),
            ("0-80", range("0-80")),
            (
                "80-20",
                AclError::ReversedPortRange {
                    entry: "80-20".into(),
                },
            ),
            ("1-2-3", invalid("1-2-3")),
            ("https", invalid("https")),
            ("+443", invalid("+443")),
            ("443-", invalid("443-")),
            ("-443", invalid("-443")),
            ("4 43", invalid("4 43")),
            ("443,x", invalid("x")),
        ];
        for (text, want) in cases {
            assert_eq!(PortSet::parse(text), Err(want), "{text:?}");
        }
        let message = PortSet::parse("80-20").map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err("port range `80-20` is reversed: write the lower port first, e.g. 20-80".into())
        );
    }

    #[test]
    fn destination_forms() {
        let name = |n: &str| Destination::Name(n.into());
        let suffix = |d: &str, apex| Destination::Suffix {
            domain: d.into(),
            apex,
        };
        let net = |n: &str| Destination::Net(n.parse().expect("test net"));
        let cases = [
            ("example.com", name("example.com"), "example.com"),
            ("Example.COM.", name("example.com"), "example.com"),
            (" localhost ", name("localhost"), "localhost"),
            (
                "xn--bcher-kva.example",
                name("xn--bcher-kva.example"),
                "xn--bcher-kva.example",
            ),
            ("_srv.example", name("_srv.example"), "_srv.example"),
            ("1.2.3.4.nip.io", name("1.2.3.4.nip.io"), "1.2.3.4.nip.io"),
            (".example.com", suffix("example.com", true), ".example.com"),
            (".Corp.", suffix("corp", true), ".corp"),
            (
                "*.example.com",
                suffix("example.com", false),
                "*.example.com",
            ),
            ("10.1.2.3", Destination::Addr(ip("10.1.2.3")), "10.1.2.3"),
            ("::1", Destination::Addr(ip("::1")), "::1"),
            ("[::1]", Destination::Addr(ip("::1")), "::1"),
            (
                "[2001:DB8::1]",
                Destination::Addr(ip("2001:db8::1")),
                "2001:db8::1",
            ),
            ("10.0.0.0/8", net("10.0.0.0/8"), "10.0.0.0/8"),
            ("10.1.2.3/8", net("10.1.2.3/8"), "10.1.2.3/8"),
            ("0.0.0.0/0", net("0.0.0.0/0"), "0.0.0.0/0"),
            ("fd00::/8", net("fd00::/8"), "fd00::/8"),
            ("[fd00::]/8", net("fd00::/8"), "fd00::/8"),
            ("::/0", net("::/0"), "::/0"),
        ];
        for (text, want, shown) in cases {
            let got = Destination::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(got, want, "{text:?}");
            assert_eq!(got.to_string(), shown, "{text:?}");
        }
    }

    #[test]
    fn bad_destinations() {
        let prefix = |e: &str, max| AclError::InvalidPrefix {
            entry: e.into(),
            max,
        };
        let cases: &[(&str, Option<AclError>)] = &[
            ("10.0.0.0/33", Some(prefix("10.0.0.0/33", 32))),
            ("fd00::/129", Some(prefix("fd00::/129", 128))),
            ("10.0.0.0/", Some(prefix("10.0.0.0/", 32))),
            ("10.0.0.0/+8", Some(prefix("10.0.0.0/+8", 32))),
            ("10.0.0.0/300", Some(prefix("10.0.0.0/300", 32))),
            ("[fd00::]/x", Some(prefix("[fd00::]/x", 128))),
            ("", None),
            ("example.com:443", None),
            ("[::1]:443", None),
            ("[::1", None),
            ("[10.0.0.1]", None),
            ("[::1]x", None),
            ("host/8", None),
            ("10.0.0.256", None),
            ("10.0.0", None),
            ("1:2:3", None),
            ("fe80::1%eth0", None),
            ("*", None),
            ("*.", None),
            (".", None),
            ("a.*.example", None),
            ("*example.com", None),
            ("..example.com", None),
            ("a..b", None),
            ("bad entry", None),
            ("bücher.example", None),
            ("a_b!", None),
        ];
        for (text, want) in cases {
            let got = Destination::parse(text);
            match want {
                Some(want) => assert_eq!(got.as_ref(), Err(want), "{text:?}"),
                None => assert!(
                    matches!(got, Err(AclError::InvalidDestination { .. })),
                    "{text:?}: {got:?}"
                ),
            }
        }
        let long_label = format!("{}.example", "a".repeat(64));
        assert!(Destination::parse(&long_label).is_err());
        let long_name = ["abcdefghi"; 26].join(".");
        assert!(Destination::parse(&long_name).is_err());
    }

    #[test]
    fn error_messages_name_the_entry_and_the_forms() {
        let cases = [
            (
                "example.com:443",
                "invalid destination `example.com:443`: destinations do not take a port",
            ),
            (
                "10.0.0.0/33",
                "invalid network `10.0.0.0/33`: the prefix length must be a number from 0 to 32",
            ),
            ("a.*.b", "invalid destination `a.*.b`: '*' is only allowed"),
        ];
        for (text, start) in cases {
            let message = Destination::parse(text)
                .map(|_| ())
                .map_err(|e| e.to_string());
            let message = message.expect_err(text);
            assert!(message.starts_with(start), "{message}");
        }
        let message = AccessRules::parse_list("ok.example, *").map_err(|e| e.to_string());
        assert!(
            message
                .as_ref()
                .is_err_and(|m| m.contains("or a network (10.0.0.0/8, fd00::/8)")),
            "{message:?}"
        );
    }

    #[test]
    fn name_matching() {
        // (entry, host, matches)
        let cases = [
            ("example.com", "example.com", true),
            ("example.com", "EXAMPLE.com.", true),
            ("example.com", "[example.com]", false),
            ("example.com", "www.example.com", false),
            ("example.com", "example.com.evil", false),
            ("www.example.com", "example.com", false),
            (".example.com", "example.com", true),
            (".example.com", "Example.Com.", true),
            (".example.com", "www.example.com", true),
            (".example.com", "a.b.example.com", true),
            (".example.com", "badexample.com", false),
            (".example.com", "example.com.evil", false),
            (".example.com", ".example.com", false),
            ("*.example.com", "example.com", false),
            ("*.example.com", "www.example.com", true),
            ("*.example.com", "a.b.example.com", true),
            ("*.example.com", "badexample.com", false),
            (".corp", "db.corp", true),
            ("localhost", "LOCALHOST", true),
            // Names never match IP literals and vice versa.
            ("localhost", "127.0.0.1", false),
            ("1.2.3.4.nip.io", "1.2.3.4", false),
            ("127.0.0.1", "localhost", false),
        ];
        for (entry, host, want) in cases {
            let rules = rules("", entry, None, true);
            let got = !rules.check_name(host, 443).is_allow();
            assert_eq!(got, want, "deny {entry:?}, host {host:?}");
        }
    }

    #[test]
    fn address_matching() {
        // (entry, address, matches)
        let cases = [
            ("10.1.2.3", "10.1.2.3", true),
            ("10.1.2.3", "10.1.2.4", false),
            ("10.0.0.0/8", "10.255.255.255", true),
            ("10.0.0.0/8", "11.0.0.0", false),
            ("10.1.2.3/8", "10.9.9.9", true),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("0.0.0.0/0", "2001:4860::8888", false),
            ("::/0", "8.8.8.8", false),
            ("::1", "::1", true),
            ("[2001:db8::1]", "2001:db8:0:0::1", true),
            ("fd00::/8", "fd12:3456::1", true),
            ("fd00::/8", "fe00::1", false),
            // IPv6 forms carrying the IPv4 address match IPv4 entries.
            ("10.0.0.0/8", "::ffff:10.0.0.1", true),
            ("10.0.0.0/8", "::ffff:0:10.0.0.1", true),
            ("10.0.0.0/8", "::10.0.0.1", true),
            ("10.0.0.0/8", "64:ff9b::10.0.0.1", true),
            ("127.0.0.1", "::ffff:127.0.0.1", true),
            ("127.0.0.1", "::ffff:127.0.0.2", false),
            ("0.0.0.1", "::1", false),
            ("::ffff:0:0/96", "::ffff:10.0.0.1", true),
            ("::ffff:10.0.0.1", "10.0.0.1", false),
        ];
        for (entry, addr, want) in cases {
            let rules = rules("", entry, None, true);
            let got = !rules.check_address("h.example", ip(addr), 443).is_allow();
            assert_eq!(got, want, "deny {entry:?}, address {addr}");
            // An IP literal host is its own resolved address.
            let got = !rules.check_name(addr, 443).is_allow();
            assert_eq!(got, want, "deny {entry:?}, host {addr}");
        }
    }

    #[test]
    fn rules_in_order() {
        // (allow, deny, ports, allow_private, host, resolved address or
        // None for check_name, port, verdict)
        type Case<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            bool,
            &'a str,
            Option<&'a str>,
            u16,
            Verdict,
        );
        let cases: &[Case] = &[
            // Defaults allow everything.
            ("", "", None, true, "example.com", None, 1, Verdict::Allow),
            ("", "", None, true, "127.0.0.1", None, 22, Verdict::Allow),
            (
                "",
                "",
                None,
                true,
                "x",
                Some("10.0.0.1"),
                22,
                Verdict::Allow,
            ),
            // Ports.
            (
                "",
                "",
                Some("443,80"),
                true,
                "example.com",
                None,
                443,
                Verdict::Allow,
            ),
            (
                "",
                "",
                Some("443,80"),
                true,
                "example.com",
                None,
                25,
                Verdict::Deny(Denial::Port { port: 25 }),
            ),
            (
                "",
                "",
                Some("443"),
                true,
                "x",
                Some("1.1.1.1"),
                80,
                Verdict::Deny(Denial::Port { port: 80 }),
            ),
            // The port is checked first, even against a denied host.
            (
                "",
                "example.com",
                Some("443"),
                true,
                "example.com",
                None,
                25,
                Verdict::Deny(Denial::Port { port: 25 }),
            ),
            // Deny wins over allow, by name and by address.
            (
                "example.com",
                "example.com",
                None,
                true,
                "example.com",
                None,
                443,
                deny_entry("example.com"),
            ),
            (
                ".example.com",
                "secret.example.com",
                None,
                true,
                "secret.example.com",
                None,
                443,
                deny_entry("secret.example.com"),
            ),
            (
                ".example.com",
                "secret.example.com",
                None,
                true,
                "www.example.com",
                None,
                443,
                Verdict::Allow,
            ),
            (
                "10.0.0.0/8",
                "10.0.0.5",
                None,
                true,
                "10.0.0.5",
                None,
                443,
                deny_entry("10.0.0.5"),
            ),
            (
                "app.example",
                "10.0.0.0/8",
                None,
                true,
                "app.example",
                Some("10.0.0.5"),
                443,
                deny_entry("10.0.0.0/8"),
            ),
            (
                "app.example",
                "10.0.0.0/8",
                None,
                true,
                "app.example",
                None,
                443,
                Verdict::Allow,
            ),
            // A name whose address is denied, reached by an odd spelling of
            // the address (`127.1` resolves to 127.0.0.1): caught after DNS.
            (
                "",
                "127.0.0.1",
                None,
                true,
                "127.1",
                None,
                80,
                Verdict::Allow,
            ),
            (
                "",
                "127.0.0.1",
                None,
                true,
                "127.1",
                Some("127.0.0.1"),
                80,
                deny_entry("127.0.0.1"),
            ),
            // Allow list: names.
            (
                "example.com",
                "",
                None,
                true,
                "example.com",
                None,
                443,
                Verdict::Allow,
            ),
            (
                "example.com",
                "",
                None,
                true,
                "other.example",
                None,
                443,
                NOT_ALLOWED,
            ),
            (
                "example.com",
                "",
                None,
                true,
                "other.example",
                Some("93.184.215.14"),
                443,
                NOT_ALLOWED,
            ),
            (
                "example.com",
                "",
                None,
                true,
                "93.184.215.14",
                None,
                443,
                NOT_ALLOWED,
            ),
            // Allow list with addresses: a name is undecided before DNS.
            (
                "10.9.0.0/16",
                "",
                None,
                true,
                "db.example",
                None,
                5432,
                Verdict::Allow,
            ),
            (
                "10.9.0.0/16",
                "",
                None,
                true,
                "db.example",
                Some("10.9.1.1"),
                5432,
                Verdict::Allow,
            ),
            (
                "10.9.0.0/16",
                "",
                None,
                true,
                "db.example",
                Some("10.8.1.1"),
                5432,
                NOT_ALLOWED,
            ),
            (
                "10.9.0.0/16",
                "",
                None,
                true,
                "10.8.1.1",
                None,
                5432,
                NOT_ALLOWED,
            ),
            // Private addresses.
            (
                "",
                "",
                None,
                false,
                "example.com",
                None,
                443,
                Verdict::Allow,
            ),
            (
                "",
                "",
                None,
                false,
                "example.com",
                Some("93.184.215.14"),
                443,
                Verdict::Allow,
            ),
            (
                "",
                "",
                None,
                false,
                "example.com",
                Some("127.0.0.1"),
                443,
                private("127.0.0.1"),
            ),
            (
                "",
                "",
                None,
                false,
                "127.0.0.1",
                None,
                443,
                private("127.0.0.1"),
            ),
            ("", "", None, false, "[::1]", None, 443, private("::1")),
            (
                "",
                "",
                None,
                false,
                "::ffff:127.0.0.1",
                None,
                443,
                private("::ffff:127.0.0.1"),
            ),
            (
                "",
                "",
                None,
                false,
                "[::ffff:7f00:1]",
                None,
                443,
                private("::ffff:127.0.0.1"),
            ),
            (
                "",
                "",
                None,
                false,
                "x",
                Some("64:ff9b::a00:1"),
                443,
                private("64:ff9b::10.0.0.1"),
            ),
            (
                "",
                "",
                None,
                false,
                "x",
                Some("169.254.169.254"),
                80,
                private("169.254.169.254"),
            ),
            // An allow entry by name never lifts the private check (DNS
            // rebinding); an address entry does.
            (
                "rebind.example",
                "",
                None,
                false,
                "rebind.example",
                None,
                443,
                Verdict::Allow,
            ),
            (
                "rebind.example",
                "",
                None,
                false,
                "rebind.example",
                Some("127.0.0.1"),
                443,
                private("127.0.0.1"),
            ),
            (
                ".example",
                "",
                None,
                false,
                "x.example",
                Some("10.0.0.1"),
                443,
                private("10.0.0.1"),
            ),
            (
                "127.0.0.1",
                "",
                None,
                false,
                "127.0.0.1",
                None,
                443,
                Verdict::Allow,
            ),
            (
                "127.0.0.1",
                "",
                None,
                false,
                "::ffff:127.0.0.1",
                None,
                443,
                Verdict::Allow,
            ),
            (
                "10.0.0.0/8",
                "",
                None,
                false,
                "svc.internal",
                Some("10.2.3.4"),
                443,
                Verdict::Allow,
            ),
            (
                "10.0.0.0/8, public.example",
                "",
                None,
                false,
                "public.example",
                Some("192.168.1.1"),
                443,
                private("192.168.1.1"),
            ),
            (
                "fd00::/8",
                "",
                None,
                false,
                "x",
                Some("fd00::1"),
                443,
                Verdict::Allow,
            ),
            (
                "fd00::/8",
                "",
                None,
                false,
                "x",
                Some("fe80::1"),
                443,
                NOT_ALLOWED,
            ),
            // Not allowed is reported before private: --allow-private would not help.
            (
                "example.com",
                "",
                None,
                false,
                "other.example",
                Some("10.0.0.1"),
                443,
                NOT_ALLOWED,
            ),
            // Deny still wins over an address allow entry for a private address.
            (
                "10.0.0.0/8",
                "10.0.0.1",
                None,
                false,
                "10.0.0.1",
                None,
                443,
                deny_entry("10.0.0.1"),
            ),
        ];
        for (allow, deny, ports, allow_private, host, addr, port, want) in cases {
            let rules = rules(allow, deny, *ports, *allow_private);
            let got = match addr {
                None => rules.check_name(host, *port),
                Some(addr) => rules.check_address(host, ip(addr), *port),
            };
            assert_eq!(
                &got, want,
                "allow {allow:?} deny {deny:?} ports {ports:?} private {allow_private}: {host} {addr:?} port {port}"
            );
        }
    }

    #[test]
    fn check_name_never_vouches_for_the_resolved_address() {
        // The proxy's flow: check the name, resolve, check every address.
        // A name allowed by name must still be refused when any resolved
        // address is private.
        let rules = rules("app.example, .trusted.example", "", None, false);
        let flows: &[(&str, &[&str], &[bool])] = &[
            ("app.example", &["93.184.215.14"], &[true]),
            ("app.example", &["127.0.0.1"], &[false]),
            (
                "app.example",
                &["93.184.215.14", "10.0.0.1"],
                &[true, false],
            ),
            (
                "a.trusted.example",
                &["::1", "2606:4700::1111"],
                &[false, true],
            ),
            ("a.trusted.example", &["::ffff:192.168.0.1"], &[false]),
            ("a.trusted.example", &["2002:c0a8:1::1"], &[false]),
            ("a.trusted.example", &["2002:0808:0808::1"], &[true]),
        ];
        for (host, addrs, want) in flows {
            assert!(rules.check_name(host, 443).is_allow(), "{host}");
            let got: Vec<bool> = addrs
                .iter()
                .map(|a| rules.check_address(host, ip(a), 443).is_allow())
                .collect();
            assert_eq!(&got, want, "{host} -> {addrs:?}");
        }
    }

    #[test]
    fn private_ranges() {
        let private = [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.0",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.0.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fdff:ffff::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "2001:2::1",
            "100::1",
            "64:ff9b:1::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.1.1",
            "::ffff:0.0.0.0",
            "::ffff:0:127.0.0.1",
            "::127.0.0.1",
            "::0.0.0.2",
            "64:ff9b::127.0.0.1",
            "64:ff9b::192.168.1.1",
            "2002:7f00:1::1",
            "2002:0a00:0001::",
            "::ffff:255.255.255.255",
        ];
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "11.0.0.0",
            "126.255.255.255",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450::1",
            "fbff::1",
            "fe7f::1",
            "::ffff:1.1.1.1",
            "::ffff:0:8.8.8.8",
            "::8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:0808:0808::1",
            "2001:db9::1",
            "4000::1",
        ];
        for addr in private {
            assert!(is_private(ip(addr)), "{addr} should be private");
        }
        for addr in public {
            assert!(!is_private(ip(addr)), "{addr} should be public");
        }
    }

    #[test]
    fn denial_messages() {
        let cases = [
            (Denial::Port { port: 25 }, "port 25 is not allowed"),
            (
                Denial::Denied {
                    entry: ".corp".into(),
                },
                "destination matches deny entry '.corp'",
            ),
            (Denial::NotAllowed, "destination is not in the allow list"),
            (
                Denial::Private {
                    addr: ip("127.0.0.1"),
                },
                "127.0.0.1 is a private address (use --allow-private)",
            ),
            (
                Denial::Private { addr: ip("::1") },
                "::1 is a private address (use --allow-private)",
            ),
        ];
        for (denial, want) in cases {
            assert_eq!(denial.to_string(), want);
        }
    }

    #[test]
    fn default_allows_everything() {
        let rules = AccessRules::default();
        assert!(rules.allow_private && rules.allow_ports.is_none());
        for host in ["example.com", "127.0.0.1", "[::1]", "", "weird host"] {
            assert_eq!(rules.check_name(host, 1), Verdict::Allow, "{host:?}");
        }
        assert_eq!(
            rules.check_address("x", ip("10.0.0.1"), 65535),
            Verdict::Allow
        );
    }
}
