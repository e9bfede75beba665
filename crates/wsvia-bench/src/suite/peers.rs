//! The suite's peers: `wsvia echo`, `wsvia proxy`, `wsvia gateway` (both modes), squid,
//! tinyproxy, nginx and HAProxy, each started on 127.0.0.1 with a free port and a
//! configuration from `bench/configs/`, stopped by its process id when dropped.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Error;
use crate::procfs;

const NGINX_CONF: &str = include_str!("../../../../bench/configs/nginx.conf");
const HAPROXY_CFG: &str = include_str!("../../../../bench/configs/haproxy.cfg");
const SQUID_CONF: &str = include_str!("../../../../bench/configs/squid.conf");
const TINYPROXY_CONF: &str = include_str!("../../../../bench/configs/tinyproxy.conf");

/// The packages the suite's peers come from (Debian 12).
pub const INSTALL: &str =
    "apt-get install -y --no-install-recommends nginx-light haproxy squid tinyproxy";

/// How a target is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Straight to the echo server.
    Direct,
    /// Through an HTTP CONNECT proxy.
    Forward,
    /// To a reverse proxy in front of the echo server.
    Reverse,
}

/// Every target the suite knows, in the order they run.
pub const ALL_TARGETS: &[(&str, Kind)] = &[
    ("direct", Kind::Direct),
    ("wsvia-proxy", Kind::Forward),
    ("squid", Kind::Forward),
    ("tinyproxy", Kind::Forward),
    ("wsvia-gateway-frames", Kind::Reverse),
    ("wsvia-gateway-passthrough", Kind::Reverse),
    ("nginx", Kind::Reverse),
    ("haproxy", Kind::Reverse),
];

/// Whether a target is one of the other programs (not direct, not wsvia).
pub fn is_peer(name: &str) -> bool {
    matches!(name, "squid" | "tinyproxy" | "nginx" | "haproxy")
}

