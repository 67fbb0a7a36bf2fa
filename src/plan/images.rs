//! Images: `extract` fills template device directories from an image, and
//! `publish` makes an image of an instance.
//!
//! Extract works on every storage driver: it creates a temporary instance
//! (never started) from the image, exports it as an uncompressed backup
//! (the server reads its own storage, whatever the driver, and the archive
//! keeps numeric owners, modes, links, special files and extended
//! attributes), unpacks that into a private directory and copies each
//! device's path from there, then shifts the owners by `device-owner`.
//! Every device path is checked before the first copy, so a path the image
//! lacks stops the run with nothing half copied (D10). The temporary names
//! are chosen when the plan runs; the cleanup deletes the instance and the
//! directory whatever happens.

use crate::diag::Diag;
use crate::plan::model::{Action, Cond, Kind, Parse, Step, Word};
use crate::plan::{Builder, devices, host, lifecycle, origin};
use crate::resolve::Instance;

/// Where an instance backup keeps a container's root filesystem.
const BACKUP_ROOTFS: &str = "backup/container/rootfs";

/// Why a device's mount path cannot be looked up in an image, if it cannot.
fn image_path_problem(path: &str) -> Option<&'static str> {
    if path == "/" {
        return Some("it is the image's root: give the device a directory of its own");
    }
    if path.chars().any(char::is_control) {
        return Some("it contains a control character");
    }
    let rest = path.strip_prefix('/').unwrap_or(path);
    if rest.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Some("write it without '.', '..', '//' or a trailing '/'");
    }
    None
}

/// extract: create the filesystems as launch does, then copy the image's
/// directory at each device's path into every device directory that is new
/// (an existing one is left alone, so a re-run changes nothing).
pub fn extract(b: &mut Builder, inst: &Instance, errs: &mut Vec<Diag>) {
    let be = b.backend();
    let (name, p) = (&inst.name, &inst.project);
    let top = &inst.config_file;
    if inst.image.is_empty() {
        errs.push(
            Diag::new("no image to extract from")
                .in_file(inst.merged.origins.field("image", top))
                .at_key("image")
                .hint("set `image` to the image whose directories the devices start from"),
        );
    }
    // Devices with a directory in a kept filesystem; standalone devices and
    // transient filesystems hold nothing worth a template.
    let targets: Vec<_> = inst
        .devices
        .iter()
        .filter(|d| d.filesystem.as_deref().and_then(|f| inst.filesystem(f)).is_some_and(|f| !f.transient))
        .collect();
    for d in &targets {
        if let Some(problem) = image_path_problem(&d.path) {
            errs.push(
                Diag::new(format!(
                    "device {}: cannot look up path {:?} in the image: {problem}",
                    d.key, d.path
                ))
                .in_file(&d.file)
                .at_key(format!("devices.{}.path", d.key)),
            );
        }
    }
    let shift = inst.owner.as_deref().and_then(|o| {
        let (u, g) = o.split_once(':')?;
        Some((u.parse::<u32>().ok()?, g.parse::<u32>().ok()?))
    });
    b.program(be.cli());
    lifecycle::require_profiles(b, inst);
    let new_vars = devices::filesystems(b, inst);
    if targets.is_empty() {
        b.plan.notes.push(format!(
            "{name}: no device directory to extract (only devices in non-transient filesystems get one)"
        ));
        return;
    }
    for prog in ["od", "mktemp", "tar", "sh", "rsync", "mkdir"] {
        b.program(prog);
    }
    // A device needs the copy when its directory is missing or its
    // filesystem was created by this run (the original's rule).
    let needs: Vec<Cond> = targets
        .iter()
        .map(|d| {
            let missing = Cond::negate(Cond::DirExists(d.source.clone()));
            match new_vars.iter().find(|(id, _)| Some(id) == d.filesystem.as_ref()) {
                Some((_, v)) => Cond::Or(vec![missing, Cond::Flag(v.clone())]),
                None => missing,
            }
        })
        .collect();
    let none = Cond::negate(Cond::Or(needs.clone()));
    let all_exist = "every device directory exists already";
    let temp = b.var(&["extract", "instance", name]);
    let created = b.var(&["extract", "created", name]);
    let stage = b.var(&["extract", "dir", name]);
    let staged = b.var(&["extract", "staged", name]);
    let raw = b.var(&["extract", "random", name]);
    b.step(
        Step::new(
            "name",
            Kind::Host,
            "choose the temporary instance's name: extract- and 8 random letters",
            Action::Capture {
                cmd: host::random_bytes(),
                raw,
                outputs: vec![(temp.clone(), Parse::RandomName { prefix: "extract-".into() })],
            },
        )
        .skip_if(none.clone(), all_exist),
    );
    b.step(
        Step::new(
            "create",
            Kind::Server,
            format!("create the temporary instance from image {} (it is never started)", inst.image),
            Action::Run(vec![be.create_plain(p, &inst.image, Word::var(&temp))]),
        )
        .origin(origin(inst.merged.origins.field("image", top), "image"))
        .skip_if(none.clone(), all_exist)
        .sets(created.clone()),
    );
    b.cleanup(be.delete(p, Word::var(&temp)), Some(Cond::Flag(created)), None);
    let stage_raw = b.var(&["extract", "mktemp", name]);
    b.step(
        Step::new(
            "workdir",
            Kind::Host,
            "create a private working directory in /var/tmp",
            Action::Capture {
                cmd: host::make_temp_dir("lxops-extract"),
                raw: stage_raw,
                outputs: vec![(stage.clone(), Parse::Text)],
            },
        )
        .skip_if(none.clone(), all_exist)
        .sets(staged.clone()),
    );
    b.cleanup(host::remove_tree(Word::var(&stage)), Some(Cond::Flag(staged)), None);
    let archive = Word::var(&stage).then("/rootfs.tar");
    b.step(
        Step::new(
            "export",
            Kind::Server,
            "export the temporary instance's root filesystem into the working directory",
            Action::Run(vec![be.export(p, Word::var(&temp), archive.clone())]),
        )
        .skip_if(none.clone(), all_exist),
    );
    b.step(
        Step::new(
            "unpack",
            Kind::Host,
            "unpack the root filesystem in the working directory",
            Action::Run(vec![host::tar_unpack(archive, Word::var(&stage))]),
        )
        .skip_if(none, all_exist),
    );
    let rootfs = Word::var(&stage).then(format!("/{BACKUP_ROOTFS}"));
    for (d, need) in targets.iter().zip(&needs) {
        b.step(
            Step::new(
                &format!("check/{}", d.key),
                Kind::Host,
                format!("check that the image has the directory {} (device {})", d.path, d.key),
                Action::Assert {
                    cond: Cond::Succeeds(host::is_dir_below(rootfs.clone(), &d.path)),
                    message: format!(
                        "image {} has no directory {} (device {} of {name}); nothing was copied",
                        inst.image, d.path, d.key
                    ),
                },
            )
            .origin(origin(&d.file, &format!("devices.{}.path", d.key)))
            .skip_if(Cond::negate(need.clone()), format!("{} exists", d.source)),
        );
    }
    for (d, need) in targets.iter().zip(&needs) {
        let mut cmds =
            vec![host::mkdir_p(&d.source), host::rsync_from(rootfs.clone().then(&d.path), &d.source)];
        let mut title = format!("copy {} from the image into {}", d.path, d.source);
        if let Some((u, g)) = shift {
            cmds.push(host::shift_ids(u, g, &[&d.source]));
            title.push_str(&format!(", owners shifted by {u}:{g}"));
        }
        b.step(
            Step::new(&format!("copy/{}", d.key), Kind::Host, title, Action::Run(cmds))
                .origin(origin(&d.file, &format!("devices.{}", d.key)))
                .skip_if(Cond::negate(need.clone()), format!("{} exists (its data is kept)", d.source)),
        );
    }
}

