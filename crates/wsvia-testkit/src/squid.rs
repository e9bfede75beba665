//! squid as the forward proxy our client crosses.
//!
//! Runs in the foreground (`squid -N`) with a generated configuration: CONNECT to any
//! port from loopback, `shutdown_lifetime 0` so it stops at once, logs in a temporary
//! directory. Options add Basic or Digest authentication (real squid helpers), an ACL
//! that denies every request, or TLS from the client (`https_port`, an `https://` proxy).
//!
//! Debian 12's squid 5.7 is built `--with-gnutls`; its `https_port` takes `tls-cert=` and
//! `tls-key=` (PEM, the PKCS#8 keys rcgen writes) and works as is: no `squid-openssl`
//! needed.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::ca::ServerCert;
use crate::net::{free_port, wait_for_port};
use crate::process::{Spawned, require};

const INSTALL: &str = "apt-get install -y squid apache2-utils";

/// How the test squid is configured.
#[derive(Debug, Clone, Default)]
pub struct SquidOptions {
    /// Users for Basic auth (`basic_ncsa_auth`, htpasswd file); empty: no Basic auth.
    pub basic_users: Vec<(String, String)>,
    /// Users for Digest auth (`digest_file_auth`); empty: no Digest auth.
    pub digest_users: Vec<(String, String)>,
    /// Deny every request with 403 (`http_access deny all`).
    pub deny_all: bool,
    /// Ask for NTLM, checked by squid's `ntlm_fake_auth` helper (it runs the whole
    /// three-message exchange and accepts any user).
    pub ntlm_fake: bool,
    /// Accept TLS from clients with this certificate (`https_port` instead of
    /// `http_port`): the proxy URL becomes `https://127.0.0.1:PORT`.
    pub https: Option<ServerCert>,
}

/// The realm the test squid announces.
pub const REALM: &str = "wsvia-test";

/// A running squid.
#[derive(Debug)]
pub struct Squid {
    /// Where it listens.
    pub addr: SocketAddr,
    https: bool,
    dir: tempfile::TempDir,
    process: Spawned,
}

impl Squid {
    /// Start squid with `options` and wait until it accepts connections.
    pub fn start(options: &SquidOptions) -> Squid {
        let squid = require("squid", INSTALL);
        let dir = crate::shared_tempdir();
        let port = free_port();
        let conf = config(dir.path(), port, options);
        let conf_path = dir.path().join("squid.conf");
        std::fs::write(&conf_path, conf).expect("write squid.conf");
        let log = dir.path().join("squid.out");
        let out = std::fs::File::create(&log).expect("create squid.out");
        let mut process = Spawned::start(
            "squid",
            Command::new(squid)
                .arg("-f")
                .arg(&conf_path)
                .args(["-N", "-d1"])
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("clone log handle"))
                .stderr(out),
            Some(log),
        );
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        if !wait_for_port(addr, Duration::from_secs(20)) {
            process.assert_running();
            panic!(
                "squid did not listen on {addr}; log:\n{}",
                process.log_text()
            );
        }
        Squid {
            addr,
            https: options.https.is_some(),
            dir,
            process,
        }
    }

    /// `http://127.0.0.1:PORT` (`https://` with [`SquidOptions::https`]).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme(), self.addr)
    }

    /// `http://user:pass@127.0.0.1:PORT` (`https://` with [`SquidOptions::https`]).
    pub fn url_with(&self, user: &str, pass: &str) -> String {
        format!("{}://{user}:{pass}@{}", self.scheme(), self.addr)
    }

    fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// squid's access log (one line per request, written when it ends).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// Poll the access log until `needle` appears (squid writes when a tunnel closes).
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if self.access_log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// The process, e.g. to stop it early.
    pub fn process(&mut self) -> &mut Spawned {
        &mut self.process
    }
}

