//! The frame-aware relay: WebSocket frames passed on as they are, with the gateway's own
//! pings between them.
//!
//! Each direction reads what is ready, finds the frame boundaries in it ([`scan`]) and
//! writes it on in the same step: no message is decoded, re-encoded, unmasked or
//! re-masked, and an idle relay holds no buffer. Frames are still checked (masking,
//! reserved bits and opcodes, control frame rules, fragmentation, the message size limit);
//! a side that breaks them gets Close 1002 (1009 for size) and the other side 1001; the
//! offender's Close waits for the other side's Close reply, so what that side sent before
//! it (answers to the good frames) still arrives first.
//! Payloads (UTF-8 of text, Close codes) are the endpoints' to check, as are their pings:
//! pings and pongs between the peers pass end to end.
//!
//! Every `ping_interval` the gateway pings both sides, between frames. Anything from a side
//! proves it is alive; a side that sends nothing within `ping_timeout` of a ping (counted
//! from when the ping is written to it, after any frame in progress) is dropped
//! and the other side gets Close 1011. The answers to the gateway's pings go no further.
//! Intermediaries with idle timeouts (nginx, load balancers) see traffic on a quiet
//! connection, and a dead peer is found in seconds. Close is passed on with its code and
//! reason, and what a side sent before its Close reply still arrives.

pub mod scan;

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;
use wsvia_server::record::CloseReason;
use wsvia_server::relay::{Counters, Early, StepFault, poll_forward};

use scan::{KEEPALIVE, Passed, Scanned, Scanner, Violation, Writer};

/// How long a closing relay waits for both sides to finish (their Close replies, their
/// end of the TCP stream) before it drops them. (Short in unit tests, which wait it out.)
const CLOSE_WAIT: Duration = Duration::from_millis(if cfg!(test) { 300 } else { 5_000 });

/// After `CLOSE_WAIT`, how long a Close still held for a protocol breaker (the other side
/// never replied) has to be written before the relay drops both sides.
const LAST_CLOSE_WAIT: Duration = Duration::from_millis(if cfg!(test) { 100 } else { 1_000 });

/// Keepalive, limits and shutdown for one relay.
#[derive(Debug, Clone)]
pub struct FrameOptions {
    /// Ping both sides this often (`None`: never).
    pub ping_interval: Option<Duration>,
    /// Drop a side that sends nothing for this long after a ping.
    pub ping_timeout: Duration,
    /// Largest message accepted from either side (bytes); a larger one closes with 1009.
    pub max_message_size: usize,
    /// Close both sides with 1001 when this fires.
    pub cut: CancellationToken,
    /// Live payload byte counts, read by the status page.
    pub counters: Arc<Counters>,
}

/// Messages and payload bytes relayed each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Messages from the client.
    pub messages_up: u64,
    /// Messages to the client.
    pub messages_down: u64,
    /// Payload bytes from the client.
    pub bytes_up: u64,
    /// Payload bytes to the client.
    pub bytes_down: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Upstream,
}

impl Side {
    fn index(self) -> usize {
        self as usize
    }

    fn other(self) -> Side {
        match self {
            Side::Client => Side::Upstream,
            Side::Upstream => Side::Client,
        }
    }

    /// Who writes the frames read from this side.
    fn writer(self) -> Writer {
        match self {
            Side::Client => Writer::Client,
            Side::Upstream => Writer::Server,
        }
    }

    fn closed(self) -> CloseReason {
        match self {
            Side::Client => CloseReason::ClientClose,
            Side::Upstream => CloseReason::UpstreamClose,
        }
    }

    fn failed(self) -> CloseReason {
        match self {
            Side::Client => CloseReason::ClientError,
            Side::Upstream => CloseReason::UpstreamError,
        }
    }
}

