//! `origin`: launching an instance by copying another one (an instance
//! snapshot, a live instance, an instance in another project) instead of
//! creating it from an image.
//!
//! Like the other lxops real tests, each scenario runs through `--execute`
//! and through the rendered script run with bash, and both must leave the
//! same end state.

use super::lxops::{
    BOOT, Checks, Lx, MODES, Mode, assert_same_end_state, guest, lxops_instance, normalize, profile_exists,
    status,
};
use super::{PREFIX, Real, Resource, Run, cli, cli_status, exec, wait_booted};
use std::sync::Once;
use std::time::{Duration, Instant};

/// `snapshot NAME SNAP` (LXD 5.0) or `snapshot create NAME SNAP` (Incus),
/// in `project` when given.
fn snapshot(t: &Real, project: Option<&str>, instance: &str, snap: &str) {
    let mut args: Vec<&str> = Vec::new();
    if let Some(p) = project {
        args.extend(["--project", p]);
    }
    args.push("snapshot");
    if t.bench.is_incus() {
        args.push("create");
    }
    args.extend([instance, snap]);
    cli(&args);
}

/// The instance's own profile list (`config show`), space separated.
fn instance_profiles(project: Option<&str>, name: &str) -> String {
    let mut args: Vec<&str> = Vec::new();
    if let Some(p) = project {
        args.extend(["--project", p]);
    }
    args.extend(["config", "show", name]);
    let conf: serde_yaml::Value = serde_yaml::from_str(&cli(&args)).expect("config show prints YAML");
    conf.get("profiles")
        .and_then(|p| p.as_sequence())
        .map(|s| s.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The number of snapshots of an instance (the `S` column of `list`).
fn snapshot_count(name: &str) -> String {
    let out = cli(&["list", "-f", "csv", "-c", "nS"]);
    out.lines()
        .find_map(|l| {
            let mut f = l.split(',');
            (f.next() == Some(name)).then(|| f.next().unwrap_or("").to_string())
        })
        .unwrap_or_else(|| "absent".to_string())
}

/// `<cli> monitor --type=lifecycle` writing to a file, to see what happened
/// in which order. A sentinel profile, created and deleted, proves the
/// monitor is listening (at start) and that it has caught up (at the end).
struct Monitor {
    child: std::process::Child,
    file: std::path::PathBuf,
    sentinel: String,
}

impl Monitor {
    fn start(t: &Real, lx: &Lx, tag: &str) -> Monitor {
        let file = lx.root.join(format!("monitor-{tag}.yaml"));
        let out = std::fs::File::create(&file).expect("create the monitor file");
        let child = t
            .bench
            .command(&t.bench.cli)
            .args(["monitor", "--type=lifecycle"])
            .stdout(out)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the lifecycle monitor");
        let mut m = Monitor { child, file, sentinel: t.name(&format!("{tag}-sentinel")) };
        m.sync();
        m
    }

    /// Creates and deletes the sentinel profile until the monitor has seen it.
    fn sync(&mut self) {
        let start = Instant::now();
        let seen = format!("/1.0/profiles/{}", self.sentinel);
        let before = self.events().len();
        while start.elapsed() < Duration::from_secs(10) {
            let _ = cli_status(&["profile", "create", &self.sentinel]);
            let _ = cli_status(&["profile", "delete", &self.sentinel]);
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(50));
                if self.events()[before.min(self.events().len())..].iter().any(|(_, src, _)| *src == seen) {
                    return;
                }
            }
        }
        panic!("the lifecycle monitor saw nothing within 10 s ({})", self.file.display());
    }

    /// (action, source, project) of every event so far, sentinel included.
    fn events(&self) -> Vec<(String, String, String)> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        let mut v = Vec::new();
        let (mut action, mut source, mut project) = (String::new(), String::new(), String::new());
        for l in text.lines().chain(std::iter::once("")) {
            if let Some(a) = l.strip_prefix("  action: ") {
                action = a.trim().to_string();
            } else if let Some(s) = l.strip_prefix("  source: ") {
                source = s.trim().to_string();
            } else if let Some(p) = l.strip_prefix("project: ") {
                project = p.trim().to_string();
            } else if l.trim().is_empty() && !action.is_empty() {
                v.push((
                    std::mem::take(&mut action),
                    std::mem::take(&mut source),
                    std::mem::take(&mut project),
                ));
            }
        }
        v
    }

    /// Stops the monitor after it has caught up; returns the events without the sentinel's.
    fn finish(mut self) -> Vec<(String, String, String)> {
        self.sync();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let sentinel = format!("/1.0/profiles/{}", self.sentinel);
        self.events().into_iter().filter(|(_, s, _)| *s != sentinel).collect()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = cli_status(&["profile", "delete", &self.sentinel]);
    }
}

