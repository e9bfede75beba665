//! Figures of a run: the latency histogram, the per-run [`RunReport`], and markdown
//! [`Table`]s.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::addr::format_size;

/// Round-trip latencies in microseconds, 3 significant digits, growing as needed.
///
/// # Examples
/// ```
/// let mut h = wsvia_bench::stats::Latency::new();
/// for us in 1..=100 { h.record_us(us); }
/// assert_eq!(h.percentiles().unwrap().p50, 50.0);
/// ```
#[derive(Debug, Clone)]
pub struct Latency(Histogram<u32>);

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    /// An empty histogram.
    pub fn new() -> Latency {
        // 3 significant digits; auto-resizing, so the range follows the largest value.
        Latency(Histogram::new(3).unwrap_or_else(|_| unreachable!("3 digits is in 0..=5")))
    }

    /// Record one round trip.
    pub fn record(&mut self, rtt: std::time::Duration) {
        self.record_us(rtt.as_micros().min(u64::MAX as u128) as u64);
    }

    /// Record one round trip given in microseconds (0 counts as 1).
    pub fn record_us(&mut self, us: u64) {
        // `record` grows the histogram; `saturating_record` would clamp to its current top.
        if self.0.record(us.max(1)).is_err() {
            self.0.saturating_record(us.max(1));
        }
    }

    /// Add another histogram's counts.
    pub fn merge(&mut self, other: &Latency) {
        // Both auto-resize, so adding cannot fail for range.
        let _ = self.0.add(&other.0);
    }

    /// How many round trips were recorded.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// p50/p90/p99/p99.9/max/mean, or `None` when empty.
    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.0.is_empty() {
            return None;
        }
        let q = |p: f64| self.0.value_at_quantile(p) as f64;
        Some(Percentiles {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: self.0.max() as f64,
            mean: self.0.mean(),
        })
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// CPU used during the measured window, in percent of one core (200 = both cores of a
/// 2-core machine).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuShares {
    /// The echo server.
    pub echo: Option<f64>,
    /// The proxy under test (its whole process tree).
    pub proxy: Option<f64>,
    /// The load tool itself.
    pub load: Option<f64>,
}

/// Memory figures of an `idle` run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct IdleFigures {
    /// WebSockets open at the measurement.
    pub opened: usize,
    /// Of those, how many echoed a message afterwards.
    pub alive: usize,
    /// RSS of the watched processes before opening, KiB.
    pub rss_before_kib: Option<u64>,
    /// RSS with every connection open and idle, KiB.
    pub rss_idle_kib: Option<u64>,
    /// RSS after one message went through every connection, KiB.
    pub rss_after_traffic_kib: Option<u64>,
    /// Seconds it took to open them all.
    pub open_seconds: f64,
}

impl IdleFigures {
    /// RSS growth per idle connection, KiB.
    pub fn kib_per_conn(&self) -> Option<f64> {
        per_conn(self.rss_before_kib?, self.rss_idle_kib?, self.opened)
    }

    /// RSS growth per connection once each carried one message, KiB.
    pub fn kib_per_conn_after_traffic(&self) -> Option<f64> {
        per_conn(
            self.rss_before_kib?,
            self.rss_after_traffic_kib?,
            self.opened,
        )
    }
}

fn per_conn(before: u64, after: u64, n: usize) -> Option<f64> {
    (n > 0).then(|| (after as f64 - before as f64) / n as f64)
}

/// Everything one run of one scenario against one target measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunReport {
    /// `bulk`, `echo`, `echo-rate`, `setup`, `idle`.
    pub scenario: String,
    /// The target's name.
    pub target: String,
    /// Connections (or setup workers).
    pub connections: usize,
    /// Connections that failed to open.
    pub connect_failures: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Messages in flight per connection.
    pub pipeline: usize,
    /// Offered load in messages/s (fixed-rate runs).
    pub rate: Option<f64>,
    /// Seconds measured.
    pub seconds: f64,
    /// Echoes (or handshakes, for setup) completed in the measured window.
    pub messages: u64,
    /// Payload bytes echoed back in the measured window.
    pub bytes: u64,
    /// Round trips (or handshake times), microseconds.
    pub latency_us: Option<Percentiles>,
    /// Failed connections, wrong echoes, protocol errors during the run.
    pub errors: u64,
    /// The first error seen, for the reader.
    pub first_error: Option<String>,
    /// CPU shares in the measured window.
    pub cpu: CpuShares,
    /// Memory of idle runs.
    pub idle: Option<IdleFigures>,
}

