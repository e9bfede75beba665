//! `wsvia connect`: stdin to messages, messages to stdout, through whatever proxy applies;
//! with `--reconnect`, again and again.
//!
//! Reconnecting: a connection that drops (an I/O error, no Close; or pings unanswered
//! for two intervals), or a Close with 1001 going away, 1012 service restart, 1013 try
//! again later or 1014 bad gateway, is opened again after a backoff (0.5 s doubling to
//! 30 s, ±20 % jitter; reset once a connection has lasted 10 s). A Close with any other
//! code, or the end of input, ends the session as without `--reconnect`. Opening fails
//! are retried only when they may pass: before the first success, a 502/503/504 (or a
//! SOCKS failure) from the proxy, after its `Retry-After` when it sends one; after a
//! success, also an unreachable or silent proxy or server (it may be restarting).
//! Lines typed while disconnected are not dropped: they wait in the input queue (16
//! messages, then stdin is not read further) and go out once connected again; a line
//! whose send failed is sent again first.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use wsvia::tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wsvia::tokio_tungstenite::tungstenite::{self, Message};
use wsvia::{Client, DeflateOptions, ErrorKind, Event, Observer, WebSocket};
use wsvia_core::Credentials;
use wsvia_core::backoff::Backoff;

use crate::cli::ConnectArgs;
use crate::exit_code;

/// Prints `-v` steps and `--trace` heads to stderr.
struct StderrObserver {
    verbose: bool,
    trace: bool,
}

impl Observer for StderrObserver {
    fn on_event(&self, event: &Event<'_>) {
        let wanted = match event {
            Event::Sent { .. } | Event::Received { .. } => self.trace,
            _ => self.verbose,
        };
        if wanted {
            eprintln!("{event}");
        }
    }
}

/// Messages read from stdin and not yet sent.
struct Input {
    queue: mpsc::Receiver<Message>,
    /// Whether stdin can still yield messages.
    open: bool,
    /// A message whose send failed when the connection dropped: sent first next time.
    pending: Option<Message>,
}

/// How a session ended.
enum End {
    /// The session is over: exit with this code.
    Done(u8),
    /// The connection was lost (or the server asked us to come back): why.
    Lost(String),
}

/// The backoff is reset once a connection lasted this long.
const STABLE: Duration = Duration::from_secs(10);

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Run `wsvia connect`; returns the process exit code.
pub async fn run(args: ConnectArgs) -> ExitCode {
    let client = match build_client(&args) {
        Ok(client) => client,
        Err(e) => return fail(&e),
    };
    let (tx, queue) = mpsc::channel::<Message>(16);
    let mut input = Input {
        queue,
        open: !args.echo,
        pending: None,
    };
    if input.open {
        let binary = args.binary;
        std::thread::spawn(move || read_stdin(tx, binary));
    }
    let backoff = Backoff::default();
    let mut failures = 0u32;
    let mut connected_once = false;
    loop {
        let connection = tokio::select! {
            result = client.connect(&args.url) => result,
            _ = tokio::signal::ctrl_c() => return ExitCode::from(exit_code::INTERRUPTED),
        };
        let connection = match connection {
            Ok(c) => c,
            Err(e) => {
                let retry = args.reconnect
                    && e.is_transient()
                    && (connected_once || e.kind() == ErrorKind::ProxyRefused);
                if !retry {
                    return fail(&e);
                }
                let (delay, asked) = match e.retry_after() {
                    Some(asked) => (asked.min(MAX_RETRY_AFTER), " (as Retry-After asks)"),
                    None => (backoff.delay(failures, random_unit()), ""),
                };
                failures = failures.saturating_add(1);
                eprintln!(
                    "wsvia: {e}\nwsvia: trying again in {:.1} s{asked}",
                    delay.as_secs_f64()
                );
                if !pause(delay).await {
                    return ExitCode::from(exit_code::INTERRUPTED);
                }
                continue;
            }
        };
        if args.verbose {
            eprintln!("* WebSocket open ({})", connection.response.status());
        }
        if connected_once {
            eprintln!("wsvia: reconnected via {}", connection.via);
        }
        connected_once = true;
        let opened = tokio::time::Instant::now();
        let why = match session(connection.websocket, &args, &mut input).await {
            End::Done(code) => return ExitCode::from(code),
            End::Lost(why) => why,
        };
        let input_ended = !args.echo && !input.open && input.pending.is_none();
        if !args.reconnect || input_ended {
            eprintln!("wsvia: connection lost: {why}");
            return ExitCode::from(exit_code::FAILURE);
        }
        if opened.elapsed() >= STABLE {
            failures = 0;
        }
        let delay = backoff.delay(failures, random_unit());
        failures = failures.saturating_add(1);
        eprintln!(
            "wsvia: connection lost: {why}; reconnecting in {:.1} s",
            delay.as_secs_f64()
        );
        if !pause(delay).await {
            return ExitCode::from(exit_code::INTERRUPTED);
        }
    }
}

