//! The frame-aware relay: messages between two WebSockets, with the gateway's own pings.
//!
//! Every `ping_interval` the gateway pings both sides. Any frame from a side proves it is
//! alive; a side that sends nothing within `ping_timeout` of a ping is dropped and the
//! other side gets Close 1011. Intermediaries with idle timeouts (nginx, load balancers)
//! see traffic on a quiet connection, and a dead peer is found in seconds. Pings from the
//! peers are answered here (by tokio-tungstenite) and not forwarded; Close is forwarded
//! with its code and reason.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;
use wsvia_server::record::CloseReason;
use wsvia_server::relay::Counters;

/// How long a side has to answer the other side's Close before we stop waiting.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Keepalive and shutdown for one relay.
#[derive(Debug, Clone)]
pub struct FrameOptions {
    /// Ping both sides this often (`None`: never).
    pub ping_interval: Option<Duration>,
    /// Drop a side that sends nothing for this long after a ping.
    pub ping_timeout: Duration,
    /// Close both sides with 1001 when this fires.
    pub cut: CancellationToken,
    /// Live payload byte counts, read by the status page.
    pub counters: Arc<Counters>,
}

/// Messages and payload bytes relayed each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Messages from the client.
    pub messages_up: u64,
    /// Messages to the client.
    pub messages_down: u64,
    /// Payload bytes from the client.
    pub bytes_up: u64,
    /// Payload bytes to the client.
    pub bytes_down: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Upstream,
}

/// Relay messages until either side closes, fails, or stops answering pings.
pub async fn relay_frames<C, U>(
    mut client: WebSocketStream<C>,
    mut upstream: WebSocketStream<U>,
    options: &FrameOptions,
) -> (CloseReason, FrameStats)
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let mut stats = FrameStats::default();
    let period = options
        .ping_interval
        .unwrap_or(Duration::from_secs(86_400 * 365));
    let mut pings = tokio::time::interval_at(Instant::now() + period, period);
    let mut awaiting: [Option<Instant>; 2] = [None, None];
    loop {
        let deadline = awaiting
            .iter()
            .flatten()
            .min()
            .map(|since| *since + options.ping_timeout);
        tokio::select! {
            m = client.next() => {
                awaiting[0] = None;
                if let Some(reason) = forward(Side::Client, m, &mut client, &mut upstream, &mut stats, &options.counters).await {
                    return (reason, stats);
                }
            }
            m = upstream.next() => {
                awaiting[1] = None;
                if let Some(reason) = forward(Side::Upstream, m, &mut upstream, &mut client, &mut stats, &options.counters).await {
                    return (reason, stats);
                }
            }
            _ = pings.tick(), if options.ping_interval.is_some() => {
                let now = Instant::now();
                let sent = [
                    client.send(Message::Ping(Default::default())).await.is_ok(),
                    upstream.send(Message::Ping(Default::default())).await.is_ok(),
                ];
                for (slot, ok) in awaiting.iter_mut().zip(sent) {
                    if ok && slot.is_none() {
                        *slot = Some(now);
                    }
                }
            }
            _ = sleep_until(deadline) => {
                let why = "peer did not answer pings";
                if awaiting[0].is_some_and(|t| t + options.ping_timeout <= Instant::now()) {
                    tracing::info!("client did not answer pings; closing both sides");
                    close(&mut upstream, CloseCode::Error, why).await;
                } else {
                    tracing::info!("upstream did not answer pings; closing both sides");
                    close(&mut client, CloseCode::Error, why).await;
                }
                return (CloseReason::PingTimeout, stats);
            }
            _ = options.cut.cancelled() => {
                let why = "gateway shutting down";
                let _ = tokio::join!(
                    close(&mut client, CloseCode::Away, why),
                    close(&mut upstream, CloseCode::Away, why),
                );
                return (CloseReason::Drain, stats);
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Handle one item from `from`; `Some(reason)` ends the relay.
async fn forward<A, B>(
    side: Side,
    item: Option<Result<Message, WsError>>,
    from: &mut WebSocketStream<A>,
    to: &mut WebSocketStream<B>,
    stats: &mut FrameStats,
    counters: &Counters,
) -> Option<CloseReason>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (closed, failed) = match side {
        Side::Client => (CloseReason::ClientClose, CloseReason::ClientError),
        Side::Upstream => (CloseReason::UpstreamClose, CloseReason::UpstreamError),
    };
    let mut item = item;
    let mut fed = false;
    loop {
        match item {
            None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                if fed {
                    let _ = to.flush().await;
                }
                close(to, CloseCode::Away, "the other side went away").await;
                return Some(closed);
            }
            Some(Err(e)) => {
                // Messages before the bad frame still go through, as if unbatched.
                if fed {
                    let _ = to.flush().await;
                }
                fail(side, e, from, to).await;
                return Some(failed);
            }
            Some(Ok(Message::Close(frame))) => {
                if fed {
                    let _ = to.flush().await;
                }
                let late = pass_close(frame, to).await;
                match side {
                    // What the upstream sent before it saw the Close still reaches the
                    // client, then the client's Close reply.
                    Side::Client => {
                        for m in &late {
                            count(Side::Upstream, m, stats, counters);
                        }
                        deliver_late(from, late).await
                    }
                    // The upstream ended its side; data to it after its Close is moot.
                    Side::Upstream => {
                        let _ = from.flush().await;
                    }
                }
                return Some(closed);
            }
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                count(side, &message, stats, counters);
                if to.feed(message).await.is_err() {
                    return Some(other_failed(side));
                }
                fed = true;
            }
            Some(Ok(_)) => {}
        }
        // Forward everything that already arrived before paying for one flush.
        match from.next().now_or_never() {
            Some(next) => item = next,
            None => break,
        }
    }
    if fed && to.flush().await.is_err() {
        return Some(other_failed(side));
    }
    None
}

