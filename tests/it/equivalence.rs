//! The script and `--execute` are two runtimes of one plan: run both with
//! logging stand-ins first on PATH and require the same commands (argv and
//! input, in order), the same exit status, the same trace (`LXOPS_TRACE`)
//! and the same progress lines on stderr (durations aside, and the resume
//! command, which necessarily differs).
//!
//! Every `plan` line of every fixture is run both ways and must reach the
//! end its line expects: the last step by default, the preflight with
//! `EXPECT=preflight`, a failing step with `EXPECT=failure`. The stand-ins
//! (`tests/stubs/stub.sh`) change nothing on the host; the line's `STUB_*`
//! variables decide what they answer.

use crate::fixtures::{TempDir, cases, copy_dir, expand, place, root, words};
use std::path::Path;
use std::process::Command;

pub const STUBS: &[&str] = &[
    "incus",
    "lxc",
    "zfs",
    "rsync",
    "sudo",
    "chown",
    "mkdir",
    "rm",
    "mv",
    "date",
    "ssh",
    "tar",
    "sh",
    "sha256sum",
    "find",
    "od",
    "mktemp",
];

/// A directory holding the stand-ins under their program names.
pub fn stub_dir(tmp: &Path) -> std::path::PathBuf {
    let bin = tmp.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for s in STUBS {
        let to = bin.join(s);
        if !to.exists() {
            std::fs::copy(root().join("tests/stubs/stub.sh"), to).unwrap();
        }
    }
    bin
}

/// A stand-in log record: the argv (program first) and stdin as base64.
pub type Record = (Vec<String>, String);

/// Parses a stand-in log into records.
pub fn parse_log(bytes: &[u8]) -> Vec<Record> {
    let mut fields = bytes.split(|b| *b == 0).map(|f| String::from_utf8_lossy(f).to_string());
    let mut out = Vec::new();
    while let Some(n) = fields.next() {
        let Ok(n) = n.parse::<usize>() else { break };
        let argv: Vec<String> = (0..=n).map(|_| fields.next().unwrap_or_default()).collect();
        let stdin = fields.next().unwrap_or_default();
        out.push((argv, stdin));
    }
    out
}

/// What one runtime did.
#[derive(Debug, Clone)]
pub struct Side {
    pub log: Vec<Record>,
    /// Each instance's commands (in a plan of several, `LXOPS_UNIT`).
    pub unit_logs: std::collections::BTreeMap<String, Vec<Record>>,
    pub status: i32,
    pub stderr: String,
    pub trace: String,
}

pub struct Both {
    pub script: Side,
    pub execute: Side,
    /// Run with `-j N` (N > 1): instances interleave.
    pub parallel: bool,
}

/// Runs `lxops ARGS` both as a script (bash) and with `--execute`.
pub fn run_both(dir: &Path, cwd: &Path, env: &[(String, String)], args: &[String]) -> Both {
    run_both_with(dir, cwd, env, args, None)
}

/// What a test does to a running side: given its process id and its
/// stand-in log, send it signals.
pub type Interrupt<'a> = &'a (dyn Fn(u32, &Path) + Sync);

