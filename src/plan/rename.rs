//! The rename plan: the instance, its filesystem roots and its instance
//! profile (decision: the old profile never stays attached, with or without
//! devices). Both names are locked for the run. If a step fails, the undo
//! puts back what the run changed, in reverse order: the profile list, the
//! new profile (or the old one's content), the filesystems, the name.

use crate::diag::Diag;
use crate::plan::model::{Action, Cond, Guarded, Kind, Parse, Step, Word};
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
    let old_list = b.var(&["profiles", "before", o]);
    let replace = (!same_profile).then(|| (old.profile.clone(), new.profile.clone()));
    b.step(Step::new(
        "capture",
        Kind::Server,
        format!("read {o}'s profiles"),
        Action::Capture {
            cmd: be.show(p, o),
            raw,
            outputs: vec![
                (prof_var.clone(), Parse::Profiles { replace }),
                (old_list.clone(), Parse::Profiles { replace: None }),
            ],
        },
    ));
    // What the undo gives back, newest first.
    let mut undo: Vec<Guarded> = Vec::new();
    let profile_text = b.var(&["profile", "before", o]);
    let profile_saved = b.var(&["profile", "saved", o]);
    if same_profile {
        let profile_raw = b.var(&["profile", "raw", o]);
        b.step(
            Step::new(
                "profile-save",
                Kind::Server,
                format!("read profile {} as it is (the undo gives it back)", old.profile),
                Action::Capture {
                    cmd: be.profile_show(p, &old.profile),
                    raw: profile_raw,
                    outputs: vec![(profile_text.clone(), Parse::Text)],
                },
            )
            .skip_if(Cond::negate(Cond::has_key(&profiles, &old.profile)), "the profile does not exist")
            .sets(profile_saved.clone()),
        );
    }
    let window = b.open_undo();
    let renamed = b.var(&["renamed", o]);
    b.step(
        Step::new(
            "rename",
            Kind::Server,
            format!("rename instance {o} to {n}"),
            Action::Run(vec![be.rename(p, o, n)]),
        )
        .sets(renamed.clone()),
    );
    undo.push(Guarded::new(be.rename(p, n, o), Some(Cond::Flag(renamed))));
    for fs in old.roots() {
        let Some(nf) = new.filesystem(&fs.id) else { continue };
        if nf.path == fs.path {
            continue;
        }
        let at = origin(&fs.file, &format!("filesystems.{}", fs.id));
        let (program, taken, what, cmd, back) = match fs.kind {
            FsKind::Zfs => (
                "zfs",
                Cond::Succeeds(host::zfs_exists(&nf.path)),
                "ZFS filesystem",
                host::zfs_rename(&fs.path, &nf.path),
                host::zfs_rename(&nf.path, &fs.path),
            ),
            FsKind::Dir => (
                "mv",
                Cond::DirExists(nf.host_dir.clone()),
                "directory",
                host::move_dir(&fs.host_dir, &nf.host_dir),
                host::move_dir(&nf.host_dir, &fs.host_dir),
            ),
        };
        let moved = b.var(&["moved", o, &fs.id]);
        undo.push(Guarded::new(back, Some(Cond::Flag(moved.clone()))));
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
            )
            .sets(moved),
        );
    }
    let message = vec![Word::lit(format!("{o} keeps its name, filesystems and profiles"))];
    if same_profile {
        undo.push(Guarded::new(
            be.profile_restore(p, &old.profile, Word::var(&profile_text)),
            Some(Cond::Flag(profile_saved)),
        ));
        b.step(Step::new(
            "profile-update",
            Kind::Server,
            format!("point profile {} at the renamed directories", new.profile),
            Action::Run(vec![be.profile_edit(p, &new.profile, lifecycle::profile_yaml(new))]),
        ));
        undo.reverse();
        b.close_undo(window, undo, message);
        return;
    }
    let created = b.var(&["profile", "created", n]);
    b.step(
        Step::new(
            "profile",
            Kind::Server,
            format!("create profile {}", new.profile),
            Action::Run(vec![be.profile_create(p, &new.profile)]),
        )
        .sets(created.clone()),
    );
    b.step(Step::new(
        "profile-devices",
        Kind::Server,
        format!("give profile {} the renamed directories", new.profile),
        Action::Run(vec![be.profile_edit(p, &new.profile, lifecycle::profile_yaml(new))]),
    ));
    let assigned = b.var(&["assigned", n]);
    b.step(
        Step::new(
            "profiles",
            Kind::Server,
            format!("swap {} for {} in {n}'s profiles", old.profile, new.profile),
            Action::Run(vec![be.profile_assign(p, n, Word::var(&prof_var))]),
        )
        .sets(assigned.clone()),
    );
    // Until the old profile goes the instance is whole under either name;
    // the undo covers everything before.
    undo.push(Guarded::new(be.profile_delete(p, &new.profile), Some(Cond::Flag(created))));
    undo.push(Guarded::new(be.profile_assign(p, n, Word::var(&old_list)), Some(Cond::Flag(assigned))));
    undo.reverse();
    b.close_undo(window, undo, message);
    b.step(Step::new(
        "delete-profile",
        Kind::Server,
        format!("delete profile {}", old.profile),
        Action::Run(vec![be.profile_delete(p, &old.profile)]),
    ));
}