fn config(dir: &Path, port: u16, options: &SquidOptions) -> String {
    let d = dir.display();
    let mut c = String::new();
    match &options.https {
        None => {
            let _ = writeln!(c, "http_port 127.0.0.1:{port}");
        }
        Some(cert) => {
            // squid drops to user `proxy`: give it copies it can read.
            let copy = |from: &Path, name: &str| {
                let to = dir.join(name);
                std::fs::copy(from, &to).expect("copy the proxy's certificate or key");
                make_readable(&to);
                to
            };
            let (cert, key) = (copy(&cert.cert, "proxy.pem"), copy(&cert.key, "proxy.key"));
            let _ = writeln!(
                c,
                "https_port 127.0.0.1:{port} tls-cert={} tls-key={}",
                cert.display(),
                key.display()
            );
        }
    }
    for line in [
        "pid_filename none",
        "visible_hostname localhost",
        "shutdown_lifetime 0 seconds",
        "cache deny all",
        "cache_mem 4 MB",
        "cache_store_log none",
        "http_upgrade_request_protocols websocket allow all",
        "acl loopback src 127.0.0.0/8",
        // Never ask the machine's (non-loopback) DNS server anything.
        "dns_nameservers 127.0.0.1",
        "pinger_enable off",
        "netdb_filename none",
    ] {
        let _ = writeln!(c, "{line}");
    }
    let _ = writeln!(c, "access_log stdio:{d}/access.log");
    let _ = writeln!(c, "cache_log {d}/cache.log");
    let _ = writeln!(c, "coredump_dir {d}");
    if options.ntlm_fake {
        let _ = writeln!(
            c,
            "auth_param ntlm program {}",
            require("/usr/lib/squid/ntlm_fake_auth", INSTALL).display()
        );
        let _ = writeln!(c, "auth_param ntlm children 2");
    }
    if !options.digest_users.is_empty() {
        let file = digest_file(dir, &options.digest_users);
        let _ = writeln!(
            c,
            "auth_param digest program {} -c {}",
            require("/usr/lib/squid/digest_file_auth", INSTALL).display(),
            file.display()
        );
        let _ = writeln!(c, "auth_param digest realm {REALM}");
        let _ = writeln!(c, "auth_param digest nonce_garbage_interval 5 minutes");
    }
    if !options.basic_users.is_empty() {
        let file = htpasswd_file(dir, &options.basic_users);
        let _ = writeln!(
            c,
            "auth_param basic program {} {}",
            require("/usr/lib/squid/basic_ncsa_auth", INSTALL).display(),
            file.display()
        );
        let _ = writeln!(c, "auth_param basic realm {REALM}");
    }
    if options.deny_all {
        let _ = writeln!(c, "http_access deny all");
    } else if options.basic_users.is_empty()
        && options.digest_users.is_empty()
        && !options.ntlm_fake
    {
        let _ = writeln!(c, "http_access allow loopback");
    } else {
        let _ = writeln!(c, "acl authenticated proxy_auth REQUIRED");
        let _ = writeln!(c, "http_access allow loopback authenticated");
    }
    let _ = writeln!(c, "http_access deny all");
    c
}

/// An htpasswd file written by Apache's own `htpasswd` (apr1-MD5).
fn htpasswd_file(dir: &Path, users: &[(String, String)]) -> PathBuf {
    let htpasswd = require("htpasswd", INSTALL);
    let file = dir.join("basic.htpasswd");
    for (i, (user, pass)) in users.iter().enumerate() {
        let mut cmd = Command::new(&htpasswd);
        cmd.arg(if i == 0 { "-bcm" } else { "-bm" })
            .arg(&file)
            .arg(user)
            .arg(pass);
        let out = cmd.output().expect("run htpasswd");
        assert!(out.status.success(), "htpasswd failed: {out:?}");
    }
    make_readable(&file);
    file
}

/// `user:realm:HA1` lines for `digest_file_auth -c`.
fn digest_file(dir: &Path, users: &[(String, String)]) -> PathBuf {
    let file = dir.join("digest.passwd");
    let mut text = String::new();
    for (user, pass) in users {
        let ha1 = md5_hex(&format!("{user}:{REALM}:{pass}"));
        let _ = writeln!(text, "{user}:{REALM}:{ha1}");
    }
    std::fs::write(&file, text).expect("write digest password file");
    make_readable(&file);
    file
}

fn md5_hex(input: &str) -> String {
    let out = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("piped stdin")
                .write_all(input.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run md5sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn make_readable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .expect("make the password file readable for squid's helper");
}
