//! Running the proxy like squid and nginx, but better: SIGHUP reloads under load with
//! nothing lost, `--check`, the admin listener's credentials, and the live status page
//! seen in headless Chromium (with a screenshot in target/screenshots/).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use wsvia_testkit::{Run, WsviaProcess};

/// The address a server printed for `marker` (e.g. "admin on http://").
fn printed_addr(p: &WsviaProcess, marker: &str) -> SocketAddr {
    let start = Instant::now();
    loop {
        if let Some(rest) = p.stderr().split(marker).nth(1) {
            let addr = rest.split(['/', ' ', '\n']).next().unwrap_or_default();
            if let Ok(a) = addr.parse() {
                return a;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no {marker:?} in {}",
            p.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_stderr(p: &WsviaProcess, needle: &str, count: usize) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if p.stderr().matches(needle).count() >= count {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// `GET path` on `addr` with an optional Basic header; the whole answer.
fn http_get(addr: SocketAddr, path: &str, auth: Option<&str>) -> String {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let auth = auth
        .map(|a| format!("Authorization: Basic {a}\r\n"))
        .unwrap_or_default();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: admin\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = tcp.read_to_string(&mut out);
    out
}

fn connect_tunnel(proxy: SocketAddr, target: SocketAddr) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(proxy).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(tcp, "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && tcp.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    (tcp, String::from_utf8_lossy(&head).into_owned())
}

#[test]
fn sighup_reloads_for_new_connections_while_live_tunnels_lose_nothing() {
    let echo_a = common::echo();
    let echo_b = common::echo();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("wsvia.toml");
    let (a, b) = (echo_a.addr.port(), echo_b.addr.port());
    let first = format!("[proxy]\nlisten = [\"127.0.0.1:0\"]\nallow-ports = \"{a},{b}\"\n");
    let second = format!(
        "[proxy]\nlisten = [\"127.0.0.1:0\", \"127.0.0.2:0\"]\nallow-ports = \"{a}\"\nmax-tunnels = 500\n"
    );
    std::fs::write(&conf, &first).unwrap();
    let mut proxy = WsviaProcess::start(
        common::wsvia(),
        &["proxy", "--config", conf.to_str().unwrap()],
    );
    let proxy_url = proxy.url();

    // 20 sessions × 300 messages, each checked, while the configuration changes 6 times.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let load = runtime.spawn(common::soak::run(
        proxy_url.clone(),
        echo_a.addr.to_string(),
        20,
        300,
    ));
    for round in 0..6 {
        std::thread::sleep(Duration::from_millis(150));
        let text = match round {
            2 => "[proxy]\nmax-tunnels = \"many\"\n".to_owned(), // broken: must be refused
            r if r % 2 == 0 => first.clone(),
            _ => second.clone(),
        };
        std::fs::write(&conf, text).unwrap();
        proxy.process().signal("HUP");
        let reports = proxy.stderr().matches("reload").count();
        let start = Instant::now();
        while proxy.stderr().matches("reload").count() == reports
            && start.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let report = runtime.block_on(load).unwrap();
    assert!(report.clean(), "data lost across reloads: {report:?}");
    assert!(
        proxy
            .stderr()
            .contains("reload failed, keeping the running configuration"),
        "{}",
        proxy.stderr()
    );
    assert!(
        proxy.stderr().contains("expected"),
        "the broken file's error says what was expected"
    );

    // The last reload applied `second`: port b is refused for new tunnels, a new listener works.
    std::fs::write(&conf, &second).unwrap();
    proxy.process().signal("HUP");
    assert!(
        wait_for_stderr(&proxy, "reloaded:", 6),
        "{}",
        proxy.stderr()
    );
    let (_t, head) = connect_tunnel(proxy.addr, echo_b.addr);
    assert!(
        head.starts_with("HTTP/1.1 403"),
        "port {b} should be denied now: {head}"
    );
    // The newest line: the listener was added, removed and added again by the reloads.
    let stderr = proxy.stderr();
    let port = stderr
        .rsplit("listening on http://127.0.0.2:")
        .next()
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse::<u16>().ok())
        .expect("a listener on 127.0.0.2");
    let second_listener: SocketAddr = ([127, 0, 0, 2], port).into();
    let (_t, head) = connect_tunnel(second_listener, echo_a.addr);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        proxy.stdout().matches(" 200 ").count() >= 20,
        "every soak tunnel is logged"
    );
}

#[test]
fn check_validates_files_and_names_line_column_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[proxy]\nlisten = [\"127.0.0.1:3128\"]\nmax-tunnels = 10\n\n[gateway]\nroute = [\"/=ws://127.0.0.1:9001\"]\n").unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[proxy]\nlisten = [\"127.0.0.1:3128\"]\nmax-tunels = 10\n",
    )
    .unwrap();
    let limit = Duration::from_secs(10);
    for role in ["proxy", "gateway"] {
        let run = Run::new(
            common::wsvia(),
            &[role, "--config", good.to_str().unwrap(), "--check"],
            b"",
            &[],
            limit,
        );
        run.assert_code(0);
        assert!(run.stderr.contains("configuration OK"), "{run:#?}");
    }
    let run = Run::new(
        common::wsvia(),
        &["proxy", "--config", bad.to_str().unwrap(), "--check"],
        b"",
        &[],
        limit,
    );
    run.assert_code(2);
    assert!(run.stderr.contains("line 3, column 1"), "{run:#?}");
    assert!(
        run.stderr
            .contains("unknown field `max-tunels`, expected one of"),
        "{run:#?}"
    );
}

#[test]
fn the_commented_example_file_checks_for_both_roles() {
    let example = wsvia_testkit::workspace_root().join("examples/wsvia.toml");
    for role in ["proxy", "gateway"] {
        let run = Run::new(
            common::wsvia(),
            &[role, "--config", example.to_str().unwrap(), "--check"],
            b"",
            &[],
            Duration::from_secs(10),
        );
        run.assert_code(0);
    }
}

#[test]
fn the_admin_listener_needs_credentials_beyond_loopback_and_checks_them() {
    let limit = Duration::from_secs(10);
    let run = Run::new(
        common::wsvia(),
        &["proxy", "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0"],
        b"",
        &[],
        limit,
    );
    run.assert_code(2);
    assert!(run.stderr.contains("--admin-auth-file"), "{run:#?}");

    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("admin.htpasswd");
    let htpasswd = wsvia_testkit::require("htpasswd", "apt-get install -y apache2-utils");
    let out = std::process::Command::new(htpasswd)
        .args(["-cbB", users.to_str().unwrap(), "ops", "0ps-pass"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let p = WsviaProcess::start(
        common::wsvia(),
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "0.0.0.0:0",
            "--admin-auth-file",
            users.to_str().unwrap(),
        ],
    );
    let admin = printed_addr(&p, "admin on http://");
    let admin: SocketAddr = format!("127.0.0.1:{}", admin.port()).parse().unwrap();
    let denied = http_get(admin, "/metrics", None);
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    assert!(denied.contains("Basic realm=\"wsvia admin\""), "{denied}");
    // b3BzOndyb25n = ops:wrong; b3BzOjBwcy1wYXNz = ops:0ps-pass
    assert!(http_get(admin, "/metrics", Some("b3BzOndyb25n")).starts_with("HTTP/1.1 401"));
    let ok = http_get(admin, "/metrics", Some("b3BzOjBwcy1wYXNz"));
    assert!(
        ok.starts_with("HTTP/1.1 200") && ok.contains("wsvia_proxy_tunnels_active"),
        "{ok}"
    );
}

#[test]
fn the_status_page_shows_live_tunnels_in_chromium() {
    let echo = common::echo();
    let p = WsviaProcess::start(
        common::wsvia(),
        &["proxy", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"],
    );
    let admin = printed_addr(&p, "admin on http://");
    // Two live tunnels, one of which carries a WebSocket upgrade's bytes.
    let (mut t1, head) = connect_tunnel(p.addr, echo.addr);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    write!(
        t1,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let _ = t1.read(&mut buf);
    let (_t2, _) = connect_tunnel(p.addr, echo.addr);

    let status = http_get(admin, "/api/status", None);
    assert!(
        status.contains(&format!("\"target\":\"{}\"", echo.addr)),
        "{status}"
    );
    assert_eq!(
        status.matches("\"method\":\"CONNECT\"").count(),
        2,
        "{status}"
    );
    let page = http_get(admin, "/", None);
    assert!(
        page.contains(&format!("<td class=\"target\">{}</td>", echo.addr)),
        "rendered without script: {page}"
    );

    let shots = wsvia_testkit::workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("proxy-status.png");
    let _ = std::fs::remove_file(&shot);
    let run = wsvia_testkit::node::run_script(
        "chromium_status.mjs",
        &[
            &format!("http://{admin}/"),
            &echo.addr.to_string(),
            shot.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(0), "{run:#?}");
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "a real screenshot"
    );
}
