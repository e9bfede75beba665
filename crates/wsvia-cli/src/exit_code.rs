//! Every exit code of `wsvia`, in one place: one per failure phase, so scripts can tell
//! a wrong password from a dead server without reading messages.

use wsvia::ErrorKind;

/// Success, including a WebSocket closed cleanly by either side.
pub const OK: u8 = 0;
/// A failure after the connection opened (connection lost, protocol error, I/O).
pub const FAILURE: u8 = 1;
/// Bad command line, URL, header, proxy URL or configuration.
pub const USAGE: u8 = 2;
/// A host name (proxy or server) did not resolve.
pub const RESOLVE: u8 = 3;
/// The proxy did not accept the TCP connection.
pub const PROXY_UNREACHABLE: u8 = 4;
/// The TLS handshake with an https:// proxy failed.
pub const PROXY_TLS: u8 = 5;
/// The proxy wants authentication we cannot give (no credentials or unsupported scheme).
pub const PROXY_AUTH_REQUIRED: u8 = 6;
/// The proxy rejected our credentials.
pub const PROXY_AUTH_REJECTED: u8 = 7;
/// The proxy refused the tunnel (403, 502, 503, …, or a SOCKS5 error reply 0x01–0x08).
pub const PROXY_REFUSED: u8 = 8;
/// The proxy broke the HTTP protocol or closed without answering.
pub const PROXY_PROTOCOL: u8 = 9;
/// The server did not accept the TCP connection (direct).
pub const TARGET_UNREACHABLE: u8 = 10;
/// The TLS handshake with the server failed (unknown issuer, name mismatch, expired, …).
pub const TARGET_TLS: u8 = 11;
/// The server answered the upgrade with a status other than 101.
pub const UPGRADE_REFUSED: u8 = 12;
/// The server broke the WebSocket handshake.
pub const HANDSHAKE: u8 = 13;
/// A phase did not finish within --connect-timeout.
pub const TIMEOUT: u8 = 14;
/// Interrupted by Ctrl-C.
pub const INTERRUPTED: u8 = 130;

/// The table printed in `wsvia connect --help` and the README.
pub const TABLE: &str = "\
Exit codes:
  0    success (the WebSocket closed cleanly)
  1    failure after the connection opened (connection lost, protocol error)
  2    usage error (bad flag, URL, header or proxy URL)
  3    a host name did not resolve
  4    proxy unreachable
  5    TLS with the proxy failed
  6    proxy requires authentication (none given, or scheme not supported)
  7    proxy rejected the credentials
  8    proxy refused the tunnel (403, 502, 503, ..., or a SOCKS5 error reply)
  9    proxy broke the protocol (HTTP or SOCKS5)
  10   server unreachable
  11   TLS with the server failed
  12   server refused the WebSocket upgrade
  13   WebSocket handshake failed
  14   timeout (the message names the phase)
  130  interrupted (Ctrl-C)";

/// The exit code for a connection error.
pub fn for_error(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage => USAGE,
        ErrorKind::Resolve => RESOLVE,
        ErrorKind::ProxyUnreachable => PROXY_UNREACHABLE,
        ErrorKind::ProxyTls => PROXY_TLS,
        ErrorKind::ProxyAuthRequired => PROXY_AUTH_REQUIRED,
        ErrorKind::ProxyAuthRejected => PROXY_AUTH_REJECTED,
        ErrorKind::ProxyRefused => PROXY_REFUSED,
        ErrorKind::ProxyProtocol => PROXY_PROTOCOL,
        ErrorKind::TargetUnreachable => TARGET_UNREACHABLE,
        ErrorKind::TargetTls => TARGET_TLS,
        ErrorKind::UpgradeRefused => UPGRADE_REFUSED,
        ErrorKind::Handshake => HANDSHAKE,
        ErrorKind::Timeout => TIMEOUT,
        _ => FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_in_the_table_is_distinct_and_listed() {
        let codes = [
            OK,
            FAILURE,
            USAGE,
            RESOLVE,
            PROXY_UNREACHABLE,
            PROXY_TLS,
            PROXY_AUTH_REQUIRED,
            PROXY_AUTH_REJECTED,
            PROXY_REFUSED,
            PROXY_PROTOCOL,
            TARGET_UNREACHABLE,
            TARGET_TLS,
            UPGRADE_REFUSED,
            HANDSHAKE,
            TIMEOUT,
            INTERRUPTED,
        ];
        let mut seen = std::collections::HashSet::new();
        for code in codes {
            assert!(seen.insert(code), "code {code} used twice");
            assert!(
                TABLE
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{code} "))),
                "code {code} missing from the table"
            );
        }
    }
}
