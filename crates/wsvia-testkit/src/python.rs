//! The Python side: the venv `scripts/test` creates, `websockets` echo servers (one with
//! chosen permessage-deflate settings), a `websockets` client session and a compressing
//! client, and `http.server`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

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
        Self::launch("echo_server.py", &[])
    }

    /// Start a `wss://` server with this certificate chain and key.
    pub fn start_tls(cert: &Path, key: &Path) -> PythonEcho {
        let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
        Self::launch("echo_server.py", &["--cert", &cert, "--key", &key])
    }

    /// Start `python/deflate_echo.py` with these options (`--no-compress`,
    /// `--server-no-context-takeover`, `--client-max-window-bits N`, …); the path
    /// `/extensions` first sends the `Sec-WebSocket-Extensions` it answered with.
    pub fn start_deflate(options: &[&str]) -> PythonEcho {
        Self::launch("deflate_echo.py", options)
    }

    fn launch(script: &str, args: &[&str]) -> PythonEcho {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("python")
            .join(script);
        let mut cmd = Command::new(python());
        cmd.arg(script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
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

/// Run `python/deflate_client.py URL OPTIONS…`: a `websockets` client offering
/// permessage-deflate (with `--server-no-context-takeover`, `--server-max-window-bits N`,
/// … as given) that prints `extensions VALUE` (the server's answer), sends text and
/// binary messages, checks their echoes and prints `ok COUNT`, or `error: …` (exit 1).
/// At most 60 s.
pub fn deflate_client(url: &str, options: &[&str]) -> crate::Run {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/deflate_client.py");
    let script = script.to_string_lossy();
    let mut args = vec![script.as_ref(), url];
    args.extend_from_slice(options);
    crate::Run::new(&python(), &args, b"", &[], Duration::from_secs(60))
}

/// A WebSocket client session in Python `websockets` (`python/ws_session.py`) that the
/// test drives one command at a time, so it can stay idle, watch for a Close, or send
/// later. It sends no pings of its own but answers the server's.
#[derive(Debug)]
pub struct WsSession {
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
    process: Spawned,
}

impl WsSession {
    /// Connect to `url`; panics with the client's error when the handshake fails.
    pub fn connect(url: &str) -> WsSession {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/ws_session.py");
        let mut cmd = Command::new(python());
        cmd.arg(script)
            .arg(url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut process = Spawned::start("python ws_session.py", &mut cmd, None);
        let stdin = process.child_mut().stdin.take().expect("piped stdin");
        let stdout = process.child_mut().stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut session = WsSession {
            stdin,
            lines,
            process,
        };
        let first = session.next_line(Duration::from_secs(15));
        assert_eq!(
            first, "open",
            "the Python client could not connect to {url}"
        );
        session
    }

    /// `send TEXT`: send a text message.
    pub fn send(&mut self, text: &str) {
        assert_eq!(
            self.command(&format!("send {text}"), Duration::ZERO),
            "sent"
        );
    }

    /// `recv SECS`: `message TEXT`, `timeout`, or `closed CODE REASON` / `closed none`
    /// (the connection ended without a Close frame).
    pub fn recv(&mut self, limit: Duration) -> String {
        self.command(&format!("recv {}", limit.as_secs_f64()), limit)
    }

    /// `close`: close with 1000 and report the server's Close, `closed CODE REASON`.
    pub fn close(&mut self) -> String {
        self.command("close", Duration::from_secs(10))
    }

    /// The process, e.g. to stop it.
    pub fn process(&mut self) -> &mut Spawned {
        &mut self.process
    }

    fn command(&mut self, command: &str, takes: Duration) -> String {
        use std::io::Write;
        writeln!(self.stdin, "{command}")
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("the Python client is gone ({e}) before `{command}`"));
        self.next_line(takes + Duration::from_secs(10))
    }

    fn next_line(&mut self, limit: Duration) -> String {
        match self.lines.recv_timeout(limit) {
            Ok(line) => line,
            Err(_) => {
                self.process.assert_running();
                panic!("the Python client printed nothing within {limit:?}")
            }
        }
    }
}
