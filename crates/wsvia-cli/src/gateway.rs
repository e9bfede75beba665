//! `wsvia gateway`: flags over the config file, bind, serve, drain on SIGTERM/Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::TcpListener;
use wsvia_gateway::{GatewayConfig, GatewayServer};

use crate::cli::GatewayArgs;
use crate::exit_code;

/// Run `wsvia gateway`; returns the process exit code.
pub async fn run(args: GatewayArgs) -> ExitCode {
    let settings = match merged_config(args).and_then(|c| c.load()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wsvia gateway: {e}");
            return ExitCode::from(exit_code::USAGE);
        }
    };
    let (Ok(http), Ok(sni), Ok(metrics)) = (
        bind_all(&settings.listen).await,
        bind_all(&settings.sni_listen).await,
        bind_all(&settings.metrics.into_iter().collect::<Vec<_>>()).await,
    ) else {
        return ExitCode::from(exit_code::FAILURE);
    };
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let grace = settings.grace;
    let gateway = GatewayServer::new(settings);
    for l in &http {
        if let Ok(addr) = l.local_addr() {
            eprintln!("wsvia gateway: listening on {scheme}://{addr}/");
        }
    }
    let mut sni_tasks = Vec::new();
    for l in sni {
        if let Ok(addr) = l.local_addr() {
            eprintln!("wsvia gateway: SNI router listening on tls://{addr}/");
        }
        sni_tasks.push(tokio::spawn(gateway.serve_sni(l)));
    }
    for l in metrics {
        if let Ok(addr) = l.local_addr() {
            eprintln!("wsvia gateway: metrics on http://{addr}/metrics");
        }
        tokio::spawn(gateway.serve_metrics(l));
    }
    let stop = gateway.drain().stop_token();
    tokio::spawn(crate::signals::cancel_on_signal(stop.clone()));
    if let Err(e) = gateway.serve(http).await {
        eprintln!("wsvia gateway: {e}");
        return ExitCode::from(exit_code::FAILURE);
    }
    stop.cancelled().await;
    for t in sni_tasks {
        let _ = t.await;
    }
    if !gateway.drain().shutdown(grace).await {
        eprintln!("wsvia gateway: grace period over; remaining sessions were closed");
    }
    ExitCode::from(exit_code::OK)
}

async fn bind_all(addrs: &[SocketAddr]) -> Result<Vec<TcpListener>, ()> {
    let mut out = Vec::new();
    for addr in addrs {
        match TcpListener::bind(addr).await {
            Ok(l) => out.push(l),
            Err(e) => {
                eprintln!("wsvia gateway: cannot listen on {addr}: {e}");
                return Err(());
            }
        }
    }
    Ok(out)
}

/// The config file's settings with every given flag on top (lists are added to).
fn merged_config(a: GatewayArgs) -> Result<GatewayConfig, wsvia_gateway::config::ConfigError> {
    let mut c = match &a.config {
        Some(path) => GatewayConfig::from_file(path)?,
        None => GatewayConfig::default(),
    };
    if !a.listen.is_empty() {
        c.listen = a.listen;
    }
    c.route.extend(a.route);
    c.mode = a.mode.or(c.mode);
    c.allow_origin.extend(a.allow_origin);
    c.allow_text |= a.allow_text;
    c.tls_cert = a.tls_cert.or(c.tls_cert);
    c.tls_key = a.tls_key.or(c.tls_key);
    c.ping_interval = a.ping_interval.or(c.ping_interval);
    c.ping_timeout = a.ping_timeout.or(c.ping_timeout);
    c.max_message_size = a.max_message_size.or(c.max_message_size);
    c.upstream_cacert.extend(a.upstream_cacert);
    c.upstream_insecure |= a.upstream_insecure;
    c.connect_timeout = a.connect_timeout.or(c.connect_timeout);
    c.header_timeout = a.header_timeout.or(c.header_timeout);
    c.grace = a.grace.or(c.grace);
    if !a.sni_listen.is_empty() {
        c.sni_listen = a.sni_listen;
    }
    c.sni_route.extend(a.sni_route);
    c.sni_default = a.sni_default.or(c.sni_default);
    c.sni_proxy_protocol |= a.sni_proxy_protocol;
    c.log_format = a.log_format.or(c.log_format);
    c.metrics = a.metrics.or(c.metrics);
    Ok(c)
}
