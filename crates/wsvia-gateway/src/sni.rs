//! The SNI router: read a TLS ClientHello without terminating TLS, pick a backend by its
//! server name, optionally tell the backend who the client is (PROXY protocol v2), then
//! relay raw bytes. An unknown name or a ClientHello that does not parse is closed with a
//! log line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsvia_core::sni::{Peek, peek_client_hello};
use wsvia_server::drain::Drain;
use wsvia_server::record::{CloseReason, TunnelRecord};
use wsvia_server::relay::{Counters, Early, RelayOptions, relay};

/// Largest ClientHello read before giving up.
const MAX_HELLO: usize = 16 * 1024;

/// Why an SNI route spec is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid SNI route {spec:?}: {reason} (expected NAME=HOST:PORT, NAME may be *.example.com)"
)]
pub struct SniRouteError {
    spec: String,
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NameMatch {
    Exact(String),
    /// `*.example.com`: any name ending in `.example.com`.
    Suffix(String),
}

/// Server names to backends.
///
/// # Examples
/// ```
/// let t = wsvia_gateway::sni::SniTable::parse(&["a.example=127.0.0.1:8443", "*.example=127.0.0.1:9443"], None).unwrap();
/// assert_eq!(t.lookup(Some("a.example")), Some("127.0.0.1:8443"));
/// assert_eq!(t.lookup(Some("b.example")), Some("127.0.0.1:9443"));
/// assert_eq!(t.lookup(Some("example")), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SniTable {
    routes: Vec<(NameMatch, String)>,
    default: Option<String>,
}

impl SniTable {
    /// Parse `NAME=HOST:PORT` specs and an optional default backend.
    ///
    /// # Errors
    /// [`SniRouteError`] naming the bad spec.
    ///
    /// # Examples
    /// See [`SniTable`].
    pub fn parse(specs: &[&str], default: Option<&str>) -> Result<SniTable, SniRouteError> {
        let mut routes = Vec::new();
        for spec in specs {
            let bad = |reason: &str| SniRouteError {
                spec: spec.to_string(),
                reason: reason.to_owned(),
            };
            let (name, backend) = spec.split_once('=').ok_or_else(|| bad("no '='"))?;
            let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
            check_backend(backend.trim()).map_err(|r| bad(&r))?;
            let matcher = match name.strip_prefix("*.") {
                Some(suffix) if !suffix.is_empty() => NameMatch::Suffix(format!(".{suffix}")),
                _ if name.is_empty() || name.contains('*') => {
                    return Err(bad("the name is empty or has a misplaced '*'"));
                }
                _ => NameMatch::Exact(name),
            };
            routes.push((matcher, backend.trim().to_owned()));
        }
        if let Some(d) = default {
            check_backend(d).map_err(|reason| SniRouteError {
                spec: d.to_owned(),
                reason,
            })?;
        }
        Ok(SniTable {
            routes,
            default: default.map(str::to_owned),
        })
    }

    /// The backend for `name`: an exact match first, then the longest wildcard, then the
    /// default.
    ///
    /// # Examples
    /// See [`SniTable`].
    pub fn lookup(&self, name: Option<&str>) -> Option<&str> {
        let found = name.and_then(|name| {
            let exact = self
                .routes
                .iter()
                .find(|(m, _)| matches!(m, NameMatch::Exact(e) if e == name));
            let wildcard = self
                .routes
                .iter()
                .filter(|(m, _)| matches!(m, NameMatch::Suffix(s) if name.ends_with(s.as_str())))
                .max_by_key(|(m, _)| match m {
                    NameMatch::Suffix(s) => s.len(),
                    NameMatch::Exact(_) => 0,
                });
            exact.or(wildcard).map(|(_, b)| b.as_str())
        });
        found.or(self.default.as_deref())
    }
}

fn check_backend(backend: &str) -> Result<(), String> {
    let (host, port) = backend
        .rsplit_once(':')
        .ok_or_else(|| "the backend needs HOST:PORT".to_owned())?;
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err("the backend needs a host and a port 1-65535".into());
    }
    Ok(())
}

/// How the router runs.
#[derive(Debug, Clone)]
pub struct SniOptions {
    /// Names to backends.
    pub table: Arc<SniTable>,
    /// Send a PROXY protocol v2 header to the backend first.
    pub proxy_protocol: bool,
    /// Time for the ClientHello to arrive, and for the backend connection.
    pub timeout: Duration,
    /// Write access-log lines as JSON.
    pub json_log: bool,
}

/// The options a new connection is routed with (read per connection, so a reload applies).
pub type CurrentOptions = Arc<dyn Fn() -> Arc<SniOptions> + Send + Sync>;

