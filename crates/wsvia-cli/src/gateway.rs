//! `wsvia gateway`: flags over the config file, `--check`, bind, serve, reload on SIGHUP,
//! drain on SIGTERM/Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::TcpListener;
use wsvia_gateway::{GatewayConfig, GatewayServer, Settings};

use crate::cli::GatewayArgs;
use crate::exit_code;

/// Run `wsvia gateway`; returns the process exit code.
pub async fn run(args: GatewayArgs) -> ExitCode {
    let settings = match load(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wsvia gateway: {e}");
            return ExitCode::from(exit_code::USAGE);
        }
    };
    if args.server.check {
        eprintln!("wsvia gateway: configuration OK: {}", summary(&settings));
        return ExitCode::from(exit_code::OK);
    }
    let (Ok(http), Ok(sni), Ok(admin)) = (
        bind_all(&settings.listen).await,
        bind_all(&settings.sni_listen).await,
        bind_all(&settings.admin.into_iter().collect::<Vec<_>>()).await,
    ) else {
        return ExitCode::from(exit_code::FAILURE);
    };
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let admin_users = settings.admin_users.clone();
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
    for l in admin {
        if let Ok(addr) = l.local_addr() {
            eprintln!("wsvia gateway: admin on http://{addr}/ (status page, /metrics)");
        }
        let check = crate::signals::admin_check(admin_users.clone());
        tokio::spawn(gateway.serve_admin(l, check));
    }
    let stop = gateway.drain().stop_token();
    tokio::spawn(crate::signals::cancel_on_signal(stop.clone()));
    let server = gateway.clone();
    tokio::spawn(crate::signals::reload_on_hangup(
        "gateway",
        move || load(&args),
        summary,
        move |settings| {
            let server = server.clone();
            async move { server.reload(settings).await }
        },
    ));
    if let Err(e) = gateway.serve(http).await {
        eprintln!("wsvia gateway: {e}");
        return ExitCode::from(exit_code::FAILURE);
    }
    for t in sni_tasks {
        let _ = t.await;
    }
    if !gateway.drain().shutdown(gateway.settings().grace).await {
        eprintln!("wsvia gateway: grace period over; remaining sessions were closed");
    }
    ExitCode::from(exit_code::OK)
}

fn summary(s: &Settings) -> String {
    format!(
        "{} listener(s), {} route(s), {} SNI listener(s), ping every {}",
        s.listen.len(),
        s.routes.routes().len(),
        s.sni_listen.len(),
        s.ping_interval
            .map_or("never".to_owned(), |d| format!("{d:?}"))
    )
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

/// The config file's `[gateway]` settings with every given flag on top (lists add).
fn load(a: &GatewayArgs) -> Result<Settings, String> {
    let mut c = match &a.config {
        Some(path) => crate::config_file::gateway(path)?,
        None => GatewayConfig::default(),
    };
    if !a.listen.is_empty() {
        c.listen = a.listen.clone();
    }
    c.route.extend(a.route.iter().cloned());
    c.mode = a.mode.or(c.mode);
    c.allow_origin.extend(a.allow_origin.iter().cloned());
    c.allow_text |= a.allow_text;
    c.tls_cert = a.tls_cert.clone().or(c.tls_cert);
    c.tls_key = a.tls_key.clone().or(c.tls_key);
    c.ping_interval = a.ping_interval.or(c.ping_interval);
    c.ping_timeout = a.ping_timeout.or(c.ping_timeout);
    c.max_message_size = a.max_message_size.or(c.max_message_size);
    c.upstream_cacert.extend(a.upstream_cacert.iter().cloned());
    c.upstream_insecure |= a.upstream_insecure;
    c.connect_timeout = a.connect_timeout.or(c.connect_timeout);
    c.header_timeout = a.header_timeout.or(c.header_timeout);
    c.grace = a.grace.or(c.grace);
    if !a.sni_listen.is_empty() {
        c.sni_listen = a.sni_listen.clone();
    }
    c.sni_route.extend(a.sni_route.iter().cloned());
    c.sni_default = a.sni_default.clone().or(c.sni_default);
    c.sni_proxy_protocol |= a.sni_proxy_protocol;
    c.log_format = a.server.log_format.or(c.log_format);
    c.admin = a.server.admin.or(c.admin);
    c.admin_auth_file = a.server.admin_auth_file.clone().or(c.admin_auth_file);
    c.load().map_err(|e| e.to_string())
}
