//! The gateway's route table: which upstream serves a request, chosen by its
//! host and path, and the path the upstream sees.
//!
//! This module owns [`RouteTable`], [`Route`], [`HostMatch`], [`Upstream`],
//! [`Endpoint`] and [`RouteError`]. Reading token files named by
//! `tokens:PATH` upstreams lives in [`crate::tokens`]; connecting to
//! upstreams is the gateway's job.
//!
//! # Spec form
//!
//! A route is written `PATH=UPSTREAM` or `HOST/PATH=UPSTREAM` (the `--route`
//! flag and the config file use the same form; the text is split at the
//! first `=`, so a path cannot hold `=`):
//!
//! ```text
//! /=ws://127.0.0.1:9001
//! /chat=ws://chat:8080/ws
//! api.example.com/=http://127.0.0.1:8080
//! *.example.com/live=wss://live.internal:443/
//! /game=tcp://127.0.0.1:7000
//! /vnc=tokens:/etc/wsvia/tokens.cfg
//! ```
//!
//! - HOST is a name (`api.example.com`, matched case-insensitively), an IP
//!   address (`127.0.0.1`, `[::1]`), or `*.SUFFIX`, which matches names with
//!   one or more labels before `SUFFIX` (`a.example.com`,
//!   `a.b.example.com`) but not `example.com` itself. Without HOST a route
//!   matches every host, and requests without a host. A port on the request's
//!   host is ignored; a route cannot name one.
//! - PATH is a prefix matched on segment boundaries: `/chat` matches `/chat`,
//!   `/chat/`, `/chat/x` and `/chat?x`, not `/chatroom`. Trailing slashes are
//!   dropped (`/chat/` is `/chat`); paths compare byte for byte, without
//!   percent-decoding.
//! - UPSTREAM is `ws://`, `wss://`, `http://` or `https://` `HOST[:PORT][/PATH]`
//!   (port 80 or 443 by default; no credentials, query or fragment),
//!   `tcp://HOST:PORT`, or `tokens:FILE` (a websockify token file).
//!
//! # Choosing a route
//!
//! The route with the longest matching PATH wins. Among routes with the same
//! PATH, an exact host beats a wildcard, a longer wildcard suffix beats a
//! shorter one, and a wildcard beats a route without host. Two routes with
//! the same HOST and PATH are rejected as duplicates, so the choice never
//! depends on the order of declaration.
//!
//! # The upstream path
//!
//! As with nginx's `proxy_pass`: an upstream URL without a path
//! (`ws://h:1`) gets the request path unchanged; an upstream URL with a path
//! gets that path in place of the matched route PATH. See
//! [`Route::upstream_path`].

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// The forms every route error points to.
const ROUTE_FORM: &str = "expected PATH=UPSTREAM or HOST/PATH=UPSTREAM, \
                          e.g. /chat=ws://127.0.0.1:9001 or api.example.com/=http://127.0.0.1:8080";
/// The forms every upstream error points to.
const UPSTREAM_FORM: &str = "expected ws://, wss://, http:// or https://HOST[:PORT][/PATH], \
                             tcp://HOST:PORT or tokens:FILE";

/// Which request hosts a route serves.
///
/// # Examples
///
/// ```
/// use wsvia_core::route::HostMatch;
///
/// let wildcard = HostMatch::Wildcard("example.com".into());
/// assert!(wildcard.matches(Some("a.b.example.com:8443")));
/// assert!(!wildcard.matches(Some("example.com")));
/// assert_eq!(wildcard.to_string(), "*.example.com");
/// assert!(HostMatch::Any.matches(None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostMatch {
    /// Every host, and requests without one.
    Any,
    /// One host: a lowercase name, or an IP address (IPv6 without brackets).
    Exact(String),
    /// Names ending in `.` + this lowercase suffix, with at least one label
    /// before it; written `*.suffix`.
    Wildcard(String),
}

