//! The one error type of the client library, sorted by phase and by who is at fault.
//!
//! Every message says what happened and what the user can do about it. Exit codes for
//! the CLI are mapped from [`Error::kind`] in `wsvia-cli`, not here.

use std::fmt;
use std::io;
use std::time::Duration;

use wsvia_core::ProxyChoice;

/// Which side of the route an error concerns.
///
/// # Examples
/// ```
/// assert_eq!(wsvia::Peer::Proxy.to_string(), "proxy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The proxy the connection goes through.
    Proxy,
    /// The WebSocket server (the origin).
    Target,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Peer::Proxy => "proxy",
            Peer::Target => "server",
        })
    }
}

/// The stage of opening a connection that was running when something failed.
///
/// # Examples
/// ```
/// assert_eq!(wsvia::Phase::Tunnel.to_string(), "proxy tunnel (CONNECT)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Looking up a host name.
    Resolve,
    /// Opening the TCP connection (to the proxy, or to the server when direct).
    Tcp,
    /// The TLS handshake with an `https://` proxy.
    ProxyTls,
    /// Asking the proxy for a tunnel (`CONNECT`), including authentication rounds.
    Tunnel,
    /// The TLS handshake with the server, inside the tunnel for `wss://`.
    TargetTls,
    /// The WebSocket upgrade request and its `101` answer.
    Upgrade,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Resolve => "name resolution",
            Phase::Tcp => "TCP connect",
            Phase::ProxyTls => "TLS handshake with the proxy",
            Phase::Tunnel => "proxy tunnel (CONNECT)",
            Phase::TargetTls => "TLS handshake with the server",
            Phase::Upgrade => "WebSocket upgrade",
        })
    }
}

/// Why a TLS handshake failed, in the words a user can act on.
///
/// # Examples
/// ```
/// let f = wsvia::TlsFailure::UnknownIssuer;
/// assert!(f.to_string().contains("--cacert"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The certificate chain does not lead to a trusted root.
    UnknownIssuer,
    /// The certificate is valid, but not for the name we connected to.
    NameMismatch {
        /// The name we expected the certificate to carry.
        expected: String,
    },
    /// The certificate has expired.
    Expired,
    /// The certificate is not valid yet.
    NotYetValid,
    /// The certificate has been revoked.
    Revoked,
    /// The certificate was rejected for another reason.
    BadCertificate(String),
    /// The peer refused the handshake or spoke something other than TLS.
    Handshake(String),
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFailure::UnknownIssuer => f.write_str(
                "certificate signed by an unknown issuer (give its CA with --cacert, or --insecure to skip the check)",
            ),
            TlsFailure::NameMismatch { expected } => write!(
                f,
                "certificate is not valid for the name {expected:?} (connect by a name the certificate lists)"
            ),
            TlsFailure::Expired => f.write_str("certificate has expired (check the server's certificate and this machine's clock)"),
            TlsFailure::NotYetValid => f.write_str("certificate is not valid yet (check this machine's clock)"),
            TlsFailure::Revoked => f.write_str("certificate has been revoked"),
            TlsFailure::BadCertificate(why) => write!(f, "certificate rejected: {why}"),
            TlsFailure::Handshake(why) => write!(f, "handshake failed: {why} (is it a TLS port?)"),
        }
    }
}

/// Coarse classes of [`Error`], one per CLI exit code.
///
/// # Examples
/// ```
/// let e = wsvia::Error::Timeout { phase: wsvia::Phase::Tcp };
/// assert_eq!(e.kind(), wsvia::ErrorKind::Timeout);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input from the user: URL, proxy URL, header, CA file.
    Usage,
    /// A host name did not resolve.
    Resolve,
    /// The proxy could not be reached over TCP.
    ProxyUnreachable,
    /// The TLS handshake with the proxy failed.
    ProxyTls,
    /// The proxy wants credentials we do not have, or in a scheme we cannot answer.
    ProxyAuthRequired,
    /// The proxy rejected the credentials we sent.
    ProxyAuthRejected,
    /// The proxy answered the tunnel request with an error status.
    ProxyRefused,
    /// The proxy broke the protocol or closed the connection.
    ProxyProtocol,
    /// The server could not be reached over TCP (direct connections).
    TargetUnreachable,
    /// The TLS handshake with the server failed.
    TargetTls,
    /// The server answered the upgrade with something other than `101`.
    UpgradeRefused,
    /// The server broke the WebSocket handshake.
    Handshake,
    /// A phase did not finish in time.
    Timeout,
    /// Any other I/O error.
    Io,
}

