//! The suite's report: medians over rounds, ratios to direct and to the best peer, the
//! targets of issue #6, the machine, the markdown section of `BENCHMARKS.md`, charts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::chart::Bars;
use super::peers::is_peer;
use super::{RoundRun, Settings};
use crate::Error;
use crate::addr::format_size;
use crate::stats::{RunReport, Table, num};

/// The markers around the generated part of `BENCHMARKS.md`.
pub const BEGIN: &str =
    "<!-- wsvia-bench:begin: written by `wsvia bench suite`; edits inside are overwritten -->";
/// See [`BEGIN`].
pub const END: &str = "<!-- wsvia-bench:end -->";

/// The machine a suite ran on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// `nproc`.
    pub cpus: usize,
    /// `lscpu`'s model name.
    pub model: String,
    /// `uname -r`.
    pub kernel: String,
    /// Memory in GiB.
    pub mem_gib: f64,
    /// 1-minute load average when the suite started.
    pub load_before: f64,
    /// 1-minute load average when it ended.
    pub load_after: Option<f64>,
    /// The busiest processes at the start (`ps`), to see what else ran.
    pub busy: Vec<String>,
    /// When it started (UTC).
    pub started: String,
    /// The commit of the work tree, if any.
    pub commit: Option<String>,
    /// Versions of the peers.
    pub versions: Vec<(String, String)>,
}

impl Machine {
    /// Look at the machine now.
    pub fn probe() -> Machine {
        let model = output("lscpu", &[])
            .lines()
            .find_map(|l| l.strip_prefix("Model name:").map(|m| m.trim().to_owned()))
            .unwrap_or_else(|| "unknown".into());
        let mem_kib: f64 = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let first = |s: String| s.lines().next().unwrap_or("").trim().to_owned();
        let versions = vec![
            ("squid".into(), first(output("squid", &["-v"]))),
            ("tinyproxy".into(), first(output("tinyproxy", &["-v"]))),
            ("nginx".into(), first(output("nginx", &["-v"]))),
            ("haproxy".into(), first(output("haproxy", &["-v"]))),
        ];
        let busy = output("ps", &["-eo", "pcpu,comm", "--sort=-pcpu"])
            .lines()
            .skip(1)
            .take(5)
            .map(|l| l.trim().to_owned())
            .collect();
        let commit = std::env::var("WSVIA_BENCH_COMMIT").ok().or_else(|| {
            Command::new("git")
                .args(["rev-parse", "--short", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| first(String::from_utf8_lossy(&o.stdout).into_owned()))
        });
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            model,
            kernel: first(
                std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default(),
            ),
            mem_gib: mem_kib / (1 << 20) as f64,
            load_before: load_average(),
            load_after: None,
            busy,
            started: first(output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
            commit,
            versions,
        }
    }

    /// Note the load at the end.
    pub fn finish(mut self) -> Machine {
        self.load_after = Some(load_average());
        self
    }

    /// One line for the terminal.
    pub fn summary(&self) -> String {
        format!(
            "{} CPUs ({}), kernel {}, {:.1} GiB, load average {:.2}",
            self.cpus, self.model, self.kernel, self.mem_gib, self.load_before
        )
    }
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// What a program printed on stdout and stderr ("" when it is missing).
fn output(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(o) => {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s
        }
        Err(_) => String::new(),
    }
}

/// A figure the suite reports, per scenario.
struct Metric {
    scenario: &'static str,
    title: &'static str,
    higher_is_better: bool,
    get: fn(&RunReport) -> Option<f64>,
}

const METRICS: &[Metric] = &[
    Metric {
        scenario: "idle",
        title: "KiB/conn idle",
        higher_is_better: false,
        get: |r| r.idle?.kib_per_conn(),
    },
    Metric {
        scenario: "idle",
        title: "KiB/conn after 1 msg",
        higher_is_better: false,
        get: |r| r.idle?.kib_per_conn_after_traffic(),
    },
    Metric {
        scenario: "bulk",
        title: "MiB/s",
        higher_is_better: true,
        get: |r| Some(r.mib_per_second()),
    },
    Metric {
        scenario: "echo",
        title: "msg/s",
        higher_is_better: true,
        get: |r| Some(r.per_second()),
    },
    Metric {
        scenario: "echo",
        title: "p99 µs",
        higher_is_better: false,
        get: |r| Some(r.latency_us?.p99),
    },
    Metric {
        scenario: "echo-rate",
        title: "p50 µs",
        higher_is_better: false,
        get: |r| Some(r.latency_us?.p50),
    },
    Metric {
        scenario: "echo-rate",
        title: "p99 µs",
        higher_is_better: false,
        get: |r| Some(r.latency_us?.p99),
    },
    Metric {
        scenario: "echo-rate",
        title: "p99.9 µs",
        higher_is_better: false,
        get: |r| Some(r.latency_us?.p999),
    },
    Metric {
        scenario: "setup",
        title: "setups/s",
        higher_is_better: true,
        get: |r| Some(r.per_second()),
    },
    Metric {
        scenario: "setup",
        title: "p99 µs",
        higher_is_better: false,
        get: |r| Some(r.latency_us?.p99),
    },
];

/// One of issue #6's targets and how the run did.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    /// The goal, in words.
    pub goal: String,
    /// What was measured.
    pub measured: String,
    /// Met, missed, or not measured in this run.
    pub met: Option<bool>,
}

