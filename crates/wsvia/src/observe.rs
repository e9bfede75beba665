//! What a connection attempt reports as it goes: for `wsvia connect -v` and `--trace`.
//!
//! The library never prints. It hands [`Event`]s to an [`Observer`] the caller installs;
//! heads are already redacted (no credentials) before they reach the observer.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use wsvia_core::deflate::DeflateParams;
use wsvia_core::{ProxyChoice, Selection};

use crate::error::{Error, Peer};

/// One step of opening a connection.
///
/// # Examples
/// ```
/// let e = wsvia::Event::Retrying { why: "proxy closed after 407".into() };
/// assert!(e.to_string().contains("407"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The route was chosen: which proxies (or none), in which order, and why.
    Route(&'a Selection),
    /// A proxy that failed recently is moved to the end of the list (tried only when
    /// the others fail too).
    Deferred {
        /// The proxy.
        via: &'a ProxyChoice,
        /// How long ago it failed.
        failed_ago: Duration,
        /// How long it stays at the end of the list.
        remaining: Duration,
    },
    /// One route of a list is tried (only reported when the list has several).
    Trying {
        /// The proxy, or `DIRECT`.
        via: &'a ProxyChoice,
        /// 1-based position in the order tried.
        attempt: usize,
        /// How many routes there are.
        of: usize,
    },
    /// A route of a list failed (only reported when the list has several).
    Failed {
        /// The proxy, or `DIRECT`.
        via: &'a ProxyChoice,
        /// Why.
        error: &'a Error,
        /// Whether the next route will be tried.
        next: bool,
    },
    /// The server is reachable: the tunnel is open, or the direct connection.
    Reached {
        /// The proxy used, or `DIRECT`.
        via: &'a ProxyChoice,
    },
    /// A SOCKS5 `CONNECT` request is sent.
    SocksConnect {
        /// The address or name asked for, `host:port`.
        target: &'a str,
        /// `true` for socks5h:// (the proxy resolves the name).
        by_name: bool,
        /// Whether username/password authentication is offered.
        password: bool,
    },
    /// A TCP connection is open.
    Connected {
        /// Proxy or server.
        peer: Peer,
        /// The address we reached.
        addr: SocketAddr,
    },
    /// A TLS session is up.
    TlsEstablished {
        /// Proxy or server.
        peer: Peer,
        /// The name that was checked.
        name: &'a str,
    },
    /// A request head as sent on the wire, credentials redacted.
    Sent {
        /// Proxy (CONNECT) or server (upgrade).
        peer: Peer,
        /// The head, CRLF line ends, no trailing blank line.
        head: &'a str,
    },
    /// A response head as received, credentials redacted.
    Received {
        /// Proxy or server.
        peer: Peer,
        /// The head, CRLF line ends, no trailing blank line.
        head: &'a str,
    },
    /// The proxy asked for authentication and we try again.
    Retrying {
        /// Why, in words.
        why: String,
    },
    /// The server's answer to our permessage-deflate offer: the parameters in force, or
    /// `None` when it declined (messages then go uncompressed).
    Compression(Option<&'a DeflateParams>),
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Route(sel) => match sel.choices.as_slice() {
                [ProxyChoice::Proxy(proxy)] => write!(f, "* proxy {proxy}: {}", sel.reason),
                [] | [ProxyChoice::Direct] => write!(f, "* direct: {}", sel.reason),
                list => {
                    let names: Vec<String> = list.iter().map(ToString::to_string).collect();
                    write!(
                        f,
                        "* {} routes to try in order: {} ({})",
                        list.len(),
                        names.join(", "),
                        sel.reason
                    )
                }
            },
            Event::Deferred {
                via,
                failed_ago,
                remaining,
            } => write!(
                f,
                "* {via} failed {} s ago: trying it last for another {} s",
                failed_ago.as_secs(),
                remaining.as_secs().max(1)
            ),
            Event::Trying { via, attempt, of } => write!(f, "* trying {via} ({attempt} of {of})"),
            Event::Failed { via, error, next } => {
                let then = match (next, error.fails_over()) {
                    (true, _) => "; trying the next",
                    (false, false) => "; not trying others: that is the proxy's answer",
                    (false, true) => "",
                };
                write!(f, "* {via} failed: {error}{then}")
            }
            Event::Reached { via } => match via {
                ProxyChoice::Direct => f.write_str("* reached the server directly"),
                ProxyChoice::Proxy(proxy) => write!(f, "* reached the server through {proxy}"),
            },
            Event::SocksConnect {
                target,
                by_name,
                password,
            } => write!(
                f,
                "* SOCKS5 CONNECT {target} ({}{})",
                if *by_name {
                    "the proxy resolves the name"
                } else {
                    "address resolved here"
                },
                if *password {
                    "; offering username/password"
                } else {
                    ""
                }
            ),
            Event::Connected { peer, addr } => write!(f, "* connected to {peer} {addr}"),
            Event::TlsEstablished { peer, name } => {
                write!(f, "* TLS with {peer} {name} established")
            }
            Event::Sent { head, .. } => write_lines(f, "> ", head),
            Event::Received { head, .. } => write_lines(f, "< ", head),
            Event::Retrying { why } => write!(f, "* {why}"),
            Event::Compression(Some(params)) => write!(f, "* compression negotiated: {params}"),
            Event::Compression(None) => f.write_str(
                "* compression declined: the server did not accept permessage-deflate; messages go uncompressed",
            ),
        }
    }
}

fn write_lines(f: &mut fmt::Formatter<'_>, mark: &str, head: &str) -> fmt::Result {
    for (i, line) in head.split("\r\n").enumerate() {
        if i > 0 {
            f.write_str("\n")?;
        }
        write!(f, "{mark}{line}")?;
    }
    Ok(())
}

/// Receives [`Event`]s while a connection opens.
///
/// # Examples
/// ```
/// struct Print;
/// impl wsvia::Observer for Print {
///     fn on_event(&self, event: &wsvia::Event<'_>) { eprintln!("{event}"); }
/// }
/// ```
pub trait Observer: Send + Sync {
    /// Called once per event, in order.
    fn on_event(&self, event: &Event<'_>);
}

/// Render a request or response head for tracing, redacting credentials.
pub(crate) fn render_head<'h>(
    first_line: &str,
    headers: impl IntoIterator<Item = (&'h http::HeaderName, &'h http::HeaderValue)>,
) -> String {
    let mut out = first_line.to_owned();
    for (name, value) in headers {
        out.push_str("\r\n");
        out.push_str(&title_case(name.as_str()));
        out.push_str(": ");
        out.push_str(&redact(name, value));
    }
    out
}

/// `proxy-authorization` → `Proxy-Authorization`, as hyper writes names on the wire.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

fn redact(name: &http::HeaderName, value: &http::HeaderValue) -> String {
    let secret = name == http::header::PROXY_AUTHORIZATION
        || name == http::header::AUTHORIZATION
        || name == http::header::COOKIE;
    let text = String::from_utf8_lossy(value.as_bytes());
    if !secret {
        return text.into_owned();
    }
    match text.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} <redacted>"),
        None => "<redacted>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, header};

    #[test]
    fn heads_redact_credentials_but_keep_the_scheme() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("example.com:443"));
        h.insert(
            header::PROXY_AUTHORIZATION,
            HeaderValue::from_static("Basic YWxpY2U6c2VjcmV0"),
        );
        let head = render_head("CONNECT example.com:443 HTTP/1.1", &h);
        assert_eq!(
            head,
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic <redacted>"
        );
        assert!(!head.contains("YWxpY2U6c2VjcmV0"));
    }
}
