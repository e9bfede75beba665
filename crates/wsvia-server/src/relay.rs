//! The tunnel relay: join a client and an upstream TCP stream until both directions end.
//!
//! Each direction waits for readability without holding a buffer; when bytes are ready it
//! reads them into its worker thread's 64 KiB scratch buffer and writes them on at once,
//! copying out only what the other socket cannot take yet. An idle tunnel costs its task
//! and two sockets, no buffer; a busy one allocates nothing per read. A side that ends
//! its sending (FIN) is passed on as a half-close, so request/response protocols that
//! close one way still finish. Bytes are counted as they move, so live totals can be read
//! at any time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::record::CloseReason;

/// Size of each worker thread's scratch buffer: the most one read moves.
pub const CHUNK: usize = 64 * 1024;

/// Bytes moved so far, shared with whoever reports on the tunnel.
///
/// # Examples
/// ```
/// let c = wsvia_server::relay::Counters::default();
/// assert_eq!(c.up(), 0);
/// ```
#[derive(Debug, Default)]
pub struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    /// Milliseconds since the relay started at the last byte moved.
    last_activity_ms: AtomicU64,
}

impl Counters {
    /// Count `n` bytes from the client (for relays that move messages, not bytes).
    ///
    /// # Examples
    /// ```
    /// let c = wsvia_server::relay::Counters::default();
    /// c.add_up(5);
    /// assert_eq!(c.up(), 5);
    /// ```
    pub fn add_up(&self, n: u64) {
        self.up.fetch_add(n, Ordering::Relaxed);
    }

    /// Count `n` bytes to the client.
    ///
    /// # Examples
    /// ```
    /// let c = wsvia_server::relay::Counters::default();
    /// c.add_down(7);
    /// assert_eq!(c.down(), 7);
    /// ```
    pub fn add_down(&self, n: u64) {
        self.down.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes from the client to the upstream.
    ///
    /// # Examples
    /// See [`Counters`].
    pub fn up(&self) -> u64 {
        self.up.load(Ordering::Relaxed)
    }

    /// Bytes from the upstream to the client.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(wsvia_server::relay::Counters::default().down(), 0);
    /// ```
    pub fn down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }
}

/// Bytes already read from either side before the relay starts (hyper's read-ahead).
///
/// # Examples
/// ```
/// let e = wsvia_server::relay::Early { up: bytes::Bytes::from_static(b"GET"), ..Default::default() };
/// assert!(e.down.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Early {
    /// From the client, to send upstream first.
    pub up: Bytes,
    /// From the upstream, to send to the client first.
    pub down: Bytes,
}

/// How a relay may end besides the peers closing.
///
/// # Examples
/// ```
/// let opts = wsvia_server::relay::RelayOptions {
///     idle_timeout: Some(std::time::Duration::from_secs(300)),
///     cut: tokio_util::sync::CancellationToken::new(),
/// };
/// # drop(opts);
/// ```
#[derive(Debug, Clone, Default)]
pub struct RelayOptions {
    /// Close when no byte moved either way for this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Close at once when this fires (end of a shutdown's grace period).
    pub cut: CancellationToken,
}

/// Relay between `client` and `upstream` until both directions end. `early.up` holds bytes
/// the client already sent (pipelined after its request) and goes upstream first;
/// `early.down` holds bytes the upstream sent with its answer and goes to the client first.
///
/// # Cancel safety
/// Dropping the future drops nothing but the borrowed streams; close them to end the
/// tunnel. Prefer `options.cut`, which reports [`CloseReason::Drain`].
///
/// # Examples
/// ```no_run
/// # async fn f(client: tokio::net::TcpStream, upstream: tokio::net::TcpStream) {
/// use wsvia_server::relay::{relay, Counters, RelayOptions};
/// let counters = std::sync::Arc::new(Counters::default());
/// let (mut client, mut upstream) = (client, upstream);
/// let reason = relay(&mut client, &mut upstream, Default::default(), &counters, &RelayOptions::default()).await;
/// println!("{reason}: {} up, {} down", counters.up(), counters.down());
/// # }
/// ```
pub async fn relay(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    early: Early,
    counters: &Arc<Counters>,
    options: &RelayOptions,
) -> CloseReason {
    // Borrowed halves: no lock per call (as `tokio::io::split` takes), and tokio's own
    // read clears readiness after a short read, so no `read` is spent on `EAGAIN`.
    let (client_rx, client_tx) = client.split();
    let (upstream_rx, upstream_tx) = upstream.split();
    relay_halves(
        (client_rx, client_tx),
        (upstream_rx, upstream_tx),
        early,
        counters,
        options,
    )
    .await
}

