//! The bash driver: a plan rendered as a script through the minijinja
//! template `templates/script.sh.j2`.
//!
//! The template holds the fixed frame (arguments, confirmation, traps,
//! requirements, locks); every part built from the plan — facts, preflight
//! checks, run-time values, one function per unit with its steps, undo and
//! cleanup — is written here with [`Sh`], the structured writer, and passed
//! to the template as finished text placed at the start of a line. Values
//! the template prints itself are shell-quoted by the environment's
//! formatter unless marked safe, and comment text goes through the
//! `comment` filter. Its Rust counterpart is [`crate::runtime::execute`].

use crate::plan::model::{Action, Plan};
use crate::runtime::quote::quote;
use crate::runtime::text::text;
use crate::runtime::{Sh, cmd, cond, unit};
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

const TEMPLATE: &str = include_str!("../../templates/script.sh.j2");

#[derive(Serialize)]
struct Input {
    path: String,
    sha256: String,
}

#[derive(Serialize)]
struct Lock {
    file: String,
    error: String,
}

#[derive(Serialize)]
struct View {
    version: &'static str,
    command_line: String,
    backend: &'static str,
    instances: Vec<String>,
    sizes: Vec<usize>,
    inputs: Vec<Input>,
    count: usize,
    summary: Vec<String>,
    destructive: Vec<String>,
    from_form: &'static str,
    question: String,
    needs_yes: String,
    resumable: String,
    helpers: String,
    programs: Vec<String>,
    locks: Vec<Lock>,
    facts: String,
    checks: String,
    vars: String,
    units: String,
    calls: Vec<String>,
    done: String,
    downtimes: String,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("default delimiters are valid"),
    );
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Custom("sh".into()));
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), AutoEscape::Custom(n) if n == "sh") && !value.is_safe() {
            let s = if value.is_none() || value.is_undefined() { String::new() } else { value.to_string() };
            out.write_str(&quote(&s))?;
            Ok(())
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env.add_filter("comment", |s: String| Value::from_safe_string(unit::comment(&s)));
    env.add_template("script.sh", TEMPLATE).expect("the script template parses");
    env
}

/// The question both runtimes ask on a terminal before destructive steps.
pub fn question(plan: &Plan) -> String {
    let n = plan.destructive_steps().len();
    format!("This plan has {n} destructive step{}. Type yes to run it: ", if n == 1 { "" } else { "s" })
}

/// Why both runtimes refuse destructive steps off a terminal without `--yes`.
pub fn needs_yes(plan: &Plan) -> String {
    let n = plan.destructive_steps().len();
    format!(
        "this plan has {n} destructive step{}; review them, then run it with --yes",
        if n == 1 { "" } else { "s" }
    )
}

/// The line both runtimes print when every step is done.
pub fn done(plan: &Plan) -> String {
    let n = plan.step_count();
    let units = plan.units.len();
    if units == 1 {
        format!("done: {n} step{}", if n == 1 { "" } else { "s" })
    } else {
        format!("done: {units} instances, {n} steps")
    }
}

/// The error both runtimes report when a fact cannot be read.
pub fn fact_error(f: &crate::plan::model::Fact) -> String {
    format!("cannot run {}: is the server reachable?", text(&crate::render::display_cmd(&f.cmd)))
}

/// The lock file of an instance name (instance names are letters, digits
/// and hyphens: one name, one file).
pub fn lock_file(name: &str) -> String {
    format!("lxops-{name}.lock")
}

/// Every run-time value the plan names, with its initial value.
fn vars(plan: &Plan) -> String {
    let mut sh = Sh::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut line = |sh: &mut Sh, v: &str, init: &str| {
        if seen.insert(v.to_string()) {
            sh.line(format!("{v}={init}"));
        }
    };
    for s in plan.units.iter().flat_map(|u| u.steps.iter()) {
        for f in &s.sets {
            line(&mut sh, f, "0");
        }
        match &s.action {
            Action::Capture { raw, outputs, .. } => {
                line(&mut sh, raw, "''");
                for (v, p) in outputs {
                    line(&mut sh, v, if p.is_list() { "()" } else { "''" });
                }
            }
            Action::WaitNetwork { shown, address, .. } => {
                line(&mut sh, shown, "''");
                line(&mut sh, address, "''");
            }
            Action::ForEach { item, collect, .. } => {
                line(&mut sh, item, "''");
                if let Some(c) = collect {
                    line(&mut sh, c, "()");
                }
            }
            _ => {}
        }
        if let Some(t) = &s.timer {
            line(&mut sh, &t.start, "''");
            line(&mut sh, &t.stop, "''");
        }
    }
    for g in plan.units.iter().flat_map(|u| u.undo.iter().flat_map(|w| w.cmds.iter()).chain(u.cleanup.iter()))
    {
        if let Some(e) = &g.each {
            line(&mut sh, &e.item, "''");
        }
    }
    sh.finish()
}