/// A frame of the gateway's own, written to a side between its frames.
#[derive(Debug, Clone, Copy)]
enum Own {
    Ping,
    Close(CloseCode, &'static str),
}

impl Own {
    /// The frame on the wire: masked toward the upstream (the gateway is its client).
    fn encode(self, to: Side) -> Vec<u8> {
        let mut frame = match self {
            Own::Ping => Frame::ping(Bytes::from_static(KEEPALIVE)),
            Own::Close(code, why) => Frame::close(Some(CloseFrame {
                code,
                reason: why.into(),
            })),
        };
        if to == Side::Upstream {
            frame.header_mut().mask = Some(rand::random());
        }
        let mut bytes = Vec::with_capacity(frame.len() + 14);
        frame
            .format(&mut bytes)
            .expect("writing to a Vec cannot fail");
        bytes
    }
}

/// What the two directions and the relay's keeper share; indexed by [`Side::index`].
#[derive(Debug, Default)]
struct Shared {
    /// Frames the gateway wants written to each side.
    outbox: [Mutex<Vec<Own>>; 2],
    /// Each outbox has frames in it.
    has_own: [AtomicBool; 2],
    /// Wakes the direction writing to each side when its outbox fills.
    outbox_waker: [AtomicWaker; 2],
    /// A Close for each side, to go instead of the other side's Close when that comes.
    held_close: [Mutex<Option<Own>>; 2],
    holding: [AtomicBool; 2],
    /// Each side's direction (reading from it) has ended.
    ended: [AtomicBool; 2],
    /// Something was read from each side since the keeper last looked.
    heard: [AtomicBool; 2],
    /// A ping was written to each side since the keeper last looked.
    pinged: [AtomicBool; 2],
    /// Each side sent its Close.
    close_from: [AtomicBool; 2],
    /// A Close was written to each side (nothing follows it).
    close_to: [AtomicBool; 2],
    /// Messages and payload bytes from each side.
    messages: [AtomicU64; 2],
    payload: [AtomicU64; 2],
    /// Why the relay ends: the first reason found wins.
    reason: OnceLock<CloseReason>,
    /// Wakes the keeper when a Close went by.
    changed: Notify,
}

impl Shared {
    /// Queue a frame for `to`. A ping already waiting (the side is inside a long frame)
    /// is not queued twice.
    fn send_own(&self, to: Side, own: Own) {
        {
            let mut outbox = self.outbox[to.index()].lock().expect("outbox lock");
            if matches!(own, Own::Ping) && outbox.iter().any(|o| matches!(o, Own::Ping)) {
                return;
            }
            outbox.push(own);
        }
        self.has_own[to.index()].store(true, Ordering::Release);
        self.outbox_waker[to.index()].wake();
    }

    fn take_own(&self, to: Side) -> Vec<Own> {
        if !self.has_own[to.index()].swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        std::mem::take(&mut *self.outbox[to.index()].lock().expect("outbox lock"))
    }

    fn hold_close_for(&self, to: Side, own: Own) {
        *self.held_close[to.index()].lock().expect("held close lock") = Some(own);
        self.holding[to.index()].store(true, Ordering::Release);
    }

    fn take_held_close(&self, to: Side) -> Option<Own> {
        self.held_close[to.index()]
            .lock()
            .expect("held close lock")
            .take()
    }

    /// Queue the Closes still held (their other side never replied); whether there were any.
    fn release_held_closes(&self) -> bool {
        let mut released = false;
        for side in [Side::Client, Side::Upstream] {
            if let Some(own) = self.take_held_close(side) {
                self.send_own(side, own);
                released = true;
            }
        }
        released
    }

    fn flag(flags: &[AtomicBool; 2], side: Side) -> bool {
        flags[side.index()].load(Ordering::Relaxed)
    }

    fn set(&self, flags: &[AtomicBool; 2], side: Side) {
        flags[side.index()].store(true, Ordering::Relaxed);
        self.changed.notify_one();
    }

    fn end_because(&self, reason: CloseReason) {
        let _ = self.reason.set(reason);
    }

    /// A side is finished with when it has sent its Close and been sent one.
    fn handshake_done(&self, side: Side) -> bool {
        Self::flag(&self.close_from, side) && Self::flag(&self.close_to, side)
    }
}

/// Relay frames between a client and an upstream WebSocket (both past their handshakes)
/// until both sides are done, one fails, or a side stops answering pings.
///
/// # Examples
/// ```no_run
/// # async fn f(client: tokio::net::TcpStream, upstream: tokio::net::TcpStream) {
/// use wsvia_gateway::frames::{FrameOptions, relay_frames};
/// let options = FrameOptions {
///     ping_interval: Some(std::time::Duration::from_secs(30)),
///     ping_timeout: std::time::Duration::from_secs(10),
///     max_message_size: 16 << 20,
///     cut: Default::default(),
///     counters: Default::default(),
/// };
/// let (reason, stats) = relay_frames(client, upstream, &options).await;
/// println!("{reason:?}: {} messages up", stats.messages_up);
/// # }
/// ```
pub async fn relay_frames<C, U>(
    client: C,
    upstream: U,
    options: &FrameOptions,
) -> (CloseReason, FrameStats)
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    U: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = Arc::new(Shared::default());
    let moving = tokio::spawn(both_directions(
        tokio::io::split(client),
        tokio::io::split(upstream),
        shared.clone(),
        options.max_message_size,
        options.counters.clone(),
    ));
    run(moving, shared, options).await
}