/// Like [`relay`], for any pair of byte streams (TLS, boxed streams). As there, an idle
/// direction holds no buffer: reads go into the thread's scratch buffer.
///
/// # Cancel safety
/// As [`relay`].
///
/// # Examples
/// ```no_run
/// # async fn f(a: tokio::io::DuplexStream, b: tokio::io::DuplexStream) {
/// use wsvia_server::relay::{relay_io, Counters, RelayOptions};
/// let counters = std::sync::Arc::new(Counters::default());
/// let reason = relay_io(a, b, Default::default(), &counters, &RelayOptions::default()).await;
/// # }
/// ```
pub async fn relay_io<A, B>(
    client: A,
    upstream: B,
    early: Early,
    counters: &Arc<Counters>,
    options: &RelayOptions,
) -> CloseReason
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    relay_halves(
        tokio::io::split(client),
        tokio::io::split(upstream),
        early,
        counters,
        options,
    )
    .await
}

/// [`relay`] over each side's read and write halves: the early bytes first, then both
/// directions.
async fn relay_halves<CR, CW, UR, UW>(
    (mut client_rx, mut client_tx): (CR, CW),
    (mut upstream_rx, mut upstream_tx): (UR, UW),
    early: Early,
    counters: &Arc<Counters>,
    options: &RelayOptions,
) -> CloseReason
where
    CR: AsyncRead + Unpin,
    CW: AsyncWrite + Unpin,
    UR: AsyncRead + Unpin,
    UW: AsyncWrite + Unpin,
{
    let start = Instant::now();
    if !early.up.is_empty() {
        if upstream_tx.write_all(&early.up).await.is_err() {
            return CloseReason::UpstreamError;
        }
        counters
            .up
            .fetch_add(early.up.len() as u64, Ordering::Relaxed);
    }
    if !early.down.is_empty() {
        if client_tx.write_all(&early.down).await.is_err() {
            return CloseReason::ClientError;
        }
        counters
            .down
            .fetch_add(early.down.len() as u64, Ordering::Relaxed);
    }
    // Early bytes often point into hyper's 8 KiB read buffer: let it go now, not at the
    // tunnel's end.
    drop(early);
    // Without an idle timeout nothing reads the activity stamp: skip the clock per move.
    let stamp_from = options.idle_timeout.map(|_| start);
    let up = pump(
        &mut client_rx,
        &mut upstream_tx,
        Side::Client,
        &counters.up,
        counters,
        stamp_from,
    );
    let down = pump(
        &mut upstream_rx,
        &mut client_tx,
        Side::Upstream,
        &counters.down,
        counters,
        stamp_from,
    );
    join(up, down, counters, options, start).await
}

/// Run both directions to their end, unless the cut or the idle timeout comes first.
async fn join(
    up: impl Future<Output = Flow>,
    down: impl Future<Output = Flow>,
    counters: &Counters,
    options: &RelayOptions,
    start: Instant,
) -> CloseReason {
    let both = async {
        tokio::pin!(up, down);
        // A direction that fails ends the tunnel at once: waiting for the other could wait
        // forever (an idle server never sends again). A direction that ends cleanly (EOF,
        // passed on as a half-close) waits for the other, which may still be answering.
        tokio::select! {
            r = &mut up => match r {
                Ok(()) => first_end(r, true, down.await),
                Err(_) => first_end(r, true, Ok(())),
            },
            r = &mut down => match r {
                Ok(()) => first_end(r, false, up.await),
                Err(_) => first_end(r, false, Ok(())),
            },
        }
    };
    tokio::select! {
        reason = both => reason,
        _ = options.cut.cancelled() => CloseReason::Drain,
        _ = idle(options.idle_timeout, counters, start) => CloseReason::IdleTimeout,
    }
}

