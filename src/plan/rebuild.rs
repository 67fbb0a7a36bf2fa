//! The rebuild plan: a new OS under the same data, IP and profiles.
//!
//! The default "recreate" mode keeps the old instance as a fallback under
//! another name until the new one is configured. While the old instance
//! still runs, it captures the profile list and NIC MAC addresses,
//! snapshots the non-transient ZFS filesystems, brings the instance profile
//! up to date and prepares the new instance under a temporary name with the
//! captured profiles and MACs. Then the downtime: stop, rename the old
//! instance to its fallback name, give its MACs up (both servers refuse to
//! start an instance whose MAC another instance has), give the new one the
//! name, start it and wait for its address. It is configured, and only then
//! the fallback deleted. An undo window from the first change to the end of
//! the configuration puts the old instance back if any of it fails.
//! `--native` uses the server's own `rebuild` instead.

use crate::diag::Diag;
use crate::plan::model::{Action, Cond, Edge, Guarded, Kind, Parse, Part, Step, Timer, Word};
use crate::plan::{Builder, host, lifecycle, origin};
use crate::resolve::{FsKind, Instance};

#[derive(Debug, Clone, Default)]
pub struct RebuildOptions {
    pub skip_profiles: bool,
    pub skip_ip: bool,
    pub no_snapshot: bool,
    pub native: bool,
}

const FALLBACK_SUFFIX: &str = "-lxops-fallback";

/// The longest instance name that has a fallback name (an instance name is
/// at most 63 characters; the fallback adds a suffix, never truncates).
pub const MAX_REBUILD_NAME: usize = 63 - FALLBACK_SUFFIX.len();

/// The name the old instance carries while the new one is built: one name,
/// one fallback (names longer than [`MAX_REBUILD_NAME`] are refused).
pub fn fallback_name(name: &str) -> String {
    format!("{name}{FALLBACK_SUFFIX}")
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
        Cond::has_key(&instances, name),
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
        Cond::Succeeds(be.image_info(&inst.project, &inst.image)),
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
    let raw = b.var(&["date", name]);
    let var = b.var(&["snapshot", name]);
    b.program("date");
    b.program("zfs");
    b.step(Step::new(
        "snapshot-name",
        Kind::Host,
        "choose the snapshot name (UTC time)",
        Action::Capture {
            cmd: host::utc_time("lxops-rebuild-%Y%m%d-%H%M%S"),
            raw,
            outputs: vec![(var.clone(), Parse::Text)],
        },
    ));
    let datasets: Vec<String> = fss.iter().map(|f| f.path.clone()).collect();
    for fs in fss {
        let snapshot = Word::lit_var(format!("{}@", fs.path), &var);
        b.step(
            Step::new(
                &format!("snapshot/{}", fs.id),
                Kind::Host,
                format!("snapshot ZFS filesystem {}", fs.path),
                Action::Run(vec![host::zfs_snapshot(snapshot.clone())]),
            )
            .origin(origin(&fs.file, &format!("filesystems.{}", fs.id)))
            // Names have one-second steps: a rebuild of this instance that
            // failed within the same second left a snapshot by this name.
            // It was taken while the instance ran, as this one would be, so
            // it serves the same purpose; failing on it would not help.
            .skip_if(
                Cond::Succeeds(host::zfs_snapshot_exists(snapshot)),
                "a snapshot by this name exists already (taken less than a second ago)",
            ),
        );
    }
    Some((var, datasets))
}

/// A downtime stopwatch for the instance.
fn stopwatch(b: &mut Builder, name: &str) -> Timer {
    Timer {
        label: name.to_string(),
        start: b.var(&["down", name]),
        stop: b.var(&["up", name]),
        edge: Edge::Start,
    }
}

