//! Filesystems and device directories: patterns substituted, checked
//! (datasets, directories, system directories, pool roots, device names,
//! paths that would leave their filesystem) and turned into [`Fs`] and
//! [`Dev`] values, every problem reported with its file and key.

use super::names::{device_key_problem, fs_path_problem, has_parent_component, system_dir_problem};
use super::{Dev, Fs, FsKind, Lookup};
use crate::diag::Diag;
use crate::load::Merged;
use crate::paths;
use indexmap::IndexMap;
use std::path::Path;

pub(super) fn resolve_filesystems(
    c: &crate::config::Config,
    m: &Merged,
    look: &Lookup,
    errs: &mut Vec<Diag>,
) -> Vec<Fs> {
    let mut out = Vec::new();
    for (id, fs) in &c.filesystems {
        let file = m.origins.filesystems.get(id).cloned().unwrap_or(m.top.clone());
        let Some(fs) = fs else {
            errs.push(
                Diag::new(format!("filesystem {id} is empty"))
                    .in_file(&file)
                    .at_key(format!("filesystems.{id}"))
                    .hint("give it a `pattern`, or remove the entry"),
            );
            continue;
        };
        if id.is_empty() {
            errs.push(
                Diag::new(format!("empty filesystem key (pattern {:?})", fs.pattern))
                    .in_file(&file)
                    .at_key("filesystems"),
            );
            continue;
        }
        let key = format!("filesystems.{id}.pattern");
        let Some(path) = look.sub(&fs.pattern, &file, &key, errs) else { continue };
        if let Some(problem) = fs_path_problem(&path) {
            errs.push(
                Diag::new(format!("filesystem {id}: {path:?} is not usable: {problem}"))
                    .in_file(&file)
                    .at_key(key)
                    .hint("a pattern gives a ZFS dataset (pool/a/b) or an absolute directory (/srv/x)"),
            );
            continue;
        }
        let (kind, host_dir) = if path.starts_with('/') {
            (FsKind::Dir, paths::clean(Path::new(&path)).display().to_string())
        } else {
            (FsKind::Zfs, format!("/{path}"))
        };
        let path = if kind == FsKind::Dir { host_dir.clone() } else { path };
        // D25: never a pool's root dataset, a system directory or one above it.
        let refused_place = if kind == FsKind::Zfs && !path.contains('/') {
            Some(format!("{path} is a pool's root dataset"))
        } else {
            system_dir_problem(&host_dir)
        };
        if let Some(problem) = refused_place {
            errs.push(
                Diag::new(format!("filesystem {id}: pattern {:?} gives {path}: {problem}", fs.pattern))
                    .in_file(&file)
                    .at_key(key)
                    .hint("check the properties the pattern uses; a filesystem is a dataset below a pool or a directory of its own"),
            );
            continue;
        }
        let mut zfsproperties: Vec<(String, String)> =
            fs.zfsproperties.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        zfsproperties.sort();
        if kind == FsKind::Dir && !zfsproperties.is_empty() {
            errs.push(
                Diag::new(format!("filesystem {id} is a directory ({path}) but has zfsproperties"))
                    .in_file(&file)
                    .at_key(format!("filesystems.{id}.zfsproperties")),
            );
        }
        out.push(Fs {
            id: id.clone(),
            pattern: fs.pattern.clone(),
            path,
            kind,
            host_dir,
            zfsproperties,
            destroy: fs.destroy,
            transient: fs.transient,
            file,
            clone_from: None,
            origin_transient: false,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

pub(super) fn resolve_devices(
    c: &crate::config::Config,
    m: &Merged,
    look: &Lookup,
    fss: &[Fs],
    errs: &mut Vec<Diag>,
) -> Vec<Dev> {
    let mut out = Vec::new();
    let mut paths_seen: IndexMap<String, String> = IndexMap::new();
    for (key, d) in &c.devices {
        let file = m.origins.devices.get(key).cloned().unwrap_or(m.top.clone());
        let at = format!("devices.{key}");
        let Some(d) = d else {
            errs.push(
                Diag::new(format!("device {key} is empty"))
                    .in_file(&file)
                    .at_key(at)
                    .hint("give it a `path`, or remove the entry"),
            );
            continue;
        };
        if key.is_empty() {
            errs.push(
                Diag::new(format!("empty device key (path {:?})", d.path)).in_file(&file).at_key("devices"),
            );
            continue;
        }
        if let Some(problem) = device_key_problem(key) {
            errs.push(
                Diag::new(format!("invalid device name {key:?}: {problem}"))
                    .in_file(&file)
                    .at_key(at.clone())
                    .hint("the key is the device's name in the profile and, without `dir`, its directory"),
            );
            continue;
        }
        if !d.path.starts_with('/') {
            errs.push(
                Diag::new(format!("device {key}: path {:?} is not absolute", d.path))
                    .in_file(&file)
                    .at_key(format!("{at}.path"))
                    .hint("`path` is where the device is mounted in the instance, e.g. /home"),
            );
        }
        if let Some(other) = paths_seen.insert(d.path.clone(), key.clone()) {
            errs.push(
                Diag::new(format!("duplicate device path {}: devices {other} and {key}", d.path))
                    .in_file(&file)
                    .at_key(format!("{at}.path")),
            );
        }
        let Some(dir) = look.sub(&d.dir, &file, &format!("{at}.dir"), errs) else { continue };
        let source = if dir.starts_with('/') {
            if has_parent_component(&dir) {
                errs.push(
                    Diag::new(format!("device {key}: dir {dir:?} contains '..'"))
                        .in_file(&file)
                        .at_key(format!("{at}.dir")),
                );
                continue;
            }
            paths::clean(Path::new(&dir)).display().to_string()
        } else if d.filesystem.is_empty() {
            errs.push(
                Diag::new(format!("device {key} has no filesystem but a relative dir {dir:?}"))
                    .in_file(&file)
                    .at_key(format!("{at}.dir"))
                    .hint("set `filesystem` to a filesystem id, or make `dir` an absolute host path"),
            );
            continue;
        } else {
            let Some(fs) = fss.iter().find(|f| f.id == d.filesystem) else {
                if !c.filesystems.contains_key(&d.filesystem) {
                    let known: Vec<&str> = c.filesystems.keys().map(|s| s.as_str()).collect();
                    errs.push(
                        Diag::new(format!("device {key}: unknown filesystem id {:?}", d.filesystem))
                            .in_file(&file)
                            .at_key(format!("{at}.filesystem"))
                            .hint(if known.is_empty() {
                                "the config defines no filesystems".to_string()
                            } else {
                                format!("known filesystems: {}", known.join(", "))
                            }),
                    );
                }
                continue;
            };
            if has_parent_component(&dir) {
                errs.push(
                    Diag::new(format!("device {key}: dir {dir:?} leaves its filesystem"))
                        .in_file(&file)
                        .at_key(format!("{at}.dir"))
                        .hint("a relative dir is a sub-directory of the filesystem; '..' is not allowed"),
                );
                continue;
            }
            let sub = if d.dir == "." {
                ""
            } else if dir.is_empty() {
                key.as_str()
            } else {
                dir.as_str()
            };
            if sub.is_empty() {
                fs.host_dir.clone()
            } else {
                paths::clean(&Path::new(&fs.host_dir).join(sub)).display().to_string()
            }
        };
        if let Some(problem) = system_dir_problem(&source) {
            errs.push(
                Diag::new(format!("device {key}: its directory {source}: {problem}"))
                    .in_file(&file)
                    .at_key(format!("{at}.dir"))
                    .hint("a device directory holds the instance's data; give it a directory of its own"),
            );
            continue;
        }
        out.push(Dev {
            key: key.clone(),
            path: d.path.clone(),
            filesystem: (!d.filesystem.is_empty()).then(|| d.filesystem.clone()),
            source,
            readonly: d.readonly,
            file,
            template: None,
        });
    }
    out.sort_by(|a, b| {
        (a.filesystem.as_deref().unwrap_or(""), &a.key).cmp(&(b.filesystem.as_deref().unwrap_or(""), &b.key))
    });
    out
}
