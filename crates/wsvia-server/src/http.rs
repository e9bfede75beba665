//! What the HTTP servers share: one body type, plain-text answers, and the headers a
//! proxy passes on.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};

/// The body type of every response wsvia's servers send.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// Headers that concern one connection only, never forwarded (RFC 9110 §7.6.1).
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// `headers` without the hop-by-hop ones and those their `Connection` header names: what
/// a proxy forwards (RFC 9110 §7.6.1).
///
/// # Examples
/// ```
/// let mut h = http::HeaderMap::new();
/// h.insert("connection", "close, x-trace".parse().unwrap());
/// h.insert("x-trace", "1".parse().unwrap());
/// h.insert("proxy-authorization", "Basic YTpi".parse().unwrap());
/// h.insert("accept", "*/*".parse().unwrap());
/// let kept = wsvia_server::http::end_to_end(&h);
/// assert_eq!(kept.len(), 1);
/// assert_eq!(kept["accept"], "*/*");
/// ```
pub fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = crate::handshake::tokens(headers, header::CONNECTION)
        .into_iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let n = name.as_str();
        if !HOP_BY_HOP.contains(&n) && !named.iter().any(|t| t == n) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// A plain-text response.
///
/// # Examples
/// ```
/// let r = wsvia_server::http::text(http::StatusCode::OK, "hi\n");
/// assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
/// ```
pub fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// An empty body.
///
/// # Examples
/// ```
/// let b = wsvia_server::http::empty();
/// # drop(b);
/// ```
pub fn empty() -> Body {
    full(Bytes::new())
}

/// A body holding `bytes`.
///
/// # Examples
/// ```
/// let b = wsvia_server::http::full(bytes::Bytes::from_static(b"<html></html>"));
/// # drop(b);
/// ```
pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// A body that counts the bytes passing through it and reports the total once, when it
/// ends or is dropped: access-log lines of forwarded requests get their real sizes.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use http_body_util::BodyExt;
/// let (tx, rx) = std::sync::mpsc::channel();
/// let body = wsvia_server::http::Counted::new(wsvia_server::http::full("hello".into()), move |n| tx.send(n).unwrap());
/// let _ = body.collect().await;
/// assert_eq!(rx.recv().unwrap(), 5);
/// # }
/// ```
pub struct Counted<B> {
    inner: B,
    bytes: u64,
    done: Option<Box<dyn FnOnce(u64) + Send + Sync>>,
}

impl<B> Counted<B> {
    /// Wrap `inner`; `done` gets the byte count once.
    pub fn new(inner: B, done: impl FnOnce(u64) + Send + Sync + 'static) -> Counted<B> {
        Counted {
            inner,
            bytes: 0,
            done: Some(Box::new(done)),
        }
    }

    fn finish(&mut self) {
        if let Some(done) = self.done.take() {
            done(self.bytes);
        }
    }
}

impl<B> hyper::body::Body for Counted<B>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
{
    type Data = bytes::Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                self.bytes += frame.data_ref().map_or(0, |d| d.len() as u64);
            }
            Poll::Ready(None) => self.finish(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Counted<B> {
    fn drop(&mut self) {
        self.finish();
    }
}
