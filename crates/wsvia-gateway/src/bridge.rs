//! The WebSocket-to-TCP bridge: each binary message becomes bytes to a TCP server, and
//! bytes from it become binary messages (websockify's convention), so browser clients
//! reach legacy TCP servers. Text messages are refused with 1003 unless allowed.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use wsvia_server::record::CloseReason;

use crate::frames::{FrameOptions, FrameStats, sleep_until};

/// The subprotocol websockify clients offer for raw binary frames.
pub const BINARY_PROTOCOL: &str = "binary";

/// Largest chunk read from the TCP server into one message.
const CHUNK: usize = 16 * 1024;

/// Join a WebSocket and a TCP connection until either ends.
pub async fn bridge<S>(
    mut ws: WebSocketStream<S>,
    mut tcp: TcpStream,
    allow_text: bool,
    options: &FrameOptions,
) -> (CloseReason, FrameStats)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut stats = FrameStats::default();
    let mut buf = vec![0u8; CHUNK];
    let period = options
        .ping_interval
        .unwrap_or(Duration::from_secs(86_400 * 365));
    let mut pings = tokio::time::interval_at(Instant::now() + period, period);
    let mut awaiting: Option<Instant> = None;
    loop {
        let deadline = awaiting.map(|t| t + options.ping_timeout);
        tokio::select! {
            m = ws.next() => {
                awaiting = None;
                let payload = match m {
                    None | Some(Err(WsError::ConnectionClosed)) => return (CloseReason::ClientClose, stats),
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "bridge client error");
                        let _ = close(&mut ws, CloseCode::Protocol, "protocol error").await;
                        return (CloseReason::ClientError, stats);
                    }
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Text(t))) if allow_text => t.as_bytes().to_vec().into(),
                    Some(Ok(Message::Text(_))) => {
                        let _ = close(&mut ws, CloseCode::Unsupported, "text messages are not accepted; send binary").await;
                        return (CloseReason::ClientError, stats);
                    }
                    Some(Ok(Message::Close(_))) => {
                        // Half-close: the server may still answer what it received; its
                        // last bytes reach the client before the Close reply.
                        let _ = tcp.shutdown().await;
                        let late = drain_tcp(&mut tcp, &mut buf, &mut stats, options).await;
                        deliver_late(&mut ws, late).await;
                        return (CloseReason::ClientClose, stats);
                    }
                    Some(Ok(_)) => continue,
                };
                stats.messages_up += 1;
                stats.bytes_up += payload.len() as u64;
                options.counters.add_up(payload.len() as u64);
                if tcp.write_all(&payload).await.is_err() {
                    let _ = close(&mut ws, CloseCode::Error, "the TCP server failed").await;
                    return (CloseReason::UpstreamError, stats);
                }
            }
            n = tcp.read(&mut buf) => match n {
                Ok(0) => {
                    let _ = close(&mut ws, CloseCode::Normal, "the TCP server closed the connection").await;
                    return (CloseReason::UpstreamClose, stats);
                }
                Ok(n) => {
                    stats.messages_down += 1;
                    stats.bytes_down += n as u64;
                    options.counters.add_down(n as u64);
                    if ws.send(Message::binary(buf[..n].to_vec())).await.is_err() {
                        return (CloseReason::ClientError, stats);
                    }
                }
                Err(_) => {
                    let _ = close(&mut ws, CloseCode::Error, "the TCP server failed").await;
                    return (CloseReason::UpstreamError, stats);
                }
            },
            _ = pings.tick(), if options.ping_interval.is_some() => {
                if ws.send(Message::Ping(Default::default())).await.is_ok() && awaiting.is_none() {
                    awaiting = Some(Instant::now());
                }
            }
            _ = sleep_until(deadline) => {
                return (CloseReason::PingTimeout, stats);
            }
            _ = options.cut.cancelled() => {
                let _ = close(&mut ws, CloseCode::Away, "gateway shutting down").await;
                return (CloseReason::Drain, stats);
            }
        }
    }
}

