//! Plans for rebuild (a new OS under the same data, IP and profiles) and rename.
//!
//! Rebuild's default "recreate" mode keeps the old instance as a fallback
//! under another name until the new one is configured: captures the profile
//! list and NIC MAC addresses, snapshots the non-transient ZFS filesystems,
//! stops and renames the instance, gives the fallback's MACs up (both servers
//! refuse to start an instance whose MAC another instance has), brings the
//! instance profile up to date, creates the new instance with the captured
//! profiles and MACs, starts, waits and configures it, and only then deletes
//! the fallback. A failure after the stop rolls back to the fallback.
//! `--native` uses the server's own `rebuild` instead.

use crate::diag::Diag;
use crate::plan::model::{Action, Cmd, Cond, Kind, Parse, Rollback, Step, Timer, Word};
use crate::plan::{Builder, lifecycle, origin};
use crate::resolve::{FsKind, Instance};

#[derive(Debug, Clone, Default)]
pub struct RebuildOptions {
    pub skip_profiles: bool,
    pub skip_ip: bool,
    pub no_snapshot: bool,
    pub native: bool,
}

/// The name the old instance carries while the new one is built.
pub fn fallback_name(name: &str) -> String {
    const SUFFIX: &str = "-lxops-fallback";
    let keep = 63 - SUFFIX.len();
    let base: String = name.chars().take(keep).collect();
    format!("{}{SUFFIX}", base.trim_end_matches('-'))
}

/// Checks common to both modes: the instance, its data directories, the image.
fn checks(b: &mut Builder, inst: &Instance, errs: &mut Vec<Diag>) {
    let top = &inst.config_file;
    if inst.origin.is_some() {
        errs.push(
            Diag::new("cannot rebuild an instance whose config copies it from `origin`")
                .in_file(inst.merged.origins.field("origin", top))
                .at_key("origin")
                .hint("rebuild works from an image; delete and launch it again instead"),
        );
    }
    if inst.image.is_empty() {
        errs.push(Diag::new("no image to rebuild from").in_file(top).at_key("image").hint("set `image`"));
    }
    if !inst.cloud_config_files.is_empty() && inst.ostype.is_empty() {
        errs.push(Diag::new("no ostype for the cloud-config files").in_file(top).at_key("ostype"));
    }
    let be = b.backend();
    let name = &inst.name;
    b.program(be.cli());
    let instances = b.instances(&inst.project);
    b.check(
        format!("instance {name} exists"),
        Cond::FactKey { fact: instances, key: name.clone() },
        format!("instance {name} does not exist"),
        "use lxops launch to create it",
    );
    for d in &inst.devices {
        b.check(
            format!("device directory {} exists", d.source),
            Cond::DirExists(d.source.clone()),
            format!(
                "device {} of {name}: {} does not exist; refusing to rebuild onto missing data",
                d.key, d.source
            ),
            "check the config's filesystems and properties; lxops create-devices creates missing directories",
        );
    }
    b.check(
        format!("image {} is known", inst.image),
        Cond::Succeeds(be.cmd(&inst.project, &["image", "info", &inst.image])),
        format!("image {} is not known to the server", inst.image),
        format!("import it or fix `image` ({} image list)", be.cli()),
    );
}

/// Snapshots of the non-transient ZFS filesystems, named at run time.
fn snapshot_steps(b: &mut Builder, inst: &Instance) -> Option<(String, Vec<String>)> {
    let fss: Vec<_> = inst.filesystems.iter().filter(|f| f.kind == FsKind::Zfs && !f.transient).collect();
    if fss.is_empty() {
        return None;
    }
    let name = &inst.name;
    let var = b.var(&["snapshot", name]);
    b.program("date");
    b.program("zfs");
    b.step(Step::new(
        name,
        "snapshot-name",
        Kind::Host,
        "choose the snapshot name (UTC time)",
        Action::Capture {
            cmd: Cmd::new(["date", "-u", "+lxops-rebuild-%Y%m%d-%H%M%S"]),
            outputs: vec![(var.clone(), Parse::Trim)],
        },
    ));
    let datasets: Vec<String> = fss.iter().map(|f| f.path.clone()).collect();
    for fs in fss {
        let snap = Word(vec![
            crate::plan::model::Part::Lit(format!("{}@", fs.path)),
            crate::plan::model::Part::Var(var.clone()),
        ]);
        b.step(
            Step::new(
                name,
                &format!("snapshot/{}", fs.id),
                Kind::Host,
                format!("snapshot ZFS filesystem {}", fs.path),
                Action::Run(vec![Cmd::new(["zfs", "snapshot"]).push(snap).root()]),
            )
            .origin(origin(&fs.file, &format!("filesystems.{}", fs.id))),
        );
    }
    Some((var, datasets))
}

