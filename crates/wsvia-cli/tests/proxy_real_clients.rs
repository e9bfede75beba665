//! Real clients, written by others, through `wsvia proxy`: each reaches an origin with
//! and without Basic auth, a wrong (or missing) password gets 407, and the proxy's access
//! log must show the request or tunnel with the right user and status.
//!
//! | client                                   | how it crosses the proxy            | origin                         | no auth | Basic | wrong / no password |
//! |------------------------------------------|-------------------------------------|--------------------------------|---------|-------|---------------------|
//! | curl `-p -x`                             | CONNECT                             | Python `http.server`           | ✓       | ✓     | 407 (`http_connect`)|
//! | curl `-x`                                | absolute-form GET                   | Python `http.server`           | ✓       | ✓     | 407 (`http_code`)   |
//! | curl `-x` + hand-made `Upgrade`          | absolute-form GET, 101, tunnel      | `wsvia echo`                   | ✓       | ✓     |                     |
//! | Python `websockets` 17 (`proxy=`)        | CONNECT                             | `wsvia echo`, Python echo, wss | ✓       | ✓     | 407 / 407           |
//! | Python `websocket-client`                | CONNECT                             | `wsvia echo`, Python echo, wss | ✓       | ✓     | 407 / 407           |
//! | Node `ws` + `https-proxy-agent` 9        | CONNECT                             | `wsvia echo`, Python echo      | ✓       | ✓     | 407 / 407           |
//! | websocat over socat `PROXY:`             | CONNECT (socat's)                   | `wsvia echo`                   | ✓       | ✓     | 407                 |
//! | headless Chromium (playwright-core)      | page: absolute-form GET; ws: CONNECT| `http.server` + `wsvia echo`   | ✓       | ✓     | 407 / 407           |
//!
//! The client scripts live in `crates/wsvia-testkit/python/proxy_client.py` and
//! `crates/wsvia-testkit/node/{proxy_client,chromium_ws}.mjs`; `scripts/test` installs
//! every peer (socat, chromium, the npm packages, websocat). Chromium's background
//! requests for Google hosts reach the proxy too: the Chromium proxies only allow the
//! test's ports (`--allow-ports`), so those are refused before any DNS lookup.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{ca_and_localhost_cert, echo, echo_tls, wsvia};
use wsvia_testkit::python::python;
use wsvia_testkit::socat::websocat;
use wsvia_testkit::{HttpServer, PythonEcho, Run, SocatProxyForward, WsviaProcess, node, require};

const USER: &str = "alice";
const PASS: &str = "s3cret";
const ORIGIN_FILE: &str = "hello.txt";
const ORIGIN_TEXT: &str = "hello from the origin\n";
/// The RFC 6455 §1.3 example key and the accept value it must produce.
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const MESSAGES: [&str; 2] = ["hello", "wörld"];

// ---------------------------------------------------------------------------------------
// curl

#[test]
fn curl_connect_and_absolute_form_fetch_a_page_without_auth() {
    let (_dir, origin) = http_origin();
    let proxy = Proxy::start(Auth::None, &[]);
    let url = origin.url(&format!("/{ORIGIN_FILE}"));

    let tunnel = curl_fetch(&proxy, Mode::Connect, None, &url);
    assert_eq!(tunnel.statuses(), (200, 200), "{tunnel:#?}");
    assert_eq!(tunnel.body(), ORIGIN_TEXT, "{tunnel:#?}");
    proxy.assert_logged("-", "CONNECT", &format!("127.0.0.1:{}", origin.port), 200);

    let forwarded = curl_fetch(&proxy, Mode::AbsoluteForm, None, &url);
    assert_eq!(forwarded.statuses(), (0, 200), "{forwarded:#?}");
    assert_eq!(forwarded.body(), ORIGIN_TEXT, "{forwarded:#?}");
    proxy.assert_logged("-", "GET", &url, 200);
}

