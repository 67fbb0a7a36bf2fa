//! Every host command a plan runs: ZFS, directories, ownership, copies.
//!
//! One function per operation, so what lxops does to a host's filesystems
//! is readable in one place and each command is spelled once. Commands that
//! change the host need root (`sudo -n` when not root); probes do not.

use crate::plan::model::{Cmd, Word};

/// `zfs create -p [-o k=v…] DATASET`.
pub fn zfs_create(dataset: &str, props: &[(String, String)]) -> Cmd {
    let mut c = Cmd::new(["zfs", "create", "-p"]);
    for (k, v) in props {
        c = c.push("-o").push(format!("{k}={v}"));
    }
    c.push(dataset).root()
}

/// `zfs clone -p [-o k=v…] SNAPSHOT DATASET`.
pub fn zfs_clone(snapshot: &str, dataset: &str, props: &[(String, String)]) -> Cmd {
    let mut c = Cmd::new(["zfs", "clone", "-p"]);
    for (k, v) in props {
        c = c.push("-o").push(format!("{k}={v}"));
    }
    c.push(snapshot).push(dataset).root()
}

/// `zfs clone SNAPSHOT DATASET` (the snapshot's name may be a run-time value).
pub fn zfs_clone_word(snapshot: Word, dataset: &str) -> Cmd {
    Cmd::new(["zfs", "clone"]).push(snapshot).push(dataset).root()
}

/// `zfs destroy DATASET` (no children, no snapshots).
pub fn zfs_destroy(dataset: &str) -> Cmd {
    Cmd::new(["zfs", "destroy", dataset]).root()
}

/// `zfs snapshot DATASET@NAME` (the name may be a run-time value).
pub fn zfs_snapshot(snapshot: Word) -> Cmd {
    Cmd::new(["zfs", "snapshot"]).push(snapshot).root()
}

/// `zfs destroy -r DATASET`: the dataset, its snapshots and its children.
pub fn zfs_destroy_recursive(dataset: &str) -> Cmd {
    Cmd::new(["zfs", "destroy", "-r", dataset]).root()
}

pub fn zfs_rename(old: &str, new: &str) -> Cmd {
    Cmd::new(["zfs", "rename", old, new]).root()
}

/// Succeeds when the filesystem exists.
pub fn zfs_exists(dataset: &str) -> Cmd {
    Cmd::new(["zfs", "list", "-H", "-o", "name", dataset])
}

/// Succeeds when the snapshot exists.
pub fn zfs_snapshot_exists(snapshot: impl Into<Word>) -> Cmd {
    Cmd::new(["zfs", "list", "-H", "-o", "name", "-t", "snapshot"]).push(snapshot)
}

/// Destroys one snapshot; with `dependents`, also the snapshots and clones
/// that depend on it (`zfs destroy -R`).
pub fn zfs_destroy_snapshot(snapshot: Word, dependents: bool) -> Cmd {
    let c = Cmd::new(["zfs", "destroy"]);
    let c = if dependents { c.push("-R") } else { c };
    c.push(snapshot).root()
}

/// Rolls a filesystem back to a snapshot, destroying the newer snapshots.
pub fn zfs_rollback(snapshot: Word) -> Cmd {
    Cmd::new(["zfs", "rollback", "-r"]).push(snapshot).root()
}

/// The snapshots of a filesystem and of those below it, oldest first.
pub fn zfs_snapshots(dataset: &str) -> Cmd {
    Cmd::new(["zfs", "list", "-H", "-o", "name", "-t", "snapshot", "-s", "createtxg", "-r", dataset])
}

/// `zfs send [INCREMENTAL…] SNAPSHOT` (the incremental words are a run-time list).
pub fn zfs_send(snapshot: Word, incremental: Word) -> Cmd {
    Cmd::new(["zfs", "send"]).push(incremental).push(snapshot).root()
}

/// `zfs receive [-F] DATASET`.
pub fn zfs_receive(dataset: &str, force: bool) -> Cmd {
    let c = Cmd::new(["zfs", "receive"]);
    let c = if force { c.push("-F") } else { c };
    c.push(dataset).root()
}