pub fn rebuild(b: &mut Builder, inst: &Instance, o: &RebuildOptions, errs: &mut Vec<Diag>) {
    checks(b, inst, errs);
    if o.native {
        native(b, inst, o);
        if let Err(e) = crate::guest::configure_steps(b, inst) {
            errs.extend(e.0);
        }
        return;
    }
    if inst.name.len() > MAX_REBUILD_NAME {
        errs.push(
            Diag::new(format!(
                "instance name {} is too long to rebuild: the fallback name {} would be longer than 63 characters",
                inst.name,
                fallback_name(&inst.name)
            ))
            .in_file(&inst.config_file)
            .hint(format!("rebuild keeps the old instance under NAME{FALLBACK_SUFFIX}: use a name of at most {MAX_REBUILD_NAME} characters, or --native")),
        );
        return;
    }
    let undo = recreate(b, inst, o);
    if let Err(e) = crate::guest::configure_steps(b, inst) {
        errs.extend(e.0);
    }
    b.close_undo(undo.window, undo.cmds, undo.message);
    let fb = fallback_name(&inst.name);
    let be = b.backend();
    b.step(
        Step::new(
            "delete-fallback",
            Kind::Server,
            format!("delete the old instance {fb}"),
            Action::Run(vec![be.delete(&inst.project, &fb)]),
        )
        .destructive(),
    );
}

