//! `wsvia`: one binary, one subcommand per role. Flags become options here; the work is
//! done by the library crates.

mod bench;
mod cli;
mod config_file;
mod connect;
mod echo;
mod exit_code;
mod gateway;
mod proxy;
mod signals;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(match cli.command {
        cli::Command::Connect(_) => "warn",
        _ => "info",
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wsvia: cannot start the async runtime: {e}");
            return ExitCode::from(exit_code::FAILURE);
        }
    };
    runtime.block_on(async move {
        match cli.command {
            cli::Command::Connect(args) => connect::run(args).await,
            cli::Command::Echo(args) => echo::run(args).await,
            cli::Command::Proxy(args) => proxy::run(args).await,
            cli::Command::Gateway(args) => gateway::run(args).await,
            cli::Command::Bench(args) => bench::run(args).await,
        }
    })
}

/// Logs go to stderr; `RUST_LOG` overrides the default level (warn for the client,
/// info for servers).
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
