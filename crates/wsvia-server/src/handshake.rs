//! The server side of the WebSocket opening handshake (RFC 6455 §4.2): checking a client's
//! upgrade request, and building the `101` the gateway and the echo server answer with.

use crate::http::{Body, empty, text};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, header};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// What a valid upgrade request offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// `Sec-WebSocket-Key`.
    pub key: String,
    /// Offered subprotocols, in order.
    pub protocols: Vec<String>,
    /// The raw `Sec-WebSocket-Extensions` offer, if any.
    pub extensions: Option<HeaderValue>,
}

/// True when the request asks for an upgrade to WebSocket at all.
pub fn wants_websocket(headers: &HeaderMap) -> bool {
    has_token(headers, header::UPGRADE, "websocket")
}

/// Why an upgrade request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadUpgrade {
    /// Not a GET.
    #[error("a WebSocket upgrade must be a GET")]
    NotGet,
    /// No `Connection: Upgrade`.
    #[error("missing 'Connection: Upgrade'")]
    NoConnectionUpgrade,
    /// A version other than 13.
    #[error("only WebSocket version 13 is supported")]
    Version,
    /// No key, or not base64 of 16 bytes.
    #[error("missing or malformed Sec-WebSocket-Key")]
    Key,
}

impl BadUpgrade {
    /// The answer: 426 with `Sec-WebSocket-Version: 13` for a bad version (RFC 6455 §4.4),
    /// else 400.
    pub fn response(self) -> Response<Body> {
        if self == BadUpgrade::Version {
            let mut r = text(StatusCode::UPGRADE_REQUIRED, &format!("{self}\n"));
            r.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
            return r;
        }
        text(StatusCode::BAD_REQUEST, &format!("{self}\n"))
    }
}

/// Check an upgrade request.
///
/// # Errors
/// [`BadUpgrade`] saying what is wrong.
pub fn check<B>(req: &Request<B>) -> Result<Offer, BadUpgrade> {
    let headers = req.headers();
    if req.method() != http::Method::GET {
        return Err(BadUpgrade::NotGet);
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(BadUpgrade::NoConnectionUpgrade);
    }
    let version = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if version.trim() != "13" {
        return Err(BadUpgrade::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| valid_key(k))
        .ok_or(BadUpgrade::Key)?;
    Ok(Offer {
        key: key.to_owned(),
        protocols: tokens(headers, header::SEC_WEBSOCKET_PROTOCOL),
        extensions: headers.get(header::SEC_WEBSOCKET_EXTENSIONS).cloned(),
    })
}

/// The `101` for `offer`, carrying the subprotocol and extensions the upstream chose.
pub fn switching(
    offer: &Offer,
    protocol: Option<&HeaderValue>,
    extensions: Option<&HeaderValue>,
) -> Response<Body> {
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&derive_accept_key(offer.key.as_bytes())) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(p) = protocol {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, p.clone());
    }
    if let Some(e) = extensions {
        h.insert(header::SEC_WEBSOCKET_EXTENSIONS, e.clone());
    }
    r
}

/// `Sec-WebSocket-Key` is base64 of 16 bytes: 22 characters and `==`.
fn valid_key(key: &str) -> bool {
    key.len() == 24
        && key.ends_with("==")
        && key[..22]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Comma-separated tokens of every `name` header, trimmed, in order.
pub fn tokens(headers: &HeaderMap, name: HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// True when `name` lists `token` (case-insensitive).
pub fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    tokens(headers, name)
        .iter()
        .any(|t| t.eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::get("/chat");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    const GOOD: &[(&str, &str)] = &[
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-protocol", "chat, superchat"),
    ];

    #[test]
    fn a_valid_offer_is_read_and_answered_with_the_rfc_accept_value() {
        let offer = check(&request(GOOD)).unwrap();
        assert_eq!(offer.protocols, ["chat", "superchat"]);
        let chosen = HeaderValue::from_static("chat");
        let r = switching(&offer, Some(&chosen), None);
        assert_eq!(r.status(), 101);
        assert_eq!(
            r.headers()[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(r.headers()[header::SEC_WEBSOCKET_PROTOCOL], "chat");
    }

    #[test]
    fn bad_versions_get_426_and_bad_keys_400() {
        let mut h = GOOD.to_vec();
        h[2] = ("sec-websocket-version", "8");
        let r = check(&request(&h)).unwrap_err().response();
        assert_eq!(r.status(), 426);
        assert_eq!(r.headers()[header::SEC_WEBSOCKET_VERSION], "13");
        for key in [
            "",
            "short",
            "dGhlIHNhbXBsZSBub25jZQ",
            "dGhlIHNhbXBsZSBub25jZQ=!",
            "!!!!!!!!!!!!!!!!!!!!!!==",
        ] {
            let mut h = GOOD.to_vec();
            h[3] = ("sec-websocket-key", key);
            assert_eq!(check(&request(&h)).unwrap_err(), BadUpgrade::Key, "{key:?}");
        }
        let mut h = GOOD.to_vec();
        h[1] = ("connection", "keep-alive");
        assert_eq!(check(&request(&h)).unwrap_err().response().status(), 400);
    }
}
