//! The proxy's configuration: every flag, also settable in a TOML file, and the checks
//! that turn it into running [`Settings`].
//!
//! Files are read and rules parsed here, once per (re)load; a connection keeps the
//! `Arc<Settings>` it started with.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use wsvia_core::acl::{AccessRules, PortSet};
use wsvia_server::budget::Limits;

use crate::users::UserDb;

/// The default listen address: loopback, squid's port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3128";

pub use wsvia_server::record::LogFormat;

/// Everything `wsvia proxy` can be told, as flags or as keys of a TOML file.
///
/// Keys are the flag names without dashes' prefix (`max-tunnels = 1000`); unknown keys
/// are errors. Durations are seconds.
///
/// # Examples
/// ```
/// let cfg: wsvia_proxy::ProxyConfig = toml::from_str(r#"
///     listen = ["127.0.0.1:3128"]
///     max-tunnels = 1000
///     idle-timeout = 600
/// "#).unwrap();
/// assert_eq!(cfg.max_tunnels, Some(1000));
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProxyConfig {
    /// Addresses to listen on (default 127.0.0.1:3128).
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// htpasswd file (bcrypt, apr1, SHA1) for Basic auth.
    pub auth_file: Option<PathBuf>,
    /// htdigest file for Digest auth.
    pub digest_file: Option<PathBuf>,
    /// The realm announced in challenges (default "wsvia").
    pub realm: Option<String>,
    /// Allowed destination ports, e.g. "443,80,8000-9000" (default: any).
    pub allow_ports: Option<String>,
    /// Allowed destinations: names, .domains, addresses, CIDRs.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Denied destinations (deny wins over allow).
    #[serde(default)]
    pub deny: Vec<String>,
    /// Allow loopback, private and link-local destinations when listening beyond loopback.
    #[serde(default)]
    pub allow_private: bool,
    /// Run without authentication on a non-loopback address.
    #[serde(default)]
    pub open: bool,
    /// Tunnels in all.
    pub max_tunnels: Option<usize>,
    /// Tunnels per client address.
    pub max_tunnels_per_client: Option<usize>,
    /// Tunnels per user.
    pub max_tunnels_per_user: Option<usize>,
    /// Seconds a client has to send its request head (408 after).
    pub header_timeout: Option<f64>,
    /// Seconds to connect upstream (504 after).
    pub connect_timeout: Option<f64>,
    /// Seconds a tunnel may stay idle (default: never closed for idleness).
    pub idle_timeout: Option<f64>,
    /// Seconds tunnels may run on after SIGTERM (default 30).
    pub grace: Option<f64>,
    /// Access-log format.
    pub log_format: Option<LogFormat>,
    /// The admin listener: `/metrics`, the status page, `/api/status` (`metrics` is an alias).
    #[serde(alias = "metrics")]
    pub admin: Option<SocketAddr>,
    /// htpasswd file with the admin listener's own users (required beyond loopback).
    pub admin_auth_file: Option<PathBuf>,
}

/// A configuration that cannot run, with what to change.
///
/// # Examples
/// ```
/// let e = wsvia_proxy::config::ConfigError::OpenRelay { addr: "0.0.0.0:3128".parse().unwrap() };
/// assert!(e.to_string().contains("--open"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A non-loopback listener without auth and without `--open`.
    #[error(
        "refusing to run an open proxy on {addr}: anyone who reaches it could relay through it; \
         give --auth-file or --digest-file, or --open to accept that"
    )]
    OpenRelay {
        /// The listener.
        addr: SocketAddr,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A password file is malformed.
    #[error("{path}: {source}")]
    Users {
        /// The file.
        path: String,
        /// Why.
        source: crate::users::UsersError,
    },
    /// A destination rule is malformed.
    #[error("invalid {flag}: {source}")]
    Rule {
        /// The flag, e.g. `--allow`.
        flag: &'static str,
        /// Why.
        source: wsvia_core::acl::AclError,
    },
    /// A duration is negative, not a number, or zero where that makes no sense.
    #[error("invalid {flag} {value}: expected a positive number of seconds")]
    Duration {
        /// The flag.
        flag: &'static str,
        /// The value.
        value: f64,
    },
    /// The admin listener would expose tunnels without credentials.
    #[error("{0}")]
    Admin(String),
    /// The TOML file is malformed.
    #[error("{path}: {message}")]
    Toml {
        /// The file.
        path: String,
        /// toml's message, with line and column.
        message: String,
    },
}

