//! Which WebSocket crate should wsvia build on: tokio-tungstenite or fastwebsockets?
//!
//! Run with `cargo bench -p wsvia --bench ws_crate_choice` (about 2 minutes).
//! `WS_CRATE_CHOICE_SCALE=0.1` shortens every run to a tenth, for a smoke test.
//! Progress goes to stderr; the final markdown table (median of the rounds) to stdout.
//! The results and the decision live in `docs/ws-crate-choice.md`.
//!
//! Each crate runs as both echo server and client, so its whole stack is measured, in
//! one process on a 2-worker multi-thread tokio runtime, over 127.0.0.1 with
//! `TCP_NODELAY`. Both sides of both crates cap frames and messages at
//! [`wsvia::DEFAULT_MAX_MESSAGE_SIZE`] and otherwise keep their defaults (clients mask,
//! servers require masking, default buffer sizes). Scenarios:
//!
//! - ping-pong: 50 connections, 64-byte binary messages, one in flight per connection;
//!   msg/s and p50/p99 round-trip time.
//! - bulk: 1 connection, 1 MiB binary messages, one in flight; MiB/s echoed back.
//! - pipelined: 1 connection, 16-byte messages, a sliding window of 256 in flight; msg/s.
//!
//! Each scenario also reports the process's CPU time (user + system, clients and server
//! together) per message or per MiB: unlike the wall-clock figures, it barely moves when
//! other programs share the cores.
//!
//! A third contender is tokio-tungstenite with `read_buffer_size` 8 KiB instead of its
//! default 128 KiB: tungstenite zero-fills up to that many bytes before every read call,
//! which small messages pay for; the column shows what tuning, not switching, buys.
//!
//! The contenders take turns (A, B, C, A, B, C, ...) in each of 3 rounds so drift hits
//! all alike. The machine should be otherwise idle: the table's header prints the load
//! average before and after.
//!
//! How each crate writes, as its API intends:
//! - tokio-tungstenite: `feed` every message that is ready, then one `flush`. The server
//!   is the loop of `wsvia-echo` (echo all that already arrived, then flush once); with
//!   one message in flight this is one flush per message.
//! - fastwebsockets: `write_frame` writes each frame straight to the socket (a vectored
//!   write above 1 KiB, its default); it has no write buffer to batch into. Its
//!   `read_frame` is not cancel-safe, so it cannot peek for more ready frames either.
//!   Both ends use `FragmentCollector`, as wsvia would need whole messages. The
//!   handshake uses its `upgrade` feature (hyper), so data flows through hyper's
//!   `Upgraded`.
//!
//! Clients send back the payload they just received (after the first message), so
//! neither crate pays for building a payload: fastwebsockets masks it in place and
//! tokio-tungstenite copies it into its write buffer while masking.

use std::error::Error;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

type BoxError = Box<dyn Error + Send + Sync>;

const ROUNDS: usize = 3;
const WORKERS: usize = 2;
/// Frame and message size cap on every endpoint.
const MAX_SIZE: usize = wsvia::DEFAULT_MAX_MESSAGE_SIZE;

/// One workload: how many connections, what they send, and what the table reports.
struct Scenario {
    name: &'static str,
    conns: usize,
    size: usize,
    window: usize,
    secs: f64,
    metrics: &'static [Metric],
}

const SCENARIOS: [Scenario; 3] = [
    Scenario {
        name: "ping-pong 50×64 B",
        conns: 50,
        size: 64,
        window: 1,
        secs: 5.0,
        metrics: &[
            Metric::MsgsPerSec,
            Metric::P50,
            Metric::P99,
            Metric::CpuPerMsg,
        ],
    },
    Scenario {
        name: "bulk 1×1 MiB",
        conns: 1,
        size: 1 << 20,
        window: 1,
        secs: 3.0,
        metrics: &[Metric::MibPerSec, Metric::CpuPerMib],
    },
    Scenario {
        name: "pipelined 1×16 B, window 256",
        conns: 1,
        size: 16,
        window: 256,
        secs: 3.0,
        metrics: &[Metric::MsgsPerSec, Metric::CpuPerMsg],
    },
];

