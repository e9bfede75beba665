//! Proxy URLs as curl accepts them: `[scheme://][user[:pass]@]host[:port][/]`.
//!
//! This module owns [`ProxyUrl`] (parsing, the `host:port` authority and a
//! redacted form for logs), [`ProxyScheme`] and [`ProxyUrlError`]. Choosing
//! *which* proxy applies to a target lives in [`crate::select`]; credentials
//! and their encodings live in [`crate::auth`].
//!
//! Rules, after curl (`curl -x`, `CURLOPT_PROXY`, `CURLOPT_PROXYPORT`):
//! - no scheme means `http`; `http`, `https`, `socks5` and `socks5h` are
//!   accepted (case-insensitive), any other scheme is an error naming it;
//! - without a port, `https` proxies use 443 and all others 1080;
//! - user and password are percent-decoded; a user without `:` has an empty
//!   password;
//! - an IPv6 host is written in brackets; a lone trailing `/` is ignored, any
//!   other path, query or fragment is an error.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::auth::Credentials;

/// The form every error message points the user to.
const EXPECTED_FORM: &str = "expected `scheme://[user:pass@]host:port`";

/// The protocol spoken to the proxy itself.
///
/// # Examples
///
/// ```
/// use wsvia_core::ProxyScheme;
///
/// assert_eq!(ProxyScheme::Socks5h.to_string(), "socks5h");
/// assert_eq!(ProxyScheme::Https.default_port(), 443);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyScheme {
    /// An HTTP proxy reached over plain TCP (`CONNECT` tunnel).
    Http,
    /// An HTTP proxy reached over TLS (`CONNECT` inside TLS).
    Https,
    /// A SOCKS5 proxy; the client resolves the target name itself.
    Socks5,
    /// A SOCKS5 proxy that resolves the target name.
    Socks5h,
}

impl ProxyScheme {
    /// The port curl uses when the proxy URL names none: 443 for `https`,
    /// 1080 for every other scheme (see `CURLOPT_PROXYPORT`).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::ProxyScheme;
    ///
    /// assert_eq!(ProxyScheme::Http.default_port(), 1080);
    /// assert_eq!(ProxyScheme::Https.default_port(), 443);
    /// assert_eq!(ProxyScheme::Socks5.default_port(), 1080);
    /// ```
    pub fn default_port(self) -> u16 {
        match self {
            ProxyScheme::Https => 443,
            ProxyScheme::Http | ProxyScheme::Socks5 | ProxyScheme::Socks5h => 1080,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            ProxyScheme::Http,
            ProxyScheme::Https,
            ProxyScheme::Socks5,
            ProxyScheme::Socks5h,
        ]
        .into_iter()
        .find(|scheme| scheme.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for ProxyScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed proxy URL.
///
/// `Display` prints the [redacted](ProxyUrl::redacted) form, so a `ProxyUrl`
/// can go into logs as is.
///
/// # Examples
///
/// ```
/// use wsvia_core::{ProxyScheme, ProxyUrl};
///
/// let proxy = ProxyUrl::parse("alice:s3cret@proxy.example:3128")?;
/// assert_eq!(proxy.scheme, ProxyScheme::Http);
/// assert_eq!(proxy.authority(), "proxy.example:3128");
/// assert_eq!(proxy.to_string(), "http://alice:***@proxy.example:3128");
/// # Ok::<(), wsvia_core::ProxyUrlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// How to talk to the proxy.
    pub scheme: ProxyScheme,
    /// Host name (lowercase) or IP address; IPv6 without brackets.
    pub host: String,
    /// Port of the proxy, the scheme's default when the URL names none.
    pub port: u16,
    /// Percent-decoded credentials from the URL's userinfo, if any.
    pub credentials: Option<Credentials>,
}

impl ProxyUrl {
    /// Parses a proxy URL with curl's rules (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// Returns a [`ProxyUrlError`] when the input is empty, names an
    /// unsupported scheme, has an empty or malformed host, a port outside
    /// `1..=65535`, a path other than `/`, or userinfo that does not decode to
    /// UTF-8. Messages never contain the password.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::{Credentials, ProxyScheme, ProxyUrl, ProxyUrlError};
    ///
    /// let proxy = ProxyUrl::parse("socks5h://bob:p%40ss@[::1]:9050/")?;
    /// assert_eq!(proxy.scheme, ProxyScheme::Socks5h);
    /// assert_eq!(proxy.host, "::1");
    /// assert_eq!(proxy.credentials, Some(Credentials::new("bob", "p@ss")));
    ///
    /// assert!(matches!(
    ///     ProxyUrl::parse("socks4://proxy:1080"),
    ///     Err(ProxyUrlError::UnsupportedScheme { .. })
    /// ));
    /// # Ok::<(), ProxyUrlError>(())
    /// ```
    pub fn parse(input: &str) -> Result<ProxyUrl, ProxyUrlError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ProxyUrlError::Empty);
        }
        let (scheme, rest) = match input.split_once("://") {
            Some((name, rest)) if is_scheme_name(name) => {
                let scheme = ProxyScheme::from_name(name).ok_or_else(|| {
                    ProxyUrlError::UnsupportedScheme {
                        scheme: name.to_owned(),
                    }
                })?;
                (scheme, rest)
            }
            _ => (ProxyScheme::Http, input),
        };