/// A started program, stopped (SIGTERM, then SIGKILL for it and its children) on drop.
#[derive(Debug)]
pub struct Proc {
    /// Its name in messages.
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Start `cmd` with stdout and stderr going to `log`.
    fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Result<Proc, Error> {
        let out = std::fs::File::create(&log)
            .map_err(|e| Error::io(format!("create {}", log.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| Error::io("duplicate a log handle", e))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| Error::io(format!("start {name} ({cmd:?})"), e))?;
        Ok(Proc {
            name: name.to_owned(),
            child,
            log,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of what it printed.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Wait until it accepts TCP connections on `addr`.
    fn wait_listening(&mut self, addr: SocketAddr) -> Result<(), Error> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::Peer(format!(
                    "{} exited ({status}) before listening on {addr}:\n{}",
                    self.name,
                    self.log_tail()
                )));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(Error::Peer(format!(
            "{} did not listen on {addr} within 20 s:\n{}",
            self.name,
            self.log_tail()
        )))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.pid();
        let family = procfs::tree(pid);
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(4) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Children left behind (nginx workers, squid kids) go too, by their ids.
        for p in family.iter().skip(1) {
            if Path::new(&format!("/proc/{p}")).exists() {
                let _ = Command::new("kill")
                    .args(["-KILL", &p.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A target ready to take load: where to connect, and the process to watch.
#[derive(Debug)]
pub struct Target {
    /// Its name (see [`ALL_TARGETS`]).
    pub name: String,
    /// How it is reached.
    pub kind: Kind,
    /// One URL per echo server.
    pub urls: Vec<String>,
    /// The CONNECT proxy, for forward targets.
    pub proxy: Option<String>,
    /// The proxy process (none for direct).
    pub process: Option<Proc>,
}

impl Target {
    /// The proxy's pid, if there is a proxy.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Proc::pid)
    }
}

/// The echo servers every target leads to.
#[derive(Debug)]
pub struct Echoes {
    /// Their ports on 127.0.0.1.
    pub ports: Vec<u16>,
    /// The processes.
    pub procs: Vec<Proc>,
}

/// Start `n` `wsvia echo` servers.
///
/// # Errors
/// [`Error::Peer`] when one does not start.
pub fn start_echoes(wsvia: &Path, dir: &Path, n: usize) -> Result<Echoes, Error> {
    let mut out = Echoes {
        ports: Vec::new(),
        procs: Vec::new(),
    };
    for i in 0..n {
        let port = free_port()?;
        let mut p = Proc::spawn(
            "wsvia echo",
            Command::new(wsvia).args(["echo", "--listen", &format!("127.0.0.1:{port}")]),
            dir.join(format!("echo{i}.log")),
        )?;
        p.wait_listening(local(port))?;
        out.ports.push(port);
        out.procs.push(p);
    }
    Ok(out)
}

/// Which programs are missing for these targets (empty when all are installed).
pub fn missing_programs(targets: &[&str]) -> Vec<&'static str> {
    let mut missing = Vec::new();
    for (name, program) in [
        ("squid", "squid"),
        ("tinyproxy", "tinyproxy"),
        ("nginx", "nginx"),
        ("haproxy", "haproxy"),
    ] {
        if targets.contains(&name) && find_program(program).is_none() {
            missing.push(program);
        }
    }
    missing
}

/// Start target `name` in front of `echo`.
///
/// # Errors
/// [`Error::Peer`] when it does not start; [`Error::Config`] for an unknown name.
pub fn start_target(name: &str, wsvia: &Path, dir: &Path, echo: &[u16]) -> Result<Target, Error> {
    let kind = ALL_TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
        .ok_or_else(|| Error::Config(format!("unknown target {name:?}")))?;
    let direct_urls: Vec<String> = echo
        .iter()
        .map(|p| format!("ws://127.0.0.1:{p}/"))
        .collect();
    if kind == Kind::Direct {
        return Ok(Target {
            name: name.into(),
            kind,
            urls: direct_urls,
            proxy: None,
            process: None,
        });
    }
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    open_permissions(&dir);
    let log = dir.join("out.log");
    let mut cmd;
    match name {
        "wsvia-proxy" => {
            cmd = Command::new(wsvia);
            cmd.args(["proxy", "--listen", &listen, "--grace", "0.1"]);
        }
        "wsvia-gateway-frames" | "wsvia-gateway-passthrough" => {
            let mode = name.trim_start_matches("wsvia-gateway-");
            cmd = Command::new(wsvia);
            cmd.args([
                "gateway", "--listen", &listen, "--mode", mode, "--grace", "0.1",
            ]);
            for (i, p) in echo.iter().enumerate() {
                cmd.arg("--route").arg(format!("/e{i}=ws://127.0.0.1:{p}/"));
            }
        }
        "squid" => {
            let conf = fill(SQUID_CONF, port, &dir, echo);
            let path = write(&dir, "squid.conf", &conf)?;
            cmd = Command::new(program("squid")?);
            cmd.arg("-f").arg(path).args(["-N", "-d1"]);
        }
        "tinyproxy" => {
            let conf = fill(TINYPROXY_CONF, port, &dir, echo);
            let path = write(&dir, "tinyproxy.conf", &conf)?;
            cmd = Command::new(program("tinyproxy")?);
            cmd.arg("-d").arg("-c").arg(path);
        }
        "nginx" => {
            let conf = fill(NGINX_CONF, port, &dir, echo);
            let path = write(&dir, "nginx.conf", &conf)?;
            cmd = Command::new(program("nginx")?);
            cmd.arg("-p").arg(&dir).arg("-c").arg(path);
        }
        "haproxy" => {
            let conf = fill(HAPROXY_CFG, port, &dir, echo);
            let path = write(&dir, "haproxy.cfg", &conf)?;
            cmd = Command::new(program("haproxy")?);
            cmd.arg("-db").arg("-f").arg(path);
        }
        other => return Err(Error::Config(format!("unknown target {other:?}"))),
    }
    let mut proc = Proc::spawn(name, &mut cmd, log)?;
    proc.wait_listening(local(port))?;
    let (urls, proxy) = match kind {
        Kind::Forward => (direct_urls, Some(format!("http://{listen}"))),
        _ => (
            (0..echo.len())
                .map(|i| format!("ws://{listen}/e{i}"))
                .collect(),
            None,
        ),
    };
    Ok(Target {
        name: name.into(),
        kind,
        urls,
        proxy,
        process: Some(proc),
    })
}

/// Fill a configuration template: `{port}`, `{dir}`, `{nofile}` (our open-file limit,
/// which children inherit), `{maxconn}` (connections that fit in it at 2 descriptors
/// each), `{worker_connections}` (connections of both sides that fit in it), and the
/// lines between `{each_echo}` and `{end_each}` once per echo server with
/// `{i}` and `{echo_port}`.
pub fn fill(template: &str, port: u16, dir: &Path, echo: &[u16]) -> String {
    let nofile = open_file_limit();
    let maxconn = nofile.saturating_sub(FD_RESERVE) / 2;
    let mut out = String::new();
    let mut lines = template.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "{each_echo}" {
            let block: Vec<&str> = lines
                .by_ref()
                .take_while(|l| l.trim() != "{end_each}")
                .collect();
            // Longest prefixes first, so /e10 is tried before /e1.
            for (i, p) in echo.iter().enumerate().rev() {
                for l in &block {
                    let _ = writeln!(
                        out,
                        "{}",
                        l.replace("{i}", &i.to_string())
                            .replace("{echo_port}", &p.to_string())
                    );
                }
            }
            continue;
        }
        let _ = writeln!(
            out,
            "{}",
            line.replace("{port}", &port.to_string())
                .replace("{dir}", &dir.display().to_string())
                .replace("{nofile}", &nofile.to_string())
                .replace("{maxconn}", &maxconn.to_string())
                .replace(
                    "{worker_connections}",
                    &nofile.saturating_sub(FD_RESERVE).to_string(),
                )
        );
    }
    out
}

/// Descriptors a proxy keeps for itself (listeners, logs, helpers).
pub const FD_RESERVE: u64 = 400;

/// The open-file limit this process (and so every peer it starts) has.
pub fn open_file_limit() -> u64 {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
}

/// How many tunnels a proxy can hold within the open-file limit (2 descriptors each).
pub fn max_tunnels() -> usize {
    (open_file_limit().saturating_sub(FD_RESERVE) / 2) as usize
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf, Error> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| Error::io(format!("write {}", path.display()), e))?;
    Ok(path)
}

/// squid and tinyproxy drop to an unprivileged user and must write their logs here.
fn open_permissions(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777));
}

fn program(name: &str) -> Result<PathBuf, Error> {
    find_program(name).ok_or_else(|| {
        Error::Peer(format!(
            "{name} is not installed; install the suite's peers with:\n  {INSTALL}"
        ))
    })
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16, Error> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("find a free port", e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("find a free port", e))
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_repeat_per_echo_server_longest_prefix_first() {
        let t = "listen {port};\n{each_echo}\nlocation /e{i} { pass {echo_port}; }\n{end_each}\nlog {dir}/x;\n";
        let out = fill(t, 80, Path::new("/tmp/d"), &[9001, 9002]);
        assert_eq!(
            out,
            "listen 80;\nlocation /e1 { pass 9002; }\nlocation /e0 { pass 9001; }\nlog /tmp/d/x;\n"
        );
    }

    #[test]
    fn the_shipped_configurations_have_their_placeholders() {
        for (name, t) in [
            ("nginx", NGINX_CONF),
            ("haproxy", HAPROXY_CFG),
            ("squid", SQUID_CONF),
            ("tinyproxy", TINYPROXY_CONF),
        ] {
            assert!(t.contains("{port}"), "{name}");
            let out = fill(t, 1234, Path::new("/d"), &[5678]);
            assert!(
                !out.contains('{') || name == "nginx" || name == "haproxy",
                "{name}: {out}"
            );
            assert!(out.contains("1234"), "{name}");
        }
        let nginx = fill(NGINX_CONF, 1, Path::new("/d"), &[5678, 5679]);
        assert!(nginx.contains("127.0.0.1:5679"));
        assert!(nginx.contains("location /e1"));
    }
}
