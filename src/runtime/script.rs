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
    multi: bool,
    jobs: usize,
    fail_fast: u8,
    scheduler: String,
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

/// The question both runtimes ask on a terminal before destructive steps,
/// listing them.
pub fn question(plan: &Plan) -> String {
    let steps = plan.destructive_steps();
    let n = steps.len();
    let mut q = format!("This plan has {n} destructive step{}:\n", if n == 1 { "" } else { "s" });
    for (u, k, s) in steps {
        let unit = plan.units.iter().position(|x| std::ptr::eq(x, u)).unwrap_or(0);
        let label = plan.resume_label(crate::plan::model::Resume { unit, step: k });
        q.push_str(&format!("  {label}. {}\n", text(&s.title)));
    }
    q.push_str("Type yes to run it: ");
    q
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
    render_with(plan, command_line, crate::runtime::execute::RunOpts::default())
}

/// The bash half of running the units of a plan of several instances:
/// each in a subshell of its own (its output into its log and, prefixed
/// with its name, onto stderr), at most `$lxops_jobs` at once, a failed one
/// undone while the others go on (unless `--fail-fast`), then the summary.
/// `--execute`'s half is `execute::run_units`.
/// The helpers `templates/script.sh.j2` calls (a test keeps this true).
pub const TEMPLATE_HELPERS: &[&str] = &["lxops_say", "lxops_die", "lxops_show", "lxops_trace", "lxops_qp"];

/// The helpers [`SCHEDULER`] calls (a test keeps this true).
pub const SCHEDULER_HELPERS: &[&str] = &["lxops_now", "lxops_secs", "lxops_say", "lxops_show"];

const SCHEDULER: &str = r#"# lxops_prefix NAME LOG: a unit's lines, into its log and onto stderr with its name.
lxops_prefix() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s\n' "$line" >>"$2"
    printf '[%s] %s\n' "$1" "$line" >&2
  done
}
# lxops_enter_unit: in a unit's subshell: its pid, its clock, its traps.
lxops_enter_unit() {
  printf '%s\n' "$BASHPID" >"$lxops_logdir/.$lxops_u.pid"
  lxops_now lxops_unit_t0
  trap lxops_unit_exit EXIT
  trap 'lxops_on_signal INT 2' INT
  trap 'lxops_on_signal TERM 15' TERM
  trap 'lxops_on_signal HUP 1' HUP
}
# lxops_unit_exit: a unit's end: on a failure its undo; its result for the summary.
lxops_unit_exit() {
  local rc=$? result=ok t
  lxops_undoing=1
  lxops_last_downtime=''
  if [ "$rc" != 0 ]; then
    result="failed at step $lxops_label ($lxops_title)"
    lxops_unit_failed
    rc=1
    if [ "$lxops_signal" != 0 ]; then rc=$((128 + lxops_signal)); fi
  else
    "lxops_downtimes_$lxops_u"
  fi
  lxops_now t
  printf '%s\n' "$result" "$(lxops_secs $((t - lxops_unit_t0)))" "$lxops_last_downtime" >"$lxops_logdir/.$lxops_u.result"
  exit "$rc"
}
# lxops_any_failed: a unit has ended, and not well.
lxops_any_failed() {
  local f r
  for f in "$lxops_logdir"/.*.result; do
    [ -e "$f" ] || continue
    IFS= read -r r <"$f" || true
    [ "$r" = ok ] || return 0
  done
  return 1
}
# lxops_summary: a line per instance; fails if one did not end well.
lxops_summary() {
  local u f res secs down line any=0
  lxops_summarized=1
  lxops_say "summary of $((lxops_last - lxops_first + 1)) instances:"
  for ((u = lxops_first; u <= lxops_last; u++)); do
    f="$lxops_logdir/.$u.result"
    if [ -e "$f" ]; then
      res='' secs='' down=''
      { IFS= read -r res; IFS= read -r secs; IFS= read -r down; } <"$f" || true
      line="  ${lxops_names[$u]}: $res, $secs s"
      if [ -n "$down" ]; then line+=", downtime $down s"; fi
      lxops_say "$line, log $(lxops_show "$lxops_logdir/${lxops_names[$u]}.log")"
      [ "$res" = ok ] || any=1
    else
      lxops_say "  ${lxops_names[$u]}: not started"
      any=1
    fi
  done
  return "$any"
}
# lxops_stop_units: the run ends early: an interruption goes on to the units
# that run; they are waited for, then the summary.
lxops_stop_units() {
  local f u
  [ -n "${lxops_logdir:-}" ] && [ "$lxops_summarized" = 0 ] || return 0
  if [ "$lxops_signal" != 0 ]; then
    for ((u = lxops_first; u <= lxops_last; u++)); do
      f="$lxops_logdir/.$u.pid"
      if [ -e "$f" ] && [ ! -e "$lxops_logdir/.$u.result" ]; then kill -"$lxops_signal" "$(cat "$f")" 2>/dev/null || true; fi
    done
  fi
  wait || true
  lxops_summary || true
}
"#;

