//! The server: accept loops, one hyper HTTP/1.1 connection per client, the request-head
//! timeout that answers 408, dispatch to CONNECT or forwarding, and the shutdown drain.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use wsvia_server::budget::{Budget, Slot};
use wsvia_server::drain::Drain;
use wsvia_server::record::{CloseReason, TunnelRecord};

use crate::auth::{Authenticator, Identity};
use crate::config::Settings;
use crate::respond::{Body, Refusal, head_timeout_bytes};
use crate::target::Target;
use crate::{connect, forward, upstream};
use wsvia_server::admin::{Admin, AdminCheck};
use wsvia_server::metrics::Metrics;
use wsvia_server::registry::Registry;
use wsvia_server::reload::{Current, ListenerChanges, Listeners};

/// Largest request head accepted; larger ones get 431 from hyper.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header lines accepted; more get 431.
const MAX_HEADERS: usize = 100;

/// A running forward proxy.
///
/// # Examples
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let settings = wsvia_proxy::ProxyConfig::default().load()?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let proxy = wsvia_proxy::ProxyServer::new(settings);
/// proxy.serve(vec![listener]).await?;          // until proxy.drain() is told to stop
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ProxyServer {
    shared: Arc<Shared>,
}

/// State every connection of one server shares.
pub(crate) struct Shared {
    /// The settings new connections start with; swapped whole on reload.
    settings: Current<Settings>,
    /// Accept loops by the address the settings name, so a reload can stop one.
    listeners: Listeners,
    pub(crate) registry: Arc<Registry>,
    pub(crate) budget: Arc<Budget>,
    pub(crate) auth: Authenticator,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) drain: Drain,
}

/// What one request handler knows about its connection.
pub(crate) struct ConnCtx {
    pub(crate) client: SocketAddr,
    /// The settings this connection started with; a reload never changes them.
    pub(crate) settings: Arc<Settings>,
    pub(crate) shared: Arc<Shared>,
    head_seen: AtomicBool,
}

/// A request that passed every check, with its upstream connection.
pub(crate) struct Admitted {
    /// What the access log calls the destination: `host:port` or the URL.
    pub(crate) label: String,
    pub(crate) target: Target,
    pub(crate) user: Option<String>,
    pub(crate) upstream: TcpStream,
    pub(crate) slot: Slot,
}

impl ProxyServer {
    /// A server with these settings.
    ///
    /// # Examples
    /// See [`ProxyServer`].
    pub fn new(settings: Settings) -> ProxyServer {
        let budget = Budget::new(settings.limits.clone());
        let drain = Drain::new();
        ProxyServer {
            shared: Arc::new(Shared {
                settings: Current::new(settings),
                listeners: Listeners::new(drain.stop_token()),
                registry: Registry::new(),
                budget,
                auth: Authenticator::new(),
                metrics: Arc::new(Metrics::new("proxy")),
                drain,
            }),
        }
    }

    /// The shutdown handle: `drain().shutdown(grace)` stops accepting and drains.
    ///
    /// # Examples
    /// ```
    /// let proxy = wsvia_proxy::ProxyServer::new(wsvia_proxy::ProxyConfig::default().load().unwrap());
    /// assert_eq!(proxy.drain().running(), 0);
    /// ```
    pub fn drain(&self) -> &Drain {
        &self.shared.drain
    }

    /// The settings it runs with.
    ///
    /// # Examples
    /// ```
    /// let proxy = wsvia_proxy::ProxyServer::new(wsvia_proxy::ProxyConfig::default().load().unwrap());
    /// assert_eq!(proxy.settings().realm, "wsvia");
    /// ```
    pub fn settings(&self) -> Arc<Settings> {
        self.shared.settings()
    }

    /// Its metrics.
    ///
    /// # Examples
    /// ```
    /// let proxy = wsvia_proxy::ProxyServer::new(wsvia_proxy::ProxyConfig::default().load().unwrap());
    /// assert!(proxy.metrics().render().contains("wsvia_proxy_tunnels_active"));
    /// ```
    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// Serve the admin listener (`/metrics`, the status page, `/api/status`) until shutdown.
    /// `check` verifies admin credentials when they are required.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(proxy: wsvia_proxy::ProxyServer) -> std::io::Result<()> {
    /// let l = tokio::net::TcpListener::bind("127.0.0.1:9090").await?;
    /// tokio::spawn(proxy.serve_admin(l, None));
    /// # Ok(()) }
    /// ```
    pub fn serve_admin(
        &self,
        listener: TcpListener,
        check: Option<AdminCheck>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let admin = Admin {
            role: "proxy".into(),
            metrics: self.metrics(),
            registry: self.shared.registry.clone(),
            check,
        };
        admin.serve(listener, self.shared.drain.stop_token())
    }

