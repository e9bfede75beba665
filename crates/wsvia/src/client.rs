//! The client: options, the route decision, and the layers composed in order.
//!
//! `TCP → TLS to the proxy (https:// proxies) → CONNECT tunnel or SOCKS5 → TLS to the
//! server (wss://) → WebSocket upgrade`. Each layer takes a [`Stream`] and returns a
//! [`Stream`]; this module decides which layers run, tries a proxy list in order
//! (failover, skipping proxies that failed recently), and enforces the connect deadline.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use rustls::ClientConfig;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wsvia_core::deflate::DeflateOptions;
use wsvia_core::{
    Credentials, EnvSnapshot, ProxyChoice, ProxyScheme, ProxySelector, ProxyUrl, Selection, Target,
    TargetScheme,
};

use crate::dial;
use crate::error::{Attempt, Error, Peer, Phase};
use crate::observe::{Event, Observer};
use crate::socks::{self, SocksRequest};
use crate::stream::Stream;
use crate::tls::{self, TrustOptions};
use crate::tunnel::{self, TunnelRequest};
use crate::upgrade::{self, UpgradeRequest};
use crate::websocket::WebSocket;

/// The default largest message accepted, as `wsvia echo` uses: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;

/// How long a proxy that failed is tried last, by default (browsers use 30 s to 5 min).
pub const DEFAULT_FAILED_PROXY_SKIP: Duration = Duration::from_secs(30);

/// An open WebSocket and how it was reached.
///
/// # Examples
/// ```no_run
/// # async fn f() -> Result<(), wsvia::Error> {
/// let conn = wsvia::Client::builder().build()?.connect("ws://127.0.0.1:9001/").await?;
/// println!("via {}: {}", conn.via, conn.response.status());
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Connection {
    /// The WebSocket, ready for messages (compressed when the server accepted
    /// [`ClientBuilder::compression`]).
    pub websocket: WebSocket<Stream>,
    /// The server's `101` response head (subprotocol, extensions, headers).
    pub response: http::Response<()>,
    /// The proxies that were to be tried, and why.
    pub route: Selection,
    /// The proxy that carried the connection, or `DIRECT`.
    pub via: ProxyChoice,
}

/// Where the proxy comes from.
#[derive(Debug, Clone)]
enum ProxySource {
    /// The process environment, read when the client is built.
    Environment,
    /// A given environment snapshot (tests, embedding).
    Snapshot(EnvSnapshot),
}

/// Options for a [`Client`].
///
/// # Examples
/// ```
/// let client = wsvia::Client::builder()
///     .proxy("http://proxy.example:3128")
///     .proxy_credentials("alice", "secret")
///     .header("Origin: https://example.com")
///     .connect_timeout(std::time::Duration::from_secs(10))
///     .build()
///     .unwrap();
/// # drop(client);
/// ```
#[derive(Clone)]
#[must_use]
pub struct ClientBuilder {
    source: ProxySource,
    explicit_proxy: Option<Vec<String>>,
    pac: Option<wsvia_pac::PacScript>,
    failed_proxy_skip: Duration,
    no_proxy: Option<String>,
    proxy_credentials: Option<Credentials>,
    proxy_basic_upfront: bool,
    proxy_headers: Vec<String>,
    headers: Vec<String>,
    protocols: Vec<String>,
    trust: TrustOptions,
    proxy_trust: TrustOptions,
    connect_timeout: Option<Duration>,
    local_address: Option<IpAddr>,
    max_message_size: usize,
    compression: Option<DeflateOptions>,
    user_agent: String,
    observer: Option<Arc<dyn Observer>>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            source: ProxySource::Environment,
            explicit_proxy: None,
            pac: None,
            failed_proxy_skip: DEFAULT_FAILED_PROXY_SKIP,
            no_proxy: None,
            proxy_credentials: None,
            proxy_basic_upfront: true,
            proxy_headers: Vec::new(),
            headers: Vec::new(),
            protocols: Vec::new(),
            trust: TrustOptions::default(),
            proxy_trust: TrustOptions::default(),
            connect_timeout: None,
            local_address: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            compression: None,
            user_agent: concat!("wsvia/", env!("CARGO_PKG_VERSION")).to_owned(),
            observer: None,
        }
    }
}