impl HostMatch {
    /// Tells whether a request host (a `Host` header value or a TLS server
    /// name) matches. A port, IPv6 brackets, a trailing dot and letter case
    /// are ignored; `None` (no host) matches only [`HostMatch::Any`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::route::HostMatch;
    ///
    /// let exact = HostMatch::Exact("api.example.com".into());
    /// assert!(exact.matches(Some("API.Example.com.")));
    /// assert!(!exact.matches(None));
    /// assert!(HostMatch::Exact("::1".into()).matches(Some("[::1]:8080")));
    /// ```
    pub fn matches(&self, host: Option<&str>) -> bool {
        let host = host.map(bare_host);
        match (self, host) {
            (HostMatch::Any, _) => true,
            (_, None) => false,
            (HostMatch::Exact(want), Some(host)) => {
                want.eq_ignore_ascii_case(host)
                    || matches!(
                        (want.parse::<Ipv6Addr>(), host.parse::<Ipv6Addr>()),
                        (Ok(a), Ok(b)) if a == b
                    )
            }
            (HostMatch::Wildcard(suffix), Some(host)) => {
                let Some(split) = host.len().checked_sub(suffix.len() + 1) else {
                    return false;
                };
                split > 0
                    && host.as_bytes().get(split) == Some(&b'.')
                    && host
                        .get(split + 1..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
        }
    }

    /// How specific the pattern is, for ranking routes with equal paths.
    fn rank(&self) -> (u8, usize) {
        match self {
            HostMatch::Any => (0, 0),
            HostMatch::Wildcard(suffix) => (1, suffix.len()),
            HostMatch::Exact(_) => (2, 0),
        }
    }
}

impl fmt::Display for HostMatch {
    /// Writes the pattern as in a route spec: nothing for `Any`, `[v6]` for an
    /// IPv6 address, `*.suffix` for a wildcard.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostMatch::Any => Ok(()),
            HostMatch::Exact(host) => write_host(f, host),
            HostMatch::Wildcard(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// A WebSocket or HTTP upstream: where to connect and which path to ask for.
///
/// # Examples
///
/// ```
/// use wsvia_core::route::{Endpoint, Upstream};
///
/// let Upstream::Ws(endpoint) = "wss://[::1]/ws".parse::<Upstream>()? else { unreachable!() };
/// assert_eq!(
///     endpoint,
///     Endpoint { tls: true, host: "::1".into(), port: 443, path: Some("/ws".into()) },
/// );
/// assert_eq!(endpoint.authority(), "[::1]:443");
/// # Ok::<(), wsvia_core::route::RouteError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// `wss` or `https`: connect with TLS.
    pub tls: bool,
    /// Lowercase name or IP address (IPv6 without brackets).
    pub host: String,
    /// The port, the scheme's default (80 or 443) when none was written.
    pub port: u16,
    /// The path of the URL, starting with `/`; `None` when the URL had none,
    /// in which case requests keep their own path.
    pub path: Option<String>,
}

impl Endpoint {
    /// `host:port`, with brackets around an IPv6 address: the `Host` header
    /// and the address to connect to.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::route::Endpoint;
    ///
    /// let endpoint = Endpoint { tls: false, host: "chat".into(), port: 8080, path: None };
    /// assert_eq!(endpoint.authority(), "chat:8080");
    /// ```
    pub fn authority(&self) -> String {
        authority(&self.host, self.port)
    }
}

/// Where a route sends its requests.
///
/// `Display` writes the spec form, with the port always spelled out.
///
/// # Examples
///
/// ```
/// use wsvia_core::route::Upstream;
///
/// let upstream = Upstream::parse("tcp://127.0.0.1:7000")?;
/// assert_eq!(upstream, Upstream::Tcp { host: "127.0.0.1".into(), port: 7000 });
/// assert_eq!(Upstream::parse("ws://chat/ws")?.to_string(), "ws://chat:80/ws");
/// assert_eq!(Upstream::parse("tokens:/etc/wsvia/tokens.cfg")?.scheme(), "tokens");
/// # Ok::<(), wsvia_core::route::RouteError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Upstream {
    /// `ws://` or `wss://` (`tls`): a WebSocket server.
    Ws(Endpoint),
    /// `http://` or `https://` (`tls`): an HTTP server, WebSocket upgrades
    /// included.
    Http(Endpoint),
    /// `tcp://host:port`: a plain TCP service bridged from WebSocket messages.
    Tcp {
        /// Lowercase name or IP address (IPv6 without brackets).
        host: String,
        /// The port.
        port: u16,
    },
    /// `tokens:FILE`: a TCP target chosen per connection by the `token`
    /// query parameter, from a websockify token file.
    Tokens {
        /// The token file's path, as written.
        path: String,
    },
}

impl Upstream {
    /// Parses an upstream: `ws://`, `wss://`, `http://` or
    /// `https://HOST[:PORT][/PATH]`, `tcp://HOST:PORT` or `tokens:FILE`
    /// (schemes are case-insensitive).
    ///
    /// # Errors
    ///
    /// Returns [`RouteError::UnsupportedScheme`] for another scheme and
    /// [`RouteError::InvalidUpstream`] for a missing or malformed host, a port
    /// outside 1–65535, a `tcp` upstream without port or with a path,
    /// credentials, a query or a fragment, or an empty token file path.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::route::{RouteError, Upstream};
    ///
    /// assert!(matches!(Upstream::parse("ftp://h"), Err(RouteError::UnsupportedScheme { .. })));
    /// assert!(matches!(Upstream::parse("tcp://h"), Err(RouteError::InvalidUpstream { .. })));
    /// ```
    pub fn parse(text: &str) -> Result<Upstream, RouteError> {
        parse_upstream(text.trim(), text)
    }

    /// The scheme as written in a spec: `ws`, `wss`, `http`, `https`, `tcp`
    /// or `tokens`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::route::Upstream;
    ///
    /// assert_eq!(Upstream::parse("https://h")?.scheme(), "https");
    /// # Ok::<(), wsvia_core::route::RouteError>(())
    /// ```
    pub fn scheme(&self) -> &'static str {
        match self {
            Upstream::Ws(Endpoint { tls: false, .. }) => "ws",
            Upstream::Ws(Endpoint { tls: true, .. }) => "wss",
            Upstream::Http(Endpoint { tls: false, .. }) => "http",
            Upstream::Http(Endpoint { tls: true, .. }) => "https",
            Upstream::Tcp { .. } => "tcp",
            Upstream::Tokens { .. } => "tokens",
        }
    }

    /// Checks and normalizes hand-built values as [`Upstream::parse`] would.
    fn normalized(&self) -> Result<Upstream, &'static str> {
        Ok(match self {
            Upstream::Ws(endpoint) => Upstream::Ws(normalize_endpoint(endpoint)?),
            Upstream::Http(endpoint) => Upstream::Http(normalize_endpoint(endpoint)?),
            Upstream::Tcp { host, port } => Upstream::Tcp {
                host: parse_host(host)?,
                port: check_port(*port)?,
            },
            Upstream::Tokens { path } => Upstream::Tokens {
                path: check_token_path(path)?,
            },
        })
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upstream::Ws(endpoint) | Upstream::Http(endpoint) => {
                write!(f, "{}://", self.scheme())?;
                write_host(f, &endpoint.host)?;
                write!(f, ":{}", endpoint.port)?;
                f.write_str(endpoint.path.as_deref().unwrap_or_default())
            }
            Upstream::Tcp { host, port } => {
                f.write_str("tcp://")?;
                write_host(f, host)?;
                write!(f, ":{port}")
            }
            Upstream::Tokens { path } => write!(f, "tokens:{path}"),
        }
    }
}

impl FromStr for Upstream {
    type Err = RouteError;

    /// Same as [`Upstream::parse`].
    fn from_str(text: &str) -> Result<Upstream, RouteError> {
        Upstream::parse(text)
    }
}

/// One route: a host pattern, a path prefix and an upstream.
///
/// `Display` writes the spec form back (`*.example.com/live=wss://live.internal:443/`).
///
/// # Examples
///
/// ```
/// use wsvia_core::route::{HostMatch, Route};
///
/// let route = Route::parse("*.Example.com/live/=wss://live.internal:443/")?;
/// assert_eq!(route.host, HostMatch::Wildcard("example.com".into()));
/// assert_eq!(route.path, "/live");
/// assert_eq!(route.to_string(), "*.example.com/live=wss://live.internal:443/");
/// # Ok::<(), wsvia_core::route::RouteError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    /// Which hosts the route serves.
    pub host: HostMatch,
    /// The path prefix: starts with `/`, no trailing `/` unless it is `/`.
    pub path: String,
    /// Where matching requests go.
    pub upstream: Upstream,
}

