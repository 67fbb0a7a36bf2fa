//! Images on the real bench: extract fills template directories from the
//! `tiny` image (a ZFS filesystem and a directory filesystem, owners shifted
//! by `device-owner` 1000000:1000000, the bench's id map for containers),
//! a second extract changes nothing, an instance launched with
//! `device-template` sees the data as its user's, publish makes images with
//! the config's properties (of a named snapshot, and of a running instance
//! without one), and `image instances` lists the instance. Each plan runs
//! through `--execute` and through the rendered script.

use super::data::tree;
use super::lxops::{
    BOOT, Checks, Lx, MODES, assert_same_end_state, guest, guest_user, lxops_instance, normalize,
};
use super::{Real, Resource, cli, cli_status, wait_booted};
use std::path::Path;

/// A config with a ZFS filesystem below `root` holding `/home` and a
/// directory filesystem below `dir` holding `/etc`; with `template`, new
/// device directories start from that instance's.
fn config(root: &str, dir: &Path, template: Option<&str>) -> String {
    let template = template.map(|t| format!("device-template: {t}\n")).unwrap_or_default();
    format!(
        "#lxops-v1
description: |
  A template with a home from the image.
  (second line)
ostype: alpine
image: tiny
{template}device-owner: 1000000:1000000
filesystems:
  host:
    pattern: {root}/(instance)
    destroy: true
  dirs:
    pattern: {}/(instance)
    destroy: true
devices:
  home:
    path: /home
    filesystem: host
  etc:
    path: /etc
    filesystem: dirs
",
        dir.display()
    )
}

/// Temporary instances and working directories extract left behind.
fn leftovers() -> (usize, usize) {
    let instances =
        cli(&["list", "-f", "csv", "-c", "n"]).lines().filter(|l| l.starts_with("extract-")).count();
    let dirs = std::fs::read_dir("/var/tmp")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("lxops-extract."))
                .count()
        })
        .unwrap_or(0);
    (instances, dirs)
}

