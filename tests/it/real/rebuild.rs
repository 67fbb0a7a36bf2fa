//! Real tests of `lxops rebuild` (recreate mode with fallback and rollback,
//! the flags, `--native`) and `lxops rename`, plus a downtime measurement.
//!
//! Same style as `lxops.rs` (whose helpers this reuses): every scenario runs
//! through `--execute` and through the rendered script (`bash FILE --yes`),
//! end-state checks are collected, and both modes must leave the same end
//! state once the per-mode names are replaced by placeholders.
//!
//! "The new OS" is an image published from a `tiny` container with a marker
//! file `/etc/lxt-os` containing `v2`; `tiny` itself has no such file.

use super::lxops::{
    BOOT, Checks, Lx, MODES, Mode, assert_same_end_state, dataset_exists, guest, guest_user, host_read,
    idmap_profile, lxops_instance, normalize, profile_exists, profile_show, status, yaml_str,
};
use super::{Exec, Real, Resource, cli, exec, exec_status, wait_booted, zfs};
use std::path::Path;
use std::time::{Duration, Instant};

const NET: &str = "60";
/// The marker file of the v2 image.
const OS_MARKER: &str = "/etc/lxt-os";
/// A file written into the old instance's root filesystem by hand: only the
/// very same (old) instance has it.
const OLD_MARKER: &str = "/etc/lxt-old-instance";

/// Publishes "the new OS": `tiny` plus `/etc/lxt-os` = `v2`, as the image
/// alias `<prefix>-v2` (registered for cleanup).
fn v2_image(t: &Real) -> String {
    let alias = t.name("v2");
    t.register(Resource::Image(alias.clone()));
    let mk = t.launch("tiny", "mkv2", &[]);
    exec(&mk, &["sh", "-c", &format!("echo v2 > {OS_MARKER}")]);
    cli(&["stop", &mk]);
    cli(&["publish", "-q", &mk, "--alias", &alias]);
    cli(&["delete", &mk]);
    alias
}

