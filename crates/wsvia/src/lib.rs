//! Open WebSockets through the proxies that stand between users and servers.
//!
//! `ws://` and `wss://`, direct or through HTTP CONNECT proxies (`http://` and `https://`
//! proxy URLs), with proxy authentication (Basic, Digest), proxy selection from
//! `HTTP_PROXY`-style variables and `NO_PROXY` as curl reads them, and the target's
//! certificate checked inside the tunnel. The result is a tokio-tungstenite
//! [`WebSocketStream`](tokio_tungstenite::WebSocketStream).
//!
//! # Layout
//! - [`client`]: [`Client`], [`ClientBuilder`], [`Connection`]: options and the layer order.
//! - [`tls`]: trust options, TLS handshakes and the errors they explain.
//! - [`stream`]: [`Stream`], the boxed byte stream each layer hands to the next.
//! - [`observe`]: [`Event`] and [`Observer`], for `-v` and `--trace`.
//! - [`error`]: [`Error`], sorted by phase and fault.
//! - [`http1`]: hyper client connections over a [`Stream`] and upgrades (also used by the gateway).
//! - `dial`, `tunnel`, `upgrade` (private): TCP, HTTP CONNECT, the WebSocket upgrade.
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
pub mod observe;
pub mod stream;
pub mod tls;
mod tunnel;
mod upgrade;

pub use client::{Client, ClientBuilder, Connection, DEFAULT_MAX_MESSAGE_SIZE};
pub use error::{Error, ErrorKind, Peer, Phase, Result, TlsFailure};
pub use observe::{Event, Observer};
pub use stream::{Io, Stream};
pub use tokio_tungstenite;
pub use wsvia_core;