/// The full fingerprint of an image.
fn fingerprint(image: &str) -> String {
    cli(&["image", "info", image])
        .lines()
        .find_map(|l| l.strip_prefix("Fingerprint: "))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `key: value` lines of `image info`'s properties, sorted.
fn image_properties(alias: &str) -> String {
    let info = cli(&["image", "info", alias]);
    let mut props: Vec<String> = Vec::new();
    let mut inside = false;
    for l in info.lines() {
        if l.starts_with("Properties:") {
            inside = true;
        } else if inside && l.starts_with("    ") {
            props.push(l.trim().to_string());
        } else if inside {
            inside = false;
        }
    }
    props.sort();
    props.join("\n")
}

#[test]
fn extract_launch_from_the_template_publish_and_list() {
    let test = "extract_launch_from_the_template_publish_and_list";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    let before = leftovers();
    for mode in MODES {
        let m = mode.tag();
        let tpl = lxops_instance(&t, &format!("{m}-tpl"));
        let app = lxops_instance(&t, &format!("{m}-app"));
        let root = format!("{}/{}", t.bench.zpool, t.name(&format!("{m}-fs")));
        t.register(Resource::Dataset(root.clone()));
        let dir = lx.root.join(format!("{m}-dirs"));
        let tpl_cfg = lx.write(&format!("{m}/tpl.yaml"), &config(&root, &dir, None));
        let app_cfg = lx.write(&format!("{m}/app.yaml"), &config(&root, &dir, Some(&tpl)));
        let (tpl_cfg, app_cfg) = (tpl_cfg.to_str().unwrap(), app_cfg.to_str().unwrap());
        let home = Path::new("/").join(format!("{root}/{tpl}/home"));
        let etc = dir.join(&tpl).join("etc");
        let mut state = Vec::new();
        let mut rec = |ck: &mut Checks, what: &str, actual: String, expected: &str| {
            ck.eq(format!("{mode:?}: {what}"), &actual, expected);
            state.push(format!("{what} = {actual:?}"));
        };

        // extract: the image's /home and /etc, owners shifted by 1000000
        lx.must(mode, "extract", &["-n", &tpl, tpl_cfg]);
        let home_tree = tree(&home);
        for (what, line) in [
            ("home/user", "user 1001000:1001000 755 d "),
            ("a private file", "user/.profile 1001000:1001000 600 f "),
            ("a set-user-ID file", "user/bin/tool 1001000:1001000 4755 f "),
            ("a symbolic link (its own owner)", "user/profile-link 1001000:1001000 777 l .profile"),
            ("another owner and group", "user/shared 1000000:1000010 644 f "),
        ] {
            ck.ok(format!("{mode:?}: extract: {what}"), home_tree.lines().any(|l| l == line), &home_tree);
        }
        let etc_tree = tree(&etc);
        ck.ok(
            format!("{mode:?}: extract: /etc/shadow in the directory filesystem"),
            etc_tree.lines().any(|l| l == "shadow 1000000:1000000 640 f "),
            &etc_tree,
        );
        rec(&mut ck, "the device directory root", super::lxops::host_owner(&home), "1000000:1000000");
        rec(&mut ck, "left behind after extract", format!("{:?}", leftovers()), &format!("{before:?}"));

        // a second extract changes nothing and creates no temporary instance
        let r = lx.must(mode, "extract", &["-n", &tpl, tpl_cfg]);
        rec(&mut ck, "second extract: home unchanged", (tree(&home) == home_tree).to_string(), "true");
        rec(&mut ck, "second extract: etc unchanged", (tree(&etc) == etc_tree).to_string(), "true");
        ck.ok(
            format!("{mode:?}: second extract makes no temporary instance"),
            r.stderr.contains("every device directory exists already") && !r.stderr.contains("Creating"),
            &r.stderr,
        );

        // launch from the template: the data belongs to the container's user
        lx.must(mode, "launch", &["--no-wait-network", "-n", &app, app_cfg]);
        wait_booted(&app, BOOT);
        rec(
            &mut ck,
            "in the container: owners and modes",
            guest(
                &app,
                &["stat", "-c", "%u:%g %a %n", "/home/user", "/home/user/.profile", "/home/user/bin/tool"],
            ),
            "1000:1000 755 /home/user\n1000:1000 600 /home/user/.profile\n1000:1000 4755 /home/user/bin/tool\n",
        );
        rec(
            &mut ck,
            "the user reads their private file",
            guest_user(&app, &["cat", "/home/user/.profile"]),
            "export PS1=tiny\n",
        );
        rec(
            &mut ck,
            "a group the container knows",
            guest(&app, &["stat", "-c", "%u:%g", "/home/user/shared"]),
            "0:10\n",
        );

        // publish a named snapshot, with the config's properties
        if t.bench.is_incus() {
            cli(&["snapshot", "create", &app, "s1"]);
        } else {
            cli(&["snapshot", &app, "s1"]);
        }
        let alias = t.name(&format!("{m}-img"));
        t.register(Resource::Image(alias.clone()));
        let app_s1 = format!("{app}/s1");
        lx.must(mode, "publish", &["-c", tpl_cfg, "--alias", &alias, "--serial", "20261202", &app_s1]);
        rec(
            &mut ck,
            "published image properties",
            image_properties(&alias),
            &format!(
                "architecture: amd64\ndescription: A template with a home from the image.\nname: {app}\nos: alpine\nrelease: 20261202\nserial: 20261202\nvariant: tpl"
            ),
        );
        // the alias is taken now: refused, unless --reuse
        let again = lx.apply(mode, "publish", &["--alias", &alias, &app_s1]);
        rec(&mut ck, "publishing onto a taken alias: exit status", again.status.to_string(), "1");
        ck.ok(
            format!("{mode:?}: the refusal names the alias"),
            again.stderr.contains("has the alias"),
            &again.stderr,
        );

        // --reuse takes the alias over; the old image stays, without it
        let old = fingerprint(&alias);
        t.register(Resource::Image(old.clone()));
        lx.must(mode, "publish", &["--alias", &alias, "--reuse", &app_s1]);
        let new = fingerprint(&alias);
        rec(
            &mut ck,
            "--reuse: the alias names a new image",
            (new != old && !new.is_empty()).to_string(),
            "true",
        );
        rec(
            &mut ck,
            "--reuse: the old image stays",
            cli_status(&["image", "info", &old]).ok().to_string(),
            "true",
        );
        rec(
            &mut ck,
            "--reuse: no alias left aside",
            cli(&["image", "alias", "list", "-f", "csv"]).contains("-lxops-replaced").to_string(),
            "false",
        );

        // a running instance without a snapshot: one is taken and deleted, it
        // keeps running (its root file system changes first: LXD refuses to
        // publish an image identical to one it has; /etc and /home are disk
        // devices here, so a write there would not change the image)
        super::exec(&app, &["sh", "-c", "echo changed > /lxt-publish"]);
        let running = t.name(&format!("{m}-run"));
        t.register(Resource::Image(running.clone()));
        lx.must(mode, "publish", &["--alias", &running, "--reuse", &app]);
        rec(&mut ck, "published while running: the instance", super::lxops::status(&app), "RUNNING");
        let snaps = cli(&["info", &app]);
        rec(
            &mut ck,
            "the snapshot taken for it is gone",
            snaps.contains("lxops-publish-").to_string(),
            "false",
        );
        rec(
            &mut ck,
            "the second image exists",
            cli_status(&["image", "info", &running]).ok().to_string(),
            "true",
        );

        // image instances lists the instance with its image
        let r = lx.lxops(&["image", "instances"]);
        ck.ok(
            format!("{mode:?}: image instances lists {app}"),
            r.ok()
                && r.stdout
                    .lines()
                    .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["tiny", app.as_str()]),
            format!("{}{}", r.stdout, r.stderr),
        );
        cli(&["delete", "-f", &app]);
        states.push(normalize(&state, &[(&root, "ROOT"), (&tpl, "TPL"), (&app, "APP")]));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

/// A device whose path the image lacks stops extract before any copy; the
/// temporary instance and directory are removed all the same.
#[test]
fn extract_refuses_a_path_the_image_lacks() {
    let test = "extract_refuses_a_path_the_image_lacks";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let mut ck = Checks::default();
    let before = leftovers();
    for mode in MODES {
        let m = mode.tag();
        let tpl = lxops_instance(&t, &format!("{m}-tpl"));
        let dir = lx.root.join(format!("{m}-dirs"));
        let cfg = format!(
            "#lxops-v1\nimage: tiny\nfilesystems:\n  dirs:\n    pattern: {}/(instance)\ndevices:\n  etc:\n    path: /etc\n    filesystem: dirs\n  opt:\n    path: /opt/none\n    filesystem: dirs\n",
            dir.display()
        );
        let cfg = lx.write(&format!("{m}/tpl.yaml"), &cfg);
        let r = lx.apply(mode, "extract", &["-n", &tpl, cfg.to_str().unwrap()]);
        ck.eq(format!("{mode:?}: exit status"), r.status.to_string(), "1");
        ck.ok(
            format!("{mode:?}: the error names the path"),
            r.stderr.contains("has no directory /opt/none (device opt"),
            &r.stderr,
        );
        ck.ok(format!("{mode:?}: nothing was copied"), !dir.join(&tpl).join("etc").exists(), "etc exists");
        ck.eq(format!("{mode:?}: left behind"), format!("{:?}", leftovers()), format!("{before:?}"));
    }
    ck.finish(test);
}