/// The contenders in turn order; the table's columns. The third is tokio-tungstenite
/// with a smaller `read_buffer_size`: before every read call it zero-fills up to that
/// many bytes (128 KiB by default), a cost small messages pay on each read.
const VARIANTS: [&str; 3] = [TtDefault::NAME, FastWs::NAME, TtSmallReads::NAME];
/// fastwebsockets' initial read buffer; the labels "8 KiB" follow this value.
const SMALL_READS: usize = 8 << 10;
type TtDefault = Tungstenite<0>;
type TtSmallReads = Tungstenite<SMALL_READS>;

fn main() -> Result<(), BoxError> {
    let scale = std::env::var("WS_CRATE_CHOICE_SCALE").map_or(Ok(1.0), |s| s.parse())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()?;
    let load_before = load_average();
    let table = runtime.block_on(run_rounds(scale))?;
    print_table(&table, &load_before, &load_average());
    Ok(())
}

/// Runs every scenario for each variant, `ROUNDS` times, variants taking turns.
async fn run_rounds(scale: f64) -> Result<Table, BoxError> {
    let mut table = Table::new();
    for round in 1..=ROUNDS {
        for (scenario, s) in SCENARIOS.iter().enumerate() {
            let secs = s.secs * scale;
            take_turn::<TtDefault>(&mut table, round, scenario, secs).await?;
            take_turn::<FastWs>(&mut table, round, scenario, secs).await?;
            take_turn::<TtSmallReads>(&mut table, round, scenario, secs).await?;
        }
    }
    Ok(table)
}

/// Runs one scenario for one variant, reports it on stderr and records it.
async fn take_turn<W: WsCrate>(
    table: &mut Table,
    round: usize,
    scenario: usize,
    secs: f64,
) -> Result<(), BoxError> {
    let s = &SCENARIOS[scenario];
    let mut result = run::<W>(s, secs).await?;
    eprintln!(
        "round {round}/{ROUNDS} {:<28} {:<30} {}",
        s.name,
        W::NAME,
        result.summary(s)
    );
    table.record(scenario, W::NAME, &mut result);
    Ok(())
}

/// One crate, one scenario: start its echo server, connect, drive until the deadline.
async fn run<W: WsCrate>(scenario: &Scenario, secs: f64) -> Result<RunResult, BoxError> {
    let duration = Duration::from_secs_f64(secs);
    let limit = duration + Duration::from_secs(30);
    match tokio::time::timeout(limit, run_unbounded::<W>(scenario, duration)).await {
        Ok(result) => result,
        Err(_) => Err(format!("{} {} hung", W::NAME, scenario.name).into()),
    }
}

async fn run_unbounded<W: WsCrate>(
    s: &Scenario,
    duration: Duration,
) -> Result<RunResult, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(accept_n(listener, s.conns, W::echo));
    let mut clients = Vec::with_capacity(s.conns);
    for _ in 0..s.conns {
        clients.push(W::connect(addr).await?);
    }
    let start = Instant::now();
    let cpu_start = cpu_time();
    let mut tasks = JoinSet::new();
    for client in clients {
        tasks.spawn(drive(client, s.size, s.window, start + duration));
    }
    let mut result = RunResult::default();
    while let Some(conn) = tasks.join_next().await {
        result.add(conn??, start);
    }
    server.await??;
    result.cpu = cpu_time().zip(cpu_start).map(|(end, start)| end - start);
    Ok(result)
}

/// Accepts `conns` connections, echoes on each, and returns when all have closed.
async fn accept_n<F, Fut>(listener: TcpListener, conns: usize, echo: F) -> Result<(), BoxError>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let mut set = JoinSet::new();
    for _ in 0..conns {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        set.spawn(echo(tcp));
    }
    while let Some(conn) = set.join_next().await {
        conn??;
    }
    Ok(())
}