impl ClientBuilder {
    /// Use this proxy (`http://`, `https://`, `socks5://`, `socks5h://`; `user:pass@`
    /// allowed), or a comma-separated list of them and `DIRECT`, tried in order (see
    /// [`proxies`](Self::proxies)). `""` means no proxy, as `curl -x ""` does. Without
    /// this, the proxy comes from the environment. A `,` in a password is written `%2C`.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().proxy("http://127.0.0.1:3128");
    /// let b = wsvia::Client::builder().proxy("http://a:3128,socks5h://b:1080,DIRECT");
    /// # drop(b);
    /// ```
    pub fn proxy(mut self, proxy: impl Into<String>) -> Self {
        let list: String = proxy.into();
        self.explicit_proxy = Some(list.split(',').map(str::to_owned).collect());
        self
    }

    /// Try these proxies in order, each a proxy URL or `DIRECT` (no proxy), as a PAC
    /// answer lists them; an empty list means no proxy. Entries are not split on commas.
    ///
    /// The next one is tried when a proxy fails rather than answers (see
    /// [`Error::fails_over`]); a proxy that failed is tried last for a while (see
    /// [`failed_proxy_skip`](Self::failed_proxy_skip)) by this client and its clones.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().proxies(["http://a:3128", "http://b:3128", "DIRECT"]);
    /// # drop(b);
    /// ```
    pub fn proxies<I, S>(mut self, list: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.explicit_proxy = Some(list.into_iter().map(Into::into).collect());
        self
    }

    /// How long a proxy that failed is moved to the end of the list (default 30 s; zero
    /// turns this off). It is still tried when everything else fails too.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().failed_proxy_skip(std::time::Duration::from_secs(60));
    /// # drop(b);
    /// ```
    pub fn failed_proxy_skip(mut self, time: Duration) -> Self {
        self.failed_proxy_skip = time;
        self
    }

    /// Read proxy variables from `env` instead of the process environment.
    ///
    /// # Examples
    /// ```
    /// let env = wsvia_core::EnvSnapshot::from_vars([("https_proxy", "http://p:3128")]);
    /// let b = wsvia::Client::builder().environment(env);
    /// # drop(b);
    /// ```
    pub fn environment(mut self, env: EnvSnapshot) -> Self {
        self.source = ProxySource::Snapshot(env);
        self
    }

    /// Hosts to reach without a proxy, overriding `no_proxy`/`NO_PROXY` (curl's `--noproxy`).
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().no_proxy("localhost,.internal");
    /// # drop(b);
    /// ```
    pub fn no_proxy(mut self, list: impl Into<String>) -> Self {
        self.no_proxy = Some(list.into());
        self
    }

    /// Credentials for the proxy; they override those in the proxy URL.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().proxy_credentials("alice", "secret");
    /// # drop(b);
    /// ```
    pub fn proxy_credentials(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.proxy_credentials = Some(Credentials::new(user, password));
        self
    }

    /// Send proxy credentials only when the proxy asks (407), in the strongest scheme it
    /// offers, instead of sending Basic with the first request (curl's `--proxy-anyauth`).
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().proxy_credentials("alice", "secret").proxy_anyauth(true);
    /// # drop(b);
    /// ```
    pub fn proxy_anyauth(mut self, yes: bool) -> Self {
        self.proxy_basic_upfront = !yes;
        self
    }

    /// A header for the proxy's `CONNECT` request only, as `Name: value`.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().proxy_header("X-Team: web");
    /// # drop(b);
    /// ```
    pub fn proxy_header(mut self, header: impl Into<String>) -> Self {
        self.proxy_headers.push(header.into());
        self
    }

