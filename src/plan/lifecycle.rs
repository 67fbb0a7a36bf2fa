//! Plans for the instance lifecycle: launch, configure, create-devices,
//! create-profile, delete and destroy.
//!
//! Each function adds one instance's checks and steps to the current unit
//! of a [`Builder`]. What can be known from the configs is checked here and
//! reported as located errors before any plan exists; what depends on the
//! host becomes a fact, a preflight check or a guard.

use crate::diag::Diag;
use crate::plan::model::{Action, Cond, Edge, Kind, Parse, Step, Timer, Word};
use crate::plan::{Builder, devices, host, origin};
use crate::resolve::{FsKind, Instance};
use indexmap::IndexMap;

/// The instance profile's YAML for `profile edit`: description and disk devices.
pub fn profile_yaml(inst: &Instance) -> String {
    let mut devices: IndexMap<String, IndexMap<&str, String>> = IndexMap::new();
    for d in &inst.devices {
        let mut m = IndexMap::new();
        m.insert("path", d.path.clone());
        if d.readonly {
            m.insert("readonly", "true".to_string());
        }
        m.insert("source", d.source.clone());
        m.insert("type", "disk".to_string());
        devices.insert(d.key.clone(), m);
    }
    devices.sort_keys();
    #[derive(serde::Serialize)]
    struct Profile {
        config: IndexMap<String, String>,
        description: String,
        devices: IndexMap<String, IndexMap<&'static str, String>>,
    }
    let p = Profile { config: IndexMap::new(), description: inst.config_abs.display().to_string(), devices };
    serde_yaml::to_string(&p).expect("profiles serialise")
}

/// Checks and the steps that create the instance profile with its devices.
/// With `resume` (a launch that stopped halfway), a profile that exists is
/// the one that launch created: it is brought up to date instead.
pub fn create_profile(b: &mut Builder, inst: &Instance, resume: Option<Cond>) {
    let be = b.backend();
    b.program(be.cli());
    let profiles = b.profiles(&inst.project);
    let absent = Cond::negate(Cond::has_key(&profiles, &inst.profile));
    b.check(
        format!("profile {} does not exist yet", inst.profile),
        match &resume {
            Some(r) => Cond::Or(vec![absent, r.clone()]),
            None => absent,
        },
        format!("profile {} already exists", inst.profile),
        format!(
            "delete it (lxops delete -n {} {}) or choose another profile-pattern",
            inst.name,
            inst.config_file.display()
        ),
    );
    let at = origin(inst.merged.origins.field("profile-pattern", &inst.config_file), "devices");
    let n = inst.devices.len();
    let title = format!("create profile {} with {n} device{}", inst.profile, if n == 1 { "" } else { "s" });
    // Two calls whatever the number of devices: LXD 5.0 ignores stdin on create.
    let create = be.profile_create(&inst.project, &inst.profile);
    let edit = be.profile_edit(&inst.project, &inst.profile, profile_yaml(inst));
    if resume.is_none() {
        b.step(Step::new("profile", Kind::Server, title, Action::Run(vec![create, edit])).origin(at));
        return;
    }
    b.step(
        Step::new(
            "profile",
            Kind::Server,
            format!("create profile {}", inst.profile),
            Action::Run(vec![create]),
        )
        .origin(at.clone())
        .skip_if(Cond::has_key(&profiles, &inst.profile), format!("profile {} exists", inst.profile)),
    );
    b.step(
        Step::new(
            "profile-devices",
            Kind::Server,
            format!("give profile {} its {n} device{}", inst.profile, if n == 1 { "" } else { "s" }),
            Action::Run(vec![edit]),
        )
        .origin(at),
    );
}

/// create-profile: the instance profile created when missing, then given
/// exactly the config's devices (so it also repairs a profile that drifted).
pub fn create_or_update_profile(b: &mut Builder, inst: &Instance) {
    let be = b.backend();
    b.program(be.cli());
    let profiles = b.profiles(&inst.project);
    let at = origin(inst.merged.origins.field("profile-pattern", &inst.config_file), "devices");
    b.step(
        Step::new(
            "profile",
            Kind::Server,
            format!("create profile {}", inst.profile),
            Action::Run(vec![be.profile_create(&inst.project, &inst.profile)]),
        )
        .origin(at.clone())
        .skip_if(Cond::has_key(&profiles, &inst.profile), format!("profile {} exists", inst.profile)),
    );
    let n = inst.devices.len();
    b.step(
        Step::new(
            "devices",
            Kind::Server,
            format!("give profile {} the config's {n} device{}", inst.profile, if n == 1 { "" } else { "s" }),
            Action::Run(vec![be.profile_edit(&inst.project, &inst.profile, profile_yaml(inst))]),
        )
        .origin(at),
    );
}

