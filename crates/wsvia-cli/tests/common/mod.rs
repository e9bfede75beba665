//! Shared by the `wsvia` integration tests: the binary, echo servers, and a run helper.
#![allow(dead_code)] // each test crate uses a different subset

pub mod soak;

use std::path::Path;
use std::time::Duration;

use wsvia_testkit::ca::ServerCert;
use wsvia_testkit::{PythonEcho, Run, TestCa, WsviaProcess};

/// The `wsvia` binary cargo built for these tests.
pub fn wsvia() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_wsvia"))
}

/// `wsvia echo` on a free port.
pub fn echo() -> WsviaProcess {
    WsviaProcess::start(wsvia(), &["echo", "--listen", "127.0.0.1:0"])
}

/// `wsvia echo` serving wss:// with `cert`.
pub fn echo_tls(cert: &ServerCert) -> WsviaProcess {
    WsviaProcess::start(
        wsvia(),
        &[
            "echo",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.cert.to_str().unwrap(),
            "--tls-key",
            cert.key.to_str().unwrap(),
        ],
    )
}

/// A CA and a certificate for `localhost` and `127.0.0.1`.
pub fn ca_and_localhost_cert() -> (TestCa, ServerCert) {
    let ca = TestCa::new();
    let cert = ca.server_cert("localhost", &["localhost", "127.0.0.1"]);
    (ca, cert)
}

/// How [`echo_targets`] writes the host of the plain ws:// URLs (wss:// ones always use
/// `localhost`, the certificate's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// `127.0.0.1`: nothing to resolve.
    Address,
    /// `localhost`: a name the proxy (or the client, for `socks5://`) must resolve.
    Name,
}

/// Four echo servers every proxy must carry, with the CA file for the wss:// ones: a ws://
/// and a wss:// `wsvia echo`, a ws:// and a wss:// Python `websockets` echo.
pub struct EchoTargets {
    /// In the order above.
    pub urls: Vec<String>,
    /// Issued the wss:// servers' certificate.
    pub ca: TestCa,
    _servers: (WsviaProcess, WsviaProcess, PythonEcho, PythonEcho),
}

/// Start the four [`EchoTargets`].
pub fn echo_targets(host: Host) -> EchoTargets {
    let (ca, cert) = ca_and_localhost_cert();
    let ws = echo();
    let wss = echo_tls(&cert);
    let py = PythonEcho::start();
    let py_tls = PythonEcho::start_tls(&cert.cert, &cert.key);
    let plain = match host {
        Host::Address => "127.0.0.1",
        Host::Name => "localhost",
    };
    let urls = vec![
        format!("ws://{plain}:{}/", ws.addr.port()),
        format!("wss://localhost:{}/chat", wss.addr.port()),
        format!("ws://{plain}:{}/py", py.port),
        format!("wss://localhost:{}/py", py_tls.port),
    ];
    EchoTargets {
        urls,
        ca,
        _servers: (ws, wss, py, py_tls),
    }
}

/// A round trip ([`assert_round_trip`]) to each of fresh [`EchoTargets`] with `args` and
/// `--cacert` before the URL; each URL with its run.
pub fn carry_all(host: Host, args: &[&str]) -> Vec<(String, Run)> {
    let targets = echo_targets(host);
    let ca = targets.ca.ca_pem();
    let ca = ca.to_str().unwrap();
    targets
        .urls
        .iter()
        .map(|url| {
            let mut all = args.to_vec();
            all.extend(["--cacert", ca, url.as_str()]);
            (url.clone(), assert_round_trip(&all, &[]))
        })
        .collect()
}

/// `wsvia connect ARGS…` with `stdin` and extra environment, 20 s at most.
pub fn connect(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut all = vec!["connect"];
    all.extend_from_slice(args);
    Run::new(
        wsvia(),
        &all,
        stdin.as_bytes(),
        env,
        Duration::from_secs(20),
    )
}

/// Type two lines, see them echoed, end input: exit 0 after the close handshake.
pub fn assert_round_trip(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["connect"];
    all.extend_from_slice(args);
    let lines = "hello\nwörld\n";
    let run = Run::interactive(
        wsvia(),
        &all,
        lines.as_bytes(),
        lines,
        env,
        Duration::from_secs(20),
    );
    run.assert_code(0);
    assert_eq!(run.stdout, "hello\nwörld\n", "{run:#?}");
    run
}

/// `wsvia proxy --listen 127.0.0.1:0 ARGS…`.
pub fn proxy(args: &[&str]) -> WsviaProcess {
    let mut all = vec!["proxy", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    WsviaProcess::start(wsvia(), &all)
}

/// The admin listener's address a server printed (`admin on http://ADDR/`), waited for
/// up to 10 s.
pub fn admin_addr(process: &WsviaProcess) -> std::net::SocketAddr {
    let start = std::time::Instant::now();
    loop {
        let stderr = process.stderr();
        let found = stderr.lines().find_map(|line| {
            let rest = line.split("admin on http://").nth(1)?;
            rest.split('/').next()?.parse().ok()
        });
        if let Some(addr) = found {
            return addr;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no admin address printed: {stderr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An htpasswd file in `dir` with one bcrypt user, made by Apache's own `htpasswd`; its
/// path.
pub fn htpasswd(dir: &Path, user: &str, pass: &str) -> String {
    let path = dir.join("users.htpasswd");
    let bin = wsvia_testkit::require("htpasswd", "apt-get install -y apache2-utils");
    let out = std::process::Command::new(bin)
        .args(["-cbB", path.to_str().unwrap(), user, pass])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    path.to_str().unwrap().to_owned()
}