/// Everything that can go wrong while opening a WebSocket.
///
/// A clean close of an open WebSocket is not an error; errors after the handshake
/// are the WebSocket crate's (`tokio_tungstenite::tungstenite::Error`).
///
/// # Examples
/// ```
/// let e = wsvia::Error::ProxyAuthRequired {
///     proxy: "http://proxy:3128".into(),
///     offered: vec!["Basic realm=\"corp\"".into()],
/// };
/// assert!(e.to_string().contains("--proxy-user"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The WebSocket URL cannot be used.
    #[error("invalid URL {url:?}: {reason} (expected ws://host[:port]/path or wss://…)")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The proxy URL (from a flag or an environment variable) cannot be used.
    #[error("invalid proxy: {0}")]
    InvalidProxy(#[from] wsvia_core::ProxyUrlError),
    /// The PAC file failed when asked for this URL.
    #[error("PAC: {0} (fix the PAC file, or give --proxy)")]
    Pac(String),
    /// The proxy scheme is understood but not supported by this build.
    #[error(
        "proxy scheme {scheme} is not supported (use http://, https://, socks5:// or socks5h://)"
    )]
    UnsupportedProxy {
        /// The scheme, e.g. `socks5`.
        scheme: String,
    },
    /// Proxy credentials that the proxy's protocol cannot carry (SOCKS5: 1–255 bytes each).
    #[error("proxy credentials cannot be used: {reason}")]
    InvalidCredentials {
        /// What is wrong with them.
        reason: String,
    },
    /// A header given by the user cannot be sent.
    #[error("invalid header {header:?}: {reason} (expected 'Name: value')")]
    InvalidHeader {
        /// The header as given.
        header: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A CA file could not be read or holds no certificate.
    #[error("cannot use CA file {path}: {reason}")]
    CaFile {
        /// The path as given.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A host name did not resolve.
    #[error("cannot resolve {peer} host {host:?}: {source} (check the name and your DNS)")]
    Resolve {
        /// Whose name it was.
        peer: Peer,
        /// The name.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The proxy did not accept a TCP connection.
    #[error("proxy {proxy} is unreachable: {source} (is it running, and is the address right?)")]
    ProxyUnreachable {
        /// The proxy, redacted.
        proxy: String,
        /// The connect error.
        source: io::Error,
    },
    /// The TLS handshake with an `https://` proxy failed.
    #[error("TLS with proxy {proxy} failed: {}", proxy_tls_text(.failure))]
    ProxyTls {
        /// The proxy, redacted.
        proxy: String,
        /// Why.
        failure: TlsFailure,
    },
    /// The proxy answered `407` and we have no credentials, or none of its schemes is supported.
    #[error("proxy {proxy} requires authentication ({}); give credentials with --proxy-user USER:PASS or in the proxy URL", offered_list(.offered))]
    ProxyAuthRequired {
        /// The proxy, redacted.
        proxy: String,
        /// Each challenge the proxy offered, e.g. `Basic realm="corp"`.
        offered: Vec<String>,
    },
    /// The proxy answered `407` to the credentials we sent.
    #[error(
        "proxy {proxy} rejected the credentials of user {user:?} ({scheme}); check the user name and password"
    )]
    ProxyAuthRejected {
        /// The proxy, redacted.
        proxy: String,
        /// The user name we sent.
        user: String,
        /// The scheme we answered with.
        scheme: String,
    },
    /// The proxy answered the `CONNECT` with a status other than 2xx or 407.
    #[error("proxy {proxy} refused the tunnel: {status} {reason}{}{}", retry_hint(.retry_after), detail_hint(.detail))]
    ProxyRefused {
        /// The proxy, redacted.
        proxy: String,
        /// The status code, e.g. 403.
        status: u16,
        /// The reason phrase, e.g. `Forbidden`.
        reason: String,
        /// The `Retry-After` header, if any.
        retry_after: Option<String>,
        /// Why, as the proxy explains it (`Proxy-Status`, `X-Squid-Error`).
        detail: Option<String>,
    },
    /// The SOCKS5 proxy answered the `CONNECT` with an error reply (RFC 1928 §6).
    #[error("SOCKS proxy {proxy} could not connect to {target}: {}", socks_reply_text(*.code))]
    SocksRefused {
        /// The proxy, redacted.
        proxy: String,
        /// The `host:port` we asked for.
        target: String,
        /// The reply code, `0x01`–`0x08`.
        code: u8,
    },
    /// The SOCKS5 proxy accepts none of the authentication methods we offered (`0xFF`).
    #[error("SOCKS proxy {proxy} {}", socks_methods_hint(*.offered_password))]
    SocksAuthRequired {
        /// The proxy, redacted.
        proxy: String,
        /// Whether we offered username/password (we had credentials).
        offered_password: bool,
    },
    /// The proxy did not speak HTTP, or closed before answering.
    #[error("proxy {proxy} broke the protocol: {detail}")]
    ProxyProtocol {
        /// The proxy, redacted.
        proxy: String,
        /// What happened.
        detail: String,
    },
    /// The server did not accept a TCP connection (direct connections).
    #[error("server {addr} is unreachable: {source} (is it running, and is the address right?)")]
    TargetUnreachable {
        /// The address.
        addr: String,
        /// The connect error.
        source: io::Error,
    },
    /// The TLS handshake with the server failed.
    #[error("TLS with server {host} failed: {failure}")]
    TargetTls {
        /// The name we connected to.
        host: String,
        /// Why.
        failure: TlsFailure,
    },
    /// The server answered the upgrade request with something other than `101`.
    #[error(
        "server refused the WebSocket upgrade: {status} {reason} (check the URL path and the server)"
    )]
    UpgradeRefused {
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The server broke the WebSocket handshake.
    #[error("WebSocket handshake failed: {detail}")]
    Handshake {
        /// What happened.
        detail: String,
    },
    /// A phase did not finish before the connect timeout.
    #[error("timed out during {phase} (raise --connect-timeout, or check the network)")]
    Timeout {
        /// The phase that was running.
        phase: Phase,
    },
    /// Any other I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// Every proxy in the list (and `DIRECT`, if listed) was tried and failed.
    #[error("{}", attempts_text(.attempts))]
    AllRoutesFailed {
        /// Each route tried, in order, with its error.
        attempts: Vec<Attempt>,
    },
}

