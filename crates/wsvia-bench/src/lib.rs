//! `wsvia bench`: a WebSocket load tool and the benchmark suite that compares wsvia with
//! direct connections, squid, tinyproxy, nginx and HAProxy on loopback.
//!
//! The load tool opens WebSockets with the `wsvia` client library (directly, through any
//! HTTP CONNECT proxy, or to a reverse proxy's `ws://` URL), from many source addresses
//! when asked, and drives one scenario: `bulk`, `echo`, `idle`, `setup` or `soak`. Results
//! are printed as a markdown table and optionally written as JSON. The suite starts the
//! echo server and every peer, runs the scenarios against each target in interleaved
//! rounds, and writes `BENCHMARKS.md` with tables and SVG charts.
//!
//! # Layout
//! - [`args`]: the command line of `wsvia bench` (clap derive, used by `wsvia-cli`).
//! - [`addr`]: source-address lists (`127.0.0.1-127.0.0.20`) and sizes (`64KiB`).
//! - [`dial`]: [`dial::Dialer`], WebSockets from chosen source addresses with a tuned
//!   frame buffer.
//! - [`load`]: the `bulk`, `echo`, `setup` and `idle` scenarios.
//! - [`soak`]: checksummed messages verified byte for byte, in order.
//! - [`stats`]: latency histograms, per-run [`stats::RunReport`]s, markdown tables.
//! - [`procfs`]: RSS and CPU time of a process tree from `/proc`.
//! - [`progress`]: progress bars on stderr.
//! - [`suite`]: peers, interleaved rounds, ratios, `BENCHMARKS.md` and charts.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod addr;
pub mod args;
pub mod dial;
pub mod load;
pub mod procfs;
pub mod progress;
pub mod soak;
pub mod stats;
pub mod suite;

use std::path::Path;

pub use args::{BenchArgs, Scenario};
pub use stats::RunReport;

/// What went wrong in a benchmark run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad flags or settings.
    #[error("{0}")]
    Config(String),
    /// A WebSocket could not be opened.
    #[error("cannot open {url}: {source}")]
    Connect {
        /// The URL (and proxy) tried.
        url: String,
        /// The client library's error.
        #[source]
        source: Box<wsvia::Error>,
    },
    /// A local operation failed (files, /proc, spawning).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A peer (proxy, echo server) did not start or does not work.
    #[error("{0}")]
    Peer(String),
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

/// How a run ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed.
    Passed,
    /// The run finished but found failures (lost or corrupted messages, failed
    /// connections, a missed target in `suite --strict`).
    Failed,
}

/// Run `wsvia bench …`.
///
/// # Errors
/// [`Error::Config`] for bad flags; other variants when the run cannot start.
///
/// # Cancel safety
/// Dropping the future drops open connections; started peers are stopped on drop.
///
/// # Examples
/// ```no_run
/// # async fn f() -> Result<(), wsvia_bench::Error> {
/// use clap::Parser;
/// #[derive(Parser)]
/// struct Cli { #[command(flatten)] bench: wsvia_bench::BenchArgs }
/// let cli = Cli::parse_from(["x", "echo", "ws://127.0.0.1:9001/", "--duration", "2"]);
/// wsvia_bench::run(cli.bench).await?;
/// # Ok(()) }
/// ```
pub async fn run(args: BenchArgs) -> Result<Outcome, Error> {
    procfs::raise_open_file_limit();
    match args.scenario {
        Scenario::Bulk(a) => report_one(load::bulk(&a).await?, a.target.json.as_deref()),
        Scenario::Echo(a) => report_one(load::echo(&a).await?, a.target.json.as_deref()),
        Scenario::Setup(a) => report_one(load::setup(&a).await?, a.target.json.as_deref()),
        Scenario::Idle(a) => report_one(load::idle(&a).await?, a.target.json.as_deref()),
        Scenario::Soak(a) => {
            let report = soak::run(&a).await?;
            println!("{}", report.table().to_markdown());
            if let Some(path) = &a.target.json {
                write_json(path, &report)?;
            }
            Ok(if report.is_clean() {
                Outcome::Passed
            } else {
                Outcome::Failed
            })
        }
        Scenario::Suite(a) => suite::run(&a).await,
    }
}

fn report_one(report: RunReport, json: Option<&Path>) -> Result<Outcome, Error> {
    println!("{}", stats::single_table(&report).to_markdown());
    if let Some(path) = json {
        write_json(path, &report)?;
    }
    Ok(if report.errors == 0 && report.completed() {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}

pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Config(format!("cannot encode JSON: {e}")))?;
    std::fs::write(path, text + "\n").map_err(|e| Error::io(format!("write {}", path.display()), e))
}