    /// A header for the server's upgrade request, as `Name: value`.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().header("Origin: https://example.com");
    /// # drop(b);
    /// ```
    pub fn header(mut self, header: impl Into<String>) -> Self {
        self.headers.push(header.into());
        self
    }

    /// Offer a subprotocol (`Sec-WebSocket-Protocol`); may be called several times.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().protocol("chat");
    /// # drop(b);
    /// ```
    pub fn protocol(mut self, name: impl Into<String>) -> Self {
        self.protocols.push(name.into());
        self
    }

    /// Trust the CA certificates in this PEM file for the server, besides the usual roots.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().ca_file("ca.pem");
    /// # drop(b);
    /// ```
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.trust.ca_files.push(path.into());
        self
    }

    /// Do not check the server's certificate (`--insecure`).
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().insecure(true);
    /// # drop(b);
    /// ```
    pub fn insecure(mut self, yes: bool) -> Self {
        self.trust.insecure = yes;
        self
    }

    /// Trust the CA certificates in this PEM file for an `https://` proxy.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().proxy_ca_file("proxy-ca.pem");
    /// # drop(b);
    /// ```
    pub fn proxy_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.proxy_trust.ca_files.push(path.into());
        self
    }

    /// Do not check an `https://` proxy's certificate.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().proxy_insecure(true);
    /// # drop(b);
    /// ```
    pub fn proxy_insecure(mut self, yes: bool) -> Self {
        self.proxy_trust.insecure = yes;
        self
    }

    /// Give up opening a connection after this long; the error names the phase. With a
    /// proxy list the limit applies to each proxy tried (then to the rest of that
    /// attempt: TLS with the server and the upgrade).
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().connect_timeout(std::time::Duration::from_secs(5));
    /// # drop(b);
    /// ```
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = Some(limit);
        self
    }

    /// Open TCP connections (to the proxy, or to the server when direct) from this
    /// source address, e.g. `127.0.0.2`, so that many clients fit in the port range.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().local_address([127, 0, 0, 2].into());
    /// # drop(b);
    /// ```
    pub fn local_address(mut self, address: IpAddr) -> Self {
        self.local_address = Some(address);
        self
    }

    /// The largest message accepted from the server (default 16 MiB).
    ///
    /// # Examples
    /// ```
    /// let b = wsvia::Client::builder().max_message_size(1 << 20);
    /// # drop(b);
    /// ```
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Offer permessage-deflate (RFC 7692) with these options, or nothing (`None`, the
    /// default). A server that accepts gets compressed messages both ways (see
    /// [`WebSocket::compression`]); one that declines gets them uncompressed. The
    /// server's answer is checked against the offer and reported to the observer.
    ///
    /// # Examples
    /// ```
    /// let offer = wsvia::DeflateOptions::default().no_context_takeover(true);
    /// let b = wsvia::Client::builder().compression(Some(offer));
    /// # drop(b);
    /// ```
    pub fn compression(mut self, options: Option<DeflateOptions>) -> Self {
        self.compression = options;
        self
    }

    /// Report each step to `observer` (for `-v` and `--trace`).
    ///
    /// # Examples
    /// ```
    /// struct Quiet;
    /// impl wsvia::Observer for Quiet { fn on_event(&self, _: &wsvia::Event<'_>) {} }
    /// let b = wsvia::Client::builder().observer(std::sync::Arc::new(Quiet));
    /// # drop(b);
    /// ```
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Choose proxies with a PAC file's `FindProxyForURL` (after `--proxy`, before the
    /// environment); its answer is a list tried in order, as browsers do.
    ///
    /// # Examples
    /// ```
    /// let pac = wsvia_pac::PacScript::new("function FindProxyForURL(u, h) { return 'DIRECT'; }").unwrap();
    /// let b = wsvia::Client::builder().proxy_pac(pac);
    /// # drop(b);
    /// ```
    pub fn proxy_pac(mut self, script: wsvia_pac::PacScript) -> Self {
        self.pac = Some(script);
        self
    }

    /// Check the options and build the client (loads CA files and system roots once).
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] or [`Error::CaFile`] for bad options.
    ///
    /// # Examples
    /// ```
    /// assert!(wsvia::Client::builder().header("no colon").build().is_err());
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        let env = match self.source {
            ProxySource::Environment => EnvSnapshot::from_vars(std::env::vars()),
            ProxySource::Snapshot(env) => env,
        };
        let mut selector = ProxySelector::new(env).no_proxy_override(self.no_proxy);
        // An explicit proxy wins over PAC, which wins over the environment.
        let pac = if self.explicit_proxy.is_some() {
            None
        } else {
            self.pac
        };
        if let Some(entries) = self.explicit_proxy {
            selector = selector.explicit_proxies(entries);
        }
        Ok(Client {
            inner: Arc::new(Inner {
                selector,
                pac,
                proxy_credentials: self.proxy_credentials,
                proxy_basic_upfront: self.proxy_basic_upfront,
                proxy_headers: parse_headers(&self.proxy_headers)?,
                headers: parse_headers(&self.headers)?,
                protocols: self.protocols,
                target_tls: tls::client_config(&self.trust)?,
                proxy_tls: tls::client_config(&self.proxy_trust)?,
                connect_timeout: self.connect_timeout,
                local_address: self.local_address,
                // The read buffer is zero-filled before each read (128 KiB by default):
                // 32 KiB keeps small messages cheap and large ones few reads each.
                ws_config: WebSocketConfig::default()
                    .max_message_size(Some(self.max_message_size))
                    .max_frame_size(Some(self.max_message_size))
                    .read_buffer_size(32 * 1024),
                compression: self.compression,
                user_agent: self.user_agent,
                observer: self.observer,
                failed: FailedProxies {
                    skip_for: self.failed_proxy_skip,
                    since: Mutex::default(),
                },
            }),
        })
    }
}

