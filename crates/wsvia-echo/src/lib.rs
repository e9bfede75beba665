//! A WebSocket echo server for testing clients and proxies, like the public echo services.
//!
//! Text comes back as text and binary as binary, in order, up to a configurable message
//! size (16 MiB by default); pings are answered by the WebSocket layer and the close
//! handshake is completed. Optional TLS makes it a `wss://` server. A client that offers
//! permessage-deflate (RFC 7692) gets it, with the parameters it asked for (see
//! `wsvia_core::deflate::accept_offer`), unless [`EchoConfig::compression`] is off.
//!
//! # Layout
//! - [`EchoServer`], [`EchoConfig`]: serve a bound listener until a shutdown token fires.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use http::{HeaderValue, Request, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wsvia::WebSocket;
use wsvia_core::deflate;
use wsvia_server::accept::{RETRY_AFTER, is_transient};
use wsvia_server::handshake;
use wsvia_server::http::text;

/// The default largest message echoed: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;

/// How connections still open at shutdown are given to finish their close handshake.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Options of the echo server.
///
/// # Examples
/// ```
/// let cfg = wsvia_echo::EchoConfig { max_message_size: 1 << 20, ..Default::default() };
/// assert!(cfg.tls.is_none() && cfg.compression);
/// ```
#[derive(Clone)]
pub struct EchoConfig {
    /// Largest message (and frame) accepted; larger ones close the connection with 1009.
    pub max_message_size: usize,
    /// Serve `wss://` with this TLS configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Accept permessage-deflate when a client offers it (default `true`).
    pub compression: bool,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            tls: None,
            compression: true,
        }
    }
}

impl std::fmt::Debug for EchoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoConfig")
            .field("max_message_size", &self.max_message_size)
            .field("tls", &self.tls.is_some())
            .field("compression", &self.compression)
            .finish()
    }
}

/// The echo server.
///
/// # Examples
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let shutdown = tokio_util::sync::CancellationToken::new();
/// wsvia_echo::EchoServer::new(Default::default()).serve(listener, shutdown).await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct EchoServer {
    config: EchoConfig,
}

impl EchoServer {
    /// A server with these options.
    ///
    /// # Examples
    /// ```
    /// let server = wsvia_echo::EchoServer::new(Default::default());
    /// # drop(server);
    /// ```
    pub fn new(config: EchoConfig) -> EchoServer {
        EchoServer { config }
    }

