//! `no_proxy` lists: which targets bypass the proxy, after curl.
//!
//! This module owns [`NoProxy`]: parsing a `no_proxy` / `NO_PROXY` /
//! `--noproxy` value and matching a target host and port against it. Where
//! the list comes from (flag or which variable) is decided in
//! [`crate::select`].
//!
//! Rules, after curl's `lib/noproxy.c` and `CURLOPT_NOPROXY(3)`:
//! - entries are separated by commas and/or whitespace;
//! - a list that is just `*` matches every host (a `*` among other entries
//!   is an ordinary name and matches nothing, as in curl);
//! - names match case-insensitively, as the host itself or as a parent
//!   domain: `example.com` and `.example.com` both match `example.com` and
//!   `www.example.com` but not `badexample.com`; one leading dot on the entry
//!   and one trailing dot on the entry or the host are ignored;
//! - when the host is an IP literal, entries are compared as addresses of
//!   the same family, with optional CIDR `/bits`; IPv6 entries may be written
//!   with or without brackets;
//! - a name entry never matches an IP host and an IP entry never matches a
//!   name (there is no DNS here).
//!
//! Extension: curl ignores the target port and never matches an entry with a
//! port. Here `host:port` (IPv6: `[addr]:port`, CIDR: `net/bits:port`)
//! matches only that port; an entry without a port matches every port.

use std::net::IpAddr;

/// A parsed `no_proxy` list.
///
/// The default value is the empty list, which matches nothing.
///
/// # Examples
///
/// ```
/// use wsvia_core::NoProxy;
///
/// let list = NoProxy::parse("localhost, .example.com, 10.0.0.0/8");
/// assert_eq!(list.matches("ws.example.com", 443), Some(".example.com"));
/// assert_eq!(list.matches("10.1.2.3", 80), Some("10.0.0.0/8"));
/// assert_eq!(list.matches("example.org", 443), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct NoProxy {
    entries: Vec<Entry>,
}

impl NoProxy {
    /// Parses a list; never fails.
    ///
    /// Entries that are neither a name nor an address (for example
    /// `10.0.0.0/99` or `host:notaport`) are kept and simply never match a
    /// real host.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::NoProxy;
    ///
    /// assert!(NoProxy::parse(" , ,").is_empty());
    /// assert!(!NoProxy::parse("localhost 127.0.0.1").is_empty());
    /// ```
    pub fn parse(list: &str) -> NoProxy {
        if list.trim() == "*" {
            return NoProxy {
                entries: vec![Entry {
                    text: "*".to_owned(),
                    port: None,
                    pattern: Pattern::Everything,
                }],
            };
        }
        let entries = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|text| !text.is_empty())
            .map(Entry::parse)
            .collect();
        NoProxy { entries }
    }

    /// Returns the entry (as written) that exempts `host:port` from the
    /// proxy, or `None` when the proxy must be used.
    ///
    /// `host` may be a name, an IPv4 address or an IPv6 address with or
    /// without brackets.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::NoProxy;
    ///
    /// let list = NoProxy::parse("::1, internal.example:8080");
    /// assert_eq!(list.matches("[::1]", 443), Some("::1"));
    /// assert_eq!(list.matches("internal.example", 8080), Some("internal.example:8080"));
    /// assert_eq!(list.matches("internal.example", 443), None);
    /// assert_eq!(NoProxy::parse("*").matches("anything", 1), Some("*"));
    /// ```
    pub fn matches(&self, host: &str, port: u16) -> Option<&str> {
        let host = Host::parse(host)?;
        self.entries
            .iter()
            .find(|entry| entry.port.is_none_or(|p| p == port) && entry.pattern.matches(&host))
            .map(|entry| entry.text.as_str())
    }

    /// Whether the list has no entries (and so matches nothing).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::NoProxy;
    ///
    /// assert!(NoProxy::parse("").is_empty());
    /// assert!(NoProxy::default().is_empty());
    /// assert!(!NoProxy::parse("*").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One list entry: its original text, optional port and what it matches.
