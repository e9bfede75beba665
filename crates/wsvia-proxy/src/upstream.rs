//! Reaching the destination: rules by name, resolve, rules by address (so a name cannot
//! rebind to a private address), connect within the timeout.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;
use wsvia_core::acl::{AccessRules, Verdict};

use crate::respond::Refusal;
use crate::target::Target;

/// Check, resolve and connect to `target`, or say why not.
pub(crate) async fn connect(
    target: &Target,
    rules: &AccessRules,
    limit: Duration,
) -> Result<TcpStream, Refusal> {
    if let Verdict::Deny(denial) = rules.check_name(&target.host, target.port) {
        return Err(Refusal::Forbidden {
            detail: denial.to_string(),
        });
    }
    let deadline = Instant::now() + limit;
    let timeout = || Refusal::ConnectTimeout {
        detail: format!("no connection to {target} within {limit:?}"),
    };
    let addrs = tokio::time::timeout_at(deadline, resolve(target))
        .await
        .map_err(|_| timeout())??;
    let mut allowed = Vec::new();
    let mut first_denial = None;
    for addr in addrs {
        match rules.check_address(&target.host, addr.ip(), target.port) {
            Verdict::Allow => allowed.push(addr),
            Verdict::Deny(d) => {
                first_denial.get_or_insert(d);
            }
        }
    }
    if allowed.is_empty() {
        return Err(Refusal::Forbidden {
            detail: first_denial
                .map(|d| d.to_string())
                .unwrap_or_else(|| format!("{} has no address", target.host)),
        });
    }
    let mut last: Option<io::Error> = None;
    for addr in allowed {
        match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => return Err(timeout()),
            Ok(Ok(stream)) => {
                wsvia_server::sockopt::tune(&stream);
                return Ok(stream);
            }
            Ok(Err(e)) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| io::Error::other("no address to try"));
    let detail = format!("{target}: {e}");
    Err(match e.kind() {
        io::ErrorKind::ConnectionRefused => Refusal::ConnectionRefused { detail },
        io::ErrorKind::TimedOut => Refusal::ConnectTimeout { detail },
        _ => Refusal::Unavailable { detail },
    })
}

async fn resolve(target: &Target) -> Result<Vec<SocketAddr>, Refusal> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }
    match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
        Ok(addrs) => Ok(addrs.collect()),
        Err(e) => Err(Refusal::DnsError {
            detail: format!("cannot resolve {}: {e}", target.host),
        }),
    }
}