#[test]
fn curl_connect_and_absolute_form_fetch_a_page_with_basic_auth() {
    let (_dir, origin) = http_origin();
    let proxy = Proxy::start(Auth::Basic, &[]);
    let url = origin.url(&format!("/{ORIGIN_FILE}"));
    let user = format!("{USER}:{PASS}");

    let tunnel = curl_fetch(&proxy, Mode::Connect, Some(&user), &url);
    assert_eq!(tunnel.statuses(), (200, 200), "{tunnel:#?}");
    assert_eq!(tunnel.body(), ORIGIN_TEXT, "{tunnel:#?}");
    proxy.assert_logged(USER, "CONNECT", &format!("127.0.0.1:{}", origin.port), 200);

    let forwarded = curl_fetch(&proxy, Mode::AbsoluteForm, Some(&user), &url);
    assert_eq!(forwarded.statuses(), (0, 200), "{forwarded:#?}");
    assert_eq!(forwarded.body(), ORIGIN_TEXT, "{forwarded:#?}");
    proxy.assert_logged(USER, "GET", &url, 200);
}

#[test]
fn curl_wrong_password_gets_407_for_connect_and_absolute_form() {
    let (_dir, origin) = http_origin();
    let proxy = Proxy::start(Auth::Basic, &[]);
    let url = origin.url(&format!("/{ORIGIN_FILE}"));
    let target = format!("127.0.0.1:{}", origin.port);
    let wrong = format!("{USER}:wrong");

    let tunnel = curl_fetch(&proxy, Mode::Connect, Some(&wrong), &url);
    assert_eq!(tunnel.statuses(), (407, 0), "{tunnel:#?}");
    assert_ne!(tunnel.run.code, Some(0), "{tunnel:#?}");
    proxy.assert_logged(USER, "CONNECT", &target, 407);

    let forwarded = curl_fetch(&proxy, Mode::AbsoluteForm, Some(&wrong), &url);
    assert_eq!(forwarded.statuses(), (0, 407), "{forwarded:#?}");
    assert!(!forwarded.body().contains(ORIGIN_TEXT), "{forwarded:#?}");
    // The 407 line names the target as host:port (see the 101 case below).
    proxy.wait_for_entry(&format!("{USER} GET {target} 407"), |e| {
        e.user == USER && e.method == "GET" && is_target(&e.target, &target) && e.status == 407
    });
}

#[test]
fn curl_hand_made_websocket_upgrade_passes_through_absolute_form() {
    let echo = echo();
    let target = format!("127.0.0.1:{}", echo.addr.port());
    let key = format!("Sec-WebSocket-Key: {WS_KEY}");
    let credentials = format!("{USER}:{PASS}");
    let url = format!("http://{target}/");
    for (auth, user) in [(Auth::None, "-"), (Auth::Basic, USER)] {
        let proxy = Proxy::start(auth, &[]);
        let mut args = vec![
            "-s",
            "-i",
            "--max-time",
            "2",
            "-x",
            proxy.url.as_str(),
            "-H",
            "Connection: Upgrade",
            "-H",
            "Upgrade: websocket",
            "-H",
            "Sec-WebSocket-Version: 13",
            "-H",
            &key,
        ];
        if auth == Auth::Basic {
            args.extend(["-U", credentials.as_str()]);
        }
        args.push(&url);
        let run = curl(&args);
        // curl has no WebSocket support: it waits for a body until --max-time (exit 28).
        assert_eq!(run.code, Some(28), "{run:#?}");
        assert!(
            run.stdout
                .starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
            "{run:#?}"
        );
        // Header names are case-insensitive: the proxy re-cases them
        // (`Sec-Websocket-Accept`), so only the values are compared exactly.
        assert_eq!(
            header(&run.stdout, "sec-websocket-accept"),
            Some(WS_ACCEPT),
            "{run:#?}"
        );
        assert_eq!(
            header(&run.stdout, "upgrade"),
            Some("websocket"),
            "{run:#?}"
        );
        // A forwarded request is logged by its absolute URL (`TunnelRecord::target`).
        proxy.wait_for_entry(&format!("{user} GET {url} 101"), |e| {
            e.user == user
                && e.method == "GET"
                && e.target.starts_with(&format!("http://{target}/"))
                && e.status == 101
        });
    }
}

