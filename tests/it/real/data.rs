//! The data lifecycle on the real bench: snapshot, rollback, export,
//! import and copy-filesystems, each through `--execute` and through the
//! rendered script, checked by the end state (data in the container and on
//! the host, snapshots, owners, modes, links).

use super::lxops::{
    BOOT, Checks, Lx, MODES, assert_same_end_state, dataset_exists, guest_user, lxops_instance, normalize,
    status,
};
use super::{Exec, Real, Resource, cli, cli_status, run, wait_booted, zfs, zfs_status};
use std::path::Path;

/// A config whose `data` filesystem is a ZFS dataset below `root` and whose
/// `etc` filesystem is a directory below `dir`.
fn config(root: &str, dir: &Path, idmap: &str) -> String {
    format!(
        "#lxops-v1
ostype: alpine
image: tiny
profiles: [default, {idmap}]
device-owner: 1000:1000
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

fn snapshots(ds: &str) -> String {
    zfs(&["list", "-H", "-o", "name", "-t", "snapshot", "-s", "createtxg", "-r", ds])
        .replace(&format!("{ds}@"), "@")
}

fn instance_snapshot_exists(t: &Real, name: &str, snap: &str) -> bool {
    if t.bench.is_incus() {
        cli_status(&["snapshot", "show", name, snap]).ok()
    } else {
        cli_status(&["config", "show", &format!("{name}/{snap}")]).ok()
    }
}

#[test]
fn snapshot_then_rollback_restores_the_data() {
    let test = "snapshot_then_rollback_restores_the_data";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let idmap = super::lxops::idmap_profile(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        let m = mode.tag();
        let inst = lxops_instance(&t, &format!("{m}-r"));
        let root = format!("{}/{}", t.bench.zpool, t.name(&format!("{m}-fs")));
        t.register(Resource::Dataset(root.clone()));
        let dir = lx.root.join(format!("{m}-dirs"));
        let cfg = lx.write(&format!("{m}/c.yaml"), &config(&root, &dir, &idmap));
        let cfg = cfg.to_str().unwrap();
        let ds = format!("{root}/{inst}");
        let n = ["-n", inst.as_str(), cfg];
        let with = |extra: &[&'static str]| -> Vec<&str> {
            extra.iter().copied().chain(n.iter().copied()).collect()
        };
        let mut state = Vec::new();
        let mut rec = |ck: &mut Checks, what: &str, actual: String, expected: &str| {
            ck.eq(format!("{mode:?}: {what}"), &actual, expected);
            state.push(format!("{what} = {actual:?}"));
        };
        lx.must(mode, "launch", &with(&["--no-wait-network"]));
        wait_booted(&inst, BOOT);
        Exec::as_user(1000, 1000).run(&inst, &["sh", "-c", "echo one > /home/user/f"]);

        lx.must(mode, "snapshot", &with(&["-s", "s1", "-c"]));
        rec(&mut ck, "snapshots after s1", snapshots(&ds), "@s1\n");
        rec(&mut ck, "instance snapshot s1", instance_snapshot_exists(&t, &inst, "s1").to_string(), "true");
        // a re-run converges: the snapshots exist, nothing fails
        let again = lx.must(mode, "snapshot", &with(&["-s", "s1", "-c"]));
        rec(&mut ck, "re-run skips", again.stderr.matches("skipped:").count().to_string(), "2");

        Exec::as_user(1000, 1000).run(&inst, &["sh", "-c", "echo two > /home/user/f"]);
        lx.must(mode, "snapshot", &with(&["-s", "s2"]));
        rec(&mut ck, "snapshots after s2", snapshots(&ds), "@s1\n@s2\n");

        // running: refused before any change
        let r = lx.apply(mode, "rollback", &with(&["-s", "s1"]));
        rec(&mut ck, "rollback of a running instance: exit status", r.status.to_string(), "1");
        ck.ok(format!("{mode:?}: the refusal says why"), r.stderr.contains("is running"), &r.stderr);
        rec(&mut ck, "after the refusal: data", guest_user(&inst, &["cat", "/home/user/f"]), "two\n");

        // --force stops it, rolls back data and instance, starts it again; s2 is gone
        let r = lx.must(mode, "rollback", &with(&["-s", "s1", "-c", "--force"]));
        ck.ok(
            format!("{mode:?}: the newer snapshot is listed first"),
            r.stderr.contains(&format!("{ds}@s2")),
            &r.stderr,
        );
        rec(&mut ck, "after rollback: status", status(&inst), "RUNNING");
        wait_booted(&inst, BOOT);
        rec(&mut ck, "after rollback: data", guest_user(&inst, &["cat", "/home/user/f"]), "one\n");
        rec(&mut ck, "after rollback: snapshots", snapshots(&ds), "@s1\n");

        // stopped: no --force needed, and the instance stays stopped
        cli(&["stop", &inst]);
        lx.must(mode, "rollback", &with(&["-s", "s1"]));
        rec(&mut ck, "rollback of a stopped instance: status", status(&inst), "STOPPED");

        // -d destroys the snapshot (and -c the instance's)
        lx.must(mode, "snapshot", &with(&["-d", "-c", "-s", "s1"]));
        rec(&mut ck, "after -d: snapshots", snapshots(&ds), "");
        rec(
            &mut ck,
            "after -d: instance snapshot",
            instance_snapshot_exists(&t, &inst, "s1").to_string(),
            "false",
        );
        lx.must(mode, "destroy", &with(&["--force"]));
        states.push(normalize(&state, &[(&root, "ROOT"), (&inst, "INST")]));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

/// Every entry of a tree: path, owner, mode, type, link target, and content checksum.
pub(super) fn tree(dir: &Path) -> String {
    let listing = run(
        "sh",
        &[
            "-c",
            "cd \"$1\" && find . -printf '%P %U:%G %m %y %l\\n' | LC_ALL=C sort",
            "sh",
            &dir.display().to_string(),
        ],
    );
    let sums = run(
        "sh",
        &[
            "-c",
            "cd \"$1\" && find . -type f -exec sha256sum {} + | LC_ALL=C sort",
            "sh",
            &dir.display().to_string(),
        ],
    );
    format!("{listing}{sums}")
}

/// Files of every kind, with owners and modes, in `dir` on the host.
fn populate(dir: &Path, tag: &str) {
    let d = dir.display().to_string();
    run(
        "sh",
        &[
            "-c",
            "set -e; cd \"$1\"; mkdir -p sub/deep; printf '%s\\n' \"$2\" > sub/a; printf 'b' > 'name with spaces'; \
             ln -s sub/a link; ln sub/a hard; chown 1000:1000 sub/a sub; chmod 4750 sub/a; mkfifo fifo; \
             dd if=/dev/urandom of=sub/deep/blob bs=64k count=4 status=none; touch -h -d 2020-01-01 link",
            "sh",
            &d,
            tag,
        ],
    );
}

#[test]
fn export_destroy_import_gives_the_same_tree() {
    let test = "export_destroy_import_gives_the_same_tree";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let idmap = super::lxops::idmap_profile(&t);
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        let m = mode.tag();
        let inst = lxops_instance(&t, &format!("{m}-e"));
        let root = format!("{}/{}", t.bench.zpool, t.name(&format!("{m}-fs")));
        t.register(Resource::Dataset(root.clone()));
        let dir = lx.root.join(format!("{m}-dirs"));
        let cfg = lx.write(&format!("{m}/c.yaml"), &config(&root, &dir, &idmap));
        let cfg = cfg.to_str().unwrap();
        let out = lx.root.join(format!("{m}-export"));
        let out_s = out.display().to_string();
        let ds = format!("{root}/{inst}");
        let zdir = Path::new("/").join(&ds);
        let edir = dir.join(&inst);
        let n = ["-n", inst.as_str(), cfg];
        let with = |extra: &[&'static str]| -> Vec<&str> {
            extra.iter().copied().chain(n.iter().copied()).collect()
        };
        let with_dir = |extra: &[&'static str]| -> Vec<String> {
            let mut v: Vec<String> = vec!["-d".into(), out_s.clone()];
            v.extend(extra.iter().map(|s| s.to_string()));
            v.extend(n.iter().map(|s| s.to_string()));
            v
        };
        let mut state = Vec::new();
        let mut rec = |ck: &mut Checks, what: &str, actual: String, expected: &str| {
            ck.eq(format!("{mode:?}: {what}"), &actual, expected);
            state.push(format!("{what} = {actual:?}"));
        };
        lx.must(mode, "launch", &with(&["--no-wait-network"]));
        wait_booted(&inst, BOOT);
        populate(&zdir.join("home"), "zfs");
        populate(&edir, "dir");
        let (zfs_tree, dir_tree) = (tree(&zdir), tree(&edir));

        // while it runs: the ZFS filesystem is read from a snapshot taken for the export
        let args = with_dir(&["--image"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = lx.must(mode, "export", &args);
        rec(&mut ck, "after export: status", status(&inst), "RUNNING");
        rec(&mut ck, "after export: snapshots left", snapshots(&ds), "");
        rec(
            &mut ck,
            "after export: clone left",
            dataset_exists(&format!("{ds}.lxops-export")).to_string(),
            "false",
        );
        let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap_or_default();
        let mut names: Vec<&str> = sums.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
        names.sort();
        rec(&mut ck, "manifest", names.join(" "), "data.tar.gz etc.tar.gz image image.root");
        let check = run_in(&out, "sha256sum", &["--check", "--quiet", "SHA256SUMS"]);
        rec(&mut ck, "the manifest checks", check.to_string(), "true");
        let _ = r;

        lx.must(mode, "destroy", &with(&["--force"]));
        rec(&mut ck, "after destroy: dataset", dataset_exists(&ds).to_string(), "false");
        let args = with_dir(&[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lx.must(mode, "import", &args);
        rec(&mut ck, "imported ZFS tree is the same", (tree(&zdir) == zfs_tree).to_string(), "true");
        rec(&mut ck, "imported directory tree is the same", (tree(&edir) == dir_tree).to_string(), "true");
        if tree(&zdir) != zfs_tree {
            eprintln!("exported:\n{zfs_tree}\nimported:\n{}", tree(&zdir));
        }
        // the instance, launched again, sees its data with its owner
        lx.must(mode, "launch", &with(&["--no-wait-network"]));
        wait_booted(&inst, BOOT);
        rec(&mut ck, "relaunch: data", guest_user(&inst, &["cat", "/home/user/sub/a"]), "zfs\n");
        lx.must(mode, "destroy", &with(&["--force"]));

        // a damaged archive is refused before the first change
        std::fs::write(out.join("data.tar.gz"), b"damaged").unwrap();
        let r = lx.apply(mode, "import", &args);
        rec(&mut ck, "damaged archive: exit status", r.status.to_string(), "1");
        ck.ok(
            format!("{mode:?}: the refusal names the checksums"),
            r.stderr.contains("do not match their checksums"),
            &r.stderr,
        );
        rec(&mut ck, "damaged archive: nothing created", dataset_exists(&ds).to_string(), "false");
        states.push(normalize(&state, &[(&root, "ROOT"), (&inst, "INST")]));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

/// Runs `program args` in `dir`; whether it succeeded.
fn run_in(dir: &Path, program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The byte count of `zfs send [-i base] snap`.
fn stream_size(base: Option<&str>, snap: &str) -> u64 {
    let mut a = vec!["send"];
    if let Some(b) = base {
        a.extend(["-i", b]);
    }
    a.push(snap);
    let out = std::process::Command::new("sh")
        .args(["-c", "zfs \"$@\" | wc -c", "sh"])
        .args(&a)
        .env("PATH", &super::bench().path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

#[test]
fn copy_filesystems_full_then_incremental_locally_and_over_ssh() {
    let test = "copy_filesystems_full_then_incremental_locally_and_over_ssh";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let ssh = t
        .bench
        .var("LXOPS_BENCH_SSH")
        .unwrap_or_else(|| panic!("the bench has no sshd (LXOPS_BENCH_SSH)"))
        .to_string();
    let dest = format!("root@{ssh}");
    let mut ck = Checks::default();
    let mut states = Vec::new();
    for mode in MODES {
        let m = mode.tag();
        let root = format!("{}/{}", t.bench.zpool, t.name(&format!("{m}-fs")));
        t.register(Resource::Dataset(root.clone()));
        // Reading a received dataset with atime on modifies it, and the next
        // incremental receive (rightly) refuses a modified destination.
        zfs(&["create", "-p", "-o", "atime=off", &root]);
        let cfg = lx.write(
            &format!("{m}/c.yaml"),
            &format!("#lxops-v1\nostype: alpine\nimage: tiny\nfilesystems:\n  data:\n    pattern: {root}/(instance)\n"),
        );
        let cfg = cfg.to_str().unwrap();
        let (a, b, c) = (t.name(&format!("{m}-a")), t.name(&format!("{m}-b")), t.name(&format!("{m}-c")));
        let mut state = Vec::new();
        let mut rec = |ck: &mut Checks, what: &str, actual: String, expected: &str| {
            ck.eq(format!("{mode:?}: {what}"), &actual, expected);
            state.push(format!("{what} = {actual:?}"));
        };
        lx.must(mode, "create-devices", &["-n", &a, cfg]);
        let src = Path::new("/").join(format!("{root}/{a}"));
        run(
            "dd",
            &[
                "if=/dev/urandom",
                &format!("of={}", src.join("big").display()),
                "bs=1M",
                "count=50",
                "status=none",
            ],
        );
        std::fs::write(src.join("f"), "first\n").unwrap();

        let copy = |to: &str, extra: &[&str]| {
            let mut v = vec!["-c", cfg, "--instance", to, "--from-instance", a.as_str()];
            v.extend_from_slice(extra);
            let started = std::time::Instant::now();
            let r = lx.must(mode, "copy-filesystems", &v);
            (r, started.elapsed())
        };
        // full, locally, to another dataset
        let (r, took) = copy(&b, &[]);
        let dst = Path::new("/").join(format!("{root}/{b}"));
        rec(
            &mut ck,
            "full copy: content",
            std::fs::read_to_string(dst.join("f")).unwrap_or_default(),
            "first\n",
        );
        ck.ok(format!("{mode:?}: a full send"), !r.stderr.contains("= -i "), &r.stderr);
        let first = snapshots(&format!("{root}/{a}"));
        let first = first.lines().next().unwrap_or("").to_string();
        eprintln!(
            "[real] {mode:?} full copy of 50 MB: {:.2?}, stream {} bytes",
            took,
            stream_size(None, &format!("{root}/{a}{first}"))
        );

        // a change, then an incremental copy through the bench's sshd
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(src.join("f"), "second\n").unwrap();
        let (r, took) = copy(&b, &["--from-host", &dest]);
        rec(&mut ck, "incremental copy over ssh: content", read_fresh(&dst.join("f")), "second\n");
        ck.ok(
            format!("{mode:?}: an incremental send"),
            r.stderr.contains(&format!("= -i {root}/{a}@")),
            &r.stderr,
        );
        let list = snapshots(&format!("{root}/{a}"));
        let names: Vec<&str> = list.lines().collect();
        if names.len() >= 2 {
            let size =
                stream_size(Some(&format!("{root}/{a}{}", names[0])), &format!("{root}/{a}{}", names[1]));
            eprintln!("[real] {mode:?} incremental copy over ssh: {took:.2?}, stream {size} bytes");
            ck.ok(
                format!("{mode:?}: the incremental stream is small"),
                size < 1_000_000,
                format!("{size} bytes"),
            );
        }
        rec(
            &mut ck,
            "destination snapshots",
            snapshots(&format!("{root}/{b}")).lines().count().to_string(),
            "2",
        );

        // to a new dataset over ssh on the receiving end
        std::thread::sleep(std::time::Duration::from_millis(1100));
        copy(&c, &["--to-host", &dest]);
        rec(
            &mut ck,
            "copy to another host: content",
            read_fresh(&Path::new("/").join(format!("{root}/{c}")).join("f")),
            "second\n",
        );
        // a changed destination is not overwritten without --force
        std::fs::write(dst.join("local"), "x").unwrap();
        zfs(&["snapshot", &format!("{root}/{b}@local-change")]);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(src.join("f"), "third\n").unwrap();
        let v = ["-c", cfg, "--instance", b.as_str(), "--from-instance", a.as_str()];
        let refused = lx.apply(mode, "copy-filesystems", &v);
        rec(
            &mut ck,
            "changed destination without --force: exit status",
            (refused.status != 0).to_string(),
            "true",
        );
        let _ = zfs_status(&["destroy", &format!("{root}/{b}@local-change")]);
        states.push(normalize(&state, &[(&root, "ROOT"), (&a, "A"), (&b, "B"), (&c, "C")]));
    }
    ck.finish(test);
    assert_same_end_state(test, &states);
}

/// A file's content, read after remounting its dataset's view: zfs-fuse can
/// show a received dataset's old entries for a moment.
fn read_fresh(p: &Path) -> String {
    for _ in 0..20 {
        if let Ok(s) = std::fs::read_to_string(p) {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::fs::read_to_string(p).unwrap_or_else(|e| format!("<{e}>"))
}