pub fn rebuild(b: &mut Builder, inst: &Instance, o: &RebuildOptions, errs: &mut Vec<Diag>) {
    checks(b, inst, errs);
    if o.native {
        native(b, inst, o)
    } else {
        recreate(b, inst, o)
    }
    if let Err(e) = crate::guest::configure_steps(b, inst) {
        errs.extend(e.0);
    }
    if !o.native {
        finish_recreate(b, inst);
    }
}

fn native(b: &mut Builder, inst: &Instance, o: &RebuildOptions) {
    let be = b.backend();
    let name = &inst.name;
    b.check(
        format!("the {} client has a rebuild command", be.cli()),
        Cond::Succeeds(be.cmd("default", &["rebuild", "--help"])),
        format!("`{} rebuild` is not available (LXD before 5.15 has none)", be.cli()),
        "leave out --native: the default mode recreates the instance with a fallback",
    );
    b.plan.notes.push(format!(
        "{name}: --native: the server rebuilds the root disk in place; the instance keeps its config, \
profiles, devices and MAC addresses; Incus deletes the instance's snapshots; there is no fallback \
if configuration fails"
    ));
    if !o.no_snapshot {
        snapshot_steps(b, inst);
    }
    // `rebuild --force` would restart a running instance by itself; stopping it
    // first keeps start, wait and configure the same in every case.
    let stop = lifecycle::stop_step(b, inst).timer(Timer::Start(name.clone()));
    b.step(stop);
    b.step(
        Step::new(
            name,
            "rebuild",
            Kind::Server,
            format!("rebuild {name} from image {}", inst.image),
            Action::Run(vec![be.cmd(&inst.project, &["rebuild", &inst.image, name])]),
        )
        .destructive()
        .origin(origin(inst.merged.origins.field("image", &inst.config_file), "image")),
    );
    lifecycle::start_and_wait(b, inst, true);
}

