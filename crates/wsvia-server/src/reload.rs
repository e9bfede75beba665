//! What a configuration reload needs, written once for every server: the current settings
//! as a swappable snapshot, and the set of listeners a reload adds to and removes from.
//!
//! A connection takes the snapshot once, when it is accepted, and keeps it: a reload
//! never touches a live tunnel.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The settings new connections start with; replaced whole on reload.
///
/// # Examples
/// ```
/// let current = wsvia_server::reload::Current::new(1);
/// let before = current.get();
/// current.set(2);
/// assert_eq!((*before, *current.get()), (1, 2));
/// ```
#[derive(Debug)]
pub struct Current<T>(RwLock<Arc<T>>);

impl<T> Current<T> {
    /// Start with `value`.
    ///
    /// # Examples
    /// See [`Current`].
    pub fn new(value: T) -> Current<T> {
        Current(RwLock::new(Arc::new(value)))
    }

    /// The snapshot to use now.
    ///
    /// # Examples
    /// See [`Current`].
    pub fn get(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replace the snapshot; holders of the old one keep it.
    ///
    /// # Examples
    /// See [`Current`].
    pub fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(value);
    }
}

/// Listeners keyed by the address the settings name (a configured port 0 is not the
/// bound port, so the key is the configured address).
#[derive(Debug)]
pub struct Listeners {
    parent: CancellationToken,
    running: Mutex<HashMap<SocketAddr, CancellationToken>>,
}

/// What a reload changed in the listeners.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerChanges {
    /// Addresses now listened on, as bound.
    pub added: Vec<SocketAddr>,
    /// Configured addresses no longer listened on.
    pub removed: Vec<SocketAddr>,
}

impl Listeners {
    /// An empty set whose loops all stop when `parent` fires.
    ///
    /// # Examples
    /// ```
    /// let l = wsvia_server::reload::Listeners::new(tokio_util::sync::CancellationToken::new());
    /// # drop(l);
    /// ```
    pub fn new(parent: CancellationToken) -> Listeners {
        Listeners {
            parent,
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Run `serve(listener, stop)` for `key` until shutdown or until a reload removes it.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(l: tokio::net::TcpListener) {
    /// let set = wsvia_server::reload::Listeners::new(Default::default());
    /// set.add("127.0.0.1:3128".parse().unwrap(), l, |listener, stop| async move { /* accept until stop */ });
    /// # }
    /// ```
    pub fn add<F, Fut>(&self, key: SocketAddr, listener: TcpListener, serve: F)
    where
        F: FnOnce(TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stop = self.parent.child_token();
        self.lock().insert(key, stop.clone());
        tokio::spawn(serve(listener, stop));
    }

    /// Start `serve` for listeners bound from `configured`, in that order (a configured
    /// port 0 is not the bound port, so the key is the configured address).
    ///
    /// # Errors
    /// When a listener has no local address.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(l: tokio::net::TcpListener) -> std::io::Result<()> {
    /// let set = wsvia_server::reload::Listeners::new(Default::default());
    /// set.start_all(&["127.0.0.1:0".parse().unwrap()], vec![l], |l, stop| async move { drop((l, stop)) })?;
    /// # Ok(()) }
    /// ```
    pub fn start_all<F, Fut>(
        &self,
        configured: &[SocketAddr],
        listeners: Vec<TcpListener>,
        serve: F,
    ) -> io::Result<()>
    where
        F: Fn(TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        for (i, listener) in listeners.into_iter().enumerate() {
            let key = match configured.get(i) {
                Some(addr) => *addr,
                None => listener.local_addr()?,
            };
            self.add(key, listener, &serve);
        }
        Ok(())
    }

    /// Bind what `new` adds to `old` (all first: a failure changes nothing), start them
    /// with `serve`, and stop what `new` drops.
    ///
    /// # Errors
    /// The first address that cannot be bound.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn f(set: wsvia_server::reload::Listeners) -> std::io::Result<()> {
    /// let old = ["127.0.0.1:3128".parse().unwrap()];
    /// let new = ["127.0.0.1:3129".parse().unwrap()];
    /// let changes = set.apply(&old, &new, |l, stop| async move { drop((l, stop)) }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn apply<F, Fut>(
        &self,
        old: &[SocketAddr],
        new: &[SocketAddr],
        serve: F,
    ) -> io::Result<ListenerChanges>
    where
        F: Fn(TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut bound = Vec::new();
        for addr in new.iter().filter(|a| !old.contains(a)) {
            bound.push((*addr, TcpListener::bind(addr).await?));
        }
        let mut changes = ListenerChanges::default();
        for (key, listener) in bound {
            changes.added.push(listener.local_addr()?);
            self.add(key, listener, &serve);
        }
        for addr in old.iter().filter(|a| !new.contains(a)) {
            if let Some(stop) = self.lock().remove(addr) {
                stop.cancel();
                changes.removed.push(*addr);
            }
        }
        Ok(changes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, CancellationToken>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn apply_starts_new_listeners_and_stops_removed_ones() {
        let set = Listeners::new(CancellationToken::new());
        let (stopped_tx, mut stopped_rx) = tokio::sync::mpsc::unbounded_channel();
        let serve = move |l: TcpListener, stop: CancellationToken| {
            let tx = stopped_tx.clone();
            async move {
                let addr = l.local_addr().unwrap();
                stop.cancelled().await;
                let _ = tx.send(addr);
            }
        };
        let first: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let changes = set.apply(&[], &[first], &serve).await.unwrap();
        assert_eq!(changes.added.len(), 1);
        assert!(changes.removed.is_empty());
        let bound = changes.added[0];
        let second: SocketAddr = "127.0.0.2:0".parse().unwrap();
        let changes = set.apply(&[first], &[second], &serve).await.unwrap();
        assert_eq!(changes.removed, vec![first]);
        assert_eq!(stopped_rx.recv().await.unwrap(), bound);
    }
}