        // The last `@` ends the userinfo, so a password with an unencoded
        // `@`, `/`, `?` or `#` still parses (and never lands in an error).
        let (credentials, rest) = match rest.rsplit_once('@') {
            Some((userinfo, rest)) => (parse_userinfo(userinfo)?, rest),
            None => (None, rest),
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (host_port, tail) = rest.split_at(authority_end);
        if !tail.is_empty() && tail != "/" {
            return Err(ProxyUrlError::UnexpectedPath {
                path: tail.to_owned(),
            });
        }
        let (host, port) = split_host_port(host_port)?;
        let port = match port {
            // `host:` means the default port, as in RFC 3986 and curl.
            None | Some("") => scheme.default_port(),
            Some(text) => parse_port(text)?,
        };
        Ok(ProxyUrl {
            scheme,
            host,
            port,
            credentials,
        })
    }

    /// The `host:port` authority, IPv6 in brackets: the `CONNECT` target and
    /// `Host` header value when talking to this proxy.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::ProxyUrl;
    ///
    /// assert_eq!(ProxyUrl::parse("http://[::1]:8080")?.authority(), "[::1]:8080");
    /// assert_eq!(ProxyUrl::parse("Proxy.Example")?.authority(), "proxy.example:1080");
    /// # Ok::<(), wsvia_core::ProxyUrlError>(())
    /// ```
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL for logs: scheme always shown, a non-empty password replaced
    /// by `***`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::ProxyUrl;
    ///
    /// let proxy = ProxyUrl::parse("http://alice:s3cret@proxy:3128")?;
    /// assert_eq!(proxy.redacted(), "http://alice:***@proxy:3128");
    /// assert_eq!(ProxyUrl::parse("proxy")?.redacted(), "http://proxy:1080");
    /// # Ok::<(), wsvia_core::ProxyUrlError>(())
    /// ```
    pub fn redacted(&self) -> String {
        let userinfo = match &self.credentials {
            None => String::new(),
            Some(creds) => {
                let user = utf8_percent_encode(&creds.username, USERINFO);
                if creds.password.is_empty() {
                    format!("{user}@")
                } else {
                    format!("{user}:***@")
                }
            }
        };
        format!("{}://{}{}", self.scheme, userinfo, self.authority())
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl FromStr for ProxyUrl {
    type Err = ProxyUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProxyUrl::parse(s)
    }
}

/// One entry of a proxy list: a proxy, or `DIRECT` (no proxy), as PAC files write it.
///
/// `--proxy http://a:3128,socks5h://b:1080,DIRECT` is three choices, tried in order.
/// `Display` prints `DIRECT` or the [redacted](ProxyUrl::redacted) URL.
///
/// # Examples
///
/// ```
/// use wsvia_core::ProxyChoice;
///
/// let list = ProxyChoice::parse_list("http://a:3128, DIRECT")?;
/// assert_eq!(list.len(), 2);
/// assert_eq!(list[0].to_string(), "http://a:3128");
/// assert_eq!(list[1], ProxyChoice::Direct);
/// # Ok::<(), wsvia_core::ProxyUrlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyChoice {
    /// Connect to the server without a proxy.
    Direct,
    /// Go through this proxy.
    Proxy(ProxyUrl),
}