/// The recreate mode up to and including the start of the new instance.
fn recreate(b: &mut Builder, inst: &Instance, o: &RebuildOptions) {
    let be = b.backend();
    let name = &inst.name;
    let p = &inst.project;
    let fb = fallback_name(name);
    let instances = b.instances(p);
    let profiles = b.profiles(p);
    b.plan.notes.push(format!(
        "{name}: the old instance is kept as {fb} until the new one is configured, then deleted with \
its instance snapshots; data on the config's filesystems is kept"
    ));
    b.check(
        format!("no instance is called {fb} (the fallback name)"),
        Cond::negate(Cond::FactKey { fact: instances.clone(), key: fb.clone() }),
        format!("instance {fb} exists, probably left by an interrupted rebuild"),
        format!("inspect it; delete it ({} delete {fb}) or rename it back to {name}", be.cli()),
    );
    let prof_var = b.var(&["profiles", name]);
    let macs = b.var(&["macs", name]);
    let clear = b.var(&["clear", name]);
    let mut outputs = Vec::new();
    if !o.skip_profiles {
        outputs.push((prof_var.clone(), Parse::Profiles { replace: None }));
    }
    if !o.skip_ip {
        outputs.push((macs.clone(), Parse::Hwaddrs));
        outputs.push((clear.clone(), Parse::HwaddrKeys));
    }
    if !outputs.is_empty() {
        b.step(Step::new(
            name,
            "capture",
            Kind::Server,
            format!(
                "read {name}'s {}",
                match (o.skip_profiles, o.skip_ip) {
                    (false, false) => "profiles and MAC addresses",
                    (false, true) => "profiles",
                    _ => "MAC addresses",
                }
            ),
            Action::Capture { cmd: be.cmd(p, &["config", "show", name]), outputs },
        ));
    }
    let snap = if o.no_snapshot { None } else { snapshot_steps(b, inst) };
    let first = b.plan.steps.len() + 1;
    let stop = lifecycle::stop_step(b, inst).timer(Timer::Start(name.clone()));
    b.step(stop);
    let renamed = b.var(&["renamed", name]);
    b.step(
        Step::new(
            name,
            "keep-fallback",
            Kind::Server,
            format!("keep the old instance as {fb}"),
            Action::Run(vec![be.cmd(p, &["rename", name, &fb])]),
        )
        .sets(renamed.clone()),
    );
    if !o.skip_ip {
        b.step(
            Step::new(
                name,
                "release-macs",
                Kind::Server,
                format!("release {fb}'s MAC addresses for the new instance"),
                Action::Run(vec![be.cmd(p, &["config", "set", &fb]).push(Word::list(&clear))]),
            )
            .skip_if(Cond::ListEmpty(clear.clone()), "the instance has no MAC address"),
        );
    }
    b.step(
        Step::new(
            name,
            "profile-create",
            Kind::Server,
            format!("create profile {} if missing", inst.profile),
            Action::Run(vec![be.cmd(p, &["profile", "create", &inst.profile])]),
        )
        .skip_if(Cond::FactKey { fact: profiles, key: inst.profile.clone() }, "the profile exists"),
    );
    b.step(
        Step::new(
            name,
            "profile-update",
            Kind::Server,
            format!("bring profile {} up to date with the config", inst.profile),
            Action::Run(vec![
                be.cmd(p, &["profile", "edit", &inst.profile]).stdin(lifecycle::profile_yaml(inst)),
            ]),
        )
        .origin(origin(inst.merged.origins.field("profile-pattern", &inst.config_file), "devices")),
    );
    let created = b.var(&["created", name]);
    let create = lifecycle::create_step(b, inst).sets(created.clone());
    b.step(create);
    if !o.skip_profiles {
        b.step(Step::new(
            name,
            "profiles",
            Kind::Server,
            format!("give {name} its previous profiles"),
            Action::Run(vec![be.cmd(p, &["profile", "assign", name]).push(Word::var(&prof_var))]),
        ));
    }
    if !o.skip_ip {
        b.step(
            Step::new(
                name,
                "macs",
                Kind::Server,
                format!("give {name} its previous MAC addresses"),
                Action::Run(vec![be.cmd(p, &["config", "set", name]).push(Word::list(&macs))]),
            )
            .skip_if(Cond::ListEmpty(macs.clone()), "the old instance had no MAC address"),
        );
    }
    b.step(
        Step::new(
            name,
            "start",
            Kind::Server,
            format!("start instance {name}"),
            Action::Run(vec![be.cmd(p, &["start", name])]),
        )
        .timer(Timer::Stop(name.clone())),
    );
    if let Some(seconds) = b.settings.wait_network {
        lifecycle::wait_network(b, inst, seconds);
    }
    let mut cmds: Vec<(Cmd, Option<Cond>)> =
        vec![(be.cmd(p, &["delete", "--force", name]), Some(Cond::Var(created)))];
    if !o.skip_ip {
        cmds.push((
            be.cmd(p, &["config", "set", &fb]).push(Word::list(&macs)),
            Some(Cond::And(vec![Cond::Var(renamed.clone()), Cond::negate(Cond::ListEmpty(macs))])),
        ));
    }
    cmds.push((be.cmd(p, &["rename", &fb, name]), Some(Cond::Var(renamed))));
    cmds.push((be.cmd(p, &["start", name]), None));
    let mut message = vec![Word::lit(format!("{name} is back on its old instance (started)"))];
    if let Some((v, datasets)) = snap {
        message.push(Word::lit("; ZFS snapshots taken before the rebuild:"));
        for d in datasets {
            message.push(Word::lit(format!(" {d}@")));
            message.push(Word::var(&v));
        }
    }
    b.plan.rollbacks.push(Rollback { instance: name.clone(), first, last: usize::MAX, cmds, message });
}

/// After configuration: close the rollback window and delete the fallback.
fn finish_recreate(b: &mut Builder, inst: &Instance) {
    let last = b.plan.steps.len();
    if let Some(r) =
        b.plan.rollbacks.iter_mut().rev().find(|r| r.instance == inst.name && r.last == usize::MAX)
    {
        r.last = last;
    }
    let fb = fallback_name(&inst.name);
    let be = b.backend();
    b.step(
        Step::new(
            &inst.name,
            "delete-fallback",
            Kind::Server,
            format!("delete the old instance {fb}"),
            Action::Run(vec![be.cmd(&inst.project, &["delete", &fb])]),
        )
        .destructive(),
    );
}