/// [`relay_frames`] between two plain TCP sockets: each direction reads and writes its
/// socket's borrowed halves directly, without the lock that [`tokio::io::split`] takes
/// per call. `early` holds what was read from either side before (hyper's read-ahead):
/// it is scanned and passed on first, as if read from the socket.
///
/// # Examples
/// ```no_run
/// # async fn f(client: tokio::net::TcpStream, upstream: tokio::net::TcpStream) {
/// use wsvia_gateway::frames::{FrameOptions, relay_frames_tcp};
/// let options = FrameOptions {
///     ping_interval: None,
///     ping_timeout: std::time::Duration::from_secs(10),
///     max_message_size: 16 << 20,
///     cut: Default::default(),
///     counters: Default::default(),
/// };
/// let early = wsvia_server::relay::Early::default();
/// let (reason, stats) = relay_frames_tcp(client, upstream, early, &options).await;
/// # }
/// ```
pub async fn relay_frames_tcp(
    mut client: TcpStream,
    mut upstream: TcpStream,
    early: Early,
    options: &FrameOptions,
) -> (CloseReason, FrameStats) {
    let shared = Arc::new(Shared::default());
    let (moved_shared, max, counters) = (
        shared.clone(),
        options.max_message_size,
        options.counters.clone(),
    );
    let moving = tokio::spawn(async move {
        let (client_rx, client_tx) = client.split();
        let (upstream_rx, upstream_tx) = upstream.split();
        let client_rx = Cursor::new(early.up).chain(client_rx);
        let upstream_rx = Cursor::new(early.down).chain(upstream_rx);
        let (client, upstream) = ((client_rx, client_tx), (upstream_rx, upstream_tx));
        both_directions(client, upstream, moved_shared, max, counters).await
    });
    run(moving, shared, options).await
}

/// Keep the relay whose directions run in the task `moving` until it ends; then what it
/// counted. (`moving` is spawned by the caller: a future passed in would stay in this
/// one's state, at its full size, for the relay's life.)
async fn run(
    moving: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
    options: &FrameOptions,
) -> (CloseReason, FrameStats) {
    keep(AbortOnDrop(moving), &shared, options).await;
    let count = |flags: &[AtomicU64; 2], side: Side| flags[side.index()].load(Ordering::Relaxed);
    let stats = FrameStats {
        messages_up: count(&shared.messages, Side::Client),
        messages_down: count(&shared.messages, Side::Upstream),
        bytes_up: count(&shared.payload, Side::Client),
        bytes_down: count(&shared.payload, Side::Upstream),
    };
    let reason = shared
        .reason
        .get()
        .copied()
        .unwrap_or(CloseReason::ClientClose);
    (reason, stats)
}

/// The task moving frames; dropping this stops it (and closes both sockets).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Both directions, in a task of their own so that a message wakes only them, not the
/// keeper's timers. A direction that fails ends both; one that ends cleanly (its side
/// closed its stream, passed on as a half-close) waits for the other.
async fn both_directions<CR, CW, UR, UW>(
    (mut client_rx, mut client_tx): (CR, CW),
    (mut upstream_rx, mut upstream_tx): (UR, UW),
    shared: Arc<Shared>,
    max_message_size: usize,
    counters: Arc<Counters>,
) where
    CR: AsyncRead + Unpin,
    CW: AsyncWrite + Unpin,
    UR: AsyncRead + Unpin,
    UW: AsyncWrite + Unpin,
{
    let limits = (max_message_size, &*counters);
    let up = direction(
        Side::Client,
        &mut client_rx,
        &mut upstream_tx,
        &shared,
        limits,
    );
    let down = direction(
        Side::Upstream,
        &mut upstream_rx,
        &mut client_tx,
        &shared,
        limits,
    );
    tokio::pin!(up, down);
    let (first, result) = tokio::select! {
        r = &mut up => (Side::Client, r),
        r = &mut down => (Side::Upstream, r),
    };
    shared.set(&shared.ended, first);
    if result.is_err() {
        return;
    }
    let _ = match first {
        Side::Client => down.await,
        Side::Upstream => up.await,
    };
    shared.set(&shared.ended, first.other());
}

