//! `wsvia gateway` among real peers nobody here wrote, all on 127.0.0.1. One test each:
//!
//! - **nginx in front**: client → nginx → gateway → Python `websockets` echo. Round trip;
//!   the origin sees `X-Forwarded-For: 127.0.0.1, 127.0.0.1` (nginx's, then the
//!   gateway's); both access logs show the `101`.
//! - **nginx behind**: `wsvia connect` → gateway (`/=http://nginx/`) → nginx → `wsvia
//!   echo`. Round trip; nginx logs the `101`.
//! - **nginx `proxy_read_timeout 2s`, gateway `--ping-interval 1`**: a WebSocket idle for
//!   10 s stays open and still echoes.
//! - **the same with `--ping-interval 0`**: nginx cuts it after ~2 s; the client sees the
//!   TCP connection end without a Close frame (1006), nginx logs `upstream timed out`.
//! - **a frozen upstream**: gateway `--ping-interval 0.5 --ping-timeout 1` → Python echo
//!   under `SIGSTOP`: the client gets Close 1011 within seconds; the log says
//!   `ping_timeout`.
//! - **SNI router**: curl → `--sni-listen` → two `openssl s_server` with certificates for
//!   `a.test` and `b.test`: each name reaches its own backend; `c.test` is closed and
//!   logged.
//! - **SNI router + PROXY v2**: curl → `--sni-proxy-protocol` → nginx `listen … ssl
//!   proxy_protocol`: nginx reports curl's own address and port.
//! - **Chromium through the TCP bridge**: headless Chromium loads a page (Python
//!   `http.server` behind the gateway) whose script sends "hello" as binary to `/tcp`
//!   (socat `EXEC:cat`), shows the echo, then sends text and sees Close 1003.
//! - **text to the TCP bridge**: `wsvia connect -v` gets Close 1003 and its reason.
//!
//! The Python client (`crates/wsvia-testkit/python/ws_session.py`) is driven one command
//! at a time, so a test can hold a WebSocket idle or watch for its Close. `scripts/test`
//! installs every peer (nginx-light, openssl, socat, chromium, the venv, the npm packages).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{assert_round_trip, echo, wsvia};
use wsvia_testkit::{
    HttpServer, Nginx, OpensslServer, PythonEcho, Run, SocatEcho, Spawned, TestCa, WsSession,
    WsviaProcess, node, require,
};

/// nginx's own default; long enough never to matter where the test is not about it.
const NGINX_READ_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// nginx

