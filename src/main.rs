//! The `lxops` binary: parse arguments, run, map errors to exit statuses.
//!
//! Configuration and usage errors exit 2 with nothing on stdout; run-time
//! failures exit 1; a closed stdout (`| head`) is not an error. `diff`
//! prints its result and exits 3 (drifted) or 4 (could not check). The
//! table is `cli::EXIT_STATUSES` (`lxops --help`) and the README's.

use lxops::diag::{ConfigError, EXIT_CONFIG, EXIT_RUNTIME};
use std::io::Write;
use std::process::ExitCode;

/// What `lxops` alone prints: the three most common commands.
const OVERVIEW: &str = "lxops: compile LXD/Incus container configs into reviewable plans and shell scripts.

Most used:
  lxops launch -n web1 web.yaml              show the plan; add --execute to run it
  lxops rebuild --execute -n web1 web.yaml   a new OS under the same data, IP and profiles
  lxops script rebuild web1.yaml > run.sh    a bash script to review, then: bash run.sh --yes

Every command: lxops --help; one command: lxops help COMMAND";

fn main() -> ExitCode {
    if std::env::args_os().len() == 1 {
        eprintln!("{OVERVIEW}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let parsed = lxops::cli::command()
        .try_get_matches()
        .and_then(|m| <lxops::cli::Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => {
            lxops::render::style::init(c.global.color);
            c
        }
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
