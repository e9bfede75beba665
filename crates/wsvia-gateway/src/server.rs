//! The gateway server: listeners (plain or TLS), one hyper connection per client, routing,
//! and the three ways a request is served: a WebSocket relayed to a WebSocket upstream
//! (frames or passthrough), a WebSocket bridged to TCP, or a plain HTTP request forwarded.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_util::sync::CancellationToken;
use wsvia::Stream;
use wsvia_core::route::{Endpoint, Route, Upstream};
use wsvia_core::tokens::token_from_query;
use wsvia_server::admin::{Admin, AdminCheck};
use wsvia_server::drain::Drain;
use wsvia_server::http::{Body, Counted, end_to_end, text};
use wsvia_server::metrics::Metrics;
use wsvia_server::record::{CloseReason, TunnelRecord};
use wsvia_server::registry::Registry;
use wsvia_server::relay::{Early, RelayOptions, relay, relay_io};
use wsvia_server::reload::{Current, ListenerChanges, Listeners};

use crate::bridge::{BINARY_PROTOCOL, bridge};
use crate::config::{Mode, RouteOptions, Settings};
use crate::frames::{FrameOptions, relay_frames, relay_frames_tcp};
use wsvia_server::handshake::{Offer, check, switching, wants_websocket};

/// A running gateway.
#[derive(Clone)]
pub struct GatewayServer {
    shared: Arc<Shared>,
}

struct Shared {
    /// The settings new connections start with; swapped whole on reload.
    settings: Current<Settings>,
    listeners: Listeners,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    drain: Drain,
}

/// What a request handler knows about its connection.
struct ConnCtx {
    client: SocketAddr,
    tls: bool,
    /// The settings this connection started with; a reload never changes them.
    settings: Arc<Settings>,
    shared: Arc<Shared>,
}

impl GatewayServer {
    /// A gateway with these settings.
    pub fn new(settings: Settings) -> GatewayServer {
        let drain = Drain::new();
        GatewayServer {
            shared: Arc::new(Shared {
                settings: Current::new(settings),
                listeners: Listeners::new(drain.stop_token()),
                registry: Registry::new(),
                metrics: Arc::new(Metrics::new("gateway")),
                drain,
            }),
        }
    }

    /// The shutdown handle.
    pub fn drain(&self) -> &Drain {
        &self.shared.drain
    }

    /// The settings new connections start with.
    pub fn settings(&self) -> Arc<Settings> {
        self.shared.settings.get()
    }

    /// Apply new settings to new connections (listeners, routes, tokens, TLS, timeouts);
    /// live sessions keep the settings they started with. SNI listeners stay as started;
    /// their routes follow the new settings.
    ///
    /// # Errors
    /// When a new listen address cannot be bound; nothing changes then.
    pub async fn reload(&self, settings: Settings) -> io::Result<ListenerChanges> {
        let old = self.shared.settings.get();
        let shared = self.shared.clone();
        let serve = move |listener, stop| accept_loop(listener, shared.clone(), stop);
        let changes = self
            .shared
            .listeners
            .apply(&old.listen, &settings.listen, serve)
            .await?;
        self.shared.settings.set(settings);
        Ok(changes)
    }

    /// Serve the admin listener (`/metrics`, the status page, `/api/status`) until shutdown.
    pub fn serve_admin(
        &self,
        listener: TcpListener,
        check: Option<AdminCheck>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let admin = Admin {
            role: "gateway".into(),
            metrics: self.shared.metrics.clone(),
            registry: self.shared.registry.clone(),
            check,
        };
        admin.serve(listener, self.shared.drain.stop_token())
    }

