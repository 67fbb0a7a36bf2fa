//! Failures and interruptions on the real bench. A shim in front of the
//! real `incus`/`lxc` fails one chosen call (or makes one slow, so that a
//! signal lands in the middle of it); after it:
//! - rebuild (a failure after the stop, after the create, SIGTERM during the
//!   new instance's start) puts the old instance back: running, its data,
//!   MAC and IP address, profiles and its instance profile as they were;
//!   a rebuild afterwards works;
//! - rename puts the name, the filesystem and the profile back; renaming
//!   again works;
//! - launch, run again, carries on to a configured instance that `diff`
//!   finds in sync.
//!
//! Every scenario runs through `--execute` and through the rendered script.

use super::lxops::{BOOT, Checks, Lx, MODES, Mode, guest, lxops_instance, profile_exists, status};
use super::{Real, Resource, Run, cli, cli_status, exec, wait_booted, zfs_status};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Writes the shim (an `incus` and an `lxc` in front of the real ones) and
/// returns its directory: `LXOPS_FAULT=TEXT` fails the `LXOPS_FAULT_NTH`th
/// (default first) call whose argv holds TEXT; `LXOPS_SLOW=TEXT` makes the
/// calls that hold TEXT wait 3 s first.
fn shim(lx: &Lx, t: &Real) -> PathBuf {
    let dir = lx.root.join("shim");
    std::fs::create_dir_all(&dir).unwrap();
    let real = super::run("sh", &["-c", &format!("command -v {}", t.bench.cli)]).trim().to_string();
    assert!(real.starts_with('/'), "the real {} is on PATH: {real:?}", t.bench.cli);
    let body = format!(
        r#"#!/bin/bash
# lxops fault shim for {real}
if [ -n "${{LXOPS_FAULT:-}}" ] && [[ " $* " == *"$LXOPS_FAULT"* ]]; then
  n=$(( $(cat "$LXOPS_FAULT_COUNT" 2>/dev/null || echo 0) + 1 ))
  echo "$n" >"$LXOPS_FAULT_COUNT"
  if [ "$n" = "${{LXOPS_FAULT_NTH:-1}}" ]; then echo "injected fault: $*" >&2; exit 1; fi
fi
if [ -n "${{LXOPS_SLOW:-}}" ] && [[ " $* " == *"$LXOPS_SLOW"* ]]; then sleep 3; fi
exec {real} "$@"
"#
    );
    let f = dir.join(&t.bench.cli);
    std::fs::write(&f, body).unwrap();
    super::run("chmod", &["755", f.to_str().unwrap()]);
    dir
}

/// Sets the shim's environment for the next runs (a fresh count).
fn arm(lx: &Lx, shim: &Path, fault: Option<&str>, slow: Option<&str>) {
    let count = lx.root.join("fault.count");
    let _ = std::fs::remove_file(&count);
    let mut env =
        vec![("PATH_PREFIX", shim.to_str().unwrap()), ("LXOPS_FAULT_COUNT", count.to_str().unwrap())];
    if let Some(f) = fault {
        env.push(("LXOPS_FAULT", f));
    }
    if let Some(s) = slow {
        env.push(("LXOPS_SLOW", s));
    }
    lx.set_env(&env);
}

/// Runs `command args` in `mode` and sends SIGTERM 0.5 s after `marker`
/// appears on its standard error.
fn interrupted(lx: &Lx, mode: Mode, command: &str, args: &[&str], marker: &str) -> Run {
    let err = lx.root.join(format!("interrupted-{}.err", mode.tag()));
    let mut child = lx.start(mode, command, args, &err);
    let started = Instant::now();
    let mut sent = false;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let stderr = std::fs::read_to_string(&err).unwrap_or_default();
            assert!(sent, "the run ended before {marker:?} showed: {stderr}");
            return Run { status: status.code().unwrap_or(-1), stdout: String::new(), stderr };
        }
        if !sent && std::fs::read_to_string(&err).unwrap_or_default().contains(marker) {
            std::thread::sleep(Duration::from_millis(500));
            super::run("kill", &["-TERM", &child.id().to_string()]);
            sent = true;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the run hangs");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn config(root: &str, image: &str, extra_device: bool, cc: &str) -> String {
    let extra = if extra_device { "  extra:\n    path: /srv/extra\n    filesystem: data\n" } else { "" };
    format!(
        "#lxops-v1
ostype: alpine
image: {image}
profiles: [default]
device-owner: 1000000:1000000
filesystems:
  data:
    pattern: {root}/(instance)
devices:
  home:
    path: /home/user
    filesystem: data
{extra}cloud-config-files: [{cc}]
"
    )
}

fn mac(name: &str) -> String {
    let r = cli_status(&["config", "get", name, "volatile.eth0.hwaddr"]);
    if r.ok() { r.stdout.trim().to_string() } else { format!("<{}>", r.stderr.trim()) }
}

/// The devices of a profile, as `profile show` prints them.
fn devices_of(profile: &str) -> String {
    let v: serde_yaml::Value = serde_yaml::from_str(&cli(&["profile", "show", profile])).unwrap();
    serde_yaml::to_string(&v["devices"]).unwrap()
}

