//! Sans-IO building blocks shared by every wsvia role.
//!
//! Nothing in this crate opens a socket, reads a clock or touches the process
//! environment: each function takes bytes or values and returns values, so every
//! decision is testable table-driven and fuzzable.
//!
//! # Layout
//! - [`proxy_url`]: parse `http://user:pass@host:port` style proxy URLs (curl's rules).
//! - [`no_proxy`]: `no_proxy` / `NO_PROXY` / `--noproxy` lists and their matching rules.
//! - [`select`]: pick the proxies (a list, tried in order) for a target from flags and an
//!   environment snapshot.
//! - [`acl`]: destination rules for a proxy: ports, host and CIDR allow/deny, private ranges.
//! - [`auth`]: proxy credentials and the `Basic` answer.
//! - [`backoff`]: reconnect delays (exponential backoff with jitter) and `Retry-After`.
//! - [`challenge`]: parse `Proxy-Authenticate` / `WWW-Authenticate` challenges (every scheme).
//! - [`deflate`]: permessage-deflate (RFC 7692) offers, answers and their checks.
//! - [`digest`]: answer a `Digest` challenge (RFC 7616).
//! - [`sni`]: peek the server name and ALPN list from a TLS ClientHello.
//! - [`proxy_protocol`]: encode and decode the PROXY protocol v2 header (HAProxy).
//! - [`route`]: the gateway's `[HOST]/PATH=UPSTREAM` route table and upstream paths.
//! - [`tokens`]: websockify token files and the `token` query parameter.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod acl;
pub mod auth;
pub mod backoff;
pub mod challenge;
pub mod deflate;
pub mod digest;
pub mod no_proxy;
pub mod proxy_protocol;
pub mod proxy_url;
pub mod route;
pub mod select;
pub mod sni;
pub mod tokens;

pub use auth::Credentials;
pub use challenge::{Challenge, parse_challenges};
pub use no_proxy::NoProxy;
pub use proxy_url::{ProxyChoice, ProxyScheme, ProxyUrl, ProxyUrlError};
pub use select::{EnvSnapshot, ProxySelector, Selection, SelectionReason, Target, TargetScheme};
