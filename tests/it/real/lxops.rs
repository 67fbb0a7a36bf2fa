//! lxops-driven real tests: each test writes its lxops configs (and
//! cloud-config files) into a temp dir, runs the lxops binary against the
//! bench, and checks the result on the host and inside the containers.
//!
//! Every scenario runs twice: once with `--execute`, once by rendering
//! `lxops script …` to a file and running it with `bash FILE` (`--yes` for
//! plans with destructive steps). Both must succeed and leave the same end
//! state (compared after replacing the per-mode names by placeholders).
//!
//! Checks about the end state are collected ([`Checks`]) so that one wrong
//! detail does not hide the others; failed commands panic at once.

use super::{Exec, Real, Resource, Run, cli, exec, exec_status, wait_booted, zfs, zfs_status};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// How a plan is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// `lxops COMMAND --execute --yes …`
    Execute,
    /// `lxops script COMMAND … > FILE; bash FILE --yes`
    Script,
}

pub(super) const MODES: [Mode; 2] = [Mode::Execute, Mode::Script];

impl Mode {
    /// Short tag used in names, so both modes' resources can coexist.
    pub(super) fn tag(self) -> &'static str {
        match self {
            Mode::Execute => "x",
            Mode::Script => "s",
        }
    }
}

pub(super) const BOOT: Duration = Duration::from_secs(30);

/// The lxops binary with a private work dir and an empty XDG_CONFIG_HOME.
pub(super) struct Lx<'a> {
    t: &'a Real,
    /// Temp dir of the test (registered for removal).
    pub(super) root: PathBuf,
    xdg: PathBuf,
    scripts: Cell<usize>,
    /// Extra environment for lxops and the scripts (`PATH_PREFIX` goes
    /// before the bench's PATH).
    env: std::cell::RefCell<Vec<(String, String)>>,
    /// Extra arguments of the scripts the next runs render (`--from …`).
    script_args: std::cell::RefCell<Vec<String>>,
}

impl<'a> Lx<'a> {
    pub(super) fn new(t: &'a Real) -> Lx<'a> {
        // Canonical, so the paths lxops prints (profile description) compare equal.
        let tmp = std::fs::canonicalize(std::env::temp_dir()).expect("temp dir");
        let root = tmp.join(t.name("work"));
        t.register(Resource::Path(root.clone()));
        let _ = std::fs::remove_dir_all(&root);
        let xdg = root.join("xdg");
        std::fs::create_dir_all(&xdg).expect("create the test's temp dir");
        Lx { t, root, xdg, scripts: Cell::new(0), env: Default::default(), script_args: Default::default() }
    }

    /// Sets the extra arguments of the next scripts.
    pub(super) fn set_script_args(&self, args: &[&str]) {
        *self.script_args.borrow_mut() = args.iter().map(|a| a.to_string()).collect();
    }

    /// Sets the extra environment of the next runs.
    pub(super) fn set_env(&self, env: &[(&str, &str)]) {
        *self.env.borrow_mut() = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    }

    fn apply_env(&self, cmd: &mut std::process::Command) {
        for (k, v) in self.env.borrow().iter() {
            if k == "PATH_PREFIX" {
                cmd.env("PATH", format!("{v}:{}", self.t.bench.path));
            } else {
                cmd.env(k, v);
            }
        }
    }

    /// Starts `command args` in `mode` without waiting (standard error into
    /// `stderr`), for tests that interrupt a run.
    pub(super) fn start(
        &self,
        mode: Mode,
        command: &str,
        args: &[&str],
        stderr: &Path,
    ) -> std::process::Child {
        let err = std::fs::File::create(stderr).unwrap();
        let mut cmd = match mode {
            Mode::Execute => {
                let mut c = self.t.bench.command(env!("CARGO_BIN_EXE_lxops"));
                c.arg("--backend").arg(&self.t.bench.backend).args(command.split(' '));
                c.args(["--execute", "--yes"]).args(args);
                c
            }
            Mode::Script => {
                let mut a = vec!["script"];
                a.extend(command.split(' '));
                a.extend_from_slice(args);
                let r = self.lxops(&a);
                assert!(r.ok(), "lxops {a:?}: {}", r.stderr);
                let file = self.root.join("scripts").join(format!("interrupted-{}.sh", self.scripts.get()));
                self.scripts.set(self.scripts.get() + 1);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, &r.stdout).unwrap();
                let mut c = self.t.bench.command("bash");
                c.arg(&file).arg("--yes");
                c
            }
        };
        cmd.env("XDG_CONFIG_HOME", &self.xdg).env_remove("LXOPS_BACKEND").current_dir(&self.root);
        self.apply_env(&mut cmd);
        cmd.stdout(Stdio::null()).stderr(Stdio::from(err));
        cmd.spawn().expect("start lxops")
    }

