//! Open WebSockets through the proxies that stand between users and servers.
//!
//! `ws://` and `wss://`, direct or through HTTP CONNECT proxies (`http://` and `https://`
//! proxy URLs) and SOCKS5 proxies (`socks5://`, `socks5h://`), with proxy authentication
//! (Basic, Digest, SOCKS5 username/password), proxy selection from `HTTP_PROXY`-style
//! variables and `NO_PROXY` as curl reads them, failover along a proxy list, and the
//! target's certificate checked inside the tunnel, and permessage-deflate (RFC 7692) on
//! request. The result is a [`WebSocket`]: a `Stream` and `Sink` of tokio-tungstenite
//! [`Message`](tokio_tungstenite::tungstenite::Message)s.
//!
//! # Layout
//! - [`client`]: [`Client`], [`ClientBuilder`], [`Connection`]: options and the layer order.
//! - [`tls`]: trust options, TLS handshakes and the errors they explain.
//! - [`stream`]: [`Stream`], the boxed byte stream each layer hands to the next.
//! - [`observe`]: [`Event`] and [`Observer`], for `-v` and `--trace`.
//! - [`error`]: [`Error`], sorted by phase and fault.
//! - [`websocket`]: [`WebSocket`], messages over tokio-tungstenite, or yawc when compressed.
//! - [`http1`]: hyper client connections over a [`Stream`] and upgrades (also used by the gateway).
//! - `dial`, `tunnel`, `socks`, `upgrade` (private): TCP, HTTP CONNECT, SOCKS5, the
//!   WebSocket upgrade.
//!
//! # Examples
//! ```no_run
//! # async fn f() -> Result<(), wsvia::Error> {
//! let client = wsvia::Client::builder()
//!     .proxy("http://alice:secret@127.0.0.1:3128")
//!     .build()?;
//! let conn = client.connect("wss://echo.example/").await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
mod dial;
pub mod error;
pub mod http1;
mod ntlm;
pub mod observe;
mod socks;
pub mod stream;
pub mod tls;
mod tunnel;
mod upgrade;
pub mod websocket;

pub use client::{
    Client, ClientBuilder, Connection, DEFAULT_FAILED_PROXY_SKIP, DEFAULT_MAX_MESSAGE_SIZE,
};
pub use error::{Error, ErrorKind, Peer, Phase, Result, TlsFailure};
pub use observe::{Event, Observer};
pub use stream::{Io, Stream};
pub use tokio_tungstenite;
pub use websocket::WebSocket;
pub use wsvia_core;
pub use wsvia_core::deflate::{DeflateOptions, DeflateParams};