/// The first IPv4 address of `name` in `list -f csv -c n4`, waiting up to
/// `timeout` for one; `<none>` if none came.
fn wait_ipv4(name: &str, timeout: Duration) -> String {
    let start = Instant::now();
    loop {
        let out = cli(&["list", "-f", "csv", "-c", "n4"]);
        let ip = out.lines().find(|l| l.split(',').next() == Some(name)).and_then(|l| {
            l.split_once(',').and_then(|(_, rest)| {
                rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .find(|w| w.split('.').count() == 4 && w.split('.').all(|o| o.parse::<u8>().is_ok()))
                    .map(str::to_string)
            })
        });
        if let Some(ip) = ip {
            return ip;
        }
        if start.elapsed() > timeout {
            return "<none>".to_string();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn mac(name: &str) -> String {
    let r = super::cli_status(&["config", "get", name, "volatile.eth0.hwaddr"]);
    if r.ok() { r.stdout.trim().to_string() } else { format!("<{}>", r.stderr.trim()) }
}

/// The instance's own profile list (`config show`).
fn instance_profiles(name: &str) -> Vec<String> {
    let conf: serde_yaml::Value = serde_yaml::from_str(&cli(&["config", "show", name])).expect("YAML");
    conf.get("profiles")
        .and_then(|p| p.as_sequence())
        .map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Names of the instances whose name starts with `base` (the instance, its
/// fallback, anything else a rebuild might have left).
fn instances_like(base: &str) -> Vec<String> {
    let mut v: Vec<String> = cli(&["list", "-f", "csv", "-c", "n"])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|n| n.starts_with(base))
        .collect();
    v.sort();
    v
}

/// Snapshot names (after `@`) of `ds` made by lxops rebuild.
fn rebuild_snapshots(ds: &str) -> Vec<String> {
    zfs(&["list", "-H", "-t", "snapshot", "-o", "name", "-d", "1", ds])
        .lines()
        .filter_map(|l| l.trim().strip_prefix(&format!("{ds}@")).map(str::to_string))
        .filter(|s| s.starts_with("lxops-rebuild-"))
        .collect()
}

/// The `downtime NAME: X.XX s` value on stderr, if printed.
fn downtime(stderr: &str, name: &str) -> Option<f64> {
    let head = format!("downtime {name}: ");
    stderr.lines().find_map(|l| l.strip_prefix(&head)?.strip_suffix(" s")?.trim().parse().ok())
}

/// One rebuild test instance: launched by lxops from `tiny` with a ZFS
/// `home` device and a cloud-config file, data written by uid 1000, a hand
/// marker in its root filesystem and an extra, hand-added profile.
struct Fixture {
    inst: String,
    /// The dataset root (registered), the instance's dataset is `<root>/<inst>`.
    root: String,
    ds: String,
    /// Configs: `tiny` + good cloud-config, v2 image + good, v2 image + failing.
    tiny_cfg: String,
    v2_cfg: String,
    bad_cfg: String,
    ip: String,
    mac: String,
    profiles: Vec<String>,
}

fn config(idmap: &str, root: &str, image: &str, cc: &str) -> String {
    format!(
        "#lxops-v1
ostype: alpine
image: {image}
profiles:
- default
- {idmap}
device-owner: 1000:1000
filesystems:
  data:
    pattern: {root}/(instance)
devices:
  home:
    path: /home/user
    filesystem: data
cloud-config-files:
- {cc}
"
    )
}

fn fixture(t: &Real, lx: &Lx, idmap: &str, extra: Option<&str>, v2: &str, tag: &str) -> Fixture {
    let inst = lxops_instance(t, tag);
    t.register(Resource::Instance(format!("{inst}-lxops-fallback")));
    let root = format!("{}/{}", t.bench.zpool, t.name(&format!("{tag}-fs")));
    t.register(Resource::Dataset(root.clone()));
    lx.write(
        &format!("{tag}/user.cfg"),
        "#cloud-config\nwrite_files:\n- path: /etc/lxt-configured\n  content: \"configured\\n\"\n",
    );
    lx.write(&format!("{tag}/bad.cfg"), "#cloud-config\nruncmd:\n- [sh, -c, \"exit 1\"]\n");
    let w = |name: &str, image: &str, cc: &str| {
        lx.write(&format!("{tag}/{name}.yaml"), &config(idmap, &root, image, cc)).display().to_string()
    };
    let tiny_cfg = w("tiny", "tiny", "user.cfg");
    let v2_cfg = w("v2", v2, "user.cfg");
    let bad_cfg = w("bad", v2, "bad.cfg");
    lx.must(Mode::Execute, "launch", &["--wait-network", NET, "-n", &inst, &tiny_cfg]);
    wait_booted(&inst, BOOT);
    Exec::as_user(1000, 1000).run(&inst, &["sh", "-c", "echo data-1 > /home/user/d"]);
    exec(&inst, &["sh", "-c", &format!("echo old > {OLD_MARKER}")]);
    if let Some(p) = extra {
        cli(&["profile", "add", &inst, p]);
    }
    let ip = wait_ipv4(&inst, Duration::from_secs(60));
    let mac = mac(&inst);
    let profiles = instance_profiles(&inst);
    let ds = format!("{root}/{inst}");
    Fixture { inst, root, ds, tiny_cfg, v2_cfg, bad_cfg, ip, mac, profiles }
}

/// Records `what = actual` (normalised later) and checks it.
struct Rec<'a> {
    mode: Mode,
    ck: &'a mut Checks,
    state: Vec<String>,
}

impl Rec<'_> {
    fn eq(&mut self, what: &str, actual: impl Into<String>, expected: &str) {
        let actual = actual.into();
        self.ck.eq(format!("{:?}: {what}", self.mode), &actual, expected);
        self.state.push(format!("{what} = {actual:?}"));
    }
    fn ok(&mut self, what: &str, cond: bool, detail: impl std::fmt::Display) {
        self.ck.ok(format!("{:?}: {what}", self.mode), cond, detail);
        self.state.push(format!("{what} = {cond}"));
    }
}

// ---------------------------------------------------------------------------
// 1. rebuild keeps data, IP, MAC and profiles

#[test]
fn rebuild_keeps_data_ip_mac_profiles() {
    let test = "rebuild_keeps_data_ip_mac_profiles";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let idmap = idmap_profile(&t);
    let extra = t.profile("extra");
    let v2 = v2_image(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    let mut downtimes = Vec::new();
    for mode in MODES {
        let f = fixture(&t, &lx, &idmap, Some(&extra), &v2, &format!("{}-rb", mode.tag()));
        let mut r = Rec { mode, ck: &mut ck, state: Vec::new() };
        r.eq(
            "old instance: no v2 marker",
            guest(&f.inst, &["cat", OS_MARKER]).starts_with("<exit").to_string(),
            "true",
        );
        r.ok("old instance has an IPv4 address", f.ip != "<none>", &f.ip);
        let before = rebuild_snapshots(&f.ds).len();

        let run = lx.must(mode, "rebuild", &["--wait-network", NET, "-n", &f.inst, &f.v2_cfg]);
        let dt = downtime(&run.stderr, &f.inst);
        eprintln!("[real]   {mode:?} rebuild downtime {}: {dt:?} s", f.inst);
        downtimes.push((mode, dt));
        r.ok("stderr has a downtime line", dt.is_some(), format!("stderr:\n{}", run.stderr));
        // no sleep: the address must be there when lxops returns
        let ip_now = wait_ipv4(&f.inst, Duration::ZERO);
        r.eq("status", status(&f.inst), "RUNNING");
        r.eq("new OS marker", guest(&f.inst, &["cat", OS_MARKER]), "v2\n");
        r.eq(
            "hand marker of the old root filesystem is gone",
            exec_status(&f.inst, &["test", "-e", OLD_MARKER]).ok().to_string(),
            "false",
        );
        r.eq("cloud-config applied", guest(&f.inst, &["cat", "/etc/lxt-configured"]), "configured\n");
        r.eq("data (as uid 1000)", guest_user(&f.inst, &["cat", "/home/user/d"]), "data-1\n");
        r.eq(
            "uid 1000 can still write its home",
            Exec::as_user(1000, 1000)
                .status(&f.inst, &["sh", "-c", "echo 2 > /home/user/e"])
                .ok()
                .to_string(),
            "true",
        );
        r.eq("IPv4 address kept (at once)", &ip_now, &f.ip);
        r.eq("MAC kept", mac(&f.inst), &f.mac);
        r.eq(
            "profiles kept (incl. the hand-added one)",
            instance_profiles(&f.inst).join(" "),
            &f.profiles.join(" "),
        );
        r.eq("profiles before", f.profiles.join(" "), &format!("default {idmap} {}.lxops {extra}", f.inst));
        let snaps = rebuild_snapshots(&f.ds);
        r.eq("one more lxops-rebuild snapshot", (snaps.len() - before).to_string(), "1");
        r.eq("instances left", instances_like(&f.inst).join(" "), &f.inst);
        r.eq(
            "instance profile still exists",
            profile_exists(&format!("{}.lxops", f.inst)).to_string(),
            "true",
        );
        r.eq("data on the host", host_read(Path::new(&format!("/{}/home/d", f.ds))), "data-1\n");
        states.push(normalize(
            &r.state,
            &[(&f.inst, "INST"), (&f.ip, "IP"), (&f.mac, "MAC"), (&f.root, "ROOT")],
        ));
    }
    for (mode, dt) in &downtimes {
        eprintln!("[real] {test}: {} {mode:?}: downtime {dt:?} s", t.bench.backend);
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

// ---------------------------------------------------------------------------
// 2. a failing configuration rolls back to the old instance

#[test]
fn rebuild_failure_restores_the_old_instance() {
    let test = "rebuild_failure_restores_the_old_instance";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let idmap = idmap_profile(&t);
    let extra = t.profile("extra");
    let v2 = v2_image(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        let f = fixture(&t, &lx, &idmap, Some(&extra), &v2, &format!("{}-fail", mode.tag()));
        let mut r = Rec { mode, ck: &mut ck, state: Vec::new() };
        let before = rebuild_snapshots(&f.ds).len();

        let run = lx.apply(mode, "rebuild", &["--wait-network", NET, "-n", &f.inst, &f.bad_cfg]);
        r.eq("exit status", run.status.to_string(), "1");
        r.ok(
            "stderr says the instance is back on its old instance",
            run.stderr.contains(&format!("{} is back on its old instance", f.inst)),
            format!("stderr:\n{}", run.stderr),
        );
        r.ok(
            "stderr names the snapshot taken",
            run.stderr.contains(&format!("{}@lxops-rebuild-", f.ds)),
            format!("stderr:\n{}", run.stderr),
        );
        r.ok("no downtime line on failure", downtime(&run.stderr, &f.inst).is_none(), &run.stderr);
        r.eq("status", status(&f.inst), "RUNNING");
        r.eq("instances left", instances_like(&f.inst).join(" "), &f.inst);
        wait_booted(&f.inst, BOOT);
        r.eq("the very old instance (hand marker)", guest(&f.inst, &["cat", OLD_MARKER]), "old\n");
        r.eq(
            "old OS (no v2 marker)",
            exec_status(&f.inst, &["test", "-e", OS_MARKER]).ok().to_string(),
            "false",
        );
        r.eq("data (as uid 1000)", guest_user(&f.inst, &["cat", "/home/user/d"]), "data-1\n");
        r.eq("MAC restored", mac(&f.inst), &f.mac);
        r.eq("IPv4 address", wait_ipv4(&f.inst, Duration::from_secs(60)), &f.ip);
        r.eq("profiles", instance_profiles(&f.inst).join(" "), &f.profiles.join(" "));
        r.eq("snapshot kept", (rebuild_snapshots(&f.ds).len() - before).to_string(), "1");
        r.eq("instance profile exists", profile_exists(&format!("{}.lxops", f.inst)).to_string(), "true");

        // and a good rebuild afterwards works (nothing left in the way)
        lx.must(mode, "rebuild", &["--wait-network", NET, "-n", &f.inst, &f.v2_cfg]);
        r.eq("after a good rebuild: new OS", guest(&f.inst, &["cat", OS_MARKER]), "v2\n");
        r.eq("after a good rebuild: data", guest_user(&f.inst, &["cat", "/home/user/d"]), "data-1\n");
        r.eq("after a good rebuild: MAC", mac(&f.inst), &f.mac);
        r.eq("after a good rebuild: instances", instances_like(&f.inst).join(" "), &f.inst);
        states.push(normalize(
            &r.state,
            &[(&f.inst, "INST"), (&f.ip, "IP"), (&f.mac, "MAC"), (&f.root, "ROOT")],
        ));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

// ---------------------------------------------------------------------------
// 3. --skip-profiles --skip-ip --no-snapshot

#[test]
fn rebuild_flags() {
    let test = "rebuild_flags";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let idmap = idmap_profile(&t);
    let extra = t.profile("extra");
    let v2 = v2_image(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        let f = fixture(&t, &lx, &idmap, Some(&extra), &v2, &format!("{}-flags", mode.tag()));
        let mut r = Rec { mode, ck: &mut ck, state: Vec::new() };
        let before = rebuild_snapshots(&f.ds);
        let args = [
            "--skip-profiles",
            "--skip-ip",
            "--no-snapshot",
            "--wait-network",
            NET,
            "-n",
            &f.inst,
            &f.v2_cfg,
        ];
        let run = lx.must(mode, "rebuild", &args);
        r.ok("downtime line", downtime(&run.stderr, &f.inst).is_some(), &run.stderr);
        r.eq("status", status(&f.inst), "RUNNING");
        r.eq("new OS", guest(&f.inst, &["cat", OS_MARKER]), "v2\n");
        r.eq("data", guest_user(&f.inst, &["cat", "/home/user/d"]), "data-1\n");
        r.eq("cloud-config applied", guest(&f.inst, &["cat", "/etc/lxt-configured"]), "configured\n");
        r.eq(
            "profiles are the config's (hand-added one dropped)",
            instance_profiles(&f.inst).join(" "),
            &format!("default {idmap} {}.lxops", f.inst),
        );
        r.eq("no new snapshot", rebuild_snapshots(&f.ds).join(" "), &before.join(" "));
        r.eq("instances left", instances_like(&f.inst).join(" "), &f.inst);
        r.ok("an IPv4 address (at once)", wait_ipv4(&f.inst, Duration::ZERO) != "<none>", "none");
        let m = mac(&f.inst);
        eprintln!("[real]   {mode:?} --skip-ip: MAC {} -> {m}", f.mac);
        states.push(normalize(&r.state, &[(&f.inst, "INST"), (&f.root, "ROOT")]));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

// ---------------------------------------------------------------------------
// 4. --native: Incus rebuilds in place; LXD 5.0 has no rebuild

#[test]
fn native_rebuild() {
    let test = "native_rebuild";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let idmap = idmap_profile(&t);
    let v2 = v2_image(&t);
    let incus = t.bench.is_incus();
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        let f = fixture(&t, &lx, &idmap, None, &v2, &format!("{}-nat", mode.tag()));
        let mut r = Rec { mode, ck: &mut ck, state: Vec::new() };
        let before = rebuild_snapshots(&f.ds).len();
        let run = lx.apply(mode, "rebuild", &["--native", "--wait-network", NET, "-n", &f.inst, &f.v2_cfg]);
        if incus {
            r.eq("exit status", run.status.to_string(), "0");
            if !run.ok() {
                eprintln!("{mode:?} native rebuild stderr:\n{}", run.stderr);
            }
            r.ok("downtime line", downtime(&run.stderr, &f.inst).is_some(), &run.stderr);
            r.eq("status", status(&f.inst), "RUNNING");
            r.eq("new OS", guest(&f.inst, &["cat", OS_MARKER]), "v2\n");
            r.eq(
                "old root filesystem replaced",
                exec_status(&f.inst, &["test", "-e", OLD_MARKER]).ok().to_string(),
                "false",
            );
            r.eq("cloud-config applied", guest(&f.inst, &["cat", "/etc/lxt-configured"]), "configured\n");
            r.eq("data", guest_user(&f.inst, &["cat", "/home/user/d"]), "data-1\n");
            r.eq("MAC kept", mac(&f.inst), &f.mac);
            r.eq("IPv4 address", wait_ipv4(&f.inst, Duration::from_secs(60)), &f.ip);
            r.eq("profiles kept", instance_profiles(&f.inst).join(" "), &f.profiles.join(" "));
            r.eq("snapshot made", (rebuild_snapshots(&f.ds).len() - before).to_string(), "1");
        } else {
            r.eq("exit status", run.status.to_string(), "1");
            r.ok(
                "preflight says the client has no rebuild",
                run.stderr.contains("`lxc rebuild` is not available")
                    && run.stderr.contains("preflight failed"),
                format!("stderr:\n{}", run.stderr),
            );
            r.eq("status", status(&f.inst), "RUNNING");
            r.eq("same instance (hand marker)", guest(&f.inst, &["cat", OLD_MARKER]), "old\n");
            r.eq("old OS", exec_status(&f.inst, &["test", "-e", OS_MARKER]).ok().to_string(), "false");
            r.eq("data", guest_user(&f.inst, &["cat", "/home/user/d"]), "data-1\n");
            r.eq("MAC", mac(&f.inst), &f.mac);
            r.eq("no snapshot made", (rebuild_snapshots(&f.ds).len() - before).to_string(), "0");
        }
        r.eq("instances left", instances_like(&f.inst).join(" "), &f.inst);
        states.push(normalize(
            &r.state,
            &[(&f.inst, "INST"), (&f.ip, "IP"), (&f.mac, "MAC"), (&f.root, "ROOT")],
        ));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

// ---------------------------------------------------------------------------
// 5. rename: instance, ZFS filesystem, directory filesystem, instance profile

#[test]
fn rename_moves_everything() {
    let test = "rename_moves_everything";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let idmap = idmap_profile(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        let m = mode.tag();
        let old = lxops_instance(&t, &format!("{m}-old"));
        let new = lxops_instance(&t, &format!("{m}-new"));
        let root = format!("{}/{}", t.bench.zpool, t.name(&format!("{m}-fs")));
        t.register(Resource::Dataset(root.clone()));
        let dirs = lx.root.join(m).join("dirs");
        let cfg = lx
            .write(
                &format!("{m}/ren.yaml"),
                &format!(
                    "#lxops-v1
ostype: alpine
image: tiny
profiles: [default, {idmap}]
device-owner: 1000:1000
filesystems:
  z:
    pattern: {root}/(instance)
  d:
    pattern: {dirs}/(instance)
devices:
  home:
    path: /home/user
    filesystem: z
  etc:
    path: /etc/opt
    filesystem: d
",
                    dirs = dirs.display()
                ),
            )
            .display()
            .to_string();
        let plain = lx
            .write(
                &format!("{m}/plain.yaml"),
                &format!("#lxops-v1\nostype: alpine\nimage: tiny\nprofiles: [default, {idmap}]\n"),
            )
            .display()
            .to_string();
        let mut r = Rec { mode, ck: &mut ck, state: Vec::new() };

        // with devices
        lx.must(Mode::Execute, "launch", &["--no-wait-network", "-n", &old, &cfg]);
        wait_booted(&old, BOOT);
        Exec::as_user(1000, 1000)
            .run(&old, &["sh", "-c", "echo zfs-data > /home/user/z && echo dir-data > /etc/opt/d"]);
        // a running instance: refused, nothing changed
        let run = lx.apply(mode, "rename", &["-n", &old, &cfg, &new]);
        r.eq("rename of a running instance: exit", run.status.to_string(), "1");
        r.eq("after refused rename: status", status(&old), "RUNNING");
        cli(&["stop", &old]);
        let run = lx.apply(mode, "rename", &["-n", &old, &cfg, &new]);
        r.eq("rename: exit", run.status.to_string(), "0");
        if !run.ok() {
            eprintln!("{mode:?} rename stderr:\n{}", run.stderr);
        }
        r.eq("old instance", status(&old), "absent");
        r.eq("new instance", status(&new), "STOPPED");
        r.eq("old dataset exists", dataset_exists(&format!("{root}/{old}")).to_string(), "false");
        r.eq("new dataset exists", dataset_exists(&format!("{root}/{new}")).to_string(), "true");
        r.eq("old directory exists", dirs.join(&old).exists().to_string(), "false");
        r.eq("new directory: data", host_read(&dirs.join(&new).join("etc/d")), "dir-data\n");
        r.eq("new dataset: data", host_read(Path::new(&format!("/{root}/{new}/home/z"))), "zfs-data\n");
        let (op, np) = (format!("{old}.lxops"), format!("{new}.lxops"));
        r.eq("old profile exists", profile_exists(&op).to_string(), "false");
        r.eq("new profile exists", profile_exists(&np).to_string(), "true");
        let p = profile_show(&np);
        r.eq(
            "new profile: home source",
            yaml_str(&p, &["devices", "home", "source"]),
            &format!("/{root}/{new}/home"),
        );
        r.eq(
            "new profile: etc source",
            yaml_str(&p, &["devices", "etc", "source"]),
            &dirs.join(&new).join("etc").display().to_string(),
        );
        r.eq("new profile: home path", yaml_str(&p, &["devices", "home", "path"]), "/home/user");
        r.eq("instance profiles", instance_profiles(&new).join(" "), &format!("default {idmap} {np}"));
        cli(&["start", &new]);
        wait_booted(&new, BOOT);
        r.eq("started: zfs data", guest_user(&new, &["cat", "/home/user/z"]), "zfs-data\n");
        r.eq("started: dir data", guest_user(&new, &["cat", "/etc/opt/d"]), "dir-data\n");
        r.eq(
            "started: uid 1000 can write",
            Exec::as_user(1000, 1000).status(&new, &["sh", "-c", "echo x > /home/user/x"]).ok().to_string(),
            "true",
        );

        // without devices
        let (pold, pnew) = (lxops_instance(&t, &format!("{m}-p1")), lxops_instance(&t, &format!("{m}-p2")));
        lx.must(Mode::Execute, "launch", &["--no-wait-network", "-n", &pold, &plain]);
        cli(&["stop", &pold]);
        let run = lx.apply(mode, "rename", &["-n", &pold, &plain, &pnew]);
        r.eq("plain rename: exit", run.status.to_string(), "0");
        if !run.ok() {
            eprintln!("{mode:?} plain rename stderr:\n{}", run.stderr);
        }
        r.eq("plain: old instance", status(&pold), "absent");
        r.eq("plain: new instance", status(&pnew), "STOPPED");
        r.eq("plain: old profile exists", profile_exists(&format!("{pold}.lxops")).to_string(), "false");
        r.eq("plain: new profile exists", profile_exists(&format!("{pnew}.lxops")).to_string(), "true");
        r.eq(
            "plain: instance profiles",
            instance_profiles(&pnew).join(" "),
            &format!("default {idmap} {pnew}.lxops"),
        );
        cli(&["start", &pnew]);
        wait_booted(&pnew, BOOT);
        r.eq("plain: starts", status(&pnew), "RUNNING");

        states.push(normalize(
            &r.state,
            &[
                (&old, "OLD"),
                (&new, "NEW"),
                (&pold, "POLD"),
                (&pnew, "PNEW"),
                (&root, "ROOT"),
                (&dirs.display().to_string(), "DIRS"),
            ],
        ));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

// ---------------------------------------------------------------------------
// 6. downtime of lxops rebuild vs a bare stop + delete + launch

#[test]
fn rebuild_downtime_vs_bare_relaunch() {
    let test = "rebuild_downtime_vs_bare_relaunch";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let idmap = idmap_profile(&t);
    let v2 = v2_image(&t);
    let f = fixture(&t, &lx, &idmap, None, &v2, "dt");
    let be = &t.bench.backend;
    let mut figures = Vec::new();
    for (mode, cfg) in [(Mode::Execute, &f.v2_cfg), (Mode::Script, &f.tiny_cfg)] {
        let start = Instant::now();
        let run = lx.must(mode, "rebuild", &["--wait-network", NET, "-n", &f.inst, cfg]);
        let total = start.elapsed().as_secs_f64();
        let dt = downtime(&run.stderr, &f.inst);
        assert!(dt.is_some(), "{mode:?}: no downtime line on stderr:\n{}", run.stderr);
        figures.push(format!(
            "lxops rebuild ({mode:?}): printed downtime {:.2} s (stop .. start done), whole run {total:.2} s \
             (incl. network wait, configure, fallback delete)",
            dt.unwrap()
        ));
        // 1 s apart: the snapshot names have a one-second resolution
        std::thread::sleep(Duration::from_millis(1100));
    }
    // bare: stop + delete + launch (+ wait for an IPv4 address), same profiles
    let profiles = instance_profiles(&f.inst);
    let t0 = Instant::now();
    cli(&["stop", &f.inst]);
    cli(&["delete", &f.inst]);
    let mut args = vec!["launch".to_string(), "-q".into(), "tiny".into(), f.inst.clone()];
    for p in &profiles {
        args.extend(["-p".to_string(), p.clone()]);
    }
    cli(&args);
    let started = t0.elapsed().as_secs_f64();
    let ip = wait_ipv4(&f.inst, Duration::from_secs(60));
    let with_ip = t0.elapsed().as_secs_f64();
    assert_ne!(ip, "<none>", "bare relaunch: no IPv4 address within 60 s");
    figures.push(format!(
        "bare stop+delete+launch: {started:.2} s to started, {with_ip:.2} s to IPv4 ({ip}; old {})",
        f.ip
    ));
    assert_eq!(guest_user(&f.inst, &["cat", "/home/user/d"]), "data-1\n", "bare relaunch: data");
    for l in &figures {
        eprintln!("[real] DOWNTIME {be}: {l}");
    }
    // loose sanity only
    for l in &figures {
        let secs: Vec<f64> = l.split_whitespace().filter_map(|w| w.parse::<f64>().ok()).collect();
        assert!(secs.iter().all(|s| *s < 60.0), "{l}");
    }
}
