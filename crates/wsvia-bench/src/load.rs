//! The load scenarios: `bulk` and `echo` (one engine: a window of messages in flight per
//! connection, optionally at a fixed rate), `setup` (handshakes per second) and `idle`
//! (memory per held connection). Soak lives in [`crate::soak`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::Error;
use crate::args::{BulkArgs, EchoArgs, IdleArgs, SetupArgs, Timing};
use crate::dial::{Dialer, Ws};
use crate::procfs;
use crate::progress;
use crate::stats::{CpuShares, IdleFigures, Latency, RunReport};

/// After the measured window, how long connections may take to get their last echoes.
const DRAIN: Duration = Duration::from_secs(5);
/// How long a close handshake may take before the connection is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Processes whose CPU time is sampled over the measured window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Watch {
    /// The echo server's pid.
    pub echo: Option<u32>,
    /// The proxy's pid (its process tree is summed).
    pub proxy: Option<u32>,
}

/// One run of the message engine (bulk, echo, echo at a fixed rate).
#[derive(Debug, Clone)]
pub struct FlowPlan {
    /// `bulk`, `echo`, `echo-rate`.
    pub scenario: String,
    /// The target's name.
    pub label: String,
    /// Connections.
    pub connections: usize,
    /// Message size.
    pub size: usize,
    /// Messages in flight per connection.
    pub window: usize,
    /// Total messages/s offered, spread over the connections; `None`: as fast as echoes return.
    pub rate: Option<f64>,
    /// Warm-up and measured seconds.
    pub timing: Timing,
    /// Connections opened at once while connecting.
    pub connect_concurrency: usize,
}

/// `wsvia bench bulk`.
///
/// # Errors
/// When no connection opens or the flags are inconsistent.
pub async fn bulk(a: &BulkArgs) -> Result<RunReport, Error> {
    let dialer = Arc::new(Dialer::from_args(&a.target, a.read_buffer)?);
    let plan = FlowPlan {
        scenario: "bulk".into(),
        label: a.target.label.clone().unwrap_or_else(|| dialer.label()),
        connections: a.connections,
        size: a.size,
        window: a.pipeline,
        rate: None,
        timing: a.timing.clone(),
        connect_concurrency: a.target.connect_concurrency,
    };
    flow(dialer, &plan, Watch::default()).await
}

/// `wsvia bench echo`.
///
/// # Errors
/// When no connection opens or the flags are inconsistent.
pub async fn echo(a: &EchoArgs) -> Result<RunReport, Error> {
    let dialer = Arc::new(Dialer::from_args(&a.target, a.read_buffer)?);
    let plan = FlowPlan {
        scenario: if a.rate.is_some() {
            "echo-rate"
        } else {
            "echo"
        }
        .into(),
        label: a.target.label.clone().unwrap_or_else(|| dialer.label()),
        connections: a.connections,
        size: a.size,
        window: a.pipeline,
        rate: a.rate,
        timing: a.timing.clone(),
        connect_concurrency: a.target.connect_concurrency,
    };
    flow(dialer, &plan, Watch::default()).await
}

/// `wsvia bench setup`.
///
/// # Errors
/// When the flags are inconsistent.
pub async fn setup(a: &SetupArgs) -> Result<RunReport, Error> {
    let dialer = Arc::new(Dialer::from_args(&a.target, 4096)?);
    let label = a.target.label.clone().unwrap_or_else(|| dialer.label());
    handshakes(dialer, &label, a.concurrency, &a.timing, Watch::default()).await
}

/// `wsvia bench idle`.
///
/// # Errors
/// When the flags are inconsistent or no connection opens.
pub async fn idle(a: &IdleArgs) -> Result<RunReport, Error> {
    let dialer = Arc::new(Dialer::from_args(&a.target, 4096)?);
    let label = a.target.label.clone().unwrap_or_else(|| dialer.label());
    if a.pid.is_empty() {
        eprintln!("wsvia bench: no --pid given: only connection counts are reported, no RSS");
    }
    hold(
        dialer,
        &label,
        a.connections,
        &a.pid,
        Duration::from_secs_f64(a.hold),
        a.target.connect_concurrency,
    )
    .await
}