/// Ping, watch for closing, and end the relay: when both sides are done, when a
/// direction fails, or `CLOSE_WAIT` after closing began (`LAST_CLOSE_WAIT` more when a
/// Close held for a protocol breaker has yet to be written).
async fn keep(mut moving: AbortOnDrop, shared: &Shared, options: &FrameOptions) {
    let period = options
        .ping_interval
        .unwrap_or(Duration::from_secs(86_400 * 365));
    let mut pings = tokio::time::interval_at(Instant::now() + period, period);
    let mut awaiting: [Option<Instant>; 2] = [None, None];
    let mut dead = [false; 2];
    let mut closing_since: Option<Instant> = None;
    let mut close_wait = CLOSE_WAIT;
    let mut cut = false;
    let sides = [Side::Client, Side::Upstream];
    loop {
        let ping_deadline = awaiting
            .iter()
            .flatten()
            .min()
            .map(|since| *since + options.ping_timeout);
        let changed = shared.changed.notified();
        tokio::select! {
            _ = &mut moving.0 => return,
            _ = changed => {}
            _ = pings.tick(), if options.ping_interval.is_some() && closing_since.is_none() => {
                for side in sides {
                    shared.send_own(side, Own::Ping);
                }
            }
            _ = sleep_until(ping_deadline) => {
                let now = Instant::now();
                for side in sides {
                    let i = side.index();
                    if awaiting[i].is_none_or(|since| since + options.ping_timeout > now) {
                        continue;
                    }
                    if shared.heard[i].load(Ordering::Relaxed) {
                        awaiting[i] = None;
                        continue;
                    }
                    tracing::info!(?side, "a side did not answer pings; closing the other");
                    shared.end_because(CloseReason::PingTimeout);
                    dead[i] = true;
                    shared.send_own(side.other(), Own::Close(CloseCode::Error, "peer did not answer pings"));
                    awaiting = [None, None];
                    break;
                }
            }
            _ = options.cut.cancelled(), if !cut => {
                cut = true;
                shared.end_because(CloseReason::Drain);
                for side in sides {
                    shared.send_own(side, Own::Close(CloseCode::Away, "gateway shutting down"));
                }
                closing_since.get_or_insert_with(Instant::now);
            }
            _ = sleep_until(closing_since.map(|t| t + close_wait)) => {
                if close_wait > CLOSE_WAIT || !shared.release_held_closes() {
                    return;
                }
                close_wait += LAST_CLOSE_WAIT;
            }
        }
        // A side's time to answer starts when the ping is written to it, not when it is
        // queued: a direction busy with one long frame writes it only after that frame.
        let now = Instant::now();
        for side in sides {
            let i = side.index();
            if shared.pinged[i].swap(false, Ordering::Relaxed) {
                let answered = shared.heard[i].swap(false, Ordering::Relaxed);
                if awaiting[i].is_none() || answered {
                    awaiting[i] = Some(now);
                }
            }
        }
        let closing = dead.iter().any(|d| *d)
            || sides.iter().any(|s| {
                Shared::flag(&shared.ended, *s)
                    || Shared::flag(&shared.close_from, *s)
                    || Shared::flag(&shared.close_to, *s)
            });
        if closing {
            closing_since.get_or_insert_with(Instant::now);
        }
        let done =
            |s: Side| Shared::flag(&shared.ended, s) || dead[s.index()] || shared.handshake_done(s);
        if done(Side::Client) && done(Side::Upstream) {
            return;
        }
    }
}

