//! Fixture folders → snapshots.
//!
//! A case is `fixtures/<case>/` with a `cmd` file: one lxops command line per
//! line (`#` starts a comment). A line may start with `cd=DIR` (run in that
//! sub-directory) and `KEY=VALUE` words (environment). Each case is copied to
//! a fresh temporary directory first, so commands that write files leave the
//! fixture untouched. `XDG_CONFIG_HOME` is the case's `xdg/` folder and
//! `HOME` the case directory, so no host setting leaks in. The temporary path
//! is shown as `[FIXTURE]` in snapshots, and the same path without its
//! leading `/` as `[FIXTURE-DS]`: a ZFS dataset named `[FIXTURE-DS]/x` has
//! its directory `/[FIXTURE-DS]/x` inside the case, so plans that check
//! template directories of ZFS filesystems can run to their end. Cases named
//! `error-*` must exit 2 with nothing on stdout for every line.
//!
//! A line `plan lxops ARGS` stands for three runs: the listing (`lxops ARGS`),
//! the JSON (`--format json`) and the script (`lxops script ARGS`). Every
//! script is checked with `bash -n` and `shellcheck -s bash` (required when
//! `REQUIRE_SHELLCHECK=1`), and `equivalence` runs it against `--execute`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Splits a command line into words, honouring single and double quotes.
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n)
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                have = true
            }
            (None, c) if c.is_whitespace() => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            (None, c) => {
                cur.push(c);
                have = true
            }
        }
    }
    if have {
        out.push(cur);
    }
    out
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// `[FIXTURE]` and `[FIXTURE-DS]` in `text` replaced for the case copy `dir`.
pub fn expand(text: &str, dir: &Path) -> String {
    let d = dir.display().to_string();
    text.replace("[FIXTURE-DS]", d.trim_start_matches('/')).replace("[FIXTURE]", &d)
}

/// The case copy's paths in `text` shown as `[FIXTURE]` and `[FIXTURE-DS]`.
pub fn unexpand(text: &str, dir: &Path) -> String {
    let d = dir.display().to_string();
    text.replace(&d, "[FIXTURE]").replace(d.trim_start_matches('/'), "[FIXTURE-DS]")
}

/// Replaces `[FIXTURE]` in the case's text files with the copy's path, so
/// configs can point at directories of the case.
pub fn place(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            place(&p);
        } else if let Ok(text) = std::fs::read_to_string(&p)
            && text.contains("[FIXTURE")
        {
            std::fs::write(&p, expand(&text, &dir_root(&p))).unwrap();
        }
    }
}

/// A scratch directory removed on drop. Always under /tmp with fixed-width
/// numbers, so paths (and byte counts in snapshots) have the same length on
/// every run, whatever TMPDIR says.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::path::Path::new("/tmp").join(format!(
            "lxops-it-{:010}-{:05}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The case copy a file belongs to: the ancestor holding the `cmd` file.
fn dir_root(p: &Path) -> PathBuf {
    p.ancestors().find(|a| a.join("cmd").is_file()).unwrap_or(p).to_path_buf()
}

pub struct Run {
    pub line: String,
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    /// stdout before `[FIXTURE]` replaced the case's path.
    pub raw_stdout: String,
}

/// Runs one `cmd` line in `dir` (the copied case).
pub fn run_line(dir: &Path, line: &str) -> Run {
    let shown = line;
    let line = expand(line, dir);
    let mut w = words(&line);
    let mut cwd = dir.to_path_buf();
    let mut env = Vec::new();
    while let Some(first) = w.first() {
        if let Some(d) = first.strip_prefix("cd=") {
            cwd = dir.join(d);
        } else if first.contains('=') && !first.starts_with('-') {
            let (k, v) = first.split_once('=').unwrap();
            env.push((k.to_string(), expand(v, dir)));
        } else {
            break;
        }
        w.remove(0);
    }
    assert_eq!(w.first().map(|s| s.as_str()), Some("lxops"), "a cmd line runs lxops: {line}");
    // STUBS=1: the logging stand-ins answer for the server (queries read it).
    let mut path = std::env::var("PATH").unwrap_or_default();
    if env.iter().any(|(k, v)| k == "STUBS" && v == "1") {
        path = format!("{}:{path}", crate::equivalence::stub_dir(dir).display());
        env.push(("LXOPS_STUB_LOG".into(), dir.join("stub.log").display().to_string()));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_lxops"))
        .args(&w[1..])
        .current_dir(&cwd)
        .env_clear()
        .env("PATH", path)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("HOME", dir)
        .env("LXOPS_BACKEND", "incus")
        .envs(env)
        .output()
        .expect("run lxops");
    let fix = |b: &[u8]| unexpand(&String::from_utf8_lossy(b), dir);
    Run {
        line: shown.to_string(),
        raw_stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        status: out.status.code().unwrap_or(-1),
        stdout: fix(&out.stdout),
        stderr: fix(&out.stderr),
    }
}

/// Renders a case's runs as its snapshot text.
fn render(runs: &[Run]) -> String {
    let mut s = String::new();
    for r in runs {
        s.push_str(&format!("$ {}\n[exit {}]\n", r.line, r.status));
        s.push_str(&r.stdout);
        if !r.stdout.is_empty() && !r.stdout.ends_with('\n') {
            s.push_str("\n[no newline at end]\n");
        }
        if !r.stderr.is_empty() {
            s.push_str("--- stderr\n");
            s.push_str(&r.stderr);
            if !r.stderr.ends_with('\n') {
                s.push('\n');
            }
        }
        s.push('\n');
    }
    s
}

pub fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("cmd").is_file())
        .collect();
    v.sort();
    v
}