/// What `publish` makes: the image's source, alias and properties, resolved
/// from the command line and, with `-c`, the config (spec §5.26).
#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub project: String,
    pub instance: String,
    /// The snapshot to publish; none: one is taken for it and deleted after.
    pub snapshot: Option<String>,
    pub alias: String,
    /// Replace the alias if an image has it already.
    pub reuse: bool,
    /// `--compression C`, `--format F`.
    pub options: Vec<String>,
    /// The image's properties in the original's order, empty ones left out.
    pub properties: Vec<(String, String)>,
}

/// publish: the instance's snapshot (taken for the purpose when none is
/// named, so a running instance keeps running) as an image with an alias
/// and properties; an alias in use is refused unless `reuse`.
pub fn publish(b: &mut Builder, o: &PublishOptions) {
    let be = b.backend();
    let (name, p) = (&o.instance, &o.project);
    b.unit(name);
    b.program(be.cli());
    let instances = b.instances(p);
    b.check(
        format!("instance {name} exists"),
        Cond::has_key(&instances, name),
        format!("instance {name} does not exist"),
        "name an instance of the project (lxops uses the config's project with -c)",
    );
    if o.reuse {
        b.plan.notes.push(format!("an image that has the alias {} already loses it (--reuse)", o.alias));
    } else {
        let aliases = b.image_aliases(p);
        b.check(
            format!("no image has the alias {}", o.alias),
            Cond::negate(Cond::has_key(&aliases, &o.alias)),
            format!("an image has the alias {} already", o.alias),
            "choose another alias (--alias), or pass --reuse to move it to the new image",
        );
    }
    let snap = match &o.snapshot {
        Some(s) => {
            b.check(
                format!("instance {name} has snapshot {s}"),
                Cond::Succeeds(be.snapshot_show(p, name, Word::lit(s))),
                format!("instance {name} has no snapshot {s}"),
                format!("list its snapshots with: {} info {name}", be.cli()),
            );
            Word::lit(s)
        }
        None => {
            let snap = Word::var(b.utc_time("lxops-publish-%Y%m%d%H%M%S"));
            let taken = b.var(&["publish", "snapshot", name]);
            b.step(
                Step::new(
                    "snapshot",
                    Kind::Server,
                    format!(
                        "snapshot instance {name} for the image (lxops-publish-<UTC time>; it keeps running)"
                    ),
                    Action::Run(vec![be.snapshot_create(p, name, snap.clone())]),
                )
                .sets(taken.clone()),
            );
            b.cleanup(be.snapshot_delete(p, name, snap.clone()), Some(Cond::Flag(taken)), None);
            snap
        }
    };
    let source = Word::lit(format!("{name}/")).then(snap.clone());
    let props: Vec<String> = o.properties.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let options = o.options.clone();
    let title = format!("publish {name}/{} as image {}", crate::render::display_word(&snap), o.alias);
    if !o.reuse {
        let cmd = be.publish(p, source, &o.alias, &options, &props);
        b.step(Step::new("publish", Kind::Server, title, Action::Run(vec![cmd])));
        return;
    }
    // --reuse, the same way on both backends (LXD 5.0's publish has no
    // --reuse; Incus's deletes the old image): the alias moves aside while
    // the new image is made, comes back if that fails, and is dropped after;
    // the old image stays.
    let aside = format!("{}-lxops-replaced", o.alias);
    let aliases = b.image_aliases(p);
    b.check(
        format!("no image has the alias {aside}"),
        Cond::negate(Cond::has_key(&aliases, &aside)),
        format!("an image has the alias {aside}, probably left by an interrupted publish"),
        format!("delete it ({} image alias delete {aside}) and publish again", be.cli()),
    );
    let moved = b.var(&["alias", "moved", name]);
    let taken = Cond::has_key(&aliases, &o.alias);
    b.step(
        Step::new(
            "alias-aside",
            Kind::Server,
            format!("move the alias {} aside as {aside}", o.alias),
            Action::Run(vec![be.image_alias_rename(p, &o.alias, &aside)]),
        )
        .skip_if(Cond::negate(taken), format!("no image has the alias {}", o.alias))
        .sets(moved.clone()),
    );
    let w = b.open_undo();
    let cmd = be.publish(p, source, &o.alias, &options, &props);
    b.step(Step::new("publish", Kind::Server, title, Action::Run(vec![cmd])));
    b.close_undo(
        w,
        vec![crate::plan::model::Guarded {
            cmd: be.image_alias_rename(p, &aside, &o.alias),
            when: Some(Cond::Flag(moved.clone())),
            each: None,
        }],
        vec![Word::lit(format!("the alias {} stays on the image it had", o.alias))],
    );
    b.step(
        Step::new(
            "alias-drop",
            Kind::Server,
            format!("drop the alias {aside} (the old image stays)"),
            Action::Run(vec![be.image_alias_delete(p, &aside)]),
        )
        .skip_if(Cond::negate(Cond::Flag(moved)), "no alias was moved aside"),
    );
}

