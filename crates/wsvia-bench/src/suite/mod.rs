//! `wsvia bench suite`: start the echo server and every peer on loopback, run each
//! scenario against every target in interleaved rounds (A B C … A B C …, so that the
//! machine's drift hits all alike), then print and write the tables, the ratios to
//! direct and to the best peer, the targets, and SVG charts.
//!
//! - [`peers`]: starting and stopping the programs, configuration templates.
//! - [`report`]: medians, ratios, targets, the markdown and `BENCHMARKS.md`.
//! - [`chart`]: SVG bar charts.

pub mod chart;
pub mod peers;
pub mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::args::{SuiteArgs, Timing};
use crate::dial::Dialer;
use crate::load::{self, FlowPlan, Watch};
use crate::stats::{RunReport, num};
use crate::{Error, Outcome};
use peers::{ALL_TARGETS, Target};

/// Every scenario of the suite, in the order a round runs them (idle runs once, first).
pub const ALL_SCENARIOS: &[&str] = &["idle", "bulk", "echo", "echo-rate", "setup"];

/// Sizes, counts and durations of one suite run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Rounds of bulk/echo/echo-rate/setup.
    pub rounds: usize,
    /// Idle connections per target.
    pub idle_connections: usize,
    /// Bulk: connections, message size, messages in flight per connection.
    pub bulk: (usize, usize, usize),
    /// Echo: connections and message size (ping-pong).
    pub echo: (usize, usize),
    /// Offered load of echo-rate, messages/s in total.
    pub echo_rate: f64,
    /// Setup workers.
    pub setup_workers: usize,
    /// Warm-up and measured seconds of each run.
    pub timing: Timing,
    /// The open-file limit every process of the run has (peers inherit ours).
    pub nofile: u64,
    /// Idle connections asked for, when the open-file limit forced fewer.
    pub idle_asked: Option<usize>,
}

impl Settings {
    /// The defaults (about 10 minutes), or the `--quick` ones (about 1 minute), with the
    /// flags' overrides.
    pub fn from_args(a: &SuiteArgs) -> Settings {
        let mut s = if a.quick {
            Settings {
                rounds: 1,
                idle_connections: 500,
                bulk: (2, 1 << 20, 2),
                echo: (100, 64),
                echo_rate: 2_000.0,
                setup_workers: 8,
                timing: Timing {
                    duration: 0.8,
                    warmup: 0.2,
                },
                nofile: peers::open_file_limit(),
                idle_asked: None,
            }
        } else {
            Settings {
                rounds: 3,
                idle_connections: 10_000,
                bulk: (4, 1 << 20, 2),
                echo: (1_000, 64),
                echo_rate: 5_000.0,
                setup_workers: 16,
                timing: Timing {
                    duration: 3.0,
                    warmup: 1.0,
                },
                nofile: peers::open_file_limit(),
                idle_asked: None,
            }
        };
        if let Some(r) = a.rounds {
            s.rounds = r.max(1);
        }
        if let Some(n) = a.idle_connections {
            s.idle_connections = n;
        }
        if let Some(n) = a.echo_connections {
            s.echo.0 = n.max(1);
        }
        if let Some(r) = a.echo_rate {
            s.echo_rate = r;
        }
        // A proxy holds 2 descriptors per tunnel, within the limit it inherits from us.
        let cap = peers::max_tunnels().saturating_sub(100);
        if s.idle_connections > cap {
            s.idle_asked = Some(s.idle_connections);
            s.idle_connections = cap;
        }
        s
    }
}

/// One run of the suite, as JSON.
#[derive(Debug, Serialize)]
pub struct SuiteJson<'a> {
    /// What the machine was.
    pub machine: &'a report::Machine,
    /// The settings used.
    pub settings: &'a Settings,
    /// The command that ran it, as the report shows it.
    pub command: &'a str,
    /// Every run, in order.
    pub runs: &'a [RoundRun],
}

/// A [`SuiteJson`] read back, for `--from-json`.
#[derive(Debug, Deserialize)]
pub struct SuiteRecord {
    /// What the machine was.
    pub machine: report::Machine,
    /// The settings used.
    pub settings: Settings,
    /// The command that ran it (files written before it was recorded have none).
    #[serde(default)]
    pub command: Option<String>,
    /// Every run, in order.
    pub runs: Vec<RoundRun>,
}