    /// Accept and echo until `shutdown` fires, then close open connections with 1001
    /// (going away) and wait briefly for their close handshakes.
    ///
    /// # Errors
    /// Only when accepting fails for a reason other than a single connection's error.
    ///
    /// # Cancel safety
    /// Cancel with `shutdown`, not by dropping, so that connections close cleanly.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    /// let stop = tokio_util::sync::CancellationToken::new();
    /// wsvia_echo::EchoServer::new(Default::default()).serve(listener, stop).await
    /// # }
    /// ```
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> io::Result<()> {
        let tasks = TaskTracker::new();
        loop {
            let (tcp, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) if is_transient(&e) => {
                        // Out of descriptors: wait for some to close instead of spinning.
                        tokio::time::sleep(RETRY_AFTER).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            let config = self.config.clone();
            let stop = shutdown.clone();
            let sessions = tasks.clone();
            tasks.spawn(async move {
                if let Err(e) = serve_connection(tcp, peer, &config, stop, sessions).await {
                    tracing::debug!(%peer, error = %e, "echo connection ended with an error");
                }
            });
        }
        tasks.close();
        let _ = tokio::time::timeout(CLOSE_GRACE, tasks.wait()).await;
        Ok(())
    }
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    config: &EchoConfig,
    shutdown: CancellationToken,
    sessions: TaskTracker,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let _ = tcp.set_nodelay(true);
    tracing::debug!(%peer, "echo connection");
    match &config.tls {
        None => serve_http(tcp, config, shutdown, sessions).await,
        Some(tls) => {
            let stream = tokio_rustls::TlsAcceptor::from(tls.clone())
                .accept(tcp)
                .await?;
            serve_http(stream, config, shutdown, sessions).await
        }
    }
    Ok(())
}

/// The HTTP side, on hyper: a WebSocket upgrade becomes an echo session; a bad upgrade
/// gets 400 or 426 (with `Sec-WebSocket-Version: 13`); a plain request gets a 426 page.
/// Sessions run on `sessions`, the server's tracker, so that shutdown waits for their
/// close handshakes (the HTTP connection's own task ends once it has sent the `101`).
async fn serve_http<S>(
    stream: S,
    config: &EchoConfig,
    shutdown: CancellationToken,
    sessions: TaskTracker,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size))
        // tokio-tungstenite zero-fills its read buffer before each read (128 KiB by
        // default): 32 KiB keeps small messages cheap and large ones few reads each.
        .read_buffer_size(32 * 1024);
    let compression = config.compression;
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let shutdown = shutdown.clone();
        let sessions = sessions.clone();
        async move {
            if !handshake::wants_websocket(req.headers()) {
                let mut r = text(
                    StatusCode::UPGRADE_REQUIRED,
                    "wsvia echo: a WebSocket echo server; connect with ws:// (text comes back as text, binary as binary)\n",
                );
                r.headers_mut()
                    .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                return Ok::<_, Infallible>(r);
            }
            let offer = match handshake::check(&req) {
                Ok(offer) => offer,
                Err(bad) => return Ok(bad.response()),
            };
            let deflate = if compression {
                let offers = req.headers().get_all(header::SEC_WEBSOCKET_EXTENSIONS);
                deflate::accept_offer(offers.iter().filter_map(|v| v.to_str().ok()))
            } else {
                None
            };
            // The agreed parameters print as a valid header value (names and digits); an
            // answer is always sent when compression is on, never one without the other.
            let answer = deflate
                .map(|p| HeaderValue::from_str(&p.to_string()).expect("a valid header value"));
            let on_upgrade = hyper::upgrade::on(&mut req);
            sessions.spawn(async move {
                let Ok(upgraded) = on_upgrade.await else {
                    return;
                };
                let io = TokioIo::new(upgraded);
                let mut ws = WebSocket::from_raw_socket(io, Role::Server, ws_config, deflate).await;
                if let Err(e) = echo_messages(&mut ws, shutdown).await {
                    tracing::debug!(error = %e, "echo session ended with an error");
                }
                // Close the transport too: over TLS this sends close_notify, so the client
                // sees a clean end rather than a truncated stream.
                let _ = ws.shutdown().await;
            });
            Ok(handshake::switching(&offer, None, answer.as_ref()))
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

/// Echo data messages until the close handshake ends or `shutdown` fires.
async fn echo_messages<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocket<S>,
    shutdown: CancellationToken,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => {
                let frame = CloseFrame { code: CloseCode::Away, reason: "server shutting down".into() };
                ws.close(Some(frame)).await?;
                // Wait for the peer's Close so the handshake completes.
                while let Some(Ok(_)) = ws.next().await {}
                return Ok(());
            }
            next = ws.next() => next,
        };
        let Some(message) = next else { return Ok(()) };
        let message = match message {
            Ok(m) => m,
            Err(e) => return Err(refuse(ws, e).await),
        };
        let mut pending = feed_data(ws, message).await?;
        // Echo everything that has already arrived before paying for one flush.
        while let Some(Some(message)) = ws.next().now_or_never() {
            match message {
                Ok(message) => pending |= feed_data(ws, message).await?,
                Err(e) => {
                    // Messages before a bad frame still get their echo, as if unbatched.
                    if pending {
                        let _ = ws.flush().await;
                    }
                    return Err(refuse(ws, e).await);
                }
            }
        }
        if pending {
            ws.flush().await?;
        }
    }
}

/// A peer broke the protocol: tell it why with the close code RFC 6455 names (1009 too
/// big, 1007 bad UTF-8, 1002 anything else), then end the session.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocket<S>,
    e: tokio_tungstenite::tungstenite::Error,
) -> tokio_tungstenite::tungstenite::Error {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let (code, reason) = match &e {
        WsError::Capacity(_) => (CloseCode::Size, "message too big"),
        WsError::Utf8(_) => (CloseCode::Invalid, "invalid UTF-8 in a text message"),
        WsError::Protocol(_) => (CloseCode::Protocol, "protocol error"),
        _ => return e,
    };
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if ws.close(Some(frame)).await.is_ok() {
        let wait = async { while let Some(Ok(_)) = ws.next().await {} };
        let _ = tokio::time::timeout(CLOSE_GRACE, wait).await;
    }
    e
}

/// Queue a data message for echo; control messages are answered by the WebSocket itself
/// (Pong for Ping, the closing Close), which it flushes on the next read.
async fn feed_data<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocket<S>,
    message: Message,
) -> Result<bool, tokio_tungstenite::tungstenite::Error> {
    match message {
        Message::Text(_) | Message::Binary(_) => {
            ws.feed(message).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}