/// A side broke the protocol: tell it why (1002, 1007 for bad UTF-8, 1009 for size),
/// and tell the other side the session is over (1001).
async fn fail<A, B>(
    side: Side,
    e: WsError,
    from: &mut WebSocketStream<A>,
    to: &mut WebSocketStream<B>,
) where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    tracing::debug!(?side, error = %e, "WebSocket error");
    let (code, why) = match &e {
        WsError::Capacity(_) => (CloseCode::Size, "message too big"),
        WsError::Utf8(_) => (CloseCode::Invalid, "invalid UTF-8 in a text message"),
        WsError::Protocol(_) => (CloseCode::Protocol, "protocol error"),
        _ => (CloseCode::Away, "the connection failed"),
    };
    let _ = tokio::join!(
        close(from, code, why),
        close(to, CloseCode::Away, "the other side failed")
    );
}

fn other_failed(side: Side) -> CloseReason {
    match side {
        Side::Client => CloseReason::UpstreamError,
        Side::Upstream => CloseReason::ClientError,
    }
}

pub(crate) fn count(side: Side, message: &Message, stats: &mut FrameStats, counters: &Counters) {
    let len = message.len() as u64;
    match side {
        Side::Client => {
            stats.messages_up += 1;
            stats.bytes_up += len;
            counters.add_up(len);
        }
        Side::Upstream => {
            stats.messages_down += 1;
            stats.bytes_down += len;
            counters.add_down(len);
        }
    }
}

/// Pass a Close on with its code and reason, and wait (briefly) for the answer; return
/// the data messages `to` sent before its Close reply (they were on their way).
async fn pass_close<B>(frame: Option<CloseFrame>, to: &mut WebSocketStream<B>) -> Vec<Message>
where
    B: AsyncRead + AsyncWrite + Unpin,
{
    let frame = frame.map(|f| match f.code {
        // 1005 and 1006 must never be sent in a Close frame (RFC 6455 §7.4.1).
        CloseCode::Status | CloseCode::Abnormal => CloseFrame {
            code: CloseCode::Normal,
            reason: f.reason,
        },
        _ => f,
    });
    let mut late = Vec::new();
    if to.close(frame).await.is_ok() {
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            let mut size = 0;
            while let Some(Ok(m)) = to.next().await {
                match m {
                    Message::Close(_) => break,
                    Message::Text(_) | Message::Binary(_) if size < LATE_LIMIT => {
                        size += m.len();
                        late.push(m);
                    }
                    _ => {}
                }
            }
        })
        .await;
    }
    late
}

/// Most bytes of data kept for a peer whose Close was read before the other side's last
/// messages arrived.
const LATE_LIMIT: usize = 16 << 20;

/// Deliver data messages to a client whose Close we already read, before its queued Close
/// reply: tokio-tungstenite refuses to send data after a Close was received, so they go
/// as raw frames (server to client: unmasked). Then the Close reply is flushed.
pub(crate) async fn deliver_late<S>(client: &mut WebSocketStream<S>, late: Vec<Message>)
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

