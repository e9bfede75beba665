//! What reaches the origin: the user's headers and subprotocol, never the proxy's
//! credentials or proxy-only headers; and `--trace` never prints a secret.

mod common;

use std::time::Duration;

use wsvia_testkit::{PythonEcho, Run, Squid, SquidOptions};

#[test]
fn proxy_credentials_and_proxy_headers_stay_with_the_proxy() {
    let squid = Squid::start(&SquidOptions {
        basic_users: vec![("alice".into(), "pa55word".into())],
        ..Default::default()
    });
    let server = PythonEcho::start();
    let url = server.url("ws", "/headers");
    let run = Run::interactive(
        common::wsvia(),
        &[
            "connect",
            "--trace",
            "-x",
            &squid.url_with("alice", "pa55word"),
            "--proxy-header",
            "X-Proxy-Only: p1",
            "-H",
            "X-Origin-Only: o1",
            &url,
        ],
        b"ping\n",
        "ping\n",
        &[],
        Duration::from_secs(20),
    );
    run.assert_code(0);
    let headers = run
        .stdout
        .lines()
        .next()
        .expect("the server's header report");
    assert!(headers.contains("\"x-origin-only\": \"o1\""), "{run:#?}");
    assert!(
        !headers.contains("proxy-authorization"),
        "credentials reached the origin: {headers}"
    );
    assert!(
        !headers.contains("x-proxy-only"),
        "a proxy header reached the origin: {headers}"
    );
    assert!(run.stderr.contains("> X-Proxy-Only: p1"), "{run:#?}");
    // YWxpY2U6cGE1NXdvcmQ= is base64("alice:pa55word").
    for secret in ["pa55word", "YWxpY2U6cGE1NXdvcmQ="] {
        assert!(
            !run.stderr.contains(secret),
            "--trace printed a secret: {run:#?}"
        );
    }
}

#[test]
fn subprotocols_are_offered_to_the_origin() {
    let server = PythonEcho::start();
    let url = server.url("ws", "/headers");
    let run = Run::interactive(
        common::wsvia(),
        &[
            "connect",
            "--protocol",
            "chat",
            "--protocol",
            "superchat",
            &url,
        ],
        b"",
        "}",
        &[],
        Duration::from_secs(20),
    );
    // Python websockets picks no subprotocol unless configured, so the offer is what we check.
    assert!(
        run.stdout
            .contains("\"sec-websocket-protocol\": \"chat, superchat\""),
        "{run:#?}"
    );
}