/// Run the message engine: open the connections, warm up, measure, drain, close.
///
/// # Errors
/// [`Error::Config`] for a zero count or window; the first connect error when every
/// connection failed to open.
pub async fn flow(dialer: Arc<Dialer>, plan: &FlowPlan, watch: Watch) -> Result<RunReport, Error> {
    if plan.connections == 0 || plan.window == 0 || plan.size == 0 {
        return Err(Error::Config(
            "connections, size and pipeline must be at least 1".into(),
        ));
    }
    if plan.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(Error::Config("--rate must be a positive number".into()));
    }
    let opened = open_all(&dialer, plan.connections, plan.connect_concurrency).await;
    if opened.sockets.is_empty() {
        return Err(opened
            .first_error
            .unwrap_or_else(|| Error::Config("no connection".into())));
    }
    let start = Instant::now();
    let warm_end = start + secs(plan.timing.warmup);
    let end = warm_end + secs(plan.timing.duration);
    let shared = Arc::new(Shared {
        payload: Bytes::from(vec![0x5a; plan.size]),
        size: plan.size,
        window: plan.window,
        interval: plan.rate.map(|r| secs(plan.connections as f64 / r)),
        connections: plan.connections,
        start,
        warm_end,
        end,
    });
    let live = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for (idx, ws) in opened.sockets.into_iter().enumerate() {
        let (shared, live) = (shared.clone(), live.clone());
        tasks.spawn(drive(ws, idx, shared, live));
    }
    let bar = progress::timed(plan.timing.warmup + plan.timing.duration, &plan_title(plan));
    let cpu = sample_window(&bar, start, warm_end, end, watch, &live).await;
    let mut total = ConnOutcome::default();
    let deadline = end + DRAIN + CLOSE_WAIT + Duration::from_secs(1);
    while let Ok(Some(done)) = tokio::time::timeout_at(deadline.into(), tasks.join_next()).await {
        match done {
            Ok(o) => total.merge(o),
            Err(e) => total.fail(format!("a connection task failed: {e}")),
        }
    }
    let stuck = tasks.len();
    if stuck > 0 {
        total.fail(format!("{stuck} connections did not finish"));
        total.errors += stuck as u64 - 1;
        tasks.abort_all();
    }
    bar.finish_and_clear();
    let mut first_error = opened.first_error.map(|e| e.to_string());
    if first_error.is_none() {
        first_error = total.first_error;
    }
    Ok(RunReport {
        scenario: plan.scenario.clone(),
        target: plan.label.clone(),
        connections: plan.connections,
        connect_failures: opened.failures,
        size: plan.size,
        pipeline: plan.window,
        rate: plan.rate,
        seconds: plan.timing.duration,
        messages: total.messages,
        bytes: total.bytes,
        latency_us: total.latency.percentiles(),
        errors: total.errors + opened.failures as u64,
        first_error,
        cpu,
        idle: None,
    })
}