/// launch: devices, profile, instance (from the image or copied from `origin`), start, wait, configure.
pub fn launch(b: &mut Builder, inst: &Instance, errs: &mut Vec<Diag>) {
    let be = b.backend();
    let name = &inst.name;
    let top = &inst.config_file;
    if inst.origin.is_none() {
        if inst.image.is_empty() {
            errs.push(
                Diag::new("no image to launch from")
                    .in_file(top)
                    .at_key("image")
                    .hint("set `image` (or `origin` to copy another instance)"),
            );
        }
        if inst.ostype.is_empty() {
            errs.push(
                Diag::new("no ostype").in_file(top).at_key("ostype").hint(format!(
                    "set `ostype` to one of: {}",
                    crate::cloudconfig::ostype::names().join(", ")
                )),
            );
        }
    }
    b.program(be.cli());
    require_profiles(b, inst);
    let instances = b.instances(&inst.project);
    // A launch that stopped halfway left its instance marked: running the
    // same launch again carries on from where it stopped (D34).
    let resuming = Cond::has_cell(&instances, name, 3, LAUNCH_INCOMPLETE);
    b.check(
        format!("instance {name} does not exist yet (or a launch of it stopped halfway)"),
        Cond::Or(vec![Cond::negate(Cond::has_key(&instances, name)), resuming.clone()]),
        format!("instance {name} already exists"),
        "use lxops rebuild to give it a new OS, or lxops delete it first",
    );
    if let Some(o) = &inst.origin
        && o.project == inst.project
    {
        b.check(
            format!("origin instance {} exists", o.container),
            Cond::has_key(&instances, &o.container),
            format!("origin instance {} does not exist", o.container),
            format!("fix `origin` in {}", inst.merged.origins.field("origin", top).display()),
        );
    }
    // Placed by the server on a cluster (`@GROUP`), the instance is created
    // first: its member, where the data goes, is known only then (D36).
    let deferred = placed_later(inst);
    if !deferred {
        devices::steps(b, inst);
    }
    create_profile(b, inst, Some(resuming));
    let exists = Cond::has_key(&instances, name);
    let mark = format!("{LAUNCH_MARK}={LAUNCH_INCOMPLETE}");
    match &inst.origin {
        None => {
            let mut step = create_step(b, inst);
            if let Action::Run(cmds) = &mut step.action {
                for c in cmds.iter_mut() {
                    c.argv.push(Word::lit("--config"));
                    c.argv.push(Word::lit(&mark));
                }
            }
            b.step(step.skip_if(exists.clone(), format!("instance {name} exists (the launch carries on)")));
        }
        Some(o) => {
            let src = if o.snapshot.is_empty() {
                o.container.clone()
            } else {
                format!("{}/{}", o.container, o.snapshot)
            };
            // Across projects, the server wants the source's profiles to exist in
            // the target project: empty placeholders stand in during the copy.
            if o.project != inst.project {
                placeholders(b, inst, &src, &o.project);
            }
            b.step(
                Step::new(
                    "copy",
                    Kind::Server,
                    format!("copy instance {name} from {src}"),
                    Action::Run(vec![
                        b.placed(
                            be.copy(&o.project, &src, name, &inst.project, &created_with(inst))
                                .push("--config")
                                .push(mark.as_str()),
                        ),
                    ]),
                )
                .origin(origin(inst.merged.origins.field("origin", top), "origin"))
                .skip_if(exists, format!("instance {name} exists (the launch carries on)")),
            );
        }
    }
    if deferred {
        crate::plan::cluster::locate(b, inst);
        devices::steps(b, inst);
        // The server checks a disk's source when the device is added: the
        // instance profile comes once its directories exist on the member.
        let all = launch_profiles(inst).join(",");
        b.step(Step::new(
            "assign",
            Kind::Server,
            format!("give {name} its profiles, the instance profile {} last", inst.profile),
            Action::Run(vec![be.profile_assign(&inst.project, name, Word::lit(all))]),
        ));
    }
    let running = Cond::has_row(&instances, name, "RUNNING");
    let start = Step::new(
        "start",
        Kind::Server,
        format!("start instance {name}"),
        Action::Run(vec![be.start(&inst.project, name)]),
    )
    .skip_if(running, format!("instance {name} runs (the launch carries on)"));
    b.step(start);
    if let Some(seconds) = b.settings.wait_network {
        wait_network(b, inst, seconds);
    }
    if let Err(e) = crate::guest::configure_steps(b, inst) {
        errs.extend(e.0);
    }
    b.step(Step::new(
        "launched",
        Kind::Server,
        format!("mark {name} as launched"),
        Action::Run(vec![be.config_unset(&inst.project, name, LAUNCH_MARK)]),
    ));
}

