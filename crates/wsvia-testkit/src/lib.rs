//! Real peers for wsvia's tests: squid, tinyproxy, nginx, Python `websockets` and
//! `http.server`, Node `ws` and Chromium (playwright-core), socat, websocat and
//! `openssl s_server`, microsocks, a test CA.
//!
//! Each peer starts as a process on 127.0.0.1 with a port the OS picks, is waited for
//! until it accepts connections, and is stopped by its process id when dropped. A peer
//! that is not installed panics with what to install: a test never skips silently.
//!
//! # Layout
//! - [`process`]: [`Spawned`] processes stopped on drop, [`require`] for installed programs.
//! - [`net`]: free ports and readiness polling.
//! - [`squid`], [`tinyproxy`]: forward proxies with optional Basic auth and ACLs; squid
//!   also as an `https://` proxy.
//! - [`socks`]: microsocks, a SOCKS5 proxy with optional username/password.
//! - [`nginx`]: a reverse proxy passing WebSocket upgrades; a PROXY-protocol TLS backend.
//! - [`python`]: the Python `websockets` echo server and client session, `http.server`,
//!   and the venv they run from.
//! - [`node`]: `node`, the npm packages `scripts/test` installs, the scripts in `node/`.
//! - [`socat`]: a local port forwarded through an HTTP proxy by socat; a TCP echo
//!   server; websocat.
//! - [`openssl`]: `openssl s_server -WWW`, a TLS file server.
//! - [`ca`]: a throwaway CA and server certificates.
//! - [`wsvia_cli`]: run the `wsvia` binary with a timeout and capture what it printed.

pub mod ca;
pub mod net;
pub mod nginx;
pub mod node;
pub mod openssl;
pub mod process;
pub mod python;
pub mod socat;
pub mod socks;
pub mod squid;
pub mod tinyproxy;
pub mod wsvia_cli;

pub use ca::TestCa;
pub use nginx::Nginx;
pub use openssl::OpensslServer;
pub use process::{Spawned, require};
pub use python::{HttpServer, PythonEcho, WsSession, deflate_client};
pub use socat::{SocatEcho, SocatProxyForward};
pub use socks::{Microsocks, MicrosocksOptions};
pub use squid::{Squid, SquidOptions};
pub use tinyproxy::{Tinyproxy, TinyproxyOptions};
pub use wsvia_cli::{Run, Session, WsviaProcess};

/// The workspace root (where README.md lives).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the testkit lives two levels below the workspace root")
}

/// A temporary directory every user can write to: squid drops to user `proxy` when
/// started as root and must write its logs there.
pub fn shared_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("create a temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
        .expect("make the temporary directory writable for the peer's user");
    dir
}
