//! The default output: a numbered, human-readable listing of a plan.
//!
//! Destructive steps are marked, guarded steps say when they are skipped,
//! undo windows and cleanup are spelled out, and the last lines say how to
//! run or export the plan. Every config value is shown through
//! `runtime::text` (or quoted), so none can forge or erase a line of the
//! plan being reviewed. Nothing is executed.

use crate::plan::model::{Action, Edge, Guarded, POLLS_PER_SECOND, Parse, Plan, Step};
use crate::render::style::{Stream, Style, paint};
use crate::render::{describe, display_cmd};
use crate::runtime::text::text;
use std::fmt::Write;

/// Renders the listing; `run_hint` is the command line with `--execute`, and
/// `script_hint` the `lxops script …` equivalent.
pub fn render(plan: &Plan, run_hint: &str, script_hint: &str) -> String {
    let mut s = String::new();
    let n = plan.step_count();
    let d = plan.destructive_steps().len();
    let head = format!(
        "Plan: {} {} ({}): {n} step{}, {d} destructive",
        plan.command,
        plan.instances().join(" "),
        plan.backend.name(),
        if n == 1 { "" } else { "s" }
    );
    let _ = writeln!(s, "{}", paint(Stream::Stdout, Style::Heading, &head));
    for note in &plan.notes {
        let _ = writeln!(s, "note: {}", text(note));
    }
    s.push_str("\nPreflight (checked before the first change):\n");
    if !plan.programs.is_empty() {
        let _ = writeln!(s, "  - programs installed: {}", plan.programs.join(", "));
    }
    if plan.locks.len() > plan.units.len() {
        let _ = writeln!(s, "  - lock instance names: {}", plan.locks.join(", "));
    }
    for f in &plan.facts {
        let _ = writeln!(s, "  - read ${}: {}", f.var, display_cmd(&f.cmd));
    }
    for c in &plan.checks {
        let _ = writeln!(s, "  - {}", text(&c.title));
    }
    let multi = plan.units.len() > 1;
    for u in &plan.units {
        if multi {
            let _ = writeln!(s, "\nSteps of {}:", u.name);
        } else {
            s.push_str("\nSteps:\n");
        }
        let width = u.steps.len().to_string().len();
        for (i, st) in u.steps.iter().enumerate() {
            step(&mut s, i + 1, width, st);
        }
        for w in &u.undo {
            let _ = writeln!(s, "\nIf step {}..{} of {} fails, undo:", w.first, w.last, u.name);
            for g in &w.cmds {
                guarded(&mut s, g);
            }
        }
        if !u.cleanup.is_empty() {
            let _ = writeln!(s, "\nWhen {} ends, whatever happened, clean up:", u.name);
            for g in &u.cleanup {
                guarded(&mut s, g);
            }
        }
    }
    let _ = writeln!(s, "\nNothing was run. To run it: {run_hint}\nTo export it as a script: {script_hint}");
    s
}

fn guarded(s: &mut String, g: &Guarded) {
    let when = g.when.as_ref().map(|c| format!("   (if {})", describe(c))).unwrap_or_default();
    let each = g.each.as_ref().map(|e| format!(" for each ${} of ${}:", e.item, e.list)).unwrap_or_default();
    let _ = writeln!(s, " {each} $ {}{when}", display_cmd(&g.cmd));
}

