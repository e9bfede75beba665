//! Soak: checksummed random-size messages on many connections, every echo verified in
//! order and byte for byte.
//!
//! A message is a 28-byte header — magic `WSVS`, connection number (u32), sequence
//! number (u64), total length (u32), FNV-1a 64 of the payload — then a payload drawn
//! from a generator seeded by (seed, connection, sequence). The receiver rebuilds the
//! message from its header's numbers and compares every byte, so it needs no copy of
//! what it sent. [`Verifier`] keeps the counts; it has no I/O and is tested alone.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::Error;
use crate::args::SoakArgs;
use crate::dial::{Dialer, Ws};
use crate::load::close;
use crate::progress;
use crate::stats::{Table, num};

/// Bytes of the header before the payload.
pub const HEADER_LEN: usize = 28;
const MAGIC: &[u8; 4] = b"WSVS";

/// What a soak run counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SoakCounts {
    /// Messages sent.
    pub sent: u64,
    /// Messages received back (any content).
    pub received: u64,
    /// Sent and never received intact by the end.
    pub lost: u64,
    /// Received with a broken header or different bytes.
    pub corrupted: u64,
    /// Received after a later message.
    pub reordered: u64,
    /// Received twice.
    pub duplicated: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
}

impl SoakCounts {
    /// Add another connection's counts.
    pub fn add(&mut self, o: &SoakCounts) {
        self.sent += o.sent;
        self.received += o.received;
        self.lost += o.lost;
        self.corrupted += o.corrupted;
        self.reordered += o.reordered;
        self.duplicated += o.duplicated;
        self.bytes_sent += o.bytes_sent;
    }
}

/// How one received message was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The next message expected, intact.
    InOrder,
    /// Intact, but later ones were received first.
    Reordered,
    /// Intact, and earlier ones have not arrived (yet): `skipped` of them.
    Gap {
        /// How many sequence numbers were skipped.
        skipped: u64,
    },
    /// Intact but received before.
    Duplicate,
    /// Not what was sent.
    Corrupted,
}

/// Builds one connection's messages and checks its echoes.
///
/// # Examples
/// ```
/// use wsvia_bench::soak::{Verifier, Verdict};
/// let mut v = Verifier::new(1, 0, 28, 1000);
/// let a = v.next_message();
/// let b = v.next_message();
/// assert_eq!(v.check(&a), Verdict::InOrder);
/// assert_eq!(v.check(&b), Verdict::InOrder);
/// assert_eq!(v.finish().lost, 0);
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    seed: u64,
    conn: u32,
    min: usize,
    max: usize,
    next_expected: u64,
    missing: BTreeSet<u64>,
    counts: SoakCounts,
}

impl Verifier {
    /// Messages of connection `conn`, sizes in `min..=max` (at least the header).
    pub fn new(seed: u64, conn: u32, min: usize, max: usize) -> Verifier {
        let min = min.max(HEADER_LEN);
        Verifier {
            seed,
            conn,
            min,
            max: max.max(min),
            next_expected: 0,
            missing: BTreeSet::new(),
            counts: SoakCounts::default(),
        }
    }

    /// The next message to send (counted as sent).
    pub fn next_message(&mut self) -> Vec<u8> {
        let msg = self.build(self.counts.sent);
        self.counts.sent += 1;
        self.counts.bytes_sent += msg.len() as u64;
        msg
    }

    /// Judge one received message.
    pub fn check(&mut self, msg: &[u8]) -> Verdict {
        self.counts.received += 1;
        let Some(seq) = self.identify(msg) else {
            self.counts.corrupted += 1;
            return Verdict::Corrupted;
        };
        if msg != self.build(seq).as_slice() {
            self.counts.corrupted += 1;
            // The header names the message: it arrived, so it is not lost as well.
            self.mark_arrived(seq);
            return Verdict::Corrupted;
        }
        self.mark_arrived(seq)
    }

    /// Messages sent but not received are lost.
    pub fn finish(mut self) -> SoakCounts {
        self.counts.lost =
            self.missing.len() as u64 + self.counts.sent.saturating_sub(self.next_expected);
        self.counts
    }

    /// Counts so far (lost not yet computed).
    pub fn counts(&self) -> &SoakCounts {
        &self.counts
    }

