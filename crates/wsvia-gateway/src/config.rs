//! The gateway's configuration: flags and a TOML file, checked into [`Settings`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use wsvia_core::route::{Route, RouteTable, Upstream};
use wsvia_core::tokens::TokenTable;
use wsvia_server::record::LogFormat;

use crate::sni::SniTable;

/// How a route relays a WebSocket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Read frames: the gateway pings both sides, enforces the message size, counts
    /// messages. Extensions (compression) are not negotiated through it.
    #[default]
    Frames,
    /// Bytes after the `101`, untouched: fastest; subprotocols and extensions pass through.
    Passthrough,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "frames" => Ok(Mode::Frames),
            "passthrough" => Ok(Mode::Passthrough),
            other => Err(format!(
                "unknown mode {other:?} (expected frames or passthrough)"
            )),
        }
    }
}

/// One `[[routes]]` table of the TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RouteConfig {
    /// `PATH=UPSTREAM` or `HOST/PATH=UPSTREAM`.
    pub route: String,
    /// Frames (default) or passthrough.
    pub mode: Option<Mode>,
    /// Allowed `Origin` values; empty: any.
    #[serde(default)]
    pub origins: Vec<String>,
    /// For `tcp://` and `tokens:` routes: accept text messages as bytes.
    #[serde(default)]
    pub allow_text: bool,
}

/// A certificate chosen by SNI (TOML `[[certs]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CertConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Everything `wsvia gateway` can be told; TOML keys are the flag names.
///
/// # Examples
/// ```
/// let cfg: wsvia_gateway::GatewayConfig = toml::from_str(r#"
///     listen = ["127.0.0.1:8080"]
///     route = ["/=ws://127.0.0.1:9001"]
///     ping-interval = 20
///     [[routes]]
///     route = "/raw=ws://127.0.0.1:9002"
///     mode = "passthrough"
/// "#).unwrap();
/// let s = cfg.load().unwrap();
/// assert_eq!(s.routes.routes().len(), 2);
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GatewayConfig {
    /// HTTP (or HTTPS, with TLS) listeners.
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// Routes `[HOST]/PATH=UPSTREAM`, in the default mode.
    #[serde(default)]
    pub route: Vec<String>,
    /// Routes with their own options.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Mode of `route` entries (default frames).
    pub mode: Option<Mode>,
    /// Allowed `Origin` values for `route` entries; empty: any.
    #[serde(default)]
    pub allow_origin: Vec<String>,
    /// For bridge routes given with `route`: accept text messages.
    #[serde(default)]
    pub allow_text: bool,
    /// TLS certificate chain (PEM) for the listeners.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// More certificates, chosen by the client's SNI.
    #[serde(default)]
    pub certs: Vec<CertConfig>,
    /// Seconds between the gateway's pings to both sides (default 30; 0: never).
    pub ping_interval: Option<f64>,
    /// Seconds a side has to answer before it is dropped (default 10).
    pub ping_timeout: Option<f64>,
    /// Largest message relayed in frames mode, in bytes (default 16 MiB; larger: 1009).
    pub max_message_size: Option<usize>,
    /// Extra CA files for `wss://` and `https://` upstreams.
    #[serde(default)]
    pub upstream_cacert: Vec<PathBuf>,
    /// Skip upstream certificate checks.
    #[serde(default)]
    pub upstream_insecure: bool,
    /// Seconds to connect to an upstream (default 10).
    pub connect_timeout: Option<f64>,
    /// Seconds for a request head, or a TLS or SNI ClientHello (default 10).
    pub header_timeout: Option<f64>,
    /// Seconds sessions may run on after SIGTERM (default 30).
    pub grace: Option<f64>,
    /// SNI router listeners.
    #[serde(default)]
    pub sni_listen: Vec<SocketAddr>,
    /// SNI routes `NAME=HOST:PORT` (`*.example.com` wildcards).
    #[serde(default)]
    pub sni_route: Vec<String>,
    /// Backend for names no SNI route matches.
    pub sni_default: Option<String>,
    /// Send PROXY protocol v2 to SNI backends.
    #[serde(default)]
    pub sni_proxy_protocol: bool,
    /// Access-log format.
    pub log_format: Option<LogFormat>,
    /// The admin listener: `/metrics`, the status page, `/api/status` (`metrics` is an alias).
    #[serde(alias = "metrics")]
    pub admin: Option<SocketAddr>,
    /// htpasswd file with the admin listener's own users (required beyond loopback).
    pub admin_auth_file: Option<PathBuf>,
}

