//! Fixture folders → snapshots.
//!
//! A case is `fixtures/<case>/` with a `cmd` file: one lxops command line per
//! line (`#` starts a comment). A line may start with `cd=DIR` (run in that
//! sub-directory) and `KEY=VALUE` words (environment). Each case is copied to
//! a fresh temporary directory first, so commands that write files leave the
//! fixture untouched. `XDG_CONFIG_HOME` is the case's `xdg/` folder and
//! `HOME` the case directory, so no host setting leaks in. The temporary path
//! is shown as `[FIXTURE]` in snapshots. Cases named `error-*` must exit 2
//! with nothing on stdout for every line.

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

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "lxops-it-{}-{}-{tag}",
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

pub struct Run {
    pub line: String,
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs one `cmd` line in `dir` (the copied case).
pub fn run_line(dir: &Path, line: &str) -> Run {
    let mut w = words(line);
    let mut cwd = dir.to_path_buf();
    let mut env = Vec::new();
    while let Some(first) = w.first() {
        if let Some(d) = first.strip_prefix("cd=") {
            cwd = dir.join(d);
        } else if first.contains('=') && !first.starts_with('-') {
            let (k, v) = first.split_once('=').unwrap();
            env.push((k.to_string(), v.replace("[FIXTURE]", &dir.display().to_string())));
        } else {
            break;
        }
        w.remove(0);
    }
    assert_eq!(w.first().map(|s| s.as_str()), Some("lxops"), "a cmd line runs lxops: {line}");
    let out = Command::new(env!("CARGO_BIN_EXE_lxops"))
        .args(&w[1..])
        .current_dir(&cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("HOME", dir)
        .env("LXOPS_BACKEND", "incus")
        .envs(env)
        .output()
        .expect("run lxops");
    let fix = |b: &[u8]| String::from_utf8_lossy(b).replace(&dir.display().to_string(), "[FIXTURE]");
    Run {
        line: line.to_string(),
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
    let cmd = std::fs::read_to_string(case.join("cmd")).unwrap();
    let runs = cmd
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| run_line(&tmp.0, l))
        .collect();
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

#[test]
fn no_orphan_snapshots() {
    let names: Vec<String> =
        cases().iter().map(|c| format!("{}.snap", c.file_name().unwrap().to_string_lossy())).collect();
    for e in std::fs::read_dir(root().join("snapshots")).unwrap() {
        let f = e.unwrap().file_name().to_string_lossy().to_string();
        if f.ends_with(".snap") {
            assert!(names.contains(&f), "snapshots/{f} has no fixture; delete it");
        }
    }
}

#[test]
fn words_split_like_a_shell() {
    assert_eq!(words(r#"a 'b c' "d\"e" f"#), vec!["a", "b c", "d\"e", "f"]);
    assert_eq!(words("x ''"), vec!["x", ""]);
}