/// The config key a launch sets on the instance it creates and removes at
/// its end: an instance that has it is one whose launch stopped halfway.
pub const LAUNCH_MARK: &str = "user.lxops.launch";
pub const LAUNCH_INCOMPLETE: &str = "incomplete";

/// Checks that the config's profiles exist in its project.
pub fn require_profiles(b: &mut Builder, inst: &Instance) {
    let profiles = b.profiles(&inst.project);
    for (i, p) in inst.profiles.iter().enumerate() {
        let file = inst.merged.origins.profiles.get(i).cloned().unwrap_or(inst.config_file.clone());
        b.check(
            format!("profile {p} exists"),
            Cond::has_key(&profiles, p),
            format!("profile {p} does not exist (listed in {})", file.display()),
            format!("create it first, or remove it from `profiles` in {}", file.display()),
        );
    }
}

/// Stops the instance, unless the facts say it is absent or stopped.
pub fn stop_step(b: &mut Builder, inst: &Instance) -> Step {
    let name = &inst.name;
    let instances = b.instances(&inst.project);
    let absent = Cond::negate(Cond::has_key(&instances, name));
    let stopped = Cond::has_row(&instances, name, "STOPPED");
    Step::new(
        "stop",
        Kind::Server,
        format!("stop instance {name}"),
        Action::Run(vec![b.backend().stop(&inst.project, name)]),
    )
    .skip_if(Cond::Or(vec![absent, stopped]), "the instance is absent or stopped")
}

/// Placed by the server on a cluster (`@GROUP`): the member, where the data
/// goes, is known only once the instance exists (D36).
fn placed_later(inst: &Instance) -> bool {
    inst.cluster.as_ref().is_some_and(|c| c.member().is_none())
}

/// The profiles an instance is created with: all of them, or (placed by the
/// server) all but the instance profile, which is assigned once the disks'
/// directories exist on the member.
fn created_with(inst: &Instance) -> Vec<String> {
    let mut p = launch_profiles(inst);
    if placed_later(inst) {
        p.pop();
    }
    p
}

/// The profiles a new instance gets: the config's (or `default`), then the instance profile.
pub fn launch_profiles(inst: &Instance) -> Vec<String> {
    let mut p = if inst.profiles.is_empty() { vec!["default".to_string()] } else { inst.profiles.clone() };
    p.push(inst.profile.clone());
    p
}

/// The step that creates (not starts) the instance from its image.
pub fn create_step(b: &Builder, inst: &Instance) -> Step {
    let name = &inst.name;
    let cmd = b.placed(b.backend().create(
        &inst.project,
        &inst.image,
        name,
        &created_with(inst),
        &inst.lxc_options,
    ));
    Step::new(
        "create",
        Kind::Server,
        format!("create instance {name} from image {}", inst.image),
        Action::Run(vec![cmd]),
    )
    .origin(origin(inst.merged.origins.field("image", &inst.config_file), "image"))
}

/// Reads the source's profiles and creates empty placeholders for those the
/// target project lacks; the placeholders are deleted by the unit's cleanup,
/// whether the copy succeeds or not.
fn placeholders(b: &mut Builder, inst: &Instance, src: &str, src_project: &str) {
    let be = b.backend();
    let name = &inst.name;
    let target = b.profiles(&inst.project);
    let raw = b.var(&["origin", "config", name]);
    let src_profiles = b.var(&["origin", "profiles", name]);
    let item = b.var(&["profile", name]);
    let created = b.var(&["placeholders", name]);
    b.step(Step::new(
        "origin-profiles",
        Kind::Server,
        format!("read the profiles of {src}"),
        Action::Capture {
            cmd: be.show(src_project, src),
            raw,
            outputs: vec![(src_profiles.clone(), Parse::ProfileNames)],
        },
    ));
    b.step(Step::new(
        "placeholders",
        Kind::Server,
        format!("create placeholder profiles for those of {src} that project {} lacks", inst.project),
        Action::ForEach {
            list: src_profiles,
            item: item.clone(),
            unless_in: Some(target),
            cmd: be.profile_create(&inst.project, Word::var(&item)),
            collect: Some(created.clone()),
            tolerant: false,
        },
    ));
    let each = b.var(&["placeholder", name]);
    b.cleanup(
        be.profile_delete(&inst.project, Word::var(&each)),
        None,
        Some(crate::plan::model::Each { list: created, item: each }),
    );
}

