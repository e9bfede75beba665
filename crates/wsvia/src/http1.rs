//! HTTP/1.1 client pieces over a [`Stream`]: a hyper connection, and taking the stream
//! back after a `2xx` to CONNECT or a `101`. The client's CONNECT and upgrade use them,
//! and so does the gateway for its upstream upgrades.

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http1::{Builder, SendRequest};
use hyper_util::rt::TokioIo;

use crate::stream::Stream;

/// A request sender over `stream`; hyper's connection task runs in the background.
///
/// # Errors
/// hyper's, when the connection cannot start.
///
/// # Examples
/// ```no_run
/// # async fn f(stream: wsvia::Stream) -> Result<(), hyper::Error> {
/// let mut sender = wsvia::http1::handshake(stream).await?;
/// let req = http::Request::get("/").header("host", "example.com").body(Default::default()).unwrap();
/// let response = sender.send_request(req).await?;
/// # Ok(()) }
/// ```
pub async fn handshake(stream: Stream) -> Result<SendRequest<Empty<Bytes>>, hyper::Error> {
    let (sender, conn) = Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(stream))
        .await?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "HTTP/1.1 client connection ended");
        }
    });
    Ok(sender)
}

/// The stream after an upgrade (a 2xx to CONNECT or a 101), with any bytes hyper read
/// past the response head put back in front.
///
/// # Errors
/// hyper's, when the response was not an upgrade or the connection failed.
///
/// # Examples
/// ```no_run
/// # async fn f(response: http::Response<hyper::body::Incoming>) -> Result<(), hyper::Error> {
/// let stream = wsvia::http1::take_stream(response).await?;
/// # Ok(()) }
/// ```
pub async fn take_stream(
    response: http::Response<hyper::body::Incoming>,
) -> Result<Stream, hyper::Error> {
    let upgraded = hyper::upgrade::on(response).await?;
    Ok(match upgraded.downcast::<TokioIo<Stream>>() {
        Ok(parts) => parts.io.into_inner().prepend(parts.read_buf),
        // hyper hands back the stream we gave it; keep working even if that changes.
        Err(other) => Stream::new(TokioIo::new(other)),
    })
}

/// The reason phrase as the peer sent it, else the canonical one.
///
/// # Examples
/// ```
/// let r = http::Response::builder().status(404).body(()).unwrap();
/// assert_eq!(wsvia::http1::reason_phrase(&r), "Not Found");
/// ```
pub fn reason_phrase<B>(response: &http::Response<B>) -> String {
    response
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
        .or_else(|| response.status().canonical_reason().map(str::to_owned))
        .unwrap_or_default()
}

/// `HTTP/1.1 200 Connection established`
///
/// # Examples
/// ```
/// let r = http::Response::builder().status(101).body(()).unwrap();
/// assert_eq!(wsvia::http1::status_line(&r), "HTTP/1.1 101 Switching Protocols");
/// ```
pub fn status_line<B>(response: &http::Response<B>) -> String {
    format!(
        "{:?} {} {}",
        response.version(),
        response.status().as_u16(),
        reason_phrase(response)
    )
}