/// One route tried while opening a connection, and why it failed.
///
/// # Examples
/// ```
/// let a = wsvia::error::Attempt {
///     via: wsvia_core::ProxyChoice::Direct,
///     error: wsvia::Error::Timeout { phase: wsvia::Phase::Tcp },
/// };
/// assert!(a.to_string().starts_with("DIRECT: timed out"));
/// ```
#[derive(Debug)]
pub struct Attempt {
    /// The proxy (or `DIRECT`) tried.
    pub via: ProxyChoice,
    /// Why it failed.
    pub error: Error,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.via, self.error)
    }
}

fn attempts_text(attempts: &[Attempt]) -> String {
    let mut text = format!(
        "no route to the server worked; tried {} in order:",
        attempts.len()
    );
    for (i, attempt) in attempts.iter().enumerate() {
        text.push_str(&format!("\n  {}. {attempt}", i + 1));
    }
    text
}

/// What a SOCKS5 reply code means, and what to do about it.
fn socks_reply_text(code: u8) -> String {
    let text = match code {
        0x01 => "general SOCKS server failure (0x01; see the proxy's log)",
        0x02 => {
            "connection not allowed by ruleset (0x02; the proxy's rules forbid this destination: ask its administrator)"
        }
        0x03 => "network unreachable (0x03; the proxy has no route to the server's network)",
        0x04 => {
            "host unreachable (0x04; the proxy cannot reach the server: check the host name, or use socks5:// to resolve it here)"
        }
        0x05 => {
            "connection refused (0x05; nothing listens on that port, as seen from the proxy: is the server running?)"
        }
        0x06 => "TTL expired (0x06; the server did not answer the proxy in time)",
        0x07 => "command not supported (0x07; the proxy does not allow CONNECT)",
        0x08 => {
            "address type not supported (0x08; try socks5h:// to send the name, or socks5:// to send an address)"
        }
        other => return format!("unknown reply code {other:#04x}"),
    };
    text.to_owned()
}

fn socks_methods_hint(offered_password: bool) -> &'static str {
    if offered_password {
        "accepts neither username/password nor no authentication (it wants a method wsvia does not support, such as GSSAPI)"
    } else {
        "requires authentication; give credentials with --proxy-user USER:PASS or in the proxy URL (socks5://user:pass@host:port)"
    }
}

/// The failure in words, with the proxy's own flags in the hint.
fn proxy_tls_text(failure: &TlsFailure) -> String {
    match failure {
        TlsFailure::UnknownIssuer => "certificate signed by an unknown issuer (give its CA with --proxy-cacert, or --proxy-insecure to skip the check)".to_owned(),
        other => other.to_string(),
    }
}

fn offered_list(offered: &[String]) -> String {
    if offered.is_empty() {
        "it offered no scheme".to_owned()
    } else {
        format!("it offers: {}", offered.join("; "))
    }
}

fn retry_hint(retry_after: &Option<String>) -> String {
    retry_after
        .as_ref()
        .map(|s| format!(", retry after {s} s"))
        .unwrap_or_default()
}

fn detail_hint(detail: &Option<String>) -> String {
    detail
        .as_ref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default()
}

