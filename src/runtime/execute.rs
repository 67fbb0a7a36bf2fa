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

/// Runs `plan`, from `from` when resuming. `resume` turns a resume label
/// into the command line the hint suggests.
pub fn execute(plan: &Plan, from: Option<Resume>, resume: &dyn Fn(&str) -> String) -> Result<(), RunError> {
    crate::runtime::signals::install();
    let mut r = Runner::new(!is_root());
    let result = run(&mut r, plan, from, resume);
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
    resume: &dyn Fn(&str) -> String,
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
    let from_label = plan.resume_label(from);
    let resumable: Vec<Resume> = plan.resume_points();
    for (u, unit) in plan.units.iter().enumerate() {
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
                    r.say(&format!("error: step {label} failed: {}", text(&s.title)));
                    r.undoing.set(true);
                    let undone = r.undo(plan, u, k);
                    r.cleanup(plan, u);
                    r.undoing.set(false);
                    if undone || !resumable.contains(&here) {
                        r.say("  hint: fix the cause, then run it all again");
                    } else {
                        r.say(&format!("  hint: fix the cause, then resume with: {}", resume(&label)));
                    }
                    return Err(RunError::reported());
                }
            }
        }
        if began {
            r.undoing.set(true);
            r.cleanup(plan, u);
            r.undoing.set(false);
        }
    }
    r.say(&done(plan));
    r.downtimes(plan);
    drop(locks);
    Ok(())
}
