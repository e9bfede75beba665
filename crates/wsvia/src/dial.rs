//! The first hop: resolve a name and open a TCP connection, trying each address in turn.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

use crate::error::{Error, Peer};

/// A TCP connection and the address it reached.
pub(crate) struct Dialed {
    pub(crate) stream: TcpStream,
    pub(crate) addr: SocketAddr,
}

/// Resolve `host` and connect to the first address that answers.
///
/// `label` names the peer in errors (the redacted proxy URL, or `host:port`). With `local`,
/// the socket is bound to that source address first and addresses of the other family
/// are skipped.
pub(crate) async fn tcp(
    peer: Peer,
    host: &str,
    port: u16,
    label: &str,
    local: Option<IpAddr>,
) -> Result<Dialed, Error> {
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
        match connect(addr, local).await {
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

/// Connect to `addr`, from `local` (any port) when given.
async fn connect(addr: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let Some(local) = local else {
        return TcpStream::connect(addr).await;
    };
    let socket = match (local, addr) {
        (IpAddr::V4(_), SocketAddr::V4(_)) => TcpSocket::new_v4()?,
        (IpAddr::V6(_), SocketAddr::V6(_)) => TcpSocket::new_v6()?,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("the local address {local} cannot reach {addr}"),
            ));
        }
    };
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_address_is_the_source_the_server_sees() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let local: IpAddr = [127, 0, 0, 3].into();
        let dialed = tcp(Peer::Target, "127.0.0.1", port, "t", Some(local))
            .await
            .unwrap_or_else(|_| panic!("dial from {local}"));
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(peer.ip(), local);
        assert_eq!(dialed.stream.local_addr().unwrap().ip(), local);
    }

    #[tokio::test]
    async fn a_local_address_of_the_other_family_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let v6: IpAddr = "::1".parse().unwrap();
        assert!(
            tcp(Peer::Target, "127.0.0.1", port, "t", Some(v6))
                .await
                .is_err()
        );
    }
}