    /// Writes `text` to `<root>/<rel>` (parents created); returns the path.
    pub(super) fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).expect("mkdir");
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// Runs lxops with `--backend` from the bench; any exit status.
    pub(super) fn lxops(&self, args: &[&str]) -> Run {
        let b = self.t.bench;
        let mut cmd = b.command(env!("CARGO_BIN_EXE_lxops"));
        cmd.arg("--backend")
            .arg(&b.backend)
            .args(args)
            .env("XDG_CONFIG_HOME", &self.xdg)
            .env_remove("LXOPS_BACKEND")
            .current_dir(&self.root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.apply_env(&mut cmd);
        let out = cmd.output().unwrap_or_else(|e| panic!("cannot run lxops {args:?}: {e}"));
        super::finish(out)
    }

    /// Runs `command args` in `mode`; any exit status. In script mode a
    /// failure to render the script panics (it says nothing about the run).
    pub(super) fn apply(&self, mode: Mode, command: &str, args: &[&str]) -> Run {
        let started = Instant::now();
        let r = match mode {
            // `command` may be two words (`profile apply`).
            Mode::Execute => {
                let mut a: Vec<&str> = command.split(' ').collect();
                a.extend(["--execute", "--yes"]);
                a.extend_from_slice(args);
                self.lxops(&a)
            }
            Mode::Script => {
                let mut a = vec!["script"];
                a.extend(command.split(' '));
                a.extend_from_slice(args);
                let r = self.lxops(&a);
                assert!(
                    r.ok() && r.stdout.starts_with("#!"),
                    "lxops {} failed (status {})\n--- stderr ---\n{}--- stdout ---\n{}",
                    a.join(" "),
                    r.status,
                    r.stderr,
                    r.stdout
                );
                let n = self.scripts.get() + 1;
                self.scripts.set(n);
                let file = self.root.join("scripts").join(format!("{n:02}-{}.sh", command.replace(' ', "-")));
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, &r.stdout).unwrap();
                // Scripts take --yes whether or not they have destructive steps.
                let mut bash = self.t.bench.command("bash");
                bash.arg(&file).arg("--yes").args(self.script_args.borrow().iter());
                bash.current_dir(&self.root).stdout(Stdio::piped()).stderr(Stdio::piped());
                self.apply_env(&mut bash);
                let out = bash.output().expect("run bash");
                super::finish(out)
            }
        };
        eprintln!(
            "[real]   {mode:?} {command} {} -> exit {} in {:.2?}",
            args.join(" "),
            r.status,
            started.elapsed()
        );
        r
    }

    /// [`Lx::apply`], panicking with the output unless it exits 0.
    pub(super) fn must(&self, mode: Mode, command: &str, args: &[&str]) -> Run {
        let r = self.apply(mode, command, args);
        assert!(
            r.ok(),
            "{mode:?} `lxops {command} {}` failed with exit status {}\n--- stderr ---\n{}--- stdout ---\n{}",
            args.join(" "),
            r.status,
            super::readable(&r.stderr),
            super::readable(&r.stdout)
        );
        r
    }
}

/// Collected end-state checks; [`Checks::finish`] panics listing every failure.
#[derive(Default)]
pub(super) struct Checks {
    failures: Vec<String>,
}

impl Checks {
    pub(super) fn eq(
        &mut self,
        what: impl std::fmt::Display,
        actual: impl AsRef<str>,
        expected: impl AsRef<str>,
    ) {
        let (a, e) = (actual.as_ref(), expected.as_ref());
        if a != e {
            self.failures.push(format!("{what}:\n      expected {e:?}\n      actual   {a:?}"));
        }
    }
    pub(super) fn ok(&mut self, what: impl std::fmt::Display, cond: bool, detail: impl std::fmt::Display) {
        if !cond {
            self.failures.push(format!("{what}: {detail}"));
        }
    }
    pub(super) fn finish(self, test: &str) {
        if !self.failures.is_empty() {
            panic!("{test}: {} check(s) failed:\n  - {}", self.failures.len(), self.failures.join("\n  - "));
        }
    }
}

/// A profile with `raw.idmap: both 1000 1000` (bench-up allows root:1000:1).
pub(super) fn idmap_profile(t: &Real) -> String {
    let p = t.profile("idmap");
    cli(&["profile", "set", &p, "raw.idmap", "both 1000 1000"]);
    p
}