/// Run `workers` loops that each open a WebSocket, then close it, until the end.
///
/// # Errors
/// [`Error::Config`] for zero workers.
pub async fn handshakes(
    dialer: Arc<Dialer>,
    label: &str,
    workers: usize,
    timing: &Timing,
    watch: Watch,
) -> Result<RunReport, Error> {
    if workers == 0 {
        return Err(Error::Config("--concurrency must be at least 1".into()));
    }
    let start = Instant::now();
    let warm_end = start + secs(timing.warmup);
    let end = warm_end + secs(timing.duration);
    let live = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for w in 0..workers {
        let (dialer, live) = (dialer.clone(), live.clone());
        tasks.spawn(async move {
            let mut o = ConnOutcome::default();
            let mut n = w;
            while Instant::now() < end {
                let t0 = Instant::now();
                match tokio::time::timeout_at(end.into(), dialer.open(n)).await {
                    Err(_) => break,
                    Ok(Ok(mut ws)) => {
                        let t1 = Instant::now();
                        live.fetch_add(1, Ordering::Relaxed);
                        if t1 >= warm_end && t1 < end {
                            o.messages += 1;
                            o.latency.record(t1 - t0);
                        }
                        let _ = tokio::time::timeout(CLOSE_WAIT, close(&mut ws)).await;
                    }
                    Ok(Err(e)) => {
                        o.fail(e.to_string());
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                n += workers;
            }
            o
        });
    }
    let bar = progress::timed(timing.warmup + timing.duration, &format!("setup {label}"));
    let cpu = sample_window(&bar, start, warm_end, end, watch, &live).await;
    let mut total = ConnOutcome::default();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(o) => total.merge(o),
            Err(e) => total.fail(format!("a worker failed: {e}")),
        }
    }
    bar.finish_and_clear();
    Ok(RunReport {
        scenario: "setup".into(),
        target: label.to_owned(),
        connections: workers,
        seconds: timing.duration,
        messages: total.messages,
        latency_us: total.latency.percentiles(),
        errors: total.errors,
        first_error: total.first_error,
        cpu,
        ..Default::default()
    })
}

/// Open `n` WebSockets, hold them, read the RSS of `pids` before, while idle, and after
/// one message through each; then close them.
///
/// # Errors
/// The first connect error when no connection opened.
pub async fn hold(
    dialer: Arc<Dialer>,
    label: &str,
    n: usize,
    pids: &[u32],
    settle: Duration,
    concurrency: usize,
) -> Result<RunReport, Error> {
    let rss = || -> Option<u64> {
        if pids.is_empty() {
            return None;
        }
        pids.iter().map(|p| procfs::rss_kib(*p)).sum()
    };
    let before = rss();
    let t0 = Instant::now();
    let opened = open_all(&dialer, n, concurrency).await;
    let open_seconds = t0.elapsed().as_secs_f64();
    if opened.sockets.is_empty() && n > 0 {
        return Err(opened
            .first_error
            .unwrap_or_else(|| Error::Config("no connection".into())));
    }
    tokio::time::sleep(settle).await;
    let idle_rss = rss();
    let count = opened.sockets.len();
    let (sockets, alive, verify_error) = verify(opened.sockets, concurrency).await;
    tokio::time::sleep(settle / 2).await;
    let after = rss();
    close_all(sockets, concurrency).await;
    let mut first_error = opened.first_error.map(|e| e.to_string());
    if first_error.is_none() {
        first_error = verify_error;
    }
    Ok(RunReport {
        scenario: "idle".into(),
        target: label.to_owned(),
        connections: n,
        connect_failures: opened.failures,
        seconds: settle.as_secs_f64(),
        errors: (opened.failures + (count - alive)) as u64,
        first_error,
        idle: Some(IdleFigures {
            opened: count,
            alive,
            rss_before_kib: before,
            rss_idle_kib: idle_rss,
            rss_after_traffic_kib: after,
            open_seconds,
        }),
        ..Default::default()
    })
}

/// Connections opened for a run.
struct Opened {
    sockets: Vec<Ws>,
    failures: usize,
    first_error: Option<Error>,
}

async fn open_all(dialer: &Arc<Dialer>, n: usize, concurrency: usize) -> Opened {
    let bar = progress::counter(n as u64, "connecting");
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut out = Opened {
        sockets: Vec::with_capacity(n),
        failures: 0,
        first_error: None,
    };
    let take = |r: Result<Result<Ws, Error>, tokio::task::JoinError>, out: &mut Opened| {
        bar.inc(1);
        match r {
            Ok(Ok(ws)) => out.sockets.push(ws),
            Ok(Err(e)) => {
                out.failures += 1;
                out.first_error.get_or_insert(e);
            }
            Err(e) => {
                out.failures += 1;
                out.first_error
                    .get_or_insert_with(|| Error::Peer(format!("a connect task failed: {e}")));
            }
        }
    };
    for i in 0..n {
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break; // the semaphore is never closed
        };
        let dialer = dialer.clone();
        tasks.spawn(async move {
            let r = dialer.open(i).await;
            drop(permit);
            r
        });
        while let Some(r) = tasks.try_join_next() {
            take(r, &mut out);
        }
    }
    while let Some(r) = tasks.join_next().await {
        take(r, &mut out);
    }
    bar.finish_and_clear();
    out
}