/// [`run_both`], with `interrupt` running beside each side.
pub fn run_both_with(
    dir: &Path,
    cwd: &Path,
    env: &[(String, String)],
    args: &[String],
    interrupt: Option<Interrupt>,
) -> Both {
    let bin = stub_dir(dir);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let lxops = env!("CARGO_BIN_EXE_lxops");
    let base = |c: &mut Command| {
        c.current_dir(cwd)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir.join("xdg"))
            .env("LXOPS_BACKEND", "incus")
            .env("LXOPS_LOCK_DIR", dir)
            .env("LXOPS_LOG_DIR", dir.join("unit-logs"))
            .envs(env.iter().cloned());
    };
    let mut make = Command::new(lxops);
    base(&mut make);
    let out = make.arg("script").args(args).output().unwrap();
    assert!(out.status.success(), "lxops script {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let script = dir.join("run.sh");
    std::fs::write(&script, &out.stdout).unwrap();
    let side = |name: &str, c: &mut Command| -> Side {
        let log = dir.join(format!("{name}.log"));
        let trace = dir.join(format!("{name}.trace"));
        let _ = std::fs::remove_file(&log);
        let _ = std::fs::remove_file(log.with_extension("log.count"));
        for f in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
            if f.file_name().to_string_lossy().starts_with(&format!("{name}.log.unit.")) {
                let _ = std::fs::remove_file(f.path());
            }
        }
        let _ = std::fs::remove_file(&trace);
        c.env("LXOPS_STUB_LOG", &log).env("LXOPS_TRACE", &trace);
        c.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = c.spawn().unwrap();
        let pid = child.id();
        let o = std::thread::scope(|s| {
            if let Some(f) = interrupt {
                let log = log.clone();
                s.spawn(move || f(pid, &log));
            }
            child.wait_with_output().unwrap()
        });
        let mut unit_logs = std::collections::BTreeMap::new();
        for f in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
            let n = f.file_name().to_string_lossy().to_string();
            if let Some(unit) = n.strip_prefix(&format!("{name}.log.unit.")) {
                unit_logs.insert(unit.to_string(), parse_log(&std::fs::read(f.path()).unwrap_or_default()));
            }
        }
        Side {
            log: parse_log(&std::fs::read(&log).unwrap_or_default()),
            unit_logs,
            status: o.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&o.stderr).to_string(),
            trace: std::fs::read_to_string(&trace).unwrap_or_default(),
        }
    };
    let mut sh = Command::new("bash");
    base(&mut sh);
    let s = side("script", sh.arg(&script).arg("--yes"));
    let mut ex = Command::new(lxops);
    base(&mut ex);
    let mut e = side("execute", ex.args(args).arg("--execute").arg("--yes"));
    // Warnings of the compilation come first; the script printed them when it was made.
    let warnings = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        e.stderr.starts_with(&warnings),
        "--execute warns as lxops script does:\n{warnings}\n---\n{}",
        e.stderr
    );
    e.stderr = e.stderr[warnings.len()..].to_string();
    let parallel = args.windows(2).any(|w| (w[0] == "-j" || w[0] == "--jobs") && w[1] != "1");
    Both { script: s, execute: e, parallel }
}

/// Progress lines with what must differ masked: durations, and the command
/// a hint suggests for resuming.
pub fn comparable(stderr: &str) -> String {
    let mut out = String::new();
    for line in stderr.lines() {
        let line = match line.find("then resume with: ") {
            Some(i) => &line[..i + "then resume with:".len()],
            None => line,
        };
        let mut s = String::new();
        let b = line.as_bytes();
        let mut i = 0;
        // `<digits>.<two digits> s` → `X s`
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if b[i..].len() >= 5
                    && b[i] == b'.'
                    && b[i + 1].is_ascii_digit()
                    && b[i + 2].is_ascii_digit()
                    && &b[i + 3..i + 5] == b" s"
                {
                    s.push_str("X s");
                    i += 5;
                    continue;
                }
                s.push_str(&line[start..i]);
                continue;
            }
            let ch = line[i..].chars().next().unwrap();
            s.push(ch);
            i += ch.len_utf8();
        }
        out.push_str(&s);
        out.push('\n');
    }
    out
}

/// Every way the two runtimes differ.
pub fn differences(b: &Both) -> Vec<String> {
    if b.parallel {
        return parallel_differences(b);
    }
    let (s, e) = (&b.script, &b.execute);
    let mut d = Vec::new();
    if s.log != e.log {
        d.push(format!("commands differ:\n  script:  {:?}\n  execute: {:?}", s.log, e.log));
    }
    if s.status != e.status {
        d.push(format!("exit status: script {} vs execute {}", s.status, e.status));
    }
    if s.trace != e.trace {
        d.push(format!("traces differ:\n--- script\n{}--- execute\n{}", s.trace, e.trace));
    }
    if comparable(&s.stderr) != comparable(&e.stderr) {
        d.push(format!("stderr differs:\n--- script\n{}--- execute\n{}", s.stderr, e.stderr));
    }
    d
}