    fn mark_arrived(&mut self, seq: u64) -> Verdict {
        use std::cmp::Ordering::*;
        match seq.cmp(&self.next_expected) {
            Equal => {
                self.next_expected += 1;
                Verdict::InOrder
            }
            Greater => {
                let skipped = seq - self.next_expected;
                self.missing.extend(self.next_expected..seq);
                self.next_expected = seq + 1;
                Verdict::Gap { skipped }
            }
            Less if self.missing.remove(&seq) => {
                self.counts.reordered += 1;
                Verdict::Reordered
            }
            Less => {
                self.counts.duplicated += 1;
                Verdict::Duplicate
            }
        }
    }

    /// The sequence number in a well-formed header of ours, if any.
    fn identify(&self, msg: &[u8]) -> Option<u64> {
        if msg.len() < HEADER_LEN || &msg[..4] != MAGIC {
            return None;
        }
        let conn = u32::from_be_bytes(msg[4..8].try_into().ok()?);
        let seq = u64::from_be_bytes(msg[8..16].try_into().ok()?);
        let len = u32::from_be_bytes(msg[16..20].try_into().ok()?) as usize;
        // The checksum is not checked here: a message with a good header but bad bytes
        // still names which message arrived (corrupted, not lost); `check` compares
        // every byte, checksum included.
        (conn == self.conn && seq < self.counts.sent && len == msg.len()).then_some(seq)
    }

    fn build(&self, seq: u64) -> Vec<u8> {
        let mut rng = SplitMix(self.seed ^ (u64::from(self.conn) << 40) ^ seq.rotate_left(17));
        let len = self.size(&mut rng);
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(MAGIC);
        msg.extend_from_slice(&self.conn.to_be_bytes());
        msg.extend_from_slice(&seq.to_be_bytes());
        msg.extend_from_slice(&(len as u32).to_be_bytes());
        msg.extend_from_slice(&[0; 8]);
        while msg.len() < len {
            let word = rng.next().to_le_bytes();
            let take = (len - msg.len()).min(8);
            msg.extend_from_slice(&word[..take]);
        }
        let sum = fnv1a(&msg[HEADER_LEN..]);
        msg[20..28].copy_from_slice(&sum.to_be_bytes());
        msg
    }

    /// Half the messages small (up to 1 KiB), half anywhere in the range.
    fn size(&self, rng: &mut SplitMix) -> usize {
        let r = rng.next();
        let hi = if r & 1 == 0 {
            self.max.min(self.min + 1024)
        } else {
            self.max
        };
        self.min + (rng.next() % (hi - self.min + 1) as u64) as usize
    }
}

/// FNV-1a, 64-bit.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// splitmix64: a small, fast, well-mixed generator.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The result of `wsvia bench soak`.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    /// The target's name.
    pub target: String,
    /// Connections asked for.
    pub connections: usize,
    /// Seconds of sending.
    pub seconds: f64,
    /// Counts over all connections.
    pub counts: SoakCounts,
    /// Connections that failed to open or broke during the run.
    pub errors: u64,
    /// The first error seen.
    pub first_error: Option<String>,
}

impl SoakReport {
    /// No loss, corruption, reordering, duplicate or error, and something was sent.
    pub fn is_clean(&self) -> bool {
        let c = &self.counts;
        self.errors == 0
            && c.sent > 0
            && c.received == c.sent
            && c.lost + c.corrupted + c.reordered + c.duplicated == 0
    }

    /// The table `wsvia bench soak` prints.
    pub fn table(&self) -> Table {
        let c = &self.counts;
        let mut t = Table::new([
            "target",
            "conns",
            "seconds",
            "sent",
            "received",
            "lost",
            "corrupted",
            "reordered",
            "duplicated",
            "errors",
            "MiB sent",
            "verdict",
        ]);
        t.row([
            self.target.clone(),
            self.connections.to_string(),
            num(self.seconds),
            c.sent.to_string(),
            c.received.to_string(),
            c.lost.to_string(),
            c.corrupted.to_string(),
            c.reordered.to_string(),
            c.duplicated.to_string(),
            self.errors.to_string(),
            num(c.bytes_sent as f64 / (1 << 20) as f64),
            if self.is_clean() { "ok" } else { "FAILED" }.to_owned(),
        ]);
        t
    }
}