/// Sleep until `deadline`, or forever without one (a `select!` branch that may be off).
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Pass frames from `from` to the other side until `from` ends its stream; put the
/// gateway's own frames in between. `Err` names the side whose socket failed.
async fn direction<R, W>(
    from: Side,
    rx: &mut R,
    tx: &mut W,
    shared: &Shared,
    (max_message_size, counters): (usize, &Counters),
) -> Result<(), Side>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let to = from.other();
    let mut scanner = Scanner::new(from.writer(), max_message_size);
    loop {
        if scanner.at_boundary() {
            for own in shared.take_own(to) {
                write_own(tx, to, own, &mut scanner, shared).await?;
            }
        }
        let step = std::future::poll_fn(|cx| {
            // Read at each poll: the other direction may start holding while this one waits.
            scanner.hold_close(shared.holding[to.index()].load(Ordering::Acquire));
            if scanner.at_boundary() {
                shared.outbox_waker[to.index()].register(cx.waker());
                if shared.has_own[to.index()].load(Ordering::Acquire) {
                    return Poll::Ready(Ok(Step::Own));
                }
            }
            poll_step(cx, from, rx, tx, &mut scanner)
        })
        .await;
        let (seen, violation, rest) = match step {
            Err(side) => {
                shared.end_because(side.failed());
                if side == from && scanner.at_boundary() {
                    let own = Own::Close(CloseCode::Away, "the other side failed");
                    let _ = write_own(tx, to, own, &mut scanner, shared).await;
                }
                return Err(side);
            }
            Ok(Step::Eof) => {
                if !Shared::flag(&shared.close_from, from) {
                    // Gone without a Close frame (1006 to it): not a clean close.
                    shared.end_because(from.failed());
                    if scanner.at_boundary() {
                        let own = shared
                            .take_held_close(to)
                            .unwrap_or(Own::Close(CloseCode::Away, "the other side went away"));
                        let _ = write_own(tx, to, own, &mut scanner, shared).await;
                    }
                }
                let _ = tx.shutdown().await;
                return Ok(());
            }
            Ok(Step::Own) => continue,
            Ok(Step::Moved(seen, violation, rest)) => (seen, violation, rest),
        };
        shared.heard[from.index()].store(true, Ordering::Relaxed);
        if !rest.is_empty() {
            tx.write_all(&rest).await.map_err(|_| to)?;
        }
        tx.flush().await.map_err(|_| to)?;
        record(from, seen, shared, counters);
        if seen.close {
            shared.end_because(from.closed());
            shared.set(&shared.close_from, from);
            match shared.take_held_close(to) {
                Some(own) => write_own(tx, to, own, &mut scanner, shared).await?,
                None => shared.set(&shared.close_to, to),
            }
        }
        if let Some(v) = violation {
            tracing::debug!(?from, why = v.why, "WebSocket protocol error");
            shared.end_because(from.failed());
            // The offender hears why only after the other side's Close reply, so what
            // that side sent before it (answers to the good frames) still arrives first.
            shared.hold_close_for(from, Own::Close(v.code, v.why));
            let own = Own::Close(CloseCode::Away, "the other side broke the protocol");
            write_own(tx, to, own, &mut scanner, shared).await?;
        }
    }
}

/// Write one of the gateway's frames to `to`, unless a Close already went there.
async fn write_own<W>(
    tx: &mut W,
    to: Side,
    own: Own,
    scanner: &mut Scanner,
    shared: &Shared,
) -> Result<(), Side>
where
    W: AsyncWrite + Unpin,
{
    if Shared::flag(&shared.close_to, to) {
        return Ok(());
    }
    tx.write_all(&own.encode(to)).await.map_err(|_| to)?;
    tx.flush().await.map_err(|_| to)?;
    if let Own::Ping = own {
        shared.set(&shared.pinged, to);
    }
    if let Own::Close(..) = own {
        scanner.mute();
        shared.set(&shared.close_to, to);
    }
    Ok(())
}

fn record(from: Side, seen: Scanned, shared: &Shared, counters: &Counters) {
    if seen.messages > 0 {
        shared.messages[from.index()].fetch_add(seen.messages, Ordering::Relaxed);
    }
    if seen.payload > 0 {
        shared.payload[from.index()].fetch_add(seen.payload, Ordering::Relaxed);
        match from {
            Side::Client => counters.add_up(seen.payload),
            Side::Upstream => counters.add_down(seen.payload),
        }
    }
}

/// What one read-and-forward step did.
enum Step {
    /// The gateway has frames of its own to write first.
    Own,
    /// The side ended its stream.
    Eof,
    /// Bytes were read and passed on; the bytes the socket could not take yet are last.
    Moved(Scanned, Option<Violation>, Vec<u8>),
}

