//! The operator's shell: completions, man pages, `--version`, the exit
//! status table, and friendly usage errors.
//!
//! The bash completion is sourced in a real bash and asked what it completes;
//! the fish completion and the man pages are snapshots (`snapshots/cli/`), so
//! they change only when the command line does, and the change is reviewed.

use crate::fixtures::{TempDir, root};
use std::process::Command;

fn lxops(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lxops")).args(args).output().unwrap()
}

/// What the bash completion offers for `words` (the last one being completed):
/// `_lxops`'s answer, or when it has none, file names, as bash does for the
/// `-o default` the script registers.
fn complete(script: &std::path::Path, cwd: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; \
         _lxops lxops '{}' '{}'; \
         if [ ${{#COMPREPLY[@]}} = 0 ] && complete -p lxops | grep -q -- '-o default'; then \
           mapfile -t COMPREPLY < <(compgen -f -- '{}'); fi; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        line.len(),
        words[words.len() - 1],
        words[words.len() - 2],
        words[words.len() - 1],
    );
    let out = Command::new("bash").arg("-c").arg(program).current_dir(cwd).output().unwrap();
    assert!(out.status.success(), "bash: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_bash_completion_completes_commands_flags_files_and_values() {
    let tmp = TempDir::new("completion");
    let script = tmp.0.join("lxops.bash");
    let out = lxops(&["completions", "bash"]);
    assert!(out.status.success());
    std::fs::write(&script, &out.stdout).unwrap();
    std::fs::write(tmp.0.join("web1.yaml"), "#lxops-v1\n").unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (&["lxops", "reb"], &["rebuild"]),
        (&["lxops", "rebuild", "--sk"], &["--skip-profiles", "--skip-ip"]),
        (&["lxops", "--backend", ""], &["incus", "lxd"]),
        (&["lxops", "cloudconfig", "--ostype", "alp"], &["alpine"]),
        (&["lxops", "launch", "we"], &["web1.yaml"]),
        (&["lxops", "completions", ""], &["bash", "zsh", "fish"]),
    ];
    for (words, want) in cases {
        let got = complete(&script, &tmp.0, words);
        for w in *want {
            assert!(got.iter().any(|g| g == w), "`{}<TAB>` offers {got:?}, not {w}", words.join(" "));
        }
    }
}

#[test]
fn completions_and_man_pages_are_the_reviewed_ones() {
    let fish = lxops(&["completions", "fish"]);
    assert!(fish.status.success());
    let zsh = lxops(&["completions", "zsh"]);
    assert!(zsh.status.success() && zsh.stdout.starts_with(b"#compdef lxops"));
    let tmp = TempDir::new("man");
    let out = lxops(&["man", tmp.0.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&tmp.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    // One page per command: every command word of `lxops --help` has one.
    let help = String::from_utf8_lossy(&lxops(&["--help"]).stdout).to_string();
    let commands: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 20, "{commands:?}");
    for c in &commands {
        assert!(names.contains(&format!("lxops-{c}.1")), "no man page for {c}: {names:?}");
    }
    let rebuild = std::fs::read_to_string(tmp.0.join("lxops-rebuild.1")).unwrap();
    assert!(rebuild.starts_with(".ie") || rebuild.contains(".TH lxops-rebuild"), "{rebuild}");
    insta::with_settings!({
        snapshot_path => root().join("snapshots/cli"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("completions-fish", String::from_utf8_lossy(&fish.stdout));
        insta::assert_snapshot!("man-pages", names.join("\n"));
        insta::assert_snapshot!("man-lxops-rebuild", rebuild);
    });
}

#[test]
fn version_names_the_build() {
    let out = lxops(&["--version"]);
    let v = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(v.starts_with(&format!("lxops {}", env!("CARGO_PKG_VERSION"))), "{v}");
    // Built from a git work tree (as here and in CI): the commit too.
    if root().join(".git").exists() {
        assert!(v.contains(" (commit "), "{v}");
    }
}

#[test]
fn the_exit_statuses_are_documented_alike() {
    let help = String::from_utf8_lossy(&lxops(&["--help"]).stdout).to_string();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for code in ["0", "1", "2", "3", "4", "128+N"] {
        assert!(help.lines().any(|l| l.trim_start().starts_with(&format!("{code} "))), "--help lacks {code}");
        assert!(readme.contains(&format!("| {code} |")), "README's table lacks {code}");
    }
}

#[test]
fn usage_mistakes_are_usage_errors() {
    // No config where configs are needed: exit 2, nothing on stdout.
    for args in [
        &["i", "verify"][..],
        &["i", "devices"],
        &["config", "includes"],
        &["config", "convert"],
        &["launch"],
    ] {
        let out = lxops(args);
        assert_eq!(out.status.code(), Some(2), "lxops {args:?}");
        assert!(out.stdout.is_empty(), "lxops {args:?}");
    }
    // lxops alone: a short overview, exit 2.
    let out = lxops(&[]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("lxops launch") && text.contains("lxops script"), "{text}");
    // A misspelt command or flag: the closest one is suggested.
    let out = lxops(&["rebuidl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rebuild"));
    let out = lxops(&["rebuild", "--skip-profile", "x.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--skip-profiles"));
    // A config that is neither a file nor NAME.yaml: the paths tried.
    let tmp = TempDir::new("missing");
    let out = Command::new(env!("CARGO_BIN_EXE_lxops"))
        .args(["i", "verify", "web9"])
        .current_dir(&tmp.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tried web9, web9.yaml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_examples_are_commands_that_work() {
    // Under `script`, no example runs --execute (script refuses it); each
    // example line stands on its own.
    let help = String::from_utf8_lossy(&lxops(&["script", "--help"]).stdout).to_string();
    let commands: Vec<String> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() > 15, "{commands:?}");
    for c in &commands {
        let text = String::from_utf8_lossy(&lxops(&["help", "script", c]).stdout).to_string();
        for l in text.lines().filter(|l| l.starts_with("Example:")) {
            assert!(!l.contains("--execute"), "lxops help script {c}: {l}");
            assert!(l.starts_with(&format!("Example: lxops script {c}")), "lxops help script {c}: {l}");
        }
    }
    let launch = String::from_utf8_lossy(&lxops(&["help", "launch"]).stdout).to_string();
    let example = launch.lines().find(|l| l.starts_with("Example:")).unwrap();
    assert_eq!(example.matches("lxops launch").count(), 1, "{example}");
}

/// Runs `lxops ARGS` on a pseudo-terminal (util-linux `script`), in the
/// tutorial fixture; returns what the terminal showed.
fn on_terminal(env: &[(&str, &str)], args: &str) -> String {
    let dir = root().join("fixtures/tutorial");
    let line = format!("{} {args}", env!("CARGO_BIN_EXE_lxops"));
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(&dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("LXOPS_BACKEND", "incus")
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .expect("util-linux script runs");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn colour_on_a_terminal_only_and_never_in_scripts_or_json() {
    const ESC: char = '\u{1b}';
    let listing = "launch -n ssh1 containers/ssh.yaml";
    assert!(on_terminal(&[], listing).contains(ESC), "no colour on a terminal");
    assert!(!on_terminal(&[("NO_COLOR", "1")], listing).contains(ESC), "NO_COLOR is ignored");
    assert!(!on_terminal(&[], &format!("{listing} --color never")).contains(ESC), "--color never is ignored");
    assert!(
        !on_terminal(&[], &format!("script {listing} --color always")).contains(ESC),
        "a coloured script"
    );
    assert!(
        !on_terminal(&[], &format!("{listing} --format json --color always")).contains(ESC),
        "coloured JSON"
    );
    let err = on_terminal(&[], "i verify nonexistent");
    assert!(err.contains(&format!("{ESC}[1;31merror:")), "errors stand out: {err:?}");
    // In a pipe: plain, unless asked.
    let dir = root().join("fixtures/tutorial");
    let piped = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_lxops"))
            .args(["launch", "-n", "ssh1", "containers/ssh.yaml"])
            .args(extra)
            .current_dir(&dir)
            .env("XDG_CONFIG_HOME", dir.join("xdg"))
            .env("LXOPS_BACKEND", "incus")
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert!(!piped(&[]).contains(ESC), "colour in a pipe");
    assert!(piped(&["--color", "always"]).contains(ESC), "--color always is ignored in a pipe");
}

#[test]
fn queries_print_json_of_the_documented_shape() {
    let dir = root().join("fixtures/tutorial");
    let run = |args: &[&str]| -> serde_json::Value {
        let o = Command::new(env!("CARGO_BIN_EXE_lxops"))
            .args(args)
            .arg("--format")
            .arg("json")
            .current_dir(&dir)
            .env("XDG_CONFIG_HOME", dir.join("xdg"))
            .env("LXOPS_BACKEND", "incus")
            .output()
            .unwrap();
        assert!(o.status.success(), "lxops {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("lxops {args:?}: {e}"));
        assert_eq!(v["format_version"], 1, "lxops {args:?}");
        v
    };
    let cfg = "containers/ssh.yaml";
    // (arguments, top key, the fields of each record when the value is a list of objects)
    let cases: &[(&[&str], &str, &[&str])] = &[
        (&["i", "verify", cfg], "instances", &["name"]),
        (&["i", "description", cfg], "instances", &["name", "description"]),
        (&["i", "project", cfg], "instances", &["name", "project"]),
        (&["i", "properties", cfg], "instances", &["name", "properties"]),
        (&["i", "filesystems", cfg], "instances", &["name", "filesystems"]),
        (&["i", "devices", cfg], "instances", &["name", "devices"]),
        (&["config", "properties", cfg], "properties", &[]),
        (&["config", "includes", cfg], "files", &[]),
        (&["config", "cloud-config", cfg], "files", &[]),
        (&["config", "packages", cfg], "packages", &[]),
        (&["property", "list"], "properties", &[]),
        (&["ostypes"], "ostypes", &[]),
    ];
    for (args, key, fields) in cases {
        let v = run(args);
        let value = &v[*key];
        assert!(!value.is_null(), "lxops {args:?} has no {key}");
        for record in value.as_array().into_iter().flatten().filter(|r| r.is_object()) {
            for f in *fields {
                assert!(record.get(*f).is_some(), "lxops {args:?}: a record lacks {f}: {record}");
            }
        }
    }
    let d = run(&["i", "devices", cfg]);
    let dev = &d["instances"][0]["devices"][0];
    for f in ["name", "source", "path", "dir", "filesystem"] {
        assert!(dev.get(f).is_some(), "a device lacks {f}: {dev}");
    }
    let f = run(&["i", "filesystems", cfg]);
    let fs = &f["instances"][0]["filesystems"][0];
    for k in ["id", "path", "pattern", "zfs", "destroy", "transient"] {
        assert!(fs.get(k).is_some(), "a filesystem lacks {k}: {fs}");
    }
    let p = run(&["config", "packages", "templates/ssh.yaml"]);
    assert_eq!(p["packages"], serde_json::json!(["dhcpcd", "openssh"]));
}

#[test]
fn long_waits_show_a_status_line_on_a_terminal_only() {
    let tmp = TempDir::new("status");
    std::fs::write(tmp.0.join("web1.yaml"), "#lxops-v1\nostype: alpine\nimage: tiny\n").unwrap();
    let bin = crate::equivalence::stub_dir(&tmp.0);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let lxops = env!("CARGO_BIN_EXE_lxops");
    let made = Command::new(lxops)
        .args(["script", "launch", "--wait-network", "2", "web1.yaml"])
        .current_dir(&tmp.0)
        .env("LXOPS_BACKEND", "incus")
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    std::fs::write(tmp.0.join("run.sh"), &made.stdout).unwrap();
    let run = |line: &str, tty: bool| -> String {
        let mut c = if tty {
            let mut c = Command::new("script");
            c.args(["-qec", line, "/dev/null"]);
            c
        } else {
            let mut c = Command::new("bash");
            c.args(["-c", line]);
            c
        };
        let o = c
            .current_dir(&tmp.0)
            .env("PATH", &path)
            .env("LXOPS_BACKEND", "incus")
            .env("LXOPS_LOCK_DIR", &tmp.0)
            .env("LXOPS_STUB_LOG", tmp.0.join("stub.log"))
            .env("STUB_N4", "")
            .env("TERM", "xterm")
            .output()
            .unwrap();
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    };
    let execute = format!("{lxops} launch --execute --wait-network 2 web1.yaml");
    for line in [execute.as_str(), "bash run.sh"] {
        let shown = run(line, true);
        assert!(
            shown.contains("\r    waiting for an IPv4 address of web1: 1 s"),
            "{line} on a terminal: {shown:?}"
        );
        assert!(shown.contains("no IPv4 address for web1 after 2 s"), "{line}: {shown:?}");
        let plain = run(line, false);
        assert!(!plain.contains("waiting for"), "{line} in a pipe: {plain:?}");
        assert!(plain.contains("no IPv4 address for web1 after 2 s"), "{line}: {plain:?}");
    }
}

#[test]
fn destructive_plans_ask_on_a_terminal_listing_the_steps() {
    let tmp = TempDir::new("confirm");
    let cfg = "#lxops-v1\nimage: tiny\nfilesystems:\n  d:\n    pattern: (root)/(instance)\n    destroy: true\ndevices:\n  home:\n    path: /home\n    filesystem: d\n";
    std::fs::write(tmp.0.join("w.yaml"), cfg).unwrap();
    std::fs::create_dir_all(tmp.0.join("w/home")).unwrap();
    let bin = crate::equivalence::stub_dir(&tmp.0);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let lxops = env!("CARGO_BIN_EXE_lxops");
    let root_prop = format!("root={}", tmp.0.display());
    let made = Command::new(lxops)
        .args(["script", "destroy", "-P", &root_prop, "w.yaml"])
        .current_dir(&tmp.0)
        .env("LXOPS_BACKEND", "incus")
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    std::fs::write(tmp.0.join("run.sh"), &made.stdout).unwrap();
    let execute = format!("{lxops} destroy --execute -P '{root_prop}' w.yaml");
    for line in [execute.as_str(), "bash run.sh"] {
        // On a terminal: the question lists the steps; anything but yes cancels.
        let o = Command::new("bash")
            .args(["-c", &format!("printf 'no\\n' | script -qec \"{line}\" /dev/null")])
            .current_dir(&tmp.0)
            .env("PATH", &path)
            .env("LXOPS_BACKEND", "incus")
            .env("LXOPS_LOCK_DIR", &tmp.0)
            .env("LXOPS_STUB_LOG", tmp.0.join("stub.log"))
            .env("STUB_INSTANCES", "w,STOPPED")
            .env("STUB_PROFILES", "w.lxops")
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(shown.contains("destructive steps:"), "{line}: {shown:?}");
        assert!(shown.contains(". delete instance w"), "{line}: the steps are not listed: {shown:?}");
        assert!(shown.contains("cancelled; nothing was changed"), "{line}: {shown:?}");
    }
}
