//! [`WebSocket`]: an open WebSocket as a `Stream` and `Sink` of tungstenite
//! [`Message`]s, whichever stack carries it.
//!
//! Without compression that is tokio-tungstenite. When the opening handshake agreed to
//! permessage-deflate (RFC 7692; negotiated in `wsvia_core::deflate`), yawc frames and
//! compresses, and this module maps its frames to and from `Message`, its errors to
//! tungstenite's, and its close handling to tungstenite's order (the peer's Close is
//! answered once, then the stream ends). The HTTP upgrade itself is always ours.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::{Sink, SinkExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message, Utf8Bytes};
use wsvia_core::deflate::DeflateParams;
use yawc::frame::OpCode;

use crate::stream::Stream;

/// An open WebSocket: a `Stream` of received [`Message`]s and a `Sink` for those to send,
/// with tokio-tungstenite's errors; compressed (permessage-deflate) when the handshake
/// agreed to it.
///
/// As with tokio-tungstenite, Pings are answered and the peer's Close is echoed by the
/// WebSocket itself (flushed on the next read, so keep reading after a Close until the
/// stream ends), and a connection that drops without a Close ends with
/// `Protocol(ResetWithoutClosingHandshake)`.
///
/// # Examples
/// ```no_run
/// # async fn f() -> Result<(), wsvia::Error> {
/// use futures_util::{SinkExt, StreamExt};
/// use wsvia::tokio_tungstenite::tungstenite::Message;
/// let client = wsvia::Client::builder().compression(Some(Default::default())).build()?;
/// let mut ws = client.connect("ws://127.0.0.1:9001/").await?.websocket;
/// println!("compression: {:?}", ws.compression());
/// ws.send(Message::text("hello")).await.ok();
/// let echo = ws.next().await;
/// ws.close(None).await.ok();
/// # Ok(()) }
/// ```
pub struct WebSocket<S = Stream> {
    inner: Inner<S>,
}

#[expect(
    clippy::large_enum_variant,
    reason = "one per connection; the common, uncompressed case stays unboxed"
)]
enum Inner<S> {
    Plain(WebSocketStream<S>),
    Deflate(Box<Deflated<S>>),
}

/// A yawc WebSocket and the close state tungstenite would keep.
struct Deflated<S> {
    ws: yawc::WebSocket<S>,
    params: DeflateParams,
    /// A Close went out or is queued: ours, or yawc's answer to the peer's Close or to a
    /// protocol error.
    close_sent: bool,
    /// The stream has ended (`None` from now on).
    ended: bool,
    /// The largest message accepted, for the error that reports a larger one.
    max_message_size: usize,
}

impl<S> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    /// Run the WebSocket protocol over `io`, whose opening handshake is done, as `role`,
    /// with `config`'s message and frame limits; with permessage-deflate when `deflate`
    /// holds the parameters the handshake agreed to.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use wsvia::tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
    /// let (io, _peer) = tokio::io::duplex(1024);
    /// let params = wsvia_core::deflate::DeflateParams::default();
    /// let ws = wsvia::WebSocket::from_raw_socket(io, Role::Server, WebSocketConfig::default(), Some(params)).await;
    /// assert_eq!(ws.compression(), Some(&params));
    /// # }
    /// ```
    pub async fn from_raw_socket(
        io: S,
        role: Role,
        config: WebSocketConfig,
        deflate: Option<DeflateParams>,
    ) -> WebSocket<S> {
        let Some(params) = deflate else {
            let ws = WebSocketStream::from_raw_socket(io, role, Some(config)).await;
            return WebSocket {
                inner: Inner::Plain(ws),
            };
        };
        // yawc's limits are exclusive; tungstenite's (and ours) inclusive.
        let limit = config
            .max_message_size
            .or(config.max_frame_size)
            .unwrap_or(usize::MAX - 1)
            .saturating_add(1);
        let options = yawc::Options::default()
            .with_balanced_compression()
            // Empty messages go uncompressed (RFC 7692 lets any message skip it): yawc
            // 0.5 spins forever compressing an empty message when nothing is pending.
            .with_compression_threshold(1)
            .with_utf8()
            .with_limits(limit, limit);
        let role = match role {
            Role::Client => yawc::Role::Client,
            Role::Server => yawc::Role::Server,
        };
        let agreed = params.to_string();
        let ws =
            match yawc::WebSocket::from_stream_with_extensions(io, role, Some(&agreed), options) {
                Ok(ws) => ws,
                // Only when compression is agreed but not enabled in `options`, which it is.
                Err(e) => unreachable!("yawc refused the options it was given: {e}"),
            };
        WebSocket {
            inner: Inner::Deflate(Box::new(Deflated {
                ws,
                params,
                close_sent: false,
                ended: false,
                max_message_size: limit - 1,
            })),
        }
    }
}

