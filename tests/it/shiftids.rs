//! `lxops shiftids` (native) and the shell routine extract's plans run
//! (`plan::host::shift_ids`) leave the same tree in the same state: two
//! copies of one awkward tree (hard links, symbolic links inside and out,
//! set-id files and directories, a FIFO, names with spaces, newlines and
//! leading dashes, ids below and above the offsets) are shifted one way
//! each and compared entry by entry, then shifted again to show that a
//! second run changes nothing. Changing owners needs root: the test fails,
//! never skips, without it.

use crate::fixtures::TempDir;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

const UID: u32 = 100_000;
const GID: u32 = 200_000;

/// Sets owner and mode of a path that is not a symbolic link.
fn own(p: &Path, uid: u32, gid: u32, mode: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The tree `root/tree`, with a link to `outside` (which must not change).
fn build(root: &Path, outside: &Path) {
    let t = root.join("tree");
    std::fs::create_dir_all(t.join("sub/deeper")).unwrap();
    let files: &[(&str, u32, u32, u32)] = &[
        ("plain", 0, 0, 0o644),
        ("setuid", 0, 0, 0o4755),
        ("setgid", 5, 50, 0o2755),
        ("both", 1000, 1000, 0o6711),
        ("with space", 33, 33, 0o600),
        ("new\nline", 1, 2, 0o640),
        ("-dash", 2, 1, 0o644),
        ("above", UID + 5, GID + 5, 0o644),
        ("uid-above-gid-below", UID + 1, 3, 0o4750),
        ("sub/deeper/file", 65534, 65534, 0o444),
    ];
    for (name, u, g, m) in files {
        let p = t.join(name);
        std::fs::write(&p, name.as_bytes()).unwrap();
        own(&p, *u, *g, *m);
    }
    std::fs::hard_link(t.join("setuid"), t.join("sub/setuid-link")).unwrap();
    symlink("../plain", t.join("sub/rel-link")).unwrap();
    symlink(outside, t.join("abs-link")).unwrap();
    symlink("nowhere", t.join("dangling")).unwrap();
    symlink("sub", t.join("dir-link")).unwrap();
    std::os::unix::fs::lchown(t.join("dangling"), Some(4), Some(4)).unwrap();
    let fifo = Command::new("mkfifo").arg(t.join("fifo")).status().unwrap();
    assert!(fifo.success());
    own(&t.join("fifo"), 9, 9, 0o600);
    own(&t.join("sub/deeper"), 0, 0, 0o2775);
    own(&t.join("sub"), 12, 0, 0o1777);
    own(&t, 0, 0, 0o755);
}

/// Every entry below `dir` with its type, owner, mode, link count and
/// link target, sorted by path.
fn state(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false).sort_by_file_name() {
        let e = e.unwrap();
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
        let target = std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default();
        v.push(format!(
            "{rel:?} {:?} {}:{} {:o} n{} {target}",
            m.file_type(),
            m.uid(),
            m.gid(),
            m.mode() & 0o7777,
            m.nlink()
        ));
    }
    v
}

fn native(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_lxops"))
        .args(["shiftids", "-u", &UID.to_string(), "-g", &GID.to_string()])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "lxops shiftids: {}", String::from_utf8_lossy(&out.stderr));
}

/// The plan's routine, run with exactly the argv a plan gives it.
fn routine(dir: &Path) {
    let d = dir.display().to_string();
    let cmd = lxops::plan::host::shift_ids(UID, GID, &[&d]);
    let argv: Vec<String> = cmd.argv.iter().map(|w| w.as_lit().expect("a literal argv")).collect();
    let out = Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
    assert!(out.status.success(), "shift routine: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_native_command_and_the_script_routine_shift_a_tree_alike() {
    let me = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&me.stdout).trim(),
        "0",
        "shifting owners needs root: run the tests as root"
    );
    let tmp = TempDir::new("shiftids");
    let (a, b, outside) = (tmp.0.join("a"), tmp.0.join("b"), tmp.0.join("outside"));
    std::fs::write(&outside, "not in the tree").unwrap();
    own(&outside, 7, 7, 0o644);
    build(&a, &outside);
    build(&b, &outside);
    let before = state(&a.join("tree"));
    assert_eq!(before, state(&b.join("tree")), "two identical trees to start with");
    native(&a.join("tree"));
    routine(&b.join("tree"));
    let shifted = state(&a.join("tree"));
    assert_eq!(shifted, state(&b.join("tree")), "native and routine agree");
    assert_ne!(shifted, before, "something was shifted");
    let line = |name: &str| shifted.iter().find(|l| l.starts_with(&format!("{name:?} "))).cloned().unwrap();
    assert!(line("setuid").contains(&format!(" {UID}:{GID} 4755 n2")), "{}", line("setuid"));
    assert!(line("both").contains(&format!(" {}:{} 6711 ", UID + 1000, GID + 1000)), "{}", line("both"));
    assert!(line("above").contains(&format!(" {}:{} 644 ", UID + 5, GID + 5)), "ids above stay");
    assert!(line("uid-above-gid-below").contains(&format!(" {}:{} 4750 ", UID + 1, GID + 3)));
    assert!(line("new\nline").contains(&format!(" {}:{} ", UID + 1, GID + 2)));
    assert!(line("-dash").contains(&format!(" {}:{} ", UID + 2, GID + 1)));
    assert!(line("sub/deeper").contains(&format!(" {UID}:{GID} 2775 ")), "{}", line("sub/deeper"));
    assert!(line("sub").contains(&format!(" {}:{GID} 1777 ", UID + 12)));
    assert!(
        line("dangling").contains(&format!(" {}:{} 777 n1 nowhere", UID + 4, GID + 4)),
        "a link's own owner is shifted, its target kept: {}",
        line("dangling")
    );
    assert!(line("abs-link").contains(&format!(" {UID}:{GID} ")), "{}", line("abs-link"));
    assert!(line("fifo").contains(&format!(" {}:{} ", UID + 9, GID + 9)));
    let out = std::fs::metadata(&outside).unwrap();
    assert_eq!((out.uid(), out.gid()), (7, 7), "a link out of the tree is not followed");
    native(&b.join("tree"));
    routine(&a.join("tree"));
    assert_eq!(state(&a.join("tree")), shifted, "a second run changes nothing");
    assert_eq!(state(&b.join("tree")), shifted, "a second run changes nothing");
}