/// The checked, loaded configuration a connection runs with.
#[derive(Debug)]
pub struct Settings {
    /// Where to listen.
    pub listen: Vec<SocketAddr>,
    /// Users for Basic and Digest; empty: no authentication.
    pub users: UserDb,
    /// The realm in challenges.
    pub realm: String,
    /// Destination rules.
    pub rules: AccessRules,
    /// Tunnel limits.
    pub limits: Limits,
    /// Request-head timeout.
    pub header_timeout: Duration,
    /// Upstream connect timeout.
    pub connect_timeout: Duration,
    /// Idle timeout for tunnels.
    pub idle_timeout: Option<Duration>,
    /// Shutdown grace period.
    pub grace: Duration,
    /// Access-log format.
    pub log_format: LogFormat,
    /// Admin listener.
    pub admin: Option<SocketAddr>,
    /// Users of the admin listener (`None`: no credentials asked).
    pub admin_users: Option<Arc<UserDb>>,
}

impl Settings {
    /// Whether requests must authenticate.
    ///
    /// # Examples
    /// ```
    /// let s = wsvia_proxy::ProxyConfig::default().load().unwrap();
    /// assert!(!s.auth_required());
    /// ```
    pub fn auth_required(&self) -> bool {
        !self.users.is_empty()
    }
}