/// Opens WebSockets with fixed options; cheap to clone and share between tasks.
///
/// # Examples
/// ```no_run
/// # async fn f() -> Result<(), wsvia::Error> {
/// use futures_util::{SinkExt, StreamExt};
/// use tokio_tungstenite::tungstenite::Message;
/// let client = wsvia::Client::builder().proxy("http://127.0.0.1:3128").build()?;
/// let mut conn = client.connect("wss://echo.example/ws").await?;
/// conn.websocket.send(Message::text("hello")).await.ok();
/// let reply = conn.websocket.next().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    selector: ProxySelector,
    pac: Option<wsvia_pac::PacScript>,
    proxy_credentials: Option<Credentials>,
    proxy_basic_upfront: bool,
    proxy_headers: HeaderMap,
    headers: HeaderMap,
    protocols: Vec<String>,
    target_tls: Arc<ClientConfig>,
    proxy_tls: Arc<ClientConfig>,
    connect_timeout: Option<Duration>,
    local_address: Option<IpAddr>,
    ws_config: WebSocketConfig,
    compression: Option<DeflateOptions>,
    user_agent: String,
    observer: Option<Arc<dyn Observer>>,
    failed: FailedProxies,
}

/// Proxies that failed recently, shared by a client and its clones (as browsers keep a
/// "bad proxy" list): they are tried after the others until `skip_for` has passed.
struct FailedProxies {
    skip_for: Duration,
    /// Redacted proxy URL → when it last failed.
    since: Mutex<HashMap<String, Instant>>,
}