#[derive(Debug, Clone)]
struct Entry {
    text: String,
    port: Option<u16>,
    pattern: Pattern,
}

#[derive(Debug, Clone)]
enum Pattern {
    /// The list was `*`.
    Everything,
    /// A host or domain: lowercase, one leading and one trailing dot removed.
    Name(String),
    /// An address, or a network when `prefix` is set.
    Ip { addr: IpAddr, prefix: Option<u8> },
    /// An entry with an unusable `/bits` or port: matches nothing.
    Nothing,
}

/// The target host, classified once.
enum Host {
    Name(String),
    Ip(IpAddr),
}

impl Entry {
    fn parse(text: &str) -> Entry {
        let (pattern, port) = match split_port(text) {
            Some((host, port)) => (Pattern::parse(&host), port),
            None => (Pattern::Nothing, None),
        };
        Entry {
            text: text.to_owned(),
            port,
            pattern,
        }
    }
}

/// Splits an entry into its host part (with any `/bits`) and optional port;
/// `None` when it has a port that is not a number in `1..=65535`.
fn split_port(text: &str) -> Option<(String, Option<u16>)> {
    if let Some(bracketed) = text.strip_prefix('[') {
        let Some((addr, after)) = bracketed.split_once(']') else {
            return Some((text.to_owned(), None));
        };
        // After `]`: optional `/bits`, then optional `:port`.
        let (bits, port) = match after.split_once(':') {
            Some((bits, port)) => (bits, Some(port)),
            None => (after, None),
        };
        if !bits.is_empty() && !bits.starts_with('/') {
            return None;
        }
        let port = match port {
            Some(port) => Some(parse_port(port)?),
            None => None,
        };
        return Some((format!("{addr}{bits}"), port));
    }
    match text.split_once(':') {
        // Two or more colons: an IPv6 address written without brackets.
        Some((_, rest)) if rest.contains(':') => Some((text.to_owned(), None)),
        Some((host, port)) => Some((host.to_owned(), Some(parse_port(port)?))),
        None => Some((text.to_owned(), None)),
    }
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|port| *port != 0)
}

impl Pattern {
    fn parse(host: &str) -> Pattern {
        if let Some((addr, bits)) = host.split_once('/') {
            let Ok(addr) = addr.parse::<IpAddr>() else {
                return Pattern::Name(host.to_ascii_lowercase());
            };
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let digits = !bits.is_empty() && bits.bytes().all(|b| b.is_ascii_digit());
            return match bits.parse::<u8>() {
                Ok(bits) if digits && bits <= max => Pattern::Ip {
                    addr,
                    prefix: Some(bits),
                },
                _ => Pattern::Nothing,
            };
        }
        if let Ok(addr) = host.parse::<IpAddr>() {
            return Pattern::Ip { addr, prefix: None };
        }
        let name = host.to_ascii_lowercase();
        let name = name.strip_suffix('.').unwrap_or(&name);
        let name = name.strip_prefix('.').unwrap_or(name);
        Pattern::Name(name.to_owned())
    }

    fn matches(&self, host: &Host) -> bool {
        match (self, host) {
            (Pattern::Everything, _) => true,
            (Pattern::Name(entry), Host::Name(host)) => name_matches(entry, host),
            (Pattern::Ip { addr, prefix }, Host::Ip(host)) => ip_matches(*addr, *prefix, *host),
            _ => false,
        }
    }
}

impl Host {
    fn parse(host: &str) -> Option<Host> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if bare.is_empty() {
            return None;
        }
        if let Ok(addr) = bare.parse::<IpAddr>() {
            return Some(Host::Ip(addr));
        }
        let name = bare.to_ascii_lowercase();
        Some(Host::Name(match name.strip_suffix('.') {
            Some(stripped) => stripped.to_owned(),
            None => name,
        }))
    }
}

