//! Faults under load, with every byte of every healthy session checked: an upstream
//! killed (only its sessions end, with the close the client should see), a client that
//! drops mid-stream and comes back, and SIGTERM draining the proxy with none cut early.

mod common;

use std::time::{Duration, Instant};

use common::soak::{self, Report};
use common::{admin_addr, proxy};
use futures_util::StreamExt;
use wsvia::tokio_tungstenite::tungstenite::Message;
use wsvia::tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wsvia_testkit::WsviaProcess;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Wait until `p` has exited; its code.
fn exit_code(p: &mut WsviaProcess, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = p.process().child_mut().try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn killing_one_upstream_ends_only_its_sessions_and_the_rest_lose_nothing() {
    let p = proxy(&[]);
    let healthy = common::echo();
    let mut doomed = common::echo();
    let rt = runtime();
    let a = rt.spawn(soak::run(p.url(), healthy.addr.to_string(), 10, 400));
    let b = rt.spawn(soak::run(p.url(), doomed.addr.to_string(), 4, 100_000));
    std::thread::sleep(Duration::from_millis(500));
    doomed.process().signal("KILL");
    let (a, b): (Report, Report) = (rt.block_on(a).unwrap(), rt.block_on(b).unwrap());
    assert!(a.clean(), "healthy sessions were disturbed: {a:?}");
    assert_eq!(a.received, 10 * 400);
    assert_eq!(b.sessions, 4, "{b:?}");
    assert_eq!(
        b.ended_early.len(),
        4,
        "every session to the killed server ends: {b:?}"
    );
    assert_eq!((b.corrupted, b.reordered), (0, 0), "{b:?}");
    // Through a CONNECT tunnel the client sees the connection end without a Close (1006).
    assert!(
        b.ended_early
            .iter()
            .all(|e| e.contains("None") || e.contains("Err")),
        "{b:?}"
    );
    assert!(
        p.wait_for_stdout("upstream_", Duration::from_secs(5)),
        "{}",
        p.stdout()
    );
}

#[test]
fn through_the_frame_aware_gateway_a_killed_upstream_is_reported_with_1001() {
    let mut upstream = common::echo();
    let healthy = common::echo();
    let gw = WsviaProcess::start(
        common::wsvia(),
        &[
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--route",
            &format!("/doomed=ws://{}", upstream.addr),
            "--route",
            &format!("/=ws://{}", healthy.addr),
        ],
    );
    let rt = runtime();
    let url = format!("ws://{}/doomed", gw.addr);
    let healthy_url = format!("ws://{}/ok", gw.addr);
    let mut doomed = rt.block_on(async {
        wsvia::Client::builder()
            .proxy("")
            .build()
            .unwrap()
            .connect(&url)
            .await
            .unwrap()
    });
    let fine = rt.spawn(async move {
        soak::session(
            &soak::client(""),
            &healthy_url,
            0,
            300,
            Duration::from_millis(5),
        )
        .await
    });
    upstream.process().signal("KILL");
    let close = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match doomed.websocket.next().await {
                    Some(Ok(Message::Close(frame))) => return frame,
                    Some(Ok(_)) => continue,
                    other => panic!("expected a Close from the gateway, got {other:?}"),
                }
            }
        })
        .await
        .expect("the gateway closes the session")
    });
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Away));
    let fine = rt.block_on(fine).unwrap();
    assert!(fine.clean() && fine.received == 300, "{fine:?}");
}

#[test]
fn a_client_that_drops_mid_stream_and_returns_disturbs_no_one() {
    let p = proxy(&["--admin", "127.0.0.1:0"]);
    let admin = admin_addr(&p);
    let echo = common::echo();
    let rt = runtime();
    let url = format!("ws://{}/restart", echo.addr);
    let client = soak::client(&p.url());
    let (c2, url2) = (client.clone(), url.clone());
    // The restarting client: a session cut off without a Close while it runs, then a new one.
    let cut = rt.spawn(async move {
        soak::session(&c2, &url2, 99, 1_000_000, Duration::from_millis(1)).await
    });
    let start = Instant::now();
    while !status(admin).contains("\"bytes_up\":") || status(admin).contains("\"bytes_up\":0,") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the restarting session never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let others = rt.spawn(soak::run(p.url(), echo.addr.to_string(), 8, 400));
    std::thread::sleep(Duration::from_millis(200));
    cut.abort();
    let again = rt.block_on(soak::session(
        &client,
        &url,
        100,
        200,
        Duration::from_millis(1),
    ));
    let others = rt.block_on(others).unwrap();
    assert!(others.clean() && others.received == 8 * 400, "{others:?}");
    assert!(again.clean() && again.received == 200, "{again:?}");
    // Every tunnel ended and was logged, the dropped one included (client_close or
    // client_error, or upstream_close when the echo server noticed first).
    let start = Instant::now();
    while p.stdout().matches(" 200 ").count() < 10 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        p.stdout().matches(" 200 ").count(),
        10,
        "{}\n{}",
        p.stdout(),
        status(admin)
    );
    assert!(
        status(admin).contains("\"tunnels\":[]"),
        "a tunnel leaked: {}",
        status(admin)
    );
}

/// The proxy's `/api/status` JSON.
fn status(admin: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(admin).unwrap();
    write!(
        tcp,
        "GET /api/status HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = tcp.read_to_string(&mut out);
    out
}

#[test]
fn sigterm_drains_sessions_within_the_grace_period_and_cuts_none_early() {
    let mut p = proxy(&["--grace", "20"]);
    let echo = common::echo();
    let rt = runtime();
    let load = rt.spawn(soak::run(p.url(), echo.addr.to_string(), 10, 300));
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    p.process().signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        std::net::TcpStream::connect(p.addr).is_err(),
        "still accepting after SIGTERM"
    );
    let report = rt.block_on(load).unwrap();
    assert!(
        report.clean() && report.received == 10 * 300,
        "a session was cut early: {report:?}"
    );
    assert_eq!(exit_code(&mut p, Duration::from_secs(20)), Some(0));
    assert!(
        signalled.elapsed() < Duration::from_secs(15),
        "the proxy waited for nothing"
    );
    assert!(
        !p.stdout().contains(" drain"),
        "no tunnel needed cutting: {}",
        p.stdout()
    );
}
