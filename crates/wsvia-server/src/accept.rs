//! The accept loop every listener runs: each connection becomes a task the drain waits
//! for, inside its own log span; a failed `accept` (out of descriptors, a handshake the
//! client aborted) is logged and retried, so the open connections keep being served.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::drain::Drain;

/// How long to wait before accepting again after `accept` failed.
///
/// # Examples
/// ```
/// assert!(wsvia_server::accept::RETRY_AFTER < std::time::Duration::from_secs(1));
/// ```
pub const RETRY_AFTER: Duration = Duration::from_millis(50);

/// Accept on `listener` until `stop` fires, and run `serve(tcp, client)` for each
/// connection as a task of `drain`, inside a span `conn{id, peer, side = "client"}`
/// (at debug level).
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// use tokio::io::AsyncWriteExt;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let drain = wsvia_server::drain::Drain::new();
/// let stop = drain.stop_token();
/// let accepting = tokio::spawn(wsvia_server::accept::accept_until(
///     listener,
///     stop.clone(),
///     drain.clone(),
///     |mut tcp, _client| async move {
///         let _ = tcp.write_all(b"hello\n").await;
///     },
/// ));
/// let mut conn = tokio::net::TcpStream::connect(addr).await?;
/// let mut line = String::new();
/// tokio::io::AsyncReadExt::read_to_string(&mut conn, &mut line).await?;
/// assert_eq!(line, "hello\n");
/// stop.cancel();
/// accepting.await.unwrap();
/// # Ok(()) }
/// ```
pub async fn accept_until<S, F>(
    listener: TcpListener,
    stop: CancellationToken,
    drain: Drain,
    mut serve: S,
) where
    S: FnMut(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    loop {
        let (tcp, client) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    if is_transient(&e) {
                        tracing::warn!(error = %e, "accept failed; continuing");
                    } else {
                        tracing::error!(error = %e, "accept failed; continuing");
                    }
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            },
        };
        // One span per connection; the tasks it spawns (tunnels, relays) run inside it too.
        // At debug level only: entering and leaving an enabled span at each wake-up took
        // about a fifth of a relay's user-space instructions per message (callgrind), and
        // the warnings name the client themselves.
        let span =
            tracing::debug_span!("conn", id = next_conn_id(), peer = %client, side = "client");
        drain.spawn(serve(tcp, client).instrument(span));
    }
}

/// Connection numbers for log spans, unique in the process.
fn next_conn_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Whether a failed `accept` says nothing about the listener itself, so the next one may
/// well work: out of descriptors, or a client that gave up during the handshake.
///
/// # Examples
/// ```
/// use std::io;
/// use wsvia_server::accept::is_transient;
/// assert!(is_transient(&io::Error::from_raw_os_error(24))); // EMFILE
/// assert!(!is_transient(&io::Error::from(io::ErrorKind::PermissionDenied)));
/// ```
pub fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || matches!(e.raw_os_error(), Some(23 | 24)) // ENFILE, EMFILE: keep serving the open ones
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_exhaustion_and_aborted_handshakes_are_transient() {
        assert!(is_transient(&io::Error::from_raw_os_error(24)));
        assert!(is_transient(&io::Error::from_raw_os_error(23)));
        assert!(is_transient(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        assert!(!is_transient(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
    }

    #[test]
    fn connection_ids_increase() {
        let a = next_conn_id();
        assert!(next_conn_id() > a);
    }
}