/// Registers the instance `<prefix>-<suffix>` and its lxops profile.
pub(super) fn lxops_instance(t: &Real, suffix: &str) -> String {
    let n = t.instance(suffix);
    t.register(Resource::Profile(format!("{n}.lxops")));
    n
}

/// `RUNNING`, `STOPPED`, … or `absent`.
pub(super) fn status(name: &str) -> String {
    let out = cli(&["list", "-f", "csv", "-c", "ns"]);
    out.lines()
        .find_map(|l| {
            let mut f = l.split(',');
            (f.next() == Some(name)).then(|| f.next().unwrap_or("").to_string())
        })
        .unwrap_or_else(|| "absent".to_string())
}

pub(super) fn profile_exists(name: &str) -> bool {
    // no `-c`: LXD 5.0's `profile list` has no --columns (the name is the first field)
    cli(&["profile", "list", "-f", "csv"]).lines().any(|l| l.split(',').next() == Some(name))
}

pub(super) fn dataset_exists(ds: &str) -> bool {
    zfs_status(&["list", "-H", "-o", "name", ds]).ok()
}

/// `stat -c %u:%g` of a host path, or `missing`.
pub(super) fn host_owner(p: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(p) {
        Ok(m) => format!("{}:{}", m.uid(), m.gid()),
        Err(_) => "missing".to_string(),
    }
}

pub(super) fn host_read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| format!("<{e}>"))
}

/// stdout of `argv` in `c`, or `<exit N: stderr>`.
pub(super) fn guest(c: &str, argv: &[&str]) -> String {
    let r = exec_status(c, argv);
    if r.ok() { r.stdout } else { format!("<exit {}: {}>", r.status, r.stderr.trim()) }
}

pub(super) fn guest_user(c: &str, argv: &[&str]) -> String {
    let r = Exec::as_user(1000, 1000).status(c, argv);
    if r.ok() { r.stdout } else { format!("<exit {}: {}>", r.status, r.stderr.trim()) }
}

/// Replaces per-mode names by placeholders, longest first.
pub(super) fn normalize(lines: &[String], subst: &[(&str, &str)]) -> Vec<String> {
    let mut subst: Vec<(&str, &str)> = subst.to_vec();
    subst.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    lines
        .iter()
        .map(|l| {
            let mut l = l.clone();
            for (from, to) in &subst {
                l = l.replace(from, to);
            }
            l
        })
        .collect()
}

pub(super) fn assert_same_end_state(test: &str, states: &[Vec<String>]) {
    let (x, s) = (&states[0], &states[1]);
    if x != s {
        let mut diff = String::new();
        for i in 0..x.len().max(s.len()) {
            let a = x.get(i).map(String::as_str).unwrap_or("<none>");
            let b = s.get(i).map(String::as_str).unwrap_or("<none>");
            if a != b {
                diff.push_str(&format!("\n  execute: {a}\n  script:  {b}"));
            }
        }
        panic!("{test}: --execute and the script left different end states:{diff}");
    }
}

/// The parsed `profile show` of an instance profile.
pub(super) fn profile_show(name: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&cli(&["profile", "show", name])).expect("profile show prints YAML")
}