/// Per-route options.
#[derive(Debug, Clone, Default)]
pub struct RouteOptions {
    /// Frames or passthrough.
    pub mode: Mode,
    /// Allowed origins; empty: any.
    pub origins: Vec<String>,
    /// Bridge routes: accept text.
    pub allow_text: bool,
}

/// A configuration that cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Nothing to serve.
    #[error("nothing to serve: give --listen with --route, or --sni-listen with --sni-route")]
    Empty,
    /// A route is malformed.
    #[error(transparent)]
    Route(#[from] wsvia_core::route::RouteError),
    /// An SNI route is malformed.
    #[error(transparent)]
    Sni(#[from] crate::sni::SniRouteError),
    /// A token file cannot be used.
    #[error("token file {path}: {reason}")]
    Tokens {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] wsvia::Error),
    /// TLS needs both a certificate and a key.
    #[error("--tls-cert and --tls-key go together")]
    TlsPair,
    /// A duration is not a positive number.
    #[error("invalid {flag} {value}: expected a number of seconds")]
    Duration {
        /// The flag.
        flag: &'static str,
        /// The value.
        value: f64,
    },
    /// The TOML file cannot be used.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong, with line and column.
        message: String,
    },
}

/// The checked, loaded configuration.
pub struct Settings {
    /// HTTP listeners.
    pub listen: Vec<SocketAddr>,
    /// The route table.
    pub routes: RouteTable,
    /// Options by route (keyed by the route's spec).
    pub options: HashMap<String, RouteOptions>,
    /// Token tables by file path.
    pub tokens: HashMap<String, TokenTable>,
    /// TLS for the listeners.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS for `wss://` and `https://` upstreams.
    pub upstream_tls: Arc<rustls::ClientConfig>,
    /// Ping interval (`None`: no pings).
    pub ping_interval: Option<Duration>,
    /// Ping timeout.
    pub ping_timeout: Duration,
    /// Largest message in frames mode.
    pub max_message_size: usize,
    /// Upstream connect timeout.
    pub connect_timeout: Duration,
    /// Head / handshake timeout.
    pub header_timeout: Duration,
    /// Shutdown grace period.
    pub grace: Duration,
    /// SNI listeners.
    pub sni_listen: Vec<SocketAddr>,
    /// SNI routes.
    pub sni: Arc<SniTable>,
    /// PROXY v2 to SNI backends.
    pub sni_proxy_protocol: bool,
    /// Access-log format.
    pub log_format: LogFormat,
    /// Admin listener.
    pub admin: Option<SocketAddr>,
    /// Users of the admin listener (`None`: no credentials asked).
    pub admin_users: Option<Arc<wsvia_server::users::UserDb>>,
}

impl Settings {
    /// The options of `route`.
    pub fn options_of(&self, route: &Route) -> RouteOptions {
        self.options
            .get(&route.to_string())
            .cloned()
            .unwrap_or_default()
    }
}