/// One client connection: keeps `window` messages in flight until `deadline`, then
/// collects the stragglers (not counted) and closes.
async fn drive<C: Client>(
    mut client: C,
    size: usize,
    window: usize,
    deadline: Instant,
) -> Result<ConnStats, BoxError> {
    let payload = vec![0xa5; size];
    let mut batch: Vec<C::Msg> = (0..window).map(|_| C::msg(&payload)).collect();
    let mut stats = ConnStats::new();
    let mut in_flight = 0;
    while Instant::now() < deadline {
        let sent_at = Instant::now();
        in_flight += batch.len();
        client.send_all(&mut batch).await?;
        client.recv_some(in_flight, &mut batch).await?;
        in_flight -= batch.len();
        stats.count::<C>(&batch, size)?;
        if window == 1 {
            stats.rtts.push(sent_at.elapsed());
        }
    }
    stats.finished = Instant::now();
    while in_flight > 0 {
        batch.clear();
        client.recv_some(in_flight, &mut batch).await?;
        in_flight -= batch.len();
    }
    client.close().await?;
    Ok(stats)
}

/// A WebSocket crate in the role of echo server and of client.
trait WsCrate: Send + 'static {
    const NAME: &'static str;
    type Client: Client;

    /// Completes the server handshake on `tcp`, then echoes data messages until Close.
    fn echo(tcp: TcpStream) -> impl Future<Output = Result<(), BoxError>> + Send + 'static;

    /// Connects to `ws://addr/` over a fresh TCP connection.
    fn connect(addr: SocketAddr) -> impl Future<Output = Result<Self::Client, BoxError>> + Send;
}

/// The client side of a connection, as [`drive`] uses it.
trait Client: Send + Sized + 'static {
    /// A binary payload, as the crate hands it out and takes it back.
    type Msg: Send;

    fn msg(payload: &[u8]) -> Self::Msg;

    fn len(msg: &Self::Msg) -> usize;

    /// Sends every message in `msgs` (leaving it empty), batching as the crate allows.
    fn send_all(
        &mut self,
        msgs: &mut Vec<Self::Msg>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Waits for one message, then takes those already readable, `max` in all.
    fn recv_some(
        &mut self,
        max: usize,
        msgs: &mut Vec<Self::Msg>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Sends Close and waits for the peer's Close.
    fn close(self) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// tokio-tungstenite 0.30, the crate wsvia uses today, with `read_buffer_size` set to
/// `READ_BUF` (0: its default).
struct Tungstenite<const READ_BUF: usize>;

mod tungstenite_side {
    use bytes::Bytes;
    use futures_util::{FutureExt, SinkExt, StreamExt};
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    use tokio_tungstenite::tungstenite::{Error as WsError, Message};

    use super::*;

    type Ws = WebSocketStream<TcpStream>;

    fn config(read_buf: usize) -> WebSocketConfig {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_SIZE))
            .max_frame_size(Some(MAX_SIZE));
        match read_buf {
            0 => config,
            bytes => config.read_buffer_size(bytes),
        }
    }

    impl<const READ_BUF: usize> WsCrate for Tungstenite<READ_BUF> {
        const NAME: &'static str = match READ_BUF {
            0 => "tokio-tungstenite",
            SMALL_READS => "tokio-tungstenite, 8 KiB reads",
            _ => "tokio-tungstenite, other reads",
        };
        type Client = Ws;

        async fn echo(tcp: TcpStream) -> Result<(), BoxError> {
            let mut ws =
                tokio_tungstenite::accept_async_with_config(tcp, Some(config(READ_BUF))).await?;
            // The loop of wsvia-echo: echo all that has arrived, then flush once.
            while let Some(message) = ws.next().await {
                let mut pending = feed_data(&mut ws, message).await?;
                while let Some(Some(message)) = ws.next().now_or_never() {
                    pending |= feed_data(&mut ws, message).await?;
                }
                if pending {
                    ws.flush().await?;
                }
            }
            Ok(())
        }

        async fn connect(addr: SocketAddr) -> Result<Ws, BoxError> {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let url = format!("ws://{addr}/");
            let (ws, _) =
                tokio_tungstenite::client_async_with_config(url, tcp, Some(config(READ_BUF)))
                    .await?;
            Ok(ws)
        }
    }

    /// Queues a data message for echo; reports whether it did.
    async fn feed_data(ws: &mut Ws, message: Result<Message, WsError>) -> Result<bool, WsError> {
        match message? {
            message @ (Message::Text(_) | Message::Binary(_)) => {
                ws.feed(message).await?;
                Ok(true)
            }
            // Ping and Close are answered by tungstenite itself.
            _ => Ok(false),
        }
    }

    impl Client for Ws {
        type Msg = Bytes;

        fn msg(payload: &[u8]) -> Bytes {
            Bytes::copy_from_slice(payload)
        }

        fn len(msg: &Bytes) -> usize {
            msg.len()
        }

        async fn send_all(&mut self, msgs: &mut Vec<Bytes>) -> Result<(), BoxError> {
            for payload in msgs.drain(..) {
                self.feed(Message::Binary(payload)).await?;
            }
            self.flush().await?;
            Ok(())
        }

        async fn recv_some(&mut self, max: usize, msgs: &mut Vec<Bytes>) -> Result<(), BoxError> {
            let first = self.next().await.ok_or("server closed")?;
            msgs.push(binary(first)?);
            for _ in 1..max {
                match self.next().now_or_never() {
                    Some(Some(message)) => msgs.push(binary(message)?),
                    _ => break,
                }
            }
            Ok(())
        }

        async fn close(mut self) -> Result<(), BoxError> {
            WebSocketStream::close(&mut self, None).await?;
            while let Some(message) = self.next().await {
                message?;
            }
            Ok(())
        }
    }

    fn binary(message: Result<Message, WsError>) -> Result<Bytes, BoxError> {
        match message? {
            Message::Binary(payload) => Ok(payload),
            other => Err(format!("expected a binary echo, got {other:?}").into()),
        }
    }
}