/// A gzip tar archive of a directory's content: owners as numbers, modes,
/// links, special files and extended attributes kept.
pub fn tar_create(archive: &str, dir: Word) -> Cmd {
    Cmd::new([
        "tar",
        "--create",
        "--gzip",
        "--numeric-owner",
        "--xattrs",
        "--xattrs-include=*",
        "--file",
        archive,
        "-C",
    ])
    .push(dir)
    .push(".")
    .root()
}

/// Unpacks a gzip tar archive into a directory, as it was.
pub fn tar_extract(archive: &str, dir: &str) -> Cmd {
    Cmd::new([
        "tar",
        "--extract",
        "--gzip",
        "--numeric-owner",
        "--same-permissions",
        "--xattrs",
        "--xattrs-include=*",
        "--file",
        archive,
        "-C",
        dir,
    ])
    .root()
}

/// Writes `DIR/SHA256SUMS` with the checksums of `files` (names in DIR).
pub fn write_checksums(dir: &str, files: Vec<Word>) -> Cmd {
    let c = Cmd::new(["sh", "-c", "cd \"$1\" && shift && sha256sum -- \"$@\" > SHA256SUMS", "sh", dir]);
    files.into_iter().fold(c, |c, f| c.push(f)).root()
}

/// Succeeds when every file `DIR/SHA256SUMS` lists has its checksum.
pub fn check_checksums(dir: &str) -> Cmd {
    Cmd::new(["sh", "-c", "cd \"$1\" && sha256sum --check --strict --quiet SHA256SUMS", "sh", dir])
}

/// Prints the files in `dir` whose names match `pattern`, one per line,
/// sorted (byte order): their names, or with `paths` their paths.
pub fn files_named(dir: &str, pattern: &str, paths: bool) -> Cmd {
    let format = if paths { "%p\\n" } else { "%f\\n" };
    let script =
        format!("find \"$1\" -mindepth 1 -maxdepth 1 -name \"$2\" -printf '{format}' | LC_ALL=C sort");
    Cmd::new(["sh", "-c", &script, "sh", dir, pattern])
}

/// Prints the dataset's mount point.
pub fn zfs_mountpoint(dataset: &str) -> Cmd {
    Cmd::new(["zfs", "get", "-H", "-o", "value", "mountpoint", dataset])
}

pub fn mkdir_p(dir: &str) -> Cmd {
    Cmd::new(["mkdir", "-p", dir]).root()
}

/// `mkdir -p DIR` as the user who runs the plan (for files the plan writes
/// through a redirection, which runs as that user too).
pub fn mkdir_p_mine(dir: &str) -> Cmd {
    Cmd::new(["mkdir", "-p", dir])
}

/// `chown OWNER PATH` (owner `uid:gid`).
pub fn chown(owner: &str, path: &str) -> Cmd {
    Cmd::new(["chown", owner, path]).root()
}

/// Copies the content of `src` into `dst` with owners, modes and links kept.
pub fn rsync_into(src: &str, dst: &str) -> Cmd {
    Cmd::new(["rsync", "-a", &format!("{src}/"), &format!("{dst}/")]).root()
}

/// Copies the content of `src` (a run-time path) into `dst`, creating
/// `dst` and giving it `src`'s owner and mode (the trailing slashes).
pub fn rsync_from(src: Word, dst: &str) -> Cmd {
    Cmd::new(["rsync", "-aH"]).push(src.then("/")).push(format!("{dst}/")).root()
}

/// Removes a directory tree, not crossing into other filesystems.
pub fn remove_tree(dir: impl Into<Word>) -> Cmd {
    Cmd::new(["rm", "-rf", "--one-file-system"]).push(dir).root()
}

/// Creates a private (0700) directory with a fresh random name in
/// `/var/tmp` (not `/tmp`, often a small tmpfs) and prints its path.
pub fn make_temp_dir(prefix: &str) -> Cmd {
    Cmd::new(["mktemp", "-d", &format!("/var/tmp/{prefix}.XXXXXXXX")])
}

/// Prints eight random bytes as decimal numbers (a temporary name's letters).
pub fn random_bytes() -> Cmd {
    Cmd::new(["od", "-An", "-vtu1", "-N8", "/dev/urandom"])
}

