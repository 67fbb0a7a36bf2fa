//! The data lifecycle: snapshot, rollback, export, import and
//! copy-filesystems — what protects and moves the data that outlives an
//! instance's OS.
//!
//! Snapshots act on the instance's ZFS, non-transient filesystems only (D7);
//! a snapshot that exists already is skipped, so a re-run converges. Names
//! chosen at run time (a UTC time) are facts of the plan, read once and
//! shared by every instance, never baked into a script. Export writes the
//! original's layout (`<fs-id>.tar.gz`, `image.tar.gz`) plus `SHA256SUMS`;
//! import verifies it before the first change. Copies stream `zfs send |
//! zfs receive`, incrementally from the newest snapshot both ends have, over
//! ssh on either end.

use crate::diag::Diag;
use crate::plan::model::{Action, Cond, Kind, Parse, Step, Target, Word};
use crate::plan::{Builder, devices, host, lifecycle};
use crate::resolve::{Fs, FsKind, Instance};

/// Why a snapshot name cannot be used, if it cannot: ZFS snapshot names
/// (letters, digits, `_ . : -`), which Incus and LXD accept too.
pub fn snapshot_name_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("the name is empty".into());
    }
    s.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.:-".contains(*c)))
        .map(|c| format!("it contains {c:?}; snapshot names use letters, digits, '_', '.', ':' and '-'"))
}

/// The ZFS, non-transient filesystems: the ones snapshots act on (D7).
fn snapshotted(inst: &Instance) -> Vec<&Fs> {
    inst.filesystems.iter().filter(|f| f.kind == FsKind::Zfs && !f.transient).collect()
}

/// `FS@SNAP` as a word (the snapshot name may be a run-time value).
fn at(fs: &str, snap: &Word) -> Word {
    let mut w = Word::lit(format!("{fs}@"));
    w.0.extend(snap.0.iter().cloned());
    w
}

/// The snapshot name: the one given, or a UTC time read when the plan runs.
fn snapshot_word(b: &mut Builder, given: Option<&str>, format: &str) -> Word {
    match given {
        Some(s) => Word::lit(s),
        None => Word::var(b.utc_time(format)),
    }
}

pub struct SnapshotOptions<'a> {
    pub name: Option<&'a str>,
    pub instance: bool,
    pub destroy: bool,
    pub recursive: bool,
}

/// Checks of the snapshot options, reported before any plan.
pub fn snapshot_option_problems(o: &SnapshotOptions) -> Vec<Diag> {
    let mut errs = Vec::new();
    if o.recursive && !o.destroy {
        errs.push(
            Diag::new("cannot use -R without -d")
                .at_key("-R")
                .hint("-R destroys what depends on a snapshot, with -d"),
        );
    }
    if o.destroy && o.name.is_none() {
        errs.push(Diag::new("-d needs the snapshot's name (-s NAME)").at_key("-d"));
    }
    if let Some(n) = o.name
        && let Some(p) = snapshot_name_problem(n)
    {
        errs.push(Diag::new(format!("invalid snapshot name {n:?}: {p}")).at_key("-s"));
    }
    errs
}

/// A check that the instance exists.
fn instance_exists(b: &mut Builder, inst: &Instance) {
    let instances = b.instances(&inst.project);
    b.check(
        format!("instance {} exists", inst.name),
        Cond::has_key(&instances, &inst.name),
        format!("instance {} does not exist", inst.name),
        "leave out -c to act on the filesystems only",
    );
}