impl Route {
    /// Parses `PATH=UPSTREAM` or `HOST/PATH=UPSTREAM` (see the
    /// [module docs](self) for each part). Whitespace around the spec and
    /// around `=` is ignored.
    ///
    /// # Errors
    ///
    /// Returns a [`RouteError`] naming the spec: no `=`
    /// ([`RouteError::MissingEquals`]), a host without a path or with a
    /// port, a misplaced `*` or bad characters ([`RouteError::InvalidHost`]),
    /// a path with a query, `=`, spaces or dot segments
    /// ([`RouteError::InvalidPath`]), or a bad upstream
    /// ([`RouteError::UnsupportedScheme`], [`RouteError::InvalidUpstream`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::route::{HostMatch, Route, RouteError, Upstream};
    ///
    /// let route = Route::parse("api.example.com/=http://127.0.0.1:8080")?;
    /// assert_eq!(route.host, HostMatch::Exact("api.example.com".into()));
    /// assert!(matches!(route.upstream, Upstream::Http(_)));
    ///
    /// let err = Route::parse("api.example.com=http://127.0.0.1:8080").unwrap_err();
    /// assert!(matches!(err, RouteError::InvalidHost { .. }));
    /// assert!(err.to_string().contains("api.example.com/="));
    /// # Ok::<(), RouteError>(())
    /// ```
    pub fn parse(spec: &str) -> Result<Route, RouteError> {
        let spec = spec.trim();
        let Some((left, right)) = spec.split_once('=') else {
            return Err(RouteError::MissingEquals { spec: spec.into() });
        };
        let (left, right) = (left.trim(), right.trim());
        let (host, path) = match left.find('/') {
            Some(0) => (HostMatch::Any, left),
            Some(slash) => {
                let text = &left[..slash];
                let host = parse_host_pattern(text).map_err(|reason| RouteError::InvalidHost {
                    spec: spec.into(),
                    host: text.into(),
                    reason,
                })?;
                (host, &left[slash..])
            }
            None if left.is_empty() => {
                return Err(RouteError::InvalidPath {
                    spec: spec.into(),
                    path: String::new(),
                    reason: "the path is missing (write `/` to match every path)",
                });
            }
            None => {
                return Err(RouteError::InvalidHost {
                    spec: spec.into(),
                    host: left.into(),
                    reason: "a host must be followed by a path, as in `api.example.com/=`",
                });
            }
        };
        let path = normalize_path(path).map_err(|reason| RouteError::InvalidPath {
            spec: spec.into(),
            path: path.into(),
            reason,
        })?;
        let upstream = parse_upstream(right, spec)?;
        Ok(Route {
            host,
            path,
            upstream,
        })
    }

    /// Tells whether this route serves a request for `host` (see
    /// [`HostMatch::matches`]) and `path_and_query` (an origin-form request
    /// target such as `/chat/room1?x=1`).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::route::Route;
    ///
    /// let route = Route::parse("/chat=ws://chat:8080/ws")?;
    /// assert!(route.matches(Some("example.com"), "/chat?x=1"));
    /// assert!(!route.matches(None, "/chatroom"));
    /// # Ok::<(), wsvia_core::route::RouteError>(())
    /// ```
    pub fn matches(&self, host: Option<&str>, path_and_query: &str) -> bool {
        self.host.matches(host) && self.rest_of(path_and_query).is_some()
    }

    /// The request target to send upstream for `request_path_and_query`
    /// (origin form, e.g. `/chat/room1?x=1`), after nginx's `proxy_pass`:
    ///
    /// - an upstream URL without a path (`ws://h:1`), and `tcp`/`tokens`
    ///   upstreams, keep the request target unchanged;
    /// - otherwise the route's path is replaced by the upstream's path: with
    ///   route `/chat=ws://up:8080/ws`, `/chat/room1?x=1` becomes
    ///   `/ws/room1?x=1`, `/chat` becomes `/ws` and `/chat?x` becomes `/ws?x`.
    ///   A trailing `/` of the upstream path never doubles (`/ws/` + `/x` is
    ///   `/ws/x`), and it is kept when nothing follows the route path; for the
    ///   route `/`, the request `/` counts as nothing (`/` goes to `/ws`).
    ///
    /// A target the route does not match is returned unchanged; an empty one
    /// counts as `/`. The query is passed through as is.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::route::Route;
    ///
    /// let chat = Route::parse("/chat=ws://up:8080/ws")?;
    /// assert_eq!(chat.upstream_path("/chat/room1?x=1"), "/ws/room1?x=1");
    /// assert_eq!(chat.upstream_path("/chat"), "/ws");
    ///
    /// let root = Route::parse("/=ws://h:1")?;
    /// assert_eq!(root.upstream_path("/any/path?q"), "/any/path?q");
    ///
    /// let strip = Route::parse("/api=http://backend:8080/")?;
    /// assert_eq!(strip.upstream_path("/api/v1/items"), "/v1/items");
    /// # Ok::<(), wsvia_core::route::RouteError>(())
    /// ```
    pub fn upstream_path(&self, request_path_and_query: &str) -> String {
        let request = match request_path_and_query {
            "" => "/",
            other => other,
        };
        let upstream = match &self.upstream {
            Upstream::Ws(endpoint) | Upstream::Http(endpoint) => endpoint.path.as_deref(),
            Upstream::Tcp { .. } | Upstream::Tokens { .. } => None,
        };
        let (Some(upstream), Some(rest)) = (upstream, self.rest_of(request)) else {
            return request.to_owned();
        };
        let (mut rest_path, query) = rest.split_at(rest.find('?').unwrap_or(rest.len()));
        if self.path == "/" && rest_path == "/" {
            rest_path = "";
        }
        if rest_path.is_empty() {
            format!("{upstream}{query}")
        } else {
            format!("{}{rest_path}{query}", upstream.trim_end_matches('/'))
        }
    }

    /// What follows the route path in a matching request target: empty, or
    /// starting with `/` or `?` (for the route `/`, the whole target).
    fn rest_of<'a>(&self, path_and_query: &'a str) -> Option<&'a str> {
        if self.path == "/" {
            return path_and_query.starts_with('/').then_some(path_and_query);
        }
        let rest = path_and_query.strip_prefix(self.path.as_str())?;
        (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')).then_some(rest)
    }

    /// Checks and normalizes a hand-built route as [`Route::parse`] would.
    fn normalized(&self) -> Result<Route, RouteError> {
        let spec = self.to_string();
        let host = match &self.host {
            HostMatch::Any => Ok(HostMatch::Any),
            HostMatch::Exact(host) => parse_host(host).map(HostMatch::Exact),
            HostMatch::Wildcard(suffix) => parse_name(suffix).map(HostMatch::Wildcard),
        }
        .map_err(|reason| RouteError::InvalidHost {
            spec: spec.clone(),
            host: self.host.to_string(),
            reason,
        })?;
        let path = if self.path.starts_with('/') {
            normalize_path(&self.path)
        } else {
            Err("a path starts with `/`")
        }
        .map_err(|reason| RouteError::InvalidPath {
            spec: spec.clone(),
            path: self.path.clone(),
            reason,
        })?;
        let upstream =
            self.upstream
                .normalized()
                .map_err(|reason| RouteError::InvalidUpstream {
                    spec,
                    upstream: self.upstream.to_string(),
                    reason,
                })?;
        Ok(Route {
            host,
            path,
            upstream,
        })
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}={}", self.host, self.path, self.upstream)
    }
}