/// One read of what `rx` has ready, scanned and written to `tx` as far as it takes it
/// (the relay's step, with the scanner choosing what goes on).
fn poll_step<R, W>(
    cx: &mut Context<'_>,
    from: Side,
    rx: &mut R,
    tx: &mut W,
    scanner: &mut Scanner,
) -> Poll<Result<Step, Side>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let scan = |data: &[u8], copy: &mut Vec<u8>| {
        let mut passed = Passed::new(data, copy);
        let seen = scanner.scan(data, &mut passed);
        (seen, passed.forward())
    };
    poll_forward(cx, rx, tx, scan).map(|step| match step {
        Ok(None) => Ok(Step::Eof),
        Ok(Some(moved)) => Ok(Step::Moved(moved.pass.0, moved.pass.1, moved.rest)),
        Err(StepFault::Read) => Err(from),
        Err(StepFault::Write) => Err(from.other()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::DuplexStream;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::Role;

    /// A client of the gateway: the gateway's end of the connection, and the client.
    async fn client_end() -> (DuplexStream, WebSocketStream<DuplexStream>) {
        let (gateway, client) = tokio::io::duplex(64 * 1024);
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        (gateway, client)
    }

    /// An upstream server: the server, and the gateway's end of the connection.
    async fn server_end() -> (WebSocketStream<DuplexStream>, DuplexStream) {
        let (server, gateway) = tokio::io::duplex(64 * 1024);
        let server = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
        (server, gateway)
    }

    fn options(ping: Option<u64>, timeout: u64) -> FrameOptions {
        FrameOptions {
            ping_interval: ping.map(Duration::from_millis),
            ping_timeout: Duration::from_millis(timeout),
            max_message_size: 1 << 20,
            cut: CancellationToken::new(),
            counters: Default::default(),
        }
    }

    type Relay = tokio::task::JoinHandle<(CloseReason, FrameStats)>;

    /// `message` is a Close frame with `code`.
    fn assert_close(message: Message, code: CloseCode) {
        match message {
            Message::Close(Some(f)) => assert_eq!(f.code, code),
            other => panic!("expected Close {code}, got {other:?}"),
        }
    }

    /// A client and a server WebSocket with the relay between them.
    async fn start(
        options: FrameOptions,
    ) -> (
        WebSocketStream<DuplexStream>,
        WebSocketStream<DuplexStream>,
        Relay,
    ) {
        let (gw_client, client) = client_end().await;
        let (server, gw_upstream) = server_end().await;
        let relay =
            tokio::spawn(async move { relay_frames(gw_client, gw_upstream, &options).await });
        (client, server, relay)
    }

    #[tokio::test]
    async fn messages_flow_both_ways_and_close_is_passed_on_with_its_code() {
        let (mut client, mut server, relay) = start(options(None, 1000)).await;
        client.send(Message::text("hi")).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("hi"));
        server.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::binary(vec![1u8, 2, 3])
        );
        let frame = CloseFrame {
            code: CloseCode::Library(4000),
            reason: "bye".into(),
        };
        client.close(Some(frame.clone())).await.unwrap();
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::Close(Some(frame))
        );
        // Reading on sends the server's Close reply; then it closes TCP (RFC 6455 §7.1.1).
        assert!(server.next().await.is_none());
        drop(server);
        let (reason, stats) = relay.await.unwrap();
        assert_eq!(reason, CloseReason::ClientClose);
        assert_eq!(
            (
                stats.messages_up,
                stats.messages_down,
                stats.bytes_up,
                stats.bytes_down
            ),
            (1, 1, 2, 3)
        );
    }

    #[tokio::test]
    async fn what_the_upstream_sent_before_seeing_the_clients_close_still_arrives() {
        // A client that ends its input at once (like `wsvia connect` at EOF) sends its last
        // message and Close back to back; the echo is on its way when the Close arrives.
        let (mut client, mut server, relay) = start(options(None, 1000)).await;
        client.send(Message::text("last")).await.unwrap();
        client.close(None).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("last"));
        server.send(Message::text("last")).await.unwrap();
        assert!(matches!(server.next().await, Some(Ok(Message::Close(_)))));
        assert!(server.next().await.is_none());
        drop(server);
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("last"));
        assert!(matches!(client.next().await, Some(Ok(Message::Close(_)))));
        let (reason, stats) = relay.await.unwrap();
        assert_eq!(reason, CloseReason::ClientClose);
        assert_eq!(stats.messages_down, 1);
    }

    #[tokio::test]
    async fn a_protocol_break_closes_with_1002_after_the_answers_to_the_good_frames() {
        use tokio::io::AsyncWriteExt;
        let (mut client, mut server, relay) = start(options(None, 1000)).await;
        client.send(Message::text("good")).await.unwrap();
        // An unmasked frame from a client breaks RFC 6455 §5.1.
        client
            .get_mut()
            .write_all(&[0x81, 0x01, b'x'])
            .await
            .unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("good"));
        server.send(Message::text("good")).await.unwrap();
        assert_close(server.next().await.unwrap().unwrap(), CloseCode::Away);
        // Reading on sends the server's Close reply.
        assert!(server.next().await.is_none());
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("good"));
        assert_close(client.next().await.unwrap().unwrap(), CloseCode::Protocol);
        drop((client, server));
        let (reason, stats) = relay.await.unwrap();
        assert_eq!(reason, CloseReason::ClientError);
        assert_eq!((stats.messages_up, stats.messages_down), (1, 1));
    }

    #[tokio::test]
    async fn a_breaker_hears_its_1002_even_when_the_other_side_never_replies_to_its_close() {
        use tokio::io::AsyncWriteExt;
        let (mut client, mut server, relay) = start(options(None, 1000)).await;
        client
            .get_mut()
            .write_all(&[0x81, 0x01, b'x'])
            .await
            .unwrap();
        assert_close(server.next().await.unwrap().unwrap(), CloseCode::Away);
        // The server neither reads on (which would send its reply) nor closes TCP.
        let asked = Instant::now();
        assert_close(client.next().await.unwrap().unwrap(), CloseCode::Protocol);
        assert!(
            asked.elapsed() >= CLOSE_WAIT,
            "held until the wait for the reply ran out"
        );
        assert!(client.next().await.is_none());
        let (reason, _) = relay.await.unwrap();
        assert_eq!(reason, CloseReason::ClientError);
        drop(server);
    }

    #[tokio::test]
    async fn pings_go_between_frames_of_big_messages_and_the_keepalive_answers_stop_here() {
        // Pings every 2 ms while 256 KiB messages stream through with short pauses: the
        // server (which checks masking and framing) must see whole messages, and the
        // gateway's pings, masked; the client's answers to them must not reach it.
        let (mut client, mut server, relay) = start(options(Some(2), 5_000)).await;
        let sender = tokio::spawn(async move {
            for i in 0..8u8 {
                client
                    .send(Message::binary(vec![i; 256 * 1024]))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            client.close(None).await.unwrap();
            // Read on (answering pings) until the server's Close comes back.
            while let Some(Ok(_)) = client.next().await {}
            client
        });
        let (mut got, mut pings) = (0u8, 0);
        loop {
            match server.next().await {
                Some(Ok(Message::Binary(b))) => {
                    assert!(b.len() == 256 * 1024 && b.iter().all(|x| *x == got));
                    got += 1;
                }
                Some(Ok(Message::Ping(p))) => {
                    assert_eq!(&p[..], KEEPALIVE);
                    pings += 1;
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(other)) => panic!("unexpected {other:?}"),
                Some(Err(e)) => panic!("{e}"),
            }
        }
        assert_eq!(got, 8);
        assert!(pings >= 1, "the server was pinged");
        while server.next().await.is_some() {}
        let client = sender.await.unwrap();
        drop((client, server));
        let (reason, stats) = relay.await.unwrap();
        assert_eq!(reason, CloseReason::ClientClose);
        assert_eq!(stats.messages_up, 8);
    }

    #[tokio::test]
    async fn a_side_that_cannot_be_pinged_behind_a_long_stream_is_not_timed_out() {
        // The client streams without pause for longer than the ping timeout; the server
        // only reads. Pings to the server wait for a frame boundary, and its time to
        // answer starts only when one is written.
        let (mut client, mut server, relay) = start(options(Some(10), 40)).await;
        let sender = tokio::spawn(async move {
            let started = Instant::now();
            let mut sent = 0u64;
            while started.elapsed() < Duration::from_millis(300) {
                client
                    .send(Message::binary(vec![7u8; 1 << 20]))
                    .await
                    .unwrap();
                sent += 1;
            }
            (client, sent)
        });
        let mut received = 0u64;
        let reader = async {
            loop {
                match server.next().await.unwrap().unwrap() {
                    Message::Binary(_) => received += 1,
                    Message::Ping(_) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        };
        let (mut client, sent) = tokio::select! {
            r = sender => r.unwrap(),
            _ = reader => unreachable!(),
        };
        while received < sent {
            if let Message::Binary(_) = server.next().await.unwrap().unwrap() {
                received += 1;
            }
        }
        assert!(sent >= 2, "the client streamed for 300 ms");
        client.close(None).await.unwrap();
        while server.next().await.is_some() {}
        while let Some(Ok(_)) = client.next().await {}
        drop((client, server));
        let (reason, _) = relay.await.unwrap();
        assert_eq!(reason, CloseReason::ClientClose);
    }

    /// A connected pair of loopback sockets.
    async fn tcp_pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dialed = TcpStream::connect(listener.local_addr().unwrap());
        let (dialed, accepted) = tokio::join!(dialed, listener.accept());
        (dialed.unwrap(), accepted.unwrap().0)
    }

    #[tokio::test]
    async fn over_tcp_what_was_read_ahead_of_each_side_goes_first_and_is_scanned() {
        let (client, gw_client) = tcp_pair().await;
        let (gw_upstream, upstream) = tcp_pair().await;
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        let mut upstream = WebSocketStream::from_raw_socket(upstream, Role::Server, None).await;
        // A masked text frame "early" (mask 0: the payload stays readable) read with the
        // client's handshake, and an unmasked "first" read with the upstream's 101.
        let early = Early {
            up: Bytes::from_static(&[0x81, 0x85, 0, 0, 0, 0, b'e', b'a', b'r', b'l', b'y']),
            down: Bytes::from_static(&[0x81, 0x05, b'f', b'i', b'r', b's', b't']),
        };
        let opts = options(None, 1000);
        let relay =
            tokio::spawn(
                async move { relay_frames_tcp(gw_client, gw_upstream, early, &opts).await },
            );
        client.send(Message::text("later")).await.unwrap();
        upstream.send(Message::text("then")).await.unwrap();
        assert_eq!(
            upstream.next().await.unwrap().unwrap(),
            Message::text("early")
        );
        assert_eq!(
            upstream.next().await.unwrap().unwrap(),
            Message::text("later")
        );
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::text("first")
        );
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("then"));
        client.close(None).await.unwrap();
        assert!(matches!(upstream.next().await, Some(Ok(Message::Close(_)))));
        assert!(upstream.next().await.is_none());
        assert!(matches!(client.next().await, Some(Ok(Message::Close(_)))));
        drop((client, upstream));
        let (reason, stats) = relay.await.unwrap();
        assert_eq!(reason, CloseReason::ClientClose);
        assert_eq!((stats.messages_up, stats.messages_down), (2, 2));
    }

    #[test]
    fn a_waiting_ping_is_not_queued_twice() {
        let shared = Shared::default();
        shared.send_own(Side::Client, Own::Ping);
        shared.send_own(Side::Client, Own::Ping);
        shared.send_own(Side::Client, Own::Close(CloseCode::Away, "bye"));
        let queued = shared.take_own(Side::Client);
        assert!(matches!(
            queued[..],
            [Own::Ping, Own::Close(CloseCode::Away, _)]
        ));
        assert!(shared.take_own(Side::Client).is_empty());
        assert!(shared.take_own(Side::Upstream).is_empty());
    }

    #[tokio::test]
    async fn both_sides_are_pinged_and_a_silent_side_is_closed_with_1011_to_the_other() {
        let (mut client, server, relay) = start(options(Some(50), 150)).await;
        // The client keeps reading (answering pings); the server never reads: it is "stopped".
        let mut pings = 0;
        let close = loop {
            match client.next().await.unwrap().unwrap() {
                Message::Ping(_) => pings += 1,
                Message::Close(frame) => break frame,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(pings >= 1, "the client was pinged");
        assert_eq!(close.unwrap().code, CloseCode::Error);
        assert!(client.next().await.is_none());
        let (reason, _) = relay.await.unwrap();
        assert_eq!(reason, CloseReason::PingTimeout);
        drop(server);
    }

    #[tokio::test]
    async fn the_cut_closes_both_sides_with_1001() {
        let opts = options(None, 1000);
        let cut = opts.cut.clone();
        let (mut client, mut server, relay) = start(opts).await;
        cut.cancel();
        let (a, b) = tokio::join!(client.next(), server.next());
        for m in [a, b] {
            assert_close(m.unwrap().unwrap(), CloseCode::Away);
        }
        let (a, b) = tokio::join!(client.next(), server.next());
        assert!(a.is_none() && b.is_none());
        drop((client, server));
        assert_eq!(relay.await.unwrap().0, CloseReason::Drain);
    }
}