/// Accept on `listener` and route each connection until the drain stops accepting.
pub async fn serve(listener: TcpListener, current: CurrentOptions, drain: Drain) {
    let stop = drain.stop_token();
    let cut = drain.cut_token();
    wsvia_server::accept::accept_until(listener, stop, drain, move |tcp, client| {
        let options = current();
        let cut = cut.clone();
        async move {
            let record = route_one(tcp, client, &options, cut).await;
            let line = if options.json_log {
                record.json()
            } else {
                record.plain()
            };
            println!("{line}");
        }
    })
    .await;
}

async fn route_one(
    mut tcp: TcpStream,
    client: SocketAddr,
    options: &SniOptions,
    cut: tokio_util::sync::CancellationToken,
) -> TunnelRecord {
    wsvia_server::sockopt::tune(&tcp);
    let started = Instant::now();
    let mut record = TunnelRecord {
        client,
        user: None,
        method: "SNI".into(),
        target: "-".into(),
        status: 0,
        bytes_up: 0,
        bytes_down: 0,
        duration: Duration::ZERO,
        reason: CloseReason::BadRequest,
    };
    let name = match read_hello(&mut tcp, options.timeout).await {
        Ok((name, hello)) => {
            record.target = name.clone().unwrap_or_else(|| "(no SNI)".into());
            match options.table.lookup(name.as_deref()) {
                Some(backend) => Some((backend.to_owned(), hello)),
                None => {
                    tracing::warn!(%client, name = record.target, "no SNI route for this name; closing");
                    None
                }
            }
        }
        Err(why) => {
            tracing::warn!(%client, reason = why, "not a usable TLS ClientHello; closing");
            None
        }
    };
    let Some((backend, hello)) = name else {
        record.duration = started.elapsed();
        return record;
    };
    record.target = format!("{} -> {backend}", record.target);
    let mut upstream =
        match tokio::time::timeout(options.timeout, TcpStream::connect(&backend)).await {
            Ok(Ok(s)) => s,
            _ => {
                tracing::warn!(%client, %backend, "SNI backend unreachable");
                record.reason = CloseReason::UpstreamError;
                record.duration = started.elapsed();
                return record;
            }
        };
    wsvia_server::sockopt::tune(&upstream);
    if options.proxy_protocol {
        // The backend learns the client's address and the address it connected to here.
        let header = match tcp.local_addr() {
            Ok(dest) => wsvia_core::proxy_protocol::encode_v2(client, dest),
            Err(_) => wsvia_core::proxy_protocol::encode_v2_local(),
        };
        if upstream.write_all(&header).await.is_err() {
            record.reason = CloseReason::UpstreamError;
            record.duration = started.elapsed();
            return record;
        }
    }
    let counters = Arc::new(Counters::default());
    let relay_options = RelayOptions {
        idle_timeout: None,
        cut,
    };
    let early = Early {
        up: hello.into(),
        down: Default::default(),
    };
    record.reason = relay(&mut tcp, &mut upstream, early, &counters, &relay_options).await;
    record.status = 200;
    record.bytes_up = counters.up();
    record.bytes_down = counters.down();
    record.duration = started.elapsed();
    record
}

/// Read until the ClientHello is complete: its server name and every byte read.
async fn read_hello(
    tcp: &mut TcpStream,
    limit: Duration,
) -> Result<(Option<String>, Vec<u8>), String> {
    let mut buf = Vec::with_capacity(1024);
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match peek_client_hello(&buf) {
            Ok(Peek::Hello { server_name, .. }) => return Ok((server_name, buf)),
            Ok(Peek::NotTls) => return Err("the client does not speak TLS".into()),
            Err(e) => return Err(e.to_string()),
            Ok(Peek::NeedMore) if buf.len() >= MAX_HELLO => {
                return Err("ClientHello too large".into());
            }
            Ok(Peek::NeedMore) => {}
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut chunk))
            .await
            .map_err(|_| "no ClientHello in time".to_owned())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the client closed before its ClientHello ended".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_beat_wildcards_and_the_longest_wildcard_wins() {
        let t = SniTable::parse(
            &[
                "api.example.com=127.0.0.1:1",
                "*.example.com=127.0.0.1:2",
                "*.eu.example.com=127.0.0.1:3",
            ],
            Some("127.0.0.1:9"),
        )
        .unwrap();
        assert_eq!(t.lookup(Some("api.example.com")), Some("127.0.0.1:1"));
        assert_eq!(t.lookup(Some("www.example.com")), Some("127.0.0.1:2"));
        assert_eq!(t.lookup(Some("a.eu.example.com")), Some("127.0.0.1:3"));
        assert_eq!(t.lookup(Some("example.com")), Some("127.0.0.1:9"));
        assert_eq!(t.lookup(None), Some("127.0.0.1:9"));
    }

    #[test]
    fn bad_specs_are_refused() {
        for spec in [
            "noequals",
            "a.example=nohost",
            "a.example=h:0",
            "*=h:1",
            "a.*.example=h:1",
            "=h:1",
        ] {
            assert!(SniTable::parse(&[spec], None).is_err(), "{spec}");
        }
    }
}
