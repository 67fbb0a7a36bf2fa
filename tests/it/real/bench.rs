//! Tests of the bench itself (no lxops involved): the manager, zfs-fuse and
//! the test images behave as the lxops tests will assume.

use super::{Exec, Real, cli, exec, exec_status, sh, zfs};
use std::os::unix::fs::{MetadataExt, chown};

/// A zfs-fuse dataset attached through a profile keeps uid-1000 data across
/// delete + relaunch (the "rebuild keeps the home" flow). Unprivileged, with
/// `raw.idmap: both 1000 1000` (bench-up puts root:1000:1 in /etc/subuid+gid).
#[test]
fn zfs_device_survives_relaunch() {
    let t = Real::start("zfs_device_survives_relaunch");
    let (ds, mp) = t.dataset("home");
    chown(&mp, Some(1000), Some(1000)).expect("chown dataset mountpoint");
    let profile = t.profile("home");
    let source = format!("source={}", mp.display());
    cli(&["profile", "device", "add", &profile, "home", "disk", &source, "path=/home/user"]);
    let args = ["-p", "default", "-p", profile.as_str(), "-c", "raw.idmap=both 1000 1000"];

    let c = t.launch("tiny", "c", &args);
    let user = Exec::as_user(1000, 1000);
    user.run(&c, &["sh", "-c", "echo keep > /home/user/data"]);
    let host_file = mp.join("data");
    let meta = std::fs::metadata(&host_file).expect("file written in the container is on the dataset");
    assert_eq!((meta.uid(), meta.gid()), (1000, 1000), "owner of {}", host_file.display());
    // container root is host uid 100000+: zfs-fuse gives it no DAC override
    assert_eq!(exec(&c, &["stat", "-c", "%u:%g", "/home/user/data"]).trim(), "1000:1000");

    cli(&["delete", "-f", &c]);
    let c2 = t.launch("tiny", "c", &args);
    assert_eq!(c2, c);
    assert_eq!(user.run(&c2, &["cat", "/home/user/data"]), "keep\n");
    let listed = zfs(&["list", "-H", "-o", "name", &ds]);
    assert_eq!(listed.trim(), ds);
}

fn file(c: &str, path: &str) -> String {
    exec(c, &["cat", path])
}

fn line<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find(|l| l.split(':').next() == Some(name))
}

/// Asserts `argv` fails with a non-zero status and `needle` on stderr.
fn fails(c: &str, argv: &[&str], needle: &str) {
    let r = exec_status(c, argv);
    assert!(!r.ok(), "{argv:?} should fail, but exited 0; stdout: {}", r.stdout);
    assert!(r.stderr.contains(needle), "{argv:?}: stderr {:?} lacks {needle:?}", r.stderr);
}