impl SuiteRecord {
    /// The targets that ran, in the suite's order.
    pub fn targets(&self) -> Vec<&str> {
        let ran = |name: &str| self.runs.iter().any(|r| r.report.target == name);
        let mut out: Vec<&str> = ALL_TARGETS.iter().map(|t| t.0).filter(|t| ran(t)).collect();
        for r in &self.runs {
            if !out.contains(&r.report.target.as_str()) {
                out.push(&r.report.target);
            }
        }
        out
    }
}

/// A run and the round it belonged to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundRun {
    /// 1-based round (idle runs are round 1).
    pub round: usize,
    /// The figures.
    pub report: RunReport,
}

/// Run the suite.
///
/// # Errors
/// [`Error::Config`] for unknown targets or scenarios; [`Error::Peer`] when a peer is
/// missing or does not work.
pub async fn run(a: &SuiteArgs) -> Result<Outcome, Error> {
    if let Some(path) = &a.from_json {
        return rerender(a, path);
    }
    let targets = pick(
        &a.targets,
        &ALL_TARGETS.iter().map(|t| t.0).collect::<Vec<_>>(),
        "target",
    )?;
    let scenarios = pick(&a.scenarios, ALL_SCENARIOS, "scenario")?;
    let missing = peers::missing_programs(&targets);
    if !missing.is_empty() {
        return Err(Error::Peer(format!(
            "not installed: {}; install them with:\n  {}\n(or leave their targets out with --targets)",
            missing.join(", "),
            peers::INSTALL
        )));
    }
    crate::procfs::raise_open_file_limit();
    let settings = Settings::from_args(a);
    if let Some(asked) = settings.idle_asked {
        eprintln!(
            "wsvia bench suite: warning: idle runs hold {} connections, not {asked}: the open-file limit is {} \
             (a proxy needs 2 descriptors per tunnel; raising the hard limit needs CAP_SYS_RESOURCE)",
            settings.idle_connections, settings.nofile
        );
    }
    let wsvia: PathBuf =
        std::env::current_exe().map_err(|e| Error::io("find the wsvia binary", e))?;
    let machine = report::Machine::probe();
    eprintln!("wsvia bench suite: {}", machine.summary());
    if machine.load_before > machine.cpus as f64 * 0.5 {
        eprintln!(
            "wsvia bench suite: warning: load average {:.2} on {} CPUs: other work is running, figures will be noisy",
            machine.load_before, machine.cpus
        );
    }
    let dir = tempfile::Builder::new()
        .prefix("wsvia-bench-")
        .tempdir()
        .map_err(|e| Error::io("create a temporary directory", e))?;
    let idle_on = scenarios.contains(&"idle");
    // Each upstream address takes at most one ephemeral port range (~28k) of connections
    // from a proxy; idle runs spread over several echo servers.
    let echo_count = if idle_on {
        settings.idle_connections.div_ceil(20_000).max(1)
    } else {
        1
    };
    let echoes = peers::start_echoes(&wsvia, dir.path(), echo_count)?;
    let echo_pid = echoes.procs[0].pid();
    let mut started = Vec::new();
    for name in &targets {
        eprintln!("wsvia bench suite: starting {name}");
        let t = peers::start_target(name, &wsvia, dir.path(), &echoes.ports)?;
        preflight(&t, &a.source_ips.0).await?;
        started.push(t);
    }
    let ips = a.source_ips.0.clone();
    let per_round = scenarios.iter().filter(|s| **s != "idle").count() * started.len();
    // Idle measures a proxy's memory: direct has none.
    let idle_targets: Vec<&Target> = started.iter().filter(|t| t.pid().is_some()).collect();
    let total = settings.rounds * per_round + if idle_on { idle_targets.len() } else { 0 };
    let mut runs: Vec<RoundRun> = Vec::new();
    let mut n = 0;
    let mut note = |r: &RunReport, round: usize, runs: &mut Vec<RoundRun>| {
        n += 1;
        eprintln!("[{n}/{total}] round {round}: {}", one_line(r));
        runs.push(RoundRun {
            round,
            report: r.clone(),
        });
    };
    if idle_on {
        for t in idle_targets {
            let dialer = Arc::new(Dialer::new(t.urls.clone(), t.proxy.clone(), &ips, 4096)?);
            let pids: Vec<u32> = t.pid().into_iter().collect();
            let mut r = load::hold(
                dialer,
                &t.name,
                settings.idle_connections,
                &pids,
                Duration::from_secs(2),
                256,
            )
            .await?;
            r.target = t.name.clone();
            note(&r, 1, &mut runs);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    for round in 1..=settings.rounds {
        for scenario in scenarios.iter().filter(|s| **s != "idle") {
            for t in &started {
                let watch = Watch {
                    echo: Some(echo_pid),
                    proxy: t.pid(),
                };
                let r = run_one(scenario, t, &settings, &ips, watch).await?;
                note(&r, round, &mut runs);
            }
        }
    }
    drop(started);
    drop(echoes);
    let machine = machine.finish();
    let summary = report::Summary::new(&runs, &targets, &settings);
    let command = command_line(a);
    publish(a, &summary, &machine, &settings, &command)?;
    if let Some(path) = &a.json {
        crate::write_json(
            path,
            &SuiteJson {
                machine: &machine,
                settings: &settings,
                command: &command,
                runs: &runs,
            },
        )?;
    }
    Ok(outcome(a, &runs, &summary))
}

/// Failed when a run failed, or with `--strict` when a target of issue #6 was missed.
fn outcome(a: &SuiteArgs, runs: &[RoundRun], summary: &report::Summary) -> Outcome {
    let failed_runs = runs.iter().filter(|r| !r.report.completed()).count();
    if failed_runs > 0 {
        eprintln!("wsvia bench suite: {failed_runs} runs had failures (see the errors column)");
    }
    let missed = summary
        .goals()
        .iter()
        .filter(|g| g.met == Some(false))
        .count();
    if failed_runs > 0 || (a.strict && missed > 0) {
        Outcome::Failed
    } else {
        Outcome::Passed
    }
}

/// Print the report; unless `--no-write`, write it into `--out` and draw the charts.
fn publish(
    a: &SuiteArgs,
    summary: &report::Summary,
    machine: &report::Machine,
    settings: &Settings,
    command: &str,
) -> Result<(), Error> {
    let text = summary.markdown(machine, settings, command, &a.charts, &a.out);
    println!("{text}");
    if !a.no_write {
        std::fs::create_dir_all(&a.charts)
            .map_err(|e| Error::io(format!("create {}", a.charts.display()), e))?;
        for (file, bars) in summary.charts() {
            chart::draw(&bars, &a.charts.join(file))?;
        }
        report::write_markdown(&a.out, &text)?;
        eprintln!(
            "wsvia bench suite: wrote {} and charts in {}",
            a.out.display(),
            a.charts.display()
        );
    }
    Ok(())
}

/// `--from-json`: the report of a saved run, written again; nothing runs.
fn rerender(a: &SuiteArgs, path: &Path) -> Result<Outcome, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let record: SuiteRecord = serde_json::from_str(&text).map_err(|e| {
        Error::Config(format!(
            "{} is not a `wsvia bench suite --json` file: {e}",
            path.display()
        ))
    })?;
    let summary = report::Summary::new(&record.runs, &record.targets(), &record.settings);
    let command = record.command.as_deref().unwrap_or("wsvia bench suite");
    publish(a, &summary, &record.machine, &record.settings, command)?;
    Ok(outcome(a, &record.runs, &summary))
}

async fn run_one(
    scenario: &str,
    t: &Target,
    s: &Settings,
    ips: &[std::net::IpAddr],
    watch: Watch,
) -> Result<RunReport, Error> {
    // The main scenarios use the first echo server only.
    let urls = vec![t.urls[0].clone()];
    let flow = |scenario: &str, conns, size, window, rate, read_buffer| {
        let dialer = Dialer::new(urls.clone(), t.proxy.clone(), ips, read_buffer);
        let plan = FlowPlan {
            scenario: scenario.into(),
            label: t.name.clone(),
            connections: conns,
            size,
            window,
            rate,
            timing: s.timing.clone(),
            connect_concurrency: 128,
        };
        (dialer, plan)
    };
    match scenario {
        "bulk" => {
            let (d, p) = flow("bulk", s.bulk.0, s.bulk.1, s.bulk.2, None, 256 << 10);
            load::flow(Arc::new(d?), &p, watch).await
        }
        "echo" => {
            let (d, p) = flow("echo", s.echo.0, s.echo.1, 1, None, 16 << 10);
            load::flow(Arc::new(d?), &p, watch).await
        }
        "echo-rate" => {
            let (d, p) = flow(
                "echo-rate",
                s.echo.0,
                s.echo.1,
                1,
                Some(s.echo_rate),
                16 << 10,
            );
            load::flow(Arc::new(d?), &p, watch).await
        }
        "setup" => {
            let d = Dialer::new(urls.clone(), t.proxy.clone(), ips, 4096)?;
            load::handshakes(Arc::new(d), &t.name, s.setup_workers, &s.timing, watch).await
        }
        other => Err(Error::Config(format!("unknown scenario {other:?}"))),
    }
}

/// One message through the target before any measurement: a target that does not work
/// stops the suite with its log, instead of showing up as zeros.
async fn preflight(t: &Target, ips: &[std::net::IpAddr]) -> Result<(), Error> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let log = || t.process.as_ref().map(|p| p.log_tail()).unwrap_or_default();
    for (i, url) in t.urls.iter().enumerate() {
        let d = Dialer::new(vec![url.clone()], t.proxy.clone(), ips, 4096)?;
        let check = async {
            let mut ws = d.open(i).await.map_err(|e| e.to_string())?;
            ws.send(Message::binary(&b"preflight"[..]))
                .await
                .map_err(|e| e.to_string())?;
            match ws.next().await {
                Some(Ok(Message::Binary(b))) if &b[..] == b"preflight" => {}
                other => return Err(format!("unexpected answer {other:?}")),
            }
            load::close(&mut ws).await;
            Ok(())
        };
        match tokio::time::timeout(Duration::from_secs(10), check).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(Error::Peer(format!(
                    "{} does not carry a WebSocket to {url}: {e}\n{}",
                    t.name,
                    log()
                )));
            }
            Err(_) => {
                return Err(Error::Peer(format!(
                    "{} did not echo through {url} within 10 s\n{}",
                    t.name,
                    log()
                )));
            }
        }
    }
    Ok(())
}