impl ProxyChoice {
    /// Parses one entry: `DIRECT` (any case) or a proxy URL.
    ///
    /// # Errors
    ///
    /// The [`ProxyUrlError`] of a malformed URL.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::ProxyChoice;
    ///
    /// assert_eq!(ProxyChoice::parse("direct")?, ProxyChoice::Direct);
    /// assert!(ProxyChoice::parse("socks5h://tor:9050")?.proxy().is_some());
    /// # Ok::<(), wsvia_core::ProxyUrlError>(())
    /// ```
    pub fn parse(entry: &str) -> Result<ProxyChoice, ProxyUrlError> {
        let entry = entry.trim();
        if entry.eq_ignore_ascii_case("DIRECT") {
            return Ok(ProxyChoice::Direct);
        }
        ProxyUrl::parse(entry).map(ProxyChoice::Proxy)
    }

    /// Parses a comma-separated list; empty entries are ignored. A `,` inside a user
    /// name or password must be written `%2C`.
    ///
    /// # Errors
    ///
    /// [`ProxyUrlError::Empty`] when no entry is left, or the first malformed entry's
    /// error.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::{ProxyChoice, ProxyUrlError};
    ///
    /// let list = ProxyChoice::parse_list("http://u:a%2Cb@p:1,,https://q")?;
    /// assert_eq!(list.len(), 2);
    /// assert_eq!(ProxyChoice::parse_list(" , "), Err(ProxyUrlError::Empty));
    /// # Ok::<(), ProxyUrlError>(())
    /// ```
    pub fn parse_list(list: &str) -> Result<Vec<ProxyChoice>, ProxyUrlError> {
        let choices = list
            .split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(ProxyChoice::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if choices.is_empty() {
            return Err(ProxyUrlError::Empty);
        }
        Ok(choices)
    }

    /// The proxy, or `None` for `DIRECT`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(wsvia_core::ProxyChoice::Direct.proxy().is_none());
    /// ```
    pub fn proxy(&self) -> Option<&ProxyUrl> {
        match self {
            ProxyChoice::Direct => None,
            ProxyChoice::Proxy(proxy) => Some(proxy),
        }
    }
}

impl fmt::Display for ProxyChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyChoice::Direct => f.write_str("DIRECT"),
            ProxyChoice::Proxy(proxy) => f.write_str(&proxy.redacted()),
        }
    }
}

/// Why a proxy URL was rejected.
///
/// Messages say what was wrong and show the expected form; they never
/// contain the password.
///
/// # Examples
///
/// ```
/// use wsvia_core::{ProxyUrl, ProxyUrlError};
///
/// let err = ProxyUrl::parse("proxy:0").unwrap_err();
/// assert!(matches!(err, ProxyUrlError::InvalidPort { .. }));
/// assert!(err.to_string().contains("1..=65535"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyUrlError {
    /// The value was empty or only whitespace.
    #[error("proxy URL is empty; {EXPECTED_FORM}")]
    Empty,
    /// The scheme is not one of `http`, `https`, `socks5`, `socks5h`.
    #[error(
        "unsupported proxy scheme `{scheme}`: use http, https, socks5 or socks5h; {EXPECTED_FORM}"
    )]
    UnsupportedScheme {
        /// The scheme as written.
        scheme: String,
    },
    /// Nothing between the scheme (or userinfo) and the port.
    #[error("proxy URL has no host; {EXPECTED_FORM}")]
    EmptyHost,
    /// The host is neither a DNS name nor an IP address.
    #[error("invalid proxy host `{host}`: {reason}; {EXPECTED_FORM}")]
    InvalidHost {
        /// The host as written.
        host: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The port is not a number in `1..=65535`.
    #[error("invalid proxy port `{port}`: expected a number in 1..=65535; {EXPECTED_FORM}")]
    InvalidPort {
        /// The port as written.
        port: String,
    },
    /// A path, query or fragment other than a lone `/` follows the authority.
    #[error("proxy URL must not have a path or query, found `{path}`; {EXPECTED_FORM}")]
    UnexpectedPath {
        /// Everything after the authority.
        path: String,
    },
    /// The user name or password does not percent-decode to UTF-8.
    #[error("proxy user name or password is not valid percent-encoded UTF-8; {EXPECTED_FORM}")]
    InvalidUserinfo,
    /// A proxy URL taken from an environment variable was invalid.
    #[error("invalid proxy URL in environment variable {name}")]
    InVariable {
        /// The variable, e.g. `https_proxy`.
        name: String,
        /// What was wrong with its value.
        #[source]
        source: Box<ProxyUrlError>,
    },
}

