//! Response helpers the HTTP servers share: one body type and plain-text answers.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};

/// The body type of every response wsvia's servers send.
pub type Body = BoxBody<Bytes, hyper::Error>;

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
