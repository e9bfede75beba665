//! Processes the tests start, stopped by PID when dropped, and checks that programs exist.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Find `program` on PATH (or as a path), or panic saying how to install it.
///
/// A test that needs a peer must fail loudly when the peer is missing.
pub fn require(program: &str, install_hint: &str) -> PathBuf {
    let candidate = Path::new(program);
    if candidate.is_absolute() {
        if candidate.exists() {
            return candidate.to_path_buf();
        }
    } else if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths).chain(["/usr/sbin".into(), "/sbin".into()]) {
            let full = dir.join(program);
            if full.is_file() {
                return full;
            }
        }
    }
    panic!(
        "required test peer {program:?} is not installed: {install_hint} \
         (`scripts/test` installs every peer when run as root; see README.md)"
    );
}

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
pub struct Spawned {
    name: String,
    child: Child,
    log: Option<PathBuf>,
}

impl Spawned {
    /// Start `command`, naming it for messages; `log` is a file worth printing on failure.
    pub fn start(name: &str, command: &mut Command, log: Option<PathBuf>) -> Spawned {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Spawned {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Panic with the peer's log if it has already exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early ({status}); log:\n{}",
                self.name,
                self.log_text()
            );
        }
    }

    /// The peer's log so far (empty when it has none).
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// Send a signal by name (`STOP`, `CONT`, `TERM`, …) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Access the child, e.g. to take its stdout.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Stop the process: SIGTERM, up to 3 s to exit, then SIGKILL.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.stop();
    }
}