/// `entry` equals `host` or is a parent domain of it (both lowercase).
fn name_matches(entry: &str, host: &str) -> bool {
    if entry.is_empty() {
        return false;
    }
    host == entry
        || host
            .strip_suffix(entry)
            .is_some_and(|head| head.ends_with('.'))
}

fn ip_matches(net: IpAddr, prefix: Option<u8>, host: IpAddr) -> bool {
    let (net, host, width) = match (net, host) {
        (IpAddr::V4(net), IpAddr::V4(host)) => {
            (u128::from(net.to_bits()), u128::from(host.to_bits()), 32u32)
        }
        (IpAddr::V6(net), IpAddr::V6(host)) => (net.to_bits(), host.to_bits(), 128u32),
        _ => return false,
    };
    let bits = prefix.map_or(width, u32::from);
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (net >> shift) == (host >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(host, list, matches)` with any port: curl ignores ports.
    fn check_table(cases: &[(&str, &str, bool)]) {
        for (host, list, expected) in cases {
            let got = NoProxy::parse(list).matches(host, 443).is_some();
            assert_eq!(got, *expected, "host {host:?} in list {list:?}");
        }
    }

    #[test]
    fn curl_unit1614_noproxy_cases() {
        // Mirrors the `list[]` table of curl's tests/unit/unit1614.c
        // (curl 8.x, including the space-separated row).
        check_table(&[
            (
                "www.example.com",
                "localhost .example.com .example.de",
                true,
            ),
            (
                "www.example.com",
                "localhost,.example.com,.example.de",
                true,
            ),
            (
                "www.example.com.",
                "localhost,.example.com,.example.de",
                true,
            ),
            ("example.com", "localhost,.example.com,.example.de", true),
            ("example.com.", "localhost,.example.com,.example.de", true),
            (
                "www.example.com",
                "localhost,.example.com.,.example.de",
                true,
            ),
            (
                "www.example.com",
                "localhost,www.example.com.,.example.de",
                true,
            ),
            ("example.com", "localhost,example.com,.example.de", true),
            ("example.com.", "localhost,example.com,.example.de", true),
            ("nexample.com", "localhost,example.com,.example.de", false),
            ("www.example.com", "localhost,example.com,.example.de", true),
            ("127.0.0.1", "127.0.0.1,localhost", true),
            ("127.0.0.1", "127.0.0.1,localhost,", true),
            ("127.0.0.1", "127.0.0.1/8,localhost,", true),
            ("127.0.0.1", "127.0.0.1/28,localhost,", true),
            ("127.0.0.1", "127.0.0.1/31,localhost,", true),
            ("127.0.0.1", "localhost,127.0.0.1", true),
            (
                "127.0.0.1",
                "localhost,127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.\
                 127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.\
                 0.0.1.127.0.0.1.127.0.0.",
                false,
            ),
            (
                "127.0.0.1",
                "localhost,127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.\
                 127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.\
                 0.0.1.127.0.0.1.127.0.0",
                false,
            ),
            ("localhost", "localhost,127.0.0.1", true),
            ("localhost", "127.0.0.1,localhost", true),
            ("foobar", "barfoo", false),
            ("foobar", "foobar", true),
            ("192.168.0.1", "foobar", false),
            ("192.168.0.1", "192.168.0.0/16", true),
            ("192.168.0.1", "192.168.0.0/24", true),
            ("192.168.0.1", "192.168.0.0/32", false),
            ("192.168.0.1", "192.168.0.0", false),
            ("192.168.1.1", "192.168.0.0/24", false),
            ("192.168.1.1", "foo, bar, 192.168.0.0/24", false),
            ("192.168.1.1", "foo, bar, 192.168.0.0/16", true),
            ("[::1]", "foo, bar, 192.168.0.0/16", false),
            ("[::1]", "foo, bar, ::1/64", true),
            ("bar", "foo, bar, ::1/64", true),
            ("BAr", "foo, bar, ::1/64", true),
            ("BAr", "foo,,,,,              bar, ::1/64", true),
            ("www.example.com", "foo, .example.com", true),
            ("www.example.com", "www2.example.com, .example.net", false),
            ("example.com", ".example.com, .example.net", true),
            ("nonexample.com", ".example.com, .example.net", false),
        ]);
    }

    #[test]
    fn curl_unit1614_cidr_cases() {
        // Mirrors `list4[]` and `list6[]` of curl's tests/unit/unit1614.c;
        // curl's `bits == 0` rows are entries without `/bits`.
        check_table(&[
            ("192.160.0.1", "192.160.0.1/33", false),
            ("192.160.0.1", "192.160.0.1/32", true),
            ("192.160.0.1", "192.160.0.1", true),
            ("192.160.0.1", "192.160.0.1/24", true),
            ("192.160.0.1", "192.160.0.1/26", true),
            ("192.160.0.1", "192.160.0.1/20", true),
            ("192.160.0.1", "192.160.0.1/18", true),
            ("192.160.0.1", "192.160.0.1/12", true),
            ("192.160.0.1", "192.160.0.1/8", true),
            ("192.160.0.1", "10.0.0.1/8", false),
            ("192.160.0.1", "10.0.0.1/32", false),
            ("192.160.0.1", "10.0.0.1", false),
            ("::1", "::1", true),
            ("::1", "::1/128", true),
            ("::1", "0:0::1/128", true),
            ("::1", "0:0::1/129", false),
            (
                "fe80::ab47:4396:55c9:8474",
                "fe80::ab47:4396:55c9:8474/64",
                true,
            ),
        ]);
    }

    #[test]
    fn curl_documented_cases() {
        // Mirrors the examples of CURLOPT_NOPROXY(3) / curl --noproxy:
        // "ample.com" matches ample.com, ample.com:80 and www.ample.com but
        // not www.example.com or ample.com.org; IPv6 entries without
        // brackets; "*" alone disables the proxy; "" enables it for all.
        check_table(&[
            ("ample.com", "ample.com", true),
            ("www.ample.com", "ample.com", true),
            ("www.example.com", "ample.com", false),
            ("ample.com.org", "ample.com", false),
            ("::1", "example.com,::1,localhost", true),
            ("[::1]", "example.com,::1,localhost", true),
            ("192.168.44.3", "192.168.0.0/16", true),
            ("192.169.0.1", "192.168.0.0/16", false),
            ("anything.example", "*", true),
            ("10.0.0.1", "*", true),
            ("[::1]", "*", true),
            ("anything.example", "", false),
            ("www.example.com", ".example.com", true),
            ("foo.example.com", ".example.com", true),
        ]);
        for port in [80, 443, 8080] {
            assert_eq!(
                NoProxy::parse("ample.com").matches("ample.com", port),
                Some("ample.com")
            );
        }
    }

    #[test]
    fn parsing_rules() {
        check_table(&[
            // Separators: commas, spaces, tabs, newlines, in any mix.
            ("b.example", "a.example\tb.example", true),
            ("c.example", "a.example, b.example\n c.example", true),
            ("c.example", ",,a.example,, ,c.example,,", true),
            // `*` only as the whole list (curl compares the list to "*").
            ("x.example", " * ", true),
            ("x.example", "*,localhost", false),
            ("x.example", "localhost *", false),
            ("x.example", "*.example", false),
            // Case and dots.
            ("WWW.Example.COM", "EXAMPLE.com", true),
            ("www.example.com", "..example.com", false),
            ("www.example.com", ".", false),
            ("example.com", "com.", true),
            ("badexample.com", ".example.com", false),
            ("example.com", "www.example.com", false),
            // Names never match addresses and addresses never match names.
            ("127.0.0.1", "localhost", false),
            ("localhost", "127.0.0.1", false),
            ("1.2.3.4.nip.io", "1.2.3.4", false),
            ("::1", "localhost", false),
            // Address families do not mix.
            ("::ffff:127.0.0.1", "127.0.0.1", false),
            ("127.0.0.1", "::ffff:127.0.0.1", false),
            // IPv6: brackets optional on both sides, textual forms compare
            // as addresses.
            ("[2001:db8::1]", "[2001:db8::1]", true),
            ("2001:db8::1", "[2001:DB8:0::1]", true),
            ("2001:db8::ff", "2001:db8::/32", true),
            ("2001:db8::ff", "[2001:db8::]/32", true),
            ("2001:db9::ff", "2001:db8::/32", false),
            ("fe80::1", "fe80::/10", true),
            ("fec0::1", "fe80::/10", false),
            // CIDR edge cases; /0 is every address of the family.
            ("8.8.8.8", "0.0.0.0/0", true),
            ("::1", "0.0.0.0/0", false),
            ("10.255.255.255", "10.0.0.0/8", true),
            ("11.0.0.0", "10.0.0.0/8", false),
            ("10.0.0.1", "10.0.0.0/", false),
            ("10.0.0.1", "10.0.0.0/x", false),
            ("10.0.0.1", "10.0.0.0/+8", false),
            ("10.0.0.1", "10.0.0.0/300", false),
            // Empty host never matches.
            ("", "*", false),
            ("[]", "*", false),
        ]);
    }

    #[test]
    fn port_extension() {
        // Not in curl (it ignores ports): `host:port` entries match that
        // port only, entries without a port match all ports.
        let cases: &[(&str, u16, &str, Option<&str>)] = &[
            (
                "example.com",
                8080,
                "example.com:8080",
                Some("example.com:8080"),
            ),
            (
                "www.example.com",
                8080,
                ".example.com:8080",
                Some(".example.com:8080"),
            ),
            ("example.com", 443, "example.com:8080", None),
            (
                "example.com",
                443,
                "example.com:8080,example.com",
                Some("example.com"),
            ),
            ("10.1.2.3", 80, "10.1.2.3:80", Some("10.1.2.3:80")),
            ("10.1.2.3", 81, "10.1.2.3:80", None),
            ("10.1.2.3", 443, "10.0.0.0/8:443", Some("10.0.0.0/8:443")),
            ("10.1.2.3", 80, "10.0.0.0/8:443", None),
            ("::1", 8443, "[::1]:8443", Some("[::1]:8443")),
            ("[::1]", 8443, "[::1]:8443", Some("[::1]:8443")),
            ("::1", 443, "[::1]:8443", None),
            (
                "2001:db8::7",
                9,
                "[2001:db8::]/64:9",
                Some("[2001:db8::]/64:9"),
            ),
            // Unusable ports: the entry matches nothing.
            ("example.com", 443, "example.com:", None),
            ("example.com", 443, "example.com:https", None),
            ("example.com", 0, "example.com:0", None),
            ("example.com", 443, "example.com:+443", None),
            ("example.com", 443, "example.com:70000", None),
            ("::1", 443, "[::1]x", None),
            ("::1", 443, "[::1", None),
        ];
        for (host, port, list, expected) in cases {
            let parsed = NoProxy::parse(list);
            assert_eq!(
                parsed.matches(host, *port),
                *expected,
                "{host}:{port} in {list:?}"
            );
        }
    }

    #[test]
    fn reports_the_first_matching_entry_as_written() {
        let list = NoProxy::parse("Foo.Example, .EXAMPLE.com., 10.0.0.0/8");
        assert_eq!(list.matches("www.example.com", 1), Some(".EXAMPLE.com."));
        assert_eq!(list.matches("foo.example", 1), Some("Foo.Example"));
        assert_eq!(list.matches("10.9.9.9", 1), Some("10.0.0.0/8"));
    }
}