impl FromStr for Route {
    type Err = RouteError;

    /// Same as [`Route::parse`].
    fn from_str(spec: &str) -> Result<Route, RouteError> {
        Route::parse(spec)
    }
}

/// The gateway's routes, checked for duplicates, in declaration order.
///
/// # Examples
///
/// ```
/// use wsvia_core::route::RouteTable;
///
/// let table = RouteTable::parse(&[
///     "/=ws://127.0.0.1:9001",
///     "/chat=ws://chat:8080/ws",
///     "api.example.com/=http://127.0.0.1:8080",
///     "*.example.com/live=wss://live.internal:443/",
/// ])?;
/// let route = |host, path| table.lookup(host, path).map(|r| r.to_string());
/// assert_eq!(route(Some("api.example.com"), "/chat/x").unwrap(), "/chat=ws://chat:8080/ws");
/// assert_eq!(route(Some("api.example.com"), "/x").unwrap(), "api.example.com/=http://127.0.0.1:8080");
/// assert_eq!(route(Some("a.example.com"), "/live").unwrap(), "*.example.com/live=wss://live.internal:443/");
/// assert_eq!(route(None, "/live").unwrap(), "/=ws://127.0.0.1:9001");
/// # Ok::<(), wsvia_core::route::RouteError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Parses route specs (see [`Route::parse`]) into a table. An empty list
    /// gives an empty table, which matches nothing.
    ///
    /// # Errors
    ///
    /// Returns the first spec's [`RouteError`], or
    /// [`RouteError::Duplicate`] when two specs have the same host pattern
    /// and path.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::route::{RouteError, RouteTable};
    ///
    /// let err = RouteTable::parse(&["/a=ws://h:1", "/a/=ws://h:2"]).unwrap_err();
    /// assert!(matches!(err, RouteError::Duplicate { .. }));
    /// ```
    pub fn parse(specs: &[&str]) -> Result<RouteTable, RouteError> {
        let routes = specs
            .iter()
            .map(|spec| Route::parse(spec))
            .collect::<Result<Vec<_>, _>>()?;
        RouteTable::from_routes(routes)
    }

    /// Builds a table from routes made in code or read from a config file.
    /// Hosts are lowercased, trailing slashes dropped, and every field is
    /// checked as [`Route::parse`] would.
    ///
    /// # Errors
    ///
    /// Returns the [`RouteError`] of the first invalid route (its spec is
    /// the route's `Display` form), or [`RouteError::Duplicate`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::route::{HostMatch, Route, RouteTable, Upstream};
    ///
    /// let route = Route {
    ///     host: HostMatch::Exact("Chat.Example.com".into()),
    ///     path: "/ws/".into(),
    ///     upstream: Upstream::Tcp { host: "127.0.0.1".into(), port: 7000 },
    /// };
    /// let table = RouteTable::from_routes(vec![route])?;
    /// assert_eq!(table.routes()[0].to_string(), "chat.example.com/ws=tcp://127.0.0.1:7000");
    /// # Ok::<(), wsvia_core::route::RouteError>(())
    /// ```
    pub fn from_routes(routes: Vec<Route>) -> Result<RouteTable, RouteError> {
        let mut seen: HashMap<(HostMatch, String), usize> = HashMap::new();
        let mut checked = Vec::with_capacity(routes.len());
        for route in &routes {
            let route = route.normalized()?;
            let key = (route.host.clone(), route.path.clone());
            if let Some(&first) = seen.get(&key) {
                let first: &Route = &checked[first];
                return Err(RouteError::Duplicate {
                    first: first.to_string(),
                    second: route.to_string(),
                });
            }
            seen.insert(key, checked.len());
            checked.push(route);
        }
        Ok(RouteTable { routes: checked })
    }

    /// Finds the route for a request: `host` is the `Host` header (or TLS
    /// server name), `None` if absent; `path` is the origin-form target
    /// (`/chat/room1?x=1`). See the [module docs](self) for the ranking.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::route::RouteTable;
    ///
    /// let table = RouteTable::parse(&["/chat=ws://chat:8080/ws"])?;
    /// assert!(table.lookup(Some("h"), "/chat/room1").is_some());
    /// assert!(table.lookup(Some("h"), "/chatroom").is_none());
    /// # Ok::<(), wsvia_core::route::RouteError>(())
    /// ```
    pub fn lookup(&self, host: Option<&str>, path: &str) -> Option<&Route> {
        // Ties cannot happen (duplicates are rejected); `rev` would make the
        // first declared route win if they did.
        self.routes
            .iter()
            .rev()
            .filter(|route| route.matches(host, path))
            .max_by_key(|route| (route.path.len(), route.host.rank()))
    }

    /// The routes, in declaration order, normalized.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::route::RouteTable;
    ///
    /// let table = RouteTable::parse(&["/b=ws://h:1", "/a=ws://h:1"])?;
    /// assert_eq!(table.routes()[0].path, "/b");
    /// # Ok::<(), wsvia_core::route::RouteError>(())
    /// ```
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

/// Errors in route specs; each names the spec and the expected form.
///
/// # Examples
///
/// ```
/// use wsvia_core::route::{Route, RouteError};
///
/// let err = Route::parse("/chat").unwrap_err();
/// assert_eq!(err, RouteError::MissingEquals { spec: "/chat".into() });
/// assert!(err.to_string().contains("PATH=UPSTREAM"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The spec has no `=` between route and upstream.
    #[error("route `{spec}` has no `=UPSTREAM`; {ROUTE_FORM}")]
    MissingEquals {
        /// The spec as written.
        spec: String,
    },
    /// The host part is not a name, IP address or `*.suffix`.
    #[error(
        "route `{spec}` has an invalid host `{host}`: {reason}; expected a name (api.example.com), \
         a wildcard (*.example.com) or an IP address, or no host: {ROUTE_FORM}"
    )]
    InvalidHost {
        /// The spec as written.
        spec: String,
        /// The host part.
        host: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The path part is malformed.
    #[error(
        "route `{spec}` has an invalid path `{path}`: {reason}; expected a path such as / or /chat"
    )]
    InvalidPath {
        /// The spec as written.
        spec: String,
        /// The path part.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The upstream's scheme is not supported.
    #[error(
        "unsupported upstream scheme `{scheme}` in `{spec}`: use ws, wss, http, https, tcp or tokens"
    )]
    UnsupportedScheme {
        /// The route spec, or the upstream alone for [`Upstream::parse`].
        spec: String,
        /// The scheme as written.
        scheme: String,
    },
    /// The upstream is malformed.
    #[error("invalid upstream `{upstream}` in `{spec}`: {reason}; {UPSTREAM_FORM}")]
    InvalidUpstream {
        /// The route spec, or the upstream alone for [`Upstream::parse`].
        spec: String,
        /// The upstream part.
        upstream: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two routes have the same host pattern and path.
    #[error(
        "routes `{first}` and `{second}` match the same host and path: remove one \
         (routes are chosen by specificity, not by order)"
    )]
    Duplicate {
        /// The earlier route, normalized.
        first: String,
        /// The later route, normalized.
        second: String,
    },
}

