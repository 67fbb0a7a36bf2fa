//! The `lxops` binary: parse arguments, run, map errors to exit statuses.
//!
//! Configuration and usage errors exit 2 with nothing on stdout; run-time
//! failures exit 1; a closed stdout (`| head`) is not an error. `diff`
//! prints its result and exits 3 (drifted) or 4 (could not check).

use clap::Parser;
use lxops::diag::{ConfigError, EXIT_CONFIG, EXIT_RUNTIME};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match lxops::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_CONFIG } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // Output is buffered so that an error leaves stdout empty.
    let mut buf: Vec<u8> = Vec::new();
    let result = lxops::run(cli, &mut buf);
    match result {
        Ok(()) => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(&buf).and_then(|_| stdout.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: writing output: {e}");
                    ExitCode::from(EXIT_RUNTIME)
                }
                Ok(()) => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            // A result with its own exit status: the output stands.
            if let Some(o) = e.downcast_ref::<lxops::diag::Outcome>() {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(&buf).and_then(|_| stdout.flush());
                return ExitCode::from(o.0);
            }
            if let Some(ce) = e.downcast_ref::<ConfigError>() {
                eprintln!("{ce}");
                return ExitCode::from(EXIT_CONFIG);
            }
            // A failure --execute has reported already, as the script reports it.
            if e.downcast_ref::<lxops::runtime::RunError>().is_some_and(|r| r.is_reported()) {
                return ExitCode::from(EXIT_RUNTIME);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