/// rename: instance, filesystem roots, instance profile (decision: the old
/// profile never stays attached, with or without devices).
pub fn rename(b: &mut Builder, old: &Instance, new: &Instance, errs: &mut Vec<Diag>) {
    let be = b.backend();
    let p = &old.project;
    let (o, n) = (&old.name, &new.name);
    if o == n {
        errs.push(
            Diag::new(format!("{o} is already called {n}"))
                .in_file(&old.config_file)
                .hint("give a different new name"),
        );
        return;
    }
    b.program(be.cli());
    let instances = b.instances(p);
    let profiles = b.profiles(p);
    b.check(
        format!("instance {o} exists and is stopped"),
        Cond::FactField { fact: instances.clone(), key: o.clone(), value: "STOPPED".into() },
        format!("instance {o} does not exist or is not stopped"),
        format!("stop it first ({} stop {o})", be.cli()),
    );
    b.check(
        format!("no instance is called {n} yet"),
        Cond::negate(Cond::FactKey { fact: instances, key: n.clone() }),
        format!("instance {n} already exists"),
        "choose another name",
    );
    let same_profile = old.profile == new.profile;
    if !same_profile {
        b.check(
            format!("profile {} does not exist yet", new.profile),
            Cond::negate(Cond::FactKey { fact: profiles, key: new.profile.clone() }),
            format!("profile {} already exists", new.profile),
            "delete it, or choose another name",
        );
    }
    let prof_var = b.var(&["profiles", n]);
    let replace = (!same_profile).then(|| (old.profile.clone(), new.profile.clone()));
    b.step(Step::new(
        n,
        "capture",
        Kind::Server,
        format!("read {o}'s profiles"),
        Action::Capture {
            cmd: be.cmd(p, &["config", "show", o]),
            outputs: vec![(prof_var.clone(), Parse::Profiles { replace })],
        },
    ));
    b.step(Step::new(
        n,
        "rename",
        Kind::Server,
        format!("rename instance {o} to {n}"),
        Action::Run(vec![be.cmd(p, &["rename", o, n])]),
    ));
    for fs in old.roots() {
        let Some(nf) = new.filesystem(&fs.id) else { continue };
        if nf.path == fs.path {
            continue;
        }
        let at = origin(&fs.file, &format!("filesystems.{}", fs.id));
        let (program, taken, what, cmd) = match fs.kind {
            FsKind::Zfs => (
                "zfs",
                Cond::Succeeds(Cmd::new(["zfs", "list", "-H", "-o", "name", &nf.path])),
                "ZFS filesystem",
                Cmd::new(["zfs", "rename", &fs.path, &nf.path]),
            ),
            FsKind::Dir => (
                "mv",
                Cond::DirExists(nf.host_dir.clone()),
                "directory",
                Cmd::new(["mv", &fs.host_dir, &nf.host_dir]),
            ),
        };
        b.program(program);
        b.check(
            format!("{} does not exist yet", nf.path),
            Cond::negate(taken),
            format!("{} already exists", nf.path),
            "move it away first",
        );
        b.step(
            Step::new(
                n,
                &format!("fs/{}", fs.id),
                Kind::Host,
                format!("rename {what} {} to {}", fs.path, nf.path),
                Action::Run(vec![cmd.root()]),
            )
            .origin(at)
            .skip_if(
                Cond::negate(Cond::DirExists(fs.host_dir.clone())),
                format!("{} does not exist", fs.host_dir),
            ),
        );
    }
    if same_profile {
        b.step(Step::new(
            n,
            "profile-update",
            Kind::Server,
            format!("point profile {} at the renamed directories", new.profile),
            Action::Run(vec![
                be.cmd(p, &["profile", "edit", &new.profile]).stdin(lifecycle::profile_yaml(new)),
            ]),
        ));
        return;
    }
    let create = be.cmd(p, &["profile", "create", &new.profile]);
    let edit = be.cmd(p, &["profile", "edit", &new.profile]).stdin(lifecycle::profile_yaml(new));
    b.step(Step::new(
        n,
        "profile",
        Kind::Server,
        format!("create profile {}", new.profile),
        Action::Run(vec![create, edit]),
    ));
    b.step(Step::new(
        n,
        "profiles",
        Kind::Server,
        format!("swap {} for {} in {n}'s profiles", old.profile, new.profile),
        Action::Run(vec![be.cmd(p, &["profile", "assign", n]).push(Word::var(&prof_var))]),
    ));
    b.step(Step::new(
        n,
        "delete-profile",
        Kind::Server,
        format!("delete profile {}", old.profile),
        Action::Run(vec![be.cmd(p, &["profile", "delete", &old.profile])]),
    ));
}

#[cfg(test)]
mod tests {
    #[test]
    fn fallback_names_are_valid() {
        assert_eq!(super::fallback_name("web1"), "web1-lxops-fallback");
        let long = "a".repeat(63);
        let f = super::fallback_name(&long);
        assert_eq!(f.len(), 63);
        assert!(crate::resolve::instance_name_problem(&f).is_none());
    }
}
