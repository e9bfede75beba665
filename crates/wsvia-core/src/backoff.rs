//! How long to wait before reconnecting: exponential backoff with jitter, and the
//! `Retry-After` a proxy or server may send (RFC 9110 §10.2.3).
//!
//! No clock and no random source here: the caller passes the attempt number and a
//! random number, and sleeps itself (`wsvia connect --reconnect` does).

use std::time::Duration;

/// Exponential backoff: `initial`, doubling per attempt up to `max`, each delay moved
/// by up to `±jitter` (a fraction) so that many clients do not retry in step.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wsvia_core::backoff::Backoff;
///
/// let b = Backoff::default(); // 0.5 s doubling to 30 s, ±20 %
/// assert_eq!(b.delay(0, 0.5), Duration::from_millis(500));
/// assert_eq!(b.delay(1, 0.5), Duration::from_secs(1));
/// assert_eq!(b.delay(20, 0.5), Duration::from_secs(30));
/// assert_eq!(b.delay(0, 0.0), Duration::from_millis(400));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// No delay is longer than this.
    pub max: Duration,
    /// How far a delay may move, as a fraction of it (`0.2`: ±20 %).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0 for the first), with `unit` a random
    /// number in `[0, 1)`: 0 gives the shortest delay, 0.5 the nominal one. Out-of-range
    /// inputs are clamped; the result never exceeds `max`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wsvia_core::backoff::Backoff;
    ///
    /// let b = Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(4), jitter: 0.0 };
    /// let delays: Vec<_> = (0..4).map(|n| b.delay(n, 0.9).as_secs()).collect();
    /// assert_eq!(delays, [1, 2, 4, 4]);
    /// ```
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let max = self.max.as_secs_f64();
        let nominal = (self.initial.as_secs_f64() * 2f64.powi(attempt.min(64) as i32)).min(max);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let secs = (nominal * (1.0 + jitter * (2.0 * unit - 1.0))).clamp(0.0, max);
        Duration::try_from_secs_f64(secs).unwrap_or(self.max)
    }
}

/// Reads a `Retry-After` value given in seconds (`120`). The HTTP-date form needs a
/// clock and gives `None`, as does anything malformed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wsvia_core::backoff::parse_retry_after;
///
/// assert_eq!(parse_retry_after(" 1 "), Some(Duration::from_secs(1)));
/// assert_eq!(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT"), None);
/// assert_eq!(parse_retry_after("-1"), None);
/// ```
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[rustfmt::skip]
    fn delays_double_cap_and_stay_within_the_jitter() {
        let b = Backoff::default();
        // (attempt, unit, expected milliseconds)
        let cases: &[(u32, f64, u128)] = &[
            (0, 0.5, 500), (1, 0.5, 1000), (2, 0.5, 2000), (5, 0.5, 16000), (6, 0.5, 30000),
            (0, 0.0, 400), (0, 1.0, 600), (6, 1.0, 30000), (6, 0.0, 24000),
            (u32::MAX, 0.5, 30000), (0, f64::NAN, 500), (0, -3.0, 400), (0, 7.0, 600),
        ];
        for (attempt, unit, ms) in cases {
            assert_eq!(b.delay(*attempt, *unit).as_millis(), *ms, "{attempt} {unit}");
        }
    }

    #[test]
    fn odd_settings_never_panic() {
        let odd = [
            Backoff {
                initial: Duration::MAX,
                max: Duration::MAX,
                jitter: f64::INFINITY,
            },
            Backoff {
                initial: Duration::ZERO,
                max: Duration::ZERO,
                jitter: -1.0,
            },
            Backoff {
                initial: Duration::from_secs(9),
                max: Duration::from_secs(1),
                jitter: f64::NAN,
            },
        ];
        for b in odd {
            for attempt in [0, 1, 63, 64, u32::MAX] {
                assert!(b.delay(attempt, 0.99) <= b.max, "{b:?} {attempt}");
            }
        }
    }

    #[test]
    fn retry_after_takes_seconds_only() {
        let cases = [
            ("0", Some(0)),
            ("1", Some(1)),
            ("  30\t", Some(30)),
            ("", None),
            ("1.5", None),
            ("+1", None),
            ("99999999999999999999", None),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ];
        for (input, secs) in cases {
            assert_eq!(
                parse_retry_after(input),
                secs.map(Duration::from_secs),
                "{input:?}"
            );
        }
    }
}
