//! What wsvia's servers (the forward proxy and the gateway) share.
//!
//! # Layout
//! - [`accept`]: the accept loop of every listener: a drain-tracked task and a log span per
//!   connection; failed accepts are retried.
//! - [`admin`]: the admin listener: `/metrics`, the live status page, `/api/status`.
//! - [`relay`]: join two TCP streams until one side ends, counting bytes, with an
//!   optional idle timeout; buffers exist only while bytes flow, so idle tunnels cost
//!   almost nothing.
//! - [`budget`]: tunnel limits (total, per client address, per user) whose guard frees the
//!   slot when the tunnel ends; a refusal says which limit and when to retry.
//! - [`record`]: one [`record::TunnelRecord`] per request or tunnel, rendered as an access
//!   log line (plain or JSON); [`record::CloseReason`] names why it ended.
//! - [`handshake`]: the server side of the WebSocket handshake: checks, 400/426, the `101`.
//! - [`http`]: the response body type and plain-text answers of the HTTP servers.
//! - [`metrics`]: Prometheus metrics named `wsvia_<role>_<what>_<unit>`, served at `/metrics`.
//! - [`registry`]: live tunnels, totals and throughput history for the status page.
//! - [`drain`]: stop accepting on a signal, let tunnels finish for a grace period, then
//!   cut them.
//! - [`reload`]: swappable settings snapshots and the listeners a reload adds and removes.
//! - [`users`]: htpasswd (bcrypt, apr1, SHA1) and htdigest files, checked in constant time.
//! - [`sockopt`]: TCP keepalive and `TCP_NODELAY` on accepted and dialed sockets.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod accept;
pub mod admin;
pub mod budget;
pub mod drain;
pub mod handshake;
pub mod http;
pub mod metrics;
pub mod record;
pub mod registry;
pub mod relay;
pub mod reload;
pub mod sockopt;
pub mod users;
