//! HTTP CONNECT: ask a proxy for a tunnel to `host:port`, answering its 407 challenges.
//!
//! hyper does the HTTP: it writes the request, reads the response head, skips a 407 body
//! (by `Content-Length` or chunked) and keeps bytes that arrived after a 2xx head. This
//! module decides what to send and what a response means. Proxy credentials and proxy
//! headers are sent here and nowhere else, so they never reach the origin server.

use std::future::Future;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{Builder, SendRequest};
use hyper_util::rt::TokioIo;
use wsvia_core::Credentials;
use wsvia_core::challenge::{Challenge, parse_all, strongest};
use wsvia_core::digest::{DigestChallenge, DigestRequest, authorization};

use crate::error::{Error, Peer};
use crate::observe::{Event, Observer, render_head};
use crate::stream::Stream;

/// At most this many requests per tunnel: the first, a Digest answer, a stale-nonce retry.
const MAX_ROUNDS: usize = 3;

/// Schemes we can answer, strongest first.
const SUPPORTED_SCHEMES: &[&str] = &["Digest", "Basic"];

/// A 407 body larger than this is not read; the connection is dropped instead.
const MAX_CHALLENGE_BODY: usize = 1 << 20;

/// What to ask the proxy for.
pub(crate) struct TunnelRequest<'a> {
    /// The proxy, redacted, for messages.
    pub(crate) proxy_label: &'a str,
    /// `host:port` of the target, IPv6 in brackets.
    pub(crate) target: &'a str,
    pub(crate) credentials: Option<&'a Credentials>,
    pub(crate) extra_headers: &'a HeaderMap,
    pub(crate) user_agent: &'a str,
    pub(crate) observer: Option<&'a dyn Observer>,
}

/// How we answer the proxy's authentication.
enum Answer {
    None,
    Basic(HeaderValue),
    Digest { challenge: DigestChallenge, nc: u32 },
}

/// Open a tunnel through the proxy. `dial` opens a fresh connection to the proxy
/// (TCP, and TLS for `https://` proxies); it is called again when the proxy closes the
/// connection after a 407.
pub(crate) async fn open<F, Fut>(req: &TunnelRequest<'_>, mut dial: F) -> Result<Stream, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Stream, Error>>,
{
    let mut answer = match req.credentials {
        Some(c) => Answer::Basic(header_value(&c.basic_header_value())?),
        None => Answer::None,
    };
    let mut sender: Option<SendRequest<Empty<Bytes>>> = None;
    for _round in 0..MAX_ROUNDS {
        let mut conn = match reusable(sender.take()).await {
            Some(s) => s,
            None => handshake(dial().await?, req.proxy_label).await?,
        };
        let request = build_request(req, &mut answer)?;
        trace(
            req,
            Event::Sent {
                peer: Peer::Proxy,
                head: &render_head(
                    &format!("CONNECT {} HTTP/1.1", req.target),
                    request.headers(),
                ),
            },
        );
        let response = conn
            .send_request(request)
            .await
            .map_err(|e| protocol_error(req, &e))?;
        trace(
            req,
            Event::Received {
                peer: Peer::Proxy,
                head: &render_head(&status_line(&response), response.headers()),
            },
        );
        let status = response.status();
        if status.is_success() {
            return upgraded(req, response).await;
        }
        if status != StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            return Err(refused(req, &response));
        }
        answer = next_answer(req, &answer, &response)?;
        if drain(response).await {
            sender = Some(conn);
        } else {
            trace(
                req,
                Event::Retrying {
                    why: "the proxy closed the connection after 407; opening a new one".into(),
                },
            );
        }
    }
    Err(rejected(req, &answer))
}

/// The connection a 407 came on, if the proxy kept it open.
async fn reusable(sender: Option<SendRequest<Empty<Bytes>>>) -> Option<SendRequest<Empty<Bytes>>> {
    let mut sender = sender?;
    sender.ready().await.ok()?;
    Some(sender)
}

async fn handshake(stream: Stream, proxy_label: &str) -> Result<SendRequest<Empty<Bytes>>, Error> {
    let (sender, conn) = Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Error::ProxyProtocol {
            proxy: proxy_label.to_owned(),
            detail: e.to_string(),
        })?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "proxy connection ended");
        }
    });
    Ok(sender)
}

fn build_request(
    req: &TunnelRequest<'_>,
    answer: &mut Answer,
) -> Result<Request<Empty<Bytes>>, Error> {
    let mut builder = Request::builder()
        .method(Method::CONNECT)
        .uri(req.target)
        .header(header::HOST, req.target)
        .header(header::USER_AGENT, req.user_agent);
    match answer {
        Answer::None => {}
        Answer::Basic(value) => {
            builder = builder.header(header::PROXY_AUTHORIZATION, value.clone())
        }
        Answer::Digest { challenge, nc } => {
            *nc += 1;
            let Some(creds) = req.credentials else {
                unreachable!("a Digest answer is only chosen when credentials exist")
            };
            let cnonce = tokio_tungstenite::tungstenite::handshake::client::generate_key();
            let value = authorization(
                challenge,
                creds,
                &DigestRequest {
                    method: "CONNECT",
                    uri: req.target,
                    cnonce: &cnonce,
                    nc: *nc,
                },
            );
            builder = builder.header(header::PROXY_AUTHORIZATION, header_value(&value)?);
        }
    }
    let mut request = builder.body(Empty::new()).map_err(|e| Error::InvalidUrl {
        url: req.target.to_owned(),
        reason: e.to_string(),
    })?;
    for (name, value) in req.extra_headers {
        request.headers_mut().append(name, value.clone());
    }
    Ok(request)
}