/// Renders `plan` as a bash script that runs several instances as `opts` says.
pub fn render_with(plan: &Plan, command_line: &str, opts: crate::runtime::execute::RunOpts) -> String {
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
            let ok = cond::bash(&mut checks, &c.ok);
            checks.open(format!("if {ok}; then"));
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
        if multi {
            units.line(format!("# {} in a subshell of its own", unit::comment(&unit.name)));
            units.open(format!("lxops_main_{u}() {{"));
            units.line(format!("lxops_u={u} lxops_unit={}", quote(&unit.name)));
            units.line(format!("export LXOPS_UNIT={}", quote(&unit.name)));
            units.line("lxops_enter_unit");
            units.line(format!("lxops_unit_{u}"));
            units.line("lxops_finished=1");
            units.close("}");
            units.open(format!("lxops_downtimes_{u}() {{"));
            let before = units.len();
            unit::downtimes_bash_unit(&mut units, unit);
            if units.len() == before {
                units.line(":");
            }
            units.close("}");
        }
    }
    let mut downtimes = Sh::new();
    unit::downtimes_bash(&mut downtimes, plan);
    let mut scheduler = Sh::new();
    if multi {
        scheduler.line("# ---- the instances, at most $lxops_jobs at once; each one's output goes to its");
        scheduler.line("# log and, with its name in front, to stderr");
        scheduler.line(format!(
            "lxops_logdir=${{LXOPS_LOG_DIR:-/var/tmp/lxops-logs/{}-$(date -u +%Y%m%d-%H%M%S)-$$}}",
            plan.command.replace(' ', "-")
        ));
        // In a subshell: `command -p` would leave the default mkdir in the
        // script's hash table, in front of the one PATH names.
        scheduler.line("( command -p mkdir -p \"$lxops_logdir\" )");
        scheduler.line("lxops_first=0 lxops_last=$((${#lxops_names[@]} - 1)) lxops_running=0");
        scheduler.line(
            "if [ \"$lxops_resuming\" = 1 ]; then lxops_first=$lxops_from_u lxops_last=$lxops_from_u; fi",
        );
        scheduler.open("for ((lxops_i = lxops_first; lxops_i <= lxops_last; lxops_i++)); do");
        scheduler.line("if [ \"$lxops_fail_fast\" = 1 ] && lxops_any_failed; then break; fi");
        scheduler.open("while [ \"$lxops_running\" -ge \"$lxops_jobs\" ]; do");
        scheduler.line("wait -n || true");
        scheduler.line("lxops_running=$((lxops_running - 1))");
        scheduler.line("if [ \"$lxops_fail_fast\" = 1 ] && lxops_any_failed; then break 2; fi");
        scheduler.close("done");
        scheduler.line("( \"lxops_main_$lxops_i\" ) 2>&1 | lxops_prefix \"${lxops_names[$lxops_i]}\" \"$lxops_logdir/${lxops_names[$lxops_i]}.log\" &");
        scheduler.line("lxops_running=$((lxops_running + 1))");
        scheduler.close("done");
        scheduler.line("wait || true");
        scheduler.line(format!(
            "if lxops_summary; then lxops_finished=1; lxops_say {}; else exit 1; fi",
            quote(&done(plan))
        ));
    }

    // The helpers the script calls: the template's own (it reports, traces
    // and quotes in every script), the scheduler's, and those recorded where
    // the generated parts call them.
    let mut used: std::collections::BTreeSet<&str> = TEMPLATE_HELPERS.iter().copied().collect();
    if multi {
        used.extend(SCHEDULER_HELPERS);
    }
    for part in [&facts, &checks, &units, &downtimes, &scheduler] {
        used.extend(part.used());
    }
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
        helpers: crate::runtime::bash_helpers_for(&used),
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
        multi,
        jobs: opts.jobs.max(1),
        fail_fast: u8::from(opts.fail_fast),
        scheduler: if multi { format!("{SCHEDULER}{}", scheduler.finish()) } else { String::new() },
    };
    let env = environment();
    let tmpl = env.get_template("script.sh").expect("template is registered");
    tmpl.render(Value::from(minijinja::value::Serde(&view))).expect("the script template renders")
}

/// The helpers `text` calls: a helper's name in command position (first on
/// a line, after `if`, `!`, `&&`, `|`, `;` …, or right after `$(`); a
/// variable or an argument of the same name is not a call.
pub fn helper_calls(text: &str) -> std::collections::BTreeSet<&'static str> {
    const BEFORE: &[&str] = &["if", "then", "else", "do", "while", "until", "!", "&&", "||", "|", "{", "("];
    let names = crate::runtime::helper_names();
    let mut out = std::collections::BTreeSet::new();
    for line in text.lines() {
        let mut prev: Option<&str> = None;
        for token in line.split_whitespace() {
            let (command_position, word) = match token.rsplit_once("$(") {
                Some((_, w)) => (true, w),
                None => (prev.is_none_or(|p| BEFORE.contains(&p) || p.ends_with(';')), token),
            };
            let word = word.trim_end_matches(';');
            if command_position && let Some(n) = names.iter().find(|n| **n == word) {
                out.insert(*n);
            }
            prev = Some(token);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_and_the_scheduler_call_the_helpers_they_list() {
        let want: std::collections::BTreeSet<&str> = TEMPLATE_HELPERS.iter().copied().collect();
        assert_eq!(helper_calls(TEMPLATE), want);
        let want: std::collections::BTreeSet<&str> = SCHEDULER_HELPERS.iter().copied().collect();
        assert_eq!(helper_calls(SCHEDULER), want);
    }

    #[test]
    fn helper_calls_are_not_variables() {
        let calls = helper_calls(
            "lxops_profiles=$(x)\nif lxops_row \"$lxops_profiles\" a; then\n  x=\"$(lxops_show \"$y\")\"\nfi\nlxops_trace fact lxops_profiles\n",
        );
        assert_eq!(calls.into_iter().collect::<Vec<_>>(), ["lxops_row", "lxops_show", "lxops_trace"]);
    }
}