fn pick<'a>(asked: &[String], all: &[&'a str], what: &str) -> Result<Vec<&'a str>, Error> {
    if asked.is_empty() {
        return Ok(all.to_vec());
    }
    let mut out = Vec::new();
    for a in asked {
        let found = all.iter().find(|n| **n == a.trim()).ok_or_else(|| {
            Error::Config(format!("unknown {what} {a:?}; known: {}", all.join(", ")))
        })?;
        out.push(*found);
    }
    // Keep the canonical order (direct first), whatever order they were given in.
    out.sort_by_key(|n| all.iter().position(|m| m == n));
    out.dedup();
    Ok(out)
}

fn one_line(r: &RunReport) -> String {
    let cpu = |x: Option<f64>| x.map(|v| format!("{v:.0}%")).unwrap_or_else(|| "–".into());
    let lat = r
        .latency_us
        .map(|p| format!(" p50 {} µs p99 {} µs", num(p.p50), num(p.p99)))
        .unwrap_or_default();
    let main = match r.scenario.as_str() {
        "idle" => {
            let i = r.idle.unwrap_or_default();
            format!(
                "{} open, {} alive, {} KiB/conn",
                i.opened,
                i.alive,
                i.kib_per_conn().map(num).unwrap_or_else(|| "–".into())
            )
        }
        "bulk" => format!("{} MiB/s", num(r.mib_per_second())),
        "setup" => format!("{} setups/s", num(r.per_second())),
        _ => format!("{} msg/s", num(r.per_second())),
    };
    let errors = if r.errors > 0 {
        format!(
            " ERRORS {} ({})",
            r.errors,
            r.first_error.as_deref().unwrap_or("?")
        )
    } else {
        String::new()
    };
    format!(
        "{} {}: {main}{lat} (CPU: echo {}, proxy {}, load {}){errors}",
        r.scenario,
        r.target,
        cpu(r.cpu.echo),
        cpu(r.cpu.proxy),
        cpu(r.cpu.load)
    )
}