/// Send one small message on each connection and wait for its echo.
async fn verify(sockets: Vec<Ws>, concurrency: usize) -> (Vec<Ws>, usize, Option<String>) {
    let bar = progress::counter(sockets.len() as u64, "checking");
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for mut ws in sockets {
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break; // the semaphore is never closed
        };
        tasks.spawn(async move {
            let check = async {
                ws.send(Message::binary(&b"wsvia bench idle"[..]))
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                loop {
                    match ws.next().await {
                        Some(Ok(Message::Binary(b))) if &b[..] == b"wsvia bench idle" => {
                            return Ok(());
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(other)) => return Err(format!("unexpected answer {other:?}")),
                        Some(Err(e)) => return Err(e.to_string()),
                        None => return Err("the connection had closed".to_owned()),
                    }
                }
            };
            let r = match tokio::time::timeout(Duration::from_secs(10), check).await {
                Ok(r) => r,
                Err(_) => Err("no echo within 10 s".to_owned()),
            };
            drop(permit);
            (ws, r)
        });
    }
    let (mut kept, mut alive, mut first) = (Vec::new(), 0, None);
    while let Some(done) = tasks.join_next().await {
        bar.inc(1);
        match done {
            Ok((ws, Ok(()))) => {
                alive += 1;
                kept.push(ws);
            }
            Ok((ws, Err(e))) => {
                first.get_or_insert(e);
                kept.push(ws);
            }
            Err(e) => {
                first.get_or_insert(format!("a check task failed: {e}"));
            }
        }
    }
    bar.finish_and_clear();
    (kept, alive, first)
}

