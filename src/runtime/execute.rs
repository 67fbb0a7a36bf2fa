//! The Rust driver: `--execute` runs a plan on this host exactly as its
//! script would (the bash driver is [`crate::runtime::script`]).
//!
//! Same order: required programs, sudo, locks, facts, preflight checks
//! (not when resuming), then each unit's steps; on a failure the unit's undo
//! and cleanup, then the hint. Commands run from their argv, never through
//! a shell. Progress, failures and the trace are the script's, line for
//! line; only the way to resume differs (an lxops command line instead of
//! `bash SCRIPT --from …`).

use crate::plan::model::{Plan, Resume};
use crate::render::style::Style;
use crate::runtime::script::{done, fact_error, lock_file};
use crate::runtime::text::{show, text};
use crate::runtime::unit::StepEnd;
use crate::runtime::{RunError, Runner, find_program};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// How to run a plan of several instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOpts {
    /// At most this many units at once.
    pub jobs: usize,
    /// After a unit fails, start no more.
    pub fail_fast: bool,
}

impl Default for RunOpts {
    fn default() -> RunOpts {
        RunOpts { jobs: 1, fail_fast: false }
    }
}

/// Runs `plan`, from `from` when resuming. `resume` turns a resume label
/// into the command line the hint suggests.
pub fn execute(
    plan: &Plan,
    from: Option<Resume>,
    resume: &(dyn Fn(&str) -> String + Sync),
    opts: RunOpts,
) -> Result<(), RunError> {
    crate::runtime::signals::install();
    let mut r = Runner::new(!is_root());
    let result = run(&mut r, plan, from, resume, opts);
    match (&result, crate::runtime::signals::interrupted()) {
        (Ok(()), _) => r.trace(&["end", "ok"]),
        (Err(_), Some(n)) => r.trace(&["end", "failed", &(128 + n).to_string()]),
        (Err(_), None) => r.trace(&["end", "failed", "1"]),
    }
    result
}

/// Required programs and sudo: the first checks of every run.
fn prepare(r: &Runner, plan: &Plan) -> Result<(), RunError> {
    for p in &plan.programs {
        if find_program(p).is_none() {
            return Err(RunError(format!("required program not found: {p}")));
        }
    }
    if r.sudo && find_program("sudo").is_none() {
        return Err(RunError("not root and sudo is not installed".into()));
    }
    Ok(())
}

/// Reads every fact, as the script does before its preflight.
fn facts(r: &mut Runner, plan: &Plan) -> Result<(), RunError> {
    for f in &plan.facts {
        match r.read_fact(&f.cmd) {
            Ok(v) => {
                r.trace(&["fact", &f.var, &show(&v)]);
                r.vars.insert(f.var.clone(), v);
            }
            Err(status) => {
                let shown = show(&crate::runtime::quote::posix_line(&r.expand(&f.cmd)));
                r.say(&format!("    command failed (exit status {status}): {shown}"));
                return Err(RunError(fact_error(f)));
            }
        }
    }
    Ok(())
}

/// The query path: reads a plan's facts (a plan without steps) with the
/// executor's own code, for commands that interpret the answers in Rust.
pub fn read_facts(plan: &Plan) -> Result<std::collections::HashMap<String, Vec<u8>>, RunError> {
    let mut r = Runner::new(!is_root());
    prepare(&r, plan)?;
    facts(&mut r, plan)?;
    Ok(r.vars)
}

/// The query path for queries that report what they could not read (drift):
/// each fact's output, or the exit status its command failed with; no
/// failure stops the others, and failures print nothing.
pub fn read_facts_each(
    plan: &Plan,
) -> Result<std::collections::HashMap<String, Result<Vec<u8>, i32>>, RunError> {
    let r = Runner::new(!is_root());
    prepare(&r, plan)?;
    let mut out = std::collections::HashMap::new();
    for f in &plan.facts {
        let v = match r.spawn(&f.cmd, crate::runtime::cmd::Out::CaptureQuiet) {
            Ok(done) if done.status == 0 => Ok(crate::runtime::cmd::normalize(&done.stdout)),
            Ok(done) => Err(done.status),
            Err(_) => Err(1),
        };
        out.insert(f.var.clone(), v);
    }
    Ok(out)
}

