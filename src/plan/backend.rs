//! Every difference between Incus (`incus`) and LXD (`lxc`) lives here.
//!
//! Functions return [`Cmd`]s for abstract server operations; the project
//! flag is added to every command for a non-default project (decision D3).
//! Nothing else in lxops spells a server command.

use crate::plan::model::{Cmd, Word};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Incus,
    Lxd,
}

impl Backend {
    /// `--backend`, else `LXOPS_BACKEND` (clap reads it), else incus if on
    /// PATH, else lxc if on PATH, else incus.
    pub fn choose(flag: Option<crate::cli::BackendArg>) -> Backend {
        match flag {
            Some(crate::cli::BackendArg::Incus) => Backend::Incus,
            Some(crate::cli::BackendArg::Lxd) => Backend::Lxd,
            None if on_path("incus") => Backend::Incus,
            None if on_path("lxc") => Backend::Lxd,
            None => Backend::Incus,
        }
    }

    /// The client program.
    pub fn cli(self) -> &'static str {
        match self {
            Backend::Incus => "incus",
            Backend::Lxd => "lxc",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Incus => "incus",
            Backend::Lxd => "lxd",
        }
    }

    /// A server command in `project` (no flag for the default project).
    pub fn cmd(self, project: &str, args: &[&str]) -> Cmd {
        let mut c = Cmd::new([self.cli()]);
        if project != "default" && !project.is_empty() {
            c = c.push("--project").push(project);
        }
        for a in args {
            c = c.push(*a);
        }
        c
    }

    /// Creates (does not start) an instance from an image.
    pub fn create(
        self,
        project: &str,
        image: &str,
        name: &str,
        profiles: &[String],
        options: &[String],
    ) -> Cmd {
        let verb = match self {
            Backend::Incus => "create",
            Backend::Lxd => "init",
        };
        let mut c = self.cmd(project, &[verb, image, name]);
        for p in profiles {
            c = c.push("-p").push(p);
        }
        for o in options {
            c = c.push(o);
        }
        c
    }

    /// Profiles as CSV lines whose first field is the name. LXD 5.0's
    /// `profile list` has no `--columns`, so neither backend uses it.
    pub fn profile_list(self, project: &str) -> Cmd {
        self.cmd(project, &["profile", "list", "--format", "csv"])
    }

    /// Name and status of every instance, as `name,STATUS` lines.
    pub fn instance_list(self, project: &str) -> Cmd {
        self.cmd(project, &["list", "--format", "csv", "--columns", "ns"])
    }

    /// Name and IPv4 addresses, as `name,"addr (eth0)"` lines.
    pub fn ipv4_list(self, project: &str, name: &str) -> Cmd {
        self.cmd(project, &["list", "--format", "csv", "--columns", "n4", name])
    }

    pub fn show_expanded(self, project: &str, name: &str) -> Cmd {
        self.cmd(project, &["config", "show", "--expanded", name])
    }

    pub fn exec(self, project: &str, name: &str, argv: &[&str]) -> Cmd {
        let mut c = self.cmd(project, &["exec", name, "--"]);
        for a in argv {
            c = c.push(*a);
        }
        c
    }

    pub fn snapshot_create(self, project: &str, name: &str, snap: Word) -> Cmd {
        match self {
            Backend::Incus => self.cmd(project, &["snapshot", "create", name]).push(snap),
            Backend::Lxd => self.cmd(project, &["snapshot", name]).push(snap),
        }
    }

    pub fn snapshot_restore(self, project: &str, name: &str, snap: &str) -> Cmd {
        match self {
            Backend::Incus => self.cmd(project, &["snapshot", "restore", name, snap]),
            Backend::Lxd => self.cmd(project, &["restore", name, snap]),
        }
    }
}

/// True when `prog` is an executable file in a `PATH` directory.
pub fn on_path(prog: &str) -> bool {
    find_program(prog).is_some()
}

pub fn find_program(prog: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_differs() {
        let p = vec!["default".to_string()];
        let i = Backend::Incus.create("default", "img", "c1", &p, &[]);
        let l = Backend::Lxd.create("web", "img", "c1", &p, &[]);
        let d = |c: &Cmd| c.argv.iter().map(|w| w.display()).collect::<Vec<_>>().join(" ");
        assert_eq!(d(&i), "incus create img c1 -p default");
        assert_eq!(d(&l), "lxc --project web init img c1 -p default");
    }
}