/// The tiny image's alpine-like stand-ins (adduser, addgroup, chpasswd, apk,
/// setup-timezone) really edit the files and fail like busybox's applets.
#[test]
fn tiny_standins_behave() {
    let t = Real::start("tiny_standins_behave");
    let c = t.launch("tiny", "c", &[]);
    assert_eq!(file(&c, "/etc/alpine-release").trim(), "3.19.1");
    let group = file(&c, "/etc/group");
    assert_eq!(line(&group, "wheel"), Some("wheel:x:10:root"));
    assert_eq!(line(&group, "adm"), Some("adm:x:4:root"));
    sh(&c, "test -d /etc/sudoers.d && test -d /etc/doas.d && test -f /etc/shadow");

    // addgroup / adduser with every flag
    exec(&c, &["addgroup", "-g", "2000", "devs"]);
    exec(
        &c,
        &[
            "adduser",
            "-D",
            "-u",
            "1500",
            "-G",
            "devs",
            "-h",
            "/home/alice",
            "-s",
            "/bin/ash",
            "-g",
            "Alice A",
            "alice",
        ],
    );
    exec(&c, &["adduser", "-D", "bob"]);
    exec(&c, &["adduser", "-S", "-D", "svc"]);
    exec(&c, &["adduser", "-D", "-H", "nohome"]);
    exec(&c, &["addgroup", "-S", "sysgrp"]);
    let passwd = file(&c, "/etc/passwd");
    assert_eq!(line(&passwd, "alice"), Some("alice:x:1500:2000:Alice A:/home/alice:/bin/ash"));
    assert_eq!(line(&passwd, "bob"), Some("bob:x:1001:1001:Linux User,,,:/home/bob:/bin/sh"));
    assert_eq!(line(&passwd, "svc"), Some("svc:x:100:65534:Linux User,,,:/home/svc:/bin/false"));
    let group = file(&c, "/etc/group");
    assert_eq!(line(&group, "devs"), Some("devs:x:2000:alice"));
    assert_eq!(line(&group, "bob"), Some("bob:x:1001:"));
    assert_eq!(line(&group, "sysgrp"), Some("sysgrp:x:100:"));
    assert_eq!(exec(&c, &["stat", "-c", "%u:%g %a", "/home/alice"]).trim(), "1500:2000 2755");
    assert_eq!(exec(&c, &["stat", "-c", "%U:%G", "/home/bob"]).trim(), "bob:bob");
    assert!(!exec_status(&c, &["test", "-e", "/home/nohome"]).ok(), "-H must not create a home");
    let shadow = file(&c, "/etc/shadow");
    assert!(line(&shadow, "alice").is_some_and(|l| l.starts_with("alice:!:")), "{shadow}");

    // two-argument forms: add an existing user to an existing group
    exec(&c, &["adduser", "alice", "wheel"]);
    exec(&c, &["addgroup", "bob", "adm"]);
    exec(&c, &["addgroup", "bob", "adm"]); // already a member: no-op, exit 0
    let group = file(&c, "/etc/group");
    assert_eq!(line(&group, "wheel"), Some("wheel:x:10:root,alice"));
    assert_eq!(line(&group, "adm"), Some("adm:x:4:root,bob"));
    // busybox's own id/su read what the stand-ins wrote
    assert_eq!(
        exec(&c, &["id", "alice"]).trim(),
        "uid=1500(alice) gid=2000(devs) groups=2000(devs),10(wheel)"
    );
    assert_eq!(exec(&c, &["su", "bob", "-c", "id -un"]).trim(), "bob");

    // failures, as busybox's applets fail
    fails(&c, &["adduser", "-D", "alice"], "adduser: user 'alice' in use");
    fails(&c, &["adduser", "-D", "-u", "1500", "carol"], "uid '1500' in use");
    fails(&c, &["adduser", "-D", "-G", "nosuch", "carol"], "unknown group nosuch");
    fails(&c, &["adduser", "alice", "nosuch"], "unknown group nosuch");
    fails(&c, &["adduser", "nosuch", "wheel"], "unknown user nosuch");
    fails(&c, &["addgroup", "devs"], "group 'devs' in use");
    fails(&c, &["addgroup", "-g", "2000", "others"], "gid '2000' in use");
    fails(&c, &["adduser"], "Usage: adduser");
    assert!(line(&file(&c, "/etc/passwd"), "carol").is_none(), "failed adduser must not add carol");

    // chpasswd
    Exec::default().stdin(b"alice:s3cret\n").run(&c, &["chpasswd"]);
    let shadow = file(&c, "/etc/shadow");
    let hash = line(&shadow, "alice").unwrap().split(':').nth(1).unwrap().to_string();
    assert!(hash.starts_with("$6$"), "chpasswd should store a sha512 hash, got {hash:?}");
    let salt = hash.split('$').nth(2).unwrap();
    let again = exec(&c, &["mkpasswd", "-m", "sha512", "-S", salt, "s3cret"]);
    assert_eq!(again.trim(), hash, "the stored hash is the hash of the password");
    Exec::default().stdin(b"bob:$6$salt$abc\n").run(&c, &["chpasswd", "-e"]);
    assert_eq!(line(&file(&c, "/etc/shadow"), "bob").unwrap().split(':').nth(1), Some("$6$salt$abc"));
    let r = Exec::default().stdin(b"nosuch:pw\n").status(&c, &["chpasswd"]);
    assert!(!r.ok() && r.stderr.contains("unknown user nosuch"), "{r:?}");
    let r = Exec::default().stdin(b"alice\n").status(&c, &["chpasswd"]);
    assert!(!r.ok() && r.stderr.contains("missing new password"), "{r:?}");

    // apk and setup-timezone
    exec(&c, &["apk", "add", "--no-cache", "sudo", "bash"]);
    exec(&c, &["apk", "add", "doas"]);
    assert_eq!(file(&c, "/var/log/apk-installed"), "sudo bash\ndoas\n");
    fails(&c, &["apk", "frobnicate", "x"], "unsupported command");
    exec(&c, &["setup-timezone", "-z", "Europe/Paris"]);
    assert_eq!(file(&c, "/etc/timezone"), "Europe/Paris\n");
}

/// debian-mini: real adduser/passwd from Debian, apt-get replaced by a
/// recorder. Must fail (not skip) when bench-up was asked to build it but the
/// image is missing.
#[test]
fn debian_mini_adduser_and_apt_recorder() {
    let t = Real::start("debian_mini_adduser_and_apt_recorder");
    t.bench.require_debian_mini();
    let c = t.launch("debian-mini", "d", &[]);
    exec(&c, &["adduser", "--disabled-password", "--gecos", "", "--uid", "1500", "carol"]);
    assert_eq!(exec(&c, &["id", "-u", "carol"]).trim(), "1500");
    assert_eq!(exec(&c, &["stat", "-c", "%U", "/home/carol"]).trim(), "carol");
    Exec::default().stdin(b"carol:pw\n").run(&c, &["chpasswd"]);
    exec(
        &c,
        &["apt-get", "install", "-y", "--no-install-recommends", "-o", "Dpkg::Use-Pty=0", "sudo", "curl"],
    );
    exec(&c, &["/usr/bin/apt-get", "-q", "install", "jq"]);
    assert_eq!(file(&c, "/var/log/apt-get-installed"), "sudo curl\njq\n");
    let r = exec_status(&c, &["apt-get", "remove", "sudo"]);
    assert!(!r.ok(), "apt-get remove should fail on the recorder");
    assert!(exec_status(&c, &["bash", "-c", "true"]).ok(), "debian-mini has bash");
}