impl GatewayConfig {
    /// Read a TOML file.
    ///
    /// # Errors
    /// [`ConfigError::File`] with line and column.
    pub fn from_file(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Check everything and load the files it names.
    ///
    /// # Errors
    /// A [`ConfigError`] saying what to change.
    pub fn load(&self) -> Result<Settings, ConfigError> {
        let mut specs: Vec<(String, RouteOptions)> = self
            .route
            .iter()
            .map(|r| {
                (
                    r.clone(),
                    RouteOptions {
                        mode: self.mode.unwrap_or_default(),
                        origins: self.allow_origin.clone(),
                        allow_text: self.allow_text,
                    },
                )
            })
            .collect();
        for r in &self.routes {
            specs.push((
                r.route.clone(),
                RouteOptions {
                    mode: r.mode.or(self.mode).unwrap_or_default(),
                    origins: if r.origins.is_empty() {
                        self.allow_origin.clone()
                    } else {
                        r.origins.clone()
                    },
                    allow_text: r.allow_text || self.allow_text,
                },
            ));
        }
        let mut routes = Vec::new();
        let mut options = HashMap::new();
        let mut tokens = HashMap::new();
        for (spec, opts) in specs {
            let route = Route::parse(&spec)?;
            if let Upstream::Tokens { path } = &route.upstream {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Tokens {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                let table = TokenTable::parse(&text).map_err(|e| ConfigError::Tokens {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                tokens.insert(path.clone(), table);
            }
            options.insert(route.to_string(), opts);
            routes.push(route);
        }
        let routes = RouteTable::from_routes(routes)?;
        let sni_specs: Vec<&str> = self.sni_route.iter().map(String::as_str).collect();
        let sni = SniTable::parse(&sni_specs, self.sni_default.as_deref())?;
        let listen = if self.listen.is_empty() && !routes.routes().is_empty() {
            vec![
                "127.0.0.1:8080"
                    .parse()
                    .expect("the default gateway address parses"),
            ]
        } else {
            self.listen.clone()
        };
        if listen.is_empty() && self.sni_listen.is_empty() {
            return Err(ConfigError::Empty);
        }
        let tls = self.listener_tls()?;
        let upstream_tls = wsvia::tls::client_config(&wsvia::tls::TrustOptions {
            ca_files: self.upstream_cacert.clone(),
            insecure: self.upstream_insecure,
        })?;
        let ping = seconds(self.ping_interval, "--ping-interval", 30.0)?;
        Ok(Settings {
            listen,
            routes,
            options,
            tokens,
            tls,
            upstream_tls,
            ping_interval: (!ping.is_zero()).then_some(ping),
            ping_timeout: positive(self.ping_timeout, "--ping-timeout", 10.0)?,
            max_message_size: self.max_message_size.unwrap_or(16 << 20),
            connect_timeout: positive(self.connect_timeout, "--connect-timeout", 10.0)?,
            header_timeout: positive(self.header_timeout, "--header-timeout", 10.0)?,
            grace: seconds(self.grace, "--grace", 30.0)?,
            sni_listen: self.sni_listen.clone(),
            sni: Arc::new(sni),
            sni_proxy_protocol: self.sni_proxy_protocol,
            log_format: self.log_format.unwrap_or_default(),
            admin: self.admin,
            admin_users: self.admin_users()?,
        })
    }

    fn admin_users(&self) -> Result<Option<Arc<wsvia_server::users::UserDb>>, ConfigError> {
        let users = match &self.admin_auth_file {
            Some(path) => {
                let fail = |message: String| ConfigError::File {
                    path: path.display().to_string(),
                    message,
                };
                let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
                let db = wsvia_server::users::UserDb::parse_htpasswd(&text)
                    .map_err(|e| fail(e.to_string()))?;
                Some(Arc::new(db))
            }
            None => None,
        };
        if let Some(addr) = self.admin {
            wsvia_server::admin::check_exposure(addr, users.is_some()).map_err(|e| {
                ConfigError::File {
                    path: "--admin".into(),
                    message: e.to_string(),
                }
            })?;
        }
        Ok(users)
    }

    fn listener_tls(&self) -> Result<Option<Arc<rustls::ServerConfig>>, ConfigError> {
        let mut pairs: Vec<(PathBuf, PathBuf)> = match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => vec![(c.clone(), k.clone())],
            (None, None) => Vec::new(),
            _ => return Err(ConfigError::TlsPair),
        };
        pairs.extend(self.certs.iter().map(|c| (c.cert.clone(), c.key.clone())));
        match pairs.as_slice() {
            [] => Ok(None),
            [(cert, key)] => Ok(Some(wsvia::tls::server_config(cert, key)?)),
            many => Ok(Some(crate::tls::sni_server_config(many)?)),
        }
    }
}

fn seconds(value: Option<f64>, flag: &'static str, default: f64) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    Duration::try_from_secs_f64(v).map_err(|_| ConfigError::Duration { flag, value: v })
}

fn positive(value: Option<f64>, flag: &'static str, default: f64) -> Result<Duration, ConfigError> {
    let d = seconds(value, flag, default)?;
    if d.is_zero() {
        return Err(ConfigError::Duration { flag, value: 0.0 });
    }
    Ok(d)
}
