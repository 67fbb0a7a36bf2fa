//! Filesystems and device directories (spec §4.4), for launch and create-devices.
//!
//! Filesystems are created in path order (parents first) only when their
//! directory is missing; a newly created one sets a variable that makes its
//! device directories receive the template copy. Device directories are
//! created only when missing, and chowned to `device-owner`. The template
//! copy (`rsync -a T/ D/`) happens only into directories created by this
//! run or inside a newly created filesystem, never over existing data.

use crate::plan::model::{Action, Cond, Kind, Step};
use crate::plan::{Builder, host, origin};
use crate::resolve::{FsKind, Instance, SourceMode};

/// Adds the preflight checks and steps that create `inst`'s filesystems and
/// device directories.
pub fn steps(b: &mut Builder, inst: &Instance) {
    let new_vars = filesystems(b, inst);
    directories(b, inst, &new_vars);
}

/// The filesystems' steps; returns, per filesystem id, the flag set when
/// this run creates it.
pub fn filesystems(b: &mut Builder, inst: &Instance) -> Vec<(String, String)> {
    let name = &inst.name;
    let clone = matches!(inst.device_source.as_ref().map(|s| &s.mode), Some(SourceMode::Clone { .. }));
    let mut new_vars: Vec<(String, String)> = Vec::new();
    for fs in &inst.filesystems {
        let at = origin(&fs.file, &format!("filesystems.{}", fs.id));
        let exists = Cond::DirExists(fs.host_dir.clone());
        let note = format!("{} exists", fs.host_dir);
        if fs.kind == FsKind::Dir {
            b.program("mkdir");
            let var = b.var(&["new", name, &fs.id]);
            new_vars.push((fs.id.clone(), var.clone()));
            let mut cmds = vec![host::mkdir_p(&fs.host_dir)];
            // Unlike the original, a new directory filesystem's root is chowned
            // like a ZFS one, so `dir: .` devices belong to the container too.
            if let Some(owner) = &inst.owner {
                b.program("chown");
                cmds.push(host::chown(owner, &fs.host_dir));
            }
            b.step(
                Step::new(
                    &format!("fs/{}", fs.id),
                    Kind::Host,
                    format!("create directory {}", fs.host_dir),
                    Action::Run(cmds),
                )
                .origin(at)
                .skip_if(exists, note)
                .sets(var),
            );
            continue;
        }
        b.program("zfs");
        if clone && let Some(src) = &fs.clone_from {
            let cmd = host::zfs_clone(src, &fs.path, &fs.zfsproperties);
            b.check(
                format!("snapshot {src} exists, unless {} does", fs.host_dir),
                Cond::Or(vec![
                    Cond::DirExists(fs.host_dir.clone()),
                    Cond::Succeeds(host::zfs_snapshot_exists(src)),
                ]),
                format!("cannot clone filesystem {}: snapshot {src} does not exist", fs.id),
                "create the snapshot (lxops snapshot) on the device-origin instance, or fix device-origin",
            );
            b.step(
                Step::new(
                    &format!("fs/{}", fs.id),
                    Kind::Host,
                    format!("clone ZFS filesystem {} from {src}", fs.path),
                    Action::Run(vec![cmd]),
                )
                .origin(at)
                .skip_if(exists, note),
            );
            continue;
        }
        let mut cmds = vec![host::zfs_create(&fs.path, &fs.zfsproperties)];
        // Filesystems that the device origin has as transient are created, not
        // cloned, and (as in the original) neither chowned nor treated as new.
        let plain = !fs.origin_transient;
        if plain && let Some(owner) = &inst.owner {
            b.program("chown");
            cmds.push(host::chown(owner, &fs.host_dir));
        }
        let mut step = Step::new(
            &format!("fs/{}", fs.id),
            Kind::Host,
            format!("create ZFS filesystem {}", fs.path),
            Action::Run(cmds),
        )
        .origin(at)
        .skip_if(exists, note);
        if plain {
            let var = b.var(&["new", name, &fs.id]);
            new_vars.push((fs.id.clone(), var.clone()));
            step = step.sets(var);
        }
        b.step(step);
    }
    new_vars
}

/// The device directories' steps (and template copies), after the filesystems.
pub fn directories(b: &mut Builder, inst: &Instance, new_vars: &[(String, String)]) {
    let name = &inst.name;
    let template = matches!(inst.device_source.as_ref().map(|s| &s.mode), Some(SourceMode::Template));
    for d in &inst.devices {
        let Some(fsid) = &d.filesystem else { continue };
        let Some(fs) = inst.filesystem(fsid) else { continue };
        let at = origin(&d.file, &format!("devices.{}", d.key));
        let dir_var = b.var(&["dir", name, &d.key]);
        let mut cmds = vec![host::mkdir_p(&d.source)];
        b.program("mkdir");
        if let Some(owner) = &inst.owner {
            b.program("chown");
            cmds.push(host::chown(owner, &d.source));
        }
        b.step(
            Step::new(
                &format!("dir/{}", d.key),
                Kind::Host,
                format!("create device directory {}", d.source),
                Action::Run(cmds),
            )
            .origin(at.clone())
            .skip_if(Cond::DirExists(d.source.clone()), format!("{} exists", d.source))
            .sets(dir_var.clone()),
        );
        if !template || fs.transient {
            continue;
        }
        let Some(t) = &d.template else { continue };
        b.program("rsync");
        b.check(
            format!("template directory {t} exists, unless {} already has its data", d.source),
            Cond::Or(vec![
                Cond::And(vec![Cond::DirExists(fs.host_dir.clone()), Cond::DirExists(d.source.clone())]),
                Cond::DirExists(t.clone()),
            ]),
            format!("missing template directory {t} for device {} of {name}", d.key),
            format!(
                "create it (lxops extract, or launch the template instance {}) or remove device-template",
                inst.device_source.as_ref().map(|s| s.instance.as_str()).unwrap_or("")
            ),
        );
        let mut run_if = vec![Cond::Flag(dir_var)];
        if let Some((_, v)) = new_vars.iter().find(|(id, _)| id == fsid) {
            run_if.push(Cond::Flag(v.clone()));
        }
        let cmd = host::rsync_into(t, &d.source);
        b.step(
            Step::new(
                &format!("copy/{}", d.key),
                Kind::Host,
                format!("copy template {t} into {}", d.source),
                Action::Run(vec![cmd]),
            )
            .origin(at)
            .skip_if(Cond::negate(Cond::Or(run_if)), "the directory already existed (its data is kept)"),
        );
    }
}
