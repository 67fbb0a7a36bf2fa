//! Lexical path helpers shared by the loader and the resolver.
//!
//! Paths are joined and cleaned without touching the filesystem (no symlink
//! resolution, no `~`), so results are the same on the machine that compiles
//! a plan and the one that runs it.

use std::path::{Component, Path, PathBuf};

/// Cleans `.` and `..` lexically; `..` at the start of a relative path is kept.
pub fn clean(p: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// Resolves `p` against the directory of `file`, as includes are.
pub fn relative_to_file(file: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        return clean(p);
    }
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => clean(&dir.join(p)),
        _ => clean(p),
    }
}

/// Makes a path absolute against the current directory, lexically.
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        clean(p)
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        clean(&cwd.join(p))
    }
}

/// True when `p` is `base` or lies below it.
pub fn is_within(p: &str, base: &str) -> bool {
    p == base || (p.starts_with(base) && p[base.len()..].starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans() {
        assert_eq!(clean(Path::new("a/./b/../c")), PathBuf::from("a/c"));
        assert_eq!(clean(Path::new("../a")), PathBuf::from("../a"));
        assert_eq!(clean(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(relative_to_file(Path::new("x/y.yaml"), "../z.yaml"), PathBuf::from("z.yaml"));
        assert_eq!(relative_to_file(Path::new("y.yaml"), "inc/z.yaml"), PathBuf::from("inc/z.yaml"));
    }

    #[test]
    fn within() {
        assert!(is_within("a/b/c", "a/b"));
        assert!(is_within("a/b", "a/b"));
        assert!(!is_within("a/bc", "a/b"));
    }
}