/// Copy `from` → `to` until EOF, then shut `to` down for writing.
///
/// An idle direction holds no buffer: each read goes into the thread's scratch buffer and
/// is written to `to` in the same poll; only what `to` cannot take yet is copied out and
/// awaited.
async fn pump<R, W>(
    from: &mut R,
    to: &mut W,
    from_side: Side,
    counter: &AtomicU64,
    counters: &Counters,
    stamp_from: Option<Instant>,
) -> Flow
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let to_side = other(from_side);
    loop {
        let (n, rest) = std::future::poll_fn(|cx| poll_step_io(cx, from, to, from_side)).await?;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        if !rest.is_empty() {
            to.write_all(&rest).await.map_err(|_| to_side)?;
        }
        to.flush().await.map_err(|_| to_side)?;
        record_moved(counter, counters, n, stamp_from);
    }
}

/// One read into the thread's scratch buffer, written on at once as far as `to` takes it:
/// the bytes read (0 at EOF) and a copy of those still to write.
fn poll_step_io<R, W>(
    cx: &mut std::task::Context<'_>,
    from: &mut R,
    to: &mut W,
    from_side: Side,
) -> std::task::Poll<Result<(usize, Vec<u8>), Side>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    poll_forward(cx, from, to, |data, _| ((), Forward::Read(data.len()))).map(|step| match step {
        Ok(None) => Ok((0, Vec::new())),
        Ok(Some(moved)) => Ok((moved.read, moved.rest)),
        Err(StepFault::Read) => Err(from_side),
        Err(StepFault::Write) => Err(other(from_side)),
    })
}

/// What a [`poll_forward`] step writes on: the first `n` bytes of the read itself, or
/// what `pass` put in the copy buffer.
///
/// # Examples
/// See [`poll_forward`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// The first `n` bytes read, as they are.
    Read(usize),
    /// The copy buffer's contents.
    Copy,
}

/// Which socket a [`poll_forward`] step failed on.
///
/// # Examples
/// See [`poll_forward`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepFault {
    /// Reading from `from` failed.
    Read,
    /// Writing to `to` failed (or it took nothing).
    Write,
}

/// What one [`poll_forward`] step did.
///
/// # Examples
/// See [`poll_forward`].
#[derive(Debug)]
pub struct Forwarded<T> {
    /// Bytes read.
    pub read: usize,
    /// What `pass` said of them.
    pub pass: T,
    /// Bytes chosen to go on that `to` could not take yet: write them before the next step.
    pub rest: Vec<u8>,
}

