//! The command line of `wsvia bench` (clap derive; doc comments are the help text).
//! `wsvia-cli` flattens [`BenchArgs`] into its `bench` subcommand.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::addr::{parse_size, parse_source_ips};

/// Measure WebSocket throughput, latency, memory and handshakes, directly or through proxies.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The scenario to run.
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// What `wsvia bench` measures.
#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// N connections stream large binary messages, echoed back: MiB/s.
    #[command(
        after_help = "Examples:\n  wsvia bench bulk ws://127.0.0.1:9001/ --size 1MiB --connections 4\n  wsvia bench bulk ws://127.0.0.1:9001/ --proxy http://127.0.0.1:3128 --json bulk.json"
    )]
    Bulk(BulkArgs),
    /// N connections send messages of SIZE bytes and wait for each echo (or keep K in
    /// flight): messages/s and a latency histogram (p50/p99/p99.9).
    #[command(
        after_help = "Examples:\n  wsvia bench echo ws://127.0.0.1:9001/ --connections 1000 --size 64\n  wsvia bench echo ws://127.0.0.1:9001/ --proxy http://127.0.0.1:3128 --pipeline 16\n  wsvia bench echo ws://127.0.0.1:8080/ --connections 1000 --rate 5000   # fixed load: latency"
    )]
    Echo(EchoArgs),
    /// Open N WebSockets and hold them; report the proxy's RSS per connection (--pid).
    #[command(
        after_help = "Examples:\n  wsvia bench idle ws://127.0.0.1:9001/ --proxy http://127.0.0.1:3128 --pid $(pgrep -n wsvia) --connections 50000 --source-ips 127.0.0.2-127.0.0.21\n  wsvia bench idle ws://127.0.0.1:8080/ --pid 1234 --connections 10000"
    )]
    Idle(IdleArgs),
    /// Open and close WebSockets as fast as CONCURRENCY workers can: full handshakes/s.
    #[command(
        after_help = "Examples:\n  wsvia bench setup ws://127.0.0.1:9001/ --concurrency 16\n  wsvia bench setup ws://127.0.0.1:9001/ --proxy http://127.0.0.1:3128 --source-ips 127.0.0.2-127.0.0.11"
    )]
    Setup(SetupArgs),
    /// Send checksummed random-size messages on N connections and verify every echo in
    /// order, byte for byte; exit 1 on any loss, corruption, reordering or error.
    #[command(
        after_help = "Examples:\n  wsvia bench soak ws://127.0.0.1:9001/ --connections 16 --duration 60\n  wsvia bench soak ws://127.0.0.1:9001/ --proxy http://127.0.0.1:3128 --max-size 1MiB"
    )]
    Soak(SoakArgs),
    /// Start the echo server and every peer on loopback, run every scenario against each
    /// target in interleaved rounds, and write BENCHMARKS.md with tables and charts.
    #[command(
        after_help = "Examples:\n  wsvia bench suite                 # about 10 minutes\n  wsvia bench suite --quick         # a 1-minute smoke run\n  wsvia bench suite --targets direct,wsvia-proxy,squid --idle-connections 50000"
    )]
    Suite(SuiteArgs),
}

/// Where connections go and how they are opened (every scenario but `suite`).
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// WebSocket URLs (ws://…); connections are spread over them in turn.
    #[arg(required = true, value_name = "URL")]
    pub urls: Vec<String>,

    /// Go through this HTTP CONNECT proxy (http://[user:pass@]host:port). Without it,
    /// connections are direct (proxy variables are ignored).
    #[arg(short = 'x', long, value_name = "URL")]
    pub proxy: Option<String>,

    /// Bind each connection to one of these source addresses in turn
    /// (e.g. 127.0.0.2-127.0.0.21 or 127.0.0.2,127.0.0.3), so that many connections fit
    /// in the port range.
    #[arg(long, value_name = "LIST", value_parser = parse_source_ips)]
    pub source_ips: Option<SourceIps>,

    /// How many connections are opened at once while connecting.
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub connect_concurrency: usize,

    /// The target's name in tables (default: the proxy or the first URL).
    #[arg(long)]
    pub label: Option<String>,

    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
}

/// A parsed `--source-ips` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIps(pub Vec<IpAddr>);

/// How long a scenario runs.
#[derive(Debug, Clone, Args, serde::Serialize, serde::Deserialize)]
pub struct Timing {
    /// Seconds measured (after the warm-up).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub duration: f64,

    /// Seconds of traffic before measuring starts.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub warmup: f64,
}

/// Flags of `wsvia bench bulk`.
#[derive(Debug, Clone, Args)]
pub struct BulkArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub timing: Timing,
    /// Connections.
    #[arg(short = 'c', long, default_value_t = 1)]
    pub connections: usize,
    /// Message size (bytes, or with KiB/MiB).
    #[arg(short = 's', long, default_value = "1MiB", value_parser = parse_size)]
    pub size: usize,
    /// Messages in flight per connection.
    #[arg(long, default_value_t = 4)]
    pub pipeline: usize,
    /// The client's WebSocket read buffer (tungstenite reads at most this much per call).
    #[arg(long, value_name = "BYTES", default_value = "256KiB", value_parser = parse_size)]
    pub read_buffer: usize,
}