/// Every run of a suite, grouped by scenario and target.
#[derive(Debug)]
pub struct Summary {
    /// Each scenario and target's runs, with the round each belonged to.
    runs: BTreeMap<(String, String), Vec<(usize, RunReport)>>,
    targets: Vec<String>,
    scenarios: Vec<String>,
    idle_connections: usize,
    echo_rate: f64,
}

impl Summary {
    /// Group `runs`.
    pub fn new(runs: &[RoundRun], targets: &[&str], settings: &Settings) -> Summary {
        let mut map: BTreeMap<(String, String), Vec<(usize, RunReport)>> = BTreeMap::new();
        let mut scenarios: Vec<String> = Vec::new();
        for r in runs {
            let key = (r.report.scenario.clone(), r.report.target.clone());
            map.entry(key)
                .or_default()
                .push((r.round, r.report.clone()));
            if !scenarios.contains(&r.report.scenario) {
                scenarios.push(r.report.scenario.clone());
            }
        }
        Summary {
            runs: map,
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            scenarios,
            idle_connections: settings.idle_connections,
            echo_rate: settings.echo_rate,
        }
    }

    /// The median over rounds of `get` for one scenario and target.
    fn median(
        &self,
        scenario: &str,
        target: &str,
        get: fn(&RunReport) -> Option<f64>,
    ) -> Option<f64> {
        median(self.values(scenario, target, get))
    }

