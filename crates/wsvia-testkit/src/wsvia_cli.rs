//! Run the `wsvia` binary as users do: arguments, stdin, environment; capture the rest.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::process::Spawned;

/// What a finished `wsvia` run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` when killed by a signal or the timeout).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Run `bin args…` with `stdin`, extra `env` (the proxy variables are cleared first
    /// so the caller's environment never leaks in), and a time limit.
    pub fn new(
        bin: &Path,
        args: &[&str],
        stdin: &[u8],
        env: &[(&str, &str)],
        limit: Duration,
    ) -> Run {
        let mut child = command(bin, args, env).spawn().expect("start wsvia");
        let mut input = child.stdin.take().expect("piped stdin");
        let data = stdin.to_vec();
        // Write stdin on its own thread so a large input cannot deadlock with stdout.
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let stdout = drain(child.stdout.take().expect("piped stdout"));
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        let code = wait_with_limit(&mut child, limit);
        let _ = writer.join();
        Run {
            code,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        }
    }

    /// Like a user at a terminal: type `stdin`, wait until stdout or stderr shows
    /// `expect` (or the limit passes), then end input (Ctrl-D) and wait for the exit.
    ///
    /// Ending input only after the echoes arrived matters: at EOF `wsvia connect` sends a
    /// Close, and a server may then drop messages it has not echoed yet.
    pub fn interactive(
        bin: &Path,
        args: &[&str],
        stdin: &[u8],
        expect: &str,
        env: &[(&str, &str)],
        limit: Duration,
    ) -> Run {
        let mut child = command(bin, args, env).spawn().expect("start wsvia");
        let mut input = child.stdin.take().expect("piped stdin");
        let _ = input.write_all(stdin);
        let _ = input.flush();
        let (tx, rx) = std::sync::mpsc::channel::<(bool, Vec<u8>)>();
        let readers = [
            forward(
                child.stdout.take().expect("piped stdout"),
                false,
                tx.clone(),
            ),
            forward(child.stderr.take().expect("piped stderr"), true, tx),
        ];
        let start = Instant::now();
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let seen = |out: &mut Vec<u8>, err: &mut Vec<u8>, (is_err, chunk): (bool, Vec<u8>)| {
            if is_err {
                err.extend(chunk)
            } else {
                out.extend(chunk)
            }
        };
        let shows = |bytes: &[u8]| String::from_utf8_lossy(bytes).contains(expect);
        while !shows(&stdout) && !shows(&stderr) && start.elapsed() < limit {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(item) => seen(&mut stdout, &mut stderr, item),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        drop(input);
        let code = wait_with_limit(&mut child, limit.saturating_sub(start.elapsed()));
        for reader in readers {
            let _ = reader.join();
        }
        for item in rx.try_iter() {
            seen(&mut stdout, &mut stderr, item);
        }
        Run {
            code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Panic with the whole run unless it exited with `code`.
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit: {self:#?}");
        self
    }
}

/// A `wsvia connect` driven step by step, as a user at a terminal: type a line, wait
/// for output, do something to the peers, type the next, end input. Stopped by PID
/// when dropped.
#[derive(Debug)]
pub struct Session {
    process: Spawned,
    stdin: Option<std::process::ChildStdin>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Session {
    /// Start `bin args…` with only the given proxy variables (as [`Run::new`]).
    pub fn start(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Session {
        let mut process = Spawned::start("wsvia", &mut command(bin, args, env), None);
        let child = process.child_mut();
        let stdin = child.stdin.take();
        let stdout = collect(child.stdout.take().expect("piped stdout"));
        let stderr = collect(child.stderr.take().expect("piped stderr"));
        Session {
            process,
            stdin,
            stdout,
            stderr,
        }
    }

    /// Type `line` and Enter.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("input was already ended");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("typing {line:?}: {e}; {self:#?}"));
    }

    /// End input (Ctrl-D).
    pub fn end_input(&mut self) {
        self.stdin = None;
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        lock(&self.stdout).clone()
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// Poll stdout until it contains `needle`; `false` after `limit`.
    pub fn wait_for_stdout(&self, needle: &str, limit: Duration) -> bool {
        poll(limit, || self.stdout().contains(needle))
    }

    /// Poll stderr until it contains `needle`; `false` after `limit`.
    pub fn wait_for_stderr(&self, needle: &str, limit: Duration) -> bool {
        poll(limit, || self.stderr().contains(needle))
    }

    /// Wait for the exit code (`None`: killed after `limit`).
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        wait_with_limit(self.process.child_mut(), limit)
    }
}

fn poll(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// Every variable curl-style proxy selection reads.
pub const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "ws_proxy",
    "WS_PROXY",
    "wss_proxy",
    "WSS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// `bin args…` with piped stdio and only the given proxy variables.
fn command(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Send what `reader` yields, tagged, until it ends.
fn forward<R: Read + Send + 'static>(
    mut reader: R,
    is_err: bool,
    tx: std::sync::mpsc::Sender<(bool, Vec<u8>)>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send((is_err, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    })
}

fn drain<R: Read + Send + 'static>(mut reader: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = reader.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn wait_with_limit(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A long-running `wsvia` server (echo, proxy, gateway), the address it printed, and
/// what it writes to stdout (the access log) and stderr.
#[derive(Debug)]
pub struct WsviaProcess {
    /// The address from its first `listening on …` line.
    pub addr: std::net::SocketAddr,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    process: Spawned,
}

impl WsviaProcess {
    /// Start `bin args…` and wait for the first `listening on SCHEME://ADDR/` on stderr.
    pub fn start(bin: &Path, args: &[&str]) -> WsviaProcess {
        Self::start_with_env(bin, args, &[])
    }

    /// Like [`WsviaProcess::start`], with extra environment variables.
    pub fn start_with_env(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> WsviaProcess {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut process = Spawned::start("wsvia", &mut cmd, None);
        let stdout = collect(process.child_mut().stdout.take().expect("piped stdout"));
        let stderr_pipe = process.child_mut().stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr_pipe);
            let mut line = String::new();
            let mut sent = false;
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if !sent {
                    if let Some(addr) = listening_addr(&line) {
                        let _ = tx.send(addr);
                        sent = true;
                    }
                }
                lock(&sink).push_str(&line);
                line.clear();
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(30)) else {
            process.assert_running();
            panic!(
                "wsvia {args:?} did not print 'listening on'; stderr:\n{}",
                lock(&stderr)
            );
        };
        WsviaProcess {
            addr,
            stdout,
            stderr,
            process,
        }
    }

    /// Everything it wrote to stdout so far.
    pub fn stdout(&self) -> String {
        lock(&self.stdout).clone()
    }

    /// Everything it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// Poll stdout until it contains `needle`; `false` after `limit`.
    pub fn wait_for_stdout(&self, needle: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.stdout().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// `http://ADDR` (for a proxy).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process, e.g. to signal it.
    pub fn process(&mut self) -> &mut Spawned {
        &mut self.process
    }
}

fn collect<R: Read + Send + 'static>(mut reader: R) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            lock(&sink).push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

fn lock(m: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn listening_addr(line: &str) -> Option<std::net::SocketAddr> {
    let rest = line.split("listening on ").nth(1)?;
    let rest = rest.split("://").nth(1).unwrap_or(rest);
    rest.split_whitespace()
        .next()?
        .trim_end_matches('/')
        .parse()
        .ok()
}
