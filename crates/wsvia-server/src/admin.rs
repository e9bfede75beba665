//! The admin listener: Prometheus metrics (`/metrics`), a live status page (`/`), and its
//! data (`/api/status`). Loopback-only unless credentials are required.
//!
//! The page is one HTML file with inline CSS and JavaScript (nothing is loaded from
//! elsewhere); the first render is done here, so it shows the tunnels even without script.

use std::convert::Infallible;
use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::http::{Body, full, text};
use crate::metrics::Metrics;
use crate::registry::{Registry, Snapshot};

const PAGE: &str = include_str!("../assets/status.html");

/// Checks admin credentials: `(user, password) -> allowed`.
pub type AdminCheck = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// What the admin listener serves.
#[derive(Clone)]
pub struct Admin {
    /// `proxy` or `gateway`, for titles.
    pub role: String,
    /// The role's metrics.
    pub metrics: Arc<Metrics>,
    /// Live tunnels.
    pub registry: Arc<Registry>,
    /// Credentials required for every request, if any.
    pub check: Option<AdminCheck>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("role", &self.role)
            .field("auth", &self.check.is_some())
            .finish()
    }
}

/// Why an admin listener may not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to serve the admin listener on {addr} without credentials: it shows every tunnel; \
     give --admin-auth-file, or listen on 127.0.0.1"
)]
pub struct AdminExposed {
    /// The address.
    pub addr: std::net::SocketAddr,
}

/// Refuse a non-loopback admin address without credentials.
///
/// # Errors
/// [`AdminExposed`].
///
/// # Examples
/// ```
/// use wsvia_server::admin::check_exposure;
/// assert!(check_exposure("127.0.0.1:9090".parse().unwrap(), false).is_ok());
/// assert!(check_exposure("0.0.0.0:9090".parse().unwrap(), false).is_err());
/// assert!(check_exposure("0.0.0.0:9090".parse().unwrap(), true).is_ok());
/// ```
pub fn check_exposure(
    addr: std::net::SocketAddr,
    has_credentials: bool,
) -> Result<(), AdminExposed> {
    if addr.ip().is_loopback() || has_credentials {
        Ok(())
    } else {
        Err(AdminExposed { addr })
    }
}

impl Admin {
    /// Serve until `stop` fires; also samples throughput once a second.
    pub async fn serve(self, listener: TcpListener, stop: CancellationToken) {
        tokio::spawn(self.registry.clone().sample_every_second(stop.clone()));
        let admin = Arc::new(self);
        loop {
            let (tcp, _) = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(_) => continue,
                },
            };
            let admin = admin.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let admin = admin.clone();
                    async move { Ok::<_, Infallible>(admin.answer(&req)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    }

    fn answer(&self, req: &Request<Incoming>) -> Response<Body> {
        if let Some(check) = &self.check {
            let allowed = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(wsvia_core::Credentials::from_basic_header_value)
                .is_some_and(|c| check(&c.username, &c.password));
            if !allowed {
                let mut r = text(StatusCode::UNAUTHORIZED, "admin credentials required\n");
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"wsvia admin\""),
                );
                return r;
            }
        }
        match req.uri().path() {
            "/metrics" => typed(
                text(StatusCode::OK, &self.metrics.render()),
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
            "/api/status" => {
                let json = serde_json::to_string(&self.registry.snapshot())
                    .unwrap_or_else(|_| "{}".into());
                typed(text(StatusCode::OK, &json), "application/json")
            }
            "/" => {
                let html = render(&self.role, &self.registry.snapshot());
                typed(Response::new(full(html.into())), "text/html; charset=utf-8")
            }
            _ => text(StatusCode::NOT_FOUND, "try /, /api/status or /metrics\n"),
        }
    }
}

fn typed(mut r: Response<Body>, content_type: &'static str) -> Response<Body> {
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The page with the snapshot rendered in, so it is useful before (or without) script.
fn render(role: &str, s: &Snapshot) -> String {
    let rows: String = s
        .tunnels
        .iter()
        .map(|t| {
            format!(
                "<tr data-id=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"target\">{}</td>\
                 <td class=\"num\">{:.1} s</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                t.id,
                escape(&t.client.to_string()),
                escape(t.user.as_deref().unwrap_or("-")),
                escape(&t.method),
                escape(&t.target),
                t.age_secs,
                t.bytes_up,
                t.bytes_down
            )
        })
        .collect();
    let totals = format!(
        "<span>tunnels now: <b>{}</b></span><span>since start: <b>{}</b></span>\
         <span>up: <b>{} B</b></span><span>down: <b>{} B</b></span><span>uptime: <b>{} s</b></span>",
        s.tunnels.len(),
        s.total_tunnels,
        s.total_bytes_up,
        s.total_bytes_down,
        s.uptime_secs
    );
    PAGE.replace("__ROLE__", &escape(role))
        .replace("__TOTALS__", &totals)
        .replace("__COUNT__", &s.tunnels.len().to_string())
        .replace("__ROWS__", &rows)
        .replace("__CHART__", "")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_renders_live_tunnels_escaped_without_script() {
        let r = Registry::new();
        let _t = r.register(
            "127.0.0.1:4000".parse().unwrap(),
            Some("<eve>".into()),
            "CONNECT".into(),
            "a.example:443".into(),
        );
        let html = render("proxy", &r.snapshot());
        assert!(html.contains("<td class=\"target\">a.example:443</td>"));
        assert!(html.contains("&lt;eve&gt;") && !html.contains("<eve>"));
        assert!(
            !html.contains("src=\"http"),
            "no script or asset from elsewhere"
        );
        assert!(!html.contains("__ROWS__"));
    }
}