/// Instances run at once interleave differently each time: compare each
/// instance's share of the commands, the trace and the output (and the
/// lines of the run itself), and the commands as a whole as a multiset.
fn parallel_differences(b: &Both) -> Vec<String> {
    let (s, e) = (&b.script, &b.execute);
    let mut d = Vec::new();
    let sorted = |l: &Vec<Record>| {
        let mut v = l.clone();
        v.sort();
        v
    };
    if sorted(&s.log) != sorted(&e.log) {
        d.push(format!("commands differ (as multisets):\n  script:  {:?}\n  execute: {:?}", s.log, e.log));
    }
    if s.unit_logs != e.unit_logs {
        d.push(format!(
            "an instance's commands differ:\n  script:  {:?}\n  execute: {:?}",
            s.unit_logs, e.unit_logs
        ));
    }
    if s.status != e.status {
        d.push(format!("exit status: script {} vs execute {}", s.status, e.status));
    }
    // Trace records name their unit second (step, undo, cleanup, message,
    // downtime); facts, checks and the end are the run's.
    let by_unit = |t: &str| {
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for l in t.lines() {
            let mut f = l.split(' ');
            let kind = f.next().unwrap_or("");
            let key = match kind {
                "step" | "undo" | "cleanup" | "message" | "value" | "values" | "downtime" => {
                    f.next().unwrap_or("").to_string()
                }
                _ => String::new(),
            };
            m.entry(key).or_default().push(l.to_string());
        }
        m
    };
    if by_unit(&s.trace) != by_unit(&e.trace) {
        d.push(format!("traces differ per instance:\n--- script\n{}--- execute\n{}", s.trace, e.trace));
    }
    let by_prefix = |t: &str| {
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for l in comparable(t).lines() {
            let key = l.strip_prefix('[').and_then(|r| r.split_once("] ")).map(|(n, _)| n.to_string());
            m.entry(key.unwrap_or_default()).or_default().push(l.to_string());
        }
        m
    };
    if by_prefix(&s.stderr) != by_prefix(&e.stderr) {
        d.push(format!("stderr differs per instance:\n--- script\n{}--- execute\n{}", s.stderr, e.stderr));
    }
    d
}

/// Splits a fixture `plan` line into (cwd, env, lxops args).
type PlanLine = (std::path::PathBuf, Vec<(String, String)>, Vec<String>);

pub fn plan_line(dir: &Path, line: &str) -> Option<PlanLine> {
    let line = expand(line, dir);
    let mut w = words(&line);
    let mut cwd = dir.to_path_buf();
    let mut env = Vec::new();
    while let Some(first) = w.first().cloned() {
        if let Some(d) = first.strip_prefix("cd=") {
            cwd = dir.join(d);
        } else if first != "plan" && first.contains('=') {
            let (k, v) = first.split_once('=').unwrap();
            env.push((k.to_string(), v.to_string()));
        } else {
            break;
        }
        w.remove(0);
    }
    if w.first().map(|s| s.as_str()) != Some("plan") {
        return None;
    }
    Some((cwd, env, w[2..].to_vec()))
}

/// How a run ended, read from its trace.
fn ending(trace: &str) -> &'static str {
    let last = trace.lines().last().unwrap_or("");
    if last == "end ok" {
        "done"
    } else if trace.lines().any(|l| l.starts_with("check ") && l.ends_with(" failed")) {
        "preflight"
    } else if trace.lines().any(|l| l.starts_with("step ") && l.ends_with(" failed")) {
        "failure"
    } else {
        "other"
    }
}