/// The relay's step for any stream: read what `from` has ready into the worker thread's
/// scratch buffer, let `pass` choose what of it goes on (all of it, a prefix, or bytes it
/// writes into the thread's copy buffer), and write that to `to` in the same poll, as far
/// as `to` takes it; only the rest is copied out. `Ok(None)` is `from`'s end of stream.
/// No buffer is held between steps, so an idle relay keeps none.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use wsvia_server::relay::{poll_forward, Forward};
/// let (mut writer, mut from) = tokio::io::duplex(64);
/// let (mut to, mut reader) = tokio::io::duplex(64);
/// writer.write_all(b"hello").await.unwrap();
/// // Pass on all but the last byte.
/// let step = std::future::poll_fn(|cx| {
///     poll_forward(cx, &mut from, &mut to, |data, _| (data.len(), Forward::Read(data.len() - 1)))
/// })
/// .await
/// .unwrap()
/// .unwrap();
/// assert_eq!((step.read, step.pass, step.rest.len()), (5, 5, 0));
/// let mut got = [0u8; 4];
/// reader.read_exact(&mut got).await.unwrap();
/// assert_eq!(&got, b"hell");
/// # }
/// ```
pub fn poll_forward<R, W, T>(
    cx: &mut std::task::Context<'_>,
    from: &mut R,
    to: &mut W,
    pass: impl FnOnce(&[u8], &mut Vec<u8>) -> (T, Forward),
) -> std::task::Poll<Result<Option<Forwarded<T>>, StepFault>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    use std::pin::Pin;
    use std::task::Poll;
    SCRATCH.with(|cell| {
        COPY.with(|copy| {
            let mut scratch = cell.borrow_mut();
            let mut read = tokio::io::ReadBuf::new(&mut scratch);
            match Pin::new(&mut *from).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(Err(StepFault::Read)),
                Poll::Ready(Ok(())) => {}
            }
            let data = read.filled();
            if data.is_empty() {
                return Poll::Ready(Ok(None));
            }
            let mut copy = copy.borrow_mut();
            let (verdict, forward) = pass(data, &mut copy);
            let out = match forward {
                Forward::Read(n) => &data[..n],
                Forward::Copy => &copy[..],
            };
            let mut written = 0;
            while written < out.len() {
                match Pin::new(&mut *to).poll_write(cx, &out[written..]) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                        return Poll::Ready(Err(StepFault::Write));
                    }
                    Poll::Ready(Ok(k)) => written += k,
                    Poll::Pending => break,
                }
            }
            Poll::Ready(Ok(Some(Forwarded {
                read: data.len(),
                pass: verdict,
                rest: out[written..].to_vec(),
            })))
        })
    })
}

/// Count `n` bytes on a direction's `counter` and, when an idle timeout watches the
/// relay (`stamp_from` is its start), note the time of the activity.
fn record_moved(counter: &AtomicU64, counters: &Counters, n: usize, stamp_from: Option<Instant>) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
    if let Some(start) = stamp_from {
        let now = start.elapsed().as_millis() as u64;
        counters.last_activity_ms.store(now, Ordering::Relaxed);
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::Client => Side::Upstream,
        Side::Upstream => Side::Client,
    }
}

/// The outcome of one direction: `Ok` after EOF was passed on, `Err` naming the side.
type Flow = Result<(), Side>;

#[derive(Debug, Clone, Copy)]
enum Side {
    Client,
    Upstream,
}

fn first_end(first: Flow, first_is_up: bool, second: Flow) -> CloseReason {
    match (first, second) {
        (Err(side), _) | (Ok(()), Err(side)) => match side {
            Side::Client => CloseReason::ClientError,
            Side::Upstream => CloseReason::UpstreamError,
        },
        (Ok(()), Ok(())) if first_is_up => CloseReason::ClientClose,
        (Ok(()), Ok(())) => CloseReason::UpstreamClose,
    }
}

