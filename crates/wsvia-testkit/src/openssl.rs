//! `openssl s_server -WWW`: a TLS file server nobody here wrote, one per certificate, so a
//! TLS client can tell which backend answered (by the certificate and by the file).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::ca::ServerCert;
use crate::process::{Spawned, require};

/// `openssl s_server -accept 127.0.0.1:0 -cert … -key … -WWW`, serving the files of a
/// directory (`GET /NAME` answers with the file `NAME`, `-WWW` adds the HTTP head).
#[derive(Debug)]
pub struct OpensslServer {
    /// The port it listens on (127.0.0.1), from its `ACCEPT 127.0.0.1:PORT` line.
    pub port: u16,
    process: Spawned,
}

impl OpensslServer {
    /// Serve the files of `dir` over TLS with `cert`.
    pub fn start_www(cert: &ServerCert, dir: &Path) -> OpensslServer {
        let bin = require("openssl", "apt-get install -y openssl");
        let mut process = Spawned::start(
            "openssl s_server",
            Command::new(bin)
                .args(["s_server", "-accept", "127.0.0.1:0", "-WWW"])
                .arg("-cert")
                .arg(&cert.cert)
                .arg("-key")
                .arg(&cert.key)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            None,
        );
        let stdout = process.child_mut().stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Read its `ACCEPT` line, then keep reading so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(port) = line
                    .trim()
                    .strip_prefix("ACCEPT 127.0.0.1:")
                    .and_then(|p| p.parse::<u16>().ok())
                {
                    let _ = tx.send(port);
                }
                line.clear();
            }
        });
        let Ok(port) = rx.recv_timeout(Duration::from_secs(10)) else {
            process.assert_running();
            panic!("openssl s_server did not print `ACCEPT 127.0.0.1:PORT`");
        };
        OpensslServer { port, process }
    }

    /// The process, e.g. to stop it.
    pub fn process(&mut self) -> &mut Spawned {
        &mut self.process
    }
}