/// `wsvia bench soak`.
///
/// # Errors
/// [`Error::Config`] for bad flags.
pub async fn run(a: &SoakArgs) -> Result<SoakReport, Error> {
    if a.connections == 0 || a.pipeline == 0 {
        return Err(Error::Config(
            "--connections and --pipeline must be at least 1".into(),
        ));
    }
    if a.max_size < a.min_size.max(HEADER_LEN) {
        return Err(Error::Config(format!(
            "--max-size must be at least {} (the header is {HEADER_LEN} bytes)",
            a.min_size.max(HEADER_LEN)
        )));
    }
    let read_buffer = (a.max_size / 4).clamp(16 << 10, 256 << 10);
    let dialer = Arc::new(Dialer::from_args(&a.target, read_buffer)?);
    let label = a.target.label.clone().unwrap_or_else(|| dialer.label());
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(a.timing.duration.max(0.0));
    let drain = Duration::from_secs_f64(a.drain.max(0.0));
    let mut tasks = JoinSet::new();
    for conn in 0..a.connections {
        let dialer = dialer.clone();
        let verifier = Verifier::new(a.seed, conn as u32, a.min_size, a.max_size);
        let window = a.pipeline;
        tasks.spawn(async move {
            match dialer.open(conn).await {
                Ok(mut ws) => {
                    let mut v = verifier;
                    let r = soak_connection(&mut ws, &mut v, window, end, drain).await;
                    let _ = tokio::time::timeout(Duration::from_secs(2), close(&mut ws)).await;
                    (v.finish(), r.err())
                }
                Err(e) => (verifier.finish(), Some(e.to_string())),
            }
        });
    }
    let bar = progress::timed(a.timing.duration, &format!("soak {label}"));
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        bar.set_position((start.elapsed().as_secs_f64() * 10.0) as u64);
    }
    bar.finish_and_clear();
    let mut report = SoakReport {
        target: label,
        connections: a.connections,
        seconds: a.timing.duration,
        counts: SoakCounts::default(),
        errors: 0,
        first_error: None,
    };
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((counts, err)) => {
                report.counts.add(&counts);
                if let Some(e) = err {
                    report.errors += 1;
                    report.first_error.get_or_insert(e);
                }
            }
            Err(e) => {
                report.errors += 1;
                report
                    .first_error
                    .get_or_insert(format!("a soak task failed: {e}"));
            }
        }
    }
    if let Some(e) = &report.first_error {
        eprintln!("wsvia bench soak: first error: {e}");
    }
    Ok(report)
}

async fn soak_connection(
    ws: &mut Ws,
    v: &mut Verifier,
    window: usize,
    end: Instant,
    drain: Duration,
) -> Result<(), String> {
    let mut inflight = 0usize;
    let stop = tokio::time::sleep_until(end.into());
    tokio::pin!(stop);
    let mut sending = true;
    while sending {
        let mut fed = false;
        while inflight < window {
            ws.feed(Message::Binary(v.next_message().into()))
                .await
                .map_err(|e| format!("send: {e}"))?;
            inflight += 1;
            fed = true;
        }
        if fed {
            ws.flush().await.map_err(|e| format!("send: {e}"))?;
        }
        tokio::select! {
            m = ws.next() => inflight -= receive(v, m)?,
            _ = &mut stop => sending = false,
        }
    }
    let deadline = Instant::now() + drain;
    while inflight > 0 {
        match tokio::time::timeout_at(deadline.into(), ws.next()).await {
            Ok(m) => inflight -= receive(v, m)?,
            Err(_) => {
                return Err(format!(
                    "{inflight} echoes still missing {drain:?} after the end"
                ));
            }
        }
    }
    Ok(())
}