fn run(
    r: &mut Runner,
    plan: &Plan,
    from: Option<Resume>,
    resume: &(dyn Fn(&str) -> String + Sync),
    opts: RunOpts,
) -> Result<(), RunError> {
    prepare(r, plan)?;
    let lockdir = std::env::var("LXOPS_LOCK_DIR").unwrap_or_else(|_| "/run/lock".into());
    let mut locks = Vec::new();
    for name in &plan.locks {
        let path = format!("{lockdir}/{}", lock_file(name));
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| RunError(format!("cannot open lock file {path}: {e}")))?;
        if f.try_lock().is_err() {
            return Err(RunError(format!("another lxops run holds the lock for instance {name}")));
        }
        locks.push(f);
    }
    if let Err(e) = facts(r, plan) {
        // Interrupted while reading: nothing has changed, nothing to add.
        return Err(if crate::runtime::signals::interrupted().is_some() { RunError::reported() } else { e });
    }
    let resuming = from.is_some_and(|f| f != Resume { unit: 0, step: 1 });
    if !resuming {
        let mut failed = false;
        for (i, c) in plan.checks.iter().enumerate() {
            if r.eval(&c.ok)? {
                r.trace(&["check", &i.to_string(), "ok"]);
            } else {
                r.say(&format!("error: {}", text(&c.error)));
                r.say(&format!("  hint: {}", text(&c.hint)));
                r.trace(&["check", &i.to_string(), "failed"]);
                failed = true;
            }
        }
        if failed {
            return Err(RunError("preflight failed; nothing was changed".into()));
        }
    }
    let from = from.unwrap_or(Resume { unit: 0, step: 1 });
    if plan.units.len() > 1 {
        let result = run_units(r, plan, from, resume, opts);
        drop(locks);
        return result;
    }
    let end = run_unit(r, plan, 0, from, resume);
    drop(locks);
    match end {
        UnitEnd::Done => {
            r.say(&done(plan));
            r.downtimes(plan, None);
            Ok(())
        }
        _ => Err(RunError::reported()),
    }
}

/// How a unit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitEnd {
    Done,
    /// Failed at this step (its label and title).
    Failed(String, String),
}

/// Runs unit `u` (from `from` when it is that unit): its steps, then on a
/// failure its undo, its cleanup and the hint, as the script's EXIT trap.
fn run_unit(r: &mut Runner, plan: &Plan, u: usize, from: Resume, resume: &dyn Fn(&str) -> String) -> UnitEnd {
    let unit = &plan.units[u];
    let from_label = plan.resume_label(from);
    let resumable: Vec<Resume> = plan.resume_points();
    let mut began = false;
    for (i, s) in unit.steps.iter().enumerate() {
        let k = i + 1;
        if (u, k) < (from.unit, from.step) {
            r.say(&format!(
                "{} {} ... not run (resuming at {from_label})",
                Runner::tag(plan, u, k),
                text(&s.title)
            ));
            r.trace(&["step", &unit.name, &k.to_string(), "not-run"]);
            continue;
        }
        began = true;
        match r.check_interrupted().and_then(|_| r.run_step(plan, u, k, s)) {
            Ok(StepEnd::Ran | StepEnd::Skipped) => {}
            Err(_) => {
                let here = Resume { unit: u, step: k };
                let label = plan.resume_label(here);
                r.trace(&["step", &unit.name, &k.to_string(), "failed"]);
                r.say_marked(Style::Error, "error:", &format!(" step {label} failed: {}", text(&s.title)));
                r.undoing.set(true);
                let undone = r.undo(plan, u, k);
                r.cleanup(plan, u);
                r.undoing.set(false);
                if undone || !resumable.contains(&here) {
                    r.say_marked(Style::Hint, "  hint:", " fix the cause, then run it all again");
                } else {
                    r.say_marked(
                        Style::Hint,
                        "  hint:",
                        &format!(" fix the cause, then resume with: {}", resume(&label)),
                    );
                }
                return UnitEnd::Failed(label, s.title.clone());
            }
        }
    }
    if began {
        r.undoing.set(true);
        r.cleanup(plan, u);
        r.undoing.set(false);
    }
    UnitEnd::Done
}

/// What the summary of a plan of several instances says of one.
struct UnitReport {
    end: Option<UnitEnd>,
    seconds: String,
    downtime: Option<String>,
    log: String,
}