/// Parses an upstream; `spec` is what errors name.
fn parse_upstream(text: &str, spec: &str) -> Result<Upstream, RouteError> {
    let invalid = |reason| RouteError::InvalidUpstream {
        spec: spec.trim().into(),
        upstream: text.into(),
        reason,
    };
    if let Some(prefix) = text.get(..7)
        && prefix.eq_ignore_ascii_case("tokens:")
    {
        let path = check_token_path(&text[7..]).map_err(invalid)?;
        return Ok(Upstream::Tokens { path });
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(invalid(if text.is_empty() {
            "the upstream is empty"
        } else {
            "the scheme is missing"
        }));
    };
    let (tls, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "ws" | "http" | "tcp" => (false, 80),
        "wss" | "https" => (true, 443),
        _ => {
            return Err(RouteError::UnsupportedScheme {
                spec: spec.trim().into(),
                scheme: scheme.into(),
            });
        }
    };
    if rest.contains(['?', '#']) {
        return Err(invalid("an upstream cannot have a query or fragment"));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err(invalid("credentials in upstream URLs are not supported"));
    }
    let (host, port) = split_host_port(authority).map_err(invalid)?;
    let host = parse_host(host).map_err(invalid)?;
    let port = match port {
        Some(port) => parse_port(port).map_err(invalid)?,
        None if scheme.eq_ignore_ascii_case("tcp") => {
            return Err(invalid(
                "a tcp upstream needs a port, as in tcp://127.0.0.1:7000",
            ));
        }
        None => default_port,
    };
    if scheme.eq_ignore_ascii_case("tcp") {
        if !matches!(path, "" | "/") {
            return Err(invalid("a tcp upstream takes no path"));
        }
        return Ok(Upstream::Tcp { host, port });
    }
    let endpoint = Endpoint {
        tls,
        host,
        port,
        path: check_upstream_path(path).map_err(invalid)?,
    };
    Ok(if scheme.to_ascii_lowercase().starts_with("ws") {
        Upstream::Ws(endpoint)
    } else {
        Upstream::Http(endpoint)
    })
}

/// Checks a hand-built endpoint as [`parse_upstream`] would.
fn normalize_endpoint(endpoint: &Endpoint) -> Result<Endpoint, &'static str> {
    let path = match endpoint.path.as_deref() {
        None | Some("") => None,
        Some(path) if !path.starts_with('/') => return Err("an upstream path starts with `/`"),
        Some(path) => {
            if path.contains(['?', '#']) {
                return Err("an upstream cannot have a query or fragment");
            }
            check_upstream_path(path)?
        }
    };
    Ok(Endpoint {
        tls: endpoint.tls,
        host: parse_host(&endpoint.host)?,
        port: check_port(endpoint.port)?,
        path,
    })
}

/// An upstream URL's path: `None` if empty.
fn check_upstream_path(path: &str) -> Result<Option<String>, &'static str> {
    if path.is_empty() {
        return Ok(None);
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("an upstream path cannot hold spaces or control characters");
    }
    Ok(Some(path.into()))
}

/// A token file path: trimmed, not empty.
fn check_token_path(path: &str) -> Result<String, &'static str> {
    let path = path.trim();
    if path.is_empty() {
        return Err("`tokens:` needs the path of a token file, as in tokens:/etc/wsvia/tokens.cfg");
    }
    if path.chars().any(char::is_control) {
        return Err("a token file path cannot hold control characters");
    }
    Ok(path.into())
}

/// Splits `host[:port]` or `[v6][:port]`; the host keeps its brackets.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    if authority.starts_with('[') {
        let close = authority
            .find(']')
            .ok_or("an IPv6 address misses its closing `]`")?;
        let (host, after) = authority.split_at(close + 1);
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err("only `:PORT` may follow an IPv6 address in brackets"),
        };
    }
    match authority.split_once(':') {
        Some((_, port)) if port.contains(':') => {
            Err("write IPv6 addresses in brackets, as in ws://[::1]:9001")
        }
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

/// A port number from 1 to 65535.
fn parse_port(text: &str) -> Result<u16, &'static str> {
    const REASON: &str = "the port must be a number from 1 to 65535";
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(REASON);
    }
    text.parse::<u16>()
        .map_err(|_| REASON)
        .and_then(|port| check_port(port).map_err(|_| REASON))
}

fn check_port(port: u16) -> Result<u16, &'static str> {
    match port {
        0 => Err("the port must be a number from 1 to 65535"),
        port => Ok(port),
    }
}

/// A route's host pattern: `*.suffix`, a name or an IP address.
fn parse_host_pattern(text: &str) -> Result<HostMatch, &'static str> {
    if text == "*" {
        return Err("`*` alone is not a pattern: leave the host out to match every host");
    }
    if let Some(suffix) = text.strip_prefix("*.") {
        if suffix.contains('*') {
            return Err("`*` may only stand for the first labels, as in *.example.com");
        }
        return parse_name(suffix).map(HostMatch::Wildcard);
    }
    if text.contains('*') {
        return Err("`*` may only stand for the first labels, as in *.example.com");
    }
    let has_port = match text.strip_prefix('[') {
        Some(inner) => inner
            .split_once(']')
            .is_some_and(|(_, after)| !after.is_empty()),
        None => text.contains(':') && text.parse::<Ipv6Addr>().is_err(),
    };
    if has_port {
        return Err("routes match every port of a host: leave the port out");
    }
    parse_host(text).map(HostMatch::Exact)
}

/// A host: a DNS name or IPv4 address (lowercased), or an IPv6 address with
/// or without brackets (canonical, without brackets).
fn parse_host(text: &str) -> Result<String, &'static str> {
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(|addr| addr.to_string())
            .map_err(|_| "the text in brackets is not an IPv6 address");
    }
    if let Ok(addr) = text.parse::<Ipv6Addr>() {
        return Ok(addr.to_string());
    }
    if text.contains(':') {
        return Err("a host name cannot contain `:` (write IPv6 addresses in brackets)");
    }
    parse_name(text)
}