pub fn run_case(case: &Path) -> (TempDir, Vec<Run>) {
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let tmp = TempDir::new(&name);
    copy_dir(case, &tmp.0);
    place(&tmp.0);
    let cmd = std::fs::read_to_string(case.join("cmd")).unwrap();
    let mut runs = Vec::new();
    for l in cmd.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        match l.find("plan lxops ") {
            Some(i) if words(&l[..i]).iter().all(|w| w.contains('=')) => {
                let (prefix, args) = (&l[..i], &l[i + "plan lxops ".len()..]);
                runs.push(run_line(&tmp.0, &format!("{prefix}lxops {args}")));
                runs.push(run_line(&tmp.0, &format!("{prefix}lxops {args} --format json")));
                runs.push(run_line(&tmp.0, &format!("{prefix}lxops script {args}")));
            }
            _ => runs.push(run_line(&tmp.0, l)),
        }
    }
    (tmp, runs)
}

#[test]
fn fixtures() {
    let mut failures = Vec::new();
    let cases = cases();
    assert!(cases.len() > 10, "fixtures/ has the cases");
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let (_tmp, runs) = run_case(&case);
        if name.starts_with("error-") {
            for r in &runs {
                if r.status != 2 || !r.stdout.is_empty() || !r.stderr.starts_with("error: ") {
                    failures.push(format!("{name}: `{}` must exit 2 with an error and no stdout", r.line));
                }
            }
        }
        for r in runs.iter().filter(|r| r.status == 0 && r.stdout.starts_with("#!/usr/bin/env bash")) {
            if let Err(e) = lint_script(&r.raw_stdout) {
                failures.push(format!("{name}: `{}`: {e}", r.line));
            }
        }
        let text = render(&runs);
        let res = std::panic::catch_unwind(|| {
            insta::with_settings!({
                snapshot_path => root().join("snapshots"),
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => format!("fixtures/{name}"),
            }, {
                insta::assert_snapshot!(name.clone(), text);
            });
        });
        if res.is_err() {
            failures.push(format!("{name}: snapshot differs"));
        }
    }
    assert!(failures.is_empty(), "fixture failures:\n{}", failures.join("\n"));
}

/// `bash -n` always; shellcheck when installed, and it must be when
/// `REQUIRE_SHELLCHECK=1`.
pub fn lint_script(text: &str) -> Result<(), String> {
    use std::io::Write;
    let run = |prog: &str, args: &[&str]| -> Option<std::process::Output> {
        let mut c = Command::new(prog)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        Some(c.wait_with_output().unwrap())
    };
    // Every helper the script calls is defined in it (the renderer records
    // the calls as it writes them; this checks the record).
    for h in lxops::runtime::script::helper_calls(text) {
        if !text.contains(&format!("\n{h}() {{")) {
            return Err(format!("the script calls {h} but does not define it"));
        }
    }
    let out = run("bash", &["-n"]).expect("bash runs");
    if !out.status.success() {
        return Err(format!("bash -n: {}", String::from_utf8_lossy(&out.stderr)));
    }
    match run("shellcheck", &["-s", "bash", "-"]) {
        Some(out) if out.status.success() => Ok(()),
        Some(out) => Err(format!("shellcheck:\n{}", String::from_utf8_lossy(&out.stdout))),
        None if std::env::var("REQUIRE_SHELLCHECK").as_deref() == Ok("1") => {
            Err("shellcheck is required (REQUIRE_SHELLCHECK=1) but not installed".into())
        }
        None => {
            eprintln!("note: shellcheck is not installed; only bash -n checked the scripts");
            Ok(())
        }
    }
}

#[test]
fn no_orphan_snapshots() {
    let names: Vec<String> =
        cases().iter().map(|c| format!("{}.snap", c.file_name().unwrap().to_string_lossy())).collect();
    for e in std::fs::read_dir(root().join("snapshots")).unwrap() {
        let f = e.unwrap().file_name().to_string_lossy().to_string();
        // server-calls.snap is the table of tests/it/calls.rs.
        if f.ends_with(".snap") && f != "server-calls.snap" {
            assert!(names.contains(&f), "snapshots/{f} has no fixture; delete it");
        }
    }
}

#[test]
fn words_split_like_a_shell() {
    assert_eq!(words(r#"a 'b c' "d\"e" f"#), vec!["a", "b c", "d\"e", "f"]);
    assert_eq!(words("x ''"), vec!["x", ""]);
}
