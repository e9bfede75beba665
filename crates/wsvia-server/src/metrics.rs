//! Prometheus metrics of a server role (`wsvia_<role>_<what>_<unit>`), served on their
//! own listener at `GET /metrics`.

use std::sync::atomic::AtomicU64;

use crate::record::TunnelRecord;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

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

/// A role's counters and gauges.
///
/// # Examples
/// ```
/// let m = wsvia_server::metrics::Metrics::new("proxy");
/// assert!(m.render().contains("wsvia_proxy_tunnels_active"));
/// ```
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    tunnels_active: Gauge,
    closes: Family<ReasonLabel, Counter>,
    requests: Family<RequestLabel, Counter>,
    bytes: Family<DirectionLabel, Counter<u64, AtomicU64>>,
    messages: Family<DirectionLabel, Counter<u64, AtomicU64>>,
    auth_failures: Counter,
}

impl Metrics {
    /// Register every metric under `wsvia_<role>_`.
    ///
    /// # Examples
    /// See [`Metrics`].
    pub fn new(role: &str) -> Metrics {
        let mut registry = Registry::with_prefix(format!("wsvia_{role}"));
        let tunnels_active = Gauge::default();
        let closes = Family::<ReasonLabel, Counter>::default();
        let requests = Family::<RequestLabel, Counter>::default();
        let bytes = Family::<DirectionLabel, Counter<u64, AtomicU64>>::default();
        let messages = Family::<DirectionLabel, Counter<u64, AtomicU64>>::default();
        let auth_failures = Counter::default();
        registry.register(
            "tunnels_active",
            "Tunnels (or WebSocket sessions) open now",
            tunnels_active.clone(),
        );
        registry.register(
            "closes",
            "Requests and tunnels ended, by reason (client_close, idle_timeout, ping_timeout, acl_deny, auth_fail, limit, ...)",
            closes.clone(),
        );
        registry.register(
            "requests",
            "Requests answered, by method and status",
            requests.clone(),
        );
        registry.register(
            "bytes",
            "Bytes relayed, by direction (up: client to upstream)",
            bytes.clone(),
        );
        registry.register(
            "messages",
            "WebSocket messages relayed, by direction",
            messages.clone(),
        );
        registry.register(
            "auth_failures",
            "Requests with missing or wrong credentials",
            auth_failures.clone(),
        );
        Metrics {
            registry,
            tunnels_active,
            closes,
            requests,
            bytes,
            messages,
            auth_failures,
        }
    }

    /// A tunnel opened (`+1`) or closed (`-1`).
    ///
    /// # Examples
    /// ```
    /// let m = wsvia_server::metrics::Metrics::new("gateway");
    /// m.tunnel_delta(1);
    /// assert!(m.render().contains("wsvia_gateway_tunnels_active 1"));
    /// ```
    pub fn tunnel_delta(&self, delta: i64) {
        self.tunnels_active.inc_by(delta);
    }

    /// Count a failed authentication.
    ///
    /// # Examples
    /// ```
    /// let m = wsvia_server::metrics::Metrics::new("proxy");
    /// m.auth_failed();
    /// assert!(m.render().contains("wsvia_proxy_auth_failures_total 1"));
    /// ```
    pub fn auth_failed(&self) {
        self.auth_failures.inc();
    }

    /// Count WebSocket messages relayed.
    ///
    /// # Examples
    /// ```
    /// let m = wsvia_server::metrics::Metrics::new("gateway");
    /// m.messages(3, 4);
    /// assert!(m.render().contains("wsvia_gateway_messages_total{direction=\"down\"} 4"));
    /// ```
    pub fn messages(&self, up: u64, down: u64) {
        self.messages
            .get_or_create(&DirectionLabel { direction: "up" })
            .inc_by(up);
        self.messages
            .get_or_create(&DirectionLabel { direction: "down" })
            .inc_by(down);
    }

    /// Count a finished request or tunnel.
    ///
    /// # Examples
    /// ```
    /// use wsvia_server::record::{CloseReason, TunnelRecord};
    /// let m = wsvia_server::metrics::Metrics::new("proxy");
    /// m.record(&TunnelRecord {
    ///     client: "127.0.0.1:1".parse().unwrap(), user: None, method: "CONNECT".into(),
    ///     target: "h:443".into(), status: 200, bytes_up: 1, bytes_down: 2,
    ///     duration: Default::default(), reason: CloseReason::ClientClose,
    /// });
    /// assert!(m.render().contains("wsvia_proxy_closes_total{reason=\"client_close\"} 1"));
    /// ```
    pub fn record(&self, r: &TunnelRecord) {
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
