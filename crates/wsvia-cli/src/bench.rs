//! `wsvia bench`: the load tool and the benchmark suite, both in `wsvia-bench`.

use std::process::ExitCode;

use wsvia_bench::{Error, Outcome};

use crate::exit_code;

/// Run `wsvia bench`; returns the process exit code (1 when the run found failures).
pub async fn run(args: wsvia_bench::BenchArgs) -> ExitCode {
    match wsvia_bench::run(args).await {
        Ok(Outcome::Passed) => ExitCode::from(exit_code::OK),
        Ok(Outcome::Failed) => ExitCode::from(exit_code::FAILURE),
        Err(e @ Error::Config(_)) => {
            eprintln!("wsvia bench: {e}");
            ExitCode::from(exit_code::USAGE)
        }
        Err(e) => {
            eprintln!("wsvia bench: {e}");
            ExitCode::from(exit_code::FAILURE)
        }
    }
}
