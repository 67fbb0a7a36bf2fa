//! Name and path rules checked before any plan: instance names as Incus and
//! LXD accept them, ZFS dataset names, `uid:gid` owners, and host paths that
//! cannot leave their filesystem (decision D16). Pure functions, no I/O.

use crate::paths;
use std::path::Path;

/// Why `name` is not a valid Incus/LXD instance name, if it is not.
pub fn instance_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    if name.len() > 63 {
        return Some(format!("{} characters, at most 63 are allowed", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return Some(format!("it contains {c:?}; only letters, digits and hyphens are allowed"));
    }
    if name.starts_with('-') || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Some("it must not start with a digit or a hyphen".into());
    }
    if name.ends_with('-') {
        return Some("it must not end with a hyphen".into());
    }
    None
}

/// An ssh destination lxops can pass on (`[USER@]HOST` or an ssh config
/// name): not empty, no leading '-' (ssh would read an option), no white
/// space or control characters.
pub fn ssh_dest_ok(d: &str) -> bool {
    !d.is_empty() && !d.starts_with('-') && !d.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Why `name` cannot be a profile or project name, if it cannot: the API
/// name rule of current Incus (at most 64 characters, starting and ending
/// with a letter or digit, no white space, none of `$?&+"'`*/`), without
/// commas (they separate `profile assign`'s list) or control characters.
/// Server answers are held to the same rule (`runtime::parse::name_ok`).
pub fn api_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    if name.len() > 64 {
        return Some(format!("{} characters, at most 64 are allowed", name.len()));
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || c.is_control() || "$?&+\"'`*/,".contains(*c))
    {
        return Some(format!("it contains {c:?}"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Some("it must start and end with a letter or digit".into());
    }
    None
}

/// Why `key` cannot be a disk device's name (and default directory), if it
/// cannot: Incus's device name rule (letters, digits, `/ - : _ .`, not
/// starting with `.`), and no empty, `.` or `..` path component.
pub fn device_key_problem(key: &str) -> Option<String> {
    if let Some(c) = key.chars().find(|c| !(c.is_ascii_alphanumeric() || "/-:_.".contains(*c))) {
        return Some(format!("it contains {c:?}; device names use letters, digits and / - : _ ."));
    }
    if key.starts_with('.') {
        return Some("it must not start with '.'".into());
    }
    if key.split('/').any(|p| p.is_empty() || p == "." || p == "..") {
        return Some("it has an empty, '.' or '..' path component".into());
    }
    None
}

/// Directories of the host's own system, and the directories above them:
/// no filesystem or device directory may be one (decision D25).
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/efi",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/lost+found",
    "/media",
    "/mnt",
    "/nix",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/snap",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/var",
    "/usr/bin",
    "/usr/include",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/local",
    "/usr/sbin",
    "/usr/share",
    "/usr/src",
    "/usr/local/bin",
    "/usr/local/etc",
    "/usr/local/lib",
    "/usr/local/sbin",
    "/usr/local/share",
    "/var/backups",
    "/var/cache",
    "/var/lib",
    "/var/local",
    "/var/lock",
    "/var/log",
    "/var/mail",
    "/var/opt",
    "/var/run",
    "/var/spool",
    "/var/tmp",
    "/var/www",
    "/var/lib/incus",
    "/var/lib/lxd",
    "/var/snap",
];

/// Why a host directory (cleaned, absolute) must not be a filesystem or a
/// device directory, if it must not.
pub fn system_dir_problem(dir: &str) -> Option<String> {
    SYSTEM_DIRS.contains(&dir).then(|| format!("{dir} is a system directory of the host"))
}

/// Why `name` is not a valid ZFS dataset name, if it is not.
pub(super) fn dataset_problem(name: &str) -> Option<String> {
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Some("dataset names have no leading, trailing or doubled '/'".into());
    }
    for part in name.split('/') {
        if part == "." || part == ".." {
            return Some("'.' and '..' are not dataset names".into());
        }
        if let Some(c) =
            part.chars().find(|c| !(c.is_ascii_alphanumeric() || "_-.: ".contains(*c)) || *c == ' ')
        {
            return Some(format!(
                "it contains {c:?}; dataset names use letters, digits, '_', '-', '.', ':' and '/'"
            ));
        }
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some("a pool name starts with a letter".into());
    }
    None
}

pub(super) fn has_parent_component(p: &str) -> bool {
    p.split('/').any(|c| c == "..")
}

pub(super) fn owner_problem(owner: &str) -> bool {
    match owner.split_once(':') {
        Some((u, g)) => u.parse::<u32>().is_err() || g.parse::<u32>().is_err(),
        None => true,
    }
}

/// Why a substituted filesystem path cannot be used (decision D16).
pub(super) fn fs_path_problem(path: &str) -> Option<String> {
    if path.is_empty() {
        return Some("the pattern substitutes to an empty string".into());
    }
    if path.starts_with('/') {
        if has_parent_component(path) {
            return Some("it contains '..'".into());
        }
        if paths::clean(Path::new(path)) == Path::new("/") {
            return Some("it is the host's root directory".into());
        }
        return None;
    }
    dataset_problem(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names() {
        assert!(instance_name_problem("web1").is_none());
        assert!(instance_name_problem("1web").is_some());
        assert!(instance_name_problem("-web").is_some());
        assert!(instance_name_problem("a_b").is_some());
        assert!(instance_name_problem(&"a".repeat(64)).is_some());
    }

    #[test]
    fn api_names_and_devices() {
        assert!(api_name_problem("web1.lxops").is_none());
        assert!(api_name_problem("a,b").is_some());
        assert!(api_name_problem("a b").is_some());
        assert!(api_name_problem(".a").is_some());
        assert!(device_key_problem("..").is_some());
        assert!(device_key_problem("a/../b").is_some());
        assert!(device_key_problem("home").is_none());
        assert!(device_key_problem("a/b").is_none());
        assert!(system_dir_problem("/etc").is_some());
        assert!(system_dir_problem("/srv/web1").is_none());
    }

    #[test]
    fn datasets() {
        assert!(dataset_problem("tank/a/b").is_none());
        assert!(dataset_problem("tank//b").is_some());
        assert!(dataset_problem("tank/../b").is_some());
        assert!(dataset_problem("tank/a b").is_some());
    }
}
