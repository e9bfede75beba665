//! Live tunnels, for the status page: who is tunnelled where, since when, how many bytes;
//! totals; and a per-second throughput history of the last minutes.
//!
//! A tunnel registers when it starts and holds a [`Registration`]; dropping it removes the
//! entry and adds its bytes to the totals. Reading is cheap: one lock, a snapshot.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::relay::Counters;

/// Seconds of throughput history kept.
pub const HISTORY_SECONDS: usize = 300;

/// One live tunnel as the status page shows it.
///
/// # Examples
/// ```
/// let r = wsvia_server::registry::Registry::new();
/// let reg = r.register("127.0.0.1:5000".parse().unwrap(), Some("alice".into()), "CONNECT".into(), "example.com:443".into());
/// reg.counters().add_up(10);
/// let snap = r.snapshot();
/// assert_eq!(snap.tunnels[0].target, "example.com:443");
/// assert_eq!(snap.tunnels[0].bytes_up, 10);
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct TunnelView {
    /// Registration number.
    pub id: u64,
    /// The client.
    pub client: SocketAddr,
    /// The user, if authenticated.
    pub user: Option<String>,
    /// `CONNECT`, `GET`, `SNI`.
    pub method: String,
    /// Where it goes.
    pub target: String,
    /// Seconds since it started.
    pub age_secs: f64,
    /// Bytes from the client.
    pub bytes_up: u64,
    /// Bytes to the client.
    pub bytes_down: u64,
}

/// Everything the status page shows, at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Seconds since the Unix epoch.
    pub now: u64,
    /// Seconds since the server started.
    pub uptime_secs: u64,
    /// Live tunnels, oldest first.
    pub tunnels: Vec<TunnelView>,
    /// Tunnels since start (live and ended).
    pub total_tunnels: u64,
    /// Bytes from clients, all tunnels, live and ended.
    pub total_bytes_up: u64,
    /// Bytes to clients, all tunnels, live and ended.
    pub total_bytes_down: u64,
    /// Bytes per second, one point per second, oldest first: (up, down).
    pub throughput: Vec<(u64, u64)>,
}

struct Entry {
    client: SocketAddr,
    user: Option<String>,
    method: String,
    target: String,
    started: Instant,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct State {
    live: BTreeMap<u64, Entry>,
    history: VecDeque<(u64, u64)>,
    last_totals: (u64, u64),
}

/// The table of live tunnels.
pub struct Registry {
    started: Instant,
    next_id: AtomicU64,
    ended_up: AtomicU64,
    ended_down: AtomicU64,
    state: Mutex<State>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("live", &self.lock().live.len())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    ///
    /// # Examples
    /// See [`TunnelView`].
    pub fn new() -> Arc<Registry> {
        Arc::new(Registry {
            started: Instant::now(),
            next_id: AtomicU64::new(1),
            ended_up: AtomicU64::new(0),
            ended_down: AtomicU64::new(0),
            state: Mutex::new(State::default()),
        })
    }

    /// Add a live tunnel; its entry lives as long as the returned [`Registration`].
    ///
    /// # Examples
    /// See [`TunnelView`].
    pub fn register(
        self: &Arc<Self>,
        client: SocketAddr,
        user: Option<String>,
        method: String,
        target: String,
    ) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let counters = Arc::new(Counters::default());
        self.lock().live.insert(
            id,
            Entry {
                client,
                user,
                method,
                target,
                started: Instant::now(),
                counters: counters.clone(),
            },
        );
        Registration {
            registry: self.clone(),
            id,
            counters,
        }
    }