    /// Serve the SNI router on `listener` until shutdown; each connection is routed with
    /// the settings current when it arrives.
    pub fn serve_sni(&self, listener: TcpListener) -> impl Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        let current: crate::sni::CurrentOptions = Arc::new(move || {
            let s = shared.settings.get();
            Arc::new(crate::sni::SniOptions {
                table: s.sni.clone(),
                proxy_protocol: s.sni_proxy_protocol,
                timeout: s.header_timeout,
                json_log: s.log_format == wsvia_server::record::LogFormat::Json,
            })
        });
        crate::sni::serve(listener, current, self.shared.drain.clone())
    }

    /// Accept HTTP(S) connections on every listener until the drain's stop token fires.
    ///
    /// # Errors
    /// Only when a listener fails for good.
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
    let settings = shared.settings.get();
    let stream = match &settings.tls {
        None => Stream::new(tcp),
        Some(config) => {
            let accept = tokio_rustls::TlsAcceptor::from(config.clone()).accept(tcp);
            match tokio::time::timeout(settings.header_timeout, accept).await {
                Ok(Ok(tls)) => Stream::new(tls),
                Ok(Err(e)) => {
                    tracing::debug!(%client, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            }
        }
    };
    let ctx = Arc::new(ConnCtx {
        client,
        tls: settings.tls.is_some(),
        settings: settings.clone(),
        shared: shared.clone(),
    });
    let service = hyper::service::service_fn(move |req: Request<Incoming>| -> BoxedResponse {
        let ctx = ctx.clone();
        Box::pin(async move { Ok(dispatch(req, ctx).await) })
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .title_case_headers(true)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let stop = shared.drain.stop_token();
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%client, error = %e, "client connection ended with an error");
            }
            return;
        }
        _ = stop.cancelled() => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

async fn dispatch(mut req: Request<Incoming>, ctx: Arc<ConnCtx>) -> Response<Body> {
    let started = Instant::now();
    let settings = ctx.settings.clone();
    let host = request_host(&req);
    let path = req.uri().path().to_owned();
    let Some(route) = settings.routes.lookup(host.as_deref(), &path).cloned() else {
        return ctx.answer(
            &req,
            started,
            StatusCode::NOT_FOUND,
            &format!("no route for {}{path}", host.as_deref().unwrap_or("")),
        );
    };
    let options = settings.options_of(&route);
    if !origin_allowed(req.headers(), &options) {
        return ctx.answer(
            &req,
            started,
            StatusCode::FORBIDDEN,
            "this Origin is not allowed on this route",
        );
    }
    if !wants_websocket(req.headers()) {
        return match &route.upstream {
            Upstream::Http(ep) | Upstream::Ws(ep) => {
                forward_plain(req, &route, ep, &ctx, started).await
            }
            _ => ctx.answer(
                &req,
                started,
                StatusCode::UPGRADE_REQUIRED,
                "this route speaks WebSocket only",
            ),
        };
    }
    let offer = match check(&req) {
        Ok(o) => o,
        Err(bad) => {
            ctx.log(
                &req,
                started,
                bad.response().status().as_u16(),
                CloseReason::BadRequest,
                0,
                0,
            );
            return bad.response();
        }
    };
    let client_upgrade = hyper::upgrade::on(&mut req);
    match route.upstream.clone() {
        Upstream::Ws(ep) | Upstream::Http(ep) => {
            websocket(
                req,
                client_upgrade,
                &route,
                &ep,
                &options,
                offer,
                ctx,
                started,
            )
            .await
        }
        Upstream::Tcp { host, port } => {
            bridge_to(
                req,
                client_upgrade,
                format!("{host}:{port}"),
                &options,
                offer,
                ctx,
                started,
            )
            .await
        }
        Upstream::Tokens { path } => {
            let target = token_from_query(req.uri().query())
                .and_then(|t| {
                    settings
                        .tokens
                        .get(&path)
                        .and_then(|table| table.lookup(&t))
                })
                .map(|(h, p)| format!("{h}:{p}"));
            match target {
                Some(target) => {
                    bridge_to(req, client_upgrade, target, &options, offer, ctx, started).await
                }
                None => ctx.answer(
                    &req,
                    started,
                    StatusCode::FORBIDDEN,
                    "unknown or missing token",
                ),
            }
        }
    }
}

impl ConnCtx {
    fn answer<B>(
        &self,
        req: &Request<B>,
        started: Instant,
        status: StatusCode,
        why: &str,
    ) -> Response<Body> {
        let reason = match status {
            StatusCode::FORBIDDEN => CloseReason::AclDeny,
            StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => CloseReason::UpstreamError,
            _ => CloseReason::BadRequest,
        };
        self.log(req, started, status.as_u16(), reason, 0, 0);
        text(status, &format!("wsvia gateway: {why}\n"))
    }

    fn log<B>(
        &self,
        req: &Request<B>,
        started: Instant,
        status: u16,
        reason: CloseReason,
        up: u64,
        down: u64,
    ) {
        self.finish(TunnelRecord {
            client: self.client,
            user: None,
            method: req.method().to_string(),
            target: req.uri().to_string(),
            status,
            bytes_up: up,
            bytes_down: down,
            duration: started.elapsed(),
            reason,
        });
    }

    fn finish(&self, record: TunnelRecord) {
        self.shared.metrics.record(&record);
        println!("{}", self.settings.log_format.line(&record));
    }
}

/// Relay a WebSocket to a WebSocket (or HTTP) upstream: the upstream's `101` first, so its
/// choice of subprotocol reaches the client and a refusal becomes a 502.
#[allow(clippy::too_many_arguments)]
async fn websocket(
    req: Request<Incoming>,
    client_upgrade: hyper::upgrade::OnUpgrade,
    route: &Route,
    ep: &Endpoint,
    options: &RouteOptions,
    offer: Offer,
    ctx: Arc<ConnCtx>,
    started: Instant,
) -> Response<Body> {
    let settings = ctx.settings.clone();
    let frames = options.mode == Mode::Frames;
    let key = if frames {
        generate_key()
    } else {
        offer.key.clone()
    };
    let upstream_req = upstream_upgrade_request(&req, route, ep, &offer, &key, frames, &ctx);
    let stream = match dial(ep, &settings).await {
        Ok(s) => s,
        Err(why) => return ctx.answer(&req, started, StatusCode::BAD_GATEWAY, &why),
    };
    let response = match send_upgrade(stream, upstream_req).await {
        Ok(r) => r,
        Err(why) => return ctx.answer(&req, started, StatusCode::BAD_GATEWAY, &why),
    };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let why = format!(
            "the upstream refused the upgrade: {}",
            wsvia::http1::status_line(&response)
        );
        return ctx.answer(&req, started, StatusCode::BAD_GATEWAY, &why);
    }
    let accept_ok = response
        .headers()
        .get(header::SEC_WEBSOCKET_ACCEPT)
        .is_some_and(|v| v.as_bytes() == derive_accept_key(key.as_bytes()).as_bytes());
    if !accept_ok {
        return ctx.answer(
            &req,
            started,
            StatusCode::BAD_GATEWAY,
            "the upstream's Sec-WebSocket-Accept is wrong",
        );
    }
    let protocol = response
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .cloned();
    let extensions = if frames {
        None
    } else {
        response
            .headers()
            .get(header::SEC_WEBSOCKET_EXTENSIONS)
            .cloned()
    };
    let upstream = match wsvia::http1::take_stream(response).await {
        Ok(s) => s,
        Err(e) => return ctx.answer(&req, started, StatusCode::BAD_GATEWAY, &e.to_string()),
    };
    let (method, target) = (req.method().to_string(), req.uri().to_string());
    let task_ctx = ctx.clone();
    ctx.shared.drain.spawn(async move {
        let Some(client) = upgraded(client_upgrade).await else {
            return;
        };
        let shared = &task_ctx.shared;
        let registration =
            shared
                .registry
                .register(task_ctx.client, None, method.clone(), target.clone());
        let counters = registration.counters().clone();
        shared.metrics.tunnel_delta(1);
        let cut = shared.drain.cut_token();
        let (reason, up, down) = if frames {
            let opts = FrameOptions {
                ping_interval: settings.ping_interval,
                ping_timeout: settings.ping_timeout,
                max_message_size: settings.max_message_size,
                cut,
                counters,
            };
            let (reason, stats) = match both_tcp(client, upstream) {
                Ok((client, upstream, early)) => {
                    relay_frames_tcp(client, upstream, early, &opts).await
                }
                Err((client, upstream)) => relay_frames(client, upstream, &opts).await,
            };
            shared
                .metrics
                .messages(stats.messages_up, stats.messages_down);
            (reason, stats.bytes_up, stats.bytes_down)
        } else {
            let opts = RelayOptions {
                idle_timeout: None,
                cut,
            };
            let reason = match both_tcp(client, upstream) {
                Ok((mut client, mut upstream, early)) => {
                    relay(&mut client, &mut upstream, early, &counters, &opts).await
                }
                Err((client, upstream)) => {
                    relay_io(client, upstream, Early::default(), &counters, &opts).await
                }
            };
            (reason, counters.up(), counters.down())
        };
        shared.metrics.tunnel_delta(-1);
        drop(registration);
        task_ctx.finish(TunnelRecord {
            client: task_ctx.client,
            user: None,
            method,
            target,
            status: 101,
            bytes_up: up,
            bytes_down: down,
            duration: started.elapsed(),
            reason,
        });
    });
    switching(&offer, protocol.as_ref(), extensions.as_ref())
}

