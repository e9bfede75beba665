//! `wsvia proxy`: flags over the config file, bind, serve, drain on SIGTERM/Ctrl-C.

use std::process::ExitCode;

use wsvia_proxy::{ProxyConfig, ProxyServer};

use crate::cli::ProxyArgs;
use crate::exit_code;

/// Run `wsvia proxy`; returns the process exit code.
pub async fn run(args: ProxyArgs) -> ExitCode {
    let config = match merged_config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wsvia proxy: {e}");
            return ExitCode::from(exit_code::USAGE);
        }
    };
    let settings = match config.load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wsvia proxy: {e}");
            return ExitCode::from(exit_code::USAGE);
        }
    };
    let mut listeners = Vec::new();
    for addr in &settings.listen {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => listeners.push(l),
            Err(e) => {
                eprintln!("wsvia proxy: cannot listen on {addr}: {e}");
                return ExitCode::from(exit_code::FAILURE);
            }
        }
    }
    let metrics_listener = match settings.metrics {
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("wsvia proxy: cannot serve metrics on {addr}: {e}");
                return ExitCode::from(exit_code::FAILURE);
            }
        },
        None => None,
    };
    let grace = settings.grace;
    let auth = if settings.auth_required() {
        "auth required"
    } else {
        "no auth"
    };
    let proxy = ProxyServer::new(settings);
    for l in &listeners {
        if let Ok(addr) = l.local_addr() {
            eprintln!("wsvia proxy: listening on http://{addr}/ ({auth})");
        }
    }
    if let Some(l) = metrics_listener {
        if let Ok(addr) = l.local_addr() {
            eprintln!("wsvia proxy: metrics on http://{addr}/metrics");
        }
        tokio::spawn(proxy.serve_metrics(l));
    }
    let stop = proxy.drain().stop_token();
    tokio::spawn(crate::signals::cancel_on_signal(stop));
    if let Err(e) = proxy.serve(listeners).await {
        eprintln!("wsvia proxy: {e}");
        return ExitCode::from(exit_code::FAILURE);
    }
    let running = proxy.drain().running();
    if running > 0 {
        eprintln!("wsvia proxy: draining {running} connections for up to {grace:?}");
    }
    let clean = proxy.drain().shutdown(grace).await;
    if !clean {
        eprintln!("wsvia proxy: grace period over; remaining tunnels were closed");
    }
    ExitCode::from(exit_code::OK)
}

/// The config file's settings with every given flag on top.
fn merged_config(args: ProxyArgs) -> Result<ProxyConfig, wsvia_proxy::config::ConfigError> {
    let mut c = match &args.config {
        Some(path) => ProxyConfig::from_file(path)?,
        None => ProxyConfig::default(),
    };
    if !args.listen.is_empty() {
        c.listen = args.listen;
    }
    c.auth_file = args.auth_file.or(c.auth_file);
    c.digest_file = args.digest_file.or(c.digest_file);
    c.realm = args.realm.or(c.realm);
    c.allow_ports = args.allow_ports.or(c.allow_ports);
    c.allow.extend(args.allow);
    c.deny.extend(args.deny);
    c.allow_private |= args.allow_private;
    c.open |= args.open;
    c.max_tunnels = args.max_tunnels.or(c.max_tunnels);
    c.max_tunnels_per_client = args.max_tunnels_per_client.or(c.max_tunnels_per_client);
    c.max_tunnels_per_user = args.max_tunnels_per_user.or(c.max_tunnels_per_user);
    c.header_timeout = args.header_timeout.or(c.header_timeout);
    c.connect_timeout = args.connect_timeout.or(c.connect_timeout);
    c.idle_timeout = args.idle_timeout.or(c.idle_timeout);
    c.grace = args.grace.or(c.grace);
    c.log_format = args.log_format.or(c.log_format);
    c.metrics = args.metrics.or(c.metrics);
    Ok(c)
}
