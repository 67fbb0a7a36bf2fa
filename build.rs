//! Names the build for `lxops --version`: the crate version, and the git
//! commit (with `-dirty` for uncommitted changes) when built from a git work
//! tree. Without git, or outside a work tree, the version alone.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let full = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) if !commit.is_empty() => {
            let dirty =
                git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            format!("{version} (commit {commit}{})", if dirty { "-dirty" } else { "" })
        }
        _ => version.to_string(),
    };
    println!("cargo:rustc-env=LXOPS_VERSION={full}");
    // A new commit or a change of branch names another build.
    for f in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(f).exists() {
            println!("cargo:rerun-if-changed={f}");
        }
    }
    if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let r = format!(".git/{head}");
        if std::path::Path::new(&r).exists() {
            println!("cargo:rerun-if-changed={r}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