/// Bridge a WebSocket to a TCP server.
async fn bridge_to(
    req: Request<Incoming>,
    client_upgrade: hyper::upgrade::OnUpgrade,
    target: String,
    options: &RouteOptions,
    offer: Offer,
    ctx: Arc<ConnCtx>,
    started: Instant,
) -> Response<Body> {
    let settings = ctx.settings.clone();
    let tcp =
        match tokio::time::timeout(settings.connect_timeout, TcpStream::connect(&target)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => {
                return ctx.answer(
                    &req,
                    started,
                    StatusCode::BAD_GATEWAY,
                    &format!("{target}: {e}"),
                );
            }
            Err(_) => {
                return ctx.answer(
                    &req,
                    started,
                    StatusCode::GATEWAY_TIMEOUT,
                    &format!("{target}: connect timed out"),
                );
            }
        };
    wsvia_server::sockopt::tune(&tcp);
    let protocol = offer
        .protocols
        .iter()
        .any(|p| p == BINARY_PROTOCOL)
        .then(|| HeaderValue::from_static(BINARY_PROTOCOL));
    let allow_text = options.allow_text;
    let (method, target_label) = (req.method().to_string(), req.uri().to_string());
    let task_ctx = ctx.clone();
    ctx.shared.drain.spawn(async move {
        let Some(client) = upgraded(client_upgrade).await else {
            return;
        };
        let shared = &task_ctx.shared;
        let label = format!("{target_label} -> tcp://{target}");
        let registration =
            shared
                .registry
                .register(task_ctx.client, None, method.clone(), label.clone());
        let config = ws_config(settings.max_message_size);
        let ws = WebSocketStream::from_raw_socket(client, Role::Server, Some(config)).await;
        let opts = FrameOptions {
            ping_interval: settings.ping_interval,
            ping_timeout: settings.ping_timeout,
            cut: shared.drain.cut_token(),
            max_message_size: settings.max_message_size,
            counters: registration.counters().clone(),
        };
        shared.metrics.tunnel_delta(1);
        let (reason, stats) = bridge(ws, tcp, allow_text, &opts).await;
        shared.metrics.tunnel_delta(-1);
        drop(registration);
        shared
            .metrics
            .messages(stats.messages_up, stats.messages_down);
        task_ctx.finish(TunnelRecord {
            client: task_ctx.client,
            user: None,
            method,
            target: label,
            status: 101,
            bytes_up: stats.bytes_up,
            bytes_down: stats.bytes_down,
            duration: started.elapsed(),
            reason,
        });
    });
    switching(&offer, protocol.as_ref(), None)
}

