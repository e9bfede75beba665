//! Every answer the proxy makes itself, in one table: status, `Proxy-Status` (RFC 9209)
//! and a one-line body saying what happened. Never a silent close.

use http::{HeaderValue, Response, StatusCode, header};
pub use wsvia_server::http::{Body, empty, text};

/// Why the proxy answers a request itself.
///
/// # Examples
/// ```
/// use wsvia_proxy::respond::Refusal;
/// let r = Refusal::ConnectionRefused { detail: "127.0.0.1:9".into() }.response();
/// assert_eq!(r.status(), 502);
/// assert!(r.headers()["proxy-status"].to_str().unwrap().contains("error=connection_refused"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The request cannot be served as written.
    BadRequest {
        /// What is wrong.
        detail: String,
    },
    /// No request head within the header timeout.
    HeadTimeout,
    /// Destination rules deny it.
    Forbidden {
        /// Which rule.
        detail: String,
    },
    /// A tunnel limit is reached.
    Limit {
        /// Which limit.
        detail: String,
        /// Seconds for `Retry-After`.
        retry_after_secs: u64,
    },
    /// The name did not resolve.
    DnsError {
        /// The resolver's words.
        detail: String,
    },
    /// The upstream refused the connection.
    ConnectionRefused {
        /// Where.
        detail: String,
    },
    /// The upstream could not be reached (unreachable, reset, closed).
    Unavailable {
        /// Why.
        detail: String,
    },
    /// Connecting upstream took longer than the connect timeout.
    ConnectTimeout {
        /// Where.
        detail: String,
    },
    /// The server is shutting down.
    ShuttingDown,
}

impl Refusal {
    /// The status code.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(wsvia_proxy::respond::Refusal::HeadTimeout.status(), 408);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Refusal::HeadTimeout => StatusCode::REQUEST_TIMEOUT,
            Refusal::Forbidden { .. } => StatusCode::FORBIDDEN,
            Refusal::Limit { .. } | Refusal::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::DnsError { .. }
            | Refusal::ConnectionRefused { .. }
            | Refusal::Unavailable { .. } => StatusCode::BAD_GATEWAY,
            Refusal::ConnectTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The RFC 9209 error type for `Proxy-Status`.
    fn error_type(&self) -> &'static str {
        match self {
            Refusal::BadRequest { .. } => "http_request_error",
            Refusal::HeadTimeout => "http_request_error",
            Refusal::Forbidden { .. } => "destination_ip_prohibited",
            Refusal::Limit { .. } => "connection_limit_reached",
            Refusal::DnsError { .. } => "dns_error",
            Refusal::ConnectionRefused { .. } => "connection_refused",
            Refusal::Unavailable { .. } => "destination_unavailable",
            Refusal::ConnectTimeout { .. } => "connection_timeout",
            Refusal::ShuttingDown => "proxy_internal_response",
        }
    }

    /// What the body and `details` say.
    ///
    /// # Examples
    /// ```
    /// let r = wsvia_proxy::respond::Refusal::Forbidden { detail: "port 25 is not allowed".into() };
    /// assert_eq!(r.detail(), "port 25 is not allowed");
    /// ```
    pub fn detail(&self) -> String {
        match self {
            Refusal::BadRequest { detail }
            | Refusal::Forbidden { detail }
            | Refusal::Limit { detail, .. }
            | Refusal::DnsError { detail }
            | Refusal::ConnectionRefused { detail }
            | Refusal::Unavailable { detail }
            | Refusal::ConnectTimeout { detail } => detail.clone(),
            Refusal::HeadTimeout => "the request head did not arrive in time".to_owned(),
            Refusal::ShuttingDown => "the proxy is shutting down".to_owned(),
        }
    }

    /// The response: status, `Proxy-Status`, `Retry-After` where it applies, a text body.
    ///
    /// # Examples
    /// See [`Refusal`].
    pub fn response(&self) -> Response<Body> {
        let detail = self.detail();
        let mut response = text(self.status(), &format!("wsvia proxy: {detail}\n"));
        let headers = response.headers_mut();
        let status = format!(
            "wsvia; error={}; details=\"{}\"",
            self.error_type(),
            detail.replace(['"', '\\'], "'")
        );
        if let Ok(v) = HeaderValue::from_str(&status) {
            headers.insert("proxy-status", v);
        }
        if let Refusal::Limit {
            retry_after_secs, ..
        } = self
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if matches!(self, Refusal::HeadTimeout | Refusal::BadRequest { .. }) {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// The raw bytes of a 408 for a connection whose head never completed (hyper no longer
/// owns the socket at that point).
pub(crate) fn head_timeout_bytes() -> Vec<u8> {
    let detail = Refusal::HeadTimeout.detail();
    let body = format!("wsvia proxy: {detail}\n");
    format!(
        "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Proxy-Status: wsvia; error=http_request_error; details=\"{detail}\"\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