pub(super) fn yaml_str(v: &serde_yaml::Value, path: &[&str]) -> String {
    let mut cur = v;
    for k in path {
        match cur.get(*k) {
            Some(x) => cur = x,
            None => return "<absent>".to_string(),
        }
    }
    match cur {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

// ---------------------------------------------------------------------------
// 1. launch: ZFS + directory filesystems, template copy, standalone device

/// Spec: launch a config with a ZFS filesystem, a directory filesystem, a
/// template-copied device and a standalone device.
#[test]
fn launch_devices_profile_and_data() {
    let test = "launch_devices_profile_and_data";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let idmap = idmap_profile(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        states.push(launch_scenario(&t, &lx, &idmap, mode, &mut ck));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

fn launch_scenario(t: &Real, lx: &Lx, idmap: &str, mode: Mode, ck: &mut Checks) -> Vec<String> {
    let m = mode.tag();
    let tpl = lxops_instance(t, &format!("{m}-tpl"));
    let inst = lxops_instance(t, &format!("{m}-b"));
    let fsroot = format!("{}/{}", t.bench.zpool, t.name(&format!("{m}-fs")));
    t.register(Resource::Dataset(fsroot.clone()));
    let base = lx.root.join(m);
    let shared = base.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("readme"), "shared data\n").unwrap();
    let dirs = base.join("dirs");
    let config = |extra: &str| {
        format!(
            "#lxops-v1
{extra}ostype: alpine
image: tiny
profiles:
- default
- {idmap}
device-owner: 1000:1000
filesystems:
  host:
    pattern: {fsroot}/(instance)
    destroy: true
  d:
    pattern: {dirs}/(instance)
    destroy: true
devices:
  home:
    path: /home/user
    filesystem: host
  etc:
    path: /etc/opt
    filesystem: d
  shared:
    path: /srv/shared
    dir: {shared}
    readonly: true
",
            dirs = dirs.display(),
            shared = shared.display()
        )
    };
    let a = lx.write(&format!("{m}/tpl.yaml"), &config(""));
    let b = lx.write(&format!("{m}/b.yaml"), &config(&format!("device-template: {tpl}\n")));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());

    // the template instance
    lx.must(mode, "launch", &["--no-wait-network", "-n", &tpl, a_s]);
    wait_booted(&tpl, BOOT);
    Exec::as_user(1000, 1000).run(
        &tpl,
        &[
            "sh",
            "-c",
            "echo tpl-home > /home/user/marker && mkdir /home/user/sub && echo deep > /home/user/sub/f \
             && echo tpl-etc > /etc/opt/marker",
        ],
    );
    cli(&["stop", &tpl]);
    ck.eq(format!("{mode:?}: template {tpl} stopped"), status(&tpl), "STOPPED");

    // the instance made from it
    lx.must(mode, "launch", &["--no-wait-network", "-n", &inst, b_s]);
    wait_booted(&inst, BOOT);
    let mut state = Vec::new();
    let mut rec = |ck: &mut Checks, what: &str, actual: String, expected: &str| {
        ck.eq(format!("{mode:?}: {what}"), &actual, expected);
        state.push(format!("{what} = {actual:?}"));
    };
    rec(ck, "instance status", status(&inst), "RUNNING");
    rec(ck, "home/marker (template copy)", guest_user(&inst, &["cat", "/home/user/marker"]), "tpl-home\n");
    rec(ck, "home/sub/f (template copy)", guest_user(&inst, &["cat", "/home/user/sub/f"]), "deep\n");
    rec(ck, "etc/marker (template copy)", guest_user(&inst, &["cat", "/etc/opt/marker"]), "tpl-etc\n");
    rec(
        ck,
        "owner of copied marker in the guest",
        guest(&inst, &["stat", "-c", "%u:%g", "/home/user/marker"]),
        "1000:1000\n",
    );
    rec(ck, "shared/readme", guest(&inst, &["cat", "/srv/shared/readme"]), "shared data\n");
    let w = exec_status(&inst, &["touch", "/srv/shared/new"]);
    rec(ck, "shared is read-only in the guest", (!w.ok()).to_string(), "true");
    let w = Exec::as_user(1000, 1000).status(&inst, &["sh", "-c", "echo mine > /home/user/new"]);
    rec(ck, "uid 1000 can write its home", w.ok().to_string(), "true");

    // the instance profile
    let profile = format!("{inst}.lxops");
    let p = profile_show(&profile);
    rec(ck, "profile description", yaml_str(&p, &["description"]), b_s);
    let fs_dir = format!("/{fsroot}/{inst}");
    let dir_fs = dirs.join(&inst);
    let expect_devs = [
        ("home", "/home/user", format!("{fs_dir}/home"), None),
        ("etc", "/etc/opt", dir_fs.join("etc").display().to_string(), None),
        ("shared", "/srv/shared", shared.display().to_string(), Some("true")),
    ];
    for (key, path, source, ro) in &expect_devs {
        rec(ck, &format!("profile device {key}.type"), yaml_str(&p, &["devices", key, "type"]), "disk");
        rec(ck, &format!("profile device {key}.path"), yaml_str(&p, &["devices", key, "path"]), path);
        rec(ck, &format!("profile device {key}.source"), yaml_str(&p, &["devices", key, "source"]), source);
        rec(
            ck,
            &format!("profile device {key}.readonly"),
            yaml_str(&p, &["devices", key, "readonly"]),
            ro.unwrap_or("<absent>"),
        );
    }
    let n_devs = p.get("devices").and_then(|d| d.as_mapping()).map(|m| m.len()).unwrap_or(0);
    rec(ck, "profile device count", n_devs.to_string(), "3");
    let conf: serde_yaml::Value = serde_yaml::from_str(&cli(&["config", "show", &inst])).expect("YAML");
    let profiles: Vec<String> = conf
        .get("profiles")
        .and_then(|p| p.as_sequence())
        .map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    rec(ck, "instance profiles", profiles.join(" "), &format!("default {idmap} {profile}"));

    // host side
    rec(ck, "ZFS dataset exists", dataset_exists(&format!("{fsroot}/{inst}")).to_string(), "true");
    rec(ck, "owner of the ZFS filesystem root", host_owner(Path::new(&fs_dir)), "1000:1000");
    rec(ck, "owner of device dir home", host_owner(&Path::new(&fs_dir).join("home")), "1000:1000");
    rec(ck, "owner of device dir etc", host_owner(&dir_fs.join("etc")), "1000:1000");
    rec(ck, "host copy of home/marker", host_read(&Path::new(&fs_dir).join("home/marker")), "tpl-home\n");
    rec(
        ck,
        "template data kept",
        host_read(Path::new(&format!("/{fsroot}/{tpl}/home/marker"))),
        "tpl-home\n",
    );
    // README: device-owner is for "new filesystem roots and device
    // directories"; a directory filesystem's root is a filesystem root
    // (the original lxdops chowns it too).
    rec(ck, "owner of the directory filesystem root", host_owner(&dir_fs), "1000:1000");

    // destroy --force: both destroy:true filesystems go (ZFS and directory);
    // the template's filesystems and the standalone device's dir stay
    lx.must(mode, "destroy", &["--force", "-n", &inst, b_s]);
    rec(ck, "after destroy: status", status(&inst), "absent");
    rec(ck, "after destroy: profile exists", profile_exists(&profile).to_string(), "false");
    rec(
        ck,
        "after destroy: ZFS dataset exists",
        dataset_exists(&format!("{fsroot}/{inst}")).to_string(),
        "false",
    );
    rec(ck, "after destroy: directory filesystem exists", dir_fs.exists().to_string(), "false");
    rec(
        ck,
        "after destroy: template dataset exists",
        dataset_exists(&format!("{fsroot}/{tpl}")).to_string(),
        "true",
    );
    rec(
        ck,
        "after destroy: template dir fs exists",
        dirs.join(&tpl).join("etc/marker").exists().to_string(),
        "true",
    );
    rec(ck, "after destroy: shared dir kept", host_read(&shared.join("readme")), "shared data\n");
    rec(ck, "after destroy: template status", status(&tpl), "STOPPED");

    normalize(
        &state,
        &[
            (b_s, "CONFIG_B"),
            (&base.display().to_string(), "BASE"),
            (&fsroot, "FSROOT"),
            (&tpl, "TPL"),
            (&inst, "INST"),
        ],
    )
}

// ---------------------------------------------------------------------------
// 2. delete keeps data, destroy removes destroy:true filesystems

#[test]
fn delete_keeps_data_destroy_removes_it() {
    let test = "delete_keeps_data_destroy_removes_it";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let idmap = idmap_profile(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        states.push(delete_scenario(&t, &lx, &idmap, mode, &mut ck));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

fn delete_scenario(t: &Real, lx: &Lx, idmap: &str, mode: Mode, ck: &mut Checks) -> Vec<String> {
    let m = mode.tag();
    let inst = lxops_instance(t, &format!("{m}-c"));
    let root = format!("{}/{}", t.bench.zpool, t.name(&format!("{m}-fs")));
    t.register(Resource::Dataset(root.clone()));
    let cfg = lx.write(
        &format!("{m}/c.yaml"),
        &format!(
            "#lxops-v1
ostype: alpine
image: tiny
profiles: [default, {idmap}]
device-owner: 1000:1000
filesystems:
  data:
    pattern: {root}/data/(instance)
    destroy: true
  keep:
    pattern: {root}/keep/(instance)
devices:
  home:
    path: /home/user
    filesystem: data
  keep:
    path: /srv/keep
    filesystem: keep
"
        ),
    );
    let cfg = cfg.to_str().unwrap();
    let data_ds = format!("{root}/data/{inst}");
    let keep_ds = format!("{root}/keep/{inst}");
    let args = ["-n", inst.as_str(), cfg];
    let launch_args = ["--no-wait-network", "-n", inst.as_str(), cfg];
    let profile = format!("{inst}.lxops");
    let mut state = Vec::new();
    let mut rec = |ck: &mut Checks, what: &str, actual: String, expected: &str| {
        ck.eq(format!("{mode:?}: {what}"), &actual, expected);
        state.push(format!("{what} = {actual:?}"));
    };

    lx.must(mode, "launch", &launch_args);
    wait_booted(&inst, BOOT);
    Exec::as_user(1000, 1000)
        .run(&inst, &["sh", "-c", "echo data-1 > /home/user/d && echo keep-1 > /srv/keep/k"]);

    // a running instance: delete refuses, exit 1, nothing changed
    let r = lx.apply(mode, "delete", &args);
    rec(ck, "delete of a running instance: exit status", r.status.to_string(), "1");
    ck.ok(
        format!("{mode:?}: delete of a running instance names the problem"),
        r.stderr.contains("is running"),
        format!("stderr: {}", r.stderr),
    );
    rec(ck, "after refused delete: status", status(&inst), "RUNNING");
    rec(ck, "after refused delete: profile exists", profile_exists(&profile).to_string(), "true");

    // stopped: delete removes the instance and the profile, keeps the data
    cli(&["stop", &inst]);
    lx.must(mode, "delete", &args);
    rec(ck, "after delete: status", status(&inst), "absent");
    rec(ck, "after delete: profile exists", profile_exists(&profile).to_string(), "false");
    rec(ck, "after delete: destroy:true dataset exists", dataset_exists(&data_ds).to_string(), "true");
    rec(ck, "after delete: kept dataset exists", dataset_exists(&keep_ds).to_string(), "true");
    rec(ck, "after delete: data on host", host_read(Path::new(&format!("/{data_ds}/home/d"))), "data-1\n");
    rec(ck, "after delete: keep on host", host_read(Path::new(&format!("/{keep_ds}/keep/k"))), "keep-1\n");

    // launch again: the new container finds the data
    lx.must(mode, "launch", &launch_args);
    wait_booted(&inst, BOOT);
    rec(ck, "relaunch: status", status(&inst), "RUNNING");
    rec(ck, "relaunch: home data", guest_user(&inst, &["cat", "/home/user/d"]), "data-1\n");
    rec(ck, "relaunch: keep data", guest_user(&inst, &["cat", "/srv/keep/k"]), "keep-1\n");

    // destroy --force: stops, deletes, destroys only the destroy:true filesystem
    let mut dargs = vec!["--force"];
    dargs.extend_from_slice(&args);
    lx.must(mode, "destroy", &dargs);
    rec(ck, "after destroy: status", status(&inst), "absent");
    rec(ck, "after destroy: profile exists", profile_exists(&profile).to_string(), "false");
    rec(ck, "after destroy: destroy:true dataset exists", dataset_exists(&data_ds).to_string(), "false");
    rec(ck, "after destroy: kept dataset exists", dataset_exists(&keep_ds).to_string(), "true");
    rec(ck, "after destroy: keep on host", host_read(Path::new(&format!("/{keep_ds}/keep/k"))), "keep-1\n");
    // the kept dataset: removed by the test
    zfs(&["destroy", "-r", &keep_ds]);

    normalize(&state, &[(&root, "ROOT"), (&inst, "INST")])
}

// ---------------------------------------------------------------------------
// 3. configure (issue 5): the cloud-config subset, applied twice

const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx1lxopsTESTKEYxxxxxxxxxxxxxxxxxxxxxxxxxxxx alice@lxt";
const NORMAL: &str = "he said \"hi\" & 'bye': $(id -u) `uname` $HOME ${PATH} \\n 100%\n";
const APPENDED: &str = "appended $(touch /tmp/pwned) line\n";

fn cloud_config() -> String {
    format!(
        r#"#cloud-config
write_files:
- path: /etc/lxt/normal.txt
  content: |
    {normal}
- path: /etc/lxt/secret
  permissions: '0600'
  owner: user:user
  content: "top secret\n"
- path: /home/alice/notes.txt
  defer: true
  owner: alice:alice
  content: "deferred for alice\n"
- path: /etc/lxt/normal.txt
  append: true
  content: "{appended}"
- path: /etc/lxt/blob.bin
  encoding: b64
  content: AAEC/2x4b3BzCg==
packages:
- sudo
- doas
- bash
users:
- name: alice
  uid: 2001
  groups: wheel, adm
  sudo: true
  ssh_authorized_keys:
  - {key}
- name: bob
  groups:
  - adm
timezone: Europe/Athens
runcmd:
- echo "script ran as $(id -u)" > /var/lxt-runcmd-script
- [mkdir, -p, /var/lxt argv dir]
"#,
        normal = NORMAL.trim_end(),
        appended = APPENDED.replace('\n', "\\n"),
        key = SSH_KEY
    )
}

#[test]
fn configure_applies_cloud_config_and_is_rerunnable() {
    let test = "configure_applies_cloud_config_and_is_rerunnable";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        states.push(configure_scenario(&t, &lx, mode, &mut ck));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

/// Everything the cloud-config should have done; `runs` = times applied.
fn cloud_config_effects(c: &str, runs: usize, rec: &mut dyn FnMut(&str, String, &str)) {
    rec("normal.txt", guest(c, &["cat", "/etc/lxt/normal.txt"]), &format!("{NORMAL}{APPENDED}"));
    rec(
        "normal.txt mode/owner",
        guest(c, &["stat", "-c", "%a %U:%G", "/etc/lxt/normal.txt"]),
        "644 root:root\n",
    );
    rec(
        "no command substitution of appended content",
        exec_status(c, &["test", "-e", "/tmp/pwned"]).ok().to_string(),
        "false",
    );
    rec("secret", guest(c, &["cat", "/etc/lxt/secret"]), "top secret\n");
    rec("secret mode/owner", guest(c, &["stat", "-c", "%a %U:%G", "/etc/lxt/secret"]), "600 user:user\n");
    rec("deferred file", guest(c, &["cat", "/home/alice/notes.txt"]), "deferred for alice\n");
    rec("deferred file owner", guest(c, &["stat", "-c", "%U:%G", "/home/alice/notes.txt"]), "alice:alice\n");
    rec(
        "b64 file",
        guest(c, &["od", "-An", "-tx1", "/etc/lxt/blob.bin"]),
        " 00 01 02 ff 6c 78 6f 70 73 0a\n",
    );
    rec("packages", guest(c, &["cat", "/var/log/apk-installed"]), &"sudo doas bash\n".repeat(runs));
    let passwd = guest(c, &["cat", "/etc/passwd"]);
    let alice: Vec<&str> = passwd.lines().filter(|l| l.starts_with("alice:")).collect();
    rec("alice lines in /etc/passwd", alice.len().to_string(), "1");
    let alice = alice.first().copied().unwrap_or("");
    let f: Vec<&str> = alice.split(':').collect();
    rec(
        "alice uid/home",
        format!("{} {}", f.get(2).unwrap_or(&""), f.get(5).unwrap_or(&"")),
        "2001 /home/alice",
    );
    let bob = passwd.lines().filter(|l| l.starts_with("bob:")).count();
    rec("bob lines in /etc/passwd", bob.to_string(), "1");
    let groups = |u: &str| {
        let mut g: Vec<String> = guest(c, &["id", "-nG", u]).split_whitespace().map(str::to_string).collect();
        g.sort();
        g.join(" ")
    };
    rec("alice groups", groups("alice"), "adm alice wheel");
    rec("bob groups", groups("bob"), "adm bob");
    let group = guest(c, &["cat", "/etc/group"]);
    let wheel = group.lines().find(|l| l.starts_with("wheel:")).unwrap_or("").to_string();
    rec("wheel line", wheel, "wheel:x:10:root,alice");
    let shadow = guest(c, &["cat", "/etc/shadow"]);
    let pw = shadow.lines().find(|l| l.starts_with("alice:")).and_then(|l| l.split(':').nth(1)).unwrap_or("");
    rec("alice password field (unlocked for ssh keys)", pw.to_string(), "*");
    rec("sudoers.d/alice", guest(c, &["cat", "/etc/sudoers.d/alice"]), "alice ALL=(ALL) NOPASSWD:ALL\n");
    rec("sudoers.d/alice mode", guest(c, &["stat", "-c", "%a", "/etc/sudoers.d/alice"]), "600\n");
    rec("doas.d/alice.conf", guest(c, &["cat", "/etc/doas.d/alice.conf"]), "permit nopass alice\n");
    rec("doas.d/alice.conf mode", guest(c, &["stat", "-c", "%a", "/etc/doas.d/alice.conf"]), "600\n");
    rec(".ssh mode/owner", guest(c, &["stat", "-c", "%a %U:%G", "/home/alice/.ssh"]), "700 alice:alice\n");
    rec(
        "authorized_keys mode/owner",
        guest(c, &["stat", "-c", "%a %U:%G", "/home/alice/.ssh/authorized_keys"]),
        "600 alice:alice\n",
    );
    rec("timezone", guest(c, &["cat", "/etc/timezone"]), "Europe/Athens\n");
    rec("runcmd script", guest(c, &["cat", "/var/lxt-runcmd-script"]), "script ran as 0\n");
    rec(
        "runcmd argv (one argument with a space)",
        exec_status(c, &["test", "-d", "/var/lxt argv dir"]).ok().to_string(),
        "true",
    );
    rec("runcmd argv not split", exec_status(c, &["test", "-e", "/var/lxt"]).ok().to_string(), "false");
}

fn configure_scenario(t: &Real, lx: &Lx, mode: Mode, ck: &mut Checks) -> Vec<String> {
    let m = mode.tag();
    let inst = lxops_instance(t, &format!("{m}-cc"));
    lx.write(&format!("{m}/user.cfg"), &cloud_config());
    let cfg = lx.write(
        &format!("{m}/cc.yaml"),
        "#lxops-v1\nostype: alpine\nimage: tiny\ncloud-config-files:\n- user.cfg\n",
    );
    let cfg = cfg.to_str().unwrap();
    let args = ["--no-wait-network", "-n", inst.as_str(), cfg];
    let mut state = Vec::new();
    let mut rec = |what: &str, actual: String, expected: &str| {
        ck.eq(format!("{mode:?}: {what}"), &actual, expected);
        state.push(format!("{what} = {actual:?}"));
    };

    lx.must(mode, "launch", &args);
    rec("status after launch", status(&inst), "RUNNING");
    cloud_config_effects(&inst, 1, &mut |w, a, e| rec(&format!("launch: {w}"), a, e));
    let keys = guest(&inst, &["cat", "/home/alice/.ssh/authorized_keys"]);
    rec("launch: authorized_keys", keys, &format!("{SSH_KEY}\n"));

    // a key the user added by hand must survive a second configure
    exec(&inst, &["sh", "-c", "echo 'ssh-rsa AAAAhand added@hand' >> /home/alice/.ssh/authorized_keys"]);
    lx.must(mode, "configure", &args);
    cloud_config_effects(&inst, 2, &mut |w, a, e| rec(&format!("rerun: {w}"), a, e));
    let keys = guest(&inst, &["cat", "/home/alice/.ssh/authorized_keys"]);
    rec("rerun: authorized_keys unchanged", keys, &format!("{SSH_KEY}\nssh-rsa AAAAhand added@hand\n"));

    normalize(&state, &[(&inst, "INST")])
}

// ---------------------------------------------------------------------------
// 4. debian-mini

#[test]
fn debian_mini_configure() {
    let test = "debian_mini_configure";
    let t = Real::start(test);
    t.bench.require_debian_mini();
    let lx = Lx::new(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        let m = mode.tag();
        let inst = lxops_instance(&t, &format!("{m}-deb"));
        lx.write(
            &format!("{m}/deb.cfg"),
            "#cloud-config\npackages: [curl, jq]\nusers:\n- name: carol\n  uid: 1600\n  groups: [adm, users]\n",
        );
        let cfg = lx.write(
            &format!("{m}/deb.yaml"),
            "#lxops-v1\nostype: debian\nimage: debian-mini\ncloud-config-files:\n- deb.cfg\n",
        );
        let args = ["--no-wait-network", "-n", inst.as_str(), cfg.to_str().unwrap()];
        lx.must(mode, "launch", &args);
        let mut state = Vec::new();
        let mut rec = |what: &str, actual: String, expected: &str| {
            ck.eq(format!("{mode:?}: {what}"), &actual, expected);
            state.push(format!("{what} = {actual:?}"));
        };
        rec("status", status(&inst), "RUNNING");
        rec("apt-get recorder", guest(&inst, &["cat", "/var/log/apt-get-installed"]), "curl jq\n");
        rec("carol uid", guest(&inst, &["id", "-u", "carol"]), "1600\n");
        let mut g: Vec<String> =
            guest(&inst, &["id", "-nG", "carol"]).split_whitespace().map(str::to_string).collect();
        g.sort();
        rec("carol groups", g.join(" "), "adm carol users");
        rec("carol home owner", guest(&inst, &["stat", "-c", "%U:%G", "/home/carol"]), "carol:carol\n");
        states.push(normalize(&state, &[(&inst, "INST")]));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

// ---------------------------------------------------------------------------
// 5. launch waits for the network (the bench's default profile: a NIC on a
//    DHCP bridge; the tiny image runs udhcpc)

#[test]
fn launch_waits_for_network() {
    let test = "launch_waits_for_network";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        let m = mode.tag();
        let inst = lxops_instance(&t, &format!("{m}-net"));
        let cfg = lx.write(&format!("{m}/net.yaml"), "#lxops-v1\nostype: alpine\nimage: tiny\n");
        lx.must(mode, "launch", &["--wait-network", "60", "-n", &inst, cfg.to_str().unwrap()]);
        // no sleep: the address must be there when lxops returns
        let list = cli(&["list", "-f", "csv", "-c", "n4"]);
        let line = list.lines().find(|l| l.split(',').next() == Some(inst.as_str())).unwrap_or("");
        let has_ip = line.split_once(',').is_some_and(|(_, v)| v.contains('.'));
        let mut state = Vec::new();
        ck.ok(format!("{mode:?}: IPv4 address after launch"), has_ip, format!("list line {line:?}"));
        state.push(format!("has IPv4 = {has_ip}"));
        let st = status(&inst);
        ck.eq(format!("{mode:?}: status"), &st, "RUNNING");
        state.push(format!("status = {st}"));
        states.push(state);
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}