fn output(r: &Run) -> String {
    format!("{}{}", r.stdout, r.stderr)
}

// ---------------------------------------------------------------------------
// 1. origin in the same project: an instance snapshot, and a whole instance

#[test]
fn launch_from_origin_snapshot() {
    let test = "launch_from_origin_snapshot";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        states.push(same_project_scenario(&t, &lx, mode, &mut ck));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

fn same_project_scenario(t: &Real, lx: &Lx, mode: Mode, ck: &mut Checks) -> Vec<String> {
    let m = mode.tag();
    // the template: launched with the CLI, a marker, a snapshot, then a
    // second marker that only the live instance has
    let tpl = t.launch("tiny", &format!("{m}-tpl"), &[]);
    exec(&tpl, &["sh", "-c", "echo origin marker > /root/lxt-marker"]);
    snapshot(t, None, &tpl, "copy");
    exec(&tpl, &["sh", "-c", "echo later > /root/lxt-after-snapshot"]);

    let snap_inst = lxops_instance(t, &format!("{m}-snap"));
    let whole_inst = lxops_instance(t, &format!("{m}-whole"));
    let snap_cfg =
        lx.write(&format!("{m}/snap.yaml"), &format!("#lxops-v1\norigin: {tpl}/copy\nprofiles: [default]\n"));
    let whole_cfg =
        lx.write(&format!("{m}/whole.yaml"), &format!("#lxops-v1\norigin: {tpl}\nprofiles: [default]\n"));

    let mut state = Vec::new();
    let mut rec = |ck: &mut Checks, what: &str, actual: String, expected: &str| {
        ck.eq(format!("{mode:?}: {what}"), &actual, expected);
        state.push(format!("{what} = {actual:?}"));
    };

    // origin: TPL/copy
    let r = lx.must(mode, "launch", &["--no-wait-network", "-n", &snap_inst, snap_cfg.to_str().unwrap()]);
    ck.ok(
        format!("{mode:?}: snapshot origin: no placeholder profiles within one project"),
        !output(&r).contains("placeholder"),
        format!("output:\n{}", output(&r)),
    );
    wait_booted(&snap_inst, BOOT);
    rec(ck, "snapshot origin: status", status(&snap_inst), "RUNNING");
    rec(ck, "snapshot origin: marker", guest(&snap_inst, &["cat", "/root/lxt-marker"]), "origin marker\n");
    rec(
        ck,
        "snapshot origin: file written after the snapshot is absent",
        super::exec_status(&snap_inst, &["test", "-e", "/root/lxt-after-snapshot"]).ok().to_string(),
        "false",
    );
    rec(
        ck,
        "snapshot origin: profiles",
        instance_profiles(None, &snap_inst),
        &format!("default {snap_inst}.lxops"),
    );
    rec(
        ck,
        "snapshot origin: instance profile exists",
        profile_exists(&format!("{snap_inst}.lxops")).to_string(),
        "true",
    );
    rec(ck, "snapshot origin: snapshots of the copy", snapshot_count(&snap_inst), "0");

    // origin: TPL (the whole instance, --instance-only)
    lx.must(mode, "launch", &["--no-wait-network", "-n", &whole_inst, whole_cfg.to_str().unwrap()]);
    wait_booted(&whole_inst, BOOT);
    rec(ck, "instance origin: status", status(&whole_inst), "RUNNING");
    rec(ck, "instance origin: marker", guest(&whole_inst, &["cat", "/root/lxt-marker"]), "origin marker\n");
    rec(
        ck,
        "instance origin: file written after the snapshot",
        guest(&whole_inst, &["cat", "/root/lxt-after-snapshot"]),
        "later\n",
    );
    rec(
        ck,
        "instance origin: profiles",
        instance_profiles(None, &whole_inst),
        &format!("default {whole_inst}.lxops"),
    );
    rec(ck, "instance origin: snapshots of the copy (--instance-only)", snapshot_count(&whole_inst), "0");

    // the origin is untouched
    rec(ck, "origin: status", status(&tpl), "RUNNING");
    rec(ck, "origin: snapshots", snapshot_count(&tpl), "1");

    normalize(&state, &[(&tpl, "TPL"), (&snap_inst, "SNAP"), (&whole_inst, "WHOLE")])
}

// ---------------------------------------------------------------------------
// 2. origin in another project: placeholder profiles

/// A project made by a test; dropping it deletes its instances, profiles,
/// images and the project itself (panics included).
struct Project {
    name: String,
}

static PROJECT_PRECLEAN: Once = Once::new();

impl Project {
    /// Creates project `name` with its own profiles and the default project's
    /// images, and gives its `default` profile a root disk on the `default`
    /// pool and a NIC on the bench bridge.
    fn create(t: &Real, name: &str) -> Project {
        PROJECT_PRECLEAN.call_once(|| {
            let r = cli_status(&["project", "list", "-f", "csv"]);
            for l in r.stdout.lines() {
                let n = l.split(',').next().unwrap_or("").trim();
                // `list` marks the current project: "default (current)"
                if n.starts_with(PREFIX) && !n.contains(' ') {
                    eprintln!("[real] pre-clean: removing leftover project {n}");
                    drop(Project { name: n.to_string() });
                }
            }
        });
        let p = Project { name: name.to_string() };
        cli(&["project", "create", name, "-c", "features.profiles=true", "-c", "features.images=false"]);
        cli(&[
            "--project",
            name,
            "profile",
            "device",
            "add",
            "default",
            "root",
            "disk",
            "path=/",
            "pool=default",
        ]);
        let nic = format!("network={}", t.bench.bridge);
        cli(&["--project", name, "profile", "device", "add", "default", "eth0", "nic", &nic, "name=eth0"]);
        p
    }

    fn cli(&self, args: &[&str]) -> String {
        let mut a = vec!["--project", self.name.as_str()];
        a.extend_from_slice(args);
        cli(&a)
    }

    fn cli_status(&self, args: &[&str]) -> Run {
        let mut a = vec!["--project", self.name.as_str()];
        a.extend_from_slice(args);
        cli_status(&a)
    }

    fn wait_booted(&self, instance: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            let r = self.cli_status(&["exec", instance, "--", "test", "-e", "/run/booted"]);
            if r.ok() {
                return;
            }
            if start.elapsed() > timeout {
                panic!(
                    "{instance} (project {}): /run/booted did not appear within {timeout:?}: {r:?}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn names(&self, args: &[&str]) -> Vec<String> {
        let r = self.cli_status(args);
        r.stdout.lines().filter_map(|l| l.split(',').next()).map(|s| s.trim().to_string()).collect()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let mut errors = Vec::new();
        for n in self.names(&["list", "-f", "csv", "-c", "n"]) {
            let r = self.cli_status(&["delete", "-f", &n]);
            if !r.ok() {
                errors.push(format!("delete {n}: {}", r.stderr.trim()));
            }
        }
        for n in self.names(&["profile", "list", "-f", "csv"]) {
            if n != "default" && !n.is_empty() {
                let r = self.cli_status(&["profile", "delete", &n]);
                if !r.ok() {
                    errors.push(format!("profile delete {n}: {}", r.stderr.trim()));
                }
            }
        }
        // features.images=false: the project has no images of its own; this
        // is for a project made otherwise (or by an earlier version of this test)
        let own_images = self
            .cli_status(&["project", "get", &self.name, "features.images"])
            .stdout
            .trim()
            .eq_ignore_ascii_case("true");
        if own_images {
            for f in self.names(&["image", "list", "-f", "csv", "-c", "f"]) {
                if !f.is_empty() {
                    let _ = self.cli_status(&["image", "delete", &f]);
                }
            }
        }
        let r = cli_status(&["project", "delete", &self.name]);
        if !r.ok() {
            errors.push(format!("project delete: {}", r.stderr.trim()));
        }
        if !errors.is_empty() {
            let msg = format!("[real] cleanup of project {} failed:\n  {}", self.name, errors.join("\n  "));
            if std::thread::panicking() {
                eprintln!("{msg}");
            } else {
                panic!("{msg}");
            }
        }
    }
}

#[test]
fn launch_from_origin_in_another_project() {
    let test = "launch_from_origin_in_another_project";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        states.push(other_project_scenario(&t, &lx, mode, &mut ck));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

fn other_project_scenario(t: &Real, lx: &Lx, mode: Mode, ck: &mut Checks) -> Vec<String> {
    let m = mode.tag();
    let proj = Project::create(t, &t.name(&format!("{m}-proj")));
    let pn = proj.name.clone();
    // a profile the source has in its project and the default project lacks
    let extra = t.name(&format!("{m}-extra"));
    // should a placeholder survive, the guard deletes it from the default project
    t.register(Resource::Profile(extra.clone()));
    proj.cli(&["profile", "create", &extra]);
    proj.cli(&["profile", "set", &extra, "user.lxt-extra", "yes"]);
    let src = t.name(&format!("{m}-src"));
    proj.cli(&["launch", "-q", "tiny", &src, "-p", "default", "-p", &extra]);
    proj.wait_booted(&src, BOOT);
    proj.cli(&["exec", &src, "--", "sh", "-c", "echo from another project > /root/lxt-marker"]);
    snapshot(t, Some(&pn), &src, "copy");

    let inst = lxops_instance(t, &format!("{m}-x"));
    let cfg = lx
        .write(&format!("{m}/x.yaml"), &format!("#lxops-v1\norigin: {pn}_{src}/copy\nprofiles: [default]\n"));

    let mut state = Vec::new();
    let mut rec = |ck: &mut Checks, what: &str, actual: String, expected: &str| {
        ck.eq(format!("{mode:?}: {what}"), &actual, expected);
        state.push(format!("{what} = {actual:?}"));
    };
    rec(ck, "before: profile exists in the default project", profile_exists(&extra).to_string(), "false");

    let monitor = Monitor::start(t, lx, m);
    let r = lx.must(mode, "launch", &["--no-wait-network", "-n", &inst, cfg.to_str().unwrap()]);
    let events = monitor.finish();
    // the order of what the server saw: placeholder created (in the default
    // project), instance created there by the copy, placeholder deleted
    let placeholder = format!("/1.0/profiles/{extra}");
    let copied = format!("/1.0/instances/{inst}");
    let seen: Vec<String> = events
        .iter()
        .filter(|(a, s, _)| *s == placeholder || (*s == copied && a == "instance-created"))
        .map(|(a, _, p)| format!("{a} in {p}"))
        .collect();
    rec(
        ck,
        "server events (placeholder and copy)",
        seen.join(", "),
        "profile-created in default, instance-created in default, profile-deleted in default",
    );
    let out = output(&r);
    // both modes print the source's profiles as read, and name a placeholder
    // they could not delete ("(failed: P)" / "failed: P")
    ck.ok(
        format!("{mode:?}: the source's profiles were read"),
        out.contains(&extra),
        format!("output does not mention {extra}:\n{out}"),
    );
    ck.ok(
        format!("{mode:?}: no placeholder deletion failed"),
        !out.contains(&format!("failed: {extra}")),
        format!("output:\n{out}"),
    );
    wait_booted(&inst, BOOT);
    rec(ck, "status", status(&inst), "RUNNING");
    rec(ck, "marker", guest(&inst, &["cat", "/root/lxt-marker"]), "from another project\n");
    rec(ck, "profiles", instance_profiles(None, &inst), &format!("default {inst}.lxops"));
    rec(ck, "placeholder left in the default project", profile_exists(&extra).to_string(), "false");
    rec(ck, "instance profile exists", profile_exists(&format!("{inst}.lxops")).to_string(), "true");
    // the source is untouched
    rec(ck, "source profiles", instance_profiles(Some(&pn), &src), &format!("default {extra}"));
    let src_list = proj.cli(&["list", "-f", "csv", "-c", "ns"]);
    rec(ck, "source status", src_list.trim().to_string(), &format!("{src},RUNNING"));
    drop(proj);
    rec(
        ck,
        "project removed by the guard",
        cli(&["project", "list", "-f", "csv"])
            .lines()
            .any(|l| l.split(',').next() == Some(pn.as_str()))
            .to_string(),
        "false",
    );

    normalize(&state, &[(&pn, "PROJECT"), (&extra, "EXTRA"), (&src, "SRC"), (&inst, "INST")])
}
