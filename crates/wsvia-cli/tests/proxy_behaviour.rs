//! `wsvia proxy`'s promises, each provoked for real on loopback: tunnels for our own
//! client (ws, wss, Basic, Digest), pipelined bytes, HTTP/1.0, limits (503 +
//! Retry-After), the head timeout (408), destination rules (403), the open-relay refusal,
//! upstream failures (502), the idle timeout, the drain on SIGTERM, and metrics.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{assert_round_trip, ca_and_localhost_cert, echo, echo_tls, htpasswd, proxy};
use wsvia_testkit::{Run, WsviaProcess};

/// An htdigest line (`user:realm:MD5(user:realm:pass)`), the MD5 from coreutils.
fn htdigest(dir: &std::path::Path, user: &str, realm: &str, pass: &str) -> String {
    let mut child = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{user}:{realm}:{pass}").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let ha1 = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let path = dir.join("users.htdigest");
    std::fs::write(&path, format!("{user}:{realm}:{ha1}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Send raw bytes to the proxy and read what comes back until `until` appears or it closes.
fn raw(addr: std::net::SocketAddr, send: &[u8], until: &str) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(send).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(until) {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    (tcp, String::from_utf8_lossy(&got).into_owned())
}

fn connect_head(target: &str) -> Vec<u8> {
    format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").into_bytes()
}

#[test]
fn our_client_crosses_it_for_ws_and_wss() {
    let p = proxy(&[]);
    let (ca, cert) = ca_and_localhost_cert();
    let ws = echo();
    let wss = echo_tls(&cert);
    let ca_pem = ca.ca_pem();
    assert_round_trip(&["-x", &p.url(), &format!("ws://{}/", ws.addr)], &[]);
    assert_round_trip(
        &[
            "-x",
            &p.url(),
            "--cacert",
            ca_pem.to_str().unwrap(),
            &format!("wss://localhost:{}/", wss.addr.port()),
        ],
        &[],
    );
    assert!(p.wait_for_stdout(
        &format!("CONNECT localhost:{} 200", wss.addr.port()),
        Duration::from_secs(5)
    ));
    assert!(
        p.stdout().contains(&format!("- CONNECT {} 200", ws.addr)),
        "{}",
        p.stdout()
    );
}

#[test]
fn basic_and_digest_auth_admit_the_right_user_and_407_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let basic = htpasswd(dir.path(), "alice", "s3cret");
    let digest = htdigest(dir.path(), "dave", "wsvia", "d1g");
    let p = proxy(&["--auth-file", &basic, "--digest-file", &digest]);
    let server = echo();
    let url = format!("ws://{}/", server.addr);
    assert_round_trip(&["-x", &p.url(), "-U", "alice:s3cret", &url], &[]);
    let run = assert_round_trip(
        &[
            "-x",
            &p.url(),
            "-U",
            "dave:d1g",
            "--proxy-anyauth",
            "--trace",
            &url,
        ],
        &[],
    );
    assert!(
        run.stderr
            .contains("Proxy-Authorization: Digest <redacted>"),
        "{run:#?}"
    );
    assert!(
        p.wait_for_stdout("dave CONNECT", Duration::from_secs(5)),
        "{}",
        p.stdout()
    );
    assert!(p.stdout().contains("alice CONNECT"));

    let run = common::connect(&["-x", &p.url(), "-U", "alice:wrong", &url], "", &[]);
    run.assert_code(7);
    let run = common::connect(&["-x", &p.url(), &url], "", &[]);
    run.assert_code(6);
    assert!(run.stderr.contains("Digest realm=\"wsvia\""), "{run:#?}");
    assert!(run.stderr.contains("Basic realm=\"wsvia\""), "{run:#?}");
    assert!(p.wait_for_stdout("407 up=0 down=0", Duration::from_secs(5)));
    assert!(p.stdout().contains("alice CONNECT") && p.stdout().contains("auth_fail"));
    for secret in ["wrong", "s3cret", "d1g"] {
        assert!(
            !p.stdout().contains(secret) && !p.stderr().contains(secret),
            "a password was logged"
        );
    }
}

#[test]
fn bytes_pipelined_after_connect_reach_the_server_and_http10_clients_get_http10() {
    let p = proxy(&[]);
    let server = echo();
    let upgrade = format!(
        "GET / HTTP/1.1\r\nHost: {0}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.addr
    );
    let mut both = connect_head(&server.addr.to_string());
    both.extend_from_slice(upgrade.as_bytes());
    let (_tcp, got) = raw(p.addr, &both, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert!(
        got.starts_with("HTTP/1.1 200 Connection established\r\n"),
        "{got}"
    );
    assert!(got.contains("101 Switching Protocols"), "{got}");

    let head = format!("CONNECT {} HTTP/1.0\r\n\r\n", server.addr);
    let (_tcp, got) = raw(p.addr, head.as_bytes(), "\r\n\r\n");
    assert!(
        got.starts_with("HTTP/1.0 200 Connection established\r\n"),
        "{got}"
    );
}

#[test]
fn tunnel_limits_answer_503_with_retry_after_and_free_the_slot_on_close() {
    let p = proxy(&["--max-tunnels", "1"]);
    let server = echo();
    let target = server.addr.to_string();
    let (held, got) = raw(p.addr, &connect_head(&target), "\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let (_, got) = raw(p.addr, &connect_head(&target), "\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 503 Service Unavailable"), "{got}");
    assert!(got.contains("Retry-After: 5\r\n"), "{got}");
    assert!(got.contains("error=connection_limit_reached"), "{got}");
    drop(held);
    assert!(p.wait_for_stdout("client_close", Duration::from_secs(5)));
    let (_, got) = raw(p.addr, &connect_head(&target), "\r\n\r\n");
    assert!(
        got.starts_with("HTTP/1.1 200"),
        "the slot was not freed: {got}"
    );
    assert!(p.stdout().contains("503 up=0 down=0") && p.stdout().contains(" limit"));
}

#[test]
fn per_client_limit_counts_each_address() {
    let p = proxy(&["--max-tunnels-per-client", "1"]);
    let server = echo();
    let target = server.addr.to_string();
    let (_held, got) = raw(p.addr, &connect_head(&target), "\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let (_, got) = raw(p.addr, &connect_head(&target), "\r\n\r\n");
    assert!(
        got.contains("client address already has 1 tunnels open"),
        "{got}"
    );
}

#[test]
fn a_request_head_that_never_ends_gets_408() {
    let p = proxy(&["--header-timeout", "0.5"]);
    let start = Instant::now();
    let (_, got) = raw(
        p.addr,
        b"CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: x",
        "\r\n\r\n",
    );
    assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(p.wait_for_stdout(" 408 ", Duration::from_secs(5)));
}

#[test]
fn destination_rules_answer_403_with_the_reason() {
    let server = echo();
    let target = server.addr.to_string();
    let p = proxy(&["--allow-ports", "443"]);
    let (_, got) = raw(p.addr, &connect_head(&target), "\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 403 Forbidden"), "{got}");
    assert!(
        got.contains(&format!("port {} is not allowed", server.addr.port())),
        "{got}"
    );
    let p = proxy(&["--deny", "127.0.0.0/8"]);
    let (_, got) = raw(p.addr, &connect_head(&target), "\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 403"), "{got}");
    assert!(p.wait_for_stdout("acl_deny", Duration::from_secs(5)));
}

#[test]
fn beyond_loopback_it_refuses_to_be_an_open_relay_and_denies_private_destinations() {
    let run = Run::new(
        common::wsvia(),
        &["proxy", "--listen", "0.0.0.0:0"],
        b"",
        &[],
        Duration::from_secs(10),
    );
    run.assert_code(2);
    assert!(
        run.stderr.contains("refusing to run an open proxy"),
        "{run:#?}"
    );

    let server = echo();
    let p = WsviaProcess::start(
        common::wsvia(),
        &["proxy", "--listen", "0.0.0.0:0", "--open"],
    );
    let addr = ([127, 0, 0, 1], p.addr.port()).into();
    for target in [
        server.addr.to_string(),
        format!("localhost:{}", server.addr.port()),
    ] {
        let (_, got) = raw(addr, &connect_head(&target), "\r\n\r\n");
        assert!(got.starts_with("HTTP/1.1 403"), "{target}: {got}");
        assert!(got.contains("private address"), "{got}");
    }
    let p = WsviaProcess::start(
        common::wsvia(),
        &[
            "proxy",
            "--listen",
            "0.0.0.0:0",
            "--open",
            "--allow-private",
        ],
    );
    let addr = ([127, 0, 0, 1], p.addr.port()).into();
    let (_, got) = raw(addr, &connect_head(&server.addr.to_string()), "\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
}

#[test]
fn an_upstream_that_refuses_gets_502_with_the_reason() {
    let p = proxy(&[]);
    let dead = format!("127.0.0.1:{}", wsvia_testkit::net::free_port());
    let (_, got) = raw(
        p.addr,
        &connect_head(&dead),
        "Connection refused (os error 111)\n",
    );
    assert!(got.starts_with("HTTP/1.1 502 Bad Gateway"), "{got}");
    assert!(got.contains("error=connection_refused"), "{got}");
    assert!(got.contains("Connection refused"), "{got}");
}

#[test]
fn idle_tunnels_close_after_the_idle_timeout() {
    let p = proxy(&["--idle-timeout", "0.5"]);
    let server = echo();
    let (mut tcp, got) = raw(p.addr, &connect_head(&server.addr.to_string()), "\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let mut buf = [0u8; 16];
    let start = Instant::now();
    let n = tcp.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the proxy should close the idle tunnel");
    assert!(start.elapsed() >= Duration::from_millis(400));
    assert!(
        p.wait_for_stdout("idle_timeout", Duration::from_secs(5)),
        "{}",
        p.stdout()
    );
}

#[test]
fn sigterm_stops_accepting_drains_then_cuts_and_exits_0() {
    let mut p = proxy(&["--grace", "1.5"]);
    let server = echo();
    let (mut tunnel, got) = raw(p.addr, &connect_head(&server.addr.to_string()), "\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    p.process().signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect(p.addr).is_err(),
        "the proxy still accepts after SIGTERM"
    );
    // The tunnel still carries bytes during the grace period: a WebSocket upgrade works.
    let upgrade = "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    tunnel.write_all(upgrade.as_bytes()).unwrap();
    let mut buf = [0u8; 1024];
    let n = tunnel.read(&mut buf).unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).contains("101"),
        "the tunnel was cut early"
    );
    let start = Instant::now();
    let code = loop {
        if let Ok(Some(status)) = p.process().child_mut().try_wait() {
            break status.code();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the proxy did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
    assert!(
        p.wait_for_stdout(" drain", Duration::from_secs(2)),
        "{}",
        p.stdout()
    );
}

#[test]
fn metrics_count_tunnels_by_reason() {
    let metrics_port = wsvia_testkit::net::free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let p = proxy(&["--metrics", &metrics_addr]);
    let server = echo();
    assert_round_trip(&["-x", &p.url(), &format!("ws://{}/", server.addr)], &[]);
    let dead = format!("127.0.0.1:{}", wsvia_testkit::net::free_port());
    raw(p.addr, &connect_head(&dead), "\r\n\r\n");
    assert!(p.wait_for_stdout("upstream_error", Duration::from_secs(5)));
    let (_, got) = raw(
        metrics_addr.parse().unwrap(),
        b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n",
        "# EOF",
    );
    // The WebSocket server closes TCP first after the close handshake (RFC 6455 §7.1.1).
    assert!(
        got.contains("wsvia_proxy_closes_total{reason=\"upstream_close\"} 1"),
        "{got}"
    );
    assert!(
        got.contains("wsvia_proxy_requests_total{method=\"CONNECT\",status=\"502\"} 1"),
        "{got}"
    );
    assert!(
        got.contains("wsvia_proxy_closes_total{reason=\"upstream_error\"} 1"),
        "{got}"
    );
    assert!(got.contains("wsvia_proxy_tunnels_active 0"), "{got}");
    assert!(
        got.contains("wsvia_proxy_bytes_total{direction=\"up\"}"),
        "{got}"
    );
}