/// snapshot: take (or with `destroy`, destroy) one snapshot of the
/// instance's ZFS, non-transient filesystems, and with `instance` of the
/// instance itself.
pub fn snapshot(b: &mut Builder, inst: &Instance, o: &SnapshotOptions) {
    let be = b.backend();
    let (name, p) = (&inst.name, &inst.project);
    let fss = snapshotted(inst);
    if !fss.is_empty() {
        b.program("zfs");
    }
    let snap = snapshot_word(b, o.name, "%Y%m%d%H%M%S");
    let shown = crate::render::display_word(&snap);
    if o.instance {
        b.program(be.cli());
        instance_exists(b, inst);
    }
    if fss.is_empty() && !o.instance {
        b.plan.notes.push(format!(
            "{name}: no ZFS filesystem to snapshot (directories and transient filesystems have none)"
        ));
    }
    if o.destroy {
        let targets: Vec<&Fs> = if o.recursive { crate::resolve::roots_of(&fss) } else { fss };
        for fs in targets {
            let s = at(&fs.path, &snap);
            b.step(
                Step::new(
                    &format!("destroy/{}", fs.id),
                    Kind::Host,
                    format!(
                        "destroy snapshot {}@{shown}{}",
                        fs.path,
                        if o.recursive { " and what depends on it" } else { "" }
                    ),
                    Action::Run(vec![host::zfs_destroy_snapshot(s.clone(), o.recursive)]),
                )
                .destructive()
                .skip_if(
                    Cond::negate(Cond::Succeeds(host::zfs_snapshot_exists(s))),
                    "the snapshot does not exist",
                ),
            );
        }
        if o.instance {
            b.step(
                Step::new(
                    "destroy-instance-snapshot",
                    Kind::Server,
                    format!("delete instance snapshot {name}/{shown}"),
                    Action::Run(vec![be.snapshot_delete(p, name, snap.clone())]),
                )
                .destructive()
                .skip_if(
                    Cond::negate(Cond::Succeeds(be.snapshot_show(p, name, snap.clone()))),
                    "the instance has no such snapshot",
                ),
            );
        }
        return;
    }
    if o.instance {
        b.step(
            Step::new(
                "instance-snapshot",
                Kind::Server,
                format!("snapshot instance {name} as {shown}"),
                Action::Run(vec![be.snapshot_create(p, name, snap.clone())]),
            )
            .skip_if(
                Cond::Succeeds(be.snapshot_show(p, name, snap.clone())),
                "the instance has this snapshot already",
            ),
        );
    }
    for fs in fss {
        let s = at(&fs.path, &snap);
        b.step(
            Step::new(
                &format!("snapshot/{}", fs.id),
                Kind::Host,
                format!("snapshot ZFS filesystem {} as {}@{shown}", fs.path, fs.path),
                Action::Run(vec![host::zfs_snapshot(s.clone())]),
            )
            .origin(crate::plan::origin(&fs.file, &format!("filesystems.{}", fs.id)))
            .skip_if(Cond::Succeeds(host::zfs_snapshot_exists(s)), "the snapshot exists already"),
        );
    }
}

pub struct RollbackOptions<'a> {
    pub name: &'a str,
    pub instance: bool,
    pub force: bool,
}

/// rollback: every ZFS, non-transient filesystem back to the snapshot
/// (destroying the newer snapshots, which the run lists first), and with
/// `instance` the instance's own snapshot restored (D8).
pub fn rollback(b: &mut Builder, inst: &Instance, o: &RollbackOptions, errs: &mut Vec<Diag>) {
    if let Some(p) = snapshot_name_problem(o.name) {
        errs.push(Diag::new(format!("invalid snapshot name {:?}: {p}", o.name)).at_key("-s"));
        return;
    }
    let be = b.backend();
    let (name, p) = (&inst.name, &inst.project);
    let fss = snapshotted(inst);
    let snap = Word::lit(o.name);
    b.program(be.cli());
    if !fss.is_empty() {
        b.program("zfs");
    }
    let instances = b.instances(p);
    for fs in &fss {
        let s = format!("{}@{}", fs.path, o.name);
        b.check(
            format!("snapshot {s} exists"),
            Cond::Succeeds(host::zfs_snapshot_exists(s.as_str())),
            format!("snapshot {s} does not exist"),
            format!("list the snapshots with: zfs list -t snapshot -r {}", fs.path),
        );
    }
    if o.instance {
        instance_exists(b, inst);
        b.check(
            format!("instance {name} has snapshot {}", o.name),
            Cond::Succeeds(be.snapshot_show(p, name, snap.clone())),
            format!("instance {name} has no snapshot {}", o.name),
            "leave out -c to roll back the filesystems only",
        );
    }
    if fss.is_empty() && !o.instance {
        b.plan.notes.push(format!("{name}: no ZFS filesystem to roll back"));
    }
    if o.force {
        let stopped = b.var(&["stopped", name]);
        let stop = lifecycle::stop_step(b, inst).sets(stopped.clone());
        b.step(stop);
        // Whatever happens next, an instance this run stopped is started again.
        b.cleanup(be.start(p, name), Some(Cond::Flag(stopped)), None);
    } else {
        b.check(
            format!("instance {name} is stopped (or absent)"),
            Cond::Or(vec![
                Cond::negate(Cond::has_key(&instances, name)),
                Cond::has_row(&instances, name, "STOPPED"),
            ]),
            format!("instance {name} is running; rolling back its data under it would corrupt it"),
            format!(
                "stop it first ({} stop {name}), or pass --force to stop it and start it again afterwards",
                be.cli()
            ),
        );
    }
    for fs in &fss {
        let target = format!("{}@{}", fs.path, o.name);
        let raw = b.var(&["snapshots", name, &fs.id]);
        let newer = b.var(&["newer", name, &fs.id]);
        b.step(Step::new(
            &format!("newer/{}", fs.id),
            Kind::Host,
            format!("list the snapshots of {} newer than {target} (the rollback destroys them)", fs.path),
            Action::Capture {
                cmd: host::zfs_snapshots(&fs.path),
                raw,
                outputs: vec![(
                    newer,
                    Parse::After { target: target.clone(), prefix: format!("{}@", fs.path) },
                )],
            },
        ));
        b.step(
            Step::new(
                &format!("rollback/{}", fs.id),
                Kind::Host,
                format!("roll {} back to {target}", fs.path),
                Action::Run(vec![host::zfs_rollback(Word::lit(target))]),
            )
            .destructive()
            .origin(crate::plan::origin(&fs.file, &format!("filesystems.{}", fs.id))),
        );
    }
    if o.instance {
        b.step(
            Step::new(
                "restore",
                Kind::Server,
                format!("restore instance {name} to its snapshot {}", o.name),
                Action::Run(vec![be.snapshot_restore(p, name, snap)]),
            )
            .destructive(),
        );
    }
}