// ---------------------------------------------------------------------------------------
// Python websockets and websocket-client

#[test]
fn python_websockets_with_and_without_auth() {
    python_client_round_trips("websockets");
}

#[test]
fn python_websockets_wrong_or_missing_password_gets_407() {
    python_client_gets_407("websockets");
}

#[test]
fn python_websocket_client_with_and_without_auth() {
    python_client_round_trips("websocket-client");
}

#[test]
fn python_websocket_client_wrong_or_missing_password_gets_407() {
    python_client_gets_407("websocket-client");
}

#[test]
fn python_clients_carry_wss_through_the_authenticating_proxy() {
    let (ca, cert) = ca_and_localhost_cert();
    let wss = echo_tls(&cert);
    let proxy = Proxy::start(Auth::Basic, &[]);
    let url = format!("wss://127.0.0.1:{}/", wss.addr.port());
    let ca = ca.ca_pem();
    for lib in ["websockets", "websocket-client"] {
        let run = python_client(
            lib,
            &proxy,
            Some((USER, PASS)),
            &["--cafile", ca.to_str().unwrap()],
            &url,
        );
        assert_echoed(&run, lib);
    }
    proxy.assert_logged_times(
        USER,
        "CONNECT",
        &format!("127.0.0.1:{}", wss.addr.port()),
        200,
        2,
    );
}

// ---------------------------------------------------------------------------------------
// Node ws + https-proxy-agent

#[test]
fn node_ws_with_and_without_auth() {
    let echoes = Echoes::start();
    for (auth, user) in [(Auth::None, "-"), (Auth::Basic, USER)] {
        let proxy = Proxy::start(auth, &[]);
        let proxy_url = match auth {
            Auth::None => proxy.url.clone(),
            Auth::Basic => format!("http://{USER}:{PASS}@127.0.0.1:{}", proxy.port),
        };
        for (name, port) in echoes.ports() {
            let run = node_client(&proxy_url, port);
            assert_echoed(&run, &format!("node ws to {name}, auth {auth:?}"));
            proxy.assert_logged(user, "CONNECT", &format!("127.0.0.1:{port}"), 200);
        }
    }
}

#[test]
fn node_ws_wrong_or_missing_password_gets_407() {
    let echo = echo();
    let port = echo.addr.port();
    let proxy = Proxy::start(Auth::Basic, &[]);
    for (proxy_url, user) in [
        (
            format!("http://{USER}:wrong@127.0.0.1:{}", proxy.port),
            USER,
        ),
        (proxy.url.clone(), "-"),
    ] {
        let run = node_client(&proxy_url, port);
        assert_eq!(run.code, Some(1), "{run:#?}");
        assert!(run.stdout.contains("status 407"), "{run:#?}");
        proxy.assert_logged(user, "CONNECT", &format!("127.0.0.1:{port}"), 407);
    }
}

// ---------------------------------------------------------------------------------------
// socat PROXY: + websocat

#[test]
fn socat_websocat_with_and_without_auth() {
    let echo = echo();
    let port = echo.addr.port();
    for (auth, user) in [(Auth::None, "-"), (Auth::Basic, USER)] {
        let proxy = Proxy::start(auth, &[]);
        let credentials = (auth == Auth::Basic).then_some((USER, PASS));
        let socat = SocatProxyForward::start(proxy.port, "127.0.0.1", port, credentials);
        let run = websocat_through(&socat);
        assert_eq!(run.code, Some(0), "{run:#?}\nsocat:\n{}", socat.log());
        assert_eq!(run.stdout, "hello\nwörld\n", "{run:#?}");
        proxy.assert_logged(user, "CONNECT", &format!("127.0.0.1:{port}"), 200);
    }
}