impl<S> WebSocket<S> {
    /// The permessage-deflate parameters in force, or `None` when uncompressed.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f() -> Result<(), wsvia::Error> {
    /// let conn = wsvia::Client::builder().compression(Some(Default::default())).build()?
    ///     .connect("ws://127.0.0.1:9001/").await?;
    /// if let Some(p) = conn.websocket.compression() {
    ///     eprintln!("{p}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn compression(&self) -> Option<&DeflateParams> {
        match &self.inner {
            Inner::Plain(_) => None,
            Inner::Deflate(d) => Some(&d.params),
        }
    }

    /// The byte stream under an uncompressed WebSocket, as tokio-tungstenite's
    /// `into_inner` gives it (bytes it has read ahead are lost); the WebSocket back when
    /// it is compressed, whose state cannot be handed over.
    ///
    /// # Errors
    /// `Err(self)` when permessage-deflate is in force.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f() -> Result<(), wsvia::Error> {
    /// let conn = wsvia::Client::builder().build()?.connect("ws://127.0.0.1:9001/").await?;
    /// let stream: wsvia::Stream = conn.websocket.into_inner().ok().expect("not compressed");
    /// # Ok(()) }
    /// ```
    #[expect(
        clippy::result_large_err,
        reason = "the Err gives the caller's WebSocket back whole, as it came"
    )]
    pub fn into_inner(self) -> Result<S, WebSocket<S>> {
        match self.inner {
            Inner::Plain(ws) => Ok(ws.into_inner()),
            Inner::Deflate(_) => Err(self),
        }
    }
}

impl<S> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Start the close handshake with `frame` (no code when `None`) and flush it; keep
    /// reading until the stream ends to receive the peer's Close. Nothing is sent when a
    /// Close already went out.
    ///
    /// # Errors
    /// An I/O error while writing.
    ///
    /// # Cancel safety
    /// Not cancel safe: a cancelled close may have queued the Close without flushing it.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(mut ws: wsvia::WebSocket) {
    /// ws.close(None).await.ok();
    /// # }
    /// ```
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        match &mut self.inner {
            Inner::Plain(ws) => ws.close(frame).await,
            Inner::Deflate(d) => {
                if !d.close_sent {
                    d.close_sent = true;
                    d.ws.send(close_to_yawc(frame)).await.map_err(error_from)?;
                    // Nothing may follow a Close: flush it and shut our sending side. The
                    // peer's frames can still be read, its Close reply ends the stream.
                    std::future::poll_fn(|cx| Pin::new(&mut d.ws).poll_close(cx))
                        .await
                        .map_err(error_from)?;
                    return Ok(());
                }
                // A Close is queued (yawc's answer): sending readiness flushes it.
                std::future::poll_fn(|cx| Pin::new(&mut d.ws).poll_ready(cx))
                    .await
                    .map_err(error_from)?;
                d.ws.flush().await.map_err(error_from)
            }
        }
    }

    /// Close the transport under the WebSocket (TCP FIN, or TLS `close_notify` first),
    /// once the close handshake is over; a Close frame is sent first if none was.
    ///
    /// # Errors
    /// An I/O error while writing.
    ///
    /// # Cancel safety
    /// Cancel safe: a later call carries on.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(mut ws: wsvia::WebSocket) {
    /// ws.shutdown().await.ok();
    /// # }
    /// ```
    pub async fn shutdown(&mut self) -> Result<(), Error> {
        match &mut self.inner {
            Inner::Plain(ws) => ws.get_mut().shutdown().await.map_err(Error::Io),
            Inner::Deflate(d) => {
                d.close_sent = true;
                std::future::poll_fn(|cx| Pin::new(&mut d.ws).poll_close(cx))
                    .await
                    .map_err(error_from)
            }
        }
    }
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("compression", &self.compression())
            .finish_non_exhaustive()
    }
}

impl<S> futures_util::Stream for WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.get_mut().inner {
            Inner::Plain(ws) => Pin::new(ws).poll_next(cx),
            Inner::Deflate(d) => d.poll_next(cx),
        }
    }
}

