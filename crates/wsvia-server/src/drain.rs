//! Graceful shutdown: stop accepting, let running tunnels finish for a grace period,
//! then cut the rest.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Tracks connection tasks and the two moments of a shutdown.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let drain = wsvia_server::drain::Drain::new();
/// let cut = drain.cut_token();
/// drain.spawn(async move { cut.cancelled().await });
/// let clean = drain.shutdown(std::time::Duration::from_millis(10)).await;
/// assert!(!clean, "the task only ended when cut");
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Drain {
    stop_accepting: CancellationToken,
    cut: CancellationToken,
    tasks: TaskTracker,
}

impl Drain {
    /// A new, running drain.
    ///
    /// # Examples
    /// See [`Drain`].
    pub fn new() -> Drain {
        Drain::default()
    }

    /// Fires when the server must stop accepting (shutdown began).
    ///
    /// # Examples
    /// ```
    /// let d = wsvia_server::drain::Drain::new();
    /// assert!(!d.stop_token().is_cancelled());
    /// ```
    pub fn stop_token(&self) -> CancellationToken {
        self.stop_accepting.clone()
    }

    /// Fires when the grace period is over and tunnels must close now.
    ///
    /// # Examples
    /// ```
    /// let d = wsvia_server::drain::Drain::new();
    /// assert!(!d.cut_token().is_cancelled());
    /// ```
    pub fn cut_token(&self) -> CancellationToken {
        self.cut.clone()
    }

    /// Run a connection task that shutdown waits for, inside the caller's tracing span
    /// (so a tunnel's log lines carry its connection's span).
    ///
    /// # Examples
    /// See [`Drain`].
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(tracing::Instrument::in_current_span(task));
    }

    /// Tasks still running.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(wsvia_server::drain::Drain::new().running(), 0);
    /// ```
    pub fn running(&self) -> usize {
        self.tasks.len()
    }

    /// Stop accepting, wait up to `grace` for tasks, then cut the rest and wait for
    /// them to unwind. `true` when every task finished within the grace period.
    ///
    /// # Cancel safety
    /// Cancelling leaves accepting stopped and tasks running.
    ///
    /// # Examples
    /// See [`Drain`].
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.stop_accepting.cancel();
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait()).await.is_ok() {
            return true;
        }
        tracing::warn!(
            remaining = self.tasks.len(),
            "grace period over; closing tunnels"
        );
        self.cut.cancel();
        // Cut tasks unwind at once; do not hang on one that misbehaves.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tasks.wait()).await;
        false
    }
}
