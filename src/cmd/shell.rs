//! `lxops completions SHELL` and `lxops man [DIR]`: shell completion scripts
//! and man pages, generated from the clap definitions (clap_complete,
//! clap_mangen), so they change exactly when the command line does.

use crate::cli::Shell;
use anyhow::Context;
use std::io::Write;
use std::path::Path;

/// The completion script for `shell`.
pub fn completions(shell: Shell, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = crate::cli::command();
    let kind = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(kind, &mut cmd, "lxops", out);
    Ok(())
}

/// Every man page: (file name, roff text). `lxops.1`, then one page per
/// command and sub-command (`lxops-rebuild.1`, `lxops-config-print.1`); the
/// commands under `script` are the plan commands again and get none.
pub fn pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = crate::cli::command();
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, "lxops", &mut out);
    out
}

fn walk(cmd: &clap::Command, name: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let page = cmd.clone().name(name.to_string()).bin_name(name.replace('-', " "));
    let mut text = Vec::new();
    clap_mangen::Man::new(page).render(&mut text).expect("rendering into memory does not fail");
    out.push((format!("{name}.1"), text));
    if name == "lxops-script" {
        return;
    }
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        walk(sub, &format!("{name}-{}", sub.get_name()), out);
    }
}

/// Writes every man page into `dir` and lists the files written on `out`.
pub fn man(dir: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = dir.unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in pages() {
        let path = dir.join(&name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "{}", path.display())?;
    }
    Ok(())
}
