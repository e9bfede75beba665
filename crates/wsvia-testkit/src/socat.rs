//! socat as a local port forwarded through an HTTP proxy (its `PROXY:` address opens a
//! CONNECT tunnel per connection) and as a TCP echo server; websocat, a WebSocket client
//! to use over them.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::net::free_port;
use crate::process::{Spawned, require};

/// The websocat version `scripts/test` installs (`cargo install websocat --locked`).
pub const WEBSOCAT_VERSION: &str = "1.14.1";

/// `websocat`: `target/peers/cargo/bin/websocat` as `scripts/test` installs it, else the
/// one on PATH; panics with the install command when there is none.
pub fn websocat() -> PathBuf {
    let installed = crate::workspace_root().join("target/peers/cargo/bin/websocat");
    if installed.is_file() {
        return installed;
    }
    require(
        "websocat",
        &format!(
            "cargo install websocat --version {WEBSOCAT_VERSION} --locked --root target/peers/cargo"
        ),
    )
}

/// `socat TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork
/// PROXY:PROXY_HOST:HOST:PORT,proxyport=…[,proxyauth=USER:PASS]`.
#[derive(Debug)]
pub struct SocatProxyForward {
    /// The local port; each connection to it is a new CONNECT tunnel to the target.
    pub port: u16,
    process: Spawned,
    _dir: tempfile::TempDir, // dropped after the process: it holds socat's log
}

impl SocatProxyForward {
    /// Forward a free local port to `target_host:target_port` through the HTTP proxy at
    /// `127.0.0.1:proxy_port`, with Basic credentials when `auth` is given.
    ///
    /// Readiness is read from socat's own `listening on` notice, not probed with a
    /// connection, so the proxy sees only the test's tunnels.
    pub fn start(
        proxy_port: u16,
        target_host: &str,
        target_port: u16,
        auth: Option<(&str, &str)>,
    ) -> SocatProxyForward {
        let socat = require("socat", "apt-get install -y socat");
        let dir = tempfile::tempdir().expect("temporary directory for socat's log");
        let log = dir.path().join("socat.log");
        let port = free_port();
        let mut upstream =
            format!("PROXY:127.0.0.1:{target_host}:{target_port},proxyport={proxy_port}");
        if let Some((user, pass)) = auth {
            upstream.push_str(&format!(",proxyauth={user}:{pass}"));
        }
        let mut process = Spawned::start(
            "socat",
            Command::new(socat)
                .args(["-d", "-d"])
                .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"))
                .arg(upstream)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("create socat.log")),
            Some(log),
        );
        let start = Instant::now();
        while !process.log_text().contains("listening on") {
            process.assert_running();
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "socat did not start listening; log:\n{}",
                process.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        SocatProxyForward {
            port,
            process,
            _dir: dir,
        }
    }

    /// What socat wrote to stderr (its errors, e.g. the proxy's refusal).
    pub fn log(&self) -> String {
        self.process.log_text()
    }
}

/// `socat TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,fork EXEC:cat`: a TCP echo server, one
/// `cat` per connection.
#[derive(Debug)]
pub struct SocatEcho {
    /// The port it listens on (127.0.0.1), from socat's `listening on` notice.
    pub port: u16,
    process: Spawned,
    _dir: tempfile::TempDir, // dropped after the process: it holds socat's log
}

impl SocatEcho {
    /// Start it and wait until it listens.
    pub fn start() -> SocatEcho {
        let socat = require("socat", "apt-get install -y socat");
        let dir = tempfile::tempdir().expect("temporary directory for socat's log");
        let log = dir.path().join("socat.log");
        let mut process = Spawned::start(
            "socat echo",
            Command::new(socat)
                .args([
                    "-d",
                    "-d",
                    "TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,fork",
                    "EXEC:cat",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("create socat.log")),
            Some(log),
        );
        let start = Instant::now();
        let port = loop {
            // `… N listening on AF=2 127.0.0.1:PORT`
            let text = process.log_text();
            if let Some(port) = text
                .split("listening on AF=2 127.0.0.1:")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|p| p.parse::<u16>().ok())
            {
                break port;
            }
            process.assert_running();
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "socat did not start listening; log:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        SocatEcho {
            port,
            process,
            _dir: dir,
        }
    }

    /// What socat wrote to stderr (a notice per connection, its errors).
    pub fn log(&self) -> String {
        self.process.log_text()
    }
}
