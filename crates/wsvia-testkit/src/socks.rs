//! microsocks as the SOCKS5 proxy our client crosses (RFC 1928, username/password per
//! RFC 1929 when users are given).
//!
//! microsocks cannot report the port it bound, so a free port is picked first; it runs
//! in the foreground on 127.0.0.1 and is stopped by its PID when dropped. It resolves
//! `socks5h://` names itself with the system resolver: tests give it `localhost` or IP
//! literals only, so no DNS server is asked anything.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::net::{free_port, wait_for_port};
use crate::process::{Spawned, require};

const INSTALL: &str = "apt-get install -y microsocks";

/// How the test microsocks is configured.
#[derive(Debug, Clone, Default)]
pub struct MicrosocksOptions {
    /// Require this user name and password (`-u user -P pass`); `None`: no auth.
    pub auth: Option<(String, String)>,
}

/// A running microsocks.
#[derive(Debug)]
pub struct Microsocks {
    /// Where it listens.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
    process: Spawned,
}

impl Microsocks {
    /// Start microsocks on a free port of 127.0.0.1 and wait until it accepts connections.
    pub fn start(options: &MicrosocksOptions) -> Microsocks {
        let bin = require("microsocks", INSTALL);
        let dir = tempfile::tempdir().expect("temporary directory for microsocks' log");
        let port = free_port();
        let log = dir.path().join("microsocks.out");
        let out = std::fs::File::create(&log).expect("create microsocks.out");
        let mut cmd = Command::new(bin);
        cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
        if let Some((user, pass)) = &options.auth {
            cmd.args(["-u", user, "-P", pass]);
        }
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().expect("clone log handle"))
            .stderr(out);
        let mut process = Spawned::start("microsocks", &mut cmd, Some(log));
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        if !wait_for_port(addr, Duration::from_secs(10)) {
            process.assert_running();
            panic!(
                "microsocks did not listen on {addr}; log:\n{}",
                process.log_text()
            );
        }
        Microsocks {
            addr,
            _dir: dir,
            process,
        }
    }

    /// `SCHEME://127.0.0.1:PORT`, e.g. `socks5h://127.0.0.1:1080`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// `SCHEME://user:pass@127.0.0.1:PORT`.
    pub fn url_with(&self, scheme: &str, user: &str, pass: &str) -> String {
        format!("{scheme}://{user}:{pass}@{}", self.addr)
    }

    /// What microsocks printed so far.
    pub fn log_text(&self) -> String {
        self.process.log_text()
    }

    /// The process, e.g. to stop it early.
    pub fn process(&mut self) -> &mut Spawned {
        &mut self.process
    }
}