pub struct ExportOptions<'a> {
    pub dir: &'a str,
    pub snapshot: Option<&'a str>,
    pub image: bool,
    pub force: bool,
}

/// The filesystems export and import carry: every non-transient one.
fn carried(inst: &Instance) -> Vec<&Fs> {
    inst.filesystems.iter().filter(|f| !f.transient).collect()
}

/// export: each non-transient filesystem as `DIR/<id>.tar.gz` (a ZFS one
/// from a snapshot, so the copy is consistent while the instance runs), the
/// image with `--image`, then `DIR/SHA256SUMS`.
pub fn export(b: &mut Builder, inst: &Instance, o: &ExportOptions, errs: &mut Vec<Diag>) {
    if let Some(s) = o.snapshot
        && let Some(p) = snapshot_name_problem(s)
    {
        errs.push(Diag::new(format!("invalid snapshot name {s:?}: {p}")).at_key("--snapshot"));
        return;
    }
    let be = b.backend();
    let name = &inst.name;
    let dir = o.dir;
    let fss = carried(inst);
    for p in ["mkdir", "tar", "sh", "sha256sum"] {
        b.program(p);
    }
    if fss.iter().any(|f| f.kind == FsKind::Zfs) {
        b.program("zfs");
    }
    if fss.is_empty() {
        b.plan.notes.push(format!("{name}: no filesystem to export (transient ones are not)"));
    }
    if fss.iter().any(|f| f.kind == FsKind::Dir) {
        b.plan.notes.push(format!(
            "{name}: directory filesystems are archived as they are, not from a snapshot: stop the instance for a consistent copy"
        ));
    }
    if !o.force {
        for fs in &fss {
            let archive = format!("{dir}/{}.tar.gz", fs.id);
            b.check(
                format!("{archive} does not exist yet"),
                Cond::negate(Cond::FileExists(archive.clone())),
                format!("{archive} exists: an earlier export is there"),
                "export to another directory, or pass --force to overwrite it",
            );
        }
    }
    let zfs: Vec<&&Fs> = fss.iter().filter(|f| f.kind == FsKind::Zfs).collect();
    let snap = match o.snapshot {
        Some(s) => {
            for fs in &zfs {
                let full = format!("{}@{s}", fs.path);
                b.check(
                    format!("snapshot {full} exists"),
                    Cond::Succeeds(host::zfs_snapshot_exists(full.as_str())),
                    format!("snapshot {full} does not exist"),
                    format!("list the snapshots with: zfs list -t snapshot -r {}", fs.path),
                );
            }
            Word::lit(s)
        }
        None => {
            let w = snapshot_word(b, None, "lxops-export-%Y%m%d%H%M%S");
            if !zfs.is_empty() {
                b.plan.notes.push(format!(
                    "{name}: each ZFS filesystem is snapshotted for the export (FS@lxops-export-<UTC time>) and the snapshot destroyed afterwards"
                ));
            }
            for fs in &zfs {
                let taken = b.var(&["exported", name, &fs.id]);
                let s = at(&fs.path, &w);
                b.step(
                    Step::new(
                        &format!("snapshot/{}", fs.id),
                        Kind::Host,
                        format!("snapshot {} for the export", fs.path),
                        Action::Run(vec![host::zfs_snapshot(s.clone())]),
                    )
                    .sets(taken.clone()),
                );
                b.cleanup(host::zfs_destroy_snapshot(s, false), Some(Cond::Flag(taken)), None);
            }
            w
        }
    };
    b.step(Step::new(
        "dir",
        Kind::Host,
        format!("create directory {dir}"),
        Action::Run(vec![host::mkdir_p(dir)]),
    ));
    let mut files: Vec<Word> = Vec::new();
    for fs in &fss {
        let archive = format!("{dir}/{}.tar.gz", fs.id);
        // A snapshot is read through a temporary clone: zfs-fuse has no
        // .zfs/snapshot directory, and a clone works on every ZFS. The clone
        // goes away with the cleanup, whatever happens.
        let source = match fs.kind {
            FsKind::Zfs => {
                let clone = format!("{}.lxops-export", fs.path);
                b.check(
                    format!("{clone} does not exist"),
                    Cond::negate(Cond::Succeeds(host::zfs_exists(&clone))),
                    format!("{clone} exists, probably left by an interrupted export"),
                    format!("destroy it (zfs destroy {clone}) and export again"),
                );
                let cloned = b.var(&["clone", name, &fs.id]);
                b.step(
                    Step::new(
                        &format!("clone/{}", fs.id),
                        Kind::Host,
                        format!(
                            "clone {}@{} as {clone} to read it",
                            fs.path,
                            crate::render::display_word(&snap)
                        ),
                        Action::Run(vec![host::zfs_clone_word(at(&fs.path, &snap), &clone)]),
                    )
                    .sets(cloned.clone()),
                );
                b.cleanup_first(host::zfs_destroy(&clone), Some(Cond::Flag(cloned)));
                Word::lit(format!("/{clone}"))
            }
            FsKind::Dir => Word::lit(fs.host_dir.clone()),
        };
        b.step(
            Step::new(
                &format!("archive/{}", fs.id),
                Kind::Host,
                format!("archive {} into {archive}", fs.path),
                Action::Run(vec![host::tar_create(&archive, source)]),
            )
            .origin(crate::plan::origin(&fs.file, &format!("filesystems.{}", fs.id))),
        );
        files.push(Word::lit(format!("{}.tar.gz", fs.id)));
    }
    if o.image {
        b.program(be.cli());
        b.program("find");
        b.step(Step::new(
            "image",
            Kind::Server,
            format!("export image {} into {dir}", inst.image),
            Action::Run(vec![be.image_export(&inst.project, &inst.image, &format!("{dir}/image"))]),
        ));
        let raw = b.var(&["image", "files", name]);
        let list = b.var(&["image", "names", name]);
        b.step(Step::new(
            "image-files",
            Kind::Host,
            "list the image's files",
            Action::Capture {
                cmd: host::files_named(dir, "image*", false),
                raw,
                outputs: vec![(list.clone(), Parse::Lines)],
            },
        ));
        files.push(Word::list(list));
    }
    b.step(Step::new(
        "checksums",
        Kind::Host,
        format!("write the checksums {dir}/SHA256SUMS"),
        Action::Run(vec![host::write_checksums(dir, files)]),
    ));
}

