//! The byte stream every layer hands to the next: TCP, TLS-to-proxy, tunnel, TLS-to-server.
//!
//! Layers compose by boxing, so TLS inside TLS or a tunnel inside an `https://` proxy need
//! no special case. Bytes a layer has read ahead (the start of the tunnel that arrived with
//! the proxy's `200`) are kept in front of the stream and read first.

use std::any::Any;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Anything a layer can run over: an async, bidirectional byte stream.
///
/// # Examples
/// ```
/// fn takes_io<T: wsvia::Io>(_: T) {}
/// takes_io(tokio::io::duplex(64).0);
/// ```
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {
    /// The stream as [`Any`], to ask which concrete type it is.
    fn as_any(&self) -> &dyn Any;
    /// The boxed stream as [`Any`], to take back the concrete type.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A boxed byte stream with optional read-ahead bytes served before the inner stream.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tokio::io::AsyncReadExt;
/// let (a, _b) = tokio::io::duplex(64);
/// let mut s = wsvia::Stream::with_prefix(a, bytes::Bytes::from_static(b"early"));
/// let mut buf = [0u8; 5];
/// s.read_exact(&mut buf).await.unwrap();
/// assert_eq!(&buf, b"early");
/// # }
/// ```
pub struct Stream {
    prefix: Bytes,
    inner: Box<dyn Io>,
}

impl Stream {
    /// Box a stream.
    ///
    /// # Examples
    /// ```
    /// let s = wsvia::Stream::new(tokio::io::duplex(64).0);
    /// # drop(s);
    /// ```
    pub fn new<T: Io>(io: T) -> Stream {
        Stream::with_prefix(io, Bytes::new())
    }

    /// Box a stream whose first bytes were already read into `prefix`.
    ///
    /// # Examples
    /// ```
    /// let s = wsvia::Stream::with_prefix(tokio::io::duplex(64).0, bytes::Bytes::from_static(b"x"));
    /// # drop(s);
    /// ```
    pub fn with_prefix<T: Io>(io: T, prefix: Bytes) -> Stream {
        Stream {
            prefix,
            inner: Box::new(io),
        }
    }

    /// Put `bytes` in front of what this stream will read next.
    ///
    /// # Examples
    /// ```
    /// let s = wsvia::Stream::new(tokio::io::duplex(64).0).prepend(bytes::Bytes::from_static(b"x"));
    /// # drop(s);
    /// ```
    pub fn prepend(self, bytes: Bytes) -> Stream {
        // `bytes` often points into hyper's read buffer: keep a copy of these few bytes,
        // not the whole buffer, for the stream's life.
        let bytes = Bytes::copy_from_slice(&bytes);
        if bytes.is_empty() {
            self
        } else if self.prefix.is_empty() {
            Stream {
                prefix: bytes,
                inner: self.inner,
            }
        } else {
            Stream::with_prefix(self, bytes)
        }
    }
}

impl Stream {
    /// The plain TCP connection this stream is, with the bytes read ahead of it (to be
    /// handled before anything read from the socket); the stream back unchanged when it
    /// is anything else (TLS, a tunnel layer, a test pipe).
    ///
    /// A relay between two plain sockets can then use them directly, without the box.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let tcp = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let stream = wsvia::Stream::with_prefix(tcp, bytes::Bytes::from_static(b"early"));
    /// let (_tcp, early) = stream.into_tcp().expect("a plain socket");
    /// assert_eq!(&early[..], b"early");
    ///
    /// let pipe = wsvia::Stream::new(tokio::io::duplex(64).0);
    /// assert!(pipe.into_tcp().is_err());
    /// # Ok(()) }
    /// ```
    pub fn into_tcp(self) -> Result<(TcpStream, Bytes), Stream> {
        // `(*self.inner)`: the box itself is an `Io` too, and would answer as itself.
        if (*self.inner).as_any().is::<TcpStream>() {
            let tcp = self.inner.into_any().downcast::<TcpStream>();
            return Ok((*tcp.expect("checked above"), self.prefix));
        }
        if (*self.inner).as_any().is::<Stream>() {
            let inner = self.inner.into_any().downcast::<Stream>();
            let inner = *inner.expect("checked above");
            return match inner.into_tcp() {
                Ok((tcp, later)) if self.prefix.is_empty() => Ok((tcp, later)),
                Ok((tcp, later)) => {
                    let mut early = Vec::with_capacity(self.prefix.len() + later.len());
                    early.extend_from_slice(&self.prefix);
                    early.extend_from_slice(&later);
                    Ok((tcp, Bytes::from(early)))
                }
                Err(inner) => Err(Stream::with_prefix(inner, self.prefix)),
            };
        }
        Err(self)
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("prefix_len", &self.prefix.len())
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn prefix_is_read_before_inner_bytes_and_across_small_reads() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut s = Stream::with_prefix(a, Bytes::from_static(b"abc"));
        b.write_all(b"def").await.unwrap();
        let mut one = [0u8; 2];
        s.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"ab");
        let mut rest = [0u8; 4];
        s.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"cdef");
    }

    #[tokio::test]
    async fn into_tcp_finds_the_socket_under_nested_prefixes_and_keeps_their_order() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let inner = Stream::with_prefix(tcp, Bytes::from_static(b"second"));
        let outer = Stream::with_prefix(inner, Bytes::from_static(b"first,"));
        let (_tcp, early) = outer.into_tcp().expect("a plain socket");
        assert_eq!(&early[..], b"first,second");

        let (a, mut b) = tokio::io::duplex(64);
        let pipe = Stream::with_prefix(Stream::new(a), Bytes::from_static(b"ab"));
        let mut back = pipe.into_tcp().expect_err("a pipe is no socket");
        b.write_all(b"cd").await.unwrap();
        let mut all = [0u8; 4];
        back.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"abcd", "the stream comes back as it was");
    }
}
