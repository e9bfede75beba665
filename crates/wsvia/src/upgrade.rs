//! The last step: the WebSocket upgrade request (RFC 6455 §4.1) over the built stream.
//!
//! hyper does the HTTP (so an HTTP/1.0 404 is read as what it is); this module builds the
//! request, checks the `101` the way browsers do, and hands the stream to tokio-tungstenite
//! for frames, or to yawc when the server accepted our permessage-deflate offer (see
//! [`WebSocket`]). A server may decline every offered subprotocol, as browsers allow.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Empty;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::error::{Error, Peer};
use crate::http1::{self, reason_phrase, status_line};
use crate::observe::{Event, Observer, render_head};
use crate::stream::Stream;
use crate::websocket::WebSocket;
use wsvia_core::deflate::{DeflateOptions, DeflateParams};

/// What the upgrade request carries besides the required headers.
pub(crate) struct UpgradeRequest<'a> {
    pub(crate) url: &'a url::Url,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) protocols: &'a [String],
    pub(crate) user_agent: &'a str,
    pub(crate) config: WebSocketConfig,
    /// Offer permessage-deflate with these options.
    pub(crate) compression: Option<DeflateOptions>,
    pub(crate) observer: Option<&'a dyn Observer>,
}

/// Send the upgrade request over `stream`, check the `101`, and start the WebSocket.
pub(crate) async fn websocket(
    stream: Stream,
    req: &UpgradeRequest<'_>,
) -> Result<(WebSocket<Stream>, Response<()>), Error> {
    let key = generate_key();
    let request = build_request(req, &key)?;
    if let Some(observer) = req.observer {
        let target = request.uri().to_string();
        observer.on_event(&Event::Sent {
            peer: Peer::Target,
            head: &render_head(&format!("GET {target} HTTP/1.1"), request.headers()),
        });
    }
    let mut sender = http1::handshake(stream).await.map_err(handshake_error)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(handshake_error)?;
    if let Some(observer) = req.observer {
        observer.on_event(&Event::Received {
            peer: Peer::Target,
            head: &render_head(&status_line(&response), response.headers()),
        });
    }
    let deflate = check_response(&response, &key, req.protocols, req.compression.as_ref())?;
    if let (Some(observer), Some(_)) = (req.observer, req.compression) {
        observer.on_event(&Event::Compression(deflate.as_ref()));
    }
    let head = head_of(&response);
    let stream = http1::take_stream(response)
        .await
        .map_err(handshake_error)?;
    let ws = WebSocket::from_raw_socket(stream, Role::Client, req.config, deflate).await;
    Ok((ws, head))
}

fn build_request(req: &UpgradeRequest<'_>, key: &str) -> Result<Request<Empty<Bytes>>, Error> {
    let url = req.url;
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => unreachable!("client URLs always have a host"),
    };
    let mut request = Request::builder()
        .uri(&target)
        .header(header::HOST, &host)
        .header(header::USER_AGENT, req.user_agent)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, key)
        .body(Empty::new())
        .map_err(|e| Error::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    let headers = request.headers_mut();
    if !req.protocols.is_empty() {
        let joined = req.protocols.join(", ");
        let value = HeaderValue::from_str(&joined).map_err(|_| Error::InvalidHeader {
            header: joined.clone(),
            reason: "a subprotocol name must be a token".into(),
        })?;
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    if let Some(options) = &req.compression {
        // The offer is ASCII built from fixed names and digits.
        let offer = HeaderValue::from_str(&options.offer()).expect("a valid header value");
        headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, offer);
    }
    for name in req.headers.keys() {
        // The user's Host, User-Agent or Origin replaces ours; other names add values.
        headers.remove(name);
    }
    for (name, value) in req.headers {
        headers.append(name, value.clone());
    }
    Ok(request)
}