fn step(s: &mut String, k: usize, width: usize, st: &Step) {
    let mark = if st.destructive {
        format!("  {}", paint(Stream::Stdout, Style::Destructive, "[DESTRUCTIVE]"))
    } else {
        String::new()
    };
    let _ = writeln!(s, "{k:>width$}. [{}] {}{mark}", st.kind.name(), text(&st.title));
    let pad = " ".repeat(width + 4);
    if let Some(o) = &st.origin {
        let _ = writeln!(s, "{pad}from {}", text(o));
    }
    if let Some(note) = &st.skip_note {
        let _ = writeln!(s, "{pad}skipped if {}", text(note));
    }
    match &st.action {
        Action::Run(cmds) => {
            for c in cmds {
                let _ = writeln!(s, "{pad}$ {}", display_cmd(c));
                if let crate::plan::model::Input::Bytes(b) = &c.stdin
                    && let Ok(t) = std::str::from_utf8(b)
                    && t.lines().count() <= 40
                {
                    for l in t.lines() {
                        let _ = writeln!(s, "{pad}  | {}", text(l));
                    }
                }
            }
        }
        Action::Pipe(cmds) => {
            let shown: Vec<String> = cmds.iter().map(display_cmd).collect();
            let _ = writeln!(s, "{pad}$ {}", shown.join(" | "));
        }
        Action::Capture { cmd, outputs, .. } => {
            let _ = writeln!(s, "{pad}$ {}", display_cmd(cmd));
            for (v, p) in outputs {
                let what = match p {
                    Parse::Text => "the output".to_string(),
                    Parse::Profiles { replace: None } => "the profile list".to_string(),
                    Parse::Profiles { replace: Some((o, n)) } => {
                        format!("the profile list with {o} replaced by {n}")
                    }
                    Parse::ProfileNames => "the profile names".to_string(),
                    Parse::ProfileFlags => "`-p NAME` for each profile".to_string(),
                    Parse::Hwaddrs => "the NICs' MAC addresses".to_string(),
                    Parse::HwaddrKeys => "the NICs' MAC address keys".to_string(),
                    Parse::Lines => "the lines".to_string(),
                    Parse::After { target, prefix } => format!("the {prefix}… after {target}"),
                    Parse::CsvNames => "the names (each line's first field)".to_string(),
                    Parse::Member { ssh } if ssh.is_empty() => "the cluster member".to_string(),
                    Parse::Member { ssh, .. } => {
                        let pairs: Vec<String> = ssh.iter().map(|(m, d)| format!("{m}: {d}")).collect();
                        format!("the member's ssh destination ({}; else its name)", pairs.join(", "))
                    }
                    Parse::RandomName { prefix } => format!("{prefix} and a letter for each random byte"),
                    Parse::CommonBase { src, dst, .. } => {
                        format!("-i and the newest snapshot of {src} that {dst} has too (none: a full send)")
                    }
                };
                let _ = writeln!(s, "{pad}  ${v} = {what}");
            }
        }
        Action::WaitNetwork { show, list, seconds, address, .. } => {
            let _ = writeln!(
                s,
                "{pad}poll `{}` {POLLS_PER_SECOND} times a second, up to {seconds} s: ${address} = the first IPv4 address",
                display_cmd(list)
            );
            let _ = writeln!(
                s,
                "{pad}$ {}   (after the first poll; no NIC: nothing to wait for)",
                display_cmd(show)
            );
        }
        Action::ForEach { list, item, unless_in, cmd, collect, tolerant } => {
            let unless = unless_in.as_ref().map(|f| format!(" not in ${f}")).unwrap_or_default();
            let _ = writeln!(s, "{pad}for each ${item} of ${list}{unless}: $ {}", display_cmd(cmd));
            if let Some(c) = collect {
                let _ = writeln!(
                    s,
                    "{pad}  ${c} = the elements done{}",
                    if *tolerant { " (failures are reported and passed over)" } else { "" }
                );
            }
        }
        Action::WaitReady { probe, seconds } => {
            let _ = writeln!(
                s,
                "{pad}retry `{}` {POLLS_PER_SECOND} times a second, up to {seconds} s",
                display_cmd(probe)
            );
        }
        Action::Assert { cond, message } => {
            let _ = writeln!(s, "{pad}fails unless {} ({})", describe(cond), text(message));
        }
    }
    for v in &st.sets {
        let _ = writeln!(s, "{pad}sets {v}");
    }
    if let Some(t) = &st.timer {
        let edge = if t.edge == Edge::Start { "starts" } else { "ends" };
        let _ = writeln!(s, "{pad}downtime of {} {edge} here", t.label);
    }
}