#[test]
fn nginx_in_front_of_the_gateway_reaches_a_python_echo() {
    let origin = PythonEcho::start();
    let gateway = gateway(&["--route", &format!("/={}", origin.url("ws", ""))]);
    let nginx = Nginx::reverse_proxy(&gateway.url(), NGINX_READ_TIMEOUT);
    let front = format!("ws://{}", nginx.addr);

    assert_round_trip(&[&format!("{front}/")], &[]);

    // The origin's first message is the upgrade request it got: nginx's X-Forwarded-For,
    // the gateway's address appended, and the gateway's own Host for the origin.
    let mut client = WsSession::connect(&format!("{front}/headers"));
    let headers = client.recv(Duration::from_secs(5));
    for expected in [
        r#""x-forwarded-for": "127.0.0.1, 127.0.0.1""#,
        &format!(r#""host": "127.0.0.1:{}""#, origin.port),
    ] {
        assert!(headers.contains(expected), "{expected} in {headers}");
    }
    client.send("über nginx");
    assert_eq!(client.recv(Duration::from_secs(5)), "message über nginx");
    assert_eq!(client.close(), "closed 1000");

    access_line(&gateway, &["GET /headers 101", "client_close"]);
    let log = nginx.access_log();
    assert_eq!(log.matches("\"GET / HTTP/1.1\" 101 ").count(), 1, "{log}");
    assert_eq!(
        log.matches("\"GET /headers HTTP/1.1\" 101 ").count(),
        1,
        "{log}"
    );
}

#[test]
fn the_gateway_in_front_of_nginx_reaches_wsvia_echo() {
    let origin = echo();
    let nginx = Nginx::reverse_proxy(&origin.url(), NGINX_READ_TIMEOUT);
    let gateway = gateway(&["--route", &format!("/={}/", nginx.url())]);

    assert_round_trip(&[&format!("ws://{}/", gateway.addr)], &[]);

    let line = access_line(&gateway, &["GET / 101"]);
    assert!(line.contains("up=11 down=11"), "{line}"); // "hello" + "wörld" (UTF-8), each way
    let log = nginx.access_log();
    assert_eq!(log.matches("\"GET / HTTP/1.1\" 101 ").count(), 1, "{log}");
}

/// nginx (2 s `proxy_read_timeout`) → gateway (`--ping-interval SECS`) → Python echo.
fn behind_nginx_with_a_2s_read_timeout(ping_interval: &str) -> (PythonEcho, WsviaProcess, Nginx) {
    let origin = PythonEcho::start();
    let gateway = gateway(&[
        "--route",
        &format!("/={}", origin.url("ws", "")),
        "--ping-interval",
        ping_interval,
    ]);
    let nginx = Nginx::reverse_proxy(&gateway.url(), Duration::from_secs(2));
    (origin, gateway, nginx)
}

#[test]
fn gateway_pings_keep_an_idle_websocket_open_through_nginx_read_timeout() {
    let (_origin, gateway, nginx) = behind_nginx_with_a_2s_read_timeout("1");

    let mut client = WsSession::connect(&format!("ws://{}/", nginx.addr));
    // Five times nginx's read timeout without a message either way.
    assert_eq!(client.recv(Duration::from_secs(10)), "timeout");
    client.send("still here");
    assert_eq!(client.recv(Duration::from_secs(5)), "message still here");
    assert_eq!(client.close(), "closed 1000");

    access_line(&gateway, &["GET / 101", "client_close"]);
    assert!(
        !nginx.error_log().contains("timed out"),
        "{}",
        nginx.error_log()
    );
}

#[test]
fn without_gateway_pings_nginx_cuts_an_idle_websocket_after_its_read_timeout() {
    let (_origin, gateway, nginx) = behind_nginx_with_a_2s_read_timeout("0");

    let mut client = WsSession::connect(&format!("ws://{}/", nginx.addr));
    let opened = Instant::now();
    // nginx closes both TCP connections: no Close frame reaches the client (1006).
    assert_eq!(client.recv(Duration::from_secs(10)), "closed none");
    assert_between(opened.elapsed(), 1.5, 4.0, "nginx's 2 s read timeout");

    let errors = nginx.error_log();
    assert!(
        errors.contains(
            "upstream timed out (110: Connection timed out) while proxying upgraded connection"
        ),
        "{errors}"
    );
    // To the gateway, its client (nginx) vanished without a Close frame.
    let line = access_line(&gateway, &["GET / 101"]);
    assert!(line.ends_with(" client_error"), "{line}");
    assert!(line.contains("up=0 down=0"), "{line}");
}

// ---------------------------------------------------------------------------------------
// A peer that stops answering

#[test]
fn a_frozen_upstream_is_closed_with_1011_after_the_ping_timeout() {
    let mut origin = PythonEcho::start();
    let gateway = gateway(&[
        "--route",
        &format!("/={}", origin.url("ws", "")),
        "--ping-interval",
        "0.5",
        "--ping-timeout",
        "1",
    ]);
    let mut client = WsSession::connect(&format!("ws://{}/", gateway.addr));
    client.send("hello");
    assert_eq!(client.recv(Duration::from_secs(5)), "message hello");

    let _frozen = Frozen::stop(origin.process());
    let frozen_at = Instant::now();
    // A ping within 0.5 s, no answer for 1 s: at most 1.5 s plus scheduling.
    assert_eq!(
        client.recv(Duration::from_secs(10)),
        "closed 1011 peer did not answer pings"
    );
    assert_between(
        frozen_at.elapsed(),
        0.9,
        4.0,
        "ping interval + ping timeout",
    );
    let line = access_line(&gateway, &["GET / 101"]);
    assert!(line.contains("up=5 down=5"), "{line}");
    assert!(line.ends_with(" ping_timeout"), "{line}");
}

// ---------------------------------------------------------------------------------------
// SNI router

#[test]
fn sni_router_sends_each_name_to_its_backend_and_closes_unknown_names() {
    let ca = TestCa::new();
    let site = |name: &str| {
        let cert = ca.server_cert(name, &[&format!("{name}.test")]);
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("who.txt"), format!("backend {name}\n"))
            .expect("write who.txt");
        (OpensslServer::start_www(&cert, dir.path()), dir)
    };
    let (a, _a_dir) = site("a");
    let (b, _b_dir) = site("b");
    let router = WsviaProcess::start(
        wsvia(),
        &[
            "gateway",
            "--sni-listen",
            "127.0.0.1:0",
            "--sni-route",
            &format!("a.test=127.0.0.1:{}", a.port),
            "--sni-route",
            &format!("b.test=127.0.0.1:{}", b.port),
        ],
    );
    let port = router.addr.port();

    // curl checks the certificate against the name, and the file says which server it is.
    for (name, backend) in [("a.test", a.port), ("b.test", b.port)] {
        let run = curl_https(name, port, &ca.ca_pem(), "/who.txt", &[]);
        run.assert_code(0);
        assert_eq!(run.stdout, format!("backend {}\n", &name[..1]), "{run:#?}");
        access_line(
            &router,
            &[&format!(" - SNI {name} -> 127.0.0.1:{backend} 200 ")],
        );
    }

    let run = curl_https("c.test", port, &ca.ca_pem(), "/who.txt", &[]);
    // 35: the TLS handshake failed (the router closed the connection after the hello).
    run.assert_code(35);
    let line = access_line(&router, &[" - SNI c.test 0 "]);
    assert!(line.contains("up=0 down=0"), "{line}");
    assert!(line.ends_with(" bad_request"), "{line}");
    assert!(
        router.stderr().contains("no SNI route for this name"),
        "{}",
        router.stderr()
    );
}

