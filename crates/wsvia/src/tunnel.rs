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
use hyper::client::conn::http1::SendRequest;
use wsvia_core::Credentials;
use wsvia_core::challenge::{Challenge, parse_all, strongest};
use wsvia_core::digest::{DigestChallenge, DigestRequest, authorization};

use crate::error::{Error, Peer};
use crate::http1::{self, reason_phrase, status_line};
use crate::ntlm;
use crate::observe::{Event, Observer, render_head};
use crate::stream::Stream;

/// At most this many requests per tunnel: the first, a Digest answer, a stale-nonce retry.
/// NTLM needs the most: Basic up front, 407, Negotiate, 407 with the challenge, Authenticate.
const MAX_ROUNDS: usize = 4;

/// Schemes we can answer, strongest first.
const SUPPORTED_SCHEMES: &[&str] = &["NTLM", "Digest", "Basic"];

/// A 407 body larger than this is not read; the connection is dropped instead.
const MAX_CHALLENGE_BODY: usize = 1 << 20;

/// What to ask the proxy for.
pub(crate) struct TunnelRequest<'a> {
    /// The proxy, redacted, for messages.
    pub(crate) proxy_label: &'a str,
    /// `host:port` of the target, IPv6 in brackets.
    pub(crate) target: &'a str,
    pub(crate) credentials: Option<&'a Credentials>,
    /// Send Basic credentials with the first request, before the proxy asks.
    pub(crate) basic_upfront: bool,
    pub(crate) extra_headers: &'a HeaderMap,
    pub(crate) user_agent: &'a str,
    pub(crate) observer: Option<&'a dyn Observer>,
}

