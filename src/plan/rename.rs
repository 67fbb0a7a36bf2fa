//! The rename plan: the instance, its filesystem roots and its instance
//! profile (decision: the old profile never stays attached, with or without
//! devices). Both names are locked for the run.

use crate::diag::Diag;
use crate::plan::model::{Action, Cond, Kind, Parse, Step, Word};
use crate::plan::{Builder, host, lifecycle, origin};
use crate::resolve::{FsKind, Instance};

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
    b.lock(n);
    b.program(be.cli());
    let instances = b.instances(p);
    let profiles = b.profiles(p);
    b.check(
        format!("instance {o} exists and is stopped"),
        Cond::has_row(&instances, o, "STOPPED"),
        format!("instance {o} does not exist or is not stopped"),
        format!("stop it first ({} stop {o})", be.cli()),
    );
    b.check(
        format!("no instance is called {n} yet"),
        Cond::negate(Cond::has_key(&instances, n)),
        format!("instance {n} already exists"),
        "choose another name",
    );
    let same_profile = old.profile == new.profile;
    if !same_profile {
        b.check(
            format!("profile {} does not exist yet", new.profile),
            Cond::negate(Cond::has_key(&profiles, &new.profile)),
            format!("profile {} already exists", new.profile),
            "delete it, or choose another name",
        );
    }
    let raw = b.var(&["config", o]);
    let prof_var = b.var(&["profiles", n]);
    let replace = (!same_profile).then(|| (old.profile.clone(), new.profile.clone()));
    b.step(Step::new(
        "capture",
        Kind::Server,
        format!("read {o}'s profiles"),
        Action::Capture {
            cmd: be.show(p, o),
            raw,
            outputs: vec![(prof_var.clone(), Parse::Profiles { replace })],
        },
    ));
    b.step(Step::new(
        "rename",
        Kind::Server,
        format!("rename instance {o} to {n}"),
        Action::Run(vec![be.rename(p, o, n)]),
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
                Cond::Succeeds(host::zfs_exists(&nf.path)),
                "ZFS filesystem",
                host::zfs_rename(&fs.path, &nf.path),
            ),
            FsKind::Dir => (
                "mv",
                Cond::DirExists(nf.host_dir.clone()),
                "directory",
                host::move_dir(&fs.host_dir, &nf.host_dir),
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
                &format!("fs/{}", fs.id),
                Kind::Host,
                format!("rename {what} {} to {}", fs.path, nf.path),
                Action::Run(vec![cmd]),
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
            "profile-update",
            Kind::Server,
            format!("point profile {} at the renamed directories", new.profile),
            Action::Run(vec![be.profile_edit(p, &new.profile, lifecycle::profile_yaml(new))]),
        ));
        return;
    }
    b.step(Step::new(
        "profile",
        Kind::Server,
        format!("create profile {}", new.profile),
        Action::Run(vec![
            be.profile_create(p, &new.profile),
            be.profile_edit(p, &new.profile, lifecycle::profile_yaml(new)),
        ]),
    ));
    b.step(Step::new(
        "profiles",
        Kind::Server,
        format!("swap {} for {} in {n}'s profiles", old.profile, new.profile),
        Action::Run(vec![be.profile_assign(p, n, Word::var(&prof_var))]),
    ));
    b.step(Step::new(
        "delete-profile",
        Kind::Server,
        format!("delete profile {}", old.profile),
        Action::Run(vec![be.profile_delete(p, &old.profile)]),
    ));
}
