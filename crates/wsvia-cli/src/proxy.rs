//! `wsvia proxy`: flags over the config file, `--check`, bind, serve, reload on SIGHUP,
//! drain on SIGTERM/Ctrl-C.

use std::process::ExitCode;

use wsvia_proxy::{ProxyConfig, ProxyServer, Settings};

use crate::cli::ProxyArgs;
use crate::exit_code;

/// Run `wsvia proxy`; returns the process exit code.
pub async fn run(args: ProxyArgs) -> ExitCode {
    let settings = match load(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wsvia proxy: {e}");
            return ExitCode::from(exit_code::USAGE);
        }
    };
    if args.server.check {
        eprintln!("wsvia proxy: configuration OK: {}", summary(&settings));
        return ExitCode::from(exit_code::OK);
    }
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
    let admin_listener = match settings.admin {
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("wsvia proxy: cannot serve the admin listener on {addr}: {e}");
                return ExitCode::from(exit_code::FAILURE);
            }
        },
        None => None,
    };
    let auth = if settings.auth_required() {
        "auth required"
    } else {
        "no auth"
    };
    let admin_users = settings.admin_users.clone();
    let proxy = ProxyServer::new(settings);
    for l in &listeners {
        if let Ok(addr) = l.local_addr() {
            eprintln!("wsvia proxy: listening on http://{addr}/ ({auth})");
        }
    }
    if let Some(l) = admin_listener {
        if let Ok(addr) = l.local_addr() {
            eprintln!("wsvia proxy: admin on http://{addr}/ (status page, /metrics)");
        }
        let check = crate::signals::admin_check(admin_users);
        tokio::spawn(proxy.serve_admin(l, check));
    }
    tokio::spawn(crate::signals::cancel_on_signal(proxy.drain().stop_token()));
    let server = proxy.clone();
    tokio::spawn(crate::signals::reload_on_hangup(
        "proxy",
        move || load(&args),
        summary,
        move |settings| {
            let server = server.clone();
            async move { server.reload(settings).await }
        },
    ));
    if let Err(e) = proxy.serve(listeners).await {
        eprintln!("wsvia proxy: {e}");
        return ExitCode::from(exit_code::FAILURE);
    }
    let running = proxy.drain().running();
    let grace = proxy.settings().grace;
    if running > 0 {
        eprintln!("wsvia proxy: draining {running} connections for up to {grace:?}");
    }
    if !proxy.drain().shutdown(grace).await {
        eprintln!("wsvia proxy: grace period over; remaining tunnels were closed");
    }
    ExitCode::from(exit_code::OK)
}

fn summary(s: &Settings) -> String {
    format!(
        "{} listener(s), {} user(s), {} allow / {} deny rule(s), max tunnels {}",
        s.listen.len(),
        s.users.len(),
        s.rules.allow.len(),
        s.rules.deny.len(),
        s.limits
            .max_total
            .map_or("unlimited".to_owned(), |n| n.to_string())
    )
}

/// The config file's `[proxy]` settings with every given flag on top, checked and loaded.
fn load(args: &ProxyArgs) -> Result<Settings, String> {
    let mut c = match &args.config {
        Some(path) => crate::config_file::proxy(path)?,
        None => ProxyConfig::default(),
    };
    let a = args;
    if !a.listen.is_empty() {
        c.listen = a.listen.clone();
    }
    c.auth_file = a.auth_file.clone().or(c.auth_file);
    c.digest_file = a.digest_file.clone().or(c.digest_file);
    c.realm = a.realm.clone().or(c.realm);
    c.allow_ports = a.allow_ports.clone().or(c.allow_ports);
    c.allow.extend(a.allow.iter().cloned());
    c.deny.extend(a.deny.iter().cloned());
    c.allow_private |= a.allow_private;
    c.open |= a.open;
    c.max_tunnels = a.max_tunnels.or(c.max_tunnels);
    c.max_tunnels_per_client = a.max_tunnels_per_client.or(c.max_tunnels_per_client);
    c.max_tunnels_per_user = a.max_tunnels_per_user.or(c.max_tunnels_per_user);
    c.header_timeout = a.header_timeout.or(c.header_timeout);
    c.connect_timeout = a.connect_timeout.or(c.connect_timeout);
    c.idle_timeout = a.idle_timeout.or(c.idle_timeout);
    c.grace = a.grace.or(c.grace);
    c.log_format = a.server.log_format.or(c.log_format);
    c.admin = a.server.admin.or(c.admin);
    c.admin_auth_file = a.server.admin_auth_file.clone().or(c.admin_auth_file);
    c.load().map_err(|e| e.to_string())
}