/// Start the instance and, unless told not to, wait for its network (D15).
/// With a stopwatch, the start ends the instance's downtime.
/// Starts the instance and waits for its network; `downtime` ends when it
/// has an IPv4 address (or, without the wait, when it has started).
pub fn start_and_wait(b: &mut Builder, inst: &Instance, downtime: Option<Timer>) {
    let name = &inst.name;
    let mut start = Step::new(
        "start",
        Kind::Server,
        format!("start instance {name}"),
        Action::Run(vec![b.backend().start(&inst.project, name)]),
    );
    let wait = b.settings.wait_network;
    if let Some(t) = downtime.clone()
        && wait.is_none()
    {
        start = start.timer(Timer { edge: Edge::Stop, ..t });
    }
    b.step(start);
    if let Some(seconds) = wait {
        let mut step = wait_network_step(b, &inst.name, &inst.project, seconds);
        if let Some(t) = downtime {
            step = step.timer(Timer { edge: Edge::Stop, ..t });
        }
        b.step(step);
    }
}

pub fn wait_network(b: &mut Builder, inst: &Instance, seconds: u32) {
    wait_network_of(b, &inst.name, &inst.project, seconds);
}

/// Waits up to `seconds` for an IPv4 address of the instance `name`.
pub fn wait_network_of(b: &mut Builder, name: &str, project: &str, seconds: u32) {
    let step = wait_network_step(b, name, project, seconds);
    b.step(step);
}

/// The step that waits for an IPv4 address of the instance `name`.
pub fn wait_network_step(b: &mut Builder, name: &str, project: &str, seconds: u32) -> Step {
    let be = b.backend();
    let shown = b.var(&["expanded", name]);
    let address = b.var(&["address", name]);
    Step::new(
        "wait-network",
        Kind::Server,
        format!("wait for an IPv4 address of {name}"),
        Action::WaitNetwork {
            show: be.show_expanded(project, name),
            shown,
            list: be.ipv4_list(project, name),
            instance: name.to_string(),
            seconds,
            address,
        },
    )
}

/// create-devices: filesystems and device directories only.
pub fn create_devices(b: &mut Builder, inst: &Instance) {
    devices::steps(b, inst);
}

/// delete (`destroy == false`) or destroy: the instance and its profile, and
/// for destroy the filesystems marked `destroy: true` (decision D6).
pub fn remove(b: &mut Builder, inst: &Instance, destroy: bool, errs: &mut Vec<Diag>) {
    let be = b.backend();
    let name = &inst.name;
    b.program(be.cli());
    let instances = b.instances(&inst.project);
    let profiles = b.profiles(&inst.project);
    let exists = Cond::has_key(&instances, name);
    let stopped = Cond::has_row(&instances, name, "STOPPED");
    if b.settings.force {
        let stop = stop_step(b, inst);
        b.step(stop);
    } else {
        b.check(
            format!("instance {name} is stopped (or absent)"),
            Cond::Or(vec![Cond::negate(exists.clone()), stopped]),
            format!("instance {name} is running"),
            format!(
                "stop it first ({} stop {name}), or pass --force to stop it as part of the plan",
                be.cli()
            ),
        );
    }
    b.step(
        Step::new(
            "delete",
            Kind::Server,
            format!("delete instance {name}"),
            Action::Run(vec![be.delete(&inst.project, name)]),
        )
        .destructive()
        .skip_if(Cond::negate(exists), "the instance does not exist"),
    );
    b.step(
        Step::new(
            "delete-profile",
            Kind::Server,
            format!("delete profile {}", inst.profile),
            Action::Run(vec![be.profile_delete(&inst.project, &inst.profile)]),
        )
        .skip_if(Cond::negate(Cond::has_key(&profiles, &inst.profile)), "the profile does not exist"),
    );
    let kept: Vec<&str> =
        inst.filesystems.iter().filter(|f| !destroy || !f.destroy).map(|f| f.path.as_str()).collect();
    if !kept.is_empty() {
        b.plan.notes.push(format!("{name}: filesystems kept: {}", kept.join(", ")));
    }
    if destroy {
        destroy_filesystems(b, inst, errs);
    }
}

