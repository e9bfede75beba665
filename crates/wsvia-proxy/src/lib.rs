//! The forward proxy: `CONNECT host:port` tunnels and absolute-form requests (with
//! WebSocket upgrade), authentication, destination rules, and limits that answer.
//!
//! # Layout
//! - [`config`]: [`ProxyConfig`] (flags and TOML) checked into [`config::Settings`].
//! - [`server`]: [`ProxyServer`]: accept loops, the hyper connection, 408, dispatch, drain.
//! - `connect` (private): CONNECT tunnels; `forward` (private): absolute-form requests.
//! - `auth` (private): Basic and Digest checks and the 407; [`users`]: htpasswd/htdigest.
//! - `upstream` (private): destination rules by name and by address, connect timeout.
//! - [`respond`]: every answer the proxy makes itself, with `Proxy-Status`.
//! - [`target`]: `host:port` from CONNECT and absolute URLs.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod auth;
pub mod config;
mod connect;
mod forward;
pub mod respond;
pub mod server;
pub mod target;
mod upstream;
pub use wsvia_server::users;

pub use config::{ProxyConfig, Settings};
pub use server::ProxyServer;