/// Flags of `wsvia bench echo`.
#[derive(Debug, Clone, Args)]
pub struct EchoArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub timing: Timing,
    /// Connections.
    #[arg(short = 'c', long, default_value_t = 100)]
    pub connections: usize,
    /// Message size (bytes, or with KiB/MiB).
    #[arg(short = 's', long, default_value = "64", value_parser = parse_size)]
    pub size: usize,
    /// Messages in flight per connection (1: ping-pong).
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Send this many messages per second in total, spread evenly over the connections,
    /// instead of as fast as echoes come back (a fixed load, for latency comparisons).
    #[arg(long, value_name = "MSGS_PER_SEC")]
    pub rate: Option<f64>,
    /// The client's WebSocket read buffer (tungstenite zero-fills it before each read).
    #[arg(long, value_name = "BYTES", default_value = "16KiB", value_parser = parse_size)]
    pub read_buffer: usize,
}

/// Flags of `wsvia bench setup`.
#[derive(Debug, Clone, Args)]
pub struct SetupArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub timing: Timing,
    /// Workers, each opening (TCP, CONNECT, upgrade) and closing one WebSocket at a time.
    #[arg(short = 'c', long, alias = "connections", default_value_t = 16)]
    pub concurrency: usize,
}

/// Flags of `wsvia bench idle`.
#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    /// WebSockets to open and hold.
    #[arg(short = 'c', long, default_value_t = 10_000)]
    pub connections: usize,
    /// The proxy's process id (repeatable); its RSS (VmRSS of it and its children) is read
    /// before and after.
    #[arg(long, value_name = "PID")]
    pub pid: Vec<u32>,
    /// Seconds to hold the connections before reading RSS.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    pub hold: f64,
}

/// Flags of `wsvia bench soak`.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub timing: Timing,
    /// Connections.
    #[arg(short = 'c', long, default_value_t = 16)]
    pub connections: usize,
    /// Smallest message (bytes; at least the 28-byte header).
    #[arg(long, default_value = "28", value_parser = parse_size)]
    pub min_size: usize,
    /// Largest message (bytes, or with KiB/MiB).
    #[arg(long, default_value = "64KiB", value_parser = parse_size)]
    pub max_size: usize,
    /// Messages in flight per connection.
    #[arg(long, default_value_t = 8)]
    pub pipeline: usize,
    /// Seed for message sizes and contents (the same seed sends the same bytes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seconds to wait for outstanding echoes at the end before counting them lost.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub drain: f64,
}

/// Flags of `wsvia bench suite`.
#[derive(Debug, Clone, Args)]
pub struct SuiteArgs {
    /// A one-minute smoke run: one round, short durations, fewer connections.
    #[arg(long)]
    pub quick: bool,
    /// Targets to run, comma-separated (default: all): direct, wsvia-proxy, squid,
    /// tinyproxy, wsvia-gateway-frames, wsvia-gateway-passthrough, nginx, haproxy.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub targets: Vec<String>,
    /// Scenarios to run, comma-separated (default: all): idle, bulk, echo, echo-rate, setup.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub scenarios: Vec<String>,
    /// Rounds of bulk/echo/setup (each round runs every target once, in turn).
    #[arg(long, value_name = "N")]
    pub rounds: Option<usize>,
    /// Idle WebSockets held through each target.
    #[arg(long, value_name = "N")]
    pub idle_connections: Option<usize>,
    /// Connections of the echo scenarios.
    #[arg(long, value_name = "N")]
    pub echo_connections: Option<usize>,
    /// Total messages/s of the fixed-load echo scenario (latency comparison).
    #[arg(long, value_name = "MSGS_PER_SEC")]
    pub echo_rate: Option<f64>,
    /// Source addresses for the load tool.
    #[arg(long, value_name = "LIST", value_parser = parse_source_ips, default_value = "127.0.0.2-127.0.0.21")]
    pub source_ips: SourceIps,
    /// Markdown file to write (the part between the bench markers is replaced).
    #[arg(long, value_name = "FILE", default_value = "BENCHMARKS.md")]
    pub out: PathBuf,
    /// Directory for the SVG charts (linked from --out).
    #[arg(long, value_name = "DIR", default_value = "bench/charts")]
    pub charts: PathBuf,
    /// Also write every run as JSON to this file.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
    /// Print results only; do not write --out or --charts.
    #[arg(long)]
    pub no_write: bool,
    /// Exit 1 when a target of issue #6 is missed (default: report only).
    #[arg(long)]
    pub strict: bool,
    /// Run nothing: write the report and charts again from a run saved with --json (after
    /// the report changed, or into another --out).
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "quick", "targets", "scenarios", "rounds", "idle_connections", "echo_connections",
        "echo_rate", "json",
    ])]
    pub from_json: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn echo_takes_sizes_rates_and_source_ranges() {
        let cli = Cli::try_parse_from([
            "b",
            "echo",
            "ws://127.0.0.1:9001/",
            "-c",
            "1000",
            "--size",
            "1KiB",
            "--rate",
            "5000",
            "--source-ips",
            "127.0.0.2-127.0.0.4",
            "-x",
            "http://127.0.0.1:3128",
        ])
        .unwrap();
        let Scenario::Echo(a) = cli.bench.scenario else {
            panic!("not echo")
        };
        assert_eq!((a.connections, a.size, a.rate), (1000, 1024, Some(5000.0)));
        assert_eq!(a.target.source_ips.unwrap().0.len(), 3);
        assert_eq!(a.target.proxy.as_deref(), Some("http://127.0.0.1:3128"));
    }

    #[test]
    fn a_url_is_required() {
        assert!(Cli::try_parse_from(["b", "bulk"]).is_err());
        assert!(Cli::try_parse_from(["b", "suite", "--quick"]).is_ok());
    }
}