#[test]
fn every_fixture_plan_runs_to_its_end_the_same_in_both_runtimes() {
    let mut compared = 0;
    let mut done = 0;
    let mut failures = Vec::new();
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let cmd = std::fs::read_to_string(case.join("cmd")).unwrap();
        for line in cmd.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            let tmp = TempDir::new(&format!("eq-{name}"));
            copy_dir(&case, &tmp.0);
            place(&tmp.0);
            let Some((cwd, env, args)) = plan_line(&tmp.0, line) else { continue };
            let expect = env.iter().find(|(k, _)| k == "EXPECT").map(|(_, v)| v.as_str()).unwrap_or("done");
            let both = run_both(&tmp.0, &cwd, &env, &args);
            compared += 1;
            let diffs = differences(&both);
            if !diffs.is_empty() {
                failures.push(format!("{name}: `{line}`\n{}", diffs.join("\n")));
                continue;
            }
            let got = ending(&both.script.trace);
            if got != expect {
                failures.push(format!(
                    "{name}: `{line}` ended with {got}, expected {expect}:\n{}",
                    both.script.stderr
                ));
            }
            if got == "done" {
                done += 1;
            }
        }
    }
    eprintln!("equivalence: {compared} fixture plans compared, {done} ran to their last step");
    assert!(failures.is_empty(), "{} of {compared} plans:\n\n{}", failures.len(), failures.join("\n\n"));
    assert!(compared >= 30, "only {compared} plans were compared");
    assert!(done >= 25, "only {done} plans ran to their last step");
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn hostile_values_reach_the_commands_as_data() {
    let case = root().join("fixtures/quoting");
    let tmp = TempDir::new("hostile");
    copy_dir(&case, &tmp.0);
    place(&tmp.0);
    let _ = std::fs::remove_file("/tmp/lxops-pwned");
    let _ = std::fs::remove_file("/tmp/lxops-pwned2");
    let args: Vec<String> =
        ["launch", "--no-wait-network", "web.yaml"].iter().map(|s| s.to_string()).collect();
    let both = run_both(&tmp.0, &tmp.0, &[], &args);
    assert!(differences(&both).is_empty(), "{:?}", differences(&both));
    assert_eq!((both.script.status, both.execute.status), (0, 0), "{}", both.script.stderr);
    let argvs: Vec<Vec<String>> = both.script.log.iter().map(|(a, _)| a.clone()).collect();
    let has =
        |want: &[&str]| argvs.iter().any(|a| a == &want.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let img = "img'1 $(touch /tmp/lxops-pwned) `touch /tmp/lxops-pwned2` *";
    assert!(
        has(&[
            "incus",
            "create",
            img,
            "web",
            "-p",
            "default",
            "-p",
            "web.lxops",
            "-c",
            "user.note=(note)",
            "--config",
            "user.lxops.launch=incomplete"
        ]),
        "{argvs:?}"
    );
    let weird = "/srv/a b'c$(d)*?[x]/web";
    assert!(has(&["mkdir", "-p", weird]), "{argvs:?}");
    let note = "line one\nline two; rm -rf / \"quoted\" 'single' $HOME";
    assert!(has(&["mkdir", "-p", &format!("{weird}/{note}")]), "{argvs:?}");
    assert!(has(&["incus", "exec", "web", "--", "printf", "%s\n", "a b", "$(c)", "'d'"]), "{argvs:?}");
    let push = both
        .script
        .log
        .iter()
        .find(|(a, _)| a.last().map(|l| l.ends_with("`y`.conf")).unwrap_or(false))
        .expect("the hostile file is pushed");
    assert_eq!(push.0.last().unwrap(), "web/etc/it's here/$(x) `y`.conf");
    let content = String::from_utf8(b64(&push.1)).unwrap();
    assert_eq!(
        content,
        "LXOPS_EOF\nLXOPS_EOF_2\n'single' \"double\" $(command) `backtick` ${var} \\ backslash\n* glob ? [x]\n"
    );
    let binary = both
        .script
        .log
        .iter()
        .find(|(a, _)| a.last().map(|l| l == "web/etc/binary").unwrap_or(false))
        .unwrap();
    assert_eq!(b64(&binary.1), vec![0u8, 1, 2, 0xfd, 0xfe, 0xff]);
    let empty = both
        .script
        .log
        .iter()
        .find(|(a, _)| a.last().map(|l| l == "web/etc/empty").unwrap_or(false))
        .unwrap();
    assert_eq!(empty.1, "");
    assert!(!Path::new("/tmp/lxops-pwned").exists() && !Path::new("/tmp/lxops-pwned2").exists());
}

#[test]
fn a_failed_rebuild_undoes_it_in_both_runtimes() {
    let case = root().join("fixtures/rebuild");
    let tmp = TempDir::new("rollback");
    copy_dir(&case, &tmp.0);
    place(&tmp.0);
    // The instance profile exists: the undo gives it its previous content.
    let before = "config: {}\ndescription: as it was\ndevices:\n  old:\n    path: /old\n    source: /srv/old\n    type: disk\nname: web1.lxops\nused_by: []";
    let env = vec![
        ("STUB_INSTANCES".to_string(), "web1,RUNNING".to_string()),
        ("STUB_PROFILES".to_string(), "web1.lxops".to_string()),
        ("STUB_PROFILE_SHOW".to_string(), before.to_string()),
        ("STUB_FAIL".to_string(), "file push".to_string()),
    ];
    let args: Vec<String> =
        ["rebuild", "-n", "web1", "web.yaml", "--no-wait-network"].iter().map(|s| s.to_string()).collect();
    let both = run_both(&tmp.0, &tmp.0, &env, &args);
    assert!(differences(&both).is_empty(), "{:?}", differences(&both));
    assert_eq!((both.script.status, both.execute.status), (1, 1));
    let argvs: Vec<String> = both.script.log.iter().map(|(a, _)| a.join(" ")).collect();
    let tail: Vec<&str> = argvs.iter().rev().take(5).rev().map(|s| s.as_str()).collect();
    assert_eq!(
        tail,
        vec![
            "incus delete --force web1",
            "incus profile edit web1.lxops",
            "incus config set web1-lxops-fallback volatile.eth0.hwaddr=10:66:6a:01:02:03 volatile.eth1.hwaddr=10:66:6a:04:05:06",
            "incus rename web1-lxops-fallback web1",
            "incus start web1",
        ]
    );
    let restored = &both.script.log[both.script.log.len() - 4];
    assert_eq!(String::from_utf8(b64(&restored.1)).unwrap(), format!("{before}\n"), "the profile as it was");
    assert!(
        !argvs.iter().any(|a| a == "incus delete web1-lxops-fallback"),
        "the fallback is kept: {argvs:?}"
    );
    for stderr in [&both.script.stderr, &both.execute.stderr] {
        assert!(stderr.contains("web1 is back on its old instance"), "{stderr}");
        assert!(stderr.contains("tank/web1@lxops-rebuild-20260101-000000"), "{stderr}");
    }
    assert!(both.script.trace.ends_with("end failed 1\n"), "{}", both.script.trace);
}

/// Runs lxops `--execute` with the stand-ins; (status, stderr, log).
fn execute_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (i32, String, Vec<Record>) {
    let bin = stub_dir(dir);
    let log = dir.join("exec-resume.log");
    let _ = std::fs::remove_file(&log);
    let e = Command::new(env!("CARGO_BIN_EXE_lxops"))
        .args(args)
        .current_dir(dir)
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("LXOPS_BACKEND", "incus")
        .env("LXOPS_LOCK_DIR", dir)
        .env("LXOPS_STUB_LOG", &log)
        .envs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .output()
        .unwrap();
    (
        e.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&e.stderr).to_string(),
        parse_log(&std::fs::read(&log).unwrap_or_default()),
    )
}