    fn values(&self, scenario: &str, target: &str, get: fn(&RunReport) -> Option<f64>) -> Vec<f64> {
        self.runs
            .get(&(scenario.to_owned(), target.to_owned()))
            .map(|rs| {
                rs.iter()
                    .filter_map(|(_, r)| get(r))
                    .filter(|v| v.is_finite())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `get` of each round's run of one scenario and target, by round (a round has one
    /// run of each).
    fn by_round(
        &self,
        scenario: &str,
        target: &str,
        get: fn(&RunReport) -> Option<f64>,
    ) -> BTreeMap<usize, f64> {
        self.runs
            .get(&(scenario.to_owned(), target.to_owned()))
            .map(|rs| {
                rs.iter()
                    .filter_map(|(round, r)| Some((*round, get(r)?)))
                    .filter(|(_, v)| v.is_finite())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Round by round, `combine` of `a`'s and `b`'s figure (a ratio, a difference) in
    /// the rounds both ran: targets run in turn within a round, so these pairs shared the
    /// machine's state more closely than medians over the whole run do.
    fn per_round(
        &self,
        scenario: &str,
        title: &str,
        (a, b): (&str, &str),
        combine: fn(f64, f64) -> Option<f64>,
    ) -> Vec<f64> {
        let Some(m) = METRICS
            .iter()
            .find(|m| m.scenario == scenario && m.title == title)
        else {
            return Vec::new();
        };
        let theirs = self.by_round(scenario, b, m.get);
        self.by_round(scenario, a, m.get)
            .into_iter()
            .filter_map(|(round, x)| combine(x, *theirs.get(&round)?))
            .collect()
    }

    fn metric(&self, scenario: &str, title: &str, target: &str) -> Option<f64> {
        let m = METRICS
            .iter()
            .find(|m| m.scenario == scenario && m.title == title)?;
        self.median(scenario, target, m.get)
    }

    /// The best median among the other programs (squid, tinyproxy, nginx, HAProxy).
    fn best_peer(&self, m: &Metric) -> Option<(f64, String)> {
        let mut best: Option<(f64, String)> = None;
        for t in self.targets.iter().filter(|t| is_peer(t)) {
            let Some(v) = self.median(m.scenario, t, m.get) else {
                continue;
            };
            let better = match &best {
                None => true,
                Some((b, _)) => (m.higher_is_better && v > *b) || (!m.higher_is_better && v < *b),
            };
            if better {
                best = Some((v, t.clone()));
            }
        }
        best
    }

    /// One table per scenario: medians, ratio to direct, ratio to the best peer.
    pub fn tables(&self) -> Vec<(String, Table)> {
        let mut out = Vec::new();
        for scenario in &self.scenarios {
            let metrics: Vec<&Metric> = METRICS.iter().filter(|m| m.scenario == scenario).collect();
            // Idle measures a proxy's memory: direct has none to compare with.
            let vs_direct = scenario != "idle";
            let mut headers = vec!["target".to_owned()];
            for m in &metrics {
                headers.push(m.title.to_owned());
                if vs_direct {
                    headers.push("× direct".into());
                }
                headers.push("× best peer".into());
            }
            headers.push("spread".into());
            headers.push("errors".into());
            let mut t = Table::new(headers);
            for target in &self.targets {
                let Some(runs) = self.runs.get(&(scenario.clone(), target.clone())) else {
                    continue;
                };
                let mut row = vec![target.clone()];
                for m in &metrics {
                    let v = self.median(scenario, target, m.get);
                    let direct = self.median(scenario, "direct", m.get);
                    let best = self.best_peer(m);
                    row.push(v.map(num).unwrap_or_else(|| "–".into()));
                    if vs_direct {
                        row.push(ratio(v, direct));
                    }
                    row.push(ratio(v, best.map(|b| b.0)));
                }
                row.push(spread(&self.values(scenario, target, metrics[0].get)));
                row.push(runs.iter().map(|(_, r)| r.errors).sum::<u64>().to_string());
                t.row(row);
            }
            out.push((scenario.clone(), t));
        }
        out
    }

    /// CPU shares (percent of one core), medians over rounds.
    pub fn cpu_table(&self) -> Table {
        let mut t = Table::new([
            "scenario",
            "target",
            "echo server",
            "proxy",
            "load tool",
            "sum",
            "proxy CPU per unit",
        ]);
        for scenario in self.scenarios.iter().filter(|s| *s != "idle") {
            for target in &self.targets {
                let get = |f: fn(&RunReport) -> Option<f64>| self.median(scenario, target, f);
                let echo = get(|r| r.cpu.echo);
                let proxy = get(|r| r.cpu.proxy);
                let load = get(|r| r.cpu.load);
                if echo.is_none() && load.is_none() {
                    continue;
                }
                let pct =
                    |x: Option<f64>| x.map(|v| format!("{v:.0}%")).unwrap_or_else(|| "–".into());
                let sum = echo.unwrap_or(0.0) + proxy.unwrap_or(0.0) + load.unwrap_or(0.0);
                // CPU time per unit of work: steadier than rates on a busy machine.
                let per_unit = match scenario.as_str() {
                    "bulk" => ratio_of(
                        proxy.map(|p| p * 10.0),
                        self.median(scenario, target, |r| Some(r.mib_per_second() / 1024.0)),
                    )
                    .map(|v| format!("{} ms/GiB", num(v))),
                    "setup" => ratio_of(
                        proxy.map(|p| p * 1e4),
                        self.median(scenario, target, |r| Some(r.per_second())),
                    )
                    .map(|v| format!("{} µs/setup", num(v))),
                    _ => ratio_of(
                        proxy.map(|p| p * 1e4),
                        self.median(scenario, target, |r| Some(r.per_second())),
                    )
                    .map(|v| format!("{} µs/msg", num(v))),
                };
                t.row([
                    scenario.clone(),
                    target.clone(),
                    pct(echo),
                    pct(proxy),
                    pct(load),
                    pct(Some(sum)),
                    per_unit.unwrap_or_else(|| "–".into()),
                ]);
            }
        }
        t
    }

    /// The most CPU the echo server used in any run, percent of one core.
    pub fn echo_cpu_max(&self) -> Option<f64> {
        self.runs
            .values()
            .flatten()
            .filter_map(|(_, r)| r.cpu.echo)
            .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
    }

    /// Issue #6's targets against this run.
    pub fn goals(&self) -> Vec<Goal> {
        let mut goals = Vec::new();
        let w = "wsvia-proxy";
        let bulk = ratio_of(
            self.metric("bulk", "MiB/s", w),
            self.metric("bulk", "MiB/s", "direct"),
        );
        // `a` ÷ `b` in each round, as " (rounds: lo to hi)".
        let rounds = |scenario: &str, title: &str, pair: (&str, &str)| {
            rounds_range(
                &self.per_round(scenario, title, pair, |a, b| ratio_of(Some(a), Some(b))),
                |v| format!("{v:.2}"),
            )
        };
        goals.push(Goal {
            goal: "bulk through `wsvia proxy` ≥ 0.97 × direct".into(),
            measured: bulk
                .map(|r| format!("{r:.2} × direct{}", rounds("bulk", "MiB/s", (w, "direct"))))
                .unwrap_or_else(|| "not run".into()),
            met: bulk.map(|r| r >= 0.97),
        });
        let echo = ratio_of(
            self.metric("echo", "msg/s", w),
            self.metric("echo", "msg/s", "squid"),
        );
        goals.push(Goal {
            goal: "echo 64 B × 1,000 connections through `wsvia proxy` ≥ 2 × squid msg/s".into(),
            measured: echo
                .map(|r| format!("{r:.2} × squid{}", rounds("echo", "msg/s", (w, "squid"))))
                .unwrap_or_else(|| "not run".into()),
            met: echo.map(|r| r >= 2.0),
        });
        let added = diff(
            self.metric("echo-rate", "p99 µs", w),
            self.metric("echo-rate", "p99 µs", "direct"),
        );
        let added_sat = diff(
            self.metric("echo", "p99 µs", w),
            self.metric("echo", "p99 µs", "direct"),
        );
        goals.push(Goal {
            goal: format!(
                "p99 added latency through `wsvia proxy` ≤ 50 µs (fixed load {} msg/s)",
                num(self.echo_rate)
            ),
            measured: match added {
                Some(a) => format!(
                    "{:+.0} µs{} (at saturation: {})",
                    a,
                    rounds_range(
                        &self.per_round("echo-rate", "p99 µs", (w, "direct"), |a, b| Some(a - b)),
                        |v| format!("{v:+.0}"),
                    ),
                    added_sat
                        .map(|s| format!("{s:+.0} µs"))
                        .unwrap_or_else(|| "–".into())
                ),
                None => "not run".into(),
            },
            met: added.map(|a| a <= 50.0),
        });
        let idle = self.metric("idle", "KiB/conn idle", w);
        goals.push(Goal {
            goal: format!(
                "idle tunnels ≤ 8 KiB RSS each in `wsvia proxy` (goal at 50,000; run with {})",
                num(self.idle_connections as f64)
            ),
            measured: idle
                .map(|k| format!("{k:.2} KiB/conn"))
                .unwrap_or_else(|| "not run".into()),
            met: idle.map(|k| k <= 8.0),
        });
        let g = "wsvia-gateway-frames";
        let gw = ratio_of(
            self.metric("echo", "msg/s", g),
            self.metric("echo", "msg/s", "nginx"),
        );
        goals.push(Goal {
            goal: "`wsvia gateway` frames ≥ nginx msg/s (echo)".into(),
            measured: gw
                .map(|r| format!("{r:.2} × nginx{}", rounds("echo", "msg/s", (g, "nginx"))))
                .unwrap_or_else(|| "not run".into()),
            met: gw.map(|r| r >= 1.0),
        });
        let (gm, nm) = (
            self.metric("idle", "KiB/conn idle", g),
            self.metric("idle", "KiB/conn idle", "nginx"),
        );
        goals.push(Goal {
            goal: "… at ≤ nginx memory per connection (idle)".into(),
            measured: match (gm, nm) {
                (Some(a), Some(b)) => format!("{a:.1} vs nginx {b:.1} KiB/conn"),
                _ => "not run".into(),
            },
            met: gm.zip(nm).map(|(a, b)| a <= b),
        });
        goals
    }

    /// The charts: file name and bars.
    pub fn charts(&self) -> Vec<(String, Bars)> {
        let cats: Vec<String> = self.targets.clone();
        let series = |scenario: &str, title: &str| -> Vec<Option<f64>> {
            cats.iter()
                .map(|t| self.metric(scenario, title, t))
                .collect()
        };
        let mut out = Vec::new();
        let mut one = |file: &str, title: String, unit: &str, scenario: &str, metric: &str| {
            if self.scenarios.iter().any(|s| s == scenario) {
                out.push((
                    file.to_owned(),
                    Bars {
                        title,
                        unit: unit.into(),
                        categories: cats.clone(),
                        series: vec![(metric.into(), series(scenario, metric))],
                    },
                ));
            }
        };
        one(
            "bulk.svg",
            "bulk: echoed MiB/s (higher is better)".into(),
            "MiB/s",
            "bulk",
            "MiB/s",
        );
        one(
            "echo.svg",
            "echo 64 B ping-pong: msg/s (higher is better)".into(),
            "msg/s",
            "echo",
            "msg/s",
        );
        one(
            "setup.svg",
            "setup: WebSocket handshakes/s (higher is better)".into(),
            "handshakes/s",
            "setup",
            "setups/s",
        );
        one(
            "idle.svg",
            format!(
                "idle: proxy RSS per connection, {} connections (lower is better)",
                num(self.idle_connections as f64)
            ),
            "KiB/conn",
            "idle",
            "KiB/conn idle",
        );
        if self.scenarios.iter().any(|s| s == "echo-rate") {
            out.push((
                "latency.svg".into(),
                Bars {
                    title: format!(
                        "echo at {} msg/s: round trip µs (lower is better)",
                        num(self.echo_rate)
                    ),
                    unit: "µs".into(),
                    categories: cats.clone(),
                    series: vec![
                        ("p50".into(), series("echo-rate", "p50 µs")),
                        ("p99".into(), series("echo-rate", "p99 µs")),
                        ("p99.9".into(), series("echo-rate", "p99.9 µs")),
                    ],
                },
            ));
        }
        out
    }

    /// The generated markdown section (between the markers).
    pub fn markdown(
        &self,
        m: &Machine,
        s: &Settings,
        command: &str,
        charts: &Path,
        out: &Path,
    ) -> String {
        let link = |file: &str| relative_link(out, &charts.join(file));
        let mut t = String::new();
        let _ = writeln!(t, "{BEGIN}\n");
        let _ = writeln!(t, "## Latest run\n");
        let _ = writeln!(
            t,
            "`{command}` (release build), started {}{}.\n",
            m.started,
            m.commit
                .as_deref()
                .map(|c| format!(", work tree at commit `{c}`"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            t,
            "**Machine:** `nproc` = {}; `lscpu` model: {}; kernel {}; {:.1} GiB RAM. Load average (1 min) {:.2} at the start, {} at the end. Busiest processes at the start (`ps -eo pcpu,comm`): {}.\n",
            m.cpus,
            m.model,
            m.kernel,
            m.mem_gib,
            m.load_before,
            m.load_after
                .map(|l| format!("{l:.2}"))
                .unwrap_or_else(|| "–".into()),
            m.busy
                .iter()
                .map(|b| format!("`{b}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            t,
            "**Peers:** {}.\n",
            m.versions
                .iter()
                .map(|(n, v)| if v.is_empty() {
                    format!("{n} (missing)")
                } else {
                    v.clone()
                })
                .collect::<Vec<_>>()
                .join("; ")
        );
        let _ = writeln!(
            t,
            "**Settings:** {} round(s), targets interleaved in each; every run {} s warm-up + {} s measured. \
             bulk: {} connections × {} messages, {} in flight each. echo: {} connections × {} ping-pong. \
             echo-rate: the same connections at {} msg/s in total. setup: {} workers opening and closing. \
             idle: {} WebSockets held (once, before the other scenarios, on fresh processes). \
             Load tool source addresses 127.0.0.2–21. Figures are medians over the rounds; \
             `spread` is (max − min) / median of the first figure; ratios are this target ÷ direct \
             and ÷ the best of squid, tinyproxy, nginx, HAProxy for that figure.\n",
            s.rounds,
            s.timing.warmup,
            s.timing.duration,
            s.bulk.0,
            format_size(s.bulk.1),
            s.bulk.2,
            num(s.echo.0 as f64),
            format_size(s.echo.1),
            num(s.echo_rate),
            s.setup_workers,
            num(s.idle_connections as f64),
        );
        if let Some(asked) = s.idle_asked {
            let _ = writeln!(
                t,
                "**Open-file limit:** {} descriptors per process (hard limit; raising it needs CAP_SYS_RESOURCE, which this machine does not grant). A proxy needs 2 per tunnel, so idle runs held {} WebSockets instead of the {} asked for.\n",
                num(s.nofile as f64),
                num(s.idle_connections as f64),
                num(asked as f64)
            );
        }
        let _ = writeln!(t, "### Targets of issue #6\n");
        let mut g = Table::new(["goal", "measured", "met"]);
        for goal in self.goals() {
            g.row([
                goal.goal,
                goal.measured,
                match goal.met {
                    Some(true) => "yes".into(),
                    Some(false) => "**no**".into(),
                    None => "–".to_owned(),
                },
            ]);
        }
        let _ = writeln!(t, "{}\n", g.to_markdown());
        for (scenario, table) in self.tables() {
            let (title, chart) = match scenario.as_str() {
                "idle" => (
                    "idle: RSS growth of the proxy's processes per WebSocket held",
                    Some("idle.svg"),
                ),
                "bulk" => ("bulk: large binary messages echoed", Some("bulk.svg")),
                "echo" => (
                    "echo: 64 B ping-pong as fast as echoes return",
                    Some("echo.svg"),
                ),
                "echo-rate" => (
                    "echo-rate: the same connections at a fixed load (latency)",
                    Some("latency.svg"),
                ),
                "setup" => (
                    "setup: full handshakes (TCP, CONNECT, upgrade) then close",
                    Some("setup.svg"),
                ),
                _ => ("", None),
            };
            let _ = writeln!(t, "### {title}\n\n{}\n", table.to_markdown());
            if let Some(c) = chart {
                let _ = writeln!(t, "![{scenario}]({})\n", link(c));
            }
        }
        let _ = writeln!(
            t,
            "### CPU during the measured windows (percent of one core; {} cores in all)\n",
            m.cpus
        );
        let _ = writeln!(
            t,
            "The echo server's highest share in any run was {}; it is the bottleneck only where it nears {}%.\n",
            self.echo_cpu_max()
                .map(|v| format!("{v:.0}%"))
                .unwrap_or_else(|| "–".into()),
            m.cpus * 100
        );
        let _ = writeln!(t, "{}\n", self.cpu_table().to_markdown());
        let _ = writeln!(t, "{END}");
        t
    }
}

/// Replace the generated section of `path` (or create the file with it).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read or written.
pub fn write_markdown(path: &Path, section: &str) -> Result<(), Error> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if e > b => {
            format!(
                "{}{}{}",
                &old[..b],
                section.trim_end(),
                &old[e + END.len()..]
            )
        }
        _ if old.is_empty() => format!(
            "# Benchmarks\n\nRun `bench/run` (or `cargo run --release -p wsvia-cli -- bench suite`); `bench/run --quick` for a 1-minute smoke run.\n\n{section}"
        ),
        _ => format!("{}\n\n{section}", old.trim_end()),
    };
    std::fs::write(path, new).map_err(|e| Error::io(format!("write {}", path.display()), e))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn spread(v: &[f64]) -> String {
    let Some(m) = median(v.to_vec()) else {
        return "–".into();
    };
    if v.len() < 2 || m == 0.0 {
        return "–".into();
    }
    let (lo, hi) = min_max(v);
    format!("{:.0}%", (hi - lo) / m.abs() * 100.0)
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)))
}

/// `" (rounds: lo to hi)"` for two or more per-round figures, else nothing.
fn rounds_range(v: &[f64], show: fn(f64) -> String) -> String {
    if v.len() < 2 {
        return String::new();
    }
    let (lo, hi) = min_max(v);
    format!(" (rounds: {} to {})", show(lo), show(hi))
}

fn ratio_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    let (a, b) = (a?, b?);
    (b != 0.0).then(|| a / b)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    ratio_of(a, b)
        .map(|r| format!("{r:.2}"))
        .unwrap_or_else(|| "–".into())
}

fn diff(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

/// `to` as a link from the directory of `from` (both relative to the current directory,
/// or absolute).
fn relative_link(from: &Path, to: &Path) -> String {
    let abs = |p: &Path| -> PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                c => out.push(c),
            }
        }
        out
    };
    let from_dir = abs(from)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let to = abs(to);
    let common = from_dir
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in from_dir.components().skip(common) {
        rel.push("..");
    }
    for c in to.components().skip(common) {
        rel.push(c);
    }
    rel.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{IdleFigures, Percentiles};

    fn run(scenario: &str, target: &str, msgs: u64, p99: f64) -> RoundRun {
        RoundRun {
            round: 1,
            report: RunReport {
                scenario: scenario.into(),
                target: target.into(),
                connections: 1,
                seconds: 1.0,
                messages: msgs,
                bytes: msgs << 20,
                latency_us: Some(Percentiles {
                    p50: p99 / 2.0,
                    p90: p99,
                    p99,
                    p999: p99,
                    max: p99,
                    mean: p99,
                }),
                ..Default::default()
            },
        }
    }

    fn settings() -> Settings {
        Settings::from_args(&super::super::quick_args())
    }

    #[test]
    fn medians_ratios_and_goals() {
        let mut runs = vec![
            run("echo", "direct", 100, 100.0),
            run("echo", "direct", 300, 100.0),
            run("echo", "direct", 200, 100.0),
            run("echo", "wsvia-proxy", 90, 120.0),
            run("echo", "squid", 40, 300.0),
            run("echo", "nginx", 60, 200.0),
            run("echo", "wsvia-gateway-frames", 70, 150.0),
            run("bulk", "direct", 100, 1.0),
            run("bulk", "wsvia-proxy", 98, 1.0),
            run("echo-rate", "direct", 10, 100.0),
            run("echo-rate", "wsvia-proxy", 10, 180.0),
        ];
        let mut idle = run("idle", "wsvia-proxy", 0, 0.0);
        idle.report.idle = Some(IdleFigures {
            opened: 1000,
            alive: 1000,
            rss_before_kib: Some(1000),
            rss_idle_kib: Some(6000),
            ..Default::default()
        });
        runs.push(idle);
        runs[3].report.cpu.proxy = Some(45.0);
        runs[3].report.cpu.echo = Some(30.0);
        let targets = [
            "direct",
            "wsvia-proxy",
            "squid",
            "wsvia-gateway-frames",
            "nginx",
        ];
        let s = Summary::new(&runs, &targets, &settings());
        assert_eq!(
            s.metric("echo", "msg/s", "direct"),
            Some(200.0),
            "median of 3"
        );
        let echo = s.tables().into_iter().find(|(n, _)| n == "echo").unwrap().1;
        assert_eq!(echo.cell(1, "target"), Some("wsvia-proxy"));
        assert_eq!(echo.cell(1, "× direct"), Some("0.45"));
        // Best peer for msg/s is nginx (60); for p99 (lower is better) also nginx (200).
        assert_eq!(echo.cell(1, "× best peer"), Some("1.50"));
        assert_eq!(echo.cell(0, "spread"), Some("100%"));
        let goals = s.goals();
        assert_eq!(goals[0].met, Some(true), "bulk 0.98 ≥ 0.97");
        assert_eq!(goals[1].met, Some(true), "90 ≥ 2 × 40");
        assert_eq!(goals[2].met, Some(false), "+80 µs > 50 µs");
        assert_eq!(goals[3].met, Some(true), "5 KiB ≤ 8 KiB");
        assert_eq!(goals[4].met, Some(true), "70 ≥ 60");
        assert_eq!(goals[5].met, None, "nginx idle not run");
        let text = s.markdown(
            &Machine::probe(),
            &settings(),
            "wsvia bench suite",
            Path::new("bench/charts"),
            Path::new("BENCHMARKS.md"),
        );
        assert!(text.starts_with(BEGIN) && text.trim_end().ends_with(END));
        assert!(text.contains("](bench/charts/echo.svg)"));
        assert!(s.charts().iter().any(|(f, _)| f == "latency.svg"));
        // 45% of a core for 90 msg/s: 5,000 µs of proxy CPU per message.
        let cpu = s.cpu_table();
        let row = cpu
            .rows
            .iter()
            .position(|r| r[0] == "echo" && r[1] == "wsvia-proxy")
            .unwrap();
        assert_eq!(cpu.cell(row, "proxy CPU per unit"), Some("5,000 µs/msg"));
        assert_eq!(s.echo_cpu_max(), Some(30.0));
    }

    #[test]
    fn targets_show_the_range_of_round_by_round_figures() {
        let at = |round, scenario: &str, target: &str, msgs, p99| {
            let mut r = run(scenario, target, msgs, p99);
            r.round = round;
            r
        };
        let runs = vec![
            at(1, "echo", "wsvia-gateway-frames", 70, 1.0),
            at(1, "echo", "nginx", 100, 1.0),
            at(2, "echo", "wsvia-gateway-frames", 90, 1.0),
            at(2, "echo", "nginx", 60, 1.0),
            at(3, "echo", "wsvia-gateway-frames", 50, 1.0),
            at(3, "echo", "nginx", 100, 1.0),
            at(1, "echo-rate", "direct", 10, 100.0),
            at(1, "echo-rate", "wsvia-proxy", 10, 180.0),
            at(2, "echo-rate", "direct", 10, 300.0),
            at(2, "echo-rate", "wsvia-proxy", 10, 320.0),
            // A round that only one side ran pairs with nothing.
            at(3, "echo-rate", "wsvia-proxy", 10, 900.0),
        ];
        let targets = ["direct", "wsvia-proxy", "wsvia-gateway-frames", "nginx"];
        let goals = Summary::new(&runs, &targets, &settings()).goals();
        // Medians 70 / 100; round by round 0.70, 1.50 and 0.50.
        assert_eq!(goals[4].measured, "0.70 × nginx (rounds: 0.50 to 1.50)");
        // Medians 320 − 200; round by round +80 and +20 (round 3 has no direct run).
        assert_eq!(
            goals[2].measured,
            "+120 µs (rounds: +20 to +80) (at saturation: –)"
        );
        assert_eq!(goals[0].measured, "not run");
        // One round gives no range.
        let one = Summary::new(&runs[..2], &targets, &settings()).goals();
        assert_eq!(one[4].measured, "0.70 × nginx");
    }

    #[test]
    fn the_generated_section_replaces_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("B.md");
        write_markdown(&path, &format!("{BEGIN}\none\n{END}\n")).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(first.starts_with("# Benchmarks") && first.contains("one"));
        std::fs::write(
            &path,
            first.replace("# Benchmarks", "# Benchmarks\n\nkept by hand") + "\nafter\n",
        )
        .unwrap();
        write_markdown(&path, &format!("{BEGIN}\ntwo\n{END}\n")).unwrap();
        let second = std::fs::read_to_string(&path).unwrap();
        assert!(second.contains("kept by hand") && second.contains("after"));
        assert!(second.contains("two") && !second.contains("one"));
    }

    #[test]
    fn links_are_relative_to_the_markdown_file() {
        assert_eq!(
            relative_link(Path::new("BENCHMARKS.md"), Path::new("bench/charts/a.svg")),
            "bench/charts/a.svg"
        );
        assert_eq!(
            relative_link(Path::new("docs/B.md"), Path::new("bench/charts/a.svg")),
            "../bench/charts/a.svg"
        );
        assert_eq!(median(vec![3.0, 1.0]), Some(2.0));
        assert_eq!(spread(&[1.0]), "–");
    }
}
