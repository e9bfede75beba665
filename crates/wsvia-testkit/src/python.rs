//! The Python side: the venv `scripts/test` creates, and a `websockets` echo server.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::Spawned;

/// The Python interpreter of the test venv: `$WSVIA_PYTHON`, else
/// `target/peers/venv/bin/python` under the workspace root.
pub fn python() -> PathBuf {
    let path = std::env::var_os("WSVIA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target/peers/venv/bin/python"));
    if !path.exists() {
        panic!(
            "the test Python venv is missing at {}: run `scripts/test` (it creates it), \
             or set WSVIA_PYTHON to a python with `websockets websocket-client kosoku`",
            path.display()
        );
    }
    path
}

/// A Python `websockets` echo server (`/headers` first sends the request headers as JSON).
#[derive(Debug)]
pub struct PythonEcho {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    process: Spawned,
}

impl PythonEcho {
    /// Start a plain `ws://` server.
    pub fn start() -> PythonEcho {
        Self::launch(None)
    }

    /// Start a `wss://` server with this certificate chain and key.
    pub fn start_tls(cert: &Path, key: &Path) -> PythonEcho {
        Self::launch(Some((cert, key)))
    }

    fn launch(tls: Option<(&Path, &Path)>) -> PythonEcho {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/echo_server.py");
        let mut cmd = Command::new(python());
        cmd.arg(script).stdin(Stdio::null()).stdout(Stdio::piped());
        if let Some((cert, key)) = tls {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        let mut process = Spawned::start("python websockets echo", &mut cmd, None);
        let stdout = process.child_mut().stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the echo server's port line");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("python echo server did not report its port: {line:?}"));
        PythonEcho { port, process }
    }

    /// `ws://127.0.0.1:PORT/path` (or `wss://` with `tls`).
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    /// The process, e.g. to stop it.
    pub fn process(&mut self) -> &mut Spawned {
        &mut self.process
    }
}

/// Python's `http.server` serving a directory: a plain HTTP origin nobody here wrote.
#[derive(Debug)]
pub struct HttpServer {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    process: Spawned,
}

impl HttpServer {
    /// `python -m http.server --bind 127.0.0.1 0 --directory DIR`; the port is read from
    /// its `Serving HTTP on 127.0.0.1 port N` line.
    pub fn start(dir: &Path) -> HttpServer {
        let mut cmd = Command::new(python());
        cmd.args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
            .arg("--directory")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut process = Spawned::start("python http.server", &mut cmd, None);
        let stdout = process.child_mut().stdout.take().expect("piped stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .expect("read http.server's first line");
        let port = line
            .split(" port ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("http.server did not report its port: {line:?}"));
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        HttpServer { port, process }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The process, e.g. to stop it.
    pub fn process(&mut self) -> &mut Spawned {
        &mut self.process
    }
}