/// Check one message; returns how many in-flight messages it accounts for (0 or 1).
fn receive(
    v: &mut Verifier,
    m: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
) -> Result<usize, String> {
    match m {
        Some(Ok(Message::Binary(b))) => {
            v.check(&b);
            Ok(1)
        }
        Some(Ok(Message::Text(t))) => {
            v.check(t.as_bytes());
            Ok(1)
        }
        Some(Ok(Message::Close(frame))) => Err(format!("the server closed: {frame:?}")),
        Some(Ok(_)) => Ok(0),
        Some(Err(e)) => Err(format!("receive: {e}")),
        None => Err("the connection ended".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(v: &mut Verifier, n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|_| v.next_message()).collect()
    }

    #[test]
    fn messages_are_deterministic_sized_and_checksummed() {
        let mut a = Verifier::new(7, 3, 28, 4096);
        let mut b = Verifier::new(7, 3, 28, 4096);
        let (ma, mb) = (sent(&mut a, 50), sent(&mut b, 50));
        assert_eq!(ma, mb, "same seed, same bytes");
        assert!(ma.iter().all(|m| (28..=4096).contains(&m.len())));
        let sizes: BTreeSet<usize> = ma.iter().map(Vec::len).collect();
        assert!(sizes.len() > 10, "sizes vary: {sizes:?}");
        assert_eq!(&ma[0][..4], b"WSVS");
        let mut other = Verifier::new(8, 3, 28, 4096);
        assert_ne!(sent(&mut other, 1)[0], ma[0], "another seed, other bytes");
    }

    #[test]
    fn a_clean_echo_counts_nothing_bad() {
        let mut v = Verifier::new(1, 0, 28, 70_000);
        for m in sent(&mut v, 100) {
            assert_eq!(v.check(&m), Verdict::InOrder);
        }
        let c = v.finish();
        assert_eq!((c.sent, c.received), (100, 100));
        assert_eq!(c.lost + c.corrupted + c.reordered + c.duplicated, 0);
    }

    #[test]
    fn one_flipped_bit_is_corruption_not_loss() {
        let mut v = Verifier::new(1, 0, 100, 200);
        let mut m = sent(&mut v, 3);
        let last = m[1].len() - 1;
        m[1][last] ^= 0x01;
        v.check(&m[0]);
        assert_eq!(v.check(&m[1]), Verdict::Corrupted);
        v.check(&m[2]);
        let c = v.finish();
        assert_eq!((c.corrupted, c.lost, c.reordered), (1, 0, 0));
    }

    #[test]
    fn broken_headers_truncation_and_foreign_messages_are_corruption() {
        let mut v = Verifier::new(1, 5, 100, 200);
        let m = sent(&mut v, 1).remove(0);
        assert_eq!(v.check(&m[..m.len() - 1]), Verdict::Corrupted);
        assert_eq!(v.check(b"hello"), Verdict::Corrupted);
        let mut other = Verifier::new(1, 6, 100, 200);
        assert_eq!(v.check(&other.next_message()), Verdict::Corrupted);
        let c = v.finish();
        assert_eq!((c.received, c.corrupted, c.lost), (3, 3, 1));
    }

    #[test]
    fn late_messages_are_reordered_and_missing_ones_lost() {
        let mut v = Verifier::new(1, 0, 28, 64);
        let m = sent(&mut v, 6);
        assert_eq!(v.check(&m[0]), Verdict::InOrder);
        assert_eq!(v.check(&m[3]), Verdict::Gap { skipped: 2 });
        assert_eq!(v.check(&m[1]), Verdict::Reordered);
        assert_eq!(v.check(&m[1]), Verdict::Duplicate);
        // m[2] never arrives; m[4] arrives; m[5] is still in flight at the end.
        assert_eq!(v.check(&m[4]), Verdict::InOrder);
        let c = v.finish();
        assert_eq!(
            (c.sent, c.received, c.reordered, c.duplicated, c.lost),
            (6, 5, 1, 1, 2)
        );
    }

    #[test]
    fn the_report_fails_on_any_fault() {
        let clean = SoakReport {
            target: "t".into(),
            connections: 1,
            seconds: 1.0,
            counts: SoakCounts {
                sent: 10,
                received: 10,
                ..Default::default()
            },
            errors: 0,
            first_error: None,
        };
        assert!(clean.is_clean());
        let t = clean.table();
        assert_eq!(t.cell(0, "verdict"), Some("ok"));
        let mut lossy = clean.clone();
        lossy.counts.lost = 1;
        lossy.counts.received = 9;
        assert!(!lossy.is_clean());
        let mut idle = clean.clone();
        idle.counts = SoakCounts::default();
        assert!(!idle.is_clean(), "sending nothing proves nothing");
        let mut broken = clean;
        broken.errors = 1;
        assert!(!broken.is_clean());
    }
}