/// fastwebsockets 0.10 with its `upgrade` feature.
struct FastWs;

mod fastwebsockets_side {
    use bytes::{Bytes, BytesMut};
    use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, WebSocket, WebSocketError};
    use http_body_util::Empty;
    use hyper::body::Incoming;
    use hyper::header::{CONNECTION, HOST, UPGRADE};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::upgrade::Upgraded;
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;
    use tokio::sync::mpsc;

    use super::*;

    type Ws = FragmentCollector<TokioIo<Upgraded>>;

    impl WsCrate for FastWs {
        const NAME: &'static str = "fastwebsockets";
        type Client = Ws;

        async fn echo(tcp: TcpStream) -> Result<(), BoxError> {
            let mut ws = accept(tcp).await?;
            loop {
                let frame = ws.read_frame().await?;
                match frame.opcode {
                    // The reply Close was sent by read_frame (auto_close).
                    OpCode::Close => return Ok(()),
                    OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
                    _ => {}
                }
            }
        }

        async fn connect(addr: SocketAddr) -> Result<Ws, BoxError> {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let request = Request::get(format!("http://{addr}/"))
                .header(HOST, addr.to_string())
                .header(UPGRADE, "websocket")
                .header(CONNECTION, "upgrade")
                .header(
                    "Sec-WebSocket-Key",
                    fastwebsockets::handshake::generate_key(),
                )
                .header("Sec-WebSocket-Version", "13")
                .body(Empty::<Bytes>::new())?;
            let (ws, _) = fastwebsockets::handshake::client(&SpawnExecutor, request, tcp).await?;
            Ok(collector(ws))
        }
    }

    /// Serves the HTTP/1.1 upgrade with hyper and returns the WebSocket behind it.
    async fn accept(tcp: TcpStream) -> Result<Ws, BoxError> {
        let (upgrades, mut upgraded) = mpsc::unbounded_channel();
        let service = service_fn(move |mut request: Request<Incoming>| {
            let upgrades = upgrades.clone();
            async move {
                let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut request)?;
                // The receiver outlives the connection future: a send cannot fail.
                let _ = upgrades.send(upgrade);
                Ok::<Response<Empty<Bytes>>, WebSocketError>(response)
            }
        });
        // Resolves once the 101 is written and the connection handed to the upgrade.
        http1::Builder::new()
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades()
            .await?;
        let upgrade = upgraded
            .recv()
            .await
            .ok_or("connection closed before upgrading")?;
        Ok(collector(upgrade.await?))
    }

    fn collector(mut ws: WebSocket<TokioIo<Upgraded>>) -> Ws {
        ws.set_max_message_size(MAX_SIZE);
        FragmentCollector::new(ws)
    }

    /// Runs the client's hyper connection task on tokio.
    struct SpawnExecutor;

    impl<Fut> hyper::rt::Executor<Fut> for SpawnExecutor
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        fn execute(&self, fut: Fut) {
            tokio::spawn(fut);
        }
    }

    impl Client for Ws {
        type Msg = BytesMut;

        fn msg(payload: &[u8]) -> BytesMut {
            BytesMut::from(payload)
        }

        fn len(msg: &BytesMut) -> usize {
            msg.len()
        }

        async fn send_all(&mut self, msgs: &mut Vec<BytesMut>) -> Result<(), BoxError> {
            for payload in msgs.drain(..) {
                self.write_frame(Frame::binary(Payload::Bytes(payload)))
                    .await?;
            }
            Ok(())
        }

        /// Takes one frame: `read_frame` is not cancel-safe, so it cannot peek for more.
        async fn recv_some(
            &mut self,
            _max: usize,
            msgs: &mut Vec<BytesMut>,
        ) -> Result<(), BoxError> {
            let frame = self.read_frame().await?;
            if frame.opcode != OpCode::Binary {
                return Err(format!("expected a binary echo, got {:?}", frame.opcode).into());
            }
            msgs.push(match frame.payload {
                Payload::Bytes(payload) => payload,
                other => BytesMut::from(&other[..]),
            });
            Ok(())
        }

        async fn close(mut self) -> Result<(), BoxError> {
            self.write_frame(Frame::close(1000, &[])).await?;
            while self.read_frame().await?.opcode != OpCode::Close {}
            Ok(())
        }
    }
}