    /// Apply new settings to new connections: listeners added and removed, users, rules,
    /// limits, timeouts. Live tunnels keep the settings they started with.
    ///
    /// # Errors
    /// When a new listen address cannot be bound; nothing changes then.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(proxy: wsvia_proxy::ProxyServer) -> Result<(), Box<dyn std::error::Error>> {
    /// let settings = wsvia_proxy::ProxyConfig::from_file("proxy.toml".as_ref())?.load()?;
    /// let changes = proxy.reload(settings).await?;
    /// println!("now also listening on {:?}", changes.added);
    /// # Ok(()) }
    /// ```
    pub async fn reload(&self, settings: Settings) -> io::Result<ListenerChanges> {
        let old = self.shared.settings();
        let shared = self.shared.clone();
        let serve = move |listener, stop| accept_loop(listener, shared.clone(), stop);
        let changes = self
            .shared
            .listeners
            .apply(&old.listen, &settings.listen, serve)
            .await?;
        self.shared.budget.set_limits(settings.limits.clone());
        self.shared.settings.set(settings);
        Ok(changes)
    }

    /// Accept on every listener until the drain's stop token fires.
    ///
    /// # Errors
    /// Only when a listener fails for good.
    ///
    /// # Cancel safety
    /// Stop it with [`Drain::shutdown`] so tunnels drain; dropping only stops accepting.
    ///
    /// # Examples
    /// See [`ProxyServer`].
    pub async fn serve(&self, listeners: Vec<TcpListener>) -> io::Result<()> {
        let shared = self.shared.clone();
        self.shared.listeners.start_all(
            &self.shared.settings.get().listen,
            listeners,
            move |l, stop| accept_loop(l, shared.clone(), stop),
        )?;
        self.shared.drain.stop_token().cancelled().await;
        Ok(())
    }
}

impl Shared {
    /// The settings a new connection starts with.
    pub(crate) fn settings(&self) -> Arc<Settings> {
        self.settings.get()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    let drain = shared.drain.clone();
    wsvia_server::accept::accept_until(listener, stop, drain, move |tcp, client| {
        serve_client(tcp, client, shared.clone())
    })
    .await;
}

type BoxedResponse = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

async fn serve_client(tcp: TcpStream, client: SocketAddr, shared: Arc<Shared>) {
    wsvia_server::sockopt::tune(&tcp);
    let settings = shared.settings();
    let ctx = Arc::new(ConnCtx {
        client,
        settings: settings.clone(),
        shared: shared.clone(),
        head_seen: AtomicBool::new(false),
    });
    let service_ctx = ctx.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| -> BoxedResponse {
        let ctx = service_ctx.clone();
        Box::pin(async move { Ok(dispatch(req, ctx).await) })
    });
    let mut conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // Our own timer answers 408 for the first head; hyper's closes slow later heads.
        .header_read_timeout(settings.header_timeout + Duration::from_secs(1))
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .title_case_headers(true)
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    let head_deadline = tokio::time::sleep(settings.header_timeout);
    tokio::pin!(head_deadline);
    let stop = shared.drain.stop_token();
    let mut stopping = false;
    loop {
        tokio::select! {
            biased;
            _ = &mut head_deadline, if !ctx.head_seen.load(Ordering::Acquire) => {
                answer_head_timeout(conn, &ctx).await;
                return;
            }
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
            result = &mut conn => {
                if let Err(e) = result {
                    tracing::debug!(%client, error = %e, "client connection ended with an error");
                }
                return;
            }
        }
    }
}

/// The client sent no complete head in time: take the socket back from hyper, say 408.
async fn answer_head_timeout<C>(
    conn: hyper::server::conn::http1::UpgradeableConnection<TokioIo<TcpStream>, C>,
    ctx: &ConnCtx,
) where
    C: hyper::service::HttpService<Incoming, ResBody = Body>,
{
    if let Some(parts) = conn.into_parts() {
        let mut tcp = parts.io.into_inner();
        let _ = tcp.write_all(&head_timeout_bytes()).await;
        let _ = tcp.shutdown().await;
    }
    ctx.finish(TunnelRecord {
        client: ctx.client,
        user: None,
        method: "-".into(),
        target: "-".into(),
        status: 408,
        bytes_up: 0,
        bytes_down: 0,
        duration: ctx.settings.header_timeout,
        reason: CloseReason::BadRequest,
    });
}