fn command_line(a: &SuiteArgs) -> String {
    let mut s = String::from("wsvia bench suite");
    if a.quick {
        s.push_str(" --quick");
    }
    if !a.targets.is_empty() {
        s.push_str(&format!(" --targets {}", a.targets.join(",")));
    }
    if !a.scenarios.is_empty() {
        s.push_str(&format!(" --scenarios {}", a.scenarios.join(",")));
    }
    if let Some(r) = a.rounds {
        s.push_str(&format!(" --rounds {r}"));
    }
    if let Some(n) = a.idle_connections {
        s.push_str(&format!(" --idle-connections {n}"));
    }
    if let Some(n) = a.echo_connections {
        s.push_str(&format!(" --echo-connections {n}"));
    }
    if let Some(r) = a.echo_rate {
        s.push_str(&format!(" --echo-rate {r}"));
    }
    s
}

/// `--quick --no-write`, for the tests of the suite's modules.
#[cfg(test)]
pub(crate) fn quick_args() -> SuiteArgs {
    SuiteArgs {
        quick: true,
        targets: vec![],
        scenarios: vec![],
        rounds: None,
        idle_connections: None,
        echo_connections: None,
        echo_rate: None,
        source_ips: crate::addr::parse_source_ips("127.0.0.2").unwrap(),
        out: "B.md".into(),
        charts: "c".into(),
        json: None,
        no_write: true,
        strict: false,
        from_json: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked_and_kept_in_canonical_order() {
        let all = ["direct", "squid", "nginx"];
        assert_eq!(pick(&[], &all, "t").unwrap(), all.to_vec());
        let asked = vec!["nginx".to_owned(), "direct".to_owned(), "nginx".to_owned()];
        assert_eq!(pick(&asked, &all, "t").unwrap(), vec!["direct", "nginx"]);
        assert!(pick(&["apache".to_owned()], &all, "t").is_err());
    }

    fn args(from_json: Option<PathBuf>) -> SuiteArgs {
        SuiteArgs {
            from_json,
            ..quick_args()
        }
    }

    fn echo_run(round: usize, target: &str, messages: u64) -> RoundRun {
        RoundRun {
            round,
            report: RunReport {
                scenario: "echo".into(),
                target: target.into(),
                connections: 1,
                seconds: 1.0,
                messages,
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_saved_run_renders_the_same_report_again() {
        let runs = vec![
            echo_run(1, "nginx", 60),
            echo_run(1, "direct", 100),
            echo_run(1, "wsvia-gateway-frames", 50),
            echo_run(2, "nginx", 70),
            echo_run(2, "direct", 110),
            echo_run(2, "wsvia-gateway-frames", 77),
        ];
        let machine = report::Machine::probe().finish();
        let settings = Settings::from_args(&args(None));
        let command = "wsvia bench suite --rounds 2";
        let json = serde_json::to_string(&SuiteJson {
            machine: &machine,
            settings: &settings,
            command,
            runs: &runs,
        })
        .unwrap();
        let back: SuiteRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.targets(),
            vec!["direct", "wsvia-gateway-frames", "nginx"],
            "the suite's order, not the file's"
        );
        let (charts, out) = (Path::new("c"), Path::new("B.md"));
        let first = report::Summary::new(&runs, &back.targets(), &settings)
            .markdown(&machine, &settings, command, charts, out);
        let again = report::Summary::new(&back.runs, &back.targets(), &back.settings).markdown(
            &back.machine,
            &back.settings,
            back.command.as_deref().unwrap(),
            charts,
            out,
        );
        assert_eq!(again, first);
        assert!(
            first.contains("0.98 × nginx (rounds: 0.83 to 1.10)"),
            "{first}"
        );

        let dir = tempfile::tempdir().unwrap();
        let saved = dir.path().join("run.json");
        std::fs::write(&saved, &json).unwrap();
        assert!(matches!(
            rerender(&args(Some(saved.clone())), &saved),
            Ok(Outcome::Passed)
        ));
        // 0.98 × nginx misses a target: --strict says so for a saved run as for a live one.
        let strict = SuiteArgs {
            strict: true,
            ..args(Some(saved.clone()))
        };
        assert!(matches!(rerender(&strict, &saved), Ok(Outcome::Failed)));
        std::fs::write(&saved, "{\"runs\": 3}").unwrap();
        let Err(Error::Config(why)) = rerender(&args(Some(saved.clone())), &saved) else {
            panic!("a file that is not a saved run must be refused");
        };
        assert!(
            why.contains("is not a `wsvia bench suite --json` file"),
            "{why}"
        );
    }
}
