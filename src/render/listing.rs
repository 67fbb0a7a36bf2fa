//! The default output: a numbered, human-readable listing of a plan.
//!
//! Destructive steps are marked, guarded steps say when they are skipped, and
//! the last line says how to run or export the plan. Nothing is executed.

use crate::plan::model::{Action, Plan};
use crate::render::shell;
use std::fmt::Write;

/// Renders the listing; `run_hint` is the command line with `--execute`, and
/// `script_hint` the `lxops script …` equivalent.
pub fn render(plan: &Plan, run_hint: &str, script_hint: &str) -> String {
    let mut s = String::new();
    let n = plan.steps.len();
    let d = plan.destructive_count();
    let _ = writeln!(
        s,
        "Plan: {} {} ({}): {n} step{}, {d} destructive",
        plan.command,
        plan.instances.join(" "),
        plan.backend.name(),
        if n == 1 { "" } else { "s" }
    );
    for note in &plan.notes {
        let _ = writeln!(s, "note: {note}");
    }
    s.push_str("\nPreflight (checked before the first change):\n");
    if !plan.programs.is_empty() {
        let _ = writeln!(s, "  - programs installed: {}", plan.programs.join(", "));
    }
    for f in &plan.facts {
        let _ = writeln!(s, "  - read {}: {}", f.var, shell::display(&f.cmd));
    }
    for c in &plan.checks {
        let _ = writeln!(s, "  - {}", c.title);
    }
    s.push_str("\nSteps:\n");
    let width = n.to_string().len();
    for (i, st) in plan.steps.iter().enumerate() {
        let mark = if st.destructive { "  [DESTRUCTIVE]" } else { "" };
        let kind = match st.kind {
            crate::plan::model::Kind::Host => "host",
            crate::plan::model::Kind::Server => "server",
            crate::plan::model::Kind::Guest => "guest",
        };
        let _ = writeln!(s, "{:>width$}. [{kind}] {}{mark}", i + 1, st.title);
        let pad = " ".repeat(width + 4);
        if let Some(o) = &st.origin {
            let _ = writeln!(s, "{pad}from {o}");
        }
        if let Some(note) = &st.skip_note {
            let _ = writeln!(s, "{pad}skipped if {note}");
        }
        match &st.action {
            Action::Run(cmds) => {
                for c in cmds {
                    let input = match &c.stdin {
                        Some(b) => format!("   < {} bytes", b.len()),
                        None => String::new(),
                    };
                    let _ = writeln!(s, "{pad}$ {}{input}", shell::display(c));
                    if let Some(b) = &c.stdin
                        && let Ok(text) = std::str::from_utf8(b)
                        && text.lines().count() <= 40
                    {
                        for l in text.lines() {
                            let _ = writeln!(s, "{pad}  | {}", shell::comment(l));
                        }
                    }
                }
            }
            Action::Capture { cmd, outputs } => {
                let _ = writeln!(s, "{pad}$ {}", shell::display(cmd));
                for (v, p) in outputs {
                    let what = match p {
                        crate::plan::model::Parse::Trim => "the output".to_string(),
                        crate::plan::model::Parse::Profiles { replace: None } => {
                            "the profile list".to_string()
                        }
                        crate::plan::model::Parse::Profiles { replace: Some((o, n)) } => {
                            format!("the profile list with {o} replaced by {n}")
                        }
                        crate::plan::model::Parse::ProfileNames => "the profile names".to_string(),
                        crate::plan::model::Parse::Hwaddrs => "the NICs' MAC addresses".to_string(),
                        crate::plan::model::Parse::HwaddrKeys => "the NICs' MAC address keys".to_string(),
                    };
                    let _ = writeln!(s, "{pad}  ${v} = {what}");
                }
            }
            Action::WaitNetwork { list, seconds, .. } => {
                let _ = writeln!(
                    s,
                    "{pad}poll `{}` once a second, up to {seconds} s (not if the instance has no NIC)",
                    shell::display(list)
                );
            }
            Action::ForEach { list, unless_in, cmd, .. } => {
                let unless = unless_in.as_ref().map(|f| format!(" not in {f}")).unwrap_or_default();
                let _ = writeln!(s, "{pad}for each $item of ${list}{unless}: $ {}", shell::display(cmd));
            }
            Action::WaitReady { probe, seconds } => {
                let _ =
                    writeln!(s, "{pad}retry `{}` once a second, up to {seconds} s", shell::display(probe));
            }
        }
        for v in &st.sets {
            let _ = writeln!(s, "{pad}sets {v}");
        }
        match &st.timer {
            Some(crate::plan::model::Timer::Start(k)) => {
                let _ = writeln!(s, "{pad}downtime of {k} starts here");
            }
            Some(crate::plan::model::Timer::Stop(k)) => {
                let _ = writeln!(s, "{pad}downtime of {k} ends here");
            }
            None => {}
        }
    }
    for r in &plan.rollbacks {
        let _ = writeln!(s, "\nIf step {}..{} fails, {} is rolled back:", r.first, r.last, r.instance);
        for (c, cond) in &r.cmds {
            let when =
                cond.as_ref().map(|c| format!("   (if {})", crate::render::describe(c))).unwrap_or_default();
            let _ = writeln!(s, "  $ {}{when}", shell::display(c));
        }
    }
    let _ = writeln!(s, "\nNothing was run. To run it: {run_hint}\nTo export it as a script: {script_hint}");
    s
}
