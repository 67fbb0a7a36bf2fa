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

/// Every command object (`argv`) in a JSON plan, and every condition key.
fn walk<'a>(v: &'a serde_json::Value, cmds: &mut Vec<&'a serde_json::Value>, keys: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if m.contains_key("argv") {
                cmds.push(v);
            }
            for (k, x) in m {
                keys.push(k.clone());
                walk(x, cmds, keys);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, cmds, keys)),
        _ => {}
    }
}

/// On a cluster, no host-side command runs on the host that runs lxops: in
/// the cluster fixture's plans, every command but the client's and the
/// clock's has an ssh destination, and no file test is evaluated locally.
#[test]
fn cluster_units_run_no_host_command_locally() {
    let case = root().join("fixtures/cluster");
    let runs: [&[&str]; 10] = [
        &["launch", "-P", "host-ssh=root@srv1", "-n", "web4", "single.yaml"],
        &["launch", "-n", "web1", "web.yaml"],
        &["launch", "-n", "web2", "auto.yaml"],
        &["rebuild", "-n", "web1", "web.yaml"],
        &["rebuild", "-n", "web2", "auto.yaml"],
        &["rebuild", "--native", "-n", "web2", "auto.yaml"],
        &["destroy", "-n", "web1", "web.yaml"],
        &["snapshot", "-s", "s1", "-c", "-n", "web2", "auto.yaml"],
        &["rollback", "-s", "s1", "--force", "-n", "web1", "web.yaml"],
        &["create-devices", "-n", "web1", "web.yaml"],
    ];
    for args in runs {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lxops"))
            .args(args)
            .args(["--format", "json", "-P", "root=/srv/data"])
            .env("XDG_CONFIG_HOME", case.join("xdg"))
            .env("HOME", &case)
            .env_remove("LXOPS_BACKEND")
            .current_dir(&case)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (mut cmds, mut keys) = (Vec::new(), Vec::new());
        walk(&plan, &mut cmds, &mut keys);
        let mut remote = 0;
        for c in cmds {
            let program = c["argv"][0].as_str().unwrap_or_default();
            if ["incus", "lxc", "date"].contains(&program) {
                continue;
            }
            assert!(c.get("host").is_some_and(|h| !h.is_null()), "{args:?}: runs locally: {c}");
            remote += 1;
        }
        assert!(remote > 0, "{args:?}: no command on the member");
        for k in ["dir_exists", "file_exists", "empty_or_absent", "real_dir"] {
            assert!(!keys.iter().any(|x| x == k), "{args:?}: a local file test ({k}) in a unit");
        }
    }
}