/// What one client connection did before its deadline.
struct ConnStats {
    msgs: u64,
    bytes: u64,
    rtts: Vec<Duration>,
    finished: Instant,
}

impl ConnStats {
    fn new() -> Self {
        ConnStats {
            msgs: 0,
            bytes: 0,
            rtts: Vec::new(),
            finished: Instant::now(),
        }
    }

    /// Counts echoes, checking that each came back whole.
    fn count<C: Client>(&mut self, echoed: &[C::Msg], size: usize) -> Result<(), BoxError> {
        if let Some(bad) = echoed.iter().find(|m| C::len(m) != size) {
            return Err(format!("echo of {} bytes, sent {size}", C::len(bad)).into());
        }
        self.msgs += echoed.len() as u64;
        self.bytes += (echoed.len() * size) as u64;
        Ok(())
    }
}

/// All connections of one run, added up.
#[derive(Default)]
struct RunResult {
    msgs: u64,
    bytes: u64,
    elapsed: Duration,
    /// Sorted once the run is complete (see [`RunResult::get`]).
    rtts: Vec<Duration>,
    /// CPU time of the whole process (clients and server), when the OS tells.
    cpu: Option<Duration>,
}

impl RunResult {
    fn add(&mut self, conn: ConnStats, start: Instant) {
        self.msgs += conn.msgs;
        self.bytes += conn.bytes;
        self.elapsed = self.elapsed.max(conn.finished - start);
        self.rtts.extend(conn.rtts);
    }

    fn get(&mut self, metric: Metric) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        match metric {
            Metric::MsgsPerSec => self.msgs as f64 / secs,
            Metric::MibPerSec => self.bytes as f64 / secs / f64::from(1 << 20),
            Metric::P50 => self.percentile_us(0.50),
            Metric::P99 => self.percentile_us(0.99),
            Metric::CpuPerMsg => self.cpu_us() / self.msgs as f64,
            Metric::CpuPerMib => self.cpu_us() / (self.bytes as f64 / f64::from(1 << 20)),
        }
    }

    fn cpu_us(&self) -> f64 {
        self.cpu.map_or(f64::NAN, |cpu| cpu.as_secs_f64() * 1e6)
    }

    fn percentile_us(&mut self, q: f64) -> f64 {
        if self.rtts.is_empty() {
            return f64::NAN;
        }
        self.rtts.sort_unstable();
        let rank = ((self.rtts.len() - 1) as f64 * q).round() as usize;
        self.rtts[rank].as_secs_f64() * 1e6
    }

    fn summary(&mut self, scenario: &Scenario) -> String {
        let parts: Vec<String> = scenario
            .metrics
            .iter()
            .map(|&m| format!("{} {}", fmt_num(self.get(m)), m.unit()))
            .collect();
        parts.join(", ")
    }
}

