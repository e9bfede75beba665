//! The session habits of `wsvia connect`: binary stdin, keepalive pings, the close
//! handshake at end of input.

mod common;

use std::time::Duration;

use wsvia_testkit::{PythonEcho, Run};

#[test]
fn binary_stdin_comes_back_byte_for_byte() {
    let server = common::echo();
    let url = format!("ws://{}/", server.addr);
    let payload: Vec<u8> = (0..=255u8).cycle().take(50_000).collect();
    let expected = String::from_utf8_lossy(&payload).into_owned();
    let run = Run::interactive(
        common::wsvia(),
        &["connect", "--binary", &url],
        &payload,
        &expected[expected.len() - 64..],
        &[],
        Duration::from_secs(20),
    );
    run.assert_code(0);
    assert_eq!(run.stdout.len(), expected.len(), "{:?}", run.stderr);
    assert_eq!(run.stdout, expected);
}

#[test]
fn ping_interval_sends_pings_that_the_server_answers() {
    let server = PythonEcho::start();
    let url = server.url("ws", "/");
    let run = Run::interactive(
        common::wsvia(),
        &["connect", "-v", "--ping-interval", "0.2", &url],
        b"",
        "* pong received",
        &[],
        Duration::from_secs(10),
    );
    run.assert_code(0);
    assert!(run.stderr.contains("* pong received"), "{run:#?}");
}

#[test]
fn end_of_input_sends_close_and_exits_0_after_the_servers_close() {
    let server = common::echo();
    let url = format!("ws://{}/", server.addr);
    let run = common::connect(&["-v", &url], "", &[]);
    run.assert_code(0);
    assert!(
        run.stderr.contains("server closed the WebSocket"),
        "{run:#?}"
    );
}