impl RunReport {
    /// Echoes (or handshakes) per second.
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.messages as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Echoed payload in MiB/s.
    pub fn mib_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.bytes as f64 / self.seconds / (1 << 20) as f64
        } else {
            0.0
        }
    }

    /// Whether the run did what it set out to do: traffic flowed, or every idle
    /// connection opened and answered.
    pub fn completed(&self) -> bool {
        match &self.idle {
            Some(idle) => idle.opened == self.connections && idle.alive == idle.opened,
            None => self.messages > 0 && self.connect_failures == 0,
        }
    }
}

/// A markdown table; numbers are right-aligned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Column titles.
    pub headers: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// GitHub-flavoured markdown: first column left-aligned, the others right-aligned.
    ///
    /// # Examples
    /// ```
    /// let mut t = wsvia_bench::stats::Table::new(["target", "msg/s"]);
    /// t.row(["direct", "1,000"]);
    /// assert_eq!(t.to_markdown(), "| target | msg/s |\n|---|--:|\n| direct | 1,000 |");
    /// ```
    pub fn to_markdown(&self) -> String {
        let mut out = format!("| {} |\n|", self.headers.join(" | "));
        for i in 0..self.headers.len() {
            out.push_str(if i == 0 { "---|" } else { "--:|" });
        }
        for row in &self.rows {
            out.push_str(&format!("\n| {} |", row.join(" | ")));
        }
        out
    }

    /// Parse a table printed by [`Table::to_markdown`] (for tests and scripts).
    pub fn parse_markdown(text: &str) -> Option<Table> {
        let mut lines = text
            .lines()
            .map(str::trim)
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'));
        let cells = |l: &str| -> Vec<String> {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect()
        };
        let headers = cells(lines.next()?);
        lines.next()?; // the alignment row
        Some(Table {
            headers,
            rows: lines.map(cells).collect(),
        })
    }

    /// The cell in `row` under the column titled `header`.
    pub fn cell(&self, row: usize, header: &str) -> Option<&str> {
        let col = self.headers.iter().position(|h| h == header)?;
        self.rows.get(row)?.get(col).map(String::as_str)
    }
}

/// `12,345` for counts and rates; one decimal below 100, two below 10.
///
/// # Examples
/// ```
/// assert_eq!(wsvia_bench::stats::num(123456.7), "123,457");
/// assert_eq!(wsvia_bench::stats::num(42.75), "42.8");
/// assert_eq!(wsvia_bench::stats::num(0.375), "0.38");
/// ```
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    if x.abs() < 10.0 {
        return format!("{x:.2}");
    }
    if x.abs() < 100.0 {
        return format!("{x:.1}");
    }
    let n = x.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Parse a number printed by [`num`].
pub fn parse_num(cell: &str) -> Option<f64> {
    cell.replace(',', "").parse().ok()
}

fn opt(x: Option<f64>) -> String {
    x.map(num).unwrap_or_else(|| "–".into())
}

