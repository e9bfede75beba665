//! Pins what one idle tunnel costs: its relay task's future and the heap it holds while
//! no byte moves. A regression (a buffer kept per tunnel, a bigger future) fails here.
//!
//! A counting global allocator measures the heap; 500 relays between real loopback TCP
//! pairs are started and left idle. The proxy's per-tunnel cost adds the two accepted
//! sockets and hyper's upgrade bookkeeping, which the benchmark measures as RSS.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use wsvia_server::record::CloseReason;
use wsvia_server::relay::{Counters, Early, RelayOptions, relay, relay_io};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarding the caller's layout to the system allocator unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this same layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The relay future of one tunnel, before it runs: its size is what every idle tunnel's
/// task stores (plus the task header). Measured: 1,712 bytes in debug and release builds
/// since the TCP relay runs the generic directions on borrowed halves; 2,776 before, when
/// it held readiness futures of its own (that grew the gateway's idle sessions by 3 KiB).
const MAX_FUTURE_BYTES: usize = 2048;

/// Heap held per idle tunnel by the relay, beyond the sockets themselves: the task (its
/// future and header) and the counters — no buffer. Measured: 2,462 bytes in debug builds;
/// a 16 KiB buffer kept per tunnel would be five times the bound.
const MAX_IDLE_HEAP_PER_TUNNEL: isize = MAX_FUTURE_BYTES as isize + 1024;

async fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let outer = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (inner, _) = listener.accept().await.unwrap();
    (outer, inner)
}

/// Start `N` relays with `start` on idle loopback pairs; the heap each holds once idle.
async fn idle_heap_per_tunnel<F, Fut>(listener: &TcpListener, start: F) -> isize
where
    F: Fn(TcpStream, TcpStream) -> Fut,
    Fut: std::future::Future<Output = CloseReason> + Send + 'static,
{
    const N: usize = 500;
    // Open every socket first, so only the relays are measured.
    let mut ends = Vec::new();
    let mut inner = Vec::new();
    for _ in 0..N {
        let (c_out, c_in) = pair(listener).await;
        let (u_out, u_in) = pair(listener).await;
        ends.push((c_out, u_out));
        inner.push((c_in, u_in));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = LIVE.load(Ordering::Relaxed);
    let tasks: Vec<_> = inner
        .into_iter()
        .map(|(c_in, u_in)| tokio::spawn(start(c_in, u_in)))
        .collect();
    // Let every relay reach its idle wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let per_tunnel = (LIVE.load(Ordering::Relaxed) - before) / N as isize;
    drop(ends);
    for t in tasks {
        let _ = t.await;
    }
    per_tunnel
}

// One test, so that nothing else allocates while it measures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_tunnel_holds_no_buffer_and_a_small_future() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (_c, mut client) = pair(&listener).await;
    let (_u, mut upstream) = pair(&listener).await;
    let counters = Arc::new(Counters::default());
    let options = RelayOptions::default();
    let fut = relay(
        &mut client,
        &mut upstream,
        Early::default(),
        &counters,
        &options,
    );
    let size = std::mem::size_of_val(&fut);
    assert!(
        size <= MAX_FUTURE_BYTES,
        "the relay future grew to {size} bytes"
    );
    drop(fut);

    // TCP to TCP (the forward proxy).
    let per_tunnel = idle_heap_per_tunnel(&listener, |mut c_in, mut u_in| async move {
        let counters = Arc::new(Counters::default());
        relay(
            &mut c_in,
            &mut u_in,
            Early::default(),
            &counters,
            &RelayOptions::default(),
        )
        .await
    })
    .await;
    assert!(
        per_tunnel <= MAX_IDLE_HEAP_PER_TUNNEL,
        "an idle tunnel's relay holds {per_tunnel} heap bytes (bound {MAX_IDLE_HEAP_PER_TUNNEL})"
    );
    // Any byte streams (the gateway's passthrough, TLS on either side): the same bound,
    // where an 8 KiB buffer per direction once made it 16 KiB more.
    let per_tunnel_io = idle_heap_per_tunnel(&listener, |c_in, u_in| async move {
        let counters = Arc::new(Counters::default());
        relay_io(
            c_in,
            u_in,
            Early::default(),
            &counters,
            &RelayOptions::default(),
        )
        .await
    })
    .await;
    assert!(
        per_tunnel_io <= MAX_IDLE_HEAP_PER_TUNNEL,
        "an idle relay_io holds {per_tunnel_io} heap bytes (bound {MAX_IDLE_HEAP_PER_TUNNEL})"
    );
    eprintln!(
        "relay future {size} B; idle heap per tunnel {per_tunnel} B (relay), {per_tunnel_io} B (relay_io)"
    );
}