#[test]
fn socat_wrong_password_gets_407() {
    let echo = echo();
    let port = echo.addr.port();
    let proxy = Proxy::start(Auth::Basic, &[]);
    let socat = SocatProxyForward::start(proxy.port, "127.0.0.1", port, Some((USER, "wrong")));
    let run = websocat_through(&socat);
    assert_ne!(run.code, Some(0), "{run:#?}");
    assert_eq!(run.stdout, "", "{run:#?}");
    proxy.assert_logged(USER, "CONNECT", &format!("127.0.0.1:{port}"), 407);
    assert!(
        socat.log().contains("Proxy Authentication Required"),
        "socat should report the 407:\n{}",
        socat.log()
    );
}

// ---------------------------------------------------------------------------------------
// Headless Chromium driven by playwright-core

#[test]
fn chromium_loads_a_page_and_its_websocket_through_the_proxy() {
    let page = ChromiumPage::start();
    let proxy = page.proxy(Auth::None);
    let run = page.run(&proxy, None);
    assert_eq!(
        run.code,
        Some(0),
        "{run:#?}\nproxy log:\n{}",
        proxy.server.stdout()
    );
    assert_eq!(
        run.stdout.trim(),
        format!("echo: {}", ChromiumPage::MESSAGE),
        "{run:#?}"
    );
    proxy.assert_logged("-", "GET", &page.url, 200);
    proxy.assert_logged("-", "CONNECT", &page.echo_target(), 200);
    proxy.assert_only_loopback_was_reached();
}

#[test]
fn chromium_with_playwright_proxy_credentials_passes_basic_auth() {
    let page = ChromiumPage::start();
    let proxy = page.proxy(Auth::Basic);
    let run = page.run(&proxy, Some((USER, PASS)));
    assert_eq!(
        run.code,
        Some(0),
        "{run:#?}\nproxy log:\n{}",
        proxy.server.stdout()
    );
    assert_eq!(
        run.stdout.trim(),
        format!("echo: {}", ChromiumPage::MESSAGE),
        "{run:#?}"
    );
    // Chromium sends no credentials until challenged: a 407 first, then the answer.
    let origin = format!("127.0.0.1:{}", page.origin.port);
    proxy.wait_for_entry("the page's first GET, without credentials: 407", |e| {
        e.user == "-" && e.method == "GET" && is_target(&e.target, &origin) && e.status == 407
    });
    proxy.assert_logged(USER, "GET", &page.url, 200);
    proxy.assert_logged(USER, "CONNECT", &page.echo_target(), 200);
    proxy.assert_only_loopback_was_reached();
}

#[test]
fn chromium_without_or_with_wrong_credentials_gets_407() {
    let page = ChromiumPage::start();
    let proxy = page.proxy(Auth::Basic);
    let origin = format!("127.0.0.1:{}", page.origin.port);
    let is_page_407 = |user: &'static str| {
        let origin = origin.clone();
        move |e: &Entry| {
            e.user == user && e.method == "GET" && is_target(&e.target, &origin) && e.status == 407
        }
    };

    // No credentials: headless Chromium cannot prompt, so the load fails on the 407.
    let run = page.run(&proxy, None);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(
        run.stdout.contains("net::ERR_INVALID_AUTH_CREDENTIALS"),
        "{run:#?}"
    );
    proxy.wait_for_entry("the page's GET without credentials: 407", is_page_407("-"));

    // A wrong password: playwright answers the challenge once, then the 407 page shows.
    let run = page.run(&proxy, Some((USER, "wrong")));
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(run.stdout.trim(), "error: page status 407", "{run:#?}");
    proxy.wait_for_entry(
        "the page's GET with a wrong password: 407",
        is_page_407(USER),
    );
    assert!(
        !proxy
            .server
            .stdout()
            .contains(&format!(" CONNECT {} 200", page.echo_target())),
        "no WebSocket tunnel without the right password:\n{}",
        proxy.server.stdout()
    );
    proxy.assert_only_loopback_was_reached();
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Whether the proxy asks for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    /// Basic, with an htpasswd file holding `USER:PASS` (bcrypt, written by `htpasswd`).
    Basic,
}

/// A `wsvia proxy` on a free port and its access log.
struct Proxy {
    server: WsviaProcess,
    port: u16,
    /// `http://127.0.0.1:PORT`
    url: String,
    _dir: tempfile::TempDir,
}

