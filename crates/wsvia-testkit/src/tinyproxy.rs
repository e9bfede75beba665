//! tinyproxy as a second forward proxy: it answers CONNECT with `HTTP/1.0 200` and a
//! header, and its 407 closes the connection, so a retry needs a new one.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::net::{free_port, wait_for_port};
use crate::process::{Spawned, require};

/// How the test tinyproxy is configured.
#[derive(Debug, Clone, Default)]
pub struct TinyproxyOptions {
    /// `BasicAuth user pass`.
    pub basic_auth: Option<(String, String)>,
}

/// A running tinyproxy.
#[derive(Debug)]
pub struct Tinyproxy {
    /// Where it listens.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
    process: Spawned,
}

impl Tinyproxy {
    /// Start tinyproxy in the foreground and wait until it accepts connections.
    pub fn start(options: &TinyproxyOptions) -> Tinyproxy {
        let bin = require("tinyproxy", "apt-get install -y tinyproxy");
        let dir = crate::shared_tempdir();
        let port = free_port();
        let mut conf = String::new();
        let _ = writeln!(
            conf,
            "Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 200"
        );
        let _ = writeln!(conf, "Allow 127.0.0.1\nLogLevel Info");
        let _ = writeln!(conf, "PidFile \"{}/tinyproxy.pid\"", dir.path().display());
        if is_root() {
            let _ = writeln!(conf, "User nobody\nGroup nogroup");
        }
        if let Some((user, pass)) = &options.basic_auth {
            let _ = writeln!(conf, "BasicAuth {user} {pass}");
        }
        let conf_path = dir.path().join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).expect("write tinyproxy.conf");
        let log = dir.path().join("tinyproxy.out");
        let out = std::fs::File::create(&log).expect("create tinyproxy.out");
        let mut process = Spawned::start(
            "tinyproxy",
            Command::new(bin)
                .arg("-d")
                .arg("-c")
                .arg(&conf_path)
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("clone log handle"))
                .stderr(out),
            Some(log),
        );
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        if !wait_for_port(addr, Duration::from_secs(10)) {
            process.assert_running();
            panic!(
                "tinyproxy did not listen on {addr}; log:\n{}",
                process.log_text()
            );
        }
        Tinyproxy {
            addr,
            _dir: dir,
            process,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// tinyproxy's log so far.
    pub fn log_text(&self) -> String {
        self.process.log_text()
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