impl Error {
    /// The class of this error, for exit codes and retry decisions.
    ///
    /// # Examples
    /// ```
    /// let e = wsvia::Error::UpgradeRefused { status: 404, reason: "Not Found".into() };
    /// assert_eq!(e.kind(), wsvia::ErrorKind::UpgradeRefused);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidUrl { .. }
            | Error::InvalidProxy(_)
            | Error::Pac(_)
            | Error::UnsupportedProxy { .. }
            | Error::InvalidHeader { .. }
            | Error::InvalidCredentials { .. }
            | Error::CaFile { .. } => ErrorKind::Usage,
            Error::Resolve { .. } => ErrorKind::Resolve,
            Error::ProxyUnreachable { .. } => ErrorKind::ProxyUnreachable,
            Error::ProxyTls { .. } => ErrorKind::ProxyTls,
            Error::ProxyAuthRequired { .. } => ErrorKind::ProxyAuthRequired,
            Error::ProxyAuthRejected { .. } => ErrorKind::ProxyAuthRejected,
            Error::ProxyRefused { .. } | Error::SocksRefused { .. } => ErrorKind::ProxyRefused,
            Error::SocksAuthRequired { .. } => ErrorKind::ProxyAuthRequired,
            Error::ProxyProtocol { .. } => ErrorKind::ProxyProtocol,
            Error::TargetUnreachable { .. } => ErrorKind::TargetUnreachable,
            Error::TargetTls { .. } => ErrorKind::TargetTls,
            Error::UpgradeRefused { .. } => ErrorKind::UpgradeRefused,
            Error::Handshake { .. } => ErrorKind::Handshake,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Io(_) => ErrorKind::Io,
            Error::AllRoutesFailed { attempts } => match attempts.last() {
                Some(last) => last.error.kind(),
                None => ErrorKind::Io,
            },
        }
    }

    /// Whether the next proxy of a list should be tried after this error: the proxy
    /// (or, for `DIRECT`, the way to the server) failed, rather than answered.
    ///
    /// Fail over: unreachable, unresolvable, TLS with the proxy, protocol errors,
    /// timeouts before the tunnel is open, `502`/`503`/`504` from an HTTP proxy, and
    /// SOCKS replies other than "not allowed by ruleset". Do not: `407` (credentials
    /// missing or rejected), `403` and other refusals, and everything after the tunnel
    /// is open (the server's TLS, the upgrade): those are answers another proxy would
    /// repeat.
    ///
    /// # Examples
    /// ```
    /// use wsvia::Error;
    /// let busy = Error::ProxyRefused {
    ///     proxy: "http://p:3128".into(), status: 503, reason: "Service Unavailable".into(),
    ///     retry_after: None, detail: None,
    /// };
    /// assert!(busy.fails_over());
    /// let denied = Error::ProxyRefused {
    ///     proxy: "http://p:3128".into(), status: 403, reason: "Forbidden".into(),
    ///     retry_after: None, detail: None,
    /// };
    /// assert!(!denied.fails_over());
    /// ```
    pub fn fails_over(&self) -> bool {
        match self {
            Error::Resolve { .. }
            | Error::ProxyUnreachable { .. }
            | Error::ProxyTls { .. }
            | Error::ProxyProtocol { .. }
            | Error::TargetUnreachable { .. }
            | Error::Io(_) => true,
            Error::Timeout { phase } => matches!(
                phase,
                Phase::Resolve | Phase::Tcp | Phase::ProxyTls | Phase::Tunnel
            ),
            Error::ProxyRefused { status, .. } => matches!(status, 502..=504),
            Error::SocksRefused { code, .. } => *code != 0x02,
            _ => false,
        }
    }

    /// Whether trying again later, unchanged, may work: the proxy or server is down,
    /// busy or restarting (`--reconnect` retries these). Usage errors, authentication,
    /// refusals such as `403`, and certificate problems are not transient.
    ///
    /// # Examples
    /// ```
    /// let e = wsvia::Error::Timeout { phase: wsvia::Phase::Upgrade };
    /// assert!(e.is_transient());
    /// let e = wsvia::Error::UpgradeRefused { status: 404, reason: "Not Found".into() };
    /// assert!(!e.is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::UpgradeRefused { status, .. } => matches!(status, 502..=504),
            Error::SocksRefused { code, .. } => !matches!(code, 0x02 | 0x07 | 0x08),
            Error::AllRoutesFailed { attempts } => {
                attempts.last().is_some_and(|a| a.error.is_transient())
            }
            _ => self.fails_over(),
        }
    }

    /// How long the proxy asked us to wait (`Retry-After` in seconds on its refusal).
    ///
    /// # Examples
    /// ```
    /// let e = wsvia::Error::ProxyRefused {
    ///     proxy: "http://p:3128".into(), status: 503, reason: "Service Unavailable".into(),
    ///     retry_after: Some("2".into()), detail: None,
    /// };
    /// assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(2)));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::ProxyRefused { retry_after, .. } => retry_after
                .as_deref()
                .and_then(wsvia_core::backoff::parse_retry_after),
            Error::AllRoutesFailed { attempts } => {
                attempts.iter().filter_map(|a| a.error.retry_after()).max()
            }
            _ => None,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
