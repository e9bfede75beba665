//! The last step: the WebSocket upgrade request over whatever stream the layers built.
//!
//! tokio-tungstenite writes the request and checks the `101` answer; this module adds the
//! user's headers and subprotocols and turns its errors into [`Error`]s.

use http::HeaderMap;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Error as WsError};

use crate::error::{Error, Peer};
use crate::observe::{Event, Observer, render_head};
use crate::stream::Stream;

/// What the upgrade request carries besides the required headers.
pub(crate) struct UpgradeRequest<'a> {
    pub(crate) url: &'a url::Url,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) protocols: &'a [String],
    pub(crate) config: WebSocketConfig,
    pub(crate) observer: Option<&'a dyn Observer>,
}

/// Send the upgrade request over `stream` and wait for the `101`.
pub(crate) async fn websocket(
    stream: Stream,
    req: &UpgradeRequest<'_>,
) -> Result<(WebSocketStream<Stream>, Response), Error> {
    let mut request = req
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::InvalidUrl {
            url: req.url.to_string(),
            reason: e.to_string(),
        })?;
    for (name, value) in req.headers {
        request.headers_mut().append(name, value.clone());
    }
    if !req.protocols.is_empty() {
        let joined = req.protocols.join(", ");
        let value = joined.parse().map_err(|_| Error::InvalidHeader {
            header: joined.clone(),
            reason: "a subprotocol name must be a token".into(),
        })?;
        request
            .headers_mut()
            .insert(http::header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    if let Some(observer) = req.observer {
        let path = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        observer.on_event(&Event::Sent {
            peer: Peer::Target,
            head: &render_head(&format!("GET {path} HTTP/1.1"), request.headers()),
        });
    }
    let result =
        tokio_tungstenite::client_async_with_config(request, stream, Some(req.config)).await;
    match result {
        Ok((ws, response)) => {
            if let Some(observer) = req.observer {
                observer.on_event(&Event::Received {
                    peer: Peer::Target,
                    head: &render_head(&status_line(&response), response.headers()),
                });
            }
            Ok((ws, response))
        }
        Err(e) => Err(handshake_error(e, req.observer)),
    }
}

fn handshake_error(e: WsError, observer: Option<&dyn Observer>) -> Error {
    match e {
        WsError::Http(response) => {
            if let Some(observer) = observer {
                observer.on_event(&Event::Received {
                    peer: Peer::Target,
                    head: &render_head(&status_line(&response), response.headers()),
                });
            }
            Error::UpgradeRefused {
                status: response.status().as_u16(),
                reason: response
                    .status()
                    .canonical_reason()
                    .unwrap_or_default()
                    .to_owned(),
            }
        }
        WsError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Error::Handshake {
            detail: "the server closed the connection before answering the upgrade".into(),
        },
        WsError::Io(io) => Error::Io(io),
        WsError::Protocol(tungstenite::error::ProtocolError::HandshakeIncomplete) => {
            Error::Handshake {
                detail: "the server closed the connection before answering the upgrade".into(),
            }
        }
        other => Error::Handshake {
            detail: other.to_string(),
        },
    }
}

fn status_line<B>(response: &http::Response<B>) -> String {
    format!(
        "{:?} {} {}",
        response.version(),
        response.status().as_u16(),
        response.status().canonical_reason().unwrap_or_default()
    )
}
