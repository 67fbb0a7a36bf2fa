//! Every server command, and every difference between Incus (`incus`) and
//! LXD (`lxc`), lives here.
//!
//! Functions return [`Cmd`]s for abstract server operations; the project
//! flag is added to every command of a non-default project (decision D3).
//! The generic constructor is private, so no other module can spell a
//! server verb.

use crate::plan::model::{Cmd, Word};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Incus,
    Lxd,
}

impl Backend {
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
    fn cmd(self, project: &str, args: &[&str]) -> Cmd {
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

    /// Copies an instance (or `instance/snapshot`) from `project` to a new
    /// instance in `target_project`, with these profiles.
    pub fn copy(
        self,
        project: &str,
        src: &str,
        name: &str,
        target_project: &str,
        profiles: &[String],
    ) -> Cmd {
        let mut c = self.cmd(project, &["copy", src, name]);
        if !src.contains('/') {
            c = c.push("--instance-only");
        }
        if target_project != project {
            c = c.push("--target-project").push(target_project);
        }
        for p in profiles {
            c = c.push("-p").push(p);
        }
        c
    }

    /// Profiles as CSV lines whose first field is the name. LXD 5.0's
    /// `profile list` has no `--columns`, so neither backend uses it.
    pub fn profile_list(self, project: &str) -> Cmd {
        self.cmd(project, &["profile", "list", "--format", "csv"])
    }

    /// Name, status and launch mark of every instance: `name,STATUS,mark` lines.
    pub fn instance_list(self, project: &str) -> Cmd {
        // The launch mark is a third column: one call answers both.
        let columns = format!("ns,{}", crate::plan::lifecycle::LAUNCH_MARK);
        self.cmd(project, &["list", "--format", "csv", "--columns", &columns])
    }

    /// Name and cluster member of every instance: `name,member` lines.
    pub fn instance_locations(self, project: &str) -> Cmd {
        self.cmd(project, &["list", "--format", "csv", "--columns", "nL"])
    }

    /// Name and IPv4 addresses, as `name,"addr (eth0)"` lines.
    pub fn ipv4_list(self, project: &str, name: &str) -> Cmd {
        self.cmd(project, &["list", "--format", "csv", "--columns", "n4", name])
    }

    /// `info NAME`: its `Location: ` line names the cluster member.
    pub fn info(self, project: &str, name: &str) -> Cmd {
        self.cmd(project, &["info", name])
    }

    pub fn show(self, project: &str, name: &str) -> Cmd {
        self.cmd(project, &["config", "show", name])
    }

    pub fn show_expanded(self, project: &str, name: &str) -> Cmd {
        self.cmd(project, &["config", "show", "--expanded", name])
    }

    /// Sets config keys given as `key=value` words (a run-time list).
    pub fn config_set(self, project: &str, name: &str, pairs: Word) -> Cmd {
        self.cmd(project, &["config", "set", name]).push(pairs)
    }

    pub fn config_unset(self, project: &str, name: &str, key: &str) -> Cmd {
        self.cmd(project, &["config", "unset", name, key])
    }

    pub fn start(self, project: &str, name: &str) -> Cmd {
        self.cmd(project, &["start", name])
    }

    pub fn stop(self, project: &str, name: &str) -> Cmd {
        self.cmd(project, &["stop", name])
    }

    pub fn delete(self, project: &str, name: impl Into<Word>) -> Cmd {
        self.cmd(project, &["delete"]).push(name)
    }

    /// Creates (does not start) an instance from an image with the
    /// project's default profile only (extract's temporary instance).
    pub fn create_plain(self, project: &str, image: &str, name: Word) -> Cmd {
        let verb = match self {
            Backend::Incus => "create",
            Backend::Lxd => "init",
        };
        self.cmd(project, &[verb, "--quiet", image]).push(name)
    }

    /// Writes an instance's backup (its root filesystem in a tar archive
    /// under `backup/container/rootfs`, whatever the storage driver) to
    /// `file`, uncompressed.
    pub fn export(self, project: &str, name: Word, file: Word) -> Cmd {
        self.cmd(project, &["export"]).push(name).push(file).extend([
            "--instance-only",
            "--compression",
            "none",
            "--quiet",
        ])
    }

    /// Publishes `source` (`INSTANCE/SNAPSHOT`) as an image with `alias`;
    /// `options` are flags (`--compression`, `--format`) and
    /// `properties` the image's `key=value` properties, one word each.
    pub fn publish(
        self,
        project: &str,
        source: Word,
        alias: &str,
        options: &[String],
        properties: &[String],
    ) -> Cmd {
        self.cmd(project, &["publish"])
            .push(source)
            .push("--alias")
            .push(alias)
            .extend(options.iter().map(String::as_str))
            .extend(properties.iter().map(String::as_str))
    }

    pub fn image_alias_rename(self, project: &str, old: &str, new: &str) -> Cmd {
        self.cmd(project, &["image", "alias", "rename", old, new])
    }

    pub fn image_alias_delete(self, project: &str, alias: &str) -> Cmd {
        self.cmd(project, &["image", "alias", "delete", alias])
    }

    /// Image aliases as CSV lines whose first field is the alias.
    pub fn image_alias_list(self, project: &str) -> Cmd {
        self.cmd(project, &["image", "alias", "list", "--format", "csv"])
    }

    /// The images, as JSON (fingerprints, aliases, properties).
    pub fn image_list_json(self, project: &str) -> Cmd {
        self.cmd(project, &["image", "list", "--format", "json"])
    }

    /// Each instance's name and the fingerprint of the image it was created
    /// from, as `name,fingerprint` lines.
    pub fn base_image_list(self, project: &str) -> Cmd {
        self.key_list(project, "volatile.base_image")
    }

    /// Each instance's name and its config `key`, as `name,value` lines.
    pub fn key_list(self, project: &str, key: &str) -> Cmd {
        self.cmd(project, &["list", "--format", "csv", "--columns", &format!("n,{key}")])
    }

    /// Every instance of every project, with its state, as JSON.
    pub fn list_all_json(self) -> Cmd {
        self.cmd("default", &["list", "--all-projects", "--format", "json"])
    }

    /// The instance as the API describes it, as JSON (the project goes in
    /// the query string: `query` takes the path as it is).
    pub fn instance_api(self, project: &str, name: &str) -> Cmd {
        self.cmd("default", &["query", &format!("/1.0/instances/{name}?project={project}")])
    }

    /// Deletes an instance even if it runs.
    pub fn delete_force(self, project: &str, name: &str) -> Cmd {
        self.cmd(project, &["delete", "--force", name])
    }

    pub fn rename(self, project: &str, old: &str, new: &str) -> Cmd {
        self.cmd(project, &["rename", old, new])
    }

    /// The server's own rebuild (Incus; LXD 5.15 and later).
    pub fn rebuild(self, project: &str, image: &str, name: &str) -> Cmd {
        self.cmd(project, &["rebuild", image, name])
    }

    /// Succeeds when the client has a rebuild command.
    pub fn rebuild_available(self) -> Cmd {
        self.cmd("default", &["rebuild", "--help"])
    }

    /// Takes the instance snapshot `snap`.
    pub fn snapshot_create(self, project: &str, name: &str, snap: Word) -> Cmd {
        match self {
            Backend::Incus => self.cmd(project, &["snapshot", "create", name]).push(snap),
            Backend::Lxd => self.cmd(project, &["snapshot", name]).push(snap),
        }
    }

    /// Deletes the instance snapshot `snap`.
    pub fn snapshot_delete(self, project: &str, name: &str, snap: Word) -> Cmd {
        match self {
            Backend::Incus => self.cmd(project, &["snapshot", "delete", name]).push(snap),
            Backend::Lxd => {
                let mut w = Word::lit(format!("{name}/"));
                w.0.extend(snap.0);
                self.cmd(project, &["delete"]).push(w)
            }
        }
    }

    /// Restores the instance to its snapshot `snap` (D8: the backend's own command).
    pub fn snapshot_restore(self, project: &str, name: &str, snap: Word) -> Cmd {
        match self {
            Backend::Incus => self.cmd(project, &["snapshot", "restore", name]).push(snap),
            Backend::Lxd => self.cmd(project, &["restore", name]).push(snap),
        }
    }

    /// Succeeds when the instance has the snapshot `snap`.
    pub fn snapshot_show(self, project: &str, name: &str, snap: Word) -> Cmd {
        match self {
            Backend::Incus => self.cmd(project, &["snapshot", "show", name]).push(snap),
            Backend::Lxd => {
                let mut w = Word::lit(format!("{name}/"));
                w.0.extend(snap.0);
                self.cmd(project, &["config", "show"]).push(w)
            }
        }
    }

    /// Exports an image as a unified tarball `<target>.tar.gz` (or split files).
    pub fn image_export(self, project: &str, image: &str, target: &str) -> Cmd {
        self.cmd(project, &["image", "export", image, target])
    }

    /// Imports image files under an alias.
    pub fn image_import(self, project: &str, files: Word, alias: &str) -> Cmd {
        self.cmd(project, &["image", "import"]).push(files).push("--alias").push(alias)
    }

    pub fn image_info(self, project: &str, image: &str) -> Cmd {
        self.cmd(project, &["image", "info", image])
    }

    pub fn profile_create(self, project: &str, profile: impl Into<Word>) -> Cmd {
        self.cmd(project, &["profile", "create"]).push(profile)
    }

    /// Replaces a profile's content with `yaml` (stdin).
    pub fn profile_edit(self, project: &str, profile: &str, yaml: String) -> Cmd {
        self.cmd(project, &["profile", "edit", profile]).stdin(yaml)
    }

    /// A profile's YAML (config, description, devices, and what the server adds).
    pub fn profile_show(self, project: &str, profile: impl Into<Word>) -> Cmd {
        self.cmd(project, &["profile", "show"]).push(profile)
    }

    /// Gives a profile back a content read earlier (a run-time value).
    pub fn profile_restore(self, project: &str, profile: &str, yaml: Word) -> Cmd {
        self.cmd(project, &["profile", "edit", profile]).stdin_value(yaml)
    }

    pub fn profile_delete(self, project: &str, profile: impl Into<Word>) -> Cmd {
        self.cmd(project, &["profile", "delete"]).push(profile)
    }

    /// Gives an instance exactly these profiles (a comma-separated word).
    pub fn profile_assign(self, project: &str, name: &str, profiles: Word) -> Cmd {
        self.cmd(project, &["profile", "assign", name]).push(profiles)
    }

    /// Runs `argv` in the guest, with environment `env` (`KEY=VALUE`).
    pub fn exec(self, project: &str, name: &str, env: &[&str], argv: &[&str]) -> Cmd {
        let mut c = self.cmd(project, &["exec", name]);
        for e in env {
            c = c.push("--env").push(*e);
        }
        c = c.push("--");
        for a in argv {
            c = c.push(*a);
        }
        c
    }

    /// Writes `bytes` to `path` in the guest, owned by root, with `mode`.
    pub fn file_push(self, project: &str, name: &str, path: &str, mode: &str, bytes: Vec<u8>) -> Cmd {
        let target = format!("{name}{path}");
        self.cmd(project, &["file", "push", "--uid", "0", "--gid", "0", "--mode", mode, "-", &target])
            .stdin(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_differs() {
        let p = vec!["default".to_string()];
        let i = Backend::Incus.create("default", "img", "c1", &p, &[]);
        let l = Backend::Lxd.create("web", "img", "c1", &p, &[]);
        let d = |c: &Cmd| c.argv.iter().map(|w| w.as_lit().unwrap()).collect::<Vec<_>>().join(" ");
        assert_eq!(d(&i), "incus create img c1 -p default");
        assert_eq!(d(&l), "lxc --project web init img c1 -p default");
    }
}
