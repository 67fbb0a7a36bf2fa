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
    fn datasets() {
        assert!(dataset_problem("tank/a/b").is_none());
        assert!(dataset_problem("tank//b").is_some());
        assert!(dataset_problem("tank/../b").is_some());
        assert!(dataset_problem("tank/a b").is_some());
    }
}
