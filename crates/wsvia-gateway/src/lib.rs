//! The gateway: a WebSocket reverse proxy that keeps idle sockets alive, an SNI router,
//! and a WebSocket-to-TCP bridge.
//!
//! # Layout
//! - [`config`]: [`GatewayConfig`] (flags and TOML) checked into [`Settings`].
//! - [`server`]: [`GatewayServer`]: listeners, TLS, routing, the three ways to serve a request.
//! - [`frames`]: the frame-aware relay with the gateway's own pings; [`frames::scan`]
//!   finds the frame boundaries in a byte stream.
//! - [`bridge`]: WebSocket messages to TCP bytes and back.
//! - [`sni`]: the SNI router: route raw TLS connections by server name, PROXY v2.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bridge;
pub mod config;
pub mod frames;
pub mod server;
pub mod sni;
mod tls;

pub use config::{GatewayConfig, Settings};
pub use server::GatewayServer;