fn instances_like(base: &str) -> String {
    let mut v: Vec<String> = cli(&["list", "-f", "csv", "-c", "n"])
        .lines()
        .map(str::to_string)
        .filter(|n| n.starts_with(base))
        .collect();
    v.sort();
    v.join(" ")
}

#[test]
fn rebuild_faults_and_interruptions_put_the_old_instance_back() {
    let test = "rebuild_faults_and_interruptions_put_the_old_instance_back";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let shim = shim(&lx, &t);
    let mut ck = Checks::default();
    lx.write("user.cfg", "#cloud-config\nwrite_files:\n- path: /etc/lxt-configured\n  content: \"yes\\n\"\n");
    for mode in MODES {
        let m = mode.tag();
        let inst = lxops_instance(&t, &format!("{m}-rb"));
        t.register(Resource::Instance(format!("{inst}-lxops-fallback")));
        let root = format!("{}/{}", t.bench.zpool, t.name(&format!("{m}-fs")));
        t.register(Resource::Dataset(root.clone()));
        let launch_cfg = lx.write(&format!("{m}/launch.yaml"), &config(&root, "tiny", false, "../user.cfg"));
        let rebuild_cfg = lx.write(&format!("{m}/rebuild.yaml"), &config(&root, "tiny", true, "../user.cfg"));
        let (launch_cfg, rebuild_cfg) = (launch_cfg.to_str().unwrap(), rebuild_cfg.to_str().unwrap());
        lx.set_env(&[]);
        lx.must(Mode::Execute, "launch", &["-n", &inst, launch_cfg]);
        wait_booted(&inst, BOOT);
        exec(&inst, &["sh", "-c", "echo data-1 > /home/user/d"]);
        exec(&inst, &["sh", "-c", "echo old > /etc/lxt-old"]);
        // The rebuild config has one more device (its directory must exist).
        let extra = Path::new("/").join(&root).join(&inst).join("extra");
        std::fs::create_dir_all(&extra).unwrap();
        let before = (mac(&inst), devices_of(&format!("{inst}.lxops")));
        let args = ["--wait-network", "60", "-n", inst.as_str(), rebuild_cfg];
        let fallback = format!("{inst}-lxops-fallback");
        let scenarios: Vec<(&str, Option<String>, Option<String>)> = vec![
            ("a failure after the stop", Some(format!(" rename {inst} {fallback} ")), None),
            // The new instance is created (with the old one's profiles) and
            // given its MACs before the stop.
            ("a failure after the create", Some(format!(" config set {inst}-lxops-new ")), None),
            ("SIGTERM during the start", None, Some(format!(" start {inst} "))),
        ];
        for (what, fault, slow) in scenarios {
            arm(&lx, &shim, fault.as_deref(), slow.as_deref());
            let r = match &slow {
                None => lx.apply(mode, "rebuild", &args),
                Some(_) => interrupted(&lx, mode, "rebuild", &args, &format!("start instance {inst}")),
            };
            let want = if slow.is_some() { "143" } else { "1" };
            ck.eq(format!("{mode:?}: {what}: exit status"), r.status.to_string(), want);
            ck.ok(
                format!("{mode:?}: {what}: says the old instance is back"),
                r.stderr.contains(&format!("{inst} is back on its old instance")),
                &r.stderr,
            );
            ck.eq(format!("{mode:?}: {what}: instances"), instances_like(&inst), inst.clone());
            ck.eq(format!("{mode:?}: {what}: status"), status(&inst), "RUNNING");
            wait_booted(&inst, BOOT);
            ck.eq(
                format!("{mode:?}: {what}: the old instance"),
                guest(&inst, &["cat", "/etc/lxt-old"]),
                "old\n",
            );
            ck.eq(format!("{mode:?}: {what}: data"), guest(&inst, &["cat", "/home/user/d"]), "data-1\n");
            ck.eq(format!("{mode:?}: {what}: MAC"), mac(&inst), before.0.clone());
            ck.eq(
                format!("{mode:?}: {what}: the instance profile as it was"),
                devices_of(&format!("{inst}.lxops")),
                before.1.clone(),
            );
        }
        // Nothing is left in the way: the rebuild, run again, goes through.
        arm(&lx, &shim, None, None);
        lx.must(mode, "rebuild", &args);
        wait_booted(&inst, BOOT);
        ck.eq(
            format!("{mode:?}: then a rebuild: the new instance"),
            guest(&inst, &["test", "-e", "/etc/lxt-old"]),
            "<exit 1: >",
        );
        ck.eq(format!("{mode:?}: then a rebuild: data"), guest(&inst, &["cat", "/home/user/d"]), "data-1\n");
        ck.eq(format!("{mode:?}: then a rebuild: MAC"), mac(&inst), before.0.clone());
        ck.ok(
            format!("{mode:?}: then a rebuild: the profile has the new device"),
            devices_of(&format!("{inst}.lxops")).contains("/srv/extra"),
            devices_of(&format!("{inst}.lxops")),
        );
    }
    lx.set_env(&[]);
    ck.finish(test);
}

