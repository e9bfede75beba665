//! `CONNECT host:port`: answer `200 Connection established`, then relay bytes both ways
//! until one side ends. Bytes the client pipelined after its request are kept.

use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wsvia_server::record::{CloseReason, TunnelRecord};
use wsvia_server::relay::{Early, RelayOptions, relay};

use crate::respond::{Body, empty};
use crate::server::{Admitted, ConnCtx};
use crate::target::Target;

/// Handle one CONNECT request.
pub(crate) async fn handle(
    mut req: Request<Incoming>,
    ctx: Arc<ConnCtx>,
    started: Instant,
) -> Response<Body> {
    let target = Target::from_connect(req.uri());
    let admitted = match ctx.admit(&req, target, started).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let method = req.method().to_string();
    let task_ctx = ctx.clone();
    ctx.shared.drain.spawn(async move {
        let client = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(error = %e, "client left before the tunnel started");
                return;
            }
        };
        let (client, early) = match client.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => (parts.io.into_inner(), parts.read_buf),
            Err(_) => unreachable!("the server only serves TcpStream connections"),
        };
        tunnel(
            task_ctx,
            admitted,
            client,
            Early {
                up: early,
                down: Default::default(),
            },
            method,
            200,
            started,
        )
        .await;
    });
    let mut response = Response::new(empty());
    *response.status_mut() = StatusCode::OK;
    response
        .extensions_mut()
        .insert(hyper::ext::ReasonPhrase::from_static(
            b"Connection established",
        ));
    response
}

/// Relay an admitted tunnel to its end and log it.
pub(crate) async fn tunnel(
    ctx: Arc<ConnCtx>,
    mut admitted: Admitted,
    mut client: TcpStream,
    early: Early,
    method: String,
    status: u16,
    started: Instant,
) {
    let shared = &ctx.shared;
    let registration = shared.registry.register(
        ctx.client,
        admitted.user.clone(),
        method.clone(),
        admitted.label.clone(),
    );
    let counters = registration.counters().clone();
    let options = RelayOptions {
        idle_timeout: ctx.settings.idle_timeout,
        cut: shared.drain.cut_token(),
    };
    shared.metrics.tunnel_delta(1);
    let reason: CloseReason = relay(
        &mut client,
        &mut admitted.upstream,
        early,
        &counters,
        &options,
    )
    .await;
    shared.metrics.tunnel_delta(-1);
    drop(registration);
    let Admitted {
        label, user, slot, ..
    } = admitted;
    drop(slot);
    ctx.finish(TunnelRecord {
        client: ctx.client,
        user,
        method,
        target: label,
        status,
        bytes_up: counters.up(),
        bytes_down: counters.down(),
        duration: started.elapsed(),
        reason,
    });
}