impl ProxyConfig {
    /// Read a TOML file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Toml`] (with line and column).
    ///
    /// # Examples
    /// ```no_run
    /// let cfg = wsvia_proxy::ProxyConfig::from_file("proxy.toml".as_ref()).unwrap();
    /// ```
    pub fn from_file(path: &Path) -> Result<ProxyConfig, ConfigError> {
        let text = read(path)?;
        toml::from_str(&text).map_err(|e| ConfigError::Toml {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Check everything and load the files it names.
    ///
    /// # Errors
    /// A [`ConfigError`] saying what to change.
    ///
    /// # Examples
    /// ```
    /// let mut cfg = wsvia_proxy::ProxyConfig::default();
    /// cfg.listen = vec!["0.0.0.0:3128".parse().unwrap()];
    /// assert!(cfg.load().is_err(), "an open relay is refused");
    /// cfg.open = true;
    /// let s = cfg.load().unwrap();
    /// assert!(!s.rules.allow_private, "beyond loopback, private destinations are denied");
    /// ```
    pub fn load(&self) -> Result<Settings, ConfigError> {
        let listen = if self.listen.is_empty() {
            vec![
                DEFAULT_LISTEN
                    .parse()
                    .expect("the default listen address parses"),
            ]
        } else {
            self.listen.clone()
        };
        let mut users = UserDb::default();
        if let Some(path) = &self.auth_file {
            let db = UserDb::parse_htpasswd(&read(path)?).map_err(|source| ConfigError::Users {
                path: path.display().to_string(),
                source,
            })?;
            users = users.merge(db);
        }
        if let Some(path) = &self.digest_file {
            let db = UserDb::parse_htdigest(&read(path)?).map_err(|source| ConfigError::Users {
                path: path.display().to_string(),
                source,
            })?;
            users = users.merge(db);
        }
        let loopback_only = listen.iter().all(|a| is_loopback(a.ip()));
        if let Some(addr) = listen.iter().find(|a| !is_loopback(a.ip())) {
            if users.is_empty() && !self.open {
                return Err(ConfigError::OpenRelay { addr: *addr });
            }
        }
        let rules = AccessRules {
            allow_ports: match &self.allow_ports {
                Some(p) => Some(PortSet::parse(p).map_err(|source| ConfigError::Rule {
                    flag: "--allow-ports",
                    source,
                })?),
                None => None,
            },
            allow: parse_lists(&self.allow, "--allow")?,
            deny: parse_lists(&self.deny, "--deny")?,
            allow_private: loopback_only || self.allow_private,
        };
        Ok(Settings {
            listen,
            users,
            realm: self.realm.clone().unwrap_or_else(|| "wsvia".to_owned()),
            rules,
            limits: Limits {
                max_total: self.max_tunnels,
                per_client: self.max_tunnels_per_client,
                per_user: self.max_tunnels_per_user,
                ..Limits::default()
            },
            header_timeout: seconds(self.header_timeout, "--header-timeout", 10.0)?,
            connect_timeout: seconds(self.connect_timeout, "--connect-timeout", 10.0)?,
            idle_timeout: match self.idle_timeout {
                Some(v) => Some(seconds(Some(v), "--idle-timeout", 0.0)?),
                None => None,
            },
            grace: seconds(self.grace, "--grace", 30.0)?,
            log_format: self.log_format.unwrap_or_default(),
            admin: self.admin,
            admin_users: self.admin_users()?,
        })
    }
}

/// Shared handle to the current settings.
pub type SharedSettings = Arc<Settings>;

impl ProxyConfig {
    fn admin_users(&self) -> Result<Option<Arc<UserDb>>, ConfigError> {
        let users = match &self.admin_auth_file {
            Some(path) => Some(Arc::new(UserDb::parse_htpasswd(&read(path)?).map_err(
                |source| ConfigError::Users {
                    path: path.display().to_string(),
                    source,
                },
            )?)),
            None => None,
        };
        if let Some(addr) = self.admin {
            wsvia_server::admin::check_exposure(addr, users.is_some())
                .map_err(|e| ConfigError::Admin(e.to_string()))?;
        }
        Ok(users)
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn parse_lists(
    lists: &[String],
    flag: &'static str,
) -> Result<Vec<wsvia_core::acl::Destination>, ConfigError> {
    let mut all = Vec::new();
    for list in lists {
        all.extend(
            AccessRules::parse_list(list).map_err(|source| ConfigError::Rule { flag, source })?,
        );
    }
    Ok(all)
}

fn seconds(value: Option<f64>, flag: &'static str, default: f64) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    if value.is_some() && v <= 0.0 {
        return Err(ConfigError::Duration { flag, value: v });
    }
    Duration::try_from_secs_f64(v).map_err(|_| ConfigError::Duration { flag, value: v })
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_defaults_allow_everything_and_need_no_auth() {
        let s = ProxyConfig::default().load().unwrap();
        assert_eq!(
            s.listen,
            vec!["127.0.0.1:3128".parse::<SocketAddr>().unwrap()]
        );
        assert!(s.rules.allow_private);
        assert!(!s.auth_required());
        assert_eq!(
            s.idle_timeout, None,
            "WebSockets live long: no idle timeout by default"
        );
        assert_eq!(s.grace, Duration::from_secs(30));
    }

    #[test]
    fn beyond_loopback_needs_auth_or_open_and_denies_private_unless_allowed() {
        let mut cfg = ProxyConfig {
            listen: vec![
                "0.0.0.0:3128".parse().unwrap(),
                "[::1]:3128".parse().unwrap(),
            ],
            ..Default::default()
        };
        assert!(matches!(cfg.load(), Err(ConfigError::OpenRelay { .. })));
        cfg.open = true;
        assert!(!cfg.load().unwrap().rules.allow_private);
        cfg.allow_private = true;
        assert!(cfg.load().unwrap().rules.allow_private);
    }

    #[test]
    fn toml_files_name_their_errors_and_refuse_unknown_keys() {
        let err = toml::from_str::<ProxyConfig>("max-tunnel = 3").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let cfg: ProxyConfig = toml::from_str(
            "allow-ports = \"443\"\ndeny = [\"10.0.0.0/8\"]\nlog-format = \"json\"\ngrace = 2.5",
        )
        .unwrap();
        let s = cfg.load().unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.grace, Duration::from_millis(2500));
        assert!(s.rules.allow_ports.is_some());
    }

    #[test]
    fn bad_values_are_errors_naming_the_flag() {
        let cfg = ProxyConfig {
            connect_timeout: Some(-1.0),
            ..Default::default()
        };
        assert!(
            cfg.load()
                .unwrap_err()
                .to_string()
                .contains("--connect-timeout")
        );
        let cfg = ProxyConfig {
            deny: vec!["10.0.0.0/99".into()],
            ..Default::default()
        };
        assert!(cfg.load().unwrap_err().to_string().contains("--deny"));
    }
}