#[test]
fn a_failed_rename_is_undone_and_a_failed_launch_carries_on() {
    let test = "a_failed_rename_is_undone_and_a_failed_launch_carries_on";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let shim = shim(&lx, &t);
    let mut ck = Checks::default();
    lx.write("user.cfg", "#cloud-config\nwrite_files:\n- path: /etc/lxt-configured\n  content: \"yes\\n\"\n");
    for mode in MODES {
        let m = mode.tag();
        let inst = lxops_instance(&t, &format!("{m}-rn"));
        let new = lxops_instance(&t, &format!("{m}-rn2"));
        let root = format!("{}/{}", t.bench.zpool, t.name(&format!("{m}-fs")));
        t.register(Resource::Dataset(root.clone()));
        let cfg = lx.write(&format!("{m}/c.yaml"), &config(&root, "tiny", false, "../user.cfg"));
        let cfg = cfg.to_str().unwrap();

        // launch: a failure during the configuration, then the same launch again
        arm(&lx, &shim, Some(" file push "), None);
        let r = lx.apply(mode, "launch", &["-n", &inst, cfg]);
        ck.eq(format!("{mode:?}: launch with a fault: exit status"), r.status.to_string(), "1");
        let marked = cli(&["config", "get", &inst, "user.lxops.launch"]);
        ck.eq(format!("{mode:?}: the instance is marked"), marked.trim(), "incomplete");
        let r = lx.lxops(&["diff", "-n", &inst, cfg]);
        ck.eq(format!("{mode:?}: diff sees the unfinished launch"), r.status.to_string(), "3");
        arm(&lx, &shim, None, None);
        lx.must(mode, "launch", &["-n", &inst, cfg]);
        wait_booted(&inst, BOOT);
        ck.eq(
            format!("{mode:?}: launch again: configured"),
            guest(&inst, &["cat", "/etc/lxt-configured"]),
            "yes\n",
        );
        ck.eq(
            format!("{mode:?}: launch again: the mark is gone"),
            cli(&["config", "get", &inst, "user.lxops.launch"]).trim(),
            "",
        );
        let r = lx.lxops(&["diff", "-n", &inst, cfg]);
        ck.eq(format!("{mode:?}: diff after the launch"), r.status.to_string(), "0");
        // and a launch of an instance that exists, unmarked, is still refused
        let r = lx.apply(mode, "launch", &["-n", &inst, cfg]);
        ck.eq(format!("{mode:?}: launching a launched instance"), r.status.to_string(), "1");

        // rename: a failure at the last step it can undo puts everything back
        cli(&["stop", &inst]);
        arm(&lx, &shim, Some(&format!(" profile assign {new} ")), None);
        let r = lx.apply(mode, "rename", &["-n", &inst, cfg, &new]);
        ck.eq(format!("{mode:?}: rename with a fault: exit status"), r.status.to_string(), "1");
        ck.eq(format!("{mode:?}: rename undone: instances"), instances_like(&inst), inst.clone());
        ck.eq(format!("{mode:?}: rename undone: no new instance"), status(&new), "absent");
        ck.ok(
            format!("{mode:?}: rename undone: the dataset"),
            zfs_status(&["list", &format!("{root}/{inst}")]).ok()
                && !zfs_status(&["list", &format!("{root}/{new}")]).ok(),
            "",
        );
        ck.ok(
            format!("{mode:?}: rename undone: the profiles"),
            profile_exists(&format!("{inst}.lxops")) && !profile_exists(&format!("{new}.lxops")),
            "",
        );
        arm(&lx, &shim, None, None);
        lx.must(mode, "rename", &["-n", &inst, cfg, &new]);
        ck.eq(format!("{mode:?}: rename again: the new name"), status(&new), "STOPPED");
        ck.ok(format!("{mode:?}: rename again: the profile"), profile_exists(&format!("{new}.lxops")), "");

        // destroy: a failure halfway, then the same destroy again finishes it
        let destroy_cfg = lx.write(
            &format!("{m}/d.yaml"),
            &config(&root, "tiny", false, "../user.cfg")
                .replace("    pattern: ", "    destroy: true\n    pattern: "),
        );
        let destroy_cfg = destroy_cfg.to_str().unwrap();
        arm(&lx, &shim, Some(&format!(" profile delete {new}.lxops ")), None);
        let r = lx.apply(mode, "destroy", &["-n", &new, destroy_cfg]);
        ck.eq(format!("{mode:?}: destroy with a fault: exit status"), r.status.to_string(), "1");
        arm(&lx, &shim, None, None);
        lx.must(mode, "destroy", &["-n", &new, destroy_cfg]);
        ck.eq(format!("{mode:?}: destroy again: the instance"), status(&new), "absent");
        ck.ok(format!("{mode:?}: destroy again: the profile"), !profile_exists(&format!("{new}.lxops")), "");
        ck.ok(
            format!("{mode:?}: destroy again: the dataset"),
            !zfs_status(&["list", &format!("{root}/{new}")]).ok(),
            "",
        );
    }
    lx.set_env(&[]);
    ck.finish(test);
}