/// Both sides as plain sockets, with what was read ahead of each, when both are (the
/// relays then use them without the boxes); else both streams back as they were.
fn both_tcp(
    client: Stream,
    upstream: Stream,
) -> Result<(TcpStream, TcpStream, Early), (Stream, Stream)> {
    match (client.into_tcp(), upstream.into_tcp()) {
        (Ok((client, up)), Ok((upstream, down))) => Ok((client, upstream, Early { up, down })),
        (client, upstream) => Err((back(client), back(upstream))),
    }
}

/// A stream that [`Stream::into_tcp`] took apart, whole again.
fn back(taken: Result<(TcpStream, bytes::Bytes), Stream>) -> Stream {
    match taken {
        Ok((tcp, early)) => Stream::with_prefix(tcp, early),
        Err(stream) => stream,
    }
}

/// The client's stream after the `101`, with bytes hyper read ahead put back.
async fn upgraded(on: hyper::upgrade::OnUpgrade) -> Option<Stream> {
    let upgraded = on.await.ok()?;
    match upgraded.downcast::<TokioIo<Stream>>() {
        Ok(parts) => Some(parts.io.into_inner().prepend(parts.read_buf)),
        Err(other) => Some(Stream::new(TokioIo::new(other))),
    }
}

fn ws_config(max: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        // tokio-tungstenite zero-fills its read buffer before each read: a small one costs
        // less per message and per idle session (two per session in frames mode).
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
}