/// Characters escaped in the user name of [`ProxyUrl::redacted`] so the
/// output parses back.
const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn parse_userinfo(userinfo: &str) -> Result<Option<Credentials>, ProxyUrlError> {
    if userinfo.is_empty() {
        return Ok(None);
    }
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode = |part: &str| {
        percent_decode_str(part)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| ProxyUrlError::InvalidUserinfo)
    };
    Ok(Some(Credentials::new(decode(user)?, decode(password)?)))
}

/// Splits `host[:port]` or `[v6][:port]`; the host comes back lowercase and
/// unbracketed, the port as written.
fn split_host_port(host_port: &str) -> Result<(String, Option<&str>), ProxyUrlError> {
    if let Some(bracketed) = host_port.strip_prefix('[') {
        let (inner, after) =
            bracketed
                .split_once(']')
                .ok_or_else(|| ProxyUrlError::InvalidHost {
                    host: host_port.to_owned(),
                    reason: "missing `]` after the IPv6 address",
                })?;
        let addr: Ipv6Addr = inner.parse().map_err(|_| ProxyUrlError::InvalidHost {
            host: inner.to_owned(),
            reason: "not an IPv6 address",
        })?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| ProxyUrlError::InvalidHost {
                        host: host_port.to_owned(),
                        reason: "expected `:port` after `]`",
                    })?,
            ),
        };
        return Ok((addr.to_string(), port));
    }

    let (host, port) = match host_port.split_once(':') {
        Some((_, port)) if port.contains(':') => {
            let reason = if host_port.parse::<Ipv6Addr>().is_ok() {
                "an IPv6 address must be in brackets, as in `[::1]:3128`"
            } else {
                "too many `:`"
            };
            return Err(ProxyUrlError::InvalidHost {
                host: host_port.to_owned(),
                reason,
            });
        }
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    };
    if host.is_empty() {
        return Err(ProxyUrlError::EmptyHost);
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err(ProxyUrlError::InvalidHost {
            host: host.to_owned(),
            reason: "only letters, digits, `-`, `_` and `.` are allowed",
        });
    }
    Ok((host.to_ascii_lowercase(), port))
}