/// One access-log line: `client user method target status up= down= secs reason`.
#[derive(Debug)]
struct Entry {
    user: String,
    method: String,
    target: String,
    status: u16,
}

impl Proxy {
    fn start(auth: Auth, extra: &[&str]) -> Proxy {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut args = vec!["proxy", "--listen", "127.0.0.1:0"];
        let htpasswd = dir.path().join("users.htpasswd");
        if auth == Auth::Basic {
            let tool = require("htpasswd", "apt-get install -y apache2-utils");
            let status = std::process::Command::new(tool)
                .args(["-b", "-c", "-B"])
                .arg(&htpasswd)
                .args([USER, PASS])
                .stderr(std::process::Stdio::null())
                .status()
                .expect("run htpasswd");
            assert!(status.success(), "htpasswd failed");
            args.extend(["--auth-file", htpasswd.to_str().unwrap()]);
        }
        args.extend_from_slice(extra);
        let server = WsviaProcess::start(wsvia(), &args);
        let port = server.addr.port();
        Proxy {
            url: format!("http://127.0.0.1:{port}"),
            port,
            server,
            _dir: dir,
        }
    }

    fn entries(&self) -> Vec<Entry> {
        self.server
            .stdout()
            .lines()
            .filter_map(parse_entry)
            .collect()
    }