/// TCP (and TLS for `wss://`/`https://`) to the upstream, within the connect timeout.
async fn dial(ep: &Endpoint, settings: &Settings) -> Result<Stream, String> {
    let addr = ep.authority();
    let tcp = match tokio::time::timeout(settings.connect_timeout, TcpStream::connect(&addr)).await
    {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(format!("upstream {addr} is unreachable: {e}")),
        Err(_) => {
            return Err(format!(
                "upstream {addr} did not answer within the connect timeout"
            ));
        }
    };
    wsvia_server::sockopt::tune(&tcp);
    let stream = Stream::new(tcp);
    if !ep.tls {
        return Ok(stream);
    }
    wsvia::tls::handshake(stream, &ep.host, settings.upstream_tls.clone())
        .await
        .map_err(|f| format!("TLS with upstream {addr} failed: {f}"))
}

async fn send_upgrade(
    stream: Stream,
    req: Request<Empty<bytes::Bytes>>,
) -> Result<Response<Incoming>, String> {
    let mut sender = wsvia::http1::handshake(stream)
        .await
        .map_err(|e| e.to_string())?;
    sender.send_request(req).await.map_err(|e| {
        if e.is_incomplete_message() {
            "the upstream closed the connection without answering".to_owned()
        } else {
            format!("the upstream's answer is not HTTP: {e}")
        }
    })
}

/// The upgrade request as the upstream sees it: its own Host and path, the client's
/// end-to-end headers, the `X-Forwarded-*` and `Forwarded` headers, our key in frames
/// mode (we terminate the WebSocket) or the client's in passthrough.
fn upstream_upgrade_request(
    req: &Request<Incoming>,
    route: &Route,
    ep: &Endpoint,
    offer: &Offer,
    key: &str,
    frames: bool,
    ctx: &ConnCtx,
) -> Request<Empty<bytes::Bytes>> {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut out = Request::new(Empty::new());
    *out.uri_mut() = route
        .upstream_path(pq)
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    let mut headers = end_to_end(req.headers());
    for name in [
        header::SEC_WEBSOCKET_KEY,
        header::SEC_WEBSOCKET_ACCEPT,
        header::SEC_WEBSOCKET_VERSION,
        header::SEC_WEBSOCKET_EXTENSIONS,
    ] {
        headers.remove(name);
    }
    add_forwarded(&mut headers, req, ctx);
    if let Ok(v) = HeaderValue::from_str(&ep.authority()) {
        headers.insert(header::HOST, v);
    }
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(
        header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static("13"),
    );
    if let Ok(v) = HeaderValue::from_str(key) {
        headers.insert(header::SEC_WEBSOCKET_KEY, v);
    }
    if !frames {
        if let Some(ext) = &offer.extensions {
            headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, ext.clone());
        }
    }
    *out.headers_mut() = headers;
    out
}