pub struct ImportOptions<'a> {
    pub dir: &'a str,
    pub image: bool,
    pub force: bool,
}

/// import: verify `DIR/SHA256SUMS`, create the filesystems as launch does,
/// unpack each archive into its (empty) filesystem, then the device
/// directories; with `--image`, import the image under the config's name.
pub fn import(b: &mut Builder, inst: &Instance, o: &ImportOptions) {
    let be = b.backend();
    let dir = o.dir;
    let fss = carried(inst);
    for p in ["tar", "sh", "sha256sum"] {
        b.program(p);
    }
    let sums = format!("{dir}/SHA256SUMS");
    b.check(
        format!("{sums} exists"),
        Cond::FileExists(sums.clone()),
        format!("{sums} does not exist: {dir} holds no lxops export"),
        "name the directory lxops export wrote",
    );
    b.check(
        format!("the files in {dir} match {sums}"),
        Cond::Succeeds(host::check_checksums(dir)),
        format!("the files in {dir} do not match their checksums: an archive is damaged or missing"),
        format!("check with: cd {dir} && sha256sum -c SHA256SUMS"),
    );
    for fs in &fss {
        let archive = format!("{dir}/{}.tar.gz", fs.id);
        b.check(
            format!("{archive} exists"),
            Cond::FileExists(archive.clone()),
            format!("{archive} does not exist: the export has no filesystem {}", fs.id),
            "import into a config whose filesystem ids match the export's",
        );
        if !o.force {
            b.check(
                format!("{} holds no data", fs.host_dir),
                Cond::EmptyOrAbsent(fs.host_dir.clone()),
                format!("{} already holds data; refusing to unpack over it", fs.host_dir),
                "destroy or move it first, or pass --force to unpack over it",
            );
        }
    }
    if o.image {
        b.program(be.cli());
        b.check(
            format!("image {} is not known yet", inst.image),
            Cond::negate(Cond::Succeeds(be.image_info(&inst.project, &inst.image))),
            format!("image {} exists", inst.image),
            "delete it first, or leave out --image",
        );
        // `image export` writes `image` and `image.root` (a split image) or one
        // `image.tar.gz` (a unified one, the original's layout).
        b.check(
            format!("{dir} holds an exported image"),
            Cond::Or(vec![
                Cond::FileExists(format!("{dir}/image")),
                Cond::FileExists(format!("{dir}/image.tar.gz")),
            ]),
            format!("{dir} holds no exported image"),
            "leave out --image",
        );
    }
    let new_vars = devices::filesystems(b, inst);
    for fs in &fss {
        let archive = format!("{dir}/{}.tar.gz", fs.id);
        b.step(
            Step::new(
                &format!("unpack/{}", fs.id),
                Kind::Host,
                format!("unpack {archive} into {}", fs.host_dir),
                Action::Run(vec![host::tar_extract(&archive, &fs.host_dir)]),
            )
            .origin(crate::plan::origin(&fs.file, &format!("filesystems.{}", fs.id))),
        );
    }
    devices::directories(b, inst, &new_vars);
    if o.image {
        b.program("find");
        let raw = b.var(&["image", "files", &inst.name]);
        let list = b.var(&["image", "paths", &inst.name]);
        b.step(Step::new(
            "image-files",
            Kind::Host,
            "list the image's files (metadata first)",
            Action::Capture {
                cmd: host::files_named(dir, "image*", true),
                raw,
                outputs: vec![(list.clone(), Parse::Lines)],
            },
        ));
        b.step(Step::new(
            "image",
            Kind::Server,
            format!("import image {} from {dir}", inst.image),
            Action::Run(vec![be.image_import(&inst.project, Word::list(list), &inst.image)]),
        ));
    }
}

