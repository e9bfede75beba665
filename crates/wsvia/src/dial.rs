//! The first hop: resolve a name and open a TCP connection, trying each address in turn.

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpStream;

use crate::error::{Error, Peer};

/// A TCP connection and the address it reached.
pub(crate) struct Dialed {
    pub(crate) stream: TcpStream,
    pub(crate) addr: SocketAddr,
}

/// Resolve `host` and connect to the first address that answers.
///
/// `label` names the peer in errors (the redacted proxy URL, or `host:port`).
pub(crate) async fn tcp(peer: Peer, host: &str, port: u16, label: &str) -> Result<Dialed, Error> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| Error::Resolve {
            peer,
            host: host.to_owned(),
            source,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Small WebSocket frames must not wait for Nagle's algorithm.
                let _ = stream.set_nodelay(true);
                return Ok(Dialed { stream, addr });
            }
            Err(e) => last = e,
        }
    }
    Err(match peer {
        Peer::Proxy => Error::ProxyUnreachable {
            proxy: label.to_owned(),
            source: last,
        },
        Peer::Target => Error::TargetUnreachable {
            addr: label.to_owned(),
            source: last,
        },
    })
}
