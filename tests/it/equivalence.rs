//! The script and `--execute` are two renderings of one plan: run both with
//! logging stand-ins first on PATH and require the same commands, with the
//! same argv and input, in the same order.
//!
//! Every `plan` line of every fixture whose plan compiles is run both ways.
//! The stand-ins (`tests/stubs/stub.sh`) change nothing on the host; the
//! line's `STUB_*` variables decide what they answer.

use crate::fixtures::{TempDir, cases, copy_dir, place, root, words};
use std::path::Path;
use std::process::Command;

pub const STUBS: &[&str] = &["incus", "lxc", "zfs", "rsync", "sudo", "chown", "mkdir", "rm", "mv", "date"];

/// A directory holding the stand-ins under their program names.
pub fn stub_dir(tmp: &Path) -> std::path::PathBuf {
    let bin = tmp.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for s in STUBS {
        std::fs::copy(root().join("tests/stubs/stub.sh"), bin.join(s)).unwrap();
    }
    bin
}

/// Parses a stand-in log into (argv, stdin) records.
pub fn parse_log(bytes: &[u8]) -> Vec<(Vec<String>, String)> {
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

pub struct Both {
    pub script_log: Vec<(Vec<String>, String)>,
    pub execute_log: Vec<(Vec<String>, String)>,
    pub script_status: i32,
    pub execute_status: i32,
    pub script_stderr: String,
    pub execute_stderr: String,
}

/// Runs `lxops ARGS` both as a script (bash) and with `--execute`.
pub fn run_both(dir: &Path, cwd: &Path, env: &[(String, String)], args: &[String]) -> Both {
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
            .envs(env.iter().cloned());
    };
    let mut make = Command::new(lxops);
    base(&mut make);
    let out = make.arg("script").args(args).output().unwrap();
    assert!(out.status.success(), "lxops script {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let script = dir.join("run.sh");
    std::fs::write(&script, &out.stdout).unwrap();

    let slog = dir.join("script.log");
    let mut sh = Command::new("bash");
    base(&mut sh);
    let s = sh.arg(&script).arg("--yes").env("LXOPS_STUB_LOG", &slog).output().unwrap();
    // `--yes` is only understood by scripts with destructive steps.
    let s = if !s.status.success() && String::from_utf8_lossy(&s.stderr).contains("unknown argument: --yes") {
        let mut sh = Command::new("bash");
        base(&mut sh);
        sh.arg(&script).env("LXOPS_STUB_LOG", &slog).output().unwrap()
    } else {
        s
    };
    let elog = dir.join("execute.log");
    let mut ex = Command::new(lxops);
    base(&mut ex);
    let e = ex.args(args).arg("--execute").env("LXOPS_STUB_LOG", &elog).output().unwrap();
    Both {
        script_log: parse_log(&std::fs::read(&slog).unwrap_or_default()),
        execute_log: parse_log(&std::fs::read(&elog).unwrap_or_default()),
        script_status: s.status.code().unwrap_or(-1),
        execute_status: e.status.code().unwrap_or(-1),
        script_stderr: String::from_utf8_lossy(&s.stderr).to_string(),
        execute_stderr: String::from_utf8_lossy(&e.stderr).to_string(),
    }
}

/// Splits a fixture `plan` line into (cwd, env, lxops args).
/// Where a plan line runs, its environment, and its lxops arguments.
type PlanLine = (std::path::PathBuf, Vec<(String, String)>, Vec<String>);

pub fn plan_line(dir: &Path, line: &str) -> Option<PlanLine> {
    let line = line.replace("[FIXTURE]", &dir.display().to_string());
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

#[test]
fn script_and_execute_run_the_same_commands() {
    let mut compared = 0;
    let mut failures = Vec::new();
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let cmd = std::fs::read_to_string(case.join("cmd")).unwrap();
        for line in cmd.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            let tmp = TempDir::new(&format!("eq-{name}"));
            copy_dir(&case, &tmp.0);
            place(&tmp.0);
            let Some((cwd, env, args)) = plan_line(&tmp.0, line) else { continue };
            // Plans that do not compile are error fixtures; nothing to run.
            let check = Command::new(env!("CARGO_BIN_EXE_lxops"))
                .args(&args)
                .current_dir(&cwd)
                .env("XDG_CONFIG_HOME", tmp.0.join("xdg"))
                .env("LXOPS_BACKEND", "incus")
                .output()
                .unwrap();
            if !check.status.success() {
                continue;
            }
            let both = run_both(&tmp.0, &cwd, &env, &args);
            compared += 1;
            if both.script_log != both.execute_log || both.script_status != both.execute_status {
                failures.push(format!(
                    "{name}: `{line}`\n  script (exit {}): {:?}\n  {}\n  execute (exit {}): {:?}\n  {}",
                    both.script_status,
                    both.script_log,
                    both.script_stderr,
                    both.execute_status,
                    both.execute_log,
                    both.execute_stderr
                ));
            }
        }
    }
    assert!(compared >= 5, "only {compared} plans were compared");
    assert!(failures.is_empty(), "script and --execute differ:\n{}", failures.join("\n\n"));
}

