//! `wsvia connect --reconnect`: a busy proxy's 503 is waited out as its `Retry-After`
//! says; a server killed and started again on the same port is reconnected to and the
//! next line is echoed; the end of input and a plain close still end the session.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{connect, echo, wsvia};
use wsvia_testkit::{Session, Squid, SquidOptions, WsviaProcess};

const LIMIT: Duration = Duration::from_secs(20);

/// Hold a CONNECT tunnel through `proxy` to `target` until dropped.
fn hold_tunnel(proxy: std::net::SocketAddr, target: std::net::SocketAddr) -> TcpStream {
    let mut sock = TcpStream::connect(proxy).expect("connect to the proxy");
    write!(sock, "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Read the whole head: a socket closed with unread bytes sends RST, not FIN.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        sock.read_exact(&mut byte).expect("the proxy's answer");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "the slot was not granted"
    );
    sock
}

fn echo_on(port: u16) -> WsviaProcess {
    WsviaProcess::start(wsvia(), &["echo", "--listen", &format!("127.0.0.1:{port}")])
}

#[test]
fn a_full_proxys_503_is_retried_after_its_retry_after() {
    let target = echo();
    let proxy = WsviaProcess::start(
        wsvia(),
        &["proxy", "--listen", "127.0.0.1:0", "--max-tunnels", "1"],
    );
    let held = hold_tunnel(proxy.addr, target.addr);
    let started = Instant::now();
    let mut client = Session::start(
        wsvia(),
        &[
            "connect",
            "--reconnect",
            "-v",
            "-x",
            &proxy.url(),
            &format!("ws://{}/", target.addr),
        ],
        &[],
    );
    client.type_line("typed while waiting");
    assert!(
        client.wait_for_stderr("trying again in 5.0 s (as Retry-After asks)", LIMIT),
        "{client:#?}"
    );
    assert!(client.stderr().contains("503"), "{client:#?}");
    drop(held); // the slot frees before the retry
    assert!(
        client.wait_for_stdout("typed while waiting\n", LIMIT),
        "{client:#?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(4500),
        "did not wait for Retry-After: {:?}",
        started.elapsed()
    );
    client.type_line("and after");
    assert!(client.wait_for_stdout("and after\n", LIMIT), "{client:#?}");
    client.end_input();
    assert_eq!(client.wait(LIMIT), Some(0), "{client:#?}");
}

#[test]
fn a_killed_and_restarted_server_is_reconnected_and_the_next_line_echoed() {
    let mut server = echo();
    let port = server.addr.port();
    let mut client = Session::start(
        wsvia(),
        &["connect", "--reconnect", &format!("ws://127.0.0.1:{port}/")],
        &[],
    );
    client.type_line("one");
    assert!(client.wait_for_stdout("one\n", LIMIT), "{client:#?}");
    server.process().signal("KILL");
    assert!(
        client.wait_for_stderr("connection lost", LIMIT),
        "{client:#?}"
    );
    // A line typed while the server is down waits for the new connection.
    client.type_line("two");
    let _server = echo_on(port);
    assert!(
        client.wait_for_stderr("reconnected via DIRECT", LIMIT),
        "{client:#?}"
    );
    assert!(client.wait_for_stdout("two\n", LIMIT), "{client:#?}");
    client.type_line("three");
    assert!(client.wait_for_stdout("three\n", LIMIT), "{client:#?}");
    client.end_input();
    assert_eq!(client.wait(LIMIT), Some(0), "{client:#?}");
    assert_eq!(client.stdout(), "one\ntwo\nthree\n");
}

#[test]
fn through_squid_a_restarted_server_is_reached_again() {
    // squid closes the tunnel when the server dies and answers 503 until it is back.
    let squid = Squid::start(&SquidOptions::default());
    let mut server = echo();
    let port = server.addr.port();
    let mut client = Session::start(
        wsvia(),
        &[
            "connect",
            "--reconnect",
            "-x",
            &squid.url(),
            &format!("ws://127.0.0.1:{port}/"),
        ],
        &[],
    );
    client.type_line("one");
    assert!(client.wait_for_stdout("one\n", LIMIT), "{client:#?}");
    server.process().signal("KILL");
    assert!(
        client.wait_for_stderr("connection lost", LIMIT),
        "{client:#?}"
    );
    // While the server is down, squid's 503 is retried (the session had been up).
    assert!(
        client.wait_for_stderr("refused the tunnel: 503", LIMIT),
        "{client:#?}"
    );
    let _server = echo_on(port);
    client.type_line("two");
    assert!(client.wait_for_stdout("two\n", LIMIT), "{client:#?}");
    client.end_input();
    assert_eq!(client.wait(LIMIT), Some(0), "{client:#?}");
}

#[test]
fn a_server_shutting_down_with_1001_is_reconnected() {
    let mut server = echo();
    let port = server.addr.port();
    let mut client = Session::start(
        wsvia(),
        &["connect", "--reconnect", &format!("ws://127.0.0.1:{port}/")],
        &[],
    );
    client.type_line("one");
    assert!(client.wait_for_stdout("one\n", LIMIT), "{client:#?}");
    server.process().stop(); // SIGTERM: `wsvia echo` closes with 1001 going away
    assert!(
        client.wait_for_stderr("the server closed with 1001 (going away)", LIMIT),
        "{client:#?}"
    );
    let _server = echo_on(port);
    client.type_line("two");
    assert!(client.wait_for_stdout("two\n", LIMIT), "{client:#?}");
    client.end_input();
    assert_eq!(client.wait(LIMIT), Some(0), "{client:#?}");
}

#[test]
fn the_end_of_input_still_ends_the_session_with_reconnect() {
    let server = echo();
    let run = connect(
        &["--reconnect", &format!("ws://{}/", server.addr)],
        "hello\n",
        &[],
    );
    run.assert_code(0);
    assert!(!run.stderr.contains("reconnect"), "{run:#?}");
}

#[test]
fn without_reconnect_a_killed_server_exits_1() {
    let mut server = echo();
    let mut client = Session::start(
        wsvia(),
        &["connect", &format!("ws://{}/", server.addr)],
        &[],
    );
    client.type_line("one");
    assert!(client.wait_for_stdout("one\n", LIMIT), "{client:#?}");
    server.process().signal("KILL");
    assert_eq!(client.wait(LIMIT), Some(1), "{client:#?}");
    assert!(client.stderr().contains("connection lost"), "{client:#?}");
}

#[test]
fn a_refused_first_connection_is_not_retried_forever() {
    // Before any success only a busy proxy is waited for: a dead server fails at once.
    let dead = wsvia_testkit::net::free_port();
    let run = connect(
        &["--reconnect", &format!("ws://127.0.0.1:{dead}/")],
        "",
        &[],
    );
    run.assert_code(10);
}