/// Destroy's steps: the filesystems marked `destroy: true`, each checked on
/// the host first (D6, D25).
fn destroy_filesystems(b: &mut Builder, inst: &Instance, errs: &mut Vec<Diag>) {
    for fs in inst.filesystems.iter().filter(|f| f.destroy) {
        let at = origin(&fs.file, &format!("filesystems.{}.destroy", fs.id));
        // D6: never anything that holds a filesystem not marked destroy (pool
        // roots and system directories never resolve: D25).
        if let Some(other) = inst
            .filesystems
            .iter()
            .find(|o| !o.destroy && o.kind == fs.kind && crate::paths::is_within(&o.path, &fs.path))
        {
            errs.push(
                Diag::new(format!(
                    "refusing to destroy {}: it contains filesystem {} ({}), which is not marked destroy",
                    fs.path, other.id, other.path
                ))
                .in_file(&fs.file)
                .at_key(format!("filesystems.{}.destroy", fs.id))
                .hint(format!("mark {} destroy: true as well, or move it out of {}", other.id, fs.path)),
            );
            continue;
        }
        let step = match fs.kind {
            FsKind::Zfs => {
                b.program("zfs");
                // D25: what is destroyed is where lxops puts it, checked on the host.
                b.check(
                    format!("ZFS filesystem {} is mounted at {} (or absent)", fs.path, fs.host_dir),
                    Cond::Or(vec![
                        Cond::negate(Cond::Succeeds(host::zfs_exists(&fs.path))),
                        Cond::Prints { cmd: host::zfs_mountpoint(&fs.path), want: fs.host_dir.clone() },
                    ]),
                    format!(
                        "ZFS filesystem {} is not mounted at {}; refusing to destroy it",
                        fs.path, fs.host_dir
                    ),
                    "lxops expects each dataset at /<dataset>; check its mountpoint property",
                );
                Step::new(
                    &format!("destroy/{}", fs.id),
                    Kind::Host,
                    format!("destroy ZFS filesystem {} and its snapshots", fs.path),
                    Action::Run(vec![host::zfs_destroy_recursive(&fs.path)]),
                )
                .skip_if(
                    Cond::negate(Cond::Succeeds(host::zfs_exists(&fs.path))),
                    format!("{} does not exist", fs.path),
                )
            }
            FsKind::Dir => {
                b.program("rm");
                b.check(
                    format!("directory {} is not reached through a symbolic link (or absent)", fs.host_dir),
                    Cond::Or(vec![
                        Cond::negate(Cond::DirExists(fs.host_dir.clone())),
                        Cond::RealDir(fs.host_dir.clone()),
                    ]),
                    format!(
                        "{} is, or is reached through, a symbolic link; refusing to remove it",
                        fs.host_dir
                    ),
                    "point the filesystem's pattern at the real directory",
                );
                Step::new(
                    &format!("destroy/{}", fs.id),
                    Kind::Host,
                    format!("remove directory {}", fs.host_dir),
                    Action::Run(vec![host::remove_tree(&fs.host_dir)]),
                )
                .skip_if(
                    Cond::negate(Cond::DirExists(fs.host_dir.clone())),
                    format!("{} does not exist", fs.host_dir),
                )
            }
        };
        b.step(step.destructive().origin(at));
    }
}

/// A preflight check that the instance exists and runs.
pub fn require_running(b: &mut Builder, name: &str, project: &str) {
    let instances = b.instances(project);
    b.check(
        format!("instance {name} is running"),
        Cond::has_row(&instances, name, "RUNNING"),
        format!("instance {name} is not running (or does not exist)"),
        format!("start it first ({} start {name})", b.backend().cli()),
    );
}

/// configure: wait for the network, then apply the cloud-config files.
pub fn configure(b: &mut Builder, inst: &Instance, errs: &mut Vec<Diag>) {
    let be = b.backend();
    b.program(be.cli());
    require_running(b, &inst.name, &inst.project);
    if let Some(seconds) = b.settings.wait_network {
        wait_network(b, inst, seconds);
    }
    if inst.cloud_config_files.is_empty() {
        b.plan.notes.push(format!("{}: the config has no cloud-config files", inst.name));
    }
    if let Err(e) = crate::guest::configure_steps(b, inst) {
        errs.extend(e.0);
    }
}