#[test]
fn sni_router_with_proxy_protocol_tells_nginx_the_client_address() {
    let ca = TestCa::new();
    let cert = ca.server_cert("a", &["a.test"]);
    let nginx = Nginx::proxy_protocol_reporter(&cert);
    let router = WsviaProcess::start(
        wsvia(),
        &[
            "gateway",
            "--sni-listen",
            "127.0.0.1:0",
            "--sni-route",
            &format!("a.test={}", nginx.addr),
            "--sni-proxy-protocol",
        ],
    );
    let port = router.addr.port();

    // curl prints its own end of the connection after the body.
    let run = curl_https(
        "a.test",
        port,
        &ca.ca_pem(),
        "/",
        &["-w", "%{local_ip}:%{local_port}"],
    );
    run.assert_code(0);
    let (body, curl_end) = run.stdout.split_once('\n').expect("body line, then curl's");
    assert_eq!(
        body,
        format!("client {curl_end} server 127.0.0.1:{port}"),
        "{run:#?}"
    );
    access_line(
        &router,
        &[&format!("{curl_end} - SNI a.test -> {} 200 ", nginx.addr)],
    );
}

// ---------------------------------------------------------------------------------------
// Chromium through the WebSocket-to-TCP bridge

#[test]
fn chromium_sends_binary_through_the_tcp_bridge_and_text_gets_1003() {
    require(
        "/usr/bin/chromium",
        "apt-get install -y --no-install-recommends chromium",
    );
    let site = tempfile::tempdir().expect("temporary directory");
    std::fs::write(site.path().join("bridge.html"), BRIDGE_PAGE).expect("write the page");
    let pages = HttpServer::start(site.path());
    let tcp_echo = SocatEcho::start();
    let gateway = gateway(&[
        "--route",
        &format!("/tcp=tcp://127.0.0.1:{}", tcp_echo.port),
        "--route",
        &format!("/=http://127.0.0.1:{}", pages.port),
    ]);

    let url = format!("http://{}/bridge.html", gateway.addr);
    let run = node::run_script("chromium_page.mjs", &[&url], Duration::from_secs(60));
    assert_eq!(
        run.stdout.trim(),
        "result: binary 5 bytes: hello; closed 1003 clean: \
         text messages are not accepted; send binary",
        "{run:#?}\ngateway log:\n{}",
        gateway.stdout()
    );
    run.assert_code(0);

    access_line(&gateway, &["GET /bridge.html 200"]);
    let line = access_line(
        &gateway,
        &[&format!(
            "GET /tcp -> tcp://127.0.0.1:{} 101 ",
            tcp_echo.port
        )],
    );
    assert!(line.contains("up=5 down=5"), "{line}");
    assert!(line.ends_with(" client_error"), "{line}"); // the refused text
}