/// The units of a plan of several instances, at most `opts.jobs` at once,
/// each on its own runner (its output prefixed with its name and kept in
/// its log file); a failed unit is undone and the others go on, unless
/// `--fail-fast`. With `--from INSTANCE:STEP`, only that unit runs.
fn run_units(
    r: &mut Runner,
    plan: &Plan,
    from: Resume,
    resume: &(dyn Fn(&str) -> String + Sync),
    opts: RunOpts,
) -> Result<(), RunError> {
    let logdir = log_dir(plan);
    std::fs::create_dir_all(&logdir).map_err(|e| RunError(format!("cannot create {logdir}: {e}")))?;
    let resuming = from != Resume { unit: 0, step: 1 };
    let order: Vec<usize> = if resuming { vec![from.unit] } else { (0..plan.units.len()).collect() };
    let mut reports: Vec<Option<UnitReport>> = (0..plan.units.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, UnitReport)>();
        let mut next = order.iter().copied().peekable();
        let (mut running, mut failed) = (0usize, false);
        loop {
            while running < opts.jobs.max(1)
                && !(opts.fail_fast && failed)
                && crate::runtime::signals::interrupted().is_none()
                && let Some(u) = next.next()
            {
                let name = plan.units[u].name.clone();
                let log = format!("{logdir}/{name}.log");
                let Ok((reader, writer)) = std::io::pipe() else { continue };
                let mut ur = r.for_unit(&name, writer);
                let tx = tx.clone();
                let relay_log = log.clone();
                scope.spawn(move || {
                    let relay = std::thread::spawn(move || relay_lines(reader, &name, &relay_log));
                    let t0 = std::time::Instant::now();
                    let end = run_unit(&mut ur, plan, u, from, resume);
                    let seconds = crate::runtime::unit::secs(t0.elapsed().as_micros());
                    let downtime = if end == UnitEnd::Done { ur.downtimes(plan, Some(u)) } else { None };
                    drop(ur);
                    let _ = relay.join();
                    let _ = tx.send((u, UnitReport { end: Some(end), seconds, downtime, log }));
                });
                running += 1;
            }
            if running == 0 {
                break;
            }
            let Ok((u, report)) = rx.recv() else { break };
            running -= 1;
            failed |= report.end != Some(UnitEnd::Done);
            reports[u] = Some(report);
        }
    });
    let all_done = order.iter().all(|u| reports[*u].as_ref().is_some_and(|x| x.end == Some(UnitEnd::Done)));
    for line in summary(plan, &order, &reports) {
        r.say(&line);
    }
    if all_done {
        r.say(&done(plan));
        Ok(())
    } else {
        Err(RunError::reported())
    }
}

/// The summary lines, one per instance, in the plan's order.
fn summary(plan: &Plan, order: &[usize], reports: &[Option<UnitReport>]) -> Vec<String> {
    let mut out = vec![format!("summary of {} instances:", order.len())];
    for u in order {
        let name = &plan.units[*u].name;
        out.push(match &reports[*u] {
            None => format!("  {name}: not started"),
            Some(rep) => {
                let what = match &rep.end {
                    Some(UnitEnd::Done) => "ok".to_string(),
                    Some(UnitEnd::Failed(label, title)) => {
                        format!("failed at step {label} ({})", text(title))
                    }
                    None => "ended without a result".to_string(),
                };
                let down = rep.downtime.as_ref().map(|d| format!(", downtime {d} s")).unwrap_or_default();
                format!("  {name}: {what}, {} s{down}, log {}", rep.seconds, text(&rep.log))
            }
        });
    }
    out
}

/// Where the units' logs go: `LXOPS_LOG_DIR`, else a directory of its own
/// under /var/tmp/lxops-logs (the script picks the same way).
fn log_dir(plan: &Plan) -> String {
    if let Some(d) = std::env::var_os("LXOPS_LOG_DIR").filter(|d| !d.is_empty()) {
        return d.to_string_lossy().to_string();
    }
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let stamp = crate::runtime::unit::utc_stamp(secs);
    format!("/var/tmp/lxops-logs/{}-{stamp}-{}", plan.command.replace(' ', "-"), std::process::id())
}

/// Copies a unit's output into its log and onto standard error, each line
/// prefixed with the unit's name (the script's `lxops_prefix`).
fn relay_lines(reader: std::io::PipeReader, name: &str, log: &str) {
    use std::io::{BufRead, Write};
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(log).ok();
    let mut reader = std::io::BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        if let Some(f) = &mut log {
            let _ = f.write_all(&line);
        }
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(format!("[{name}] ").as_bytes());
        let _ = e.write_all(&line);
    }
}