async fn close<S>(ws: &mut WebSocketStream<S>, code: CloseCode, reason: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if ws.close(Some(frame)).await.is_ok() {
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            while let Some(Ok(m)) = ws.next().await {
                if m.is_close() {
                    break;
                }
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::Role;

    async fn pair() -> (
        WebSocketStream<tokio::io::DuplexStream>,
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let server = WebSocketStream::from_raw_socket(a, Role::Server, None).await;
        let client = WebSocketStream::from_raw_socket(b, Role::Client, None).await;
        (server, client)
    }

    fn options(ping: Option<u64>, timeout: u64) -> FrameOptions {
        FrameOptions {
            ping_interval: ping.map(Duration::from_millis),
            ping_timeout: Duration::from_millis(timeout),
            cut: CancellationToken::new(),
            counters: Default::default(),
        }
    }

    #[tokio::test]
    async fn messages_flow_both_ways_and_close_is_passed_on_with_its_code() {
        let (gw_client, mut client) = pair().await;
        let (mut server, gw_upstream) = pair().await;
        let relay = tokio::spawn(async move {
            relay_frames(gw_client, gw_upstream, &options(None, 1000)).await
        });
        client.send(Message::text("hi")).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("hi"));
        server.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::binary(vec![1u8, 2, 3])
        );
        let frame = CloseFrame {
            code: CloseCode::Library(4000),
            reason: "bye".into(),
        };
        client.close(Some(frame.clone())).await.unwrap();
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::Close(Some(frame))
        );
        // Reading on sends the server's Close reply; then it closes TCP (RFC 6455 §7.1.1).
        assert!(server.next().await.is_none());
        drop(server);
        let (reason, stats) = relay.await.unwrap();
        assert_eq!(reason, CloseReason::ClientClose);
        assert_eq!(
            (
                stats.messages_up,
                stats.messages_down,
                stats.bytes_up,
                stats.bytes_down
            ),
            (1, 1, 2, 3)
        );
    }

    #[tokio::test]
    async fn what_the_upstream_sent_before_seeing_the_clients_close_still_arrives() {
        // A client that ends its input at once (like `wsvia connect` at EOF) sends its last
        // message and Close back to back; the echo is on its way when the Close arrives.
        let (gw_client, mut client) = pair().await;
        let (mut server, gw_upstream) = pair().await;
        let relay = tokio::spawn(async move {
            relay_frames(gw_client, gw_upstream, &options(None, 1000)).await
        });
        client.send(Message::text("last")).await.unwrap();
        client.close(None).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("last"));
        server.send(Message::text("last")).await.unwrap();
        assert!(matches!(server.next().await, Some(Ok(Message::Close(_)))));
        assert!(server.next().await.is_none());
        drop(server);
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("last"));
        assert!(matches!(client.next().await, Some(Ok(Message::Close(_)))));
        let (reason, stats) = relay.await.unwrap();
        assert_eq!(reason, CloseReason::ClientClose);
        assert_eq!(stats.messages_down, 1);
    }

    #[tokio::test]
    async fn both_sides_are_pinged_and_a_silent_side_is_closed_with_1011_to_the_other() {
        let (gw_client, mut client) = pair().await;
        let (server, gw_upstream) = pair().await;
        let relay = tokio::spawn(async move {
            relay_frames(gw_client, gw_upstream, &options(Some(50), 150)).await
        });
        // The client keeps reading (answering pings); the server never reads: it is "stopped".
        let mut pings = 0;
        let close = loop {
            match client.next().await.unwrap().unwrap() {
                Message::Ping(_) => pings += 1,
                Message::Close(frame) => break frame,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(pings >= 1, "the client was pinged");
        assert_eq!(close.unwrap().code, CloseCode::Error);
        assert!(client.next().await.is_none());
        let (reason, _) = relay.await.unwrap();
        assert_eq!(reason, CloseReason::PingTimeout);
        drop(server);
    }

    #[tokio::test]
    async fn the_cut_closes_both_sides_with_1001() {
        let (gw_client, mut client) = pair().await;
        let (mut server, gw_upstream) = pair().await;
        let opts = options(None, 1000);
        let cut = opts.cut.clone();
        let relay = tokio::spawn(async move { relay_frames(gw_client, gw_upstream, &opts).await });
        cut.cancel();
        let (a, b) = tokio::join!(client.next(), server.next());
        for m in [a, b] {
            match m.unwrap().unwrap() {
                Message::Close(Some(f)) => assert_eq!(f.code, CloseCode::Away),
                other => panic!("unexpected {other:?}"),
            }
        }
        let (a, b) = tokio::join!(client.next(), server.next());
        assert!(a.is_none() && b.is_none());
        drop((client, server));
        assert_eq!(relay.await.unwrap().0, CloseReason::Drain);
    }
}