fn native(b: &mut Builder, inst: &Instance, o: &RebuildOptions) {
    let be = b.backend();
    let name = &inst.name;
    b.check(
        format!("the {} client has a rebuild command", be.cli()),
        Cond::Succeeds(be.rebuild_available()),
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
    let watch = stopwatch(b, name);
    let stop = lifecycle::stop_step(b, inst).timer(watch.clone());
    b.step(stop);
    b.step(
        Step::new(
            "rebuild",
            Kind::Server,
            format!("rebuild {name} from image {}", inst.image),
            Action::Run(vec![be.rebuild(&inst.project, &inst.image, name)]),
        )
        .destructive()
        .origin(origin(inst.merged.origins.field("image", &inst.config_file), "image")),
    );
    lifecycle::start_and_wait(b, inst, Some(watch));
}

/// The run-time names of what the capture step read.
struct Captured {
    /// `-p NAME` words for `create`.
    profiles: String,
    macs: String,
    clear: String,
}

/// Reads the instance's profile list and MAC addresses (unless skipped).
fn capture(b: &mut Builder, inst: &Instance, o: &RebuildOptions) -> Captured {
    let name = &inst.name;
    let raw = b.var(&["config", name]);
    let c = Captured {
        profiles: b.var(&["profiles", name]),
        macs: b.var(&["macs", name]),
        clear: b.var(&["clear", name]),
    };
    let mut outputs = Vec::new();
    if !o.skip_profiles {
        outputs.push((c.profiles.clone(), Parse::ProfileFlags));
    }
    if !o.skip_ip {
        outputs.push((c.macs.clone(), Parse::Hwaddrs));
        outputs.push((c.clear.clone(), Parse::HwaddrKeys));
    }
    if !outputs.is_empty() {
        let what = match (o.skip_profiles, o.skip_ip) {
            (false, false) => "profiles and MAC addresses",
            (false, true) => "profiles",
            _ => "MAC addresses",
        };
        b.step(Step::new(
            "capture",
            Kind::Server,
            format!("read {name}'s {what}"),
            Action::Capture { cmd: b.backend().show(&inst.project, name), raw, outputs },
        ));
    }
    c
}

/// The flags and values the undo reads.
struct Flags {
    /// The new instance exists under its temporary name.
    prepared: String,
    /// ... and has taken the instance's name.
    swapped: String,
    /// The old instance was stopped by this run.
    stopped: String,
    /// ... and renamed to its fallback name.
    renamed: String,
    macs: String,
    profile_saved: String,
    profile_text: String,
    profile_created: String,
}

/// The undo of the recreate window: the new instance goes (under whichever
/// name it has), the instance profile is as it was, the fallback gets its
/// MACs and name back and, if this run stopped it, starts again; then where
/// the snapshots are.
fn put_back(
    b: &Builder,
    inst: &Instance,
    o: &RebuildOptions,
    f: &Flags,
    snap: Option<(String, Vec<String>)>,
) -> (Vec<Guarded>, Vec<Word>) {
    let be = b.backend();
    let (p, name) = (&inst.project, &inst.name);
    let (fb, tmp) = (fallback_name(name), new_name(name));
    let mut cmds = vec![
        Guarded::new(
            be.delete_force(p, &tmp),
            Some(Cond::And(vec![
                Cond::Flag(f.prepared.clone()),
                Cond::negate(Cond::Flag(f.swapped.clone())),
            ])),
        ),
        Guarded::new(be.delete_force(p, name), Some(Cond::Flag(f.swapped.clone()))),
    ];
    // The old instance starts again with its profile as it was.
    cmds.push(Guarded::new(
        be.profile_restore(p, &inst.profile, Word::var(&f.profile_text)),
        Some(Cond::Flag(f.profile_saved.clone())),
    ));
    cmds.push(Guarded::new(be.profile_delete(p, &inst.profile), Some(Cond::Flag(f.profile_created.clone()))));
    if !o.skip_ip {
        cmds.push(Guarded::new(
            be.config_set(p, &fb, Word::list(&f.macs)),
            Some(Cond::And(vec![
                Cond::Flag(f.renamed.clone()),
                Cond::negate(Cond::ListEmpty(f.macs.clone())),
            ])),
        ));
    }
    cmds.push(Guarded::new(be.rename(p, &fb, name), Some(Cond::Flag(f.renamed.clone()))));
    cmds.push(Guarded::new(be.start(p, name), Some(Cond::Flag(f.stopped.clone()))));
    let mut message = vec![Word::lit(format!("{name} is back on its old instance"))];
    if let Some((v, datasets)) = snap {
        message.push(Word::lit("; ZFS snapshots taken before the rebuild:"));
        for d in datasets {
            message.push(Word(vec![Part::Lit(format!(" {d}@")), Part::Var(v.clone())]));
        }
    }
    (cmds, message)
}

/// What puts the old instance back, for the window opened before the first change.
struct RecreateUndo {
    window: crate::plan::builder::UndoWindow,
    cmds: Vec<Guarded>,
    message: Vec<Word>,
}

const NEW_SUFFIX: &str = "-lxops-new";

/// The name the new instance is prepared under while the old one runs.
pub fn new_name(name: &str) -> String {
    format!("{name}{NEW_SUFFIX}")
}

/// The recreate mode up to the new instance's network. Everything that can
/// happen while the old instance runs does: the instance profile, the new
/// instance (under a temporary name, with the old one's profiles and MAC
/// addresses — servers accept a MAC another instance has until both run).
/// The downtime is only the stop, two renames, the MAC release and the start.
fn recreate(b: &mut Builder, inst: &Instance, o: &RebuildOptions) -> RecreateUndo {
    let be = b.backend();
    let name = &inst.name;
    let p = &inst.project;
    let (fb, tmp) = (fallback_name(name), new_name(name));
    b.lock(&fb);
    b.lock(&tmp);
    let instances = b.instances(p);
    let profiles = b.profiles(p);
    b.plan.notes.push(format!(
        "{name}: the new instance is prepared as {tmp} while {name} runs; the old instance is kept as {fb} \
until the new one is configured, then deleted with its instance snapshots; data on the config's filesystems is kept"
    ));
    for other in [&fb, &tmp] {
        b.check(
            format!("no instance is called {other}"),
            Cond::negate(Cond::has_key(&instances, other)),
            format!("instance {other} exists, probably left by an interrupted rebuild"),
            format!("inspect it; delete it ({} delete {other}), or rename it back to {name}", be.cli()),
        );
    }
    let Captured { profiles: prof_var, macs, clear } = capture(b, inst, o);
    let profile_raw = b.var(&["profile", "raw", name]);
    let profile_text = b.var(&["profile", "before", name]);
    let profile_saved = b.var(&["profile", "saved", name]);
    b.step(
        Step::new(
            "profile-save",
            Kind::Server,
            format!("read profile {} as it is (the undo gives it back)", inst.profile),
            Action::Capture {
                cmd: be.profile_show(p, &inst.profile),
                raw: profile_raw,
                outputs: vec![(profile_text.clone(), Parse::Text)],
            },
        )
        .skip_if(Cond::negate(Cond::has_key(&profiles, &inst.profile)), "the profile does not exist yet")
        .sets(profile_saved.clone()),
    );
    let snap = if o.no_snapshot { None } else { snapshot_steps(b, inst) };
    let window = b.open_undo();
    let profile_created = b.var(&["profile", "created", name]);
    b.step(
        Step::new(
            "profile-create",
            Kind::Server,
            format!("create profile {} if missing", inst.profile),
            Action::Run(vec![be.profile_create(p, &inst.profile)]),
        )
        .skip_if(Cond::has_key(&profiles, &inst.profile), "the profile exists")
        .sets(profile_created.clone()),
    );
    b.step(
        Step::new(
            "profile-update",
            Kind::Server,
            format!("bring profile {} up to date with the config", inst.profile),
            Action::Run(vec![be.profile_edit(p, &inst.profile, lifecycle::profile_yaml(inst))]),
        )
        .origin(origin(inst.merged.origins.field("profile-pattern", &inst.config_file), "devices")),
    );
    let prepared = b.var(&["prepared", name]);
    // The new instance gets the old one's profiles when it is created (one
    // call), or the config's with --skip-profiles.
    let create = if o.skip_profiles {
        be.create(p, &inst.image, &tmp, &lifecycle::launch_profiles(inst), &inst.lxc_options)
    } else {
        let mut c = be.create(p, &inst.image, &tmp, &[], &[]).push(Word::list(&prof_var));
        for opt in &inst.lxc_options {
            c = c.push(opt.as_str());
        }
        c
    };
    // On a cluster, the new instance goes where the old one is (D36).
    let create = b.placed(create);
    b.step(
        Step::new(
            "prepare",
            Kind::Server,
            format!(
                "create the new instance as {tmp} from image {}{} (the old one still runs)",
                inst.image,
                if o.skip_profiles { String::new() } else { format!(" with {name}'s profiles") }
            ),
            Action::Run(vec![create]),
        )
        .origin(origin(inst.merged.origins.field("image", &inst.config_file), "image"))
        .sets(prepared.clone()),
    );
    if !o.skip_ip {
        b.step(
            Step::new(
                "macs",
                Kind::Server,
                format!("give {tmp} {name}'s MAC addresses"),
                Action::Run(vec![be.config_set(p, &tmp, Word::list(&macs))]),
            )
            .skip_if(Cond::ListEmpty(macs.clone()), "the old instance has no MAC address"),
        );
    }
    let watch = stopwatch(b, name);
    let stopped = b.var(&["stopped", name]);
    let stop = lifecycle::stop_step(b, inst).timer(watch.clone()).sets(stopped.clone());
    b.step(stop);
    let renamed = b.var(&["renamed", name]);
    b.step(
        Step::new(
            "keep-fallback",
            Kind::Server,
            format!("keep the old instance as {fb}"),
            Action::Run(vec![be.rename(p, name, &fb)]),
        )
        .sets(renamed.clone()),
    );
    if !o.skip_ip {
        b.step(
            Step::new(
                "release-macs",
                Kind::Server,
                format!("release {fb}'s MAC addresses for the new instance"),
                Action::Run(vec![be.config_set(p, &fb, Word::list(&clear))]),
            )
            .skip_if(Cond::ListEmpty(clear.clone()), "the instance has no MAC address"),
        );
    }
    let swapped = b.var(&["swapped", name]);
    b.step(
        Step::new(
            "swap",
            Kind::Server,
            format!("give the new instance the name {name}"),
            Action::Run(vec![be.rename(p, &tmp, name)]),
        )
        .sets(swapped.clone()),
    );
    lifecycle::start_and_wait(b, inst, Some(watch));
    let flags = Flags {
        prepared,
        swapped,
        stopped,
        renamed,
        macs: macs.clone(),
        profile_saved,
        profile_text,
        profile_created,
    };
    let (cmds, message) = put_back(b, inst, o, &flags, snap);
    RecreateUndo { window, cmds, message }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fallback_names_are_valid_and_one_to_one() {
        assert_eq!(super::fallback_name("web1"), "web1-lxops-fallback");
        let long = "a".repeat(super::MAX_REBUILD_NAME);
        let f = super::fallback_name(&long);
        assert_eq!(f.len(), 63);
        assert!(crate::resolve::instance_name_problem(&f).is_none());
        assert_ne!(super::fallback_name(&format!("{long}b")[1..]), f);
    }
}