/// A DNS name (or IPv4 address): letters, digits, `-`, `_`, non-empty labels
/// of at most 63 bytes, 253 in all; lowercased, one trailing dot dropped.
fn parse_name(text: &str) -> Result<String, &'static str> {
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.is_empty() {
        return Err("the host is empty");
    }
    if name.len() > 253 {
        return Err("the host is longer than 253 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("a host name holds only ASCII letters, digits, `-`, `_` and `.`");
    }
    if name
        .split('.')
        .any(|label| label.is_empty() || label.len() > 63)
    {
        return Err("a host name has labels of 1 to 63 bytes between dots");
    }
    Ok(name.to_ascii_lowercase())
}

/// A route path: starts with `/`; no query, fragment, `=`, spaces or dot
/// segments; trailing slashes dropped (except for `/`).
fn normalize_path(path: &str) -> Result<String, &'static str> {
    if path.contains(['?', '#']) {
        return Err("a route path cannot hold a query or fragment");
    }
    if path.contains('=') {
        return Err("a route path cannot hold `=`");
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a route path cannot hold spaces or control characters");
    }
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err("a route path cannot hold `.` or `..` segments");
    }
    let trimmed = path.trim_end_matches('/');
    Ok(if trimmed.is_empty() { "/" } else { trimmed }.into())
}

/// A request host without port, brackets or one trailing dot.
fn bare_host(host: &str) -> &str {
    let host = host.trim();
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.split(']').next().unwrap_or(inner),
        None if host.matches(':').count() == 1 => host.split(':').next().unwrap_or(host),
        None => host,
    };
    host.strip_suffix('.').unwrap_or(host)
}