/// Whether `name` can be a URL scheme (RFC 3986: a letter, then letters,
/// digits, `+`, `-` or `.`); otherwise `://` belongs to the userinfo.
fn is_scheme_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_none_or(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Parses a non-empty port in `1..=65535`.
fn parse_port(text: &str) -> Result<u16, ProxyUrlError> {
    let invalid = || ProxyUrlError::InvalidPort {
        port: text.to_owned(),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(invalid()),
        Ok(port) => Ok(port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, pass: &str) -> Option<Credentials> {
        Some(Credentials::new(user, pass))
    }

    #[test]
    fn parses_valid_urls() {
        use ProxyScheme::*;
        let cases: &[(&str, ProxyScheme, &str, u16, Option<Credentials>)] = &[
            // No scheme means http; default ports after CURLOPT_PROXYPORT.
            ("proxy", Http, "proxy", 1080, None),
            ("proxy:3128", Http, "proxy", 3128, None),
            ("  proxy:3128\n", Http, "proxy", 3128, None),
            ("http://proxy", Http, "proxy", 1080, None),
            ("https://proxy", Https, "proxy", 443, None),
            ("socks5://proxy", Socks5, "proxy", 1080, None),
            ("socks5h://proxy:9050", Socks5h, "proxy", 9050, None),
            (
                "HTTP://Proxy.Example.COM:8080",
                Http,
                "proxy.example.com",
                8080,
                None,
            ),
            ("SOCKS5H://proxy", Socks5h, "proxy", 1080, None),
            // Trailing slash ignored; empty port means default.
            ("http://proxy:3128/", Http, "proxy", 3128, None),
            ("http://proxy:", Http, "proxy", 1080, None),
            ("http://proxy:65535", Http, "proxy", 65535, None),
            // IP literals.
            ("10.0.0.1:3128", Http, "10.0.0.1", 3128, None),
            ("http://[::1]:3128", Http, "::1", 3128, None),
            ("http://[FE80::1]", Http, "fe80::1", 1080, None),
            ("[2001:db8::1]/", Http, "2001:db8::1", 1080, None),
            // Userinfo, percent-decoded.
            (
                "http://alice:s3cret@proxy:3128",
                Http,
                "proxy",
                3128,
                creds("alice", "s3cret"),
            ),
            ("alice@proxy", Http, "proxy", 1080, creds("alice", "")),
            ("alice:@proxy", Http, "proxy", 1080, creds("alice", "")),
            (":pw@proxy", Http, "proxy", 1080, creds("", "pw")),
            (
                "a%40b:p%3Aw%25@proxy",
                Http,
                "proxy",
                1080,
                creds("a@b", "p:w%"),
            ),
            (
                "alice:p:w@proxy",
                Http,
                "proxy",
                1080,
                creds("alice", "p:w"),
            ),
            (
                "alice:p@w@proxy",
                Http,
                "proxy",
                1080,
                creds("alice", "p@w"),
            ),
            (
                "http://alice:p/?#w@proxy/",
                Http,
                "proxy",
                1080,
                creds("alice", "p/?#w"),
            ),
            (
                "alice:a://b@proxy",
                Http,
                "proxy",
                1080,
                creds("alice", "a://b"),
            ),
            ("@proxy", Http, "proxy", 1080, None),
            (
                "socks5://u:p@[::1]:1081",
                Socks5,
                "::1",
                1081,
                creds("u", "p"),
            ),
        ];
        for (input, scheme, host, port, credentials) in cases {
            let parsed = ProxyUrl::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(
                parsed,
                ProxyUrl {
                    scheme: *scheme,
                    host: (*host).to_owned(),
                    port: *port,
                    credentials: credentials.clone(),
                },
                "{input}"
            );
            let via_from_str: ProxyUrl = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(via_from_str, parsed, "{input}");
        }
    }

    #[test]
    fn rejects_invalid_urls() {
        fn scheme(s: &str) -> ProxyUrlError {
            ProxyUrlError::UnsupportedScheme { scheme: s.into() }
        }
        fn port(s: &str) -> ProxyUrlError {
            ProxyUrlError::InvalidPort { port: s.into() }
        }
        fn path(s: &str) -> ProxyUrlError {
            ProxyUrlError::UnexpectedPath { path: s.into() }
        }
        let cases: &[(&str, ProxyUrlError)] = &[
            ("", ProxyUrlError::Empty),
            ("   ", ProxyUrlError::Empty),
            ("socks4://proxy", scheme("socks4")),
            ("socks4a://proxy", scheme("socks4a")),
            ("ftp://proxy", scheme("ftp")),
            ("://proxy", scheme("")),
            ("http://", ProxyUrlError::EmptyHost),
            ("http://:3128", ProxyUrlError::EmptyHost),
            ("http://alice:pw@:3128", ProxyUrlError::EmptyHost),
            ("proxy:0", port("0")),
            ("proxy:65536", port("65536")),
            ("proxy:99999999999", port("99999999999")),
            ("proxy:http", port("http")),
            ("proxy:+80", port("+80")),
            ("[::1]:x", port("x")),
            ("proxy:3128/path", path("/path")),
            ("proxy:3128?q=1", path("?q=1")),
            ("proxy:3128#frag", path("#frag")),
            ("proxy//", path("//")),
            ("alice:%FF@proxy", ProxyUrlError::InvalidUserinfo),
        ];
        for (input, expected) in cases {
            assert_eq!(ProxyUrl::parse(input).as_ref(), Err(expected), "{input}");
        }
    }

    #[test]
    fn rejects_invalid_hosts() {
        let cases = [
            "::1",
            "::1:3128",
            "[::1",
            "[not-v6]:80",
            "[::1]x",
            "pro xy:80",
            "proxy!:80",
        ];
        for input in cases {
            assert!(
                matches!(
                    ProxyUrl::parse(input),
                    Err(ProxyUrlError::InvalidHost { .. })
                ),
                "{input}: {:?}",
                ProxyUrl::parse(input)
            );
        }
    }

    #[test]
    fn unbracketed_ipv6_gets_a_hint() {
        let err = ProxyUrl::parse("http://::1").unwrap_err();
        assert!(err.to_string().contains("[::1]:3128"), "{err}");
    }

    #[test]
    fn errors_never_show_the_password() {
        let cases = [
            "http://alice:hunter2@proxy:0",
            "http://alice:hunter2@proxy:3128/x",
            "http://alice:hunter2@",
            "http://alice:hunter2@::1",
            "http://alice:hunter2@[::1",
            "socks4://alice:hunter2@proxy",
            "alice:hunt://er2@proxy:0",
            "http://alice:hun/ter2@proxy/x",
            "http://alice:%FFhunter2@proxy",
        ];
        for input in cases {
            let err = ProxyUrl::parse(input).unwrap_err();
            let message = err.to_string();
            assert!(!message.contains("hunter2"), "{input}: {message}");
            assert!(
                message.contains("scheme://[user:pass@]host:port"),
                "{message}"
            );
        }
    }

    #[test]
    fn authority_and_redacted_forms() {
        let cases = [
            ("proxy", "proxy:1080", "http://proxy:1080"),
            ("https://proxy", "proxy:443", "https://proxy:443"),
            ("[::1]:8080", "[::1]:8080", "http://[::1]:8080"),
            ("alice:pw@proxy:1", "proxy:1", "http://alice:***@proxy:1"),
            ("alice@proxy:1", "proxy:1", "http://alice@proxy:1"),
            ("a%40b:pw@proxy:1", "proxy:1", "http://a%40b:***@proxy:1"),
            (
                "socks5h://u:p@[fe80::1]",
                "[fe80::1]:1080",
                "socks5h://u:***@[fe80::1]:1080",
            ),
        ];
        for (input, authority, redacted) in cases {
            let url = ProxyUrl::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(url.authority(), authority, "{input}");
            assert_eq!(url.redacted(), redacted, "{input}");
            assert_eq!(url.to_string(), redacted, "{input}");
        }
    }

    #[test]
    fn redacted_form_parses_back_without_the_password() {
        let url =
            ProxyUrl::parse("https://a%3Ab%40c:pw@proxy:8443").unwrap_or_else(|e| panic!("{e}"));
        let back = ProxyUrl::parse(&url.redacted()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.credentials, creds("a:b@c", "***"));
        assert_eq!(
            (back.scheme, back.host.as_str(), back.port),
            (url.scheme, "proxy", 8443)
        );
    }

    #[test]
    #[rustfmt::skip]
    fn lists_split_on_commas_and_know_direct() {
        // (input, redacted entries or Err)
        let cases: &[(&str, Result<&[&str], ()>)] = &[
            ("http://a:1", Ok(&["http://a:1"])),
            ("http://a:1,socks5h://b:2,DIRECT", Ok(&["http://a:1", "socks5h://b:2", "DIRECT"])),
            (" direct , https://c ", Ok(&["DIRECT", "https://c:443"])),
            ("a:1,,b:2,", Ok(&["http://a:1", "http://b:2"])),
            ("http://u:x%2Cy@p:1", Ok(&["http://u:***@p:1"])),
            ("", Err(())),
            (",", Err(())),
            ("http://a:1,socks4://b", Err(())),
            ("DIRECTLY", Ok(&["http://directly:1080"])),
        ];
        for (input, expected) in cases {
            let got = ProxyChoice::parse_list(input)
                .map(|l| l.iter().map(ToString::to_string).collect::<Vec<_>>())
                .map_err(|_| ());
            let expected = expected.map(|e| e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, expected, "{input:?}");
        }
        let with_comma = ProxyChoice::parse_list("http://u:x%2Cy@p:1").unwrap_or_default();
        assert_eq!(
            with_comma[0].proxy().and_then(|p| p.credentials.clone()),
            creds("u", "x,y")
        );
    }
}