fn b64(s: &str) -> Vec<u8> {
    let out = Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut child = out.unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    child.wait_with_output().unwrap().stdout
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
    assert_eq!(both.script_log, both.execute_log);
    assert_eq!((both.script_status, both.execute_status), (0, 0), "{}", both.script_stderr);
    let argvs: Vec<Vec<String>> = both.script_log.iter().map(|(a, _)| a.clone()).collect();
    let has =
        |want: &[&str]| argvs.iter().any(|a| a == &want.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let img = "img'1 $(touch /tmp/lxops-pwned) `touch /tmp/lxops-pwned2` *";
    assert!(
        has(&["incus", "create", img, "web", "-p", "default", "-p", "web.lxops", "-c", "user.note=(note)"]),
        "{argvs:?}"
    );
    let weird = "/srv/a b'c$(d)*?[x]/web";
    assert!(has(&["mkdir", "-p", weird]), "{argvs:?}");
    let note = "line one\nline two; rm -rf / \"quoted\" 'single' $HOME";
    assert!(has(&["mkdir", "-p", &format!("{weird}/{note}")]), "{argvs:?}");
    assert!(has(&["incus", "exec", "web", "--", "printf", "%s\n", "a b", "$(c)", "'d'"]), "{argvs:?}");
    let push = both
        .script_log
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
        .script_log
        .iter()
        .find(|(a, _)| a.last().map(|l| l == "web/etc/binary").unwrap_or(false))
        .unwrap();
    assert_eq!(b64(&binary.1), vec![0u8, 1, 2, 0xfd, 0xfe, 0xff]);
    let empty = both
        .script_log
        .iter()
        .find(|(a, _)| a.last().map(|l| l == "web/etc/empty").unwrap_or(false))
        .unwrap();
    assert_eq!(empty.1, "");
    assert!(!Path::new("/tmp/lxops-pwned").exists() && !Path::new("/tmp/lxops-pwned2").exists());
}

#[test]
fn a_failed_rebuild_rolls_back_to_the_old_instance_in_both_renderings() {
    let case = root().join("fixtures/rebuild");
    let tmp = TempDir::new("rollback");
    copy_dir(&case, &tmp.0);
    place(&tmp.0);
    let env = vec![
        ("STUB_INSTANCES".to_string(), "web1,RUNNING".to_string()),
        ("STUB_FAIL".to_string(), "file push".to_string()),
    ];
    let args: Vec<String> =
        ["rebuild", "-n", "web1", "web.yaml", "--no-wait-network"].iter().map(|s| s.to_string()).collect();
    let both = run_both(&tmp.0, &tmp.0, &env, &args);
    assert_eq!(both.script_log, both.execute_log);
    assert_eq!((both.script_status, both.execute_status), (1, 1));
    let argvs: Vec<String> = both.script_log.iter().map(|(a, _)| a.join(" ")).collect();
    let tail: Vec<&str> = argvs.iter().rev().take(4).rev().map(|s| s.as_str()).collect();
    assert_eq!(
        tail,
        vec![
            "incus delete --force web1",
            "incus config set web1-lxops-fallback volatile.eth0.hwaddr=10:66:6a:01:02:03 volatile.eth1.hwaddr=10:66:6a:04:05:06",
            "incus rename web1-lxops-fallback web1",
            "incus start web1",
        ]
    );
    assert!(
        !argvs.iter().any(|a| a == "incus delete web1-lxops-fallback"),
        "the fallback is kept: {argvs:?}"
    );
    for stderr in [&both.script_stderr, &both.execute_stderr] {
        assert!(stderr.contains("web1 is back on its old instance (started)"), "{stderr}");
        assert!(stderr.contains("tank/web1@lxops-rebuild-20260101-000000"), "{stderr}");
    }
}

/// Runs a generated script with extra arguments, with the stand-ins first on PATH.
fn run_script_with(
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    script_args: &[&str],
) -> (i32, String, Vec<(Vec<String>, String)>) {
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

#[test]
fn resuming_is_refused_where_earlier_steps_computed_values() {
    let tmp = TempDir::new("resume");
    copy_dir(&root().join("fixtures/rebuild"), &tmp.0);
    place(&tmp.0);
    let env = [("STUB_INSTANCES", "web1,RUNNING")];
    let args = ["rebuild", "-n", "web1", "web.yaml", "--no-wait-network"];
    // Step 10 assigns the profiles captured by step 1: a resumed run would not have them.
    let (status, stderr, log) = run_script_with(&tmp.0, &env, &args, &["--from", "10", "--yes"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("cannot resume at step 10"), "{stderr}");
    assert!(log.is_empty(), "nothing ran: {log:?}");
    let e = Command::new(env!("CARGO_BIN_EXE_lxops"))
        .args(args)
        .args(["--execute", "--from", "10"])
        .current_dir(&tmp.0)
        .env("XDG_CONFIG_HOME", tmp.0.join("xdg"))
        .env("LXOPS_BACKEND", "incus")
        .output()
        .unwrap();
    assert_eq!(e.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&e.stderr).contains("cannot resume at step 10"));
}

#[test]
fn resuming_a_delete_skips_the_steps_before() {
    let tmp = TempDir::new("resume-delete");
    copy_dir(&root().join("fixtures/tutorial"), &tmp.0);
    place(&tmp.0);
    let env = vec![
        ("STUB_INSTANCES".to_string(), "ssh1,STOPPED".to_string()),
        ("STUB_PROFILES".to_string(), "ssh1.lxops".to_string()),
    ];
    let (status, stderr, log) = run_script_with(
        &tmp.0,
        &[("STUB_INSTANCES", "ssh1,STOPPED"), ("STUB_PROFILES", "ssh1.lxops")],
        &["delete", "-n", "ssh1", "containers/ssh.yaml"],
        &["--from", "2", "--yes"],
    );
    assert_eq!(status, 0, "{stderr}");
    let argvs: Vec<String> = log.iter().map(|(a, _)| a.join(" ")).collect();
    assert!(!argvs.iter().any(|a| a == "incus delete ssh1"), "step 1 was not run: {argvs:?}");
    assert!(argvs.iter().any(|a| a == "incus profile delete ssh1.lxops"), "{argvs:?}");
    let bin = stub_dir(&tmp.0);
    let elog = tmp.0.join("exec-resume.log");
    let e = Command::new(env!("CARGO_BIN_EXE_lxops"))
        .args(["delete", "-n", "ssh1", "containers/ssh.yaml", "--execute", "--from", "2"])
        .current_dir(&tmp.0)
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .env("XDG_CONFIG_HOME", tmp.0.join("xdg"))
        .env("LXOPS_BACKEND", "incus")
        .env("LXOPS_LOCK_DIR", &tmp.0)
        .env("LXOPS_STUB_LOG", &elog)
        .envs(env)
        .output()
        .unwrap();
    assert_eq!(e.status.code(), Some(0), "{}", String::from_utf8_lossy(&e.stderr));
    assert_eq!(parse_log(&std::fs::read(&elog).unwrap()), log, "script and --execute resume alike");
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
