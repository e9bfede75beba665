//! The Node side: `node`, the npm packages `scripts/test` installs, and the scripts in
//! `crates/wsvia-testkit/node/` (a `ws` + `https-proxy-agent` client, playwright-core
//! driving the system Chromium).
//!
//! `scripts/test` copies `node/package.json` and `node/package-lock.json` (pinned
//! versions) to `target/peers/node/` and runs `npm ci` there, so the packages live in
//! `target/peers/node/node_modules` and the source tree stays clean. ES modules ignore
//! `NODE_PATH`, so the scripts resolve packages through `node/modules.mjs`, which reads
//! `$WSVIA_NODE_MODULES`; [`run_script`] sets it to [`modules_dir`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::require;
use crate::wsvia_cli::Run;

/// The npm packages the scripts import (the dependencies of `node/package.json`).
pub const PACKAGES: &[&str] = &["ws", "https-proxy-agent", "playwright-core"];

const INSTALL_NODE: &str = "apt-get install -y nodejs npm";

/// `node` from PATH, or a panic saying how to install it.
pub fn node() -> PathBuf {
    require("node", INSTALL_NODE)
}

/// The `node_modules` directory holding [`PACKAGES`]: `$WSVIA_NODE_MODULES`, else
/// `target/peers/node/node_modules`. Panics with the install command when a package
/// is missing.
pub fn modules_dir() -> PathBuf {
    let dir = std::env::var_os("WSVIA_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target/peers/node/node_modules"));
    for package in PACKAGES {
        if !dir.join(package).join("package.json").is_file() {
            panic!(
                "the npm package {package:?} is not installed in {}: run `scripts/test` as \
                 root (it installs the Node peers), or: mkdir -p target/peers/node && cp \
                 crates/wsvia-testkit/node/package*.json target/peers/node/ && \
                 npm ci --prefix target/peers/node",
                dir.display()
            );
        }
    }
    dir
}

/// The path of a script in `crates/wsvia-testkit/node/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("node")
        .join(name)
}

/// Run `node SCRIPT ARGS…` (a script of `crates/wsvia-testkit/node/`) with the npm
/// packages found, no stdin and no proxy variables, killed after `limit`.
pub fn run_script(name: &str, args: &[&str], limit: Duration) -> Run {
    let node = node();
    let modules = modules_dir();
    let script = script(name);
    let mut all = vec![script.to_str().expect("the workspace path is UTF-8")];
    all.extend_from_slice(args);
    Run::new(
        &node,
        &all,
        b"",
        &[(
            "WSVIA_NODE_MODULES",
            modules.to_str().expect("the workspace path is UTF-8"),
        )],
        limit,
    )
}