/// The version in an instance name (spec §5.26): the first run of digits,
/// `-`, `_` and `.` that starts and ends with a digit and is at least two
/// characters long (`web-1.2` gives `1.2`).
pub fn version_in(name: &str) -> Option<&str> {
    let b = name.as_bytes();
    for i in 0..b.len() {
        if !b[i].is_ascii_digit() {
            continue;
        }
        let mut end = i + 1;
        while end < b.len() && (b[end].is_ascii_digit() || b"-_.".contains(&b[end])) {
            end += 1;
        }
        if let Some(last) = (i + 1..end).rev().find(|k| b[*k].is_ascii_digit()) {
            return Some(&name[i..=last]);
        }
    }
    None
}

/// Why an image alias cannot be used, if it cannot.
pub fn alias_problem(a: &str) -> Option<&'static str> {
    if a.is_empty() {
        return Some("it is empty");
    }
    if a.starts_with('-') {
        return Some("it starts with '-'");
    }
    if a.chars().any(|c| c.is_whitespace() || c.is_control() || "/:,\"'".contains(c)) {
        return Some("aliases have no white space, control characters, '/', ':', ',' or quotes");
    }
    None
}

/// The architecture name images use for this host (`amd64`, `arm64` …).
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_in_names() {
        assert_eq!(version_in("web-1.2"), Some("1.2"));
        assert_eq!(version_in("alpine3-18x"), Some("3-18"));
        assert_eq!(version_in("web1"), None, "one digit is not a version");
        assert_eq!(version_in("a1b22"), Some("22"));
        assert_eq!(version_in("v1.2."), Some("1.2"));
        assert_eq!(version_in("plain"), None);
    }

    #[test]
    fn image_paths() {
        assert!(image_path_problem("/home").is_none());
        assert!(image_path_problem("/var/lib/x").is_none());
        for bad in ["/", "/home/", "/a//b", "/a/../etc", "/./a", "/a\nb"] {
            assert!(image_path_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn aliases() {
        assert!(alias_problem("alpine-ssh-3.18").is_none());
        for bad in ["", "-x", "a b", "r:a", "a/b", "a,b"] {
            assert!(alias_problem(bad).is_some(), "{bad:?}");
        }
    }
}