pub struct CopyOptions<'a> {
    pub from_instance: &'a Instance,
    pub from_host: Option<&'a str>,
    pub to_host: Option<&'a str>,
    pub snapshot: Option<&'a str>,
    pub force: bool,
}

/// The target of an ssh destination: host commands run as root there
/// through `sudo -n`, unless the destination logs in as root.
fn target(host: Option<&str>) -> Target {
    match host {
        None => Target::Local,
        Some(h) => Target::Ssh { dest: Word::lit(h), sudo: !h.starts_with("root@") },
    }
}

/// copy-filesystems: each ZFS, non-transient filesystem of `to` whose id the
/// source instance has too, streamed with `zfs send | zfs receive`,
/// incrementally from the newest snapshot both ends have.
pub fn copy_filesystems(b: &mut Builder, to: &Instance, o: &CopyOptions, errs: &mut Vec<Diag>) {
    if let Some(s) = o.snapshot
        && let Some(p) = snapshot_name_problem(s)
    {
        errs.push(Diag::new(format!("invalid snapshot name {s:?}: {p}")).at_key("-s"));
        return;
    }
    for (flag, h) in [("--from-host", o.from_host), ("--to-host", o.to_host)] {
        if let Some(h) = h
            && !crate::resolve::ssh_dest_ok(h)
        {
            errs.push(
                Diag::new(format!("invalid ssh destination {h:?}"))
                    .at_key(flag)
                    .hint("write [USER@]HOST or an ssh config name"),
            );
            return;
        }
    }
    let from = o.from_instance;
    let (src_t, dst_t) = (target(o.from_host), target(o.to_host));
    b.program("zfs");
    if o.from_host.is_some() || o.to_host.is_some() {
        b.program("ssh");
    }
    let pairs: Vec<(&Fs, &Fs)> = snapshotted(to)
        .into_iter()
        .filter_map(|d| from.filesystem(&d.id).filter(|s| s.kind == FsKind::Zfs).map(|s| (s, d)))
        .collect();
    if pairs.is_empty() {
        b.plan
            .notes
            .push(format!("{}: no ZFS filesystem that {} has too: nothing to copy", to.name, from.name));
    }
    if pairs.iter().any(|(s, d)| s.path == d.path) && src_t == dst_t {
        errs.push(
            Diag::new(format!("{} would be copied onto itself", pairs[0].0.path))
                .at_key("--from-instance")
                .hint("copy to another instance (--instance) or another host (--to-host)"),
        );
        return;
    }
    let snap = snapshot_word(b, o.snapshot, "%Y%m%d%H%M%S");
    let shown = crate::render::display_word(&snap);
    for (src, dst) in pairs {
        let id = &dst.id;
        let sent = at(&src.path, &snap);
        let sent_there = at(&dst.path, &snap);
        match o.snapshot {
            Some(_) => b.check(
                format!("snapshot {}@{shown} exists", src.path),
                Cond::Succeeds(host::zfs_snapshot_exists(sent.clone()).on(src_t.clone())),
                format!("snapshot {}@{shown} does not exist", src.path),
                "take it first (lxops snapshot -s NAME on the source), or leave out -s",
            ),
            None => {
                b.step(
                    Step::new(
                        &format!("snapshot/{id}"),
                        Kind::Host,
                        format!("snapshot {} as {}@{shown}", src.path, src.path),
                        Action::Run(vec![host::zfs_snapshot(sent.clone()).on(src_t.clone())]),
                    )
                    .skip_if(
                        Cond::Succeeds(host::zfs_snapshot_exists(sent.clone()).on(src_t.clone())),
                        "the snapshot exists already",
                    ),
                );
            }
        }
        let dst_text = b.var(&["there", &to.name, id]);
        let dst_exists = Cond::Succeeds(host::zfs_exists(&dst.path).on(dst_t.clone()));
        b.step(
            Step::new(
                &format!("there/{id}"),
                Kind::Host,
                format!("read the snapshots {} has", dst.path),
                Action::Capture {
                    cmd: host::zfs_snapshots(&dst.path).on(dst_t.clone()),
                    raw: dst_text.clone(),
                    outputs: vec![],
                },
            )
            .skip_if(Cond::negate(dst_exists), format!("{} does not exist yet: a full send", dst.path)),
        );
        let src_text = b.var(&["here", &to.name, id]);
        let base = b.var(&["base", &to.name, id]);
        b.step(Step::new(
            &format!("base/{id}"),
            Kind::Host,
            format!("find the newest snapshot of {} that {} has too", src.path, dst.path),
            Action::Capture {
                cmd: host::zfs_snapshots(&src.path).on(src_t.clone()),
                raw: src_text,
                outputs: vec![(
                    base.clone(),
                    Parse::CommonBase {
                        other: dst_text,
                        src: src.path.clone(),
                        dst: dst.path.clone(),
                        sent: snap.clone(),
                    },
                )],
            },
        ));
        // The parent must exist to receive into; a pool's root always does.
        if let Some((parent, _)) = dst.path.rsplit_once('/').filter(|(p, _)| p.contains('/')) {
            b.step(
                Step::new(
                    &format!("parent/{id}"),
                    Kind::Host,
                    format!("create {parent} if missing"),
                    Action::Run(vec![host::zfs_create(parent, &[]).on(dst_t.clone())]),
                )
                .skip_if(
                    Cond::Succeeds(host::zfs_exists(parent).on(dst_t.clone())),
                    format!("{parent} exists"),
                ),
            );
        }
        b.step(
            Step::new(
                &format!("send/{id}"),
                Kind::Host,
                format!(
                    "send {}@{shown} to {}{}",
                    src.path,
                    dst.path,
                    if o.force { " (discarding its changes since the common snapshot)" } else { "" }
                ),
                Action::Pipe(vec![
                    host::zfs_send(sent, Word::list(&base)).on(src_t.clone()),
                    host::zfs_receive(&dst.path, o.force).on(dst_t.clone()),
                ]),
            )
            .skip_if(
                Cond::Succeeds(host::zfs_snapshot_exists(sent_there).on(dst_t.clone())),
                format!("{} has {}@{shown} already", dst.path, dst.path),
            ),
        );
    }
}