/// Sleep for `delay`; `false` when Ctrl-C cut it short.
async fn pause(delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = tokio::signal::ctrl_c() => false,
    }
}

/// A random number in `[0, 1)` for the backoff's jitter: std's randomly keyed SipHash of
/// the time, so no random-number crate is needed for this.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn fail(e: &wsvia::Error) -> ExitCode {
    eprintln!("wsvia: {e}");
    ExitCode::from(exit_code::for_error(e.kind()))
}

fn build_client(args: &ConnectArgs) -> Result<Client, wsvia::Error> {
    let mut b = Client::builder().max_message_size(args.max_message_size);
    if args.compress {
        let mut offer = DeflateOptions::default().no_context_takeover(args.no_context_takeover);
        if let Some(bits) = args.max_window_bits {
            offer = offer
                .client_max_window_bits(bits)
                .server_max_window_bits(bits);
        }
        b = b.compression(Some(offer));
    } else if args.no_context_takeover || args.max_window_bits.is_some() {
        eprintln!(
            "wsvia: warning: --no-context-takeover and --max-window-bits do nothing without --compress"
        );
    }
    if let Some(proxy) = &args.proxy {
        b = b.proxy(proxy.clone());
    }
    if let Some(path) = &args.proxy_pac {
        let source = std::fs::read_to_string(path)
            .map_err(|e| wsvia::Error::Pac(format!("cannot read {}: {e}", path.display())))?;
        let script = wsvia_pac::PacScript::new(source)
            .map_err(|e| wsvia::Error::Pac(format!("{}: {e}", path.display())))?;
        b = b.proxy_pac(script);
    }
    if let Some(secs) = args.failed_proxy_skip {
        b = b.failed_proxy_skip(seconds(secs, "--failed-proxy-skip")?);
    }
    if let Some(user) = &args.proxy_user {
        let c = Credentials::parse_user_pass(user);
        b = b.proxy_credentials(c.username, c.password);
    }
    b = b.proxy_anyauth(args.proxy_anyauth);
    if let Some(list) = &args.noproxy {
        b = b.no_proxy(list.clone());
    }
    for h in &args.proxy_header {
        b = b.proxy_header(h.clone());
    }
    for h in &args.header {
        b = b.header(h.clone());
    }
    for p in &args.protocol {
        b = b.protocol(p.clone());
    }
    for f in &args.cacert {
        b = b.ca_file(f.clone());
    }
    for f in &args.proxy_cacert {
        b = b.proxy_ca_file(f.clone());
    }
    b = b
        .insecure(args.insecure)
        .proxy_insecure(args.proxy_insecure);
    if let Some(secs) = args.connect_timeout {
        b = b.connect_timeout(seconds(secs, "--connect-timeout")?);
    }
    if args.verbose || args.trace {
        b = b.observer(Arc::new(StderrObserver {
            verbose: args.verbose,
            trace: args.trace,
        }));
    }
    b.build()
}

fn seconds(secs: f64, flag: &str) -> Result<Duration, wsvia::Error> {
    Duration::try_from_secs_f64(secs).map_err(|_| wsvia::Error::InvalidHeader {
        header: format!("{flag} {secs}"),
        reason: "expected a positive number of seconds".into(),
    })
}

