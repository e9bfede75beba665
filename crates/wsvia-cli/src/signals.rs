//! SIGTERM and Ctrl-C turn into one cancellation token for servers.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Cancel `token` at the first SIGTERM or SIGINT.
pub async fn cancel_on_signal(token: CancellationToken) {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            token.cancel();
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
    token.cancel();
}

/// On each SIGHUP, `load` the configuration again and `apply` it; report what changed, or
/// why the running configuration stays. `role` names the server in messages.
pub async fn reload_on_hangup<S, L, A, F>(role: &'static str, load: L, apply: A)
where
    L: Fn() -> Result<(S, String), String>,
    A: Fn(S) -> F,
    F: std::future::Future<Output = std::io::Result<wsvia_server::reload::ListenerChanges>>,
{
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot watch SIGHUP; reload is unavailable");
        return;
    };
    while hangups.recv().await.is_some() {
        let (settings, summary) = match load() {
            Ok(loaded) => loaded,
            Err(e) => {
                eprintln!("wsvia {role}: reload failed, keeping the running configuration: {e}");
                continue;
            }
        };
        match apply(settings).await {
            Ok(changes) => {
                for addr in &changes.added {
                    eprintln!("wsvia {role}: listening on http://{addr}/");
                }
                for addr in &changes.removed {
                    eprintln!("wsvia {role}: stopped listening on {addr}");
                }
                eprintln!("wsvia {role}: reloaded: {summary}");
            }
            Err(e) => {
                eprintln!("wsvia {role}: reload failed, keeping the running configuration: {e}")
            }
        }
    }
}