/// Read what the TCP server still sends after our half-close, until it closes (a few
/// seconds at most), as binary messages.
async fn drain_tcp(
    tcp: &mut TcpStream,
    buf: &mut [u8],
    stats: &mut FrameStats,
    options: &FrameOptions,
) -> Vec<Message> {
    let mut late = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(n) = tcp.read(buf).await {
            if n == 0 || stats.bytes_down > (1 << 30) {
                break;
            }
            stats.messages_down += 1;
            stats.bytes_down += n as u64;
            options.counters.add_down(n as u64);
            late.push(Message::binary(buf[..n].to_vec()));
        }
    })
    .await;
    late
}

async fn close<S>(ws: &mut WebSocketStream<S>, code: CloseCode, reason: &str) -> Result<(), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
    .await?;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await;
    Ok(())
}

/// Deliver data messages to a client whose Close we already read, before its queued Close
/// reply: tokio-tungstenite refuses to send data after a Close was received, so they go
/// as raw frames (server to client: unmasked). Then the Close reply is flushed.
async fn deliver_late<S>(client: &mut WebSocketStream<S>, late: Vec<Message>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let mut bytes = Vec::new();
    for m in late {
        let frame = match m {
            Message::Text(t) => {
                Frame::message(bytes::Bytes::from(t), OpCode::Data(Data::Text), true)
            }
            Message::Binary(b) => Frame::message(b, OpCode::Data(Data::Binary), true),
            _ => continue,
        };
        let _ = frame.format(&mut bytes);
    }
    if !bytes.is_empty() {
        let _ = client.get_mut().write_all(&bytes).await;
    }
    let _ = client.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_util::sync::CancellationToken;

    async fn setup(
        allow_text: bool,
    ) -> (
        WebSocketStream<tokio::io::DuplexStream>,
        TcpStream,
        tokio::task::JoinHandle<(CloseReason, FrameStats)>,
    ) {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let gw_side = WebSocketStream::from_raw_socket(a, Role::Server, None).await;
        let client = WebSocketStream::from_raw_socket(b, Role::Client, None).await;
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp_gw = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        let opts = FrameOptions {
            ping_interval: None,
            ping_timeout: Duration::from_secs(1),
            cut: CancellationToken::new(),
            max_message_size: 16 << 20,
            counters: Default::default(),
        };
        let task = tokio::spawn(async move { bridge(gw_side, tcp_gw, allow_text, &opts).await });
        (client, server, task)
    }

    #[tokio::test]
    async fn binary_messages_become_bytes_and_bytes_become_binary_messages() {
        let (mut client, mut server, task) = setup(false).await;
        client
            .send(Message::binary(b"HELLO\n".to_vec()))
            .await
            .unwrap();
        let mut got = [0u8; 6];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"HELLO\n");
        server.write_all(b"WORLD").await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::binary(b"WORLD".to_vec())
        );
        drop(server);
        match client.next().await.unwrap().unwrap() {
            Message::Close(Some(f)) => assert_eq!(f.code, CloseCode::Normal),
            other => panic!("{other:?}"),
        }
        assert!(client.next().await.is_none());
        let (reason, stats) = task.await.unwrap();
        assert_eq!(reason, CloseReason::UpstreamClose);
        assert_eq!((stats.bytes_up, stats.bytes_down), (6, 5));
    }

    #[tokio::test]
    async fn text_is_refused_with_1003_unless_allowed() {
        let (mut client, _server, task) = setup(false).await;
        client.send(Message::text("hi")).await.unwrap();
        match client.next().await.unwrap().unwrap() {
            Message::Close(Some(f)) => assert_eq!(f.code, CloseCode::Unsupported),
            other => panic!("{other:?}"),
        }
        assert!(client.next().await.is_none());
        assert_eq!(task.await.unwrap().0, CloseReason::ClientError);

        let (mut client, mut server, _task) = setup(true).await;
        client.send(Message::text("hi")).await.unwrap();
        let mut got = [0u8; 2];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hi");
    }
}