/// Exchange messages until the close handshake ends or the connection is lost.
async fn session(mut ws: WebSocket, args: &ConnectArgs, input: &mut Input) -> End {
    if let Some(message) = input.pending.take()
        && let Err(e) = ws.send(message.clone()).await
    {
        input.pending = Some(message);
        return End::Lost(e.to_string());
    }
    let ping_every = args
        .ping_interval
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero());
    let mut pings = ping_every.map(tokio::time::interval);
    let mut heard = tokio::time::Instant::now();
    let mut stdout = tokio::io::stdout();
    let mut close_sent = false;
    let mut close_received = false;
    // Set when the server's Close asks us to come back (1001, 1012, 1013, 1014).
    let mut come_back: Option<String> = None;
    loop {
        tokio::select! {
            received = ws.next() => {
                let message = match received {
                    None | Some(Err(tungstenite::Error::ConnectionClosed)) => {
                        return match come_back {
                            Some(why) if args.reconnect => End::Lost(why),
                            _ => End::Done(exit_code::OK),
                        };
                    }
                    // After the server's Close the session is over; a TLS peer that then
                    // drops TCP without close_notify (common) has lost no data.
                    Some(Err(_)) if close_received => {
                        return match come_back {
                            Some(why) if args.reconnect => End::Lost(why),
                            _ => End::Done(exit_code::OK),
                        };
                    }
                    Some(Err(e)) => return End::Lost(e.to_string()),
                    Some(Ok(m)) => m,
                };
                heard = tokio::time::Instant::now();
                match message {
                    Message::Text(_) | Message::Binary(_) if args.echo => {
                        if let Err(e) = ws.send(message).await {
                            return End::Lost(e.to_string());
                        }
                    }
                    Message::Text(text) => {
                        if write_out(&mut stdout, &[text.as_bytes(), b"\n"]).await.is_err() {
                            return End::Done(exit_code::OK); // stdout closed: quietly done
                        }
                    }
                    Message::Binary(bytes) => {
                        if write_out(&mut stdout, &[&bytes]).await.is_err() {
                            return End::Done(exit_code::OK);
                        }
                    }
                    Message::Close(frame) => {
                        report_close(frame.as_ref(), args.verbose);
                        come_back = frame.as_ref().and_then(asks_to_come_back);
                        // The WebSocket answers the Close; reading on completes the handshake.
                        close_sent = true;
                        close_received = true;
                    }
                    Message::Pong(_) if args.verbose => eprintln!("* pong received"),
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                }
            }
            line = input.queue.recv(), if input.open && !close_sent => match line {
                Some(message) => {
                    if let Err(e) = ws.send(message.clone()).await {
                        input.pending = Some(message);
                        return End::Lost(e.to_string());
                    }
                }
                None => {
                    input.open = false;
                    close_sent = true;
                    if let Err(e) = ws.close(None).await {
                        return End::Lost(e.to_string());
                    }
                }
            },
            _ = tick(&mut pings) => {
                if let Some(every) = ping_every
                    && heard.elapsed() >= every * 2
                {
                    return End::Lost(format!(
                        "nothing heard for {:.1} s, pings unanswered",
                        heard.elapsed().as_secs_f64()
                    ));
                }
                if let Err(e) = ws.send(Message::Ping(Default::default())).await {
                    return End::Lost(e.to_string());
                }
            }
            _ = tokio::signal::ctrl_c() => return End::Done(exit_code::INTERRUPTED),
        }
    }
}

/// The reason to reconnect when a Close says the server will be back.
fn asks_to_come_back(frame: &tungstenite::protocol::CloseFrame) -> Option<String> {
    let what = match u16::from(frame.code) {
        1001 => "going away",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        _ => return None,
    };
    Some(format!(
        "the server closed with {} ({what})",
        u16::from(frame.code)
    ))
}

async fn tick(pings: &mut Option<tokio::time::Interval>) {
    match pings {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

fn report_close(frame: Option<&tungstenite::protocol::CloseFrame>, verbose: bool) {
    match frame {
        Some(f) if !matches!(f.code, CloseCode::Normal | CloseCode::Away) || verbose => {
            eprintln!(
                "wsvia: server closed the WebSocket: {} {}",
                u16::from(f.code),
                f.reason
            );
        }
        None if verbose => eprintln!("wsvia: server closed the WebSocket"),
        _ => {}
    }
}

async fn write_out(stdout: &mut tokio::io::Stdout, parts: &[&[u8]]) -> std::io::Result<()> {
    for part in parts {
        stdout.write_all(part).await?;
    }
    stdout.flush().await
}

/// Turn stdin into messages: one text message per line, or one binary message per read.
///
/// A plain thread, not a tokio task: a read blocked on a terminal must not keep the
/// runtime (and the process) from exiting when the session ends first.
fn read_stdin(tx: mpsc::Sender<Message>, binary: bool) {
    use std::io::{BufRead, Read};
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    if binary {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0
                || tx
                    .blocking_send(Message::binary(buf[..n].to_vec()))
                    .is_err()
            {
                break;
            }
        }
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match stdin.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = line.strip_suffix('\n').unwrap_or(&line);
                let text = text.strip_suffix('\r').unwrap_or(text);
                if tx.blocking_send(Message::text(text.to_owned())).is_err() {
                    break;
                }
            }
        }
    }
}
