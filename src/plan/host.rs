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
pub fn zfs_snapshot_exists(snapshot: &str) -> Cmd {
    Cmd::new(["zfs", "list", "-H", "-o", "name", "-t", "snapshot", snapshot])
}

/// Prints the dataset's mount point.
pub fn zfs_mountpoint(dataset: &str) -> Cmd {
    Cmd::new(["zfs", "get", "-H", "-o", "value", "mountpoint", dataset])
}

pub fn mkdir_p(dir: &str) -> Cmd {
    Cmd::new(["mkdir", "-p", dir]).root()
}

/// `chown OWNER PATH` (owner `uid:gid`).
pub fn chown(owner: &str, path: &str) -> Cmd {
    Cmd::new(["chown", owner, path]).root()
}

/// Copies the content of `src` into `dst` with owners, modes and links kept.
pub fn rsync_into(src: &str, dst: &str) -> Cmd {
    Cmd::new(["rsync", "-a", &format!("{src}/"), &format!("{dst}/")]).root()
}

/// Removes a directory tree, not crossing into other filesystems.
pub fn remove_tree(dir: &str) -> Cmd {
    Cmd::new(["rm", "-rf", "--one-file-system", dir]).root()
}

pub fn move_dir(old: &str, new: &str) -> Cmd {
    Cmd::new(["mv", old, new]).root()
}

/// Prints the UTC time in `format` (a `date` format).
pub fn utc_time(format: &str) -> Cmd {
    Cmd::new(["date", "-u", &format!("+{format}")])
}