impl FailedProxies {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // The map holds plain values: a panic elsewhere cannot leave it inconsistent.
        self.since.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When `via` failed, if that was less than `skip_for` ago.
    fn failed_at(&self, via: &ProxyChoice, now: Instant) -> Option<Instant> {
        let ProxyChoice::Proxy(proxy) = via else {
            return None;
        };
        let at = *self.lock().get(&proxy.redacted())?;
        (now.saturating_duration_since(at) < self.skip_for).then_some(at)
    }

    fn mark(&self, via: &ProxyChoice, now: Instant) {
        if let ProxyChoice::Proxy(proxy) = via
            && !self.skip_for.is_zero()
        {
            let mut map = self.lock();
            map.retain(|_, at| now.saturating_duration_since(*at) < self.skip_for);
            map.insert(proxy.redacted(), now);
        }
    }

    fn clear(&self, via: &ProxyChoice) {
        if let ProxyChoice::Proxy(proxy) = via {
            self.lock().remove(&proxy.redacted());
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Start building a client.
    ///
    /// # Examples
    /// ```
    /// let client = wsvia::Client::builder().build().unwrap();
    /// # drop(client);
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Open a WebSocket to a `ws://` or `wss://` URL, through the proxy the options choose.
    ///
    /// With a proxy list, each is tried in order until one reaches the server; proxies
    /// that failed recently go last.
    ///
    /// # Errors
    /// An [`Error`] naming the phase and the party at fault; [`Error::AllRoutesFailed`]
    /// lists every proxy tried when a list was given and none worked.
    ///
    /// # Cancel safety
    /// Cancelling drops the half-open connection; nothing is left behind.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f() -> Result<(), wsvia::Error> {
    /// let conn = wsvia::Client::builder().build()?.connect("ws://127.0.0.1:9001/").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(&self, url: &str) -> Result<Connection, Error> {
        let inner = &*self.inner;
        let url = parse_url(url)?;
        let target = target_of(&url)?;
        let route = match &inner.pac {
            Some(pac) => pac_route(pac, url.as_str(), &target.host).await?,
            None => inner.selector.select(&target)?,
        };
        inner.emit(&Event::Route(&route));
        let (via, stream, deadline) = inner.reach(&route, &target).await?;
        let stream = match target.scheme {
            TargetScheme::Ws => stream,
            TargetScheme::Wss => {
                let tls = tls::handshake(stream, &target.host, inner.target_tls.clone());
                let tls = within(deadline, Phase::TargetTls, tls)
                    .await?
                    .map_err(|failure| Error::TargetTls {
                        host: target.host.clone(),
                        failure,
                    })?;
                inner.emit(&Event::TlsEstablished {
                    peer: Peer::Target,
                    name: &target.host,
                });
                tls
            }
        };
        let request = UpgradeRequest {
            url: &url,
            headers: &inner.headers,
            protocols: &inner.protocols,
            user_agent: &inner.user_agent,
            config: inner.ws_config,
            compression: inner.compression,
            observer: inner.observer.as_deref(),
        };
        let (websocket, response) = within(
            deadline,
            Phase::Upgrade,
            upgrade::websocket(stream, &request),
        )
        .await??;
        Ok(Connection {
            websocket,
            response,
            route,
            via,
        })
    }
}

impl Inner {
    fn emit(&self, event: &Event<'_>) {
        if let Some(observer) = &self.observer {
            observer.on_event(event);
        }
    }

