//! `wsvia echo`: run the echo server until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;
use wsvia_echo::{EchoConfig, EchoServer};

use crate::cli::EchoArgs;
use crate::exit_code;

/// Run `wsvia echo`; returns the process exit code.
pub async fn run(args: EchoArgs) -> ExitCode {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match wsvia::tls::server_config(cert, key) {
            Ok(cfg) => Some(cfg),
            Err(e) => {
                eprintln!("wsvia echo: {e}");
                return ExitCode::from(exit_code::USAGE);
            }
        },
        _ => None,
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("wsvia echo: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(exit_code::FAILURE);
        }
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    match listener.local_addr() {
        Ok(addr) => eprintln!("wsvia echo: listening on {scheme}://{addr}/"),
        Err(e) => eprintln!("wsvia echo: listening (address unknown: {e})"),
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(crate::signals::cancel_on_signal(shutdown.clone()));
    let server = EchoServer::new(EchoConfig {
        max_message_size: args.max_message_size,
        tls,
        compression: !args.no_compress,
    });
    match server.serve(listener, shutdown).await {
        Ok(()) => ExitCode::from(exit_code::OK),
        Err(e) => {
            eprintln!("wsvia echo: {e}");
            ExitCode::from(exit_code::FAILURE)
        }
    }
}