/// Decide how to answer a 407, or fail with the error that explains why we cannot.
fn next_answer(
    req: &TunnelRequest<'_>,
    previous: &Answer,
    response: &http::Response<hyper::body::Incoming>,
) -> Result<Answer, Error> {
    let challenges: Vec<Challenge> = parse_all(
        response
            .headers()
            .get_all(header::PROXY_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
    .unwrap_or_default();
    let offered = challenges.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let Some(creds) = req.credentials else {
        return Err(Error::ProxyAuthRequired {
            proxy: req.proxy_label.to_owned(),
            offered,
        });
    };
    let Some(chosen) = strongest(&challenges, SUPPORTED_SCHEMES) else {
        return Err(Error::ProxyAuthRequired {
            proxy: req.proxy_label.to_owned(),
            offered,
        });
    };
    if chosen.is_scheme("Basic") {
        return match previous {
            Answer::Basic(_) => Err(rejected(req, previous)),
            _ => Ok(Answer::Basic(header_value(&creds.basic_header_value())?)),
        };
    }
    let challenge = DigestChallenge::from_challenge(chosen).map_err(|e| Error::ProxyProtocol {
        proxy: req.proxy_label.to_owned(),
        detail: format!("unusable Digest challenge: {e}"),
    })?;
    match previous {
        // A new nonce marked stale means our answer was right but late: answer again.
        Answer::Digest { .. } if !challenge.stale => Err(rejected(req, previous)),
        _ => {
            trace(
                req,
                Event::Retrying {
                    why: format!(
                        "answering the proxy's Digest challenge ({:?})",
                        challenge.algorithm
                    ),
                },
            );
            Ok(Answer::Digest { challenge, nc: 0 })
        }
    }
}

/// Read and drop a 407 body; `true` when the connection can carry the next request.
async fn drain(response: http::Response<hyper::body::Incoming>) -> bool {
    let body = http_body_util::Limited::new(response.into_body(), MAX_CHALLENGE_BODY);
    body.collect().await.is_ok()
}

async fn upgraded(
    req: &TunnelRequest<'_>,
    response: http::Response<hyper::body::Incoming>,
) -> Result<Stream, Error> {
    let upgraded = hyper::upgrade::on(response)
        .await
        .map_err(|e| protocol_error(req, &e))?;
    match upgraded.downcast::<TokioIo<Stream>>() {
        Ok(parts) => Ok(parts.io.into_inner().prepend(parts.read_buf)),
        // hyper hands back the stream we gave it; keep it working even if that changes.
        Err(other) => Ok(Stream::new(TokioIo::new(other))),
    }
}

fn refused(req: &TunnelRequest<'_>, response: &http::Response<hyper::body::Incoming>) -> Error {
    let headers = response.headers();
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Error::ProxyRefused {
        proxy: req.proxy_label.to_owned(),
        status: response.status().as_u16(),
        reason: reason_phrase(response),
        retry_after: text("retry-after"),
        detail: text("proxy-status").or_else(|| text("x-squid-error")),
    }
}

fn rejected(req: &TunnelRequest<'_>, answer: &Answer) -> Error {
    Error::ProxyAuthRejected {
        proxy: req.proxy_label.to_owned(),
        user: req
            .credentials
            .map(|c| c.username.clone())
            .unwrap_or_default(),
        scheme: match answer {
            Answer::Digest { .. } => "Digest".into(),
            _ => "Basic".into(),
        },
    }
}

fn protocol_error(req: &TunnelRequest<'_>, e: &hyper::Error) -> Error {
    let detail = if e.is_incomplete_message() {
        "it closed the connection without answering the CONNECT request".to_owned()
    } else if e.is_parse() {
        format!("its answer is not HTTP: {e}")
    } else {
        e.to_string()
    };
    Error::ProxyProtocol {
        proxy: req.proxy_label.to_owned(),
        detail,
    }
}

fn header_value(value: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(value).map_err(|_| Error::InvalidHeader {
        header: "Proxy-Authorization".into(),
        reason: "the credentials contain characters a header cannot carry".into(),
    })
}

fn reason_phrase<B>(response: &http::Response<B>) -> String {
    response
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
        .or_else(|| response.status().canonical_reason().map(str::to_owned))
        .unwrap_or_default()
}

fn status_line<B>(response: &http::Response<B>) -> String {
    format!(
        "{:?} {} {}",
        response.version(),
        response.status().as_u16(),
        reason_phrase(response)
    )
}

fn trace(req: &TunnelRequest<'_>, event: Event<'_>) {
    if let Some(observer) = req.observer {
        observer.on_event(&event);
    }
}
