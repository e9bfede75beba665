//! nginx as a reverse proxy in front of (or behind) the gateway, and as a TLS backend that
//! reads a PROXY protocol header and reports the client address it carried.
//!
//! nginx runs in the foreground (`daemon off;`) as one process (`master_process off;`):
//! it needs no user switch when the tests run as root, and stopping that one PID stops
//! it. Every path it writes (pid, logs, temp files) is inside its own temp directory.
//! nginx cannot report the port it bound, so it gets a free one, and a second one if
//! another process took the first meanwhile.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::ca::ServerCert;
use crate::net::{free_port, wait_for_port};
use crate::process::{Spawned, require};

const INSTALL: &str = "apt-get install -y --no-install-recommends nginx-light";

/// The WebSocket proxying recipe of nginx's documentation, plus `X-Forwarded-For`.
const REVERSE_PROXY: &str = r#"
map $http_upgrade $connection_upgrade { default upgrade; '' close; }
server {
    listen {LISTEN};
    location / {
        proxy_pass {UPSTREAM};
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_read_timeout {TIMEOUT}ms;
    }
}
"#;

/// TLS after a PROXY protocol header; the answer is what the header said.
const PROXY_PROTOCOL_REPORTER: &str = r#"
server {
    listen {LISTEN} ssl proxy_protocol;
    ssl_certificate {CERT};
    ssl_certificate_key {KEY};
    location / {
        default_type text/plain;
        return 200 "client $proxy_protocol_addr:$proxy_protocol_port server $proxy_protocol_server_addr:$proxy_protocol_server_port\n";
    }
}
"#;

/// A running nginx and its logs.
#[derive(Debug)]
pub struct Nginx {
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
    process: Spawned,
    dir: tempfile::TempDir, // dropped after the process: it holds the logs
}

impl Nginx {
    /// A reverse proxy to `upstream` (`http://HOST:PORT`) that passes WebSocket upgrades
    /// (`proxy_http_version 1.1`, `Upgrade`, `Connection` as nginx's documentation
    /// shows), appends to `X-Forwarded-For`, and cuts a connection when the upstream sends
    /// nothing for `read_timeout` (`proxy_read_timeout`, also for upgraded connections).
    pub fn reverse_proxy(upstream: &str, read_timeout: Duration) -> Nginx {
        Nginx::start(
            &REVERSE_PROXY
                .replace("{UPSTREAM}", upstream)
                .replace("{TIMEOUT}", &read_timeout.as_millis().to_string()),
        )
    }

    /// An HTTPS server with `cert` whose listener expects a PROXY protocol header (v1 or
    /// v2) before TLS, and answers every request with what that header said:
    /// `client ADDR:PORT server ADDR:PORT` (`$proxy_protocol_addr:$proxy_protocol_port`,
    /// `$proxy_protocol_server_addr:$proxy_protocol_server_port`).
    pub fn proxy_protocol_reporter(cert: &ServerCert) -> Nginx {
        Nginx::start(
            &PROXY_PROTOCOL_REPORTER
                .replace("{CERT}", &cert.cert.display().to_string())
                .replace("{KEY}", &cert.key.display().to_string()),
        )
    }

    /// nginx with `http_block` (`{LISTEN}` stands for `127.0.0.1:PORT`) inside `http {}`.
    pub fn start(http_block: &str) -> Nginx {
        let bin = require("nginx", INSTALL);
        let dir = tempfile::tempdir().expect("temporary directory for nginx");
        for attempt in 1..=3 {
            let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
            let conf = config(
                dir.path(),
                &http_block.replace("{LISTEN}", &addr.to_string()),
            );
            let conf_path = dir.path().join("nginx.conf");
            std::fs::write(&conf_path, conf).expect("write nginx.conf");
            let error_log = dir.path().join("error.log");
            let _ = std::fs::remove_file(&error_log);
            let mut process = Spawned::start(
                "nginx",
                Command::new(&bin)
                    .arg("-e")
                    .arg(&error_log)
                    .arg("-p")
                    .arg(dir.path())
                    .arg("-c")
                    .arg(&conf_path)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(
                        std::fs::File::create(dir.path().join("stderr.log"))
                            .expect("create nginx's stderr.log"),
                    ),
                Some(error_log),
            );
            if wait_until_listening(&mut process, addr) {
                return Nginx { addr, process, dir };
            }
            let log = process.log_text();
            if !log.contains("Address already in use") || attempt == 3 {
                let stderr =
                    std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
                panic!("nginx did not listen on {addr}; error.log:\n{log}\nstderr:\n{stderr}");
            }
        }
        unreachable!("the loop returns or panics on its last attempt")
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The access log so far (one line per request, with its status, e.g. `101`).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// The error log so far (level `info`: it says why nginx closed a connection).
    pub fn error_log(&self) -> String {
        self.process.log_text()
    }

    /// The process, e.g. to signal it.
    pub fn process(&mut self) -> &mut Spawned {
        &mut self.process
    }
}

/// The whole nginx.conf: every path nginx writes inside `dir`.
fn config(dir: &Path, http_block: &str) -> String {
    let d = dir.display();
    let mut conf = String::new();
    let _ = writeln!(
        conf,
        "daemon off;\n\
         # One process: no worker to switch to user www-data when started as root.\n\
         master_process off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         access_log {d}/access.log;\n\
         client_body_temp_path {d}/client_body;\n\
         proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n\
         {http_block}}}"
    );
    conf
}

/// Wait until nginx accepts connections on `addr`; `false` when it exited first.
fn wait_until_listening(process: &mut Spawned, addr: SocketAddr) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if matches!(process.child_mut().try_wait(), Ok(Some(_))) {
            return false;
        }
        if wait_for_port(addr, Duration::from_millis(100)) {
            return true;
        }
    }
    false
}
