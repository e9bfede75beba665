//! Socket options every wsvia server sets on both sides of a tunnel.

use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::net::TcpStream;

/// Idle time before the first keepalive probe: long-lived WebSockets should notice a
/// vanished peer in minutes, not the kernel default of two hours.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

/// Set `TCP_NODELAY` (small frames must not wait) and TCP keepalive on `stream`.
///
/// Failures are ignored: an option the platform refuses never breaks a connection.
///
/// # Examples
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// let s = tokio::net::TcpStream::connect("127.0.0.1:80").await?;
/// wsvia_server::sockopt::tune(&s);
/// # Ok(()) }
/// ```
pub fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(Duration::from_secs(15))
        .with_retries(4);
    let _ = SockRef::from(stream).set_tcp_keepalive(&keepalive);
}