    /// Reach the server through the first route of `route` that works: the route used,
    /// the stream, and the deadline for the rest of the connection.
    async fn reach(
        &self,
        route: &Selection,
        target: &Target,
    ) -> Result<(ProxyChoice, Stream, Option<Instant>), Error> {
        let order = self.order(&route.choices);
        let total = order.len();
        let mut attempts: Vec<Attempt> = Vec::new();
        for (i, via) in order.into_iter().enumerate() {
            if total > 1 {
                self.emit(&Event::Trying {
                    via,
                    attempt: i + 1,
                    of: total,
                });
            }
            let deadline = self.connect_timeout.map(|d| Instant::now() + d);
            let result = match via {
                ProxyChoice::Direct => self.direct(target, deadline).await,
                ProxyChoice::Proxy(proxy) => self.tunnel(proxy, target, deadline).await,
            };
            match result {
                Ok(stream) => {
                    self.failed.clear(via);
                    self.emit(&Event::Reached { via });
                    return Ok((via.clone(), stream, deadline));
                }
                Err(error) => {
                    let fails_over = error.fails_over();
                    if fails_over {
                        self.failed.mark(via, Instant::now());
                    }
                    let next = fails_over && i + 1 < total;
                    if total > 1 {
                        self.emit(&Event::Failed {
                            via,
                            error: &error,
                            next,
                        });
                    }
                    attempts.push(Attempt {
                        via: via.clone(),
                        error,
                    });
                    if !next {
                        break;
                    }
                }
            }
        }
        match attempts.pop() {
            Some(last) if attempts.is_empty() => Err(last.error),
            Some(last) => {
                attempts.push(last);
                Err(Error::AllRoutesFailed { attempts })
            }
            // `choices` is never empty, so at least one attempt ran.
            None => Err(Error::AllRoutesFailed { attempts }),
        }
    }

    /// The routes in the order to try them: those that did not fail recently first,
    /// in the given order, then those that did, as a last resort.
    fn order<'c>(&self, choices: &'c [ProxyChoice]) -> Vec<&'c ProxyChoice> {
        let now = Instant::now();
        let mut fresh = Vec::new();
        let mut failed = Vec::new();
        for via in choices {
            match self.failed.failed_at(via, now) {
                Some(at) if choices.len() > 1 => {
                    let ago = now.saturating_duration_since(at);
                    self.emit(&Event::Deferred {
                        via,
                        failed_ago: ago,
                        remaining: self.failed.skip_for.saturating_sub(ago),
                    });
                    failed.push(via);
                }
                _ => fresh.push(via),
            }
        }
        fresh.extend(failed);
        fresh
    }

    async fn direct(&self, target: &Target, deadline: Option<Instant>) -> Result<Stream, Error> {
        let label = authority(&target.host, target.port);
        let dialed = within(
            deadline,
            Phase::Tcp,
            dial::tcp(
                Peer::Target,
                &target.host,
                target.port,
                &label,
                self.local_address,
            ),
        )
        .await??;
        self.emit(&Event::Connected {
            peer: Peer::Target,
            addr: dialed.addr,
        });
        Ok(Stream::new(dialed.stream))
    }

    async fn tunnel(
        &self,
        proxy: &ProxyUrl,
        target: &Target,
        deadline: Option<Instant>,
    ) -> Result<Stream, Error> {
        let label = proxy.redacted();
        let credentials = self
            .proxy_credentials
            .as_ref()
            .or(proxy.credentials.as_ref());
        if matches!(proxy.scheme, ProxyScheme::Socks5 | ProxyScheme::Socks5h) {
            let request = SocksRequest {
                proxy_label: &label,
                host: &target.host,
                port: target.port,
                remote_dns: proxy.scheme == ProxyScheme::Socks5h,
                credentials,
                observer: self.observer.as_deref(),
            };
            let dial = || self.dial_proxy(proxy, &label, deadline);
            return within(deadline, Phase::Tunnel, socks::open(&request, dial)).await?;
        }
        let request = TunnelRequest {
            proxy_label: &label,
            target: &authority(&target.host, target.port),
            credentials,
            basic_upfront: self.proxy_basic_upfront,
            extra_headers: &self.proxy_headers,
            user_agent: &self.user_agent,
            observer: self.observer.as_deref(),
        };
        let dial = || self.dial_proxy(proxy, &label, deadline);
        within(deadline, Phase::Tunnel, tunnel::open(&request, dial)).await?
    }

    /// TCP to the proxy, then TLS when it is an `https://` proxy.
    async fn dial_proxy(
        &self,
        proxy: &ProxyUrl,
        label: &str,
        deadline: Option<Instant>,
    ) -> Result<Stream, Error> {
        let dialed = within(
            deadline,
            Phase::Tcp,
            dial::tcp(
                Peer::Proxy,
                &proxy.host,
                proxy.port,
                label,
                self.local_address,
            ),
        )
        .await??;
        self.emit(&Event::Connected {
            peer: Peer::Proxy,
            addr: dialed.addr,
        });
        let stream = Stream::new(dialed.stream);
        if proxy.scheme != ProxyScheme::Https {
            return Ok(stream);
        }
        let tls = tls::handshake(stream, &proxy.host, self.proxy_tls.clone());
        let tls = within(deadline, Phase::ProxyTls, tls)
            .await?
            .map_err(|failure| Error::ProxyTls {
                proxy: label.to_owned(),
                failure,
            })?;
        self.emit(&Event::TlsEstablished {
            peer: Peer::Proxy,
            name: &proxy.host,
        });
        Ok(tls)
    }
}