/// Renders `plan` as a bash script. `command_line` is how lxops was invoked.
pub fn render(plan: &Plan, command_line: &str) -> String {
    let n = plan.step_count();
    let multi = plan.units.len() > 1;
    let mut summary = Vec::new();
    for (u, unit) in plan.units.iter().enumerate() {
        for (i, s) in unit.steps.iter().enumerate() {
            let label = plan.resume_label(crate::plan::model::Resume { unit: u, step: i + 1 });
            let mark = if s.destructive { "  [DESTRUCTIVE]" } else { "" };
            summary.push(format!("{label}. {}{mark}", s.title));
        }
    }
    let resumable: Vec<String> = plan.resume_points().into_iter().map(|r| plan.resume_label(r)).collect();

    let mut facts = Sh::new();
    for f in &plan.facts {
        facts.command(
            &format!("{}=$(", f.var),
            &cmd::sh(&f.cmd).reported(),
            &format!(" | tr -d '\\000') || lxops_die {}", quote(&fact_error(f))),
        );
        facts.line(format!("lxops_trace fact {} \"$(lxops_show \"${}\")\"", f.var, f.var));
    }

    let mut checks = Sh::new();
    checks.line("lxops_failed=0");
    if !plan.checks.is_empty() {
        checks.open("if [ \"$lxops_resuming\" = 0 ]; then");
        for (i, c) in plan.checks.iter().enumerate() {
            checks.line(format!("# {}", unit::comment(&c.title)));
            checks.open(format!("if {}; then", cond::bash(&c.ok)));
            checks.line(format!("lxops_trace check {i} ok"));
            checks.reopen("else");
            checks.line(format!("lxops_say {}", quote(&format!("error: {}", text(&c.error)))));
            checks.line(format!("lxops_say {}", quote(&format!("  hint: {}", text(&c.hint)))));
            checks.line(format!("lxops_trace check {i} failed"));
            checks.line("lxops_failed=1");
            checks.close("fi");
        }
        checks.close("fi");
    }
    checks.line("[ \"$lxops_failed\" = 0 ] || lxops_die 'preflight failed; nothing was changed'");

    let mut units = Sh::new();
    let mut calls = Vec::new();
    for (u, unit) in plan.units.iter().enumerate() {
        units.line("");
        units.line(format!("# ==== {}: {} steps", unit::comment(&unit.name), unit.steps.len()));
        unit::undo_bash(&mut units, plan, u);
        unit::cleanup_bash(&mut units, plan, u);
        units.open(format!("lxops_unit_{u}() {{"));
        for (i, s) in unit.steps.iter().enumerate() {
            unit::step_bash(&mut units, plan, u, i + 1, s);
        }
        if !unit.cleanup.is_empty() {
            units.line(format!("if [ \"${{lxops_began[{u}]:-0}}\" = 1 ]; then lxops_cleanup_{u}; fi"));
        }
        if unit.steps.is_empty() && unit.cleanup.is_empty() {
            units.line(": # the unit has nothing to do");
        }
        units.close("}");
        calls.push(format!("lxops_unit_{u}"));
    }
    let mut downtimes = Sh::new();
    unit::downtimes_bash(&mut downtimes, plan);

    let view = View {
        version: env!("CARGO_PKG_VERSION"),
        command_line: command_line.to_string(),
        backend: plan.backend.name(),
        instances: plan.units.iter().map(|u| u.name.clone()).collect(),
        sizes: plan.units.iter().map(|u| u.steps.len()).collect(),
        inputs: plan.inputs.iter().map(|(p, h)| Input { path: p.clone(), sha256: h.clone() }).collect(),
        count: n,
        summary,
        destructive: plan.destructive_steps().iter().map(|(_, _, s)| s.id.clone()).collect(),
        from_form: if multi { "INSTANCE:STEP" } else { "STEP" },
        question: question(plan),
        needs_yes: format!("error: --yes: {}", needs_yes(plan)),
        resumable: format!(" {} ", resumable.join(" ")),
        helpers: String::new(),
        programs: plan.programs.clone(),
        locks: plan
            .locks
            .iter()
            .map(|l| Lock {
                file: lock_file(l),
                error: format!("another lxops run holds the lock for instance {l}"),
            })
            .collect(),
        facts: facts.finish(),
        checks: checks.finish(),
        vars: vars(plan),
        units: units.finish(),
        calls,
        done: done(plan),
        downtimes: downtimes.finish(),
    };
    let env = environment();
    let tmpl = env.get_template("script.sh").expect("template is registered");
    // Rendered once without helpers to see which ones the script calls, then
    // with exactly those (and the ones they call).
    let bare = tmpl.render(Value::from(minijinja::value::Serde(&view))).expect("the script template renders");
    let view = View { helpers: crate::runtime::bash_helpers_for(&bare), ..view };
    tmpl.render(Value::from(minijinja::value::Serde(&view))).expect("the script template renders")
}