/// The table `wsvia bench <scenario>` prints for one run.
pub fn single_table(r: &RunReport) -> Table {
    let lat = |f: fn(&Percentiles) -> f64| opt(r.latency_us.as_ref().map(f));
    let errors = r.errors.to_string();
    match r.scenario.as_str() {
        "idle" => {
            let i = r.idle.unwrap_or_default();
            let kib = |k: Option<u64>| k.map(|v| num(v as f64)).unwrap_or_else(|| "–".into());
            let mut t = Table::new([
                "target",
                "opened",
                "alive",
                "open s",
                "RSS before KiB",
                "RSS idle KiB",
                "KiB/conn idle",
                "KiB/conn after 1 msg",
                "errors",
            ]);
            t.row([
                r.target.clone(),
                num(i.opened as f64),
                num(i.alive as f64),
                num(i.open_seconds),
                kib(i.rss_before_kib),
                kib(i.rss_idle_kib),
                opt(i.kib_per_conn()),
                opt(i.kib_per_conn_after_traffic()),
                errors,
            ]);
            t
        }
        "setup" => {
            let mut t = Table::new([
                "target",
                "workers",
                "setups/s",
                "p50 µs",
                "p99 µs",
                "p99.9 µs",
                "errors",
            ]);
            t.row([
                r.target.clone(),
                r.connections.to_string(),
                num(r.per_second()),
                lat(|p| p.p50),
                lat(|p| p.p99),
                lat(|p| p.p999),
                errors,
            ]);
            t
        }
        _ => {
            let mut t = Table::new([
                "target",
                "conns",
                "size",
                "pipeline",
                "rate",
                "msg/s",
                "MiB/s",
                "p50 µs",
                "p99 µs",
                "p99.9 µs",
                "max µs",
                "errors",
            ]);
            t.row([
                r.target.clone(),
                r.connections.to_string(),
                format_size(r.size),
                r.pipeline.to_string(),
                opt(r.rate),
                num(r.per_second()),
                num(r.mib_per_second()),
                lat(|p| p.p50),
                lat(|p| p.p99),
                lat(|p| p.p999),
                lat(|p| p.max),
                errors,
            ]);
            t
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut h = Latency::new();
        for us in 1..=1000 {
            h.record_us(us);
        }
        let p = h.percentiles().unwrap();
        assert_eq!((p.p50, p.p99, p.p999, p.max), (500.0, 990.0, 999.0, 1000.0));
        assert!((p.mean - 500.5).abs() < 0.01);
        assert!(Latency::new().percentiles().is_none());
    }

    #[test]
    fn merged_histograms_count_both_and_keep_the_tail() {
        let (mut a, mut b) = (Latency::new(), Latency::new());
        for _ in 0..990 {
            a.record_us(100);
        }
        for _ in 0..10 {
            b.record_us(50_000);
        }
        a.merge(&b);
        assert_eq!(a.count(), 1000);
        let p = a.percentiles().unwrap();
        assert_eq!(p.p50, 100.0);
        assert!((49_950.0..=50_050.0).contains(&p.p999), "{p:?}");
        a.record(std::time::Duration::from_nanos(10));
        assert_eq!(a.count(), 1001, "sub-microsecond values count as 1 µs");
    }

    #[test]
    fn rates_and_idle_memory_per_connection() {
        let r = RunReport {
            seconds: 2.0,
            messages: 1000,
            bytes: 4 << 20,
            ..Default::default()
        };
        assert_eq!((r.per_second(), r.mib_per_second()), (500.0, 2.0));
        let idle = IdleFigures {
            opened: 1000,
            rss_before_kib: Some(10_000),
            rss_idle_kib: Some(14_000),
            rss_after_traffic_kib: Some(30_000),
            ..Default::default()
        };
        assert_eq!(idle.kib_per_conn(), Some(4.0));
        assert_eq!(idle.kib_per_conn_after_traffic(), Some(20.0));
        assert_eq!(IdleFigures::default().kib_per_conn(), None);
    }

    #[test]
    fn a_printed_table_parses_back() {
        let r = RunReport {
            scenario: "echo".into(),
            target: "direct".into(),
            connections: 10,
            size: 64,
            pipeline: 1,
            seconds: 1.0,
            messages: 123_456,
            bytes: 123_456 * 64,
            ..Default::default()
        };
        let text = format!("noise\n{}\nmore", single_table(&r).to_markdown());
        let t = Table::parse_markdown(&text).unwrap();
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.cell(0, "msg/s"), Some("123,456"));
        assert_eq!(parse_num(t.cell(0, "msg/s").unwrap()), Some(123_456.0));
        assert_eq!(t.cell(0, "size"), Some("64 B"));
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(num(1_234_567.0), "1,234,567");
        assert_eq!(num(-1234.0), "-1,234");
        assert_eq!(num(999.6), "1,000");
        assert_eq!(num(f64::NAN), "–");
        assert_eq!(num(0.0), "0");
    }
}