    /// Wait up to 10 s for a log line matching `matches` (lines are written when a
    /// request or tunnel ends); panic with the whole log when none comes.
    fn wait_for_entry(&self, what: &str, matches: impl Fn(&Entry) -> bool) -> Entry {
        let start = std::time::Instant::now();
        loop {
            if let Some(entry) = self.entries().into_iter().find(|e| matches(e)) {
                return entry;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the proxy's access log has no line for {what}; log:\n{}\nstderr:\n{}",
                self.server.stdout(),
                self.server.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Some line says `USER METHOD TARGET STATUS`.
    fn assert_logged(&self, user: &str, method: &str, target: &str, status: u16) {
        self.assert_logged_times(user, method, target, status, 1);
    }

    /// At least `times` lines say `USER METHOD TARGET STATUS`.
    fn assert_logged_times(
        &self,
        user: &str,
        method: &str,
        target: &str,
        status: u16,
        times: usize,
    ) {
        let what = format!("{times}× `{user} {method} {target} {status}`");
        let start = std::time::Instant::now();
        loop {
            let seen = self
                .entries()
                .iter()
                .filter(|e| {
                    e.user == user && e.method == method && e.target == target && e.status == status
                })
                .count();
            if seen >= times {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the proxy's access log has {seen} of {what}; log:\n{}",
                self.server.stdout()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every request for a destination off loopback (Chromium's background traffic) was
    /// refused before the proxy could resolve or reach it.
    fn assert_only_loopback_was_reached(&self) {
        for entry in self.entries() {
            let host = entry
                .target
                .trim_start_matches("http://")
                .split(['/', ':'])
                .next()
                .unwrap_or_default();
            if host != "127.0.0.1" {
                assert!(
                    [403, 407].contains(&entry.status),
                    "the proxy went to {:?} for the browser:\n{}",
                    entry.target,
                    self.server.stdout()
                );
            }
        }
    }
}

fn parse_entry(line: &str) -> Option<Entry> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [_client, user, method, target, status, ..] = fields.as_slice() else {
        return None;
    };
    Some(Entry {
        user: user.to_string(),
        method: method.to_string(),
        target: target.to_string(),
        status: status.parse().ok()?,
    })
}

/// `target` is an `http://host:port/…` URL, as forwarded requests are logged.
fn is_target(target: &str, host_port: &str) -> bool {
    target.starts_with(&format!("http://{host_port}/"))
}

/// The value of the first header `name` (any case) in a response head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

/// Python's `http.server` serving a directory with `ORIGIN_FILE`.
fn http_origin() -> (tempfile::TempDir, HttpServer) {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join(ORIGIN_FILE), ORIGIN_TEXT).expect("write the origin's file");
    let server = HttpServer::start(dir.path());
    (dir, server)
}

/// How curl crosses the proxy.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `-p`: CONNECT, then the request inside the tunnel.
    Connect,
    /// The request itself in absolute form.
    AbsoluteForm,
}

/// A curl run whose output ends with `\n%{http_connect} %{http_code}`.
#[derive(Debug)]
struct CurlFetch {
    run: Run,
}

impl CurlFetch {
    fn statuses(&self) -> (u16, u16) {
        let last = self.run.stdout.rsplit('\n').next().unwrap_or_default();
        let mut codes = last.split(' ').map(|c| c.parse().unwrap_or(u16::MAX));
        (
            codes.next().unwrap_or(u16::MAX),
            codes.next().unwrap_or(u16::MAX),
        )
    }

    fn body(&self) -> &str {
        self.run
            .stdout
            .rsplit_once('\n')
            .map(|(body, _)| body)
            .unwrap_or_default()
    }
}

fn curl_fetch(proxy: &Proxy, mode: Mode, user: Option<&str>, url: &str) -> CurlFetch {
    let mut args = vec!["-s", "-S", "--max-time", "10", "-x", proxy.url.as_str()];
    if let Mode::Connect = mode {
        args.push("-p");
    }
    if let Some(user) = user {
        args.extend(["-U", user]);
    }
    args.extend(["-w", "\n%{http_connect} %{http_code}", url]);
    CurlFetch { run: curl(&args) }
}

fn curl(args: &[&str]) -> Run {
    let curl = require("curl", "apt-get install -y curl");
    Run::new(&curl, args, b"", &[], Duration::from_secs(20))
}

/// `wsvia echo` and the Python `websockets` echo server.
struct Echoes {
    wsvia: WsviaProcess,
    python: PythonEcho,
}

impl Echoes {
    fn start() -> Echoes {
        Echoes {
            wsvia: echo(),
            python: PythonEcho::start(),
        }
    }

    fn ports(&self) -> [(&'static str, u16); 2] {
        [
            ("wsvia echo", self.wsvia.addr.port()),
            ("python echo", self.python.port),
        ]
    }
}

/// Each client printed every message back, one per line, and exited 0.
fn assert_echoed(run: &Run, what: &str) {
    assert_eq!(run.code, Some(0), "{what}: {run:#?}");
    assert_eq!(
        run.stdout,
        format!("{}\n", MESSAGES.join("\n")),
        "{what}: {run:#?}"
    );
}

/// `proxy_client.py --lib LIB` through `proxy` to `url` with `MESSAGES`.
fn python_client(
    lib: &str,
    proxy: &Proxy,
    credentials: Option<(&str, &str)>,
    extra: &[&str],
    url: &str,
) -> Run {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../wsvia-testkit/python/proxy_client.py");
    let port = proxy.port.to_string();
    let mut args = vec![
        script.to_str().unwrap(),
        "--lib",
        lib,
        "--proxy-host",
        "127.0.0.1",
        "--proxy-port",
        &port,
    ];
    if let Some((user, pass)) = credentials {
        args.extend(["--user", user, "--password", pass]);
    }
    args.extend_from_slice(extra);
    args.push(url);
    args.extend(MESSAGES);
    Run::new(&python(), &args, b"", &[], Duration::from_secs(30))
}

fn python_client_round_trips(lib: &str) {
    let echoes = Echoes::start();
    for (auth, user) in [(Auth::None, "-"), (Auth::Basic, USER)] {
        let proxy = Proxy::start(auth, &[]);
        let credentials = (auth == Auth::Basic).then_some((USER, PASS));
        for (name, port) in echoes.ports() {
            let url = format!("ws://127.0.0.1:{port}/");
            let run = python_client(lib, &proxy, credentials, &[], &url);
            assert_echoed(&run, &format!("{lib} to {name}, auth {auth:?}"));
            proxy.assert_logged(user, "CONNECT", &format!("127.0.0.1:{port}"), 200);
        }
    }
}

fn python_client_gets_407(lib: &str) {
    let echo = echo();
    let port = echo.addr.port();
    let url = format!("ws://127.0.0.1:{port}/");
    let proxy = Proxy::start(Auth::Basic, &[]);
    for (credentials, user) in [(Some((USER, "wrong")), USER), (None, "-")] {
        let run = python_client(lib, &proxy, credentials, &[], &url);
        assert_eq!(run.code, Some(1), "{run:#?}");
        assert!(run.stdout.starts_with("error: "), "{run:#?}");
        assert!(run.stdout.contains("(proxy status 407)"), "{run:#?}");
        proxy.assert_logged(user, "CONNECT", &format!("127.0.0.1:{port}"), 407);
    }
}

/// `node proxy_client.mjs PROXY_URL ws://127.0.0.1:PORT/ MESSAGES…`.
fn node_client(proxy_url: &str, port: u16) -> Run {
    let url = format!("ws://127.0.0.1:{port}/");
    let mut args = vec![proxy_url, url.as_str()];
    args.extend(MESSAGES);
    node::run_script("proxy_client.mjs", &args, Duration::from_secs(30))
}

/// `websocat ws://127.0.0.1:SOCAT_PORT/` typing `MESSAGES`: at end of input it closes
/// and exits after the server's Close, printing the echoes.
fn websocat_through(socat: &SocatProxyForward) -> Run {
    let url = format!("ws://127.0.0.1:{}/", socat.port);
    let input = format!("{}\n", MESSAGES.join("\n"));
    Run::new(
        &websocat(),
        &[&url],
        input.as_bytes(),
        &[],
        Duration::from_secs(20),
    )
}

/// The page Chromium loads: it opens `?ws=URL`, sends `?msg=TEXT` and shows the echo.
const WS_PAGE: &str = r#"<!doctype html>
<title>wsvia: a WebSocket through a proxy</title>
<p id="echo"></p><p id="error"></p>
<script>
  const params = new URLSearchParams(location.search);
  const ws = new WebSocket(params.get('ws'));
  ws.onopen = () => ws.send(params.get('msg'));
  ws.onmessage = (event) => {
    document.getElementById('echo').textContent = event.data;
    ws.close();
  };
  ws.onerror = () => { document.getElementById('error').textContent = 'websocket error'; };
</script>
"#;

/// `http.server` serving `WS_PAGE` and `wsvia echo` for its WebSocket.
struct ChromiumPage {
    origin: HttpServer,
    echo: WsviaProcess,
    /// The page's URL, as the proxy logs it.
    url: String,
    _dir: tempfile::TempDir,
}

impl ChromiumPage {
    const MESSAGE: &'static str = "hello from chromium";

    fn start() -> ChromiumPage {
        require(
            "/usr/bin/chromium",
            "apt-get install -y --no-install-recommends chromium",
        );
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("ws.html"), WS_PAGE).expect("write the page");
        let origin = HttpServer::start(dir.path());
        let echo = echo();
        let url = origin.url(&format!(
            "/ws.html?ws=ws://127.0.0.1:{}/&msg={}",
            echo.addr.port(),
            Self::MESSAGE.replace(' ', "%20")
        ));
        ChromiumPage {
            origin,
            echo,
            url,
            _dir: dir,
        }
    }

    fn echo_target(&self) -> String {
        format!("127.0.0.1:{}", self.echo.addr.port())
    }

    /// A proxy that only allows the origin's and the echo's ports: Chromium's requests
    /// for Google hosts (ports 80 and 443) are refused by port, before the proxy would
    /// look their names up.
    fn proxy(&self, auth: Auth) -> Proxy {
        let ports = format!("{},{}", self.origin.port, self.echo.addr.port());
        Proxy::start(auth, &["--allow-ports", &ports])
    }

    fn run(&self, proxy: &Proxy, credentials: Option<(&str, &str)>) -> Run {
        let mut args = vec![proxy.url.as_str(), self.url.as_str()];
        if let Some((user, pass)) = credentials {
            args.extend([user, pass]);
        }
        node::run_script("chromium_ws.mjs", &args, Duration::from_secs(60))
    }
}