impl<S> Sink<Message> for WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        match &mut self.get_mut().inner {
            Inner::Plain(ws) => Pin::new(ws).poll_ready(cx),
            Inner::Deflate(d) => Pin::new(&mut d.ws).poll_ready(cx).map_err(error_from),
        }
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        match &mut self.get_mut().inner {
            Inner::Plain(ws) => Pin::new(ws).start_send(message),
            Inner::Deflate(d) => d.start_send(message),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        match &mut self.get_mut().inner {
            Inner::Plain(ws) => Pin::new(ws).poll_flush(cx),
            Inner::Deflate(d) => Pin::new(&mut d.ws).poll_flush(cx).map_err(error_from),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        match &mut self.get_mut().inner {
            Inner::Plain(ws) => Pin::new(ws).poll_close(cx),
            Inner::Deflate(d) => {
                d.close_sent = true;
                Pin::new(&mut d.ws).poll_close(cx).map_err(error_from)
            }
        }
    }
}

impl<S> Deflated<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let frame = match ready!(self.ws.poll_next_frame(cx)) {
            Ok(frame) => frame,
            Err(yawc::WebSocketError::ConnectionClosed) => {
                self.ended = true;
                // After a Close either way the handshake was under way: a plain end.
                if self.close_sent {
                    return Poll::Ready(None);
                }
                let reset = ProtocolError::ResetWithoutClosingHandshake;
                return Poll::Ready(Some(Err(Error::Protocol(reset))));
            }
            Err(yawc::WebSocketError::FrameTooLarge) => {
                self.close_sent = true;
                // The size is not known (inflating stopped at the limit): "more than".
                let max_size = self.max_message_size;
                let size = max_size.saturating_add(1);
                let e = CapacityError::MessageTooLong { size, max_size };
                return Poll::Ready(Some(Err(Error::Capacity(e))));
            }
            Err(e) => {
                // yawc has queued a Close with the matching code and stopped reading; the
                // next poll sends it and ends the stream.
                self.close_sent = true;
                return Poll::Ready(Some(Err(error_from(e))));
            }
        };
        let (opcode, _, payload) = frame.into_parts();
        let message = match opcode {
            OpCode::Text => match Utf8Bytes::try_from(payload) {
                Ok(text) => Message::Text(text),
                Err(e) => return Poll::Ready(Some(Err(Error::Utf8(e.to_string())))),
            },
            OpCode::Binary => Message::Binary(payload),
            OpCode::Ping => Message::Ping(payload),
            OpCode::Pong => Message::Pong(payload),
            OpCode::Close => {
                // Our Close went first: this is the reply and the handshake is over (yawc
                // would try to answer it all the same, into a closed write side).
                // Otherwise yawc answers it on the next poll, then reports the end.
                self.ended = self.close_sent;
                self.close_sent = true;
                Message::Close(close_from_yawc(payload))
            }
            // yawc joins fragments before handing a message over.
            OpCode::Continuation => {
                let e = ProtocolError::UnexpectedContinueFrame;
                return Poll::Ready(Some(Err(Error::Protocol(e))));
            }
        };
        Poll::Ready(Some(Ok(message)))
    }

    fn start_send(&mut self, message: Message) -> Result<(), Error> {
        let frame = match message {
            Message::Text(text) => yawc::Frame::text(Bytes::from(text)),
            Message::Binary(bytes) => yawc::Frame::binary(bytes),
            Message::Ping(bytes) => yawc::Frame::ping(bytes),
            Message::Pong(bytes) => yawc::Frame::pong(bytes),
            Message::Close(frame) => {
                if self.close_sent {
                    return Ok(()); // as tungstenite: already closing
                }
                self.close_sent = true;
                close_to_yawc(frame)
            }
            Message::Frame(_) => {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "raw frames cannot be sent on a compressed WebSocket",
                )));
            }
        };
        if self.close_sent && !frame.opcode().is_control() {
            return Err(Error::Protocol(ProtocolError::SendAfterClosing));
        }
        Pin::new(&mut self.ws).start_send(frame).map_err(error_from)
    }
}

/// A Close payload (code, reason) as tungstenite's `CloseFrame`; yawc has checked both.
fn close_from_yawc(payload: Bytes) -> Option<CloseFrame> {
    if payload.len() < 2 {
        return None;
    }
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    let reason = Utf8Bytes::try_from(payload.slice(2..)).unwrap_or_default();
    Some(CloseFrame {
        code: CloseCode::from(code),
        reason,
    })
}

/// A Close frame for yawc; `None` becomes 1000 (yawc cannot send an empty Close).
fn close_to_yawc(frame: Option<CloseFrame>) -> yawc::Frame {
    match frame {
        Some(f) => yawc::Frame::close(u16::from(f.code).into(), f.reason.as_bytes()),
        None => yawc::Frame::close(yawc::close::CloseCode::Normal, []),
    }
}