/// A number the table reports.
#[derive(Clone, Copy)]
enum Metric {
    MsgsPerSec,
    MibPerSec,
    P50,
    P99,
    /// Process CPU time (user + system) per echoed message: robust to other load.
    CpuPerMsg,
    CpuPerMib,
}

impl Metric {
    fn unit(self) -> &'static str {
        match self {
            Metric::MsgsPerSec => "msg/s",
            Metric::MibPerSec => "MiB/s",
            Metric::P50 => "µs p50 RTT",
            Metric::P99 => "µs p99 RTT",
            Metric::CpuPerMsg => "CPU µs/msg",
            Metric::CpuPerMib => "CPU µs/MiB",
        }
    }
}

/// Samples per (scenario, metric), one list per crate.
struct Table {
    rows: Vec<Row>,
}

struct Row {
    scenario: usize,
    metric: Metric,
    /// One list per variant.
    samples: [Vec<f64>; VARIANTS.len()],
}

impl Table {
    fn new() -> Self {
        let rows = SCENARIOS.iter().enumerate().flat_map(|(scenario, s)| {
            s.metrics.iter().map(move |&metric| Row {
                scenario,
                metric,
                samples: Default::default(),
            })
        });
        Table {
            rows: rows.collect(),
        }
    }

    fn record(&mut self, scenario: usize, variant: &str, result: &mut RunResult) {
        // VARIANTS is built from the variants' names.
        let variant = VARIANTS
            .iter()
            .position(|&v| v == variant)
            .expect("a listed variant");
        for row in self.rows.iter_mut().filter(|r| r.scenario == scenario) {
            row.samples[variant].push(result.get(row.metric));
        }
    }
}

fn print_table(table: &Table, load_before: &str, load_after: &str) {
    let [tt, fws, small] = VARIANTS;
    println!(
        "\nMedian of {ROUNDS} rounds; spread = (max - min) / median, per variant. \
         Latency and CPU: lower is better; the rest: higher is better. \
         Load average before: {load_before}; after: {load_after}.\n"
    );
    println!("| scenario | metric | {tt} | {fws} | {small} | fws / tt | 8 KiB / tt | spread |");
    println!("|---|---|--:|--:|--:|--:|--:|--:|");
    for row in &table.rows {
        let medians = row.samples.each_ref().map(|s| median(s));
        let spreads = row
            .samples
            .each_ref()
            .map(|s| format!("{:.0}%", spread(s) * 100.0));
        println!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.2} | {} |",
            SCENARIOS[row.scenario].name,
            row.metric.unit(),
            fmt_num(medians[0]),
            fmt_num(medians[1]),
            fmt_num(medians[2]),
            medians[1] / medians[0],
            medians[2] / medians[0],
            spreads.join(" / "),
        );
    }
}

/// CPU time this process has used, user plus system, from `/proc/self/stat` (Linux).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After the parenthesised command name, utime and stime are the 12th and 13th fields.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // In clock ticks of USER_HZ, which is 100 on Linux.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// The 1, 5 and 15 minute load averages, to tell a quiet machine from a busy one.
fn load_average() -> String {
    match std::fs::read_to_string("/proc/loadavg") {
        Ok(line) => line
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        Err(_) => "unknown".to_owned(),
    }
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn spread(samples: &[f64]) -> f64 {
    let max = samples.iter().copied().fold(f64::MIN, f64::max);
    let min = samples.iter().copied().fold(f64::MAX, f64::min);
    (max - min) / median(samples)
}

/// `1234567.8` as `1,234,568`; values under 100 keep one decimal, under 10 two.
fn fmt_num(x: f64) -> String {
    if x < 10.0 {
        return format!("{x:.2}");
    }
    if x < 100.0 {
        return format!("{x:.1}");
    }
    let digits = format!("{x:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
