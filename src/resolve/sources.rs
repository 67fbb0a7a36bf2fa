//! Where device and instance sources come from: `origin` (copy the instance
//! from another one) and `device-template` / `device-origin` (fill new device
//! directories from a template instance, or clone ZFS filesystems from an
//! instance snapshot), resolved against the source instance's own config and
//! properties (no `-P`, as in the original).

use super::{ContainerSource, Dev, DeviceSource, Fs, FsKind, Lookup, SourceMode};
use crate::diag::Diag;
use crate::load::{Loader, Merged};
use crate::paths;
use crate::properties::Properties;
use indexmap::IndexMap;
use std::path::{Path, PathBuf};

pub(super) fn parse_origin(s: &str, project: &str) -> ContainerSource {
    let (head, snapshot) = match s.split_once('/') {
        Some((h, snap)) => (h, snap.to_string()),
        None => (s, String::new()),
    };
    let (p, container) = match head.split_once('_') {
        Some((p, c)) => (p.to_string(), c.to_string()),
        None => (project.to_string(), head.to_string()),
    };
    ContainerSource { project: p, container, snapshot }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn resolve_device_source(
    loader: &mut Loader,
    m: &Merged,
    props: &Properties,
    look: &Lookup,
    project: &str,
    fss: &mut [Fs],
    devs: &mut [Dev],
    errs: &mut Vec<Diag>,
) -> Option<DeviceSource> {
    let c = &m.config;
    let top = &m.top;
    let (raw, key, clone) = if !c.device_origin.is_empty() {
        (&c.device_origin, "device-origin", true)
    } else if !c.device_template.is_empty() {
        (&c.device_template, "device-template", false)
    } else {
        return None;
    };
    let file = m.origins.field(key, top).to_path_buf();
    let s = look.sub(raw, &file, key, errs)?;
    let (name, mode) = if clone {
        match s.split_once('@') {
            Some((n, snap))
                if !snap.is_empty()
                    && snap.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c)) =>
            {
                (n.to_string(), SourceMode::Clone { snapshot: snap.to_string() })
            }
            _ => {
                errs.push(
                    Diag::new(format!("device-origin {s:?} has no valid snapshot name"))
                        .in_file(&file)
                        .at_key(key)
                        .hint("write INSTANCE@SNAPSHOT, e.g. web-template@copy"),
                );
                return None;
            }
        }
    } else {
        (s, SourceMode::Template)
    };
    if let Some(p) = super::instance_name_problem(&name) {
        errs.push(
            Diag::new(format!("{key} {name:?} does not name a valid instance: {p}"))
                .in_file(&file)
                .at_key(key)
                .hint("instance names are letters, digits and hyphens, at most 63, starting with a letter"),
        );
        return None;
    }
    // The source instance's filesystems come from source-config, or this config.
    let src_merged;
    let (src_cfg, src_project) = if c.source_config.is_empty() {
        (c, project.to_string())
    } else {
        match loader.merge(Path::new(&c.source_config), props) {
            Ok(sm) => {
                src_merged = sm;
                let p = if src_merged.config.project.is_empty() {
                    project.to_string()
                } else {
                    src_merged.config.project.clone()
                };
                (&src_merged.config, p)
            }
            Err(e) => {
                errs.extend(e.0);
                return None;
            }
        }
    };
    let src_file = if c.source_config.is_empty() { top.clone() } else { PathBuf::from(&c.source_config) };
    let src_look = Lookup::new(&name, &src_project, false, &src_cfg.properties, props);
    let mut src_fs: IndexMap<String, (String, bool)> = IndexMap::new();
    for (id, fs) in &src_cfg.filesystems {
        let Some(fs) = fs else { continue };
        let Some(p) = src_look.sub(&fs.pattern, &src_file, &format!("filesystems.{id}.pattern"), errs) else {
            continue;
        };
        src_fs.insert(id.clone(), (p, fs.transient));
    }
    match &mode {
        SourceMode::Clone { snapshot } => {
            for fs in fss.iter_mut() {
                if fs.kind != FsKind::Zfs {
                    errs.push(
                        Diag::new(format!(
                            "cannot use device-origin with filesystem {}: {} is a directory, not ZFS",
                            fs.id, fs.path
                        ))
                        .in_file(&fs.file)
                        .at_key(format!("filesystems.{}", fs.id))
                        .hint(
                            "device-origin clones ZFS filesystems; use device-template to copy directories",
                        ),
                    );
                    continue;
                }
                match src_fs.get(&fs.id) {
                    Some((_, true)) => fs.origin_transient = true,
                    Some((p, false)) => fs.clone_from = Some(format!("{p}@{snapshot}")),
                    None => {}
                }
            }
        }
        SourceMode::Template => {
            for d in devs.iter_mut() {
                let Some(fsid) = &d.filesystem else { continue };
                if fss.iter().any(|f| &f.id == fsid && f.transient) {
                    continue;
                }
                let Some((p, _)) = src_fs.get(fsid) else {
                    errs.push(
                        Diag::new(format!(
                            "device {}: the template instance {name} has no filesystem {fsid}",
                            d.key
                        ))
                        .in_file(&d.file)
                        .at_key(format!("devices.{}", d.key)),
                    );
                    continue;
                };
                let src_host = if p.starts_with('/') { p.clone() } else { format!("/{p}") };
                let raw_dir =
                    c.devices.get(&d.key).and_then(|x| x.as_ref()).map(|x| x.dir.clone()).unwrap_or_default();
                let Some(dir) = src_look.sub(&raw_dir, &d.file, &format!("devices.{}.dir", d.key), errs)
                else {
                    continue;
                };
                let t = if dir.starts_with('/') {
                    dir
                } else {
                    let sub = if raw_dir == "." {
                        ""
                    } else if dir.is_empty() {
                        d.key.as_str()
                    } else {
                        dir.as_str()
                    };
                    if sub.is_empty() {
                        src_host
                    } else {
                        paths::clean(&Path::new(&src_host).join(sub)).display().to_string()
                    }
                };
                d.template = Some(t);
            }
        }
    }
    Some(DeviceSource { instance: name, mode })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            parse_origin("p_c/snap", "default"),
            ContainerSource { project: "p".into(), container: "c".into(), snapshot: "snap".into() }
        );
        assert_eq!(
            parse_origin("c", "q"),
            ContainerSource { project: "q".into(), container: "c".into(), snapshot: "".into() }
        );
    }
}
