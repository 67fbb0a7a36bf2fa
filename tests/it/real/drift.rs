//! Drift on the real bench: launch, change things by hand, `lxops diff`
//! reports each change with its key and exit status 3, the plans it names
//! (`profile reorder|apply`, `create-profile`, `create-devices`) fix them,
//! and `diff` is clean again (exit 0). Profiles go out and back in with
//! `profile export|import`, and the instance utilities read the instance.
//! Every plan runs through `--execute` and through the rendered script.

use super::lxops::{BOOT, Checks, Lx, MODES, lxops_instance, profile_exists};
use super::{Real, Resource, cli, wait_booted};
use std::path::Path;

fn config(root: &str, dir: &Path, extra: &str) -> String {
    format!(
        "#lxops-v1
ostype: alpine
image: tiny
profiles: [default, {extra}]
lxc-options: [-c, user.lxops-test=1]
filesystems:
  data:
    pattern: {root}/(instance)
    destroy: true
  etc:
    pattern: {}/(instance)
    destroy: true
devices:
  home:
    path: /home/user
    filesystem: data
  etc:
    path: /srv/etc
    filesystem: etc
",
        dir.display()
    )
}

/// `(sign key)` of every difference `lxops diff --format json` reports, and its exit status.
fn drift(lx: &Lx, cfg: &str, name: &str) -> (i32, Vec<String>) {
    let r = lx.lxops(&["diff", "--format", "json", "-n", name, cfg]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("diff printed no JSON ({e}): {}{}", r.stdout, r.stderr));
    let mut keys: Vec<String> = v["instances"][0]["differences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| format!("{} {}", d["sign"].as_str().unwrap_or("?"), d["key"].as_str().unwrap_or("?")))
        .collect();
    keys.sort();
    (r.status, keys)
}

#[test]
fn diff_reports_hand_made_changes_and_the_plans_fix_them() {
    let test = "diff_reports_hand_made_changes_and_the_plans_fix_them";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let mut ck = Checks::default();
    for mode in MODES {
        let m = mode.tag();
        let inst = lxops_instance(&t, &format!("{m}-d"));
        let prof = format!("{inst}.lxops");
        let root = format!("{}/{}", t.bench.zpool, t.name(&format!("{m}-fs")));
        t.register(Resource::Dataset(root.clone()));
        let dir = lx.root.join(format!("{m}-dirs"));
        let extra = t.profile(&format!("{m}-extra"));
        let cfg = lx.write(&format!("{m}/c.yaml"), &config(&root, &dir, &extra));
        let cfg = cfg.to_str().unwrap();
        let n = ["-n", inst.as_str(), cfg];
        let with = |extra: &[&'static str]| -> Vec<&str> {
            extra.iter().copied().chain(n.iter().copied()).collect()
        };
        let expect = |ck: &mut Checks, what: &str, got: (i32, Vec<String>), status: i32, keys: &[&str]| {
            ck.eq(format!("{mode:?}: {what}: exit status"), got.0.to_string(), status.to_string());
            ck.eq(format!("{mode:?}: {what}: differences"), got.1.join(", "), keys.join(", "));
        };

        lx.must(mode, "launch", &with(&[]));
        wait_booted(&inst, BOOT);
        expect(&mut ck, "after launch", drift(&lx, cfg, &inst), 0, &[]);

        // by hand: another profile order, a device added, a device moved, its
        // old directory deleted, an option changed
        cli(&["profile", "assign", &inst, &format!("{prof},default,{extra}")]);
        cli(&["profile", "device", "add", &prof, "extra", "disk", "path=/mnt", "source=/tmp"]);
        let other = lx.root.join(format!("{m}-other"));
        std::fs::create_dir_all(&other).unwrap();
        cli(&["profile", "device", "set", &prof, "etc", &format!("source={}", other.display())]);
        std::fs::remove_dir_all(dir.join(&inst).join("etc")).unwrap();
        cli(&["config", "set", &inst, "user.lxops-test=2"]);
        expect(
            &mut ck,
            "after the changes",
            drift(&lx, cfg, &inst),
            3,
            &["+ devices.etc", "- devices.extra", "~ devices.etc", "~ lxc-options", "~ profiles"],
        );

        // the fixes diff names
        lx.must(mode, "profile reorder", &with(&[]));
        lx.must(mode, "create-devices", &with(&[]));
        lx.must(mode, "create-profile", &with(&[]));
        cli(&["config", "set", &inst, "user.lxops-test=1"]);
        expect(&mut ck, "after the fixes", drift(&lx, cfg, &inst), 0, &[]);

        // a profile removed by hand: profile apply puts it back
        cli(&["profile", "assign", &inst, &format!("default,{prof}")]);
        expect(&mut ck, "without the extra profile", drift(&lx, cfg, &inst), 3, &["+ profiles"]);
        lx.must(mode, "profile apply", &with(&[]));
        expect(&mut ck, "after profile apply", drift(&lx, cfg, &inst), 0, &[]);

        // profiles out and back in
        let out = lx.root.join(format!("{m}-profiles"));
        lx.must(mode, "profile export", &["-d", out.to_str().unwrap(), &prof]);
        let exported = std::fs::read_to_string(out.join(&prof)).unwrap_or_default();
        ck.ok(
            format!("{mode:?}: the export has the devices"),
            exported.contains("path: /srv/etc"),
            &exported,
        );
        cli(&["profile", "device", "add", &prof, "stray", "disk", "path=/mnt", "source=/tmp"]);
        let file = out.join(&prof);
        lx.must(mode, "profile import", &[file.to_str().unwrap()]);
        expect(&mut ck, "after re-importing the profile", drift(&lx, cfg, &inst), 0, &[]);
        let copy = t.name(&format!("{m}-copy"));
        t.register(Resource::Profile(copy.clone()));
        let copy_file = out.join(format!("{copy}.yaml"));
        std::fs::copy(&file, &copy_file).unwrap();
        lx.must(mode, "profile import", &[copy_file.to_str().unwrap()]);
        ck.ok(format!("{mode:?}: import creates a missing profile"), profile_exists(&copy), &copy);
        let shown = cli(&["profile", "show", &copy]);
        ck.ok(format!("{mode:?}: with the file's devices"), shown.contains("path: /srv/etc"), &shown);
        let r = lx.lxops(&["profile", "exists", &copy]);
        ck.eq(format!("{mode:?}: profile exists"), r.stdout, format!("{copy}\n"));

        // the instance utilities
        let r = lx.lxops(&["instance", "profiles", &inst]);
        ck.eq(format!("{mode:?}: instance profiles"), r.stdout, format!("default\n{extra}\n{prof}\n"));
        let r = lx.lxops(&["instance", "devices", &inst]);
        ck.ok(
            format!("{mode:?}: instance devices"),
            r.stdout.contains("/home/user") && r.stdout.contains("/srv/etc"),
            &r.stdout,
        );
        let r = lx.lxops(&["instance", "info", &inst]);
        ck.ok(format!("{mode:?}: instance info"), r.stdout.contains(&format!("name: {inst}")), &r.stdout);
        let r = lx.lxops(&["instance", "hwaddr"]);
        ck.ok(
            format!("{mode:?}: instance hwaddr"),
            r.stdout.lines().any(|l| l.ends_with(&format!("  {inst}")) && l.contains(':')),
            &r.stdout,
        );
        lx.must(mode, "instance wait", &["--wait-network", "60", &inst]);
        let r = lx.lxops(&["instance", "addresses"]);
        let addr =
            r.stdout.lines().find(|l| l.ends_with(&format!(",{inst}"))).unwrap_or_default().to_string();
        ck.ok(format!("{mode:?}: instance addresses"), addr.contains('.'), &r.stdout);
        let ports = lx.root.join(format!("{m}-ports.csv"));
        let r = lx.lxops(&[
            "instance",
            "number",
            "-f",
            ports.to_str().unwrap(),
            "--first",
            "2201",
            &inst,
            "other-1",
        ]);
        ck.eq(format!("{mode:?}: instance number"), r.stdout, format!("{inst},2201\nother-1,2202\n"));
        let r = lx.lxops(&["instance", "number", "-f", ports.to_str().unwrap(), "--clean", "other-1"]);
        ck.eq(
            format!("{mode:?}: instance number, again"),
            std::fs::read_to_string(&ports).unwrap_or_default(),
            "other-1,2202\n",
        );
        ck.ok(format!("{mode:?}: number exit"), r.ok(), &r.stderr);

        // gone: diff says so
        lx.must(mode, "destroy", &with(&["--force"]));
        expect(
            &mut ck,
            "after destroy",
            drift(&lx, cfg, &inst),
            3,
            &[
                "+ devices.etc",
                "+ devices.home",
                "+ filesystems.data",
                "+ filesystems.etc",
                "+ instance",
                "+ profile-pattern",
            ],
        );
    }
    ck.finish(test);
}