/// How we answer the proxy's authentication.
enum Answer {
    None,
    Basic(HeaderValue),
    Digest {
        challenge: DigestChallenge,
        nc: u32,
    },
    /// NTLM's first message; the proxy answers with its challenge on the same connection.
    NtlmNegotiate(HeaderValue),
    /// NTLM's last message, the answer to the challenge.
    NtlmAuthenticate(HeaderValue),
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
        Some(c) if req.basic_upfront => Answer::Basic(header_value(&c.basic_header_value())?),
        _ => Answer::None,
    };
    let mut sender: Option<SendRequest<Empty<Bytes>>> = None;
    for round in 0..MAX_ROUNDS {
        let mut conn = match reusable(sender.take()).await {
            Some(s) => {
                trace(
                    req,
                    Event::Retrying {
                        why: "answering the 407 on the same connection".into(),
                    },
                );
                s
            }
            None => {
                // NTLM authenticates a connection: its answer is worthless on a new one.
                if matches!(answer, Answer::NtlmAuthenticate(_)) {
                    return Err(Error::ProxyProtocol {
                        proxy: req.proxy_label.to_owned(),
                        detail: "it closed the connection in the middle of NTLM authentication"
                            .into(),
                    });
                }
                if round > 0 {
                    trace(
                        req,
                        Event::Retrying {
                            why: "the proxy closed the connection after its 407; opening a new one"
                                .into(),
                        },
                    );
                }
                handshake(dial().await?, req.proxy_label).await?
            }
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
            return http1::take_stream(response)
                .await
                .map_err(|e| protocol_error(req, &e));
        }
        // tinyproxy answers wrong credentials with 401 and `WWW-Authenticate`.
        if status == StatusCode::UNAUTHORIZED && !matches!(answer, Answer::None) {
            return Err(rejected(req, &answer));
        }
        if status != StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            return Err(refused(req, &response));
        }
        answer = next_answer(req, &answer, &response)?;
        if drain(response).await {
            sender = Some(conn);
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
    http1::handshake(stream)
        .await
        .map_err(|e| Error::ProxyProtocol {
            proxy: proxy_label.to_owned(),
            detail: e.to_string(),
        })
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
        Answer::Basic(value) | Answer::NtlmNegotiate(value) | Answer::NtlmAuthenticate(value) => {
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
    if chosen.is_scheme("NTLM") {
        return match (previous, &chosen.token68) {
            (Answer::NtlmNegotiate(_), Some(challenge)) => {
                let value = ntlm::authenticate(challenge, creds).map_err(|detail| {
                    Error::ProxyProtocol {
                        proxy: req.proxy_label.to_owned(),
                        detail,
                    }
                })?;
                Ok(Answer::NtlmAuthenticate(header_value(&value)?))
            }
            (Answer::NtlmNegotiate(_) | Answer::NtlmAuthenticate(_), _) => {
                Err(rejected(req, previous))
            }
            _ => {
                trace(
                    req,
                    Event::Retrying {
                        why: "answering the proxy's NTLM challenge".into(),
                    },
                );
                let value = ntlm::negotiate().map_err(|detail| Error::ProxyProtocol {
                    proxy: req.proxy_label.to_owned(),
                    detail,
                })?;
                Ok(Answer::NtlmNegotiate(header_value(&value)?))
            }
        };
    }
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
            Answer::NtlmNegotiate(_) | Answer::NtlmAuthenticate(_) => "NTLM".into(),
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

fn trace(req: &TunnelRequest<'_>, event: Event<'_>) {
    if let Some(observer) = req.observer {
        observer.on_event(&event);
    }
}

#[cfg(test)]
mod tests {
    //! Exact wire bytes against a scripted proxy on loopback: what we send, and how we
    //! read 2xx heads with early bytes, 407 bodies (chunked, closed) and refusals.

    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use wsvia_core::digest::{DigestResponse, expected_response, ha1};

    /// Read one request head (up to the blank line) from the fake proxy's side.
    async fn read_head(sock: &mut TcpStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if sock.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
        String::from_utf8(head).unwrap()
    }

    /// A proxy that runs `script` for each accepted connection, counting connections.
    async fn fake_proxy<F, Fut>(script: F) -> (String, Arc<AtomicUsize>)
    where
        F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                script(n, sock).await;
            }
        });
        (addr, accepted)
    }

    /// A proxy that answers a connection's first head with `challenge` (a 407 that keeps
    /// the connection) and its second with 200, and reports both heads in order.
    async fn challenging_proxy(
        challenge: &'static [u8],
    ) -> (
        String,
        Arc<AtomicUsize>,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    ) {
        let (seen_tx, seen_rx) = tokio::sync::mpsc::unbounded_channel();
        let (addr, accepted) = fake_proxy(move |_, mut sock| {
            let seen_tx = seen_tx.clone();
            async move {
                seen_tx.send(read_head(&mut sock).await).unwrap();
                sock.write_all(challenge).await.unwrap();
                seen_tx.send(read_head(&mut sock).await).unwrap();
                sock.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
                let _ = sock.read(&mut [0u8; 1]).await;
            }
        })
        .await;
        (addr, accepted, seen_rx)
    }

    async fn open_via(
        addr: &str,
        creds: Option<&Credentials>,
        upfront: bool,
    ) -> Result<Stream, Error> {
        let headers = HeaderMap::new();
        let req = TunnelRequest {
            proxy_label: "http://fake",
            target: "example.com:443",
            credentials: creds,
            basic_upfront: upfront,
            extra_headers: &headers,
            user_agent: "wsvia-test",
            observer: None,
        };
        open(&req, || async {
            Ok(Stream::new(
                TcpStream::connect(addr).await.map_err(Error::Io)?,
            ))
        })
        .await
    }

    #[tokio::test]
    async fn sends_exact_connect_bytes_and_keeps_bytes_after_an_http10_200() {
        let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
        let (addr, _) = fake_proxy(move |_, mut sock| {
            let seen_tx = seen_tx.clone();
            async move {
                seen_tx.send(read_head(&mut sock).await).unwrap();
                sock.write_all(
                    b"HTTP/1.0 200 Connection established\r\nProxy-agent: fake/1\r\n\r\nEARLY",
                )
                .await
                .unwrap();
                let _ = sock.read(&mut [0u8; 1]).await;
            }
        })
        .await;
        let creds = Credentials::new("alice", "secret");
        let mut stream = open_via(&addr, Some(&creds), true).await.unwrap();
        assert_eq!(
            seen_rx.recv().await.unwrap(),
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nUser-Agent: wsvia-test\r\n\
             Proxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n"
        );
        let mut early = [0u8; 5];
        stream.read_exact(&mut early).await.unwrap();
        assert_eq!(&early, b"EARLY");
    }

    #[tokio::test]
    async fn answers_a_keep_alive_407_with_a_chunked_body_on_the_same_connection() {
        let (addr, accepted, mut seen_rx) = challenging_proxy(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\
              Proxy-Authenticate: Basic realm=\"corp\"\r\n\
              Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        )
        .await;
        let creds = Credentials::new("alice", "secret");
        open_via(&addr, Some(&creds), false).await.unwrap();
        assert!(
            !seen_rx
                .recv()
                .await
                .unwrap()
                .contains("Proxy-Authorization")
        );
        assert!(
            seen_rx
                .recv()
                .await
                .unwrap()
                .contains("Proxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n")
        );
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "the retry reused the connection"
        );
    }

    #[tokio::test]
    async fn opens_a_new_connection_when_the_407_closes_it() {
        let (addr, accepted) = fake_proxy(|n, mut sock| async move {
            let head = read_head(&mut sock).await;
            if n == 0 {
                assert!(!head.contains("Proxy-Authorization"));
                sock.write_all(
                    b"HTTP/1.0 407 Proxy Authentication Required\r\n\
                      Proxy-Authenticate: Basic realm=\"tiny\"\r\nConnection: close\r\n\
                      Content-Length: 4\r\n\r\ngone",
                )
                .await
                .unwrap();
            } else {
                assert!(head.contains("Proxy-Authorization: Basic "));
                sock.write_all(b"HTTP/1.0 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = sock.read(&mut [0u8; 1]).await;
            }
        })
        .await;
        let creds = Credentials::new("bob", "pw");
        open_via(&addr, Some(&creds), false).await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn answers_digest_with_a_response_the_proxy_can_verify() {
        let (addr, _, mut seen_rx) = challenging_proxy(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\
              Proxy-Authenticate: Digest realm=\"corp\", nonce=\"abc123\", qop=\"auth\", algorithm=SHA-256\r\n\
              Proxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        let creds = Credentials::new("alice", "secret");
        open_via(&addr, Some(&creds), true).await.unwrap();
        let first = seen_rx.recv().await.unwrap();
        assert!(first.contains("Proxy-Authorization: Basic "), "{first}");
        let head = seen_rx.recv().await.unwrap();
        let value = head
            .lines()
            .find_map(|l| l.strip_prefix("Proxy-Authorization: "))
            .expect("a Digest answer");
        let answer = DigestResponse::parse(value).unwrap();
        assert_eq!(answer.uri, "example.com:443");
        let ha1 = ha1(answer.algorithm, "alice", "corp", "secret");
        assert_eq!(answer.response, expected_response(&answer, &ha1, "CONNECT"));
    }

    #[tokio::test]
    async fn a_407_without_credentials_lists_every_scheme_offered() {
        let (addr, _) = fake_proxy(|_, mut sock| async move {
            read_head(&mut sock).await;
            sock.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Negotiate\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n\
                  Content-Length: 0\r\n\r\n",
            )
            .await
            .unwrap();
        })
        .await;
        match open_via(&addr, None, true).await {
            Err(Error::ProxyAuthRequired { offered, .. }) => {
                assert_eq!(
                    offered,
                    vec!["Negotiate".to_owned(), "Basic realm=\"corp\"".to_owned()]
                );
            }
            other => panic!("expected ProxyAuthRequired, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn refusals_carry_status_retry_after_and_the_proxys_reason() {
        let (addr, _) = fake_proxy(|_, mut sock| async move {
            read_head(&mut sock).await;
            sock.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\n\
                  Proxy-Status: wsvia; error=connection_limit_reached\r\nContent-Length: 0\r\n\r\n",
            )
            .await
            .unwrap();
        })
        .await;
        match open_via(&addr, None, true).await {
            Err(Error::ProxyRefused {
                status,
                reason,
                retry_after,
                detail,
                ..
            }) => {
                assert_eq!((status, reason.as_str()), (503, "Service Unavailable"));
                assert_eq!(retry_after.as_deref(), Some("7"));
                assert_eq!(
                    detail.as_deref(),
                    Some("wsvia; error=connection_limit_reached")
                );
            }
            other => panic!("expected ProxyRefused, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn wrong_credentials_are_reported_as_rejected_not_required() {
        let (addr, _) = fake_proxy(|_, mut sock| async move {
            while !read_head(&mut sock).await.is_empty() {
                let reply = b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                    Proxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n";
                if sock.write_all(reply).await.is_err() {
                    break;
                }
            }
        })
        .await;
        let creds = Credentials::new("alice", "wrong");
        match open_via(&addr, Some(&creds), true).await {
            Err(Error::ProxyAuthRejected { user, scheme, .. }) => {
                assert_eq!((user.as_str(), scheme.as_str()), ("alice", "Basic"));
            }
            other => panic!("expected ProxyAuthRejected, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_proxy_that_answers_garbage_or_nothing_breaks_the_protocol() {
        for reply in [&b"SSH-2.0-OpenSSH_9.2\r\n"[..], &b""[..]] {
            let (addr, _) = fake_proxy(move |_, mut sock| async move {
                read_head(&mut sock).await;
                sock.write_all(reply).await.unwrap();
            })
            .await;
            let err = open_via(&addr, None, true).await.unwrap_err();
            assert!(matches!(err, Error::ProxyProtocol { .. }), "{err:?}");
        }
    }
}