async fn dispatch(req: Request<Incoming>, ctx: Arc<ConnCtx>) -> Response<Body> {
    ctx.head_seen.store(true, Ordering::Release);
    let started = Instant::now();
    // hyper enforces the head limit only while a head is incomplete; a large head that
    // arrives in one read would pass. Count it here so the answer never depends on timing.
    if head_size(&req) > MAX_HEAD_BYTES {
        let mut r = crate::respond::text(
            http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "wsvia proxy: the request head is larger than 64 KiB\n",
        );
        r.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        ctx.finish(TunnelRecord {
            client: ctx.client,
            user: None,
            method: req.method().to_string(),
            target: "-".into(),
            status: 431,
            bytes_up: 0,
            bytes_down: 0,
            duration: started.elapsed(),
            reason: CloseReason::BadRequest,
        });
        return r;
    }
    if req.method() == Method::CONNECT {
        connect::handle(req, ctx, started).await
    } else {
        forward::handle(req, ctx, started).await
    }
}

/// The size of a request head as it was on the wire, near enough: the request line and
/// each `name: value` line.
fn head_size<B>(req: &Request<B>) -> usize {
    let line = req.method().as_str().len() + req.uri().to_string().len() + 12;
    req.headers()
        .iter()
        .fold(line, |n, (k, v)| n + k.as_str().len() + v.len() + 4)
}

impl ConnCtx {
    /// Check credentials, limits and destination, and connect upstream; or the response
    /// that refuses, already logged.
    pub(crate) async fn admit(
        &self,
        req: &Request<Incoming>,
        target: Result<Target, Refusal>,
        started: Instant,
    ) -> Result<Admitted, Response<Body>> {
        let shared = &self.shared;
        let settings = &self.settings;
        // The log names a CONNECT by host:port and a forwarded request by its URL.
        let target_text = match (&target, req.method() == Method::CONNECT) {
            (Ok(t), true) => t.to_string(),
            _ => req.uri().to_string(),
        };
        let refuse =
            |status: u16, user: Option<String>, reason: CloseReason, response: Response<Body>| {
                self.finish(TunnelRecord {
                    client: self.client,
                    user,
                    method: req.method().to_string(),
                    target: target_text.clone(),
                    status,
                    bytes_up: 0,
                    bytes_down: 0,
                    duration: started.elapsed(),
                    reason,
                });
                response
            };
        let refusal = |r: Refusal, user: Option<String>, reason: CloseReason| {
            refuse(r.status().as_u16(), user, reason, r.response())
        };
        if shared.drain.stop_token().is_cancelled() {
            return Err(refusal(Refusal::ShuttingDown, None, CloseReason::Drain));
        }
        let target = target.map_err(|r| refusal(r, None, CloseReason::BadRequest))?;
        let request_target = req.uri().to_string();
        let user = match shared
            .auth
            .identify(req.headers(), req.method(), &request_target, settings)
            .await
        {
            Identity::Anonymous => None,
            Identity::User(u) => Some(u),
            Identity::Refused { tried, stale } => {
                if tried.is_some()
                    || req
                        .headers()
                        .contains_key(http::header::PROXY_AUTHORIZATION)
                {
                    shared.metrics.auth_failed();
                    tracing::warn!(client = %self.client, user = tried.as_deref().unwrap_or("-"), "proxy authentication failed");
                }
                let response = shared.auth.challenge(settings, stale);
                return Err(refuse(407, tried, CloseReason::AuthFail, response));
            }
        };
        let slot = shared
            .budget
            .try_acquire(self.client.ip(), user.as_deref())
            .map_err(|limit| {
                let r = Refusal::Limit {
                    detail: limit.to_string(),
                    retry_after_secs: limit.retry_after_secs(),
                };
                refusal(r, user.clone(), CloseReason::Limit)
            })?;
        let upstream = upstream::connect(&target, &settings.rules, settings.connect_timeout)
            .await
            .map_err(|r| {
                let reason = match r {
                    Refusal::Forbidden { .. } => CloseReason::AclDeny,
                    _ => CloseReason::UpstreamError,
                };
                refusal(r, user.clone(), reason)
            })?;
        tracing::debug!(target = %target_text, user = user.as_deref().unwrap_or("-"), "upstream connected");
        Ok(Admitted {
            label: target_text,
            target,
            user,
            upstream,
            slot,
        })
    }

    /// Log and count a finished request or tunnel.
    pub(crate) fn finish(&self, record: TunnelRecord) {
        self.shared.metrics.record(&record);
        println!("{}", self.settings.log_format.line(&record));
    }
}
