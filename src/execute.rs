//! `--execute`: run a plan's steps on this host, exactly as its script would.
//!
//! Same programs check, locks, facts, preflight checks, guards, variables and
//! commands in the same order as the rendered script; commands run with
//! `std::process::Command` from their argv (never through a shell), with
//! `sudo -n` in front of host commands that need root when lxops is not root.
//! Progress goes to stderr as `[k/n] title … ok 0.42s`. The first failure
//! stops the run, naming the step, the command, its exit status and the end
//! of its stderr, and saying how to resume. This is the only module (with the
//! rebuild fallback it calls) that starts processes.

use crate::plan::backend::find_program;
use crate::plan::model::{Action, Cmd, Cond, Part, Plan, Step, Timer, Word};
use crate::render::shell;
use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where `ForEach` keeps its current element (not a name the plan can use).
const ITEM: &str = " item";

/// A run-time failure: exit status 1.
#[derive(Debug)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

struct Output {
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// The state of one run: facts and variables, like the script's shell variables.
pub struct Runner {
    sudo: bool,
    vars: HashMap<String, String>,
    lists: HashMap<String, Vec<String>>,
    timers: HashMap<String, (Option<Instant>, Option<Instant>)>,
    _locks: Vec<std::fs::File>,
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

impl Runner {
    fn expand(&self, c: &Cmd) -> Vec<String> {
        let mut argv: Vec<String> = Vec::new();
        if c.root && self.sudo {
            argv.push("sudo".into());
            argv.push("-n".into());
        }
        for w in &c.argv {
            if let [Part::List(v)] = w.0.as_slice() {
                argv.extend(self.lists.get(v).cloned().unwrap_or_default());
                continue;
            }
            argv.push(self.word(w));
        }
        argv
    }

    fn word(&self, w: &Word) -> String {
        let mut s = String::new();
        for p in &w.0 {
            match p {
                Part::Lit(l) => s.push_str(l),
                Part::Var(v) => s.push_str(self.vars.get(v).map(|x| x.as_str()).unwrap_or("")),
                Part::List(v) => s.push_str(&self.lists.get(v).cloned().unwrap_or_default().join(" ")),
                Part::Item => s.push_str(self.vars.get(ITEM).map(|x| x.as_str()).unwrap_or("")),
            }
        }
        s
    }

    fn run(&self, c: &Cmd) -> Result<Output, RunError> {
        let argv = self.expand(c);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if c.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child =
            cmd.spawn().map_err(|e| RunError(format!("cannot run {}: {e}", shell::display(c))))?;
        if let Some(bytes) = &c.stdin {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            let bytes = bytes.clone();
            // Write from a thread so a child that prints before reading cannot deadlock us.
            let writer = std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
            let out = child.wait_with_output().map_err(|e| RunError(e.to_string()))?;
            let _ = writer.join();
            return Ok(Output { status: out.status.code(), stdout: out.stdout, stderr: out.stderr });
        }
        let out = child.wait_with_output().map_err(|e| RunError(e.to_string()))?;
        Ok(Output { status: out.status.code(), stdout: out.stdout, stderr: out.stderr })
    }

    fn eval(&self, c: &Cond) -> Result<bool, RunError> {
        Ok(match c {
            Cond::DirExists(p) => std::path::Path::new(p).is_dir(),
            Cond::Var(v) => self.vars.get(v).map(|x| x == "1").unwrap_or(false),
            Cond::FactLine { fact, line } => self.fact(fact).lines().any(|l| l == line),
            Cond::FactField { fact, key, value } => self.fact(fact).lines().any(|l| {
                let mut f = l.split(',');
                f.next() == Some(key.as_str()) && f.next() == Some(value.as_str())
            }),
            Cond::FactKey { fact, key } => {
                self.fact(fact).lines().any(|l| l.split(',').next() == Some(key.as_str()))
            }
            Cond::Succeeds(cmd) => self.run(cmd).map(|o| o.status == Some(0)).unwrap_or(false),
            Cond::ListEmpty(v) => self.lists.get(v).is_none_or(|l| l.is_empty()),
            Cond::Not(i) => !self.eval(i)?,
            Cond::And(v) => {
                for x in v {
                    if !self.eval(x)? {
                        return Ok(false);
                    }
                }
                true
            }
            Cond::Or(v) => {
                for x in v {
                    if self.eval(x)? {
                        return Ok(true);
                    }
                }
                false
            }
        })
    }