async fn close_all(sockets: Vec<Ws>, concurrency: usize) {
    let gate = Arc::new(Semaphore::new(concurrency.max(1) * 4));
    let mut tasks = JoinSet::new();
    for mut ws in sockets {
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break; // the semaphore is never closed
        };
        tasks.spawn(async move {
            let _ = tokio::time::timeout(CLOSE_WAIT, close(&mut ws)).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Send a Close and read until the server's Close (or the end of the stream).
pub(crate) async fn close(ws: &mut Ws) {
    if ws.close(None).await.is_err() {
        return;
    }
    while let Some(Ok(m)) = ws.next().await {
        if m.is_close() {
            break;
        }
    }
}

/// What every connection of a flow shares.
struct Shared {
    payload: Bytes,
    size: usize,
    window: usize,
    interval: Option<Duration>,
    connections: usize,
    start: Instant,
    warm_end: Instant,
    end: Instant,
}

/// What one connection counted.
#[derive(Default)]
struct ConnOutcome {
    messages: u64,
    bytes: u64,
    latency: Latency,
    errors: u64,
    first_error: Option<String>,
}

impl ConnOutcome {
    fn fail(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }

    fn merge(&mut self, o: ConnOutcome) {
        self.messages += o.messages;
        self.bytes += o.bytes;
        self.latency.merge(&o.latency);
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

async fn drive(mut ws: Ws, idx: usize, p: Arc<Shared>, live: Arc<AtomicU64>) -> ConnOutcome {
    let mut o = ConnOutcome::default();
    if let Err(e) = pump(&mut ws, idx, &p, &live, &mut o).await {
        o.fail(e);
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, close(&mut ws)).await;
    o
}

/// Keep `window` messages in flight (or send at the connection's share of the rate)
/// until the end; then wait for the outstanding echoes.
async fn pump(
    ws: &mut Ws,
    idx: usize,
    p: &Shared,
    live: &AtomicU64,
    o: &mut ConnOutcome,
) -> Result<(), String> {
    let mut inflight: VecDeque<Instant> = VecDeque::with_capacity(p.window);
    // Fixed-rate connections start evenly staggered over one interval.
    let mut next_send = match p.interval {
        Some(iv) => p.start + iv.mul_f64(idx as f64 / p.connections as f64),
        None => p.start,
    };
    let end = tokio::time::sleep_until(p.end.into());
    let tick = tokio::time::sleep_until(next_send.into());
    let drain = tokio::time::sleep_until((p.end + DRAIN).into());
    tokio::pin!(end, tick, drain);
    let mut sending = true;
    loop {
        if sending {
            let mut fed = false;
            while inflight.len() < p.window {
                if let Some(iv) = p.interval {
                    if Instant::now() < next_send {
                        break;
                    }
                    next_send += iv;
                }
                ws.feed(Message::Binary(p.payload.clone()))
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                inflight.push_back(Instant::now());
                fed = true;
            }
            if fed {
                ws.flush().await.map_err(|e| format!("send: {e}"))?;
            }
            if p.interval.is_some() {
                tick.as_mut().reset(next_send.into());
            }
        } else if inflight.is_empty() {
            return Ok(());
        }
        let wait_tick = sending && p.interval.is_some() && inflight.len() < p.window;
        tokio::select! {
            biased;
            m = ws.next() => match m {
                Some(Ok(Message::Binary(b))) => {
                    let now = Instant::now();
                    let Some(sent) = inflight.pop_front() else {
                        return Err("an echo of a message never sent".into());
                    };
                    if b.len() != p.size {
                        return Err(format!("an echo of {} bytes for {} sent", b.len(), p.size));
                    }
                    live.fetch_add(1, Ordering::Relaxed);
                    if now >= p.warm_end && now < p.end {
                        o.messages += 1;
                        o.bytes += b.len() as u64;
                        o.latency.record(now - sent);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("the server closed the connection: {frame:?}"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("receive: {e}")),
                None => return Err("the connection ended".into()),
            },
            _ = &mut end, if sending => sending = false,
            _ = &mut tick, if wait_tick => {}
            _ = &mut drain, if !sending => {
                return Err(format!("{} echoes still missing {DRAIN:?} after the end", inflight.len()));
            }
        }
    }
}

/// Drive the progress bar through the run and sample CPU over the measured window.
async fn sample_window(
    bar: &indicatif::ProgressBar,
    start: Instant,
    warm_end: Instant,
    end: Instant,
    watch: Watch,
    live: &AtomicU64,
) -> CpuShares {
    let me = std::process::id();
    let sample = || {
        (
            watch.echo.and_then(procfs::cpu_seconds),
            watch.proxy.and_then(procfs::cpu_seconds),
            procfs::own_cpu_seconds(me),
        )
    };
    let mut first = None;
    let mut last_count = 0;
    let mut last_at = start;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    loop {
        ticker.tick().await;
        let now = Instant::now();
        if first.is_none() && now >= warm_end {
            first = Some((now, sample()));
        }
        let count = live.load(Ordering::Relaxed);
        let dt = (now - last_at).as_secs_f64();
        if dt >= 0.5 {
            let phase = if now < warm_end {
                "warm-up"
            } else {
                "measuring"
            };
            bar.set_message(format!(
                "{phase}: {}/s",
                crate::stats::num((count - last_count) as f64 / dt)
            ));
            last_count = count;
            last_at = now;
        }
        bar.set_position(((now - start).as_secs_f64() * 10.0) as u64);
        if now >= end {
            break;
        }
    }
    let (t1, s1) = (Instant::now(), sample());
    let Some((t0, s0)) = first else {
        return CpuShares::default();
    };
    let wall = (t1 - t0).as_secs_f64().max(1e-3);
    let pct = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / wall * 100.0);
    CpuShares {
        echo: pct(s0.0, s1.0),
        proxy: pct(s0.1, s1.1),
        load: pct(s0.2, s1.2),
    }
}

fn plan_title(p: &FlowPlan) -> String {
    format!("{} {}", p.scenario, p.label)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}
