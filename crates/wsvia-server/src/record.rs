//! One record per request or tunnel when it ends: the access log line, and what the
//! metrics and the status page count.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a tunnel or request ended. Also a metrics label, so names are stable snake_case.
///
/// # Examples
/// ```
/// use wsvia_server::record::CloseReason;
/// assert_eq!(CloseReason::IdleTimeout.as_str(), "idle_timeout");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CloseReason {
    /// The client closed first.
    ClientClose,
    /// The upstream closed first.
    UpstreamClose,
    /// Reading from or writing to the client failed.
    ClientError,
    /// Reading from or writing to the upstream failed, or it could not be reached.
    UpstreamError,
    /// No byte moved for the idle timeout.
    IdleTimeout,
    /// A peer stopped answering pings.
    PingTimeout,
    /// The server was shutting down and the grace period ended.
    Drain,
    /// The destination rules refused it.
    AclDeny,
    /// Authentication failed or was missing.
    AuthFail,
    /// A tunnel limit was reached.
    Limit,
    /// The request was malformed or timed out before its head was complete.
    BadRequest,
    /// A plain request was answered (absolute-form forwarding, an error response).
    Answered,
}

impl CloseReason {
    /// The snake_case name used in logs and metrics labels.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(wsvia_server::record::CloseReason::Drain.as_str(), "drain");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClose => "client_close",
            CloseReason::UpstreamClose => "upstream_close",
            CloseReason::ClientError => "client_error",
            CloseReason::UpstreamError => "upstream_error",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::PingTimeout => "ping_timeout",
            CloseReason::Drain => "drain",
            CloseReason::AclDeny => "acl_deny",
            CloseReason::AuthFail => "auth_fail",
            CloseReason::Limit => "limit",
            CloseReason::BadRequest => "bad_request",
            CloseReason::Answered => "answered",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the access log says about one request or tunnel. Never credentials or
/// payloads.
///
/// # Examples
/// ```
/// use wsvia_server::record::{CloseReason, TunnelRecord};
/// let r = TunnelRecord {
///     client: "127.0.0.1:50000".parse().unwrap(),
///     user: Some("alice".into()),
///     method: "CONNECT".into(),
///     target: "example.com:443".into(),
///     status: 200,
///     bytes_up: 10,
///     bytes_down: 20,
///     duration: std::time::Duration::from_millis(1500),
///     reason: CloseReason::ClientClose,
/// };
/// assert_eq!(
///     r.plain(),
///     "127.0.0.1:50000 alice CONNECT example.com:443 200 up=10 down=20 1.500s client_close"
/// );
/// assert!(r.json().contains("\"reason\":\"client_close\""));
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct TunnelRecord {
    /// The client's address.
    pub client: SocketAddr,
    /// The authenticated user, if any.
    pub user: Option<String>,
    /// `CONNECT`, `GET`, …
    pub method: String,
    /// `host:port` for CONNECT, the absolute URL for forwarded requests.
    pub target: String,
    /// The status we answered (0 when none was sent).
    pub status: u16,
    /// Bytes from the client to the upstream.
    pub bytes_up: u64,
    /// Bytes from the upstream to the client.
    pub bytes_down: u64,
    /// From the request head to the end.
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    /// Why it ended.
    pub reason: CloseReason,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl TunnelRecord {
    /// The plain access-log line: `client user method target status up= down= secs reason`.
    ///
    /// # Examples
    /// See [`TunnelRecord`].
    pub fn plain(&self) -> String {
        format!(
            "{} {} {} {} {} up={} down={} {:.3}s {}",
            self.client,
            self.user.as_deref().unwrap_or("-"),
            self.method,
            self.target,
            self.status,
            self.bytes_up,
            self.bytes_down,
            self.duration.as_secs_f64(),
            self.reason
        )
    }

    /// The JSON access-log line (one object, no newline).
    ///
    /// # Examples
    /// See [`TunnelRecord`].
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// Access-log line format.
///
/// # Examples
/// ```
/// assert_eq!(wsvia_server::record::LogFormat::default(), wsvia_server::record::LogFormat::Plain);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `client user method target status up= down= secs reason`
    #[default]
    Plain,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Render `record` as one access-log line in this format.
    ///
    /// # Examples
    /// ```
    /// use wsvia_server::record::{CloseReason, LogFormat, TunnelRecord};
    /// let r = TunnelRecord {
    ///     client: "127.0.0.1:1".parse().unwrap(), user: None, method: "GET".into(),
    ///     target: "/".into(), status: 101, bytes_up: 0, bytes_down: 0,
    ///     duration: Default::default(), reason: CloseReason::ClientClose,
    /// };
    /// assert!(LogFormat::Json.line(&r).starts_with('{'));
    /// ```
    pub fn line(self, record: &TunnelRecord) -> String {
        match self {
            LogFormat::Plain => record.plain(),
            LogFormat::Json => record.json(),
        }
    }
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "plain" => Ok(LogFormat::Plain),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?} (expected plain or json)"
            )),
        }
    }
}