/// Runs a generated script with extra arguments, with the stand-ins first on PATH.
fn run_script_with(
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    script_args: &[&str],
) -> (i32, String, Vec<Record>) {
    let bin = stub_dir(dir);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(env!("CARGO_BIN_EXE_lxops"))
        .arg("script")
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("LXOPS_BACKEND", "incus")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(dir.join("resume.sh"), &out.stdout).unwrap();
    let log = dir.join("resume.log");
    let _ = std::fs::remove_file(&log);
    let r = Command::new("bash")
        .arg(dir.join("resume.sh"))
        .args(script_args)
        .current_dir(dir)
        .env("PATH", &path)
        .env("LXOPS_LOCK_DIR", dir)
        .env("LXOPS_STUB_LOG", &log)
        .envs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .output()
        .unwrap();
    (
        r.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&r.stderr).to_string(),
        parse_log(&std::fs::read(&log).unwrap_or_default()),
    )
}

/// Both runtimes refuse, the same way (exit 2, nothing run), to resume where
/// an earlier step computed values, at step 0, past the last step, or with a
/// step that is not a number.
#[test]
fn resuming_is_refused_alike_where_it_cannot_work() {
    let tmp = TempDir::new("resume");
    copy_dir(&root().join("fixtures/rebuild"), &tmp.0);
    place(&tmp.0);
    let env = [("STUB_INSTANCES", "web1,RUNNING")];
    let args = ["rebuild", "-n", "web1", "web.yaml", "--no-wait-network"];
    for from in ["10", "0", "99", "x", "web1:3"] {
        let (status, stderr, log) = run_script_with(&tmp.0, &env, &args, &["--from", from, "--yes"]);
        assert_eq!(status, 2, "script --from {from}: {stderr}");
        assert!(stderr.contains(&format!("cannot resume at {from}")), "{stderr}");
        assert!(log.is_empty(), "nothing ran: {log:?}");
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--execute", "--yes", "--from", from]);
        let (status, stderr, log) = execute_with(&tmp.0, &env, &a);
        assert_eq!(status, 2, "--execute --from {from}: {stderr}");
        assert!(stderr.contains(&format!("cannot resume at {from}")), "{stderr}");
        assert!(log.is_empty(), "nothing ran: {log:?}");
    }
}