/// Unpacks a tar archive (any compression tar recognises) into a directory,
/// owners as numbers, modes, links, special files and extended attributes
/// as they were.
pub fn tar_unpack(archive: Word, dir: Word) -> Cmd {
    Cmd::new([
        "tar",
        "--extract",
        "--numeric-owner",
        "--same-permissions",
        "--xattrs",
        "--xattrs-include=*",
        "--file",
    ])
    .push(archive)
    .push("-C")
    .push(dir)
    .root()
}

/// Succeeds when `ROOT/PATH` is a directory reached through no symbolic
/// link below `ROOT` (`PATH` is absolute and normal: `/a/b`), so a path
/// in an image cannot lead the copy out of the image.
pub fn is_dir_below(root: Word, path: &str) -> Cmd {
    const SCRIPT: &str =
        "cd -P -- \"$1\" && [ -d \".$2\" ] && [ \"$(realpath -e -- \".$2\")\" = \"$(pwd -P)$2\" ]";
    Cmd::new(["sh", "-c", SCRIPT, "sh"]).push(root).push(path)
}

/// The shell half of `lxops shiftids` (`cmd::shiftids` is the native
/// half; a test compares them on one tree): in the trees `dirs`, every
/// entry whose uid is below `uid` (gid below `gid`) gets `uid` (`gid`)
/// added to it; a symbolic link's own owner changes, its target is never
/// followed; set-user-ID and set-group-ID bits that `chown` clears are set
/// again. Ids at or above the shift are left alone, so running it twice
/// changes nothing.
pub fn shift_ids(uid: u32, gid: u32, dirs: &[&str]) -> Cmd {
    Cmd::new(["sh", "-c", SHIFT_IDS, "lxops-shiftids", &uid.to_string(), &gid.to_string()])
        .extend(dirs.iter().copied())
        .root()
}

/// `find` (which follows no link) selects the entries to change (`-uid
/// -N`: below N) and hands them over as arguments; one `stat` prints their
/// ids and modes, a line each (numbers only, so any file name is safe);
/// `chown -h` changes a link, not its target; a mode with a fourth digit
/// (set-id or sticky bits; a link's is always 777) is set again.
const SHIFT_IDS: &str = r#"u=$1 g=$2
shift 2
find "$@" \( -uid -"$u" -o -gid -"$g" \) -exec sh -c '
u=$1 g=$2
shift 2
stat -c "%u %g %a" -- "$@" | {
  for f do
    read -r fu fg m || exit 1
    nu=$fu ng=$fg
    if [ "$fu" -lt "$u" ]; then nu=$((fu + u)); fi
    if [ "$fg" -lt "$g" ]; then ng=$((fg + g)); fi
    chown -h -- "$nu:$ng" "$f" || exit 1
    case $m in ????) chmod -- "$m" "$f" || exit 1 ;; esac
  done
}' sh "$u" "$g" {} +"#;

pub fn move_dir(old: &str, new: &str) -> Cmd {
    Cmd::new(["mv", old, new]).root()
}

/// Prints the UTC time in `format` (a `date` format).
pub fn utc_time(format: &str) -> Cmd {
    Cmd::new(["date", "-u", &format!("+{format}")])
}

/// `test FLAG PATH` (a file test on another host).
pub fn test(flag: &str, path: &str) -> Cmd {
    Cmd::new(["test", flag, path])
}

/// Prints `path` when it is an empty directory (on another host).
pub fn find_empty_dir(path: &str) -> Cmd {
    Cmd::new(["find", path, "-maxdepth", "0", "-type", "d", "-empty"])
}

/// Prints the canonical path (on another host).
pub fn realpath(path: &str) -> Cmd {
    Cmd::new(["realpath", "-e", "--", path])
}

/// Succeeds when sudo works (as root) and every program is found.
pub fn programs_installed<'a>(programs: impl IntoIterator<Item = &'a str>) -> Cmd {
    let script = "for p in \"$@\"; do command -v \"$p\" >/dev/null || { echo \"lxops: $p is not installed\" >&2; exit 1; }; done";
    Cmd::new(["sh", "-c", script, "sh"]).extend(programs).root()
}
