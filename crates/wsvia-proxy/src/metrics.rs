//! Prometheus metrics of the proxy (`wsvia_proxy_<what>_<unit>`), served on their own
//! listener at `GET /metrics`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use wsvia_server::record::TunnelRecord;

use crate::respond::{Body, text};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabel {
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabel {
    direction: &'static str,
}

/// The proxy's counters and gauges.
///
/// # Examples
/// ```
/// let m = wsvia_proxy::metrics::Metrics::new();
/// assert!(m.render().contains("wsvia_proxy_tunnels_active"));
/// ```
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    tunnels_active: Gauge,
    closes: Family<ReasonLabel, Counter>,
    requests: Family<RequestLabel, Counter>,
    bytes: Family<DirectionLabel, Counter<u64, AtomicU64>>,
    auth_failures: Counter,
}

impl Metrics {
    /// Register every metric.
    ///
    /// # Examples
    /// See [`Metrics`].
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let tunnels_active = Gauge::default();
        let closes = Family::<ReasonLabel, Counter>::default();
        let requests = Family::<RequestLabel, Counter>::default();
        let bytes = Family::<DirectionLabel, Counter<u64, AtomicU64>>::default();
        let auth_failures = Counter::default();
        registry.register(
            "wsvia_proxy_tunnels_active",
            "Tunnels open now",
            tunnels_active.clone(),
        );
        registry.register(
            "wsvia_proxy_closes",
            "Requests and tunnels ended, by reason (client_close, idle_timeout, acl_deny, auth_fail, limit, ...)",
            closes.clone(),
        );
        registry.register(
            "wsvia_proxy_requests",
            "Requests answered, by method and status",
            requests.clone(),
        );
        registry.register(
            "wsvia_proxy_bytes",
            "Bytes relayed, by direction (up: client to upstream)",
            bytes.clone(),
        );
        registry.register(
            "wsvia_proxy_auth_failures",
            "Requests with missing or wrong credentials",
            auth_failures.clone(),
        );
        Metrics {
            registry,
            tunnels_active,
            closes,
            requests,
            bytes,
            auth_failures,
        }
    }

    /// A tunnel opened (`+1`) or closed (`-1`).
    pub(crate) fn tunnel_delta(&self, delta: i64) {
        self.tunnels_active.inc_by(delta);
    }

    /// Count a failed authentication.
    pub(crate) fn auth_failed(&self) {
        self.auth_failures.inc();
    }

    /// Count a finished request or tunnel.
    pub(crate) fn record(&self, r: &TunnelRecord) {
        self.closes
            .get_or_create(&ReasonLabel {
                reason: r.reason.as_str().to_owned(),
            })
            .inc();
        self.requests
            .get_or_create(&RequestLabel {
                method: r.method.clone(),
                status: r.status,
            })
            .inc();
        self.bytes
            .get_or_create(&DirectionLabel { direction: "up" })
            .inc_by(r.bytes_up);
        self.bytes
            .get_or_create(&DirectionLabel { direction: "down" })
            .inc_by(r.bytes_down);
    }

    /// The OpenMetrics text.
    ///
    /// # Examples
    /// See [`Metrics`].
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Serve `GET /metrics` on `listener` until `stop` fires.
pub(crate) async fn serve(listener: TcpListener, metrics: Arc<Metrics>, stop: CancellationToken) {
    loop {
        let (tcp, _) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,
            },
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(answer(&req, &metrics)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn answer(req: &Request<Incoming>, metrics: &Metrics) -> Response<Body> {
    if req.uri().path() != "/metrics" {
        return text(StatusCode::NOT_FOUND, "try /metrics\n");
    }
    let mut response = text(StatusCode::OK, &metrics.render());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    response
}