    fn fact(&self, name: &str) -> &str {
        self.vars.get(name).map(|s| s.as_str()).unwrap_or("")
    }
}

fn tail(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let lines: Vec<&str> = s.lines().collect();
    let start = lines.len().saturating_sub(10);
    lines[start..].iter().map(|l| format!("    | {l}\n")).collect()
}

/// Runs `plan` from step `from` (1-based). `resume` is the command line to
/// suggest, with `{}` where the step number goes.
pub fn execute(plan: &Plan, from: usize, resume: &str) -> Result<(), RunError> {
    if from > 1 && (from > plan.steps.len() || !plan.resumable(from)) {
        return Err(RunError(format!(
            "cannot resume at step {from}: {}",
            if from > plan.steps.len() {
                format!("the plan has {} steps", plan.steps.len())
            } else {
                "an earlier step computes values it needs; run the whole command again".to_string()
            }
        )));
    }
    let mut err = std::io::stderr().lock();
    for p in &plan.programs {
        if find_program(p).is_none() {
            return Err(RunError(format!("required program not found: {p}")));
        }
    }
    let sudo = !is_root();
    if sudo && find_program("sudo").is_none() {
        return Err(RunError("not root and sudo is not installed".into()));
    }
    let mut runner = Runner {
        sudo,
        vars: HashMap::new(),
        lists: HashMap::new(),
        timers: HashMap::new(),
        _locks: Vec::new(),
    };
    let lockdir = std::env::var("LXOPS_LOCK_DIR").unwrap_or_else(|_| "/run/lock".into());
    for name in &plan.instances {
        let path = format!("{lockdir}/lxops-{name}.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| RunError(format!("cannot open lock file {path}: {e}")))?;
        if f.try_lock().is_err() {
            return Err(RunError(format!("another lxops run holds the lock for instance {name}")));
        }
        runner._locks.push(f);
    }
    for f in &plan.facts {
        let out = runner.run(&f.cmd)?;
        if out.status != Some(0) {
            return Err(RunError(format!(
                "cannot run {}: is the server reachable?\n{}",
                shell::display(&f.cmd),
                tail(&out.stderr)
            )));
        }
        runner
            .vars
            .insert(f.var.clone(), String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_string());
    }
    let mut failed = false;
    for c in &plan.checks {
        if c.state && from > 1 {
            continue;
        }
        if !runner.eval(&c.ok)? {
            let _ = writeln!(err, "error: {}\n  hint: {}", c.error, c.hint);
            failed = true;
        }
    }
    if failed {
        return Err(RunError("preflight failed; nothing was changed".into()));
    }
    let n = plan.steps.len();
    for (i, step) in plan.steps.iter().enumerate() {
        let k = i + 1;
        if k < from {
            let _ = writeln!(err, "[{k}/{n}] {} ... not run (resuming at {from})", step.title);
            continue;
        }
        let _ = write!(err, "[{k}/{n}] {} ... ", step.title);
        let _ = err.flush();
        if let Some(c) = &step.skip_if
            && runner.eval(c)?
        {
            let _ = writeln!(err, "skipped: {}", step.skip_note.as_deref().unwrap_or(""));
            continue;
        }
        let t = Instant::now();
        if let Some(Timer::Start(name)) = &step.timer {
            runner.timers.entry(name.clone()).or_default().0 = Some(t);
        }
        if let Err(e) = run_step(&mut runner, step) {
            let _ = writeln!(err, "FAILED");
            let _ = writeln!(err, "error: step {k} failed: {}\n{e}", step.title);
            drop(err);
            let hint = if rollback(&runner, plan, k) || !plan.resumable(k) {
                "fix the cause, then run the command again".to_string()
            } else {
                format!("fix the cause, then resume with: {}", resume.replace("{}", &k.to_string()))
            };
            return Err(RunError(format!("step {k} failed: {}\n  hint: {hint}", step.title)));
        }
        for v in &step.sets {
            runner.vars.insert(v.clone(), "1".into());
        }
        if let Some(Timer::Stop(name)) = &step.timer {
            runner.timers.entry(name.clone()).or_default().1 = Some(Instant::now());
        }
        let _ = writeln!(err, "ok {:.2}s", t.elapsed().as_secs_f64());
    }
    let _ = writeln!(err, "done: {n} steps");
    for s in &plan.steps {
        if let Some(Timer::Start(t)) = &s.timer
            && let Some((Some(a), Some(b))) = runner.timers.get(t)
        {
            let _ = writeln!(err, "downtime {t}: {:.2} s", b.duration_since(*a).as_secs_f64());
        }
    }
    Ok(())
}

/// Undoes what the rollbacks covering step `k` describe, as the script's
/// `lxops_rollback` does. Returns whether anything was rolled back.
fn rollback(r: &Runner, plan: &Plan, k: usize) -> bool {
    let mut err = std::io::stderr().lock();
    let mut any = false;
    for rb in plan.rollbacks.iter().filter(|rb| rb.first <= k && k <= rb.last) {
        let _ = writeln!(err, "rolling back {}:", rb.instance);
        for (cmd, cond) in &rb.cmds {
            if let Some(c) = cond
                && !r.eval(c).unwrap_or(false)
            {
                continue;
            }
            match r.run(cmd) {
                Ok(o) if o.status == Some(0) => {}
                _ => {
                    let _ = writeln!(err, "    rollback command failed: {}", shell::display(cmd));
                }
            }
        }
        let msg: String = rb.message.iter().map(|w| r.word(w)).collect();
        let _ = writeln!(err, "{msg}");
        any = true;
    }
    any
}

fn failure(c: &Cmd, argv: &[String], out: &Output) -> RunError {
    let status = out.status.map(|s| s.to_string()).unwrap_or_else(|| "killed by a signal".into());
    let _ = c;
    RunError(format!(
        "  command: {}\n  exit status: {status}\n{}",
        argv.iter().map(|a| shell::quote(a)).collect::<Vec<_>>().join(" "),
        tail(if out.stderr.is_empty() { &out.stdout } else { &out.stderr })
    ))
}

fn run_checked(r: &Runner, c: &Cmd) -> Result<Output, RunError> {
    let out = r.run(c)?;
    if out.status != Some(0) {
        return Err(failure(c, &r.expand(c), &out));
    }
    Ok(out)
}

fn run_step(r: &mut Runner, step: &Step) -> Result<(), RunError> {
    match &step.action {
        Action::Run(cmds) => {
            for c in cmds {
                run_checked(r, c)?;
            }
        }
        Action::Capture { cmd, outputs } => {
            let out = run_checked(r, cmd)?;
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            for (var, parse) in outputs {
                let v = parse.apply(&text);
                let _ = write!(std::io::stderr(), "{var}={} ", v.join(" "));
                if parse.is_list() {
                    r.lists.insert(var.clone(), v);
                } else {
                    r.vars.insert(var.clone(), v.into_iter().next().unwrap_or_default());
                }
            }
        }
        Action::WaitNetwork { show, list, instance, seconds } => {
            let out = run_checked(r, show)?;
            let text = String::from_utf8_lossy(&out.stdout);
            if !text.lines().any(|l| l.trim_start() == "type: nic" && l.starts_with(char::is_whitespace)) {
                let _ = write!(std::io::stderr(), "(no network interface) ");
                return Ok(());
            }
            for _ in 0..*seconds {
                if let Ok(out) = r.run(list)
                    && let Some(ip) = ipv4_of(&String::from_utf8_lossy(&out.stdout), instance)
                {
                    let _ = write!(std::io::stderr(), "{ip} ");
                    return Ok(());
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            return Err(RunError(format!("no IPv4 address for {instance} after {seconds} s")));
        }
        Action::ForEach { list, unless_in, cmd, collect, tolerant } => {
            let items = r.lists.get(list).cloned().unwrap_or_default();
            let mut done = Vec::new();
            for item in items {
                if let Some(f) = unless_in
                    && r.fact(f).lines().any(|l| l.split(',').next() == Some(item.as_str()))
                {
                    continue;
                }
                r.vars.insert(ITEM.to_string(), item.clone());
                if *tolerant {
                    if r.run(cmd).map(|o| o.status != Some(0)).unwrap_or(true) {
                        let _ = write!(std::io::stderr(), "(failed: {item}) ");
                        continue;
                    }
                } else {
                    run_checked(r, cmd)?;
                }
                done.push(item);
            }
            if let Some(c) = collect {
                r.lists.insert(c.clone(), done);
            }
        }
        Action::WaitReady { probe, seconds } => {
            for _ in 0..*seconds {
                if r.run(probe).map(|o| o.status == Some(0)).unwrap_or(false) {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            return Err(RunError(format!("the instance did not answer within {seconds} s")));
        }
    }
    Ok(())
}

/// The first IPv4 address on `name`'s line of `list -f csv -c n4` output.
pub fn ipv4_of(csv: &str, name: &str) -> Option<String> {
    let line = csv.lines().find(|l| l.split(',').next() == Some(name))?;
    let rest = &line[name.len() + 1..];
    rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|t| t.split('.').count() == 4 && t.split('.').all(|o| !o.is_empty() && o.parse::<u8>().is_ok()))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_ipv4() {
        assert_eq!(super::ipv4_of("c1,\"10.77.0.5 (eth0)\"\n", "c1"), Some("10.77.0.5".into()));
        assert_eq!(super::ipv4_of("c10,\"10.77.0.5 (eth0)\"\nc1,\n", "c1"), None);
    }
}