#[test]
fn resuming_a_delete_skips_the_steps_before() {
    let tmp = TempDir::new("resume-delete");
    copy_dir(&root().join("fixtures/tutorial"), &tmp.0);
    place(&tmp.0);
    let env = [("STUB_INSTANCES", "ssh1,STOPPED"), ("STUB_PROFILES", "ssh1.lxops")];
    let (status, stderr, log) = run_script_with(
        &tmp.0,
        &env,
        &["delete", "-n", "ssh1", "containers/ssh.yaml"],
        &["--from", "2", "--yes"],
    );
    assert_eq!(status, 0, "{stderr}");
    let argvs: Vec<String> = log.iter().map(|(a, _)| a.join(" ")).collect();
    assert!(!argvs.iter().any(|a| a == "incus delete ssh1"), "step 1 was not run: {argvs:?}");
    assert!(argvs.iter().any(|a| a == "incus profile delete ssh1.lxops"), "{argvs:?}");
    assert!(stderr.contains("[1/2] delete instance ssh1 ... not run (resuming at 2)"), "{stderr}");
    let (e_status, e_stderr, e_log) = execute_with(
        &tmp.0,
        &env,
        &["delete", "-n", "ssh1", "containers/ssh.yaml", "--execute", "--yes", "--from", "2"],
    );
    assert_eq!(e_status, 0, "{e_stderr}");
    assert_eq!(e_log, log, "script and --execute resume alike");
    assert_eq!(comparable(&e_stderr), comparable(&stderr));
}

