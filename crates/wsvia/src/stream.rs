//! The byte stream every layer hands to the next: TCP, TLS-to-proxy, tunnel, TLS-to-server.
//!
//! Layers compose by boxing, so TLS inside TLS or a tunnel inside an `https://` proxy need
//! no special case. Bytes a layer has read ahead (the start of the tunnel that arrived with
//! the proxy's `200`) are kept in front of the stream and read first.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Anything a layer can run over: an async, bidirectional byte stream.
///
/// # Examples
/// ```
/// fn takes_io<T: wsvia::Io>(_: T) {}
/// takes_io(tokio::io::duplex(64).0);
/// ```
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

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
}
