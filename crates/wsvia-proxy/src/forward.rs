//! Absolute-form requests (`GET http://host/path`): forwarded with hop-by-hop headers
//! removed and `Via` added; a WebSocket upgrade is passed on and, after the `101`, the
//! two connections are joined like a CONNECT tunnel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wsvia_server::handshake::has_token;
use wsvia_server::http::{Counted, end_to_end};
use wsvia_server::record::{CloseReason, TunnelRecord};
use wsvia_server::relay::Early;

use crate::connect::tunnel;
use crate::respond::{Body, Refusal};
use crate::server::{Admitted, ConnCtx};
use crate::target::Target;

/// What this proxy adds to `Via`.
const VIA: &str = "1.1 wsvia";

/// Handle one absolute-form request.
pub(crate) async fn handle(
    mut req: Request<Incoming>,
    ctx: Arc<ConnCtx>,
    started: Instant,
) -> Response<Body> {
    let target = Target::from_absolute(req.uri());
    let admitted = match ctx.admit(&req, target, started).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    let upgrade = is_websocket_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let method = req.method().to_string();
    let sent_up = Arc::new(AtomicU64::new(0));
    let upstream_req = upstream_request(req, upgrade, sent_up.clone());
    let Admitted {
        label,
        target,
        user,
        upstream,
        slot,
    } = admitted;
    let record = {
        let (ctx, user, method, label) = (ctx.clone(), user.clone(), method.clone(), label.clone());
        move |status: u16, reason: CloseReason, bytes_down: u64| {
            ctx.finish(TunnelRecord {
                client: ctx.client,
                user,
                method,
                target: label,
                status,
                bytes_up: sent_up.load(Ordering::Relaxed),
                bytes_down,
                duration: started.elapsed(),
                reason,
            });
        }
    };
    let mut response = match send(upstream, upstream_req).await {
        Ok(r) => r,
        Err(detail) => {
            let r = Refusal::Unavailable { detail };
            record(r.status().as_u16(), CloseReason::UpstreamError, 0);
            return r.response();
        }
    };
    let status = response.status();
    let client_upgrade = match client_upgrade {
        Some(on) if status == StatusCode::SWITCHING_PROTOCOLS => on,
        _ => {
            // The line is written when the body has been passed on (or abandoned).
            let (mut parts, body) = downstream_response(response, false).into_parts();
            parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
            let counted = Counted::new(body, move |bytes| {
                record(status.as_u16(), CloseReason::Answered, bytes)
            });
            return Response::from_parts(parts, counted.boxed());
        }
    };
    let upstream_upgrade = hyper::upgrade::on(&mut response);
    let task_ctx = ctx.clone();
    ctx.shared.drain.spawn(async move {
        let (Ok(client), Ok(upstream)) = tokio::join!(client_upgrade, upstream_upgrade) else {
            tracing::debug!("an upgrade was abandoned before the tunnel started");
            return;
        };
        let (Ok(client), Ok(upstream)) = (
            client.downcast::<TokioIo<TcpStream>>(),
            upstream.downcast::<TokioIo<TcpStream>>(),
        ) else {
            unreachable!("both sides of the proxy are TcpStream connections");
        };
        let early = Early {
            up: client.read_buf,
            down: upstream.read_buf,
        };
        let admitted = Admitted {
            label,
            target,
            user,
            upstream: upstream.io.into_inner(),
            slot,
        };
        tunnel(
            task_ctx,
            admitted,
            client.io.into_inner(),
            early,
            method,
            101,
            started,
        )
        .await;
    });
    downstream_response(response, true)
}

/// The request as the origin must see it: origin-form target, `Host` from the URL,
/// hop-by-hop headers removed (but the upgrade kept when it is one), `Via` added.
fn upstream_request(req: Request<Incoming>, upgrade: bool, sent: Arc<AtomicU64>) -> Request<Body> {
    let (parts, body) = req.into_parts();
    let counted = Counted::new(body, move |bytes| sent.store(bytes, Ordering::Relaxed));
    let mut out = Request::new(counted.boxed());
    // Keeps the header case map hyper read, so names reach the origin as the client wrote them.
    *out.extensions_mut() = parts.extensions;
    *out.method_mut() = parts.method;
    *out.uri_mut() = origin_form(&parts.uri);
    *out.version_mut() = Version::HTTP_11;
    *out.headers_mut() = forwardable(&parts.headers, upgrade);
    // RFC 9112 §3.2.2: a proxy replaces Host with the target URI's authority.
    if let Some(v) = parts
        .uri
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        out.headers_mut().insert(header::HOST, v);
    }
    append_via(out.headers_mut());
    out
}

/// Send `req` on a fresh HTTP/1.1 connection over `upstream`.
async fn send(upstream: TcpStream, req: Request<Body>) -> Result<Response<Incoming>, String> {
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .handshake(TokioIo::new(upstream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "upstream connection ended with an error");
        }
    });
    sender.send_request(req).await.map_err(|e| {
        if e.is_incomplete_message() {
            "the upstream closed the connection without answering".to_owned()
        } else {
            format!("the upstream's answer is not HTTP: {e}")
        }
    })
}

/// The response as the client must see it.
fn downstream_response(response: Response<Incoming>, upgrade: bool) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    parts.headers = forwardable(&parts.headers, upgrade);
    append_via(&mut parts.headers);
    Response::from_parts(parts, body.boxed())
}

/// True for `Upgrade: websocket` with `Connection: upgrade`.
fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    has_token(headers, header::UPGRADE, "websocket")
        && has_token(headers, header::CONNECTION, "upgrade")
}

/// Copy `headers` without hop-by-hop ones and those `Connection` names; for an upgrade,
/// `Connection: Upgrade` and `Upgrade: websocket` are put back.
fn forwardable(headers: &HeaderMap, upgrade: bool) -> HeaderMap {
    let mut out = end_to_end(headers);
    if upgrade {
        out.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        out.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    out
}

fn append_via(headers: &mut HeaderMap) {
    headers.append(header::VIA, HeaderValue::from_static(VIA));
}

fn origin_form(uri: &Uri) -> Uri {
    uri.path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .parse()
        .unwrap_or_else(|_| Uri::from_static("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, X-Secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(
            header::PROXY_AUTHORIZATION,
            HeaderValue::from_static("Basic x"),
        );
        h.insert("proxy-connection", HeaderValue::from_static("keep-alive"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("x-keep", HeaderValue::from_static("2"));
        let out = forwardable(&h, false);
        assert_eq!(out.len(), 1);
        assert_eq!(out["x-keep"], "2");
    }

    #[test]
    fn an_upgrade_keeps_exactly_the_upgrade_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::SEC_WEBSOCKET_KEY, HeaderValue::from_static("k"));
        assert!(is_websocket_upgrade(&h));
        let out = forwardable(&h, true);
        assert_eq!(out[header::CONNECTION], "Upgrade");
        assert_eq!(out[header::UPGRADE], "websocket");
        assert_eq!(out[header::SEC_WEBSOCKET_KEY], "k");
    }

    #[test]
    fn the_origin_sees_origin_form() {
        let uri: Uri = "http://example.com:8080/a/b?c=d".parse().unwrap();
        assert_eq!(origin_form(&uri), "/a/b?c=d");
        assert_eq!(origin_form(&"http://example.com".parse().unwrap()), "/");
    }
}