    /// What is live now, the totals, and the throughput history.
    ///
    /// # Examples
    /// See [`TunnelView`].
    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        let tunnels: Vec<TunnelView> = state
            .live
            .iter()
            .map(|(id, e)| TunnelView {
                id: *id,
                client: e.client,
                user: e.user.clone(),
                method: e.method.clone(),
                target: e.target.clone(),
                age_secs: (e.started.elapsed().as_millis() as f64) / 1000.0,
                bytes_up: e.counters.up(),
                bytes_down: e.counters.down(),
            })
            .collect();
        let (up, down) = self.totals_locked(&state);
        Snapshot {
            now: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            uptime_secs: self.started.elapsed().as_secs(),
            total_tunnels: self.next_id.load(Ordering::Relaxed) - 1,
            total_bytes_up: up,
            total_bytes_down: down,
            throughput: state.history.iter().copied().collect(),
            tunnels,
        }
    }

    /// Record one second of throughput; call once a second (see [`Registry::sample_every_second`]).
    ///
    /// # Examples
    /// ```
    /// let r = wsvia_server::registry::Registry::new();
    /// let reg = r.register("127.0.0.1:1".parse().unwrap(), None, "GET".into(), "/".into());
    /// r.sample();
    /// reg.counters().add_down(100);
    /// r.sample();
    /// assert_eq!(r.snapshot().throughput, vec![(0, 0), (0, 100)]);
    /// ```
    pub fn sample(&self) {
        let mut state = self.lock();
        let totals = self.totals_locked(&state);
        let delta = (
            totals.0.saturating_sub(state.last_totals.0),
            totals.1.saturating_sub(state.last_totals.1),
        );
        state.last_totals = totals;
        state.history.push_back(delta);
        while state.history.len() > HISTORY_SECONDS {
            state.history.pop_front();
        }
    }

    /// Sample once a second until `stop` fires.
    ///
    /// # Cancel safety
    /// Cancel safe.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f() {
    /// let r = wsvia_server::registry::Registry::new();
    /// tokio::spawn(r.clone().sample_every_second(tokio_util::sync::CancellationToken::new()));
    /// # }
    /// ```
    pub async fn sample_every_second(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => self.sample(),
            }
        }
    }

    fn totals_locked(&self, state: &State) -> (u64, u64) {
        let live = state.live.values().fold((0, 0), |(u, d), e| {
            (u + e.counters.up(), d + e.counters.down())
        });
        (
            live.0 + self.ended_up.load(Ordering::Relaxed),
            live.1 + self.ended_down.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Updates are single map operations: recover the guard instead of poisoning.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A live tunnel's place in the [`Registry`]; dropping it ends the entry.
#[derive(Debug)]
pub struct Registration {
    registry: Arc<Registry>,
    id: u64,
    counters: Arc<Counters>,
}

impl Registration {
    /// The byte counters the status page reads; the relay updates them.
    ///
    /// # Examples
    /// See [`TunnelView`].
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut state = self.registry.lock();
        if state.live.remove(&self.id).is_some() {
            self.registry
                .ended_up
                .fetch_add(self.counters.up(), Ordering::Relaxed);
            self.registry
                .ended_down
                .fetch_add(self.counters.down(), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_tunnels_keep_their_bytes_in_the_totals_and_leave_the_table() {
        let r = Registry::new();
        let a = r.register(
            "127.0.0.1:1".parse().unwrap(),
            None,
            "CONNECT".into(),
            "a:1".into(),
        );
        let b = r.register(
            "127.0.0.1:2".parse().unwrap(),
            None,
            "CONNECT".into(),
            "b:1".into(),
        );
        a.counters().add_up(3);
        b.counters().add_down(4);
        drop(a);
        let s = r.snapshot();
        assert_eq!(s.tunnels.len(), 1);
        assert_eq!(s.tunnels[0].target, "b:1");
        assert_eq!(
            (s.total_bytes_up, s.total_bytes_down, s.total_tunnels),
            (3, 4, 2)
        );
    }

    #[test]
    fn history_is_bounded() {
        let r = Registry::new();
        for _ in 0..HISTORY_SECONDS + 10 {
            r.sample();
        }
        assert_eq!(r.snapshot().throughput.len(), HISTORY_SECONDS);
    }
}