/// yawc's error as the tungstenite error a tungstenite WebSocket would have given.
fn error_from(e: yawc::WebSocketError) -> Error {
    use yawc::WebSocketError as Y;
    let protocol = |p| Error::Protocol(p);
    match e {
        Y::ConnectionClosed => Error::ConnectionClosed,
        Y::IoError(e) => Error::Io(e),
        Y::InvalidUTF8 => Error::Utf8("invalid UTF-8 in a text message".into()),
        Y::ReservedBitsNotZero | Y::CompressionNotSupported => {
            protocol(ProtocolError::NonZeroReservedBits)
        }
        Y::ControlFrameFragmented => protocol(ProtocolError::FragmentedControlFrame),
        Y::PingFrameTooLarge => protocol(ProtocolError::ControlFrameTooBig),
        Y::InvalidOpCode(b) => protocol(ProtocolError::InvalidOpcode(b)),
        Y::InvalidContinuationFrame => protocol(ProtocolError::UnexpectedContinueFrame),
        Y::InvalidFragment | Y::FragmentTimeout => {
            protocol(ProtocolError::ExpectedFragment(Data::Continue))
        }
        Y::InvalidCloseFrame | Y::InvalidCloseCode => protocol(ProtocolError::InvalidCloseSequence),
        other => Error::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            other.to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    async fn pair(
        client: Option<DeflateParams>,
        server: Option<DeflateParams>,
    ) -> (
        WebSocket<tokio::io::DuplexStream>,
        WebSocket<tokio::io::DuplexStream>,
    ) {
        let (a, b) = tokio::io::duplex(1 << 16);
        let config = WebSocketConfig::default().max_message_size(Some(1 << 20));
        (
            WebSocket::from_raw_socket(a, Role::Client, config, client).await,
            WebSocket::from_raw_socket(b, Role::Server, config, server).await,
        )
    }

    #[tokio::test]
    async fn compressed_messages_round_trip_and_close_once() {
        let params = DeflateParams {
            server_no_context_takeover: true,
            client_max_window_bits: Some(9),
            ..Default::default()
        };
        let (mut client, mut server) = pair(Some(params), Some(params)).await;
        let big = "wsvia ".repeat(20_000);
        for m in [
            Message::text(big.clone()),
            Message::binary(vec![7u8; 100_000]),
            Message::text(""),
        ] {
            client.send(m.clone()).await.unwrap();
            assert_eq!(server.next().await.unwrap().unwrap(), m);
        }
        client
            .send(Message::Ping(Bytes::from_static(b"p")))
            .await
            .unwrap();
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::Ping(Bytes::from_static(b"p"))
        );

        let bye = CloseFrame {
            code: CloseCode::Away,
            reason: "bye".into(),
        };
        server.close(Some(bye.clone())).await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::Pong(Bytes::from_static(b"p"))
        );
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::Close(Some(bye.clone()))
        );
        assert!(
            client.next().await.is_none(),
            "the stream ends after the Close"
        );
        assert!(client.send(Message::text("late")).await.is_err());
        // The server gets the echoed Close, then the end.
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::Close(Some(bye))
        );
        let after = server.next().await;
        assert!(after.is_none(), "{after:?}");
    }

    #[tokio::test]
    async fn a_dropped_peer_is_a_reset_and_too_big_is_a_capacity_error() {
        let params = DeflateParams::default();
        let (client, mut server) = pair(Some(params), Some(params)).await;
        drop(client);
        assert!(matches!(
            server.next().await,
            Some(Err(Error::Protocol(
                ProtocolError::ResetWithoutClosingHandshake
            )))
        ));
        assert!(server.next().await.is_none());

        let (mut client, mut server) = pair(Some(params), Some(params)).await;
        // Compresses to almost nothing; the limit is on the inflated size.
        client
            .send(Message::binary(vec![0u8; (1 << 20) + 1]))
            .await
            .unwrap();
        assert!(matches!(server.next().await, Some(Err(Error::Capacity(_)))));
        // Reading on sends the 1009 and ends the stream.
        assert!(server.next().await.is_none());
        match client.next().await {
            Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::Size),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn without_params_it_is_tungstenite() {
        let (mut client, mut server) = pair(None, None).await;
        assert!(client.compression().is_none());
        client.send(Message::text("hi")).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("hi"));
        assert!(server.into_inner().is_ok());
    }
}