#[test]
fn text_to_the_tcp_bridge_is_refused_with_1003() {
    let tcp_echo = SocatEcho::start();
    let gateway = gateway(&[
        "--route",
        &format!("/tcp=tcp://127.0.0.1:{}", tcp_echo.port),
    ]);
    let run = Run::interactive(
        wsvia(),
        &["connect", "-v", &format!("ws://{}/tcp", gateway.addr)],
        b"hello\n",
        "server closed the WebSocket",
        &[],
        Duration::from_secs(20),
    );
    assert!(
        run.stderr.contains(
            "wsvia: server closed the WebSocket: 1003 text messages are not accepted; send binary\n"
        ),
        "{run:#?}"
    );
    assert_eq!(run.stdout, "", "{run:#?}");
    let line = access_line(&gateway, &["GET /tcp -> tcp://"]);
    assert!(line.contains(" 101 up=0 down=0 "), "{line}");
    assert!(line.ends_with(" client_error"), "{line}");
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Opens `ws://HOST/tcp` (HOST: where the page came from), sends the bytes of "hello" as
/// one binary message, collects the echo, then sends a text message, which the bridge
/// refuses: `#result` tells what came back and how the WebSocket closed.
const BRIDGE_PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>bridge</title>
<p id="result"></p>
<p id="error"></p>
<script>
const show = (id, text) => { document.getElementById(id).textContent = text; };
const ws = new WebSocket(`ws://${location.host}/tcp`);
ws.binaryType = 'arraybuffer';
const got = [];
let echoed = '';
ws.onopen = () => ws.send(new TextEncoder().encode('hello'));
ws.onmessage = (event) => {
  if (typeof event.data === 'string') {
    show('error', `unexpected text message: ${event.data}`);
    return;
  }
  got.push(...new Uint8Array(event.data));
  if (got.length >= 5 && !echoed) {
    echoed = `binary ${got.length} bytes: ${new TextDecoder().decode(new Uint8Array(got))}`;
    ws.send('a text message');
  }
};
ws.onclose = (event) => {
  const how = `closed ${event.code} ${event.wasClean ? 'clean' : 'unclean'}: ${event.reason}`;
  if (echoed) show('result', `${echoed}; ${how}`);
  else show('error', `${how} before the echo`);
};
</script>
"#;

/// `wsvia gateway --listen 127.0.0.1:0 ARGS…`
fn gateway(args: &[&str]) -> WsviaProcess {
    let mut all = vec!["gateway", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    WsviaProcess::start(wsvia(), &all)
}

/// Wait up to 10 s for an access-log line holding every one of `parts` (a line is
/// written when its request or session ends); panic with the whole log when none comes.
fn access_line(server: &WsviaProcess, parts: &[&str]) -> String {
    let start = Instant::now();
    loop {
        let log = server.stdout();
        if let Some(line) = log.lines().find(|l| parts.iter().all(|p| l.contains(p))) {
            return line.to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no access-log line with {parts:?}; log:\n{log}\nstderr:\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `curl https://NAME:PORT/PATH` with NAME resolved to 127.0.0.1 by curl itself (no DNS)
/// and only the test CA trusted.
fn curl_https(name: &str, port: u16, ca: &Path, path: &str, extra: &[&str]) -> Run {
    let curl = require("curl", "apt-get install -y curl");
    let resolve = format!("{name}:{port}:127.0.0.1");
    let url = format!("https://{name}:{port}{path}");
    let mut args = vec![
        "-sS",
        "--noproxy",
        "*",
        "--max-time",
        "10",
        "--resolve",
        &resolve,
        "--cacert",
        ca.to_str().expect("the temp path is UTF-8"),
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    Run::new(&curl, &args, b"", &[], Duration::from_secs(20))
}

fn assert_between(elapsed: Duration, min_secs: f64, max_secs: f64, what: &str) {
    let secs = elapsed.as_secs_f64();
    assert!(
        (min_secs..=max_secs).contains(&secs),
        "{secs:.2}s is not within {min_secs}–{max_secs}s ({what})"
    );
}

/// A process under `SIGSTOP`, sent `SIGCONT` when dropped (also when the test fails), so
/// it can be stopped normally.
struct Frozen<'a>(&'a Spawned);

impl<'a> Frozen<'a> {
    fn stop(process: &'a mut Spawned) -> Frozen<'a> {
        process.signal("STOP");
        Frozen(process)
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.0.signal("CONT");
    }
}