/// A failed `--execute --from N` suggests a command that resumes: the old
/// `--from` and its value are gone, not left behind as a CONFIG.
#[test]
fn the_resume_hint_is_a_command_that_works() {
    let tmp = TempDir::new("resume-hint");
    copy_dir(&root().join("fixtures/tutorial"), &tmp.0);
    place(&tmp.0);
    let env = [
        ("STUB_INSTANCES", "ssh1,STOPPED"),
        ("STUB_PROFILES", "ssh1.lxops"),
        ("STUB_FAIL", "profile delete"),
    ];
    let (status, stderr, _) = execute_with(
        &tmp.0,
        &env,
        &["delete", "-n", "ssh1", "containers/ssh.yaml", "--execute", "--yes", "--from", "2"],
    );
    assert_eq!(status, 1, "{stderr}");
    let hint = stderr
        .lines()
        .find_map(|l| l.split_once("then resume with: "))
        .map(|(_, c)| c.to_string())
        .expect("a resume hint");
    assert_eq!(hint, "lxops delete -n ssh1 containers/ssh.yaml --execute --yes --from 2");
    let (status, stderr, _) = execute_with(
        &tmp.0,
        &[("STUB_INSTANCES", "ssh1,STOPPED"), ("STUB_PROFILES", "ssh1.lxops")],
        &words(&hint)[1..].iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(status, 0, "{stderr}");
}

/// A rebuild of an instance that is already stopped measures no downtime in
/// either runtime (its stopwatch never started).
#[test]
fn no_downtime_without_a_stop() {
    let tmp = TempDir::new("downtime");
    copy_dir(&root().join("fixtures/rebuild"), &tmp.0);
    place(&tmp.0);
    let env = vec![("STUB_INSTANCES".to_string(), "web1,STOPPED".to_string())];
    let args: Vec<String> =
        ["rebuild", "-n", "web1", "web.yaml", "--no-wait-network"].iter().map(|s| s.to_string()).collect();
    let both = run_both(&tmp.0, &tmp.0, &env, &args);
    assert!(differences(&both).is_empty(), "{:?}", differences(&both));
    assert_eq!(both.script.status, 0, "{}", both.script.stderr);
    for s in [&both.script, &both.execute] {
        assert!(!s.stderr.contains("downtime"), "{}", s.stderr);
        assert!(!s.trace.contains("downtime"), "{}", s.trace);
    }
}

/// Same inputs, byte-identical plan and script: no clock, no randomness, no
/// map-order noise. Each rendering of every plan line is produced twice.
#[test]
fn the_same_inputs_give_byte_identical_output() {
    let mut compared = 0;
    for case in cases() {
        let tmp = TempDir::new("determinism");
        copy_dir(&case, &tmp.0);
        place(&tmp.0);
        let cmd = std::fs::read_to_string(case.join("cmd")).unwrap();
        for line in cmd.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            let Some((cwd, _, args)) = plan_line(&tmp.0, line) else { continue };
            for variant in
                [vec![], vec!["--format".to_string(), "json".to_string()], vec!["script".to_string()]]
            {
                let run = || {
                    let mut c = Command::new(env!("CARGO_BIN_EXE_lxops"));
                    if variant.first().map(|s| s.as_str()) == Some("script") {
                        c.arg("script").args(&args);
                    } else {
                        c.args(&args).args(&variant);
                    }
                    c.current_dir(&cwd)
                        .env("XDG_CONFIG_HOME", tmp.0.join("xdg"))
                        .env("LXOPS_BACKEND", "incus")
                        .output()
                        .unwrap()
                };
                let (a, b) = (run(), run());
                assert_eq!(a.stdout, b.stdout, "`{line}` {variant:?} differs between two runs");
                assert_eq!(a.status.code(), b.status.code());
                compared += 1;
            }
        }
    }
    assert!(compared >= 60, "only {compared} outputs compared");
}

