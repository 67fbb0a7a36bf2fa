//! lxops: compile LXD/Incus container configs into plans, listings and scripts.
//!
//! The pipeline is `load` (files) → `resolve` (an [`resolve::Instance`]) →
//! commands. See ARCHITECTURE.md for the map.

#![forbid(unsafe_code)]

pub mod cli;
pub mod cloudconfig;
pub mod cmd;
pub mod config;
pub mod diag;
pub mod drift;
pub mod guest;
pub mod input;
pub mod load;
pub mod paths;
pub mod plan;
pub mod properties;
pub mod render;
pub mod resolve;
pub mod runtime;
pub mod table;

use cli::{Cli, Command};
use diag::{ConfigError, Diag};
use std::path::{Path, PathBuf};

/// Runs lxops with parsed arguments; the output goes to `out` (stdout).
pub fn run(cli: Cli, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Plan(c) => cmd::plan::run(g, c, false, out),
        Command::Script(c) => cmd::plan::run(g, c, true, out),
        Command::Config(c) => cmd::config::run(g, c, out),
        Command::Info(c) => cmd::info::run(g, c, out),
        Command::Property(c) => cmd::property::run(g, c, out),
        Command::Shiftids(a) => cmd::shiftids::run(&a, out),
        Command::Ostypes(f) => {
            let names = cloudconfig::ostype::names();
            if f.format == cli::Format::Json {
                return cmd::json(out, "ostypes", names.into());
            }
            for o in names {
                writeln!(out, "{o}")?;
            }
            Ok(())
        }
        Command::Completions { shell } => cmd::shell::completions(shell, out),
        Command::Man { dir } => cmd::shell::man(dir.as_deref(), out),
    }
}

/// Turns a CONFIG argument into a file: the path itself, or NAME.yaml for a bare name.
pub fn config_path(arg: &Path) -> Result<PathBuf, ConfigError> {
    if arg.is_file() {
        return Ok(arg.to_path_buf());
    }
    let s = arg.to_string_lossy();
    let mut tried = vec![s.to_string()];
    if !s.contains('/') && arg.extension().is_none() {
        let p = PathBuf::from(format!("{s}.yaml"));
        if p.is_file() {
            return Ok(p);
        }
        tried.push(p.display().to_string());
    }
    Err(Diag::new(format!("config {s} not found (tried {})", tried.join(", ")))
        .hint("name an lxops file, or a bare NAME for NAME.yaml in the current directory")
        .into())
}

/// Checks `--name` against the number of configs and returns the config paths.
pub fn config_paths(g: &cli::GlobalArgs, args: &[PathBuf]) -> Result<Vec<PathBuf>, ConfigError> {
    if g.name.is_some() && args.len() != 1 {
        let given: Vec<String> = args.iter().map(|a| a.display().to_string()).collect();
        let what = if given.is_empty() { "none".to_string() } else { given.join(", ") };
        return Err(Diag::new(format!("--name can be used with only one config file (given: {what})"))
            .at_key("--name")
            .hint("run the command once per config, or leave out --name to use each file's base name")
            .into());
    }
    args.iter().map(|a| config_path(a)).collect()
}
