//! Tunnel limits that answer instead of hanging: total, per client address, per user.
//!
//! A tunnel holds a [`Slot`] for its whole life; dropping it frees the place. A refused
//! acquire is a [`LimitReached`] the proxy turns into `503` with `Retry-After`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The limits; `None` means unlimited.
///
/// # Examples
/// ```
/// let l = wsvia_server::budget::Limits { max_total: Some(1000), ..Default::default() };
/// assert_eq!(l.per_client, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Tunnels in all.
    pub max_total: Option<usize>,
    /// Tunnels from one client IP address.
    pub per_client: Option<usize>,
    /// Tunnels of one authenticated user.
    pub per_user: Option<usize>,
    /// What `Retry-After` says when a limit is reached.
    pub retry_after: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total: None,
            per_client: None,
            per_user: None,
            retry_after: Duration::from_secs(5),
        }
    }
}

/// Which limit refused a tunnel.
///
/// # Examples
/// ```
/// let e = wsvia_server::budget::LimitReached::Total { max: 3, retry_after_secs: 5 };
/// assert_eq!(e.to_string(), "all 3 tunnels are in use");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitReached {
    /// The proxy-wide limit.
    #[error("all {max} tunnels are in use")]
    Total {
        /// The limit.
        max: usize,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The limit for one client address.
    #[error("this client address already has {max} tunnels open")]
    PerClient {
        /// The limit.
        max: usize,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The limit for one user.
    #[error("this user already has {max} tunnels open")]
    PerUser {
        /// The limit.
        max: usize,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
}

impl LimitReached {
    /// Seconds for `Retry-After`.
    ///
    /// # Examples
    /// ```
    /// let e = wsvia_server::budget::LimitReached::PerUser { max: 1, retry_after_secs: 7 };
    /// assert_eq!(e.retry_after_secs(), 7);
    /// ```
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            LimitReached::Total {
                retry_after_secs, ..
            }
            | LimitReached::PerClient {
                retry_after_secs, ..
            }
            | LimitReached::PerUser {
                retry_after_secs, ..
            } => *retry_after_secs,
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    limits: Limits,
    total: usize,
    by_client: HashMap<IpAddr, usize>,
    by_user: HashMap<String, usize>,
}

/// Counts open tunnels against [`Limits`].
///
/// # Examples
/// ```
/// use wsvia_server::budget::{Budget, Limits};
/// let budget = Budget::new(Limits { max_total: Some(1), ..Default::default() });
/// let ip = "127.0.0.1".parse().unwrap();
/// let slot = budget.try_acquire(ip, None).unwrap();
/// assert!(budget.try_acquire(ip, None).is_err());
/// drop(slot);
/// assert!(budget.try_acquire(ip, None).is_ok());
/// ```
#[derive(Debug)]
pub struct Budget {
    counts: Mutex<Counts>,
}

impl Budget {
    /// A budget with these limits.
    ///
    /// # Examples
    /// See [`Budget`].
    pub fn new(limits: Limits) -> Arc<Budget> {
        Arc::new(Budget {
            counts: Mutex::new(Counts {
                limits,
                ..Counts::default()
            }),
        })
    }

    /// Take a place for a tunnel of `client` (and `user`), or say which limit refuses.
    ///
    /// # Errors
    /// [`LimitReached`] naming the limit.
    ///
    /// # Examples
    /// See [`Budget`].
    pub fn try_acquire(
        self: &Arc<Self>,
        client: IpAddr,
        user: Option<&str>,
    ) -> Result<Slot, LimitReached> {
        let mut c = self.lock();
        let limits = c.limits.clone();
        let retry_after_secs = limits.retry_after.as_secs().max(1);
        if let Some(max) = limits.max_total.filter(|m| c.total >= *m) {
            return Err(LimitReached::Total {
                max,
                retry_after_secs,
            });
        }
        let from_client = c.by_client.get(&client).copied().unwrap_or(0);
        if let Some(max) = limits.per_client.filter(|m| from_client >= *m) {
            return Err(LimitReached::PerClient {
                max,
                retry_after_secs,
            });
        }
        if let Some(user) = user {
            let of_user = c.by_user.get(user).copied().unwrap_or(0);
            if let Some(max) = limits.per_user.filter(|m| of_user >= *m) {
                return Err(LimitReached::PerUser {
                    max,
                    retry_after_secs,
                });
            }
            *c.by_user.entry(user.to_owned()).or_default() += 1;
        }
        c.total += 1;
        *c.by_client.entry(client).or_default() += 1;
        Ok(Slot {
            budget: self.clone(),
            client,
            user: user.map(str::to_owned),
        })
    }

    /// Apply new limits to tunnels opened from now on; open tunnels keep their places.
    ///
    /// # Examples
    /// ```
    /// use wsvia_server::budget::{Budget, Limits};
    /// let b = Budget::new(Limits { max_total: Some(0), ..Default::default() });
    /// let ip = "127.0.0.1".parse().unwrap();
    /// assert!(b.try_acquire(ip, None).is_err());
    /// b.set_limits(Limits::default());
    /// assert!(b.try_acquire(ip, None).is_ok());
    /// ```
    pub fn set_limits(&self, limits: Limits) {
        self.lock().limits = limits;
    }

    /// Tunnels open now.
    ///
    /// # Examples
    /// ```
    /// let b = wsvia_server::budget::Budget::new(Default::default());
    /// assert_eq!(b.active(), 0);
    /// ```
    pub fn active(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // A panic while holding this lock cannot leave counts half-updated: every update
        // is a few integer operations; recover the guard rather than poison the server.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A tunnel's place in the [`Budget`]; dropping it frees the place.
#[derive(Debug)]
pub struct Slot {
    budget: Arc<Budget>,
    client: IpAddr,
    user: Option<String>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.budget.lock();
        c.total = c.total.saturating_sub(1);
        decrement(&mut c.by_client, &self.client);
        if let Some(user) = &self.user {
            decrement(&mut c.by_user, user);
        }
    }
}

fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_limit_refuses_with_its_own_reason_and_frees_on_drop() {
        let budget = Budget::new(Limits {
            max_total: Some(3),
            per_client: Some(2),
            per_user: Some(1),
            retry_after: Duration::from_secs(9),
        });
        let a1 = budget.try_acquire(ip("10.0.0.1"), Some("alice")).unwrap();
        assert!(matches!(
            budget.try_acquire(ip("10.0.0.2"), Some("alice")),
            Err(LimitReached::PerUser {
                max: 1,
                retry_after_secs: 9
            })
        ));
        let _a2 = budget.try_acquire(ip("10.0.0.1"), None).unwrap();
        assert!(matches!(
            budget.try_acquire(ip("10.0.0.1"), None),
            Err(LimitReached::PerClient { max: 2, .. })
        ));
        let _b = budget.try_acquire(ip("10.0.0.3"), Some("bob")).unwrap();
        assert!(matches!(
            budget.try_acquire(ip("10.0.0.4"), None),
            Err(LimitReached::Total { max: 3, .. })
        ));
        drop(a1);
        assert_eq!(budget.active(), 2);
        assert!(budget.try_acquire(ip("10.0.0.4"), Some("alice")).is_ok());
    }

    #[test]
    fn no_limits_means_no_refusals_and_empty_maps_after_release() {
        let budget = Budget::new(Limits::default());
        let slots: Vec<_> = (0..100)
            .map(|i| {
                budget
                    .try_acquire(ip(&format!("10.0.0.{}", i % 7)), Some("u"))
                    .unwrap()
            })
            .collect();
        assert_eq!(budget.active(), 100);
        drop(slots);
        let c = budget.lock();
        assert!(c.by_client.is_empty() && c.by_user.is_empty() && c.total == 0);
    }
}
