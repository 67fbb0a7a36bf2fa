//! The invariants ARCHITECTURE.md states, checked on the source text.

use crate::fixtures::root;
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/` files as (path relative to src/, text without `#[cfg(test)]` modules).
fn src() -> Vec<(String, String)> {
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            (p.strip_prefix(root().join("src")).unwrap().display().to_string(), code)
        })
        .collect()
}

/// Files (other than `allowed`) whose code contains `needle`.
fn offenders(needle: &str, allowed: &[&str]) -> Vec<String> {
    src()
        .into_iter()
        .filter(|(f, code)| !allowed.contains(&f.as_str()) && code.contains(needle))
        .map(|(f, _)| f)
        .collect()
}

#[test]
fn only_the_runtime_starts_processes() {
    assert_eq!(offenders("Command::new", &["runtime/cmd.rs"]), Vec::<String>::new());
}

#[test]
fn commands_are_built_only_by_the_backend_and_the_host_module() {
    assert_eq!(
        offenders("Cmd::new(", &["plan/backend.rs", "plan/host.rs", "plan/model.rs"]),
        Vec::<String>::new()
    );
    let backend = std::fs::read_to_string(root().join("src/plan/backend.rs")).unwrap();
    assert!(backend.contains("    fn cmd(self"), "the backend's generic constructor is private");
    for program in ["\"incus\"", "\"lxc\""] {
        assert_eq!(offenders(program, &["plan/backend.rs", "cmd/mod.rs"]), Vec::<String>::new(), "{program}");
    }
}

#[test]
fn ostype_programs_are_named_only_in_the_table() {
    for program in [
        "\"apk\"",
        "\"apt-get\"",
        "\"opkg\"",
        "\"adduser\"",
        "\"chpasswd\"",
        "\"setup-timezone\"",
        "chpasswd -e",
        "apt-get -y",
    ] {
        assert_eq!(offenders(program, &["cloudconfig/ostype.rs"]), Vec::<String>::new(), "{program}");
    }
}

#[test]
fn every_source_file_opens_with_a_module_paragraph_and_nothing_is_unsafe() {
    for (f, code) in src() {
        assert!(code.starts_with("//!"), "src/{f} does not open with a //! paragraph");
        for kw in ["unsafe {", "unsafe fn", "unsafe impl", "unsafe extern"] {
            assert!(!code.contains(kw), "src/{f} uses unsafe");
        }
    }
}

/// Raw strings (`r#"…"#`) removed: the bash halves held in Rust constants.
fn without_raw_strings(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(i) = rest.find("r#\"") {
        out.push_str(&rest[..i]);
        match rest[i..].find("\"#") {
            Some(j) => rest = &rest[i + j + 2..],
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// Every bash helper the script defines is used — by the template, by
/// another helper, or by the Rust that writes script text — and is defined
/// once: no half without the other.
#[test]
fn every_bash_helper_is_defined_once_and_used() {
    let helpers = lxops::runtime::bash_helpers().join("");
    let mut defined: Vec<String> = Vec::new();
    for line in helpers.lines() {
        if let Some((name, _)) = line.split_once("() {")
            && name.starts_with("lxops_")
            && !name.contains(' ')
        {
            assert!(!defined.contains(&name.to_string()), "{name} is defined twice");
            defined.push(name.to_string());
        }
    }
    assert!(defined.len() >= 20, "only {} helpers found", defined.len());
    let template = std::fs::read_to_string(root().join("templates/script.sh.j2")).unwrap();
    let rust: String = src().into_iter().map(|(_, c)| without_raw_strings(&c)).collect();
    let calls: String = helpers.lines().filter(|l| !l.contains("() {")).collect::<Vec<_>>().join("\n");
    let mut unused = Vec::new();
    for name in &defined {
        let word = |text: &str| {
            text.match_indices(name.as_str()).any(|(i, _)| {
                let after = text[i + name.len()..].chars().next();
                !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        };
        if !(word(&template) || word(&rust) || word(&calls)) {
            unused.push(name.clone());
        }
    }
    assert!(unused.is_empty(), "bash helpers defined but never used: {unused:?}");
}