/// Forward a plain HTTP request to the route's upstream and stream the answer back.
async fn forward_plain(
    req: Request<Incoming>,
    route: &Route,
    ep: &Endpoint,
    ctx: &Arc<ConnCtx>,
    started: Instant,
) -> Response<Body> {
    let settings = ctx.settings.clone();
    let stream = match dial(ep, &settings).await {
        Ok(s) => s,
        Err(why) => return ctx.answer(&req, started, StatusCode::BAD_GATEWAY, &why),
    };
    let (method, target) = (req.method().to_string(), req.uri().to_string());
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_owned();
    let mut headers = end_to_end(req.headers());
    add_forwarded(&mut headers, &req, ctx);
    if let Ok(v) = HeaderValue::from_str(&ep.authority()) {
        headers.insert(header::HOST, v);
    }
    let (parts, body) = req.into_parts();
    let sent_up = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let up_counter = sent_up.clone();
    let body = Counted::new(body, move |n| {
        up_counter.store(n, std::sync::atomic::Ordering::Relaxed)
    });
    let mut out = Request::new(body.boxed());
    *out.method_mut() = parts.method;
    *out.uri_mut() = route
        .upstream_path(&pq)
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    *out.headers_mut() = headers;
    let sent = async {
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        sender.send_request(out).await
    };
    let record = {
        let ctx = ctx.clone();
        move |status: u16, reason, bytes_down: u64| {
            ctx.finish(TunnelRecord {
                client: ctx.client,
                user: None,
                method,
                target,
                status,
                bytes_up: sent_up.load(std::sync::atomic::Ordering::Relaxed),
                bytes_down,
                duration: started.elapsed(),
                reason,
            })
        }
    };
    match sent.await {
        Ok(response) => {
            let status = response.status().as_u16();
            let (mut parts, body) = response.into_parts();
            parts.headers = end_to_end(&parts.headers);
            // The line is written when the body has been passed on (or abandoned).
            let body = Counted::new(body, move |n| record(status, CloseReason::Answered, n));
            Response::from_parts(parts, body.boxed())
        }
        Err(e) => {
            record(502, CloseReason::UpstreamError, 0);
            text(
                StatusCode::BAD_GATEWAY,
                &format!("wsvia gateway: the upstream failed: {e}\n"),
            )
        }
    }
}

/// `X-Forwarded-For` (appended), `-Proto`, `-Host`, and RFC 7239 `Forwarded`.
fn add_forwarded<B>(headers: &mut HeaderMap, req: &Request<B>, ctx: &ConnCtx) {
    let ip = ctx.client.ip();
    let proto = if ctx.tls { "https" } else { "http" };
    let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {ip}"),
        None => ip.to_string(),
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let for_value = if ip.is_ipv6() {
        format!("\"[{ip}]\"")
    } else {
        ip.to_string()
    };
    let mut forwarded = format!("for={for_value};proto={proto}");
    if !host.is_empty() {
        forwarded.push_str(&format!(";host=\"{host}\""));
    }
    for (name, value) in [
        ("x-forwarded-for", xff),
        ("x-forwarded-proto", proto.to_owned()),
        ("x-forwarded-host", host),
        ("forwarded", forwarded),
    ] {
        if value.is_empty() {
            continue;
        }
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

fn request_host<B>(req: &Request<B>) -> Option<String> {
    let raw = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().host().map(str::to_owned))?;
    // Drop the port: "example.com:8080" → "example.com", "[::1]:80" → "::1".
    let host = match raw.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default().to_owned(),
        None => raw.split(':').next().unwrap_or_default().to_owned(),
    };
    Some(host.to_ascii_lowercase())
}

fn origin_allowed(headers: &HeaderMap, options: &RouteOptions) -> bool {
    if options.origins.is_empty() {
        return true;
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    options
        .origins
        .iter()
        .any(|o| o.eq_ignore_ascii_case(origin))
}