/// `host:port`, with brackets around an IPv6 address.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Writes a host, with brackets around an IPv6 address.
fn write_host(f: &mut fmt::Formatter<'_>, host: &str) -> fmt::Result {
    if host.contains(':') {
        write!(f, "[{host}]")
    } else {
        f.write_str(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(tls: bool, host: &str, port: u16, path: Option<&str>) -> Endpoint {
        Endpoint {
            tls,
            host: host.into(),
            port,
            path: path.map(str::to_owned),
        }
    }

    #[test]
    fn parses_the_documented_examples() {
        let cases: Vec<(&str, HostMatch, &str, Upstream, &str)> = vec![
            (
                "/=ws://127.0.0.1:9001",
                HostMatch::Any,
                "/",
                Upstream::Ws(endpoint(false, "127.0.0.1", 9001, None)),
                "/=ws://127.0.0.1:9001",
            ),
            (
                "/chat=ws://chat:8080/ws",
                HostMatch::Any,
                "/chat",
                Upstream::Ws(endpoint(false, "chat", 8080, Some("/ws"))),
                "/chat=ws://chat:8080/ws",
            ),
            (
                "api.example.com/=http://127.0.0.1:8080",
                HostMatch::Exact("api.example.com".into()),
                "/",
                Upstream::Http(endpoint(false, "127.0.0.1", 8080, None)),
                "api.example.com/=http://127.0.0.1:8080",
            ),
            (
                "*.example.com/live=wss://live.internal:443/",
                HostMatch::Wildcard("example.com".into()),
                "/live",
                Upstream::Ws(endpoint(true, "live.internal", 443, Some("/"))),
                "*.example.com/live=wss://live.internal:443/",
            ),
            (
                "/game=tcp://127.0.0.1:7000",
                HostMatch::Any,
                "/game",
                Upstream::Tcp {
                    host: "127.0.0.1".into(),
                    port: 7000,
                },
                "/game=tcp://127.0.0.1:7000",
            ),
            (
                "/vnc=tokens:/etc/wsvia/tokens.cfg",
                HostMatch::Any,
                "/vnc",
                Upstream::Tokens {
                    path: "/etc/wsvia/tokens.cfg".into(),
                },
                "/vnc=tokens:/etc/wsvia/tokens.cfg",
            ),
            (
                "  API.Example.COM./chat//  =  WSS://Chat.Internal/ws/ ",
                HostMatch::Exact("api.example.com".into()),
                "/chat",
                Upstream::Ws(endpoint(true, "chat.internal", 443, Some("/ws/"))),
                "api.example.com/chat=wss://chat.internal:443/ws/",
            ),
            (
                "[::1]/=https://[2001:DB8::1]",
                HostMatch::Exact("::1".into()),
                "/",
                Upstream::Http(endpoint(true, "2001:db8::1", 443, None)),
                "[::1]/=https://[2001:db8::1]:443",
            ),
            (
                "/t=tcp://[::1]:7/",
                HostMatch::Any,
                "/t",
                Upstream::Tcp {
                    host: "::1".into(),
                    port: 7,
                },
                "/t=tcp://[::1]:7",
            ),
            (
                "/h=http://h",
                HostMatch::Any,
                "/h",
                Upstream::Http(endpoint(false, "h", 80, None)),
                "/h=http://h:80",
            ),
            (
                "/k=TOKENS: C:/a=b.cfg",
                HostMatch::Any,
                "/k",
                Upstream::Tokens {
                    path: "C:/a=b.cfg".into(),
                },
                "/k=tokens:C:/a=b.cfg",
            ),
        ];
        for (spec, host, path, upstream, display) in cases {
            let route = Route::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(route.host, host, "{spec}");
            assert_eq!(route.path, path, "{spec}");
            assert_eq!(route.upstream, upstream, "{spec}");
            assert_eq!(route.to_string(), display, "{spec}");
            assert_eq!(Route::parse(display), Ok(route), "{spec} round trip");
        }
    }

    #[test]
    fn rejects_bad_specs() {
        // (spec, variant name, reason or scheme fragment)
        let cases: &[(&str, &str, &str)] = &[
            ("/chat", "MissingEquals", ""),
            ("", "MissingEquals", ""),
            ("=ws://h:1", "InvalidPath", "the path is missing"),
            (
                "api.example.com=ws://h:1",
                "InvalidHost",
                "followed by a path",
            ),
            ("*/=ws://h:1", "InvalidHost", "`*` alone"),
            ("a.*.com/=ws://h:1", "InvalidHost", "first labels"),
            ("*.*.com/=ws://h:1", "InvalidHost", "first labels"),
            ("foo*.com/=ws://h:1", "InvalidHost", "first labels"),
            ("h:8080/=ws://h:1", "InvalidHost", "leave the port out"),
            ("[::1]:80/=ws://h:1", "InvalidHost", "leave the port out"),
            ("[zz]/=ws://h:1", "InvalidHost", "not an IPv6 address"),
            ("a..b/=ws://h:1", "InvalidHost", "labels of 1 to 63"),
            ("ex ample/=ws://h:1", "InvalidHost", "only ASCII letters"),
            ("/a?x=ws://h:1", "InvalidPath", "query"),
            ("/a b=ws://h:1", "InvalidPath", "spaces"),
            ("/a/../b=ws://h:1", "InvalidPath", "`..` segments"),
            ("/=ftp://h", "UnsupportedScheme", "ftp"),
            ("/=h:1", "InvalidUpstream", "scheme is missing"),
            ("/=", "InvalidUpstream", "empty"),
            ("/=ws://", "InvalidUpstream", "the host is empty"),
            ("/=ws://:80", "InvalidUpstream", "the host is empty"),
            ("/=ws://h:0", "InvalidUpstream", "1 to 65535"),
            ("/=ws://h:65536", "InvalidUpstream", "1 to 65535"),
            ("/=ws://h:", "InvalidUpstream", "1 to 65535"),
            ("/=ws://h:+1", "InvalidUpstream", "1 to 65535"),
            ("/=ws://u:p@h:1", "InvalidUpstream", "credentials"),
            ("/=ws://h:1/x?y", "InvalidUpstream", "query"),
            ("/=ws://h:1/x#y", "InvalidUpstream", "query"),
            ("/=ws://::1:80", "InvalidUpstream", "brackets"),
            ("/=ws://[::1", "InvalidUpstream", "closing"),
            ("/=ws://[::1]x", "InvalidUpstream", "only `:PORT`"),
            ("/=ws://h/a b", "InvalidUpstream", "spaces"),
            ("/=tcp://h", "InvalidUpstream", "needs a port"),
            ("/=tcp://h:1/x", "InvalidUpstream", "no path"),
            ("/=tokens:", "InvalidUpstream", "token file"),
            ("/=tokens:  ", "InvalidUpstream", "token file"),
        ];
        for (spec, variant, fragment) in cases {
            let err = Route::parse(spec).expect_err(spec);
            let debug = format!("{err:?}");
            assert!(
                debug.starts_with(variant),
                "{spec}: expected {variant}, got {debug}"
            );
            assert!(
                debug.contains(fragment),
                "{spec}: expected {fragment:?} in {debug}"
            );
            // Every message names the spec as written.
            assert!(
                err.to_string().contains(spec.trim()),
                "{spec}: message {err}"
            );
        }
    }

    #[test]
    fn host_matching() {
        let exact = HostMatch::Exact("api.example.com".into());
        let wildcard = HostMatch::Wildcard("example.com".into());
        let v6 = HostMatch::Exact("2001:db8::1".into());
        let cases: Vec<(&HostMatch, Option<&str>, bool)> = vec![
            (&exact, Some("api.example.com"), true),
            (&exact, Some("API.EXAMPLE.COM"), true),
            (&exact, Some("api.example.com:8443"), true),
            (&exact, Some("api.example.com."), true),
            (&exact, Some("x.api.example.com"), false),
            (&exact, Some("example.com"), false),
            (&exact, None, false),
            (&wildcard, Some("a.example.com"), true),
            (&wildcard, Some("a.b.example.com"), true),
            (&wildcard, Some("A.Example.Com:443"), true),
            (&wildcard, Some("example.com"), false),
            (&wildcard, Some(".example.com"), false),
            (&wildcard, Some("badexample.com"), false),
            (&wildcard, Some("a.example.com.evil"), false),
            (&wildcard, Some("é.example.com"), true),
            (&wildcard, Some("éxample.com"), false),
            (&wildcard, None, false),
            (&v6, Some("[2001:db8::1]:443"), true),
            (&v6, Some("[2001:0db8:0::1]"), true),
            (&v6, Some("2001:db8::2"), false),
            (&HostMatch::Any, None, true),
            (&HostMatch::Any, Some("anything"), true),
        ];
        for (pattern, host, expected) in cases {
            assert_eq!(pattern.matches(host), expected, "{pattern} vs {host:?}");
        }
    }

    #[test]
    fn path_matching_on_segments() {
        let chat = Route::parse("/chat=ws://h:1").expect("valid");
        let root = Route::parse("/=ws://h:1").expect("valid");
        let cases: Vec<(&Route, &str, bool)> = vec![
            (&chat, "/chat", true),
            (&chat, "/chat/", true),
            (&chat, "/chat/x", true),
            (&chat, "/chat?x", true),
            (&chat, "/chatroom", false),
            (&chat, "/Chat", false),
            (&chat, "/cha", false),
            (&chat, "/", false),
            (&chat, "", false),
            (&root, "/", true),
            (&root, "/anything?x", true),
            (&root, "", false),
            (&root, "*", false),
            (&root, "http://h/x", false),
        ];
        for (route, path, expected) in cases {
            assert_eq!(route.matches(None, path), expected, "{route} vs {path:?}");
        }
    }

    #[test]
    fn lookup_ranking() {
        let table = RouteTable::parse(&[
            "/=ws://any-root:1",
            "/chat=ws://any-chat:1",
            "/chat/room=ws://any-room:1",
            "*.example.com/chat=ws://wild-chat:1",
            "*.eu.example.com/chat=ws://eu-wild-chat:1",
            "api.example.com/chat=ws://api-chat:1",
            "api.example.com/=ws://api-root:1",
            "*.example.com/=ws://wild-root:1",
        ])
        .expect("valid table");
        let cases: &[(Option<&str>, &str, Option<&str>)] = &[
            (None, "/", Some("any-root")),
            (None, "/chat/x", Some("any-chat")),
            (None, "/chat/room/1", Some("any-room")),
            (Some("other.org"), "/chatroom", Some("any-root")),
            (Some("a.example.com"), "/chat", Some("wild-chat")),
            (Some("a.eu.example.com"), "/chat", Some("eu-wild-chat")),
            (Some("api.example.com"), "/chat?x", Some("api-chat")),
            (Some("API.example.com:443"), "/x", Some("api-root")),
            (Some("a.example.com"), "/x", Some("wild-root")),
            (Some("example.com"), "/x", Some("any-root")),
            // The longest path wins over a more specific host.
            (Some("api.example.com"), "/chat/room", Some("any-room")),
            (None, "", None),
        ];
        for (host, path, expected) in cases {
            let got = table
                .lookup(*host, path)
                .map(|route| match &route.upstream {
                    Upstream::Ws(endpoint) => endpoint.host.as_str(),
                    other => panic!("unexpected upstream {other}"),
                });
            assert_eq!(got, *expected, "{host:?} {path:?}");
        }
        assert_eq!(table.routes().len(), 8);
        assert_eq!(table.routes()[0].to_string(), "/=ws://any-root:1");
    }

    #[test]
    fn duplicates_are_rejected() {
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["/a=ws://h:1", "/a=ws://h:2"], Some("/a=ws://h:1")),
            (&["/a=ws://h:1", "/a/=tcp://h:2"], Some("/a=ws://h:1")),
            (&["H/a=ws://h:1", "h./a=ws://h:2"], Some("h/a=ws://h:1")),
            (
                &["[::1]/=ws://h:1", "[0::1]/=ws://h:2"],
                Some("[::1]/=ws://h:1"),
            ),
            (&["*.x/=ws://h:1", "*.X/=ws://h:2"], Some("*.x/=ws://h:1")),
            (&["/a=ws://h:1", "h/a=ws://h:2", "*.h/a=ws://h:3"], None),
            (&[], None),
        ];
        for (specs, duplicate_of) in cases {
            match (RouteTable::parse(specs), duplicate_of) {
                (Err(RouteError::Duplicate { first, .. }), Some(expected)) => {
                    assert_eq!(first, *expected, "{specs:?}")
                }
                (Ok(table), None) => assert_eq!(table.routes().len(), specs.len()),
                (other, _) => panic!("{specs:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn upstream_paths() {
        let cases: &[(&str, &str, &str)] = &[
            ("/chat=ws://up:8080/ws", "/chat/room1?x=1", "/ws/room1?x=1"),
            ("/chat=ws://up:8080/ws", "/chat", "/ws"),
            ("/chat=ws://up:8080/ws", "/chat/", "/ws/"),
            ("/chat=ws://up:8080/ws", "/chat?x=1", "/ws?x=1"),
            ("/chat=ws://up:8080/ws/", "/chat/a", "/ws/a"),
            ("/chat=ws://up:8080/ws/", "/chat", "/ws/"),
            ("/chat=ws://up:8080/", "/chat/a/b", "/a/b"),
            ("/chat=ws://up:8080/", "/chat", "/"),
            ("/chat=ws://up:8080/", "/chat?x", "/?x"),
            ("/chat=ws://up:8080", "/chat/a?x", "/chat/a?x"),
            ("/=ws://h:1", "/any/path?q", "/any/path?q"),
            ("/=ws://h:1", "", "/"),
            ("/=ws://h:1/", "/x", "/x"),
            ("/=ws://h:1/ws", "/", "/ws"),
            ("/=ws://h:1/ws", "/?token=a", "/ws?token=a"),
            ("/=ws://h:1/ws", "/a", "/ws/a"),
            ("/=ws://h:1/ws", "//a", "/ws//a"),
            ("/a/b=http://h:1/x/y", "/a/b/c?d=/a/b", "/x/y/c?d=/a/b"),
            ("/game=tcp://h:7", "/game/x", "/game/x"),
            ("/vnc=tokens:/t.cfg", "/vnc?token=a", "/vnc?token=a"),
            // Not matched: unchanged.
            ("/chat=ws://up:8080/ws", "/chatroom", "/chatroom"),
        ];
        for (spec, request, expected) in cases {
            let route = Route::parse(spec).expect(spec);
            assert_eq!(route.upstream_path(request), *expected, "{spec} {request}");
        }
    }

    #[test]
    fn from_routes_checks_hand_built_routes() {
        let base = Route::parse("/a=ws://h:1/x").expect("valid");
        let with = |f: &dyn Fn(&mut Route)| {
            let mut route = base.clone();
            f(&mut route);
            RouteTable::from_routes(vec![route])
        };
        let ok = |f: &dyn Fn(&mut Route)| with(f).expect("valid").routes()[0].to_string();
        assert_eq!(ok(&|_| {}), "/a=ws://h:1/x");
        assert_eq!(
            ok(&|r| r.host = HostMatch::Wildcard("Example.COM".into())),
            "*.example.com/a=ws://h:1/x"
        );
        assert_eq!(ok(&|r| r.path = "/a///".into()), "/a=ws://h:1/x");
        assert_eq!(
            ok(&|r| r.upstream = Upstream::Ws(endpoint(false, "[::1]", 1, Some("")))),
            "/a=ws://[::1]:1"
        );

        type Edit<'a> = &'a dyn Fn(&mut Route);
        let errors: Vec<(Edit<'_>, &str)> = vec![
            (&|r| r.path = "a".into(), "InvalidPath"),
            (&|r| r.path = "/a=b".into(), "InvalidPath"),
            (&|r| r.host = HostMatch::Exact("*.x".into()), "InvalidHost"),
            (
                &|r| r.host = HostMatch::Wildcard("*.x".into()),
                "InvalidHost",
            ),
            (&|r| r.host = HostMatch::Exact(String::new()), "InvalidHost"),
            (
                &|r| r.upstream = Upstream::Ws(endpoint(false, "h", 1, Some("ws"))),
                "InvalidUpstream",
            ),
            (
                &|r| r.upstream = Upstream::Http(endpoint(false, "h", 1, Some("/a?b"))),
                "InvalidUpstream",
            ),
            (
                &|r| r.upstream = Upstream::Ws(endpoint(false, "h/x", 1, None)),
                "InvalidUpstream",
            ),
            (
                &|r| {
                    r.upstream = Upstream::Tcp {
                        host: "h".into(),
                        port: 0,
                    }
                },
                "InvalidUpstream",
            ),
            (
                &|r| r.upstream = Upstream::Tokens { path: " ".into() },
                "InvalidUpstream",
            ),
        ];
        for (i, (edit, variant)) in errors.into_iter().enumerate() {
            let debug = format!("{:?}", with(edit).expect_err("invalid"));
            assert!(debug.starts_with(variant), "case {i}: {debug}");
        }
    }

    #[test]
    fn arbitrary_specs_never_panic() {
        let pieces = [
            "/", "=", "*", ".", ":", "[", "]", "?", "#", "@", "a", "é", "ws://", "tcp://",
            "tokens:", "0", "65535", "99999", " ", "\u{0}", "::1", "*.",
        ];
        let mut state: u32 = 0xDEAD_BEEF;
        for _ in 0..20_000 {
            let mut spec = String::new();
            for _ in 0..8 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                spec.push_str(pieces[(state as usize) % pieces.len()]);
            }
            if let Ok(route) = Route::parse(&spec) {
                // Whatever parses prints back to an equal route.
                assert_eq!(
                    Route::parse(&route.to_string()),
                    Ok(route.clone()),
                    "{spec:?}"
                );
                let _ = route.upstream_path(&spec);
                let _ = route.matches(Some(&spec), &spec);
            }
        }
    }
}