thread_local! {
    /// One scratch buffer per worker thread, shared by every tunnel it runs: a step never
    /// awaits while holding it, so no tunnel keeps a buffer while idle and no step pays
    /// for allocating or zeroing one.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; CHUNK]);
    /// Bytes a [`poll_forward`] step passes on that are not the read as it is; empty
    /// until a step needs it.
    static COPY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Resolves when no byte moved for `limit`; never when `limit` is `None`.
async fn idle(limit: Option<Duration>, counters: &Counters, start: Instant) {
    let Some(limit) = limit else {
        return std::future::pending().await;
    };
    loop {
        let last = Duration::from_millis(counters.last_activity_ms.load(Ordering::Relaxed));
        let deadline = start + last + limit;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Poll;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Two connected TCP pairs: (client outer, client inner) and (upstream inner, upstream outer).
    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let outer = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (inner, _) = l.accept().await.unwrap();
        (outer, inner)
    }

    async fn run(
        idle_timeout: Option<Duration>,
    ) -> (
        TcpStream,
        TcpStream,
        tokio::task::JoinHandle<CloseReason>,
        Arc<Counters>,
        CancellationToken,
    ) {
        let (client_outer, client_inner) = pair().await;
        let (upstream_outer, upstream_inner) = pair().await;
        let counters = Arc::new(Counters::default());
        let cut = CancellationToken::new();
        let opts = RelayOptions {
            idle_timeout,
            cut: cut.clone(),
        };
        let c = counters.clone();
        let task = tokio::spawn(async move {
            let (mut client_inner, mut upstream_inner) = (client_inner, upstream_inner);
            let early = Early {
                up: Bytes::from_static(b"early"),
                down: Bytes::from_static(b"hello"),
            };
            relay(&mut client_inner, &mut upstream_inner, early, &c, &opts).await
        });
        (client_outer, upstream_outer, task, counters, cut)
    }

    #[tokio::test]
    async fn bytes_flow_both_ways_in_order_and_half_close_is_passed_on() {
        let (mut client, mut upstream, task, counters, _) = run(None).await;
        let mut early = [0u8; 5];
        upstream.read_exact(&mut early).await.unwrap();
        assert_eq!(&early, b"early");
        client.read_exact(&mut early).await.unwrap();
        assert_eq!(&early, b"hello");
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        client.write_all(&big).await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        upstream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, big, "client→upstream bytes and the FIN arrive intact");
        upstream.write_all(b"reply after half-close").await.unwrap();
        upstream.shutdown().await.unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"reply after half-close");
        assert_eq!(task.await.unwrap(), CloseReason::ClientClose);
        assert_eq!(counters.up(), 200_005);
        assert_eq!(counters.down(), 27);
    }

    /// Send `len` patterned bytes (seeded by `seed`) then half-close.
    async fn send_pattern(mut to: tokio::net::tcp::OwnedWriteHalf, seed: u8, len: usize) {
        let data: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect();
        to.write_all(&data).await.unwrap();
        to.shutdown().await.unwrap();
    }

    /// Read to EOF in small bites with pauses (a slow reader), checking the pattern.
    async fn expect_pattern(mut from: tokio::net::tcp::OwnedReadHalf, seed: u8, len: usize) {
        let mut got = 0usize;
        let mut buf = vec![0u8; 7_000];
        loop {
            let n = from.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            for (k, b) in buf[..n].iter().enumerate() {
                let i = got + k;
                assert_eq!(*b, (i as u8).wrapping_mul(31) ^ seed, "byte {i} of {len}");
            }
            got += n;
            if got % 5 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        assert_eq!(got, len);
    }

    // Several tunnels on one thread share its scratch buffer; slow readers force the path
    // where the destination takes only part of what was read.
    #[tokio::test(flavor = "current_thread")]
    async fn tunnels_sharing_a_thread_lose_nothing_to_slow_readers() {
        const LEN: usize = 1 << 20;
        let mut checks = Vec::new();
        for t in 0..4u8 {
            let (client_outer, client_inner) = pair().await;
            let (upstream_outer, upstream_inner) = pair().await;
            // Small socket buffers, so that the relay's destination fills up.
            for s in [&client_inner, &upstream_inner] {
                socket2::SockRef::from(s)
                    .set_send_buffer_size(8 * 1024)
                    .unwrap();
            }
            for s in [&client_outer, &upstream_outer] {
                socket2::SockRef::from(s)
                    .set_recv_buffer_size(8 * 1024)
                    .unwrap();
            }
            let relay_task = tokio::spawn(async move {
                let (mut client_inner, mut upstream_inner) = (client_inner, upstream_inner);
                let counters = Arc::new(Counters::default());
                let opts = RelayOptions::default();
                relay(
                    &mut client_inner,
                    &mut upstream_inner,
                    Early::default(),
                    &counters,
                    &opts,
                )
                .await;
                (counters.up(), counters.down())
            });
            let (client_rx, client_tx) = client_outer.into_split();
            let (upstream_rx, upstream_tx) = upstream_outer.into_split();
            tokio::spawn(send_pattern(client_tx, t, LEN));
            tokio::spawn(send_pattern(upstream_tx, t ^ 0x55, LEN));
            checks.push(tokio::spawn(async move {
                // Let the receiving sockets fill up before anyone reads.
                tokio::time::sleep(Duration::from_millis(200)).await;
                tokio::join!(
                    expect_pattern(upstream_rx, t, LEN),
                    expect_pattern(client_rx, t ^ 0x55, LEN)
                );
            }));
            checks.push(tokio::spawn(async move {
                let (up, down) = relay_task.await.unwrap();
                assert_eq!((up, down), (LEN as u64, LEN as u64));
            }));
        }
        for c in checks {
            c.await.unwrap();
        }
    }

    #[tokio::test]
    async fn the_copying_step_moves_what_is_ready_and_reports_eof() {
        let (mut a_outer, mut a_inner) = pair().await;
        let (mut b_inner, mut b_outer) = pair().await;
        let (mut from, _) = a_inner.split();
        let (_, mut to) = b_inner.split();
        a_outer.write_all(b"ready bytes").await.unwrap();
        let step =
            std::future::poll_fn(|cx| poll_step_io(cx, &mut from, &mut to, Side::Client)).await;
        assert!(matches!(step, Ok((11, ref rest)) if rest.is_empty()));
        let mut got = [0u8; 11];
        b_outer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ready bytes");
        let drained = std::future::poll_fn(|cx| {
            Poll::Ready(poll_step_io(cx, &mut from, &mut to, Side::Client).is_pending())
        })
        .await;
        assert!(drained, "nothing more to read: the step waits");
        a_outer.shutdown().await.unwrap();
        let step =
            std::future::poll_fn(|cx| poll_step_io(cx, &mut from, &mut to, Side::Client)).await;
        assert!(matches!(step, Ok((0, _))), "EOF");
    }

    #[tokio::test]
    async fn an_idle_tunnel_closes_after_the_idle_timeout_only() {
        let (mut client, _upstream, task, _, _) = run(Some(Duration::from_millis(300))).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        client.write_all(b"still here").await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !task.is_finished(),
            "activity must push the idle deadline back"
        );
        assert_eq!(task.await.unwrap(), CloseReason::IdleTimeout);
    }

    #[tokio::test]
    async fn generic_streams_relay_both_ways_and_report_who_closed() {
        let (mut client, client_inner) = tokio::io::duplex(1024);
        let (upstream_inner, mut upstream) = tokio::io::duplex(1024);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let task = tokio::spawn(async move {
            relay_io(
                client_inner,
                upstream_inner,
                Early::default(),
                &c,
                &RelayOptions::default(),
            )
            .await
        });
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        upstream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        upstream.write_all(b"pong!").await.unwrap();
        drop(upstream);
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"pong!");
        drop(client);
        assert_eq!(task.await.unwrap(), CloseReason::UpstreamClose);
        assert_eq!((counters.up(), counters.down()), (4, 5));
    }

    #[tokio::test]
    async fn cut_ends_the_relay_as_drain() {
        let (_client, _upstream, task, _, cut) = run(None).await;
        cut.cancel();
        assert_eq!(task.await.unwrap(), CloseReason::Drain);
    }

    #[tokio::test]
    async fn a_client_reset_ends_the_tunnel_even_when_the_upstream_is_idle() {
        // See: the proxy's tunnel slot was never freed when a client reset while the
        // server behind it waited for more bytes.
        let (client, _upstream, task, _, _) = run(None).await;
        socket2::SockRef::from(&client)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(client);
        let reason = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the relay ends without waiting for the idle upstream")
            .unwrap();
        assert_eq!(reason, CloseReason::ClientError);
    }

    #[tokio::test]
    async fn an_upstream_reset_is_an_upstream_error() {
        let (_client, upstream, task, _, _) = run(None).await;
        // SO_LINGER 0 makes close send RST instead of FIN.
        socket2::SockRef::from(&upstream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(upstream);
        assert_eq!(task.await.unwrap(), CloseReason::UpstreamError);
    }
}
