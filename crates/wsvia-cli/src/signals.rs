//! What both servers (`proxy`, `gateway`) need from the process: SIGTERM and Ctrl-C as one
//! cancellation token, SIGHUP as a reload, and the admin listener's credential check.

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

/// On each SIGHUP, `load` the configuration again and `apply` it; report what changed
/// (with the new configuration's `summary`), or why the running configuration stays.
/// `role` names the server in messages.
pub async fn reload_on_hangup<S, L, A, F>(
    role: &'static str,
    load: L,
    summary: fn(&S) -> String,
    apply: A,
) where
    L: Fn() -> Result<S, String>,
    A: Fn(S) -> F,
    F: std::future::Future<Output = std::io::Result<wsvia_server::reload::ListenerChanges>>,
{
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot watch SIGHUP; reload is unavailable");
        return;
    };
    while hangups.recv().await.is_some() {
        let settings = match load() {
            Ok(loaded) => loaded,
            Err(e) => {
                eprintln!("wsvia {role}: reload failed, keeping the running configuration: {e}");
                continue;
            }
        };
        let summary = summary(&settings);
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

/// The admin listener's credential check: `users`' Basic credentials, or none (open).
pub fn admin_check(
    users: Option<std::sync::Arc<wsvia_server::users::UserDb>>,
) -> Option<wsvia_server::admin::AdminCheck> {
    users.map(|users| -> wsvia_server::admin::AdminCheck {
        std::sync::Arc::new(move |user, pass| users.verify_basic(user, pass))
    })
}