/// RFC 6455 §4.1: what the client must check in the server's answer; the
/// permessage-deflate parameters in force when we offered it and the server accepted.
fn check_response<B>(
    response: &Response<B>,
    key: &str,
    offered: &[String],
    compression: Option<&DeflateOptions>,
) -> Result<Option<DeflateParams>, Error> {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(Error::UpgradeRefused {
            status: response.status().as_u16(),
            reason: reason_phrase(response),
        });
    }
    let headers = response.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    let broken = |detail: String| Err(Error::Handshake { detail });
    if !has_token(header::UPGRADE, "websocket") {
        return broken("the 101 answer lacks 'Upgrade: websocket'".into());
    }
    if !has_token(header::CONNECTION, "upgrade") {
        return broken("the 101 answer lacks 'Connection: Upgrade'".into());
    }
    let expected = derive_accept_key(key.as_bytes());
    match headers.get(header::SEC_WEBSOCKET_ACCEPT) {
        Some(v) if v.as_bytes() == expected.as_bytes() => {}
        Some(_) => return broken("Sec-WebSocket-Accept does not match our key".into()),
        None => return broken("the 101 answer lacks Sec-WebSocket-Accept".into()),
    }
    if let Some(chosen) = headers.get(header::SEC_WEBSOCKET_PROTOCOL) {
        let chosen = chosen.to_str().unwrap_or_default();
        if !offered.iter().any(|p| p == chosen) {
            return broken(format!(
                "the server chose subprotocol {chosen:?}, which we did not offer"
            ));
        }
    }
    let mut answer = Vec::new();
    for value in headers.get_all(header::SEC_WEBSOCKET_EXTENSIONS) {
        match value.to_str() {
            Ok(v) if !v.trim().is_empty() => answer.push(v),
            Ok(_) => {}
            Err(_) => return broken(format!("Sec-WebSocket-Extensions is not text: {value:?}")),
        }
    }
    match compression {
        None if answer.is_empty() => Ok(None),
        None => broken(format!(
            "the server enabled extensions we did not offer: {:?}",
            answer.join(", ")
        )),
        Some(options) => {
            options
                .check_answer(Some(&answer.join(", ")))
                .map_err(|e| Error::Handshake {
                    detail: format!("permessage-deflate: {e}"),
                })
        }
    }
}

fn head_of<B>(response: &Response<B>) -> Response<()> {
    let mut head = Response::new(());
    *head.status_mut() = response.status();
    *head.version_mut() = response.version();
    *head.headers_mut() = response.headers().clone();
    head
}

fn handshake_error(e: hyper::Error) -> Error {
    let detail = if e.is_incomplete_message() {
        "the server closed the connection before answering the upgrade".to_owned()
    } else if e.is_parse() {
        format!("the server's answer is not HTTP: {e}")
    } else {
        e.to_string()
    };
    Error::Handshake { detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response<()> {
        let mut r = Response::builder().status(status);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.body(()).unwrap()
    }

    #[test]
    fn a_101_is_checked_like_a_browser_does() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        // RFC 6455 §1.3's example accept value.
        let good = [
            ("upgrade", "WebSocket"),
            ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ];
        assert!(check_response(&answer(101, &good), key, &[], None).is_ok());
        let mut with_proto = good.to_vec();
        with_proto.push(("sec-websocket-protocol", "chat"));
        assert!(check_response(&answer(101, &with_proto), key, &["chat".into()], None).is_ok());
        assert!(check_response(&answer(101, &with_proto), key, &[], None).is_err());
        // Declining every offered subprotocol is allowed.
        assert!(check_response(&answer(101, &good), key, &["chat".into()], None).is_ok());
        let wrong_accept = [good[0], good[1], ("sec-websocket-accept", "AAAA")];
        assert!(check_response(&answer(101, &wrong_accept), key, &[], None).is_err());
        assert!(check_response(&answer(101, &good[1..]), key, &[], None).is_err());
        let mut with_ext = good.to_vec();
        with_ext.push(("sec-websocket-extensions", "permessage-deflate"));
        assert!(check_response(&answer(101, &with_ext), key, &[], None).is_err());
        match check_response(&answer(404, &[]), key, &[], None) {
            Err(Error::UpgradeRefused { status: 404, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_deflate_answer_is_checked_against_our_offer() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let offer = DeflateOptions::default().server_no_context_takeover(true);
        let mut h = vec![
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ];
        // Declined: no header.
        assert_eq!(
            check_response(&answer(101, &h), key, &[], Some(&offer)).unwrap(),
            None
        );
        h.push((
            "sec-websocket-extensions",
            "permessage-deflate; server_no_context_takeover",
        ));
        let p = check_response(&answer(101, &h), key, &[], Some(&offer))
            .unwrap()
            .unwrap();
        assert!(p.server_no_context_takeover);
        h.pop();
        // Accepted without the server_no_context_takeover we asked for: a broken answer.
        h.push(("sec-websocket-extensions", "permessage-deflate"));
        let err = check_response(&answer(101, &h), key, &[], Some(&offer)).unwrap_err();
        assert!(
            err.to_string().contains("server_no_context_takeover"),
            "{err}"
        );
        // Two header lines form one list: two extensions is one too many.
        h.push(("sec-websocket-extensions", "permessage-deflate"));
        assert!(
            check_response(&answer(101, &h), key, &[], Some(&DeflateOptions::default())).is_err()
        );
    }
}