/// Waits until the stand-in log at `log` holds `n` calls whose argv is `argv`.
fn wait_for_calls(log: &Path, argv: &[&str], n: usize) {
    let started = std::time::Instant::now();
    loop {
        let calls = parse_log(&std::fs::read(log).unwrap_or_default())
            .iter()
            .filter(|(a, _)| a.iter().map(String::as_str).eq(argv.iter().copied()))
            .count();
        if calls >= n {
            return;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "no {n} calls of {argv:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// SIGTERM in the middle of a rebuild runs the undo once, in both runtimes:
/// the old instance comes back, and the run exits 143. A second SIGTERM
/// during the undo is reported, and the undo goes on.
#[test]
fn an_interrupted_rebuild_undoes_it_once_in_both_runtimes() {
    let case = root().join("fixtures/rebuild");
    let tmp = TempDir::new("interrupt");
    copy_dir(&case, &tmp.0);
    place(&tmp.0);
    let env = vec![
        ("STUB_INSTANCES".to_string(), "web1,RUNNING".to_string()),
        ("STUB_PROFILES".to_string(), "web1.lxops".to_string()),
        ("STUB_SLEEP".to_string(), "incus start 2".to_string()),
    ];
    let args: Vec<String> =
        ["rebuild", "-n", "web1", "web.yaml", "--no-wait-network"].iter().map(|s| s.to_string()).collect();
    let term = |pid: u32| {
        let ok = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
        assert!(ok.success());
    };
    let interrupt = |pid: u32, log: &Path| {
        wait_for_calls(log, &["incus", "start", "web1"], 1);
        std::thread::sleep(std::time::Duration::from_millis(300));
        term(pid);
        // The undo starts the old instance again: a second signal then.
        wait_for_calls(log, &["incus", "rename", "web1-lxops-fallback", "web1"], 1);
        wait_for_calls(log, &["incus", "start", "web1"], 2);
        std::thread::sleep(std::time::Duration::from_millis(300));
        term(pid);
    };
    let both = run_both_with(&tmp.0, &tmp.0, &env, &args, Some(&interrupt));
    assert!(differences(&both).is_empty(), "{:?}", differences(&both));
    assert_eq!((both.script.status, both.execute.status), (143, 143));
    let argvs: Vec<String> = both.script.log.iter().map(|(a, _)| a.join(" ")).collect();
    let starts = argvs.iter().filter(|a| *a == "incus start web1").count();
    assert_eq!(starts, 2, "the new instance's start, then the undo's: {argvs:?}");
    assert!(argvs.iter().any(|a| a == "incus delete --force web1"), "the new instance goes: {argvs:?}");
    assert!(!argvs.iter().any(|a| a == "incus delete web1-lxops-fallback"), "the fallback stays: {argvs:?}");
    for side in [&both.script, &both.execute] {
        assert_eq!(side.stderr.matches("lxops: interrupted by SIGTERM").count(), 1, "{}", side.stderr);
        assert_eq!(
            side.stderr.matches("undoing the changes").count(),
            1,
            "the undo runs once: {}",
            side.stderr
        );
        assert!(side.stderr.contains("SIGTERM during the undo: the undo goes on"), "{}", side.stderr);
        assert!(side.stderr.contains("web1 is back on its old instance"), "{}", side.stderr);
        assert!(side.trace.ends_with("end failed 143\n"), "{}", side.trace);
    }
}

/// Plans whose every command gets a failure injected (fixture case, and a
/// text the `plan` line contains).
const FAULT_PLANS: &[(&str, &str)] = &[
    ("tutorial", "plan lxops --properties [FIXTURE]/xdg/lxops/fixture.yaml launch -n ssh1"),
    ("rebuild", "STUB_INSTANCES=web1,RUNNING plan lxops rebuild -n web1 web.yaml"),
    ("rename", "plan lxops rename"),
    ("tutorial", "plan lxops destroy"),
    ("images", "plan lxops extract -n alpine-ssh tpl.yaml"),
    ("images", "STUB_ALIASES='web-3-18,0123456789ab,CONTAINER,\\n' plan lxops publish --reuse"),
    ("data", "plan lxops import -d exported"),
    ("data", "--from-host backup1 -s s1"),
    ("profiles", "plan lxops profile import"),
];

/// A failure at every command of each plan above: both runtimes stop at the
/// same step, run the same undo and cleanup, say and trace the same, and
/// end with the same status.
#[test]
fn a_failure_at_every_command_is_handled_alike_by_both_runtimes() {
    let mut injected = 0;
    let mut failures = Vec::new();
    for (case_name, needle) in FAULT_PLANS {
        let case = root().join("fixtures").join(case_name);
        let cmd = std::fs::read_to_string(case.join("cmd")).unwrap();
        let line = cmd
            .lines()
            .map(str::trim)
            .find(|l| {
                !l.starts_with('#')
                    && !l.contains("EXPECT=")
                    && l.contains(needle)
                    && l.contains("plan lxops")
            })
            .unwrap_or_else(|| panic!("{case_name}: no plan line with {needle:?}"));
        let tmp = TempDir::new(&format!("fault-{case_name}"));
        copy_dir(&case, &tmp.0);
        place(&tmp.0);
        let (cwd, env, args) = plan_line(&tmp.0, line).unwrap();
        let clean = run_both(&tmp.0, &cwd, &env, &args);
        assert_eq!(clean.script.status, 0, "{line}: the plan runs to its end without a fault");
        let calls = clean.script.log.len();
        assert!(calls > 0, "{line}");
        eprintln!("faults: {calls:3} injected into {}", args.join(" "));
        for k in 1..=calls {
            let mut env = env.clone();
            env.push(("STUB_FAIL_AT".to_string(), k.to_string()));
            let both = run_both(&tmp.0, &cwd, &env, &args);
            injected += 1;
            let diffs = differences(&both);
            if !diffs.is_empty() {
                failures.push(format!("{line} (call {k} fails):\n{}", diffs.join("\n")));
            }
            if both.script.status != both.execute.status {
                failures.push(format!(
                    "{line} (call {k} fails): exit {} vs {}",
                    both.script.status, both.execute.status
                ));
            }
        }
    }
    eprintln!("faults: {injected} failures injected over {} plans", FAULT_PLANS.len());
    assert!(failures.is_empty(), "{} of {injected}:\n{}", failures.len(), failures.join("\n\n"));
}