/// Ask the PAC file for the route (off the async workers: it may resolve names).
async fn pac_route(pac: &wsvia_pac::PacScript, url: &str, host: &str) -> Result<Selection, Error> {
    let (pac, url, host) = (pac.clone(), url.to_owned(), host.to_owned());
    let answer = tokio::task::spawn_blocking(move || pac.evaluate(&url, &host))
        .await
        .map_err(|e| Error::Pac(e.to_string()))?
        .map_err(|e| Error::Pac(e.to_string()))?;
    let urls: Vec<Option<String>> = wsvia_pac::parse_result(&answer)
        .iter()
        .map(|entry| entry.to_proxy_url())
        .collect();
    if urls.is_empty() {
        return Err(Error::Pac(format!(
            "FindProxyForURL answered {answer:?}, which names no proxy and no DIRECT"
        )));
    }
    let entries: Vec<&str> = urls
        .iter()
        .map(|u| u.as_deref().unwrap_or("DIRECT"))
        .collect();
    Ok(Selection::from_pac(&answer, &entries)?)
}

/// Run `fut` until the deadline; on expiry the error names `phase`.
async fn within<T>(
    deadline: Option<Instant>,
    phase: Phase,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, Error> {
    match deadline {
        None => Ok(fut.await),
        Some(at) => tokio::time::timeout_at(at, fut)
            .await
            .map_err(|_| Error::Timeout { phase }),
    }
}

fn parse_url(input: &str) -> Result<url::Url, Error> {
    let invalid = |reason: &str| Error::InvalidUrl {
        url: input.to_owned(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(input).map_err(|e| invalid(&e.to_string()))?;
    match url.scheme() {
        "ws" | "wss" => {}
        "http" | "https" => return Err(invalid("use ws:// or wss:// for WebSocket URLs")),
        other => return Err(invalid(&format!("unsupported scheme {other:?}"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials in a WebSocket URL are not sent; use -H 'Authorization: …'",
        ));
    }
    Ok(url)
}

fn target_of(url: &url::Url) -> Result<Target, Error> {
    let scheme = if url.scheme() == "wss" {
        TargetScheme::Wss
    } else {
        TargetScheme::Ws
    };
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(host) => host.to_string(),
        None => unreachable!("parse_url rejects URLs without a host"),
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Error::InvalidUrl {
            url: url.to_string(),
            reason: "no port".into(),
        })?;
    Ok(Target { scheme, host, port })
}

/// `host:port`, IPv6 in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn parse_headers(lines: &[String]) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::new();
    for line in lines {
        let invalid = |reason: &str| Error::InvalidHeader {
            header: line.clone(),
            reason: reason.to_owned(),
        };
        let (name, value) = line.split_once(':').ok_or_else(|| invalid("no ':'"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| invalid("the name is not a token"))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| invalid("the value holds a control character"))?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_any_connection() {
        for (input, ok) in [
            ("ws://example.com/", true),
            ("wss://example.com:8443/chat?x=1", true),
            ("ws://[::1]:9001/", true),
            ("http://example.com/", false),
            ("ftp://example.com/", false),
            ("ws://user:pw@example.com/", false),
            ("not a url", false),
        ] {
            assert_eq!(parse_url(input).is_ok(), ok, "{input}");
        }
    }

    #[test]
    fn targets_take_default_ports_and_unbracketed_ipv6() {
        let t = target_of(&parse_url("wss://example.com/").unwrap()).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("example.com", 443));
        let t = target_of(&parse_url("ws://[::1]/").unwrap()).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 80));
        assert_eq!(authority(&t.host, t.port), "[::1]:80");
    }

    /// Records each event's text.
    #[derive(Default)]
    struct Record(Mutex<Vec<String>>);

    impl Observer for Record {
        fn on_event(&self, event: &Event<'_>) {
            self.0.lock().unwrap().push(event.to_string());
        }
    }

    impl Record {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    /// A loopback port nothing listens on.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn a_failed_proxy_goes_last_for_a_while_in_clones_too() {
        let dead = format!("http://127.0.0.1:{}", closed_port());
        let url = format!("ws://127.0.0.1:{}/", closed_port());
        let record = Arc::new(Record::default());
        let client = Client::builder()
            .proxies([dead.as_str(), "DIRECT"])
            .observer(record.clone())
            .build()
            .unwrap();
        let tried = |events: &[String]| -> Vec<String> {
            events
                .iter()
                .filter_map(|e| e.strip_prefix("* trying "))
                .map(str::to_owned)
                .collect()
        };

        let err = client.connect(&url).await.unwrap_err();
        let events = record.take();
        assert_eq!(
            tried(&events),
            [format!("{dead} (1 of 2)"), "DIRECT (2 of 2)".into()]
        );
        assert!(matches!(&err, Error::AllRoutesFailed { attempts } if attempts.len() == 2));
        assert_eq!(err.kind(), crate::ErrorKind::TargetUnreachable);
        assert!(
            err.to_string().contains(&format!("1. {dead}: proxy")),
            "{err}"
        );

        // The clone shares the list: DIRECT first now, the proxy last.
        client.clone().connect(&url).await.unwrap_err();
        let events = record.take();
        assert!(
            events
                .iter()
                .any(|e| e.starts_with(&format!("* {dead} failed 0 s ago"))),
            "{events:#?}"
        );
        assert_eq!(
            tried(&events),
            ["DIRECT (1 of 2)".to_owned(), format!("{dead} (2 of 2)")]
        );

        // Zero turns it off.
        let client = Client::builder()
            .proxies([dead.as_str(), "DIRECT"])
            .failed_proxy_skip(Duration::ZERO)
            .observer(record.clone())
            .build()
            .unwrap();
        for _ in 0..2 {
            client.connect(&url).await.unwrap_err();
            assert_eq!(tried(&record.take())[0], format!("{dead} (1 of 2)"));
        }
    }

    #[tokio::test]
    async fn an_answer_from_a_proxy_stops_the_list() {
        // A proxy that answers every CONNECT with 403: another proxy would not be asked.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        let second = format!("http://127.0.0.1:{}", closed_port());
        let client = Client::builder()
            .proxy(format!("http://127.0.0.1:{port},{second}"))
            .build()
            .unwrap();
        let err = client.connect("ws://127.0.0.1:9/").await.unwrap_err();
        assert!(
            matches!(err, Error::ProxyRefused { status: 403, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn headers_need_a_name_and_a_colon() {
        assert!(parse_headers(&["X-A: 1".into(), "X-B:2".into()]).is_ok());
        assert!(parse_headers(&["no colon".into()]).is_err());
        assert!(parse_headers(&["bad name: 1".into()]).is_err());
    }
}
