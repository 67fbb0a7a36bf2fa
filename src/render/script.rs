//! The bash rendering of a plan, through the minijinja template
//! `templates/script.sh.j2`.
//!
//! The template gets a view built from the plan, never the config. Values the
//! template prints are shell-quoted by the environment's formatter unless they
//! are marked safe; only text that `render::shell` already quoted (commands,
//! conditions, step bodies) is passed as safe, and comment text goes through
//! the `comment` filter. The script runs on a host without lxops.

use crate::plan::model::{Action, Plan, Step, Timer};
use crate::render::shell;
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
struct FactView {
    var: String,
    cmd: String,
    error: String,
}

#[derive(Serialize)]
struct CheckView {
    title: String,
    cond: String,
    error: String,
    hint: String,
    state: bool,
}

#[derive(Serialize)]
struct StepView {
    n: usize,
    id: String,
    title: String,
    origin: Option<String>,
    destructive: bool,
    skip: Option<String>,
    skip_note: Option<String>,
    body: String,
}

#[derive(Serialize)]
struct View {
    version: &'static str,
    command_line: String,
    backend: &'static str,
    instances: Vec<String>,
    inputs: Vec<Input>,
    destructive: usize,
    programs: Vec<String>,
    locks: Vec<String>,
    facts: Vec<FactView>,
    checks: Vec<CheckView>,
    vars: Vec<String>,
    scalars: Vec<String>,
    lists: Vec<String>,
    timers: Vec<String>,
    timer_vars: Vec<String>,
    rollback: String,
    /// Steps the script can resume at (`--from`), space-separated.
    resumable: String,
    steps: Vec<StepView>,
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
            out.write_str(&shell::quote(&s))?;
            Ok(())
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env.add_filter("comment", |s: String| Value::from_safe_string(shell::comment(&s)));
    // Only for text Rust already quoted: step bodies.
    env.add_filter("indent_code", |s: String, n: usize| Value::from_safe_string(shell::indent(&s, n)));
    env.add_template("script.sh", TEMPLATE).expect("the script template parses");
    env
}

/// Renders `plan` as a bash script. `command_line` is how lxops was invoked.
pub fn render(plan: &Plan, command_line: &str) -> String {
    let mut vars: Vec<String> = Vec::new();
    for s in &plan.steps {
        for v in &s.sets {
            if !vars.contains(v) {
                vars.push(v.clone());
            }
        }
    }
    let mut scalars = Vec::new();
    let mut lists = Vec::new();
    let mut timer_vars = Vec::new();
    for s in &plan.steps {
        if let Action::Capture { outputs, .. } = &s.action {
            for (v, p) in outputs {
                if p.is_list() { lists.push(v.clone()) } else { scalars.push(v.clone()) }
            }
        }
        if let Action::ForEach { collect: Some(v), .. } = &s.action {
            lists.push(v.clone());
        }
        match &s.timer {
            Some(Timer::Start(k)) => timer_vars.push(format!("lxops_t_{}_start", timer_key(k))),
            Some(Timer::Stop(k)) => timer_vars.push(format!("lxops_t_{}_stop", timer_key(k))),
            None => {}
        }
    }
    let view = View {
        version: env!("CARGO_PKG_VERSION"),
        command_line: command_line.to_string(),
        backend: plan.backend.name(),
        instances: plan.instances.clone(),
        inputs: plan.inputs.iter().map(|(p, h)| Input { path: p.clone(), sha256: h.clone() }).collect(),
        destructive: plan.destructive_count(),
        programs: plan.programs.clone(),
        locks: plan.instances.clone(),
        facts: plan
            .facts
            .iter()
            .map(|f| FactView {
                var: f.var.clone(),
                cmd: shell::command(&f.cmd),
                error: format!("cannot run {}: is the server reachable?", shell::display(&f.cmd)),
            })
            .collect(),
        checks: plan
            .checks
            .iter()
            .map(|c| CheckView {
                title: c.title.clone(),
                cond: group(&shell::cond(&c.ok)),
                error: c.error.clone(),
                hint: c.hint.clone(),
                state: c.state,
            })
            .collect(),
        vars,
        scalars,
        lists,
        timers: timers(plan),
        timer_vars,
        rollback: rollback_function(plan),
        resumable: plan
            .resume_points()
            .iter()
            .enumerate()
            .filter(|(_, ok)| **ok)
            .map(|(i, _)| (i + 1).to_string())
            .collect::<Vec<_>>()
            .join(" "),
        steps: plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepView {
                n: i + 1,
                id: s.id.clone(),
                title: s.title.clone(),
                origin: s.origin.clone(),
                destructive: s.destructive,
                skip: s.skip_if.as_ref().map(shell::cond),
                skip_note: s.skip_note.clone(),
                body: body(s),
            })
            .collect(),
    };
    let env = environment();
    let tmpl = env.get_template("script.sh").expect("template is registered");
    tmpl.render(Value::from(minijinja::value::Serde(&view))).expect("the script template renders")
}

/// `! cond` needs braces around compound conditions.
fn group(c: &str) -> String {
    if c.contains("&&") || c.contains("||") || c.starts_with('!') {
        format!("{{ {c}; }}")
    } else {
        c.to_string()
    }
}

/// The commands of a step, as script lines.
fn body(s: &Step) -> String {
    let mut lines: Vec<String> = Vec::new();
    match &s.action {
        Action::Run(cmds) => {
            for c in cmds {
                lines.push(shell::full_command(c));
            }
        }
        Action::Capture { cmd, outputs } => {
            lines.push(format!("lxops_out=$({})", shell::full_command(cmd)));
            for (var, parse) in outputs {
                let prog = shell::parse_program(parse);
                if parse.is_list() {
                    lines.push(format!("mapfile -t {var} < <(printf '%s\\n' \"$lxops_out\" | {prog})"));
                    lines.push(format!("say \"    {var}: ${{{var}[*]}}\""));
                } else if *parse == crate::plan::model::Parse::Trim {
                    lines.push(format!("{var}=$lxops_out"));
                    lines.push(format!("say \"    {var}: ${var}\""));
                } else {
                    lines.push(format!("{var}=$(printf '%s\\n' \"$lxops_out\" | {prog})"));
                    lines.push(format!("say \"    {var}: ${var}\""));
                }
            }
        }
        Action::WaitNetwork { show, list, instance, seconds } => {
            let name = shell::quote(instance);
            // Not `grep -q`: with pipefail, an early exit could fail the pipeline with SIGPIPE.
            lines.push(format!(
                "if ! {} | grep -E '^[[:space:]]+type: nic$' >/dev/null; then",
                shell::command(show)
            ));
            lines.push("  skipped 'the instance has no network interface'".to_string());
            lines.push("else".to_string());
            lines.push("  lxops_ip=''".to_string());
            lines.push(format!("  for _ in $(seq {seconds}); do"));
            lines.push(format!(
                "    lxops_ip=$({} | awk -F, -v n={name} '$1 == n {{ print $2 }}' | grep -oE '[0-9]+(\\.[0-9]+){{3}}' | head -n 1) || true",
                shell::command(list)
            ));
            lines.push("    [ -n \"$lxops_ip\" ] && break".to_string());
            lines.push("    sleep 1".to_string());
            lines.push("  done".to_string());
            let msg = shell::quote(&format!("no IPv4 address for {instance} after {seconds} s"));
            lines.push(format!("  [ -n \"$lxops_ip\" ] || die {msg}"));
            lines.push("  say \"    address: $lxops_ip\"".to_string());
            lines.push("fi".to_string());
        }
        Action::ForEach { list, unless_in, cmd, collect, tolerant } => {
            lines.push(format!("for lxops_item in \"${{{list}[@]}}\"; do"));
            if let Some(f) = unless_in {
                lines.push(format!("  has_key \"${f}\" \"$lxops_item\" && continue"));
            }
            if *tolerant {
                lines.push(format!(
                    "  {} || {{ say \"    failed: $lxops_item\"; continue; }}",
                    shell::full_command(cmd)
                ));
            } else {
                lines.push(format!("  {}", shell::full_command(cmd)));
            }
            if let Some(c) = collect {
                lines.push(format!("  {c}+=(\"$lxops_item\")"));
            }
            lines.push("done".to_string());
        }
        Action::WaitReady { probe, seconds } => {
            lines.push("lxops_ready=0".to_string());
            lines.push(format!("for _ in $(seq {seconds}); do"));
            lines.push(format!(
                "  if {} >/dev/null 2>&1; then lxops_ready=1; break; fi",
                shell::command(probe)
            ));
            lines.push("  sleep 1".to_string());
            lines.push("done".to_string());
            lines.push(format!(
                "[ \"$lxops_ready\" = 1 ] || die \"the instance did not answer within {seconds} s\""
            ));
        }
    }
    for v in &s.sets {
        lines.push(format!("{v}=1"));
    }
    match &s.timer {
        // Downtime starts when the stopping step begins and ends when the starting step is done.
        Some(Timer::Start(k)) => lines.insert(0, format!("lxops_t_{}_start=$EPOCHREALTIME", timer_key(k))),
        Some(Timer::Stop(k)) => lines.push(format!("lxops_t_{}_stop=$EPOCHREALTIME", timer_key(k))),
        None => {}
    }
    lines.join("\n")
}

/// A stopwatch name usable in a shell variable name.
fn timer_key(k: &str) -> String {
    k.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// The function that undoes partly done changes when a step fails.
fn rollback_function(plan: &Plan) -> String {
    let mut l = vec!["lxops_rollback() {".to_string()];
    if plan.rollbacks.is_empty() {
        l.push("  :".into());
    }
    for r in &plan.rollbacks {
        l.push(format!(
            "  if [ \"$lxops_step\" -ge {} ] && [ \"$lxops_step\" -le {} ]; then",
            r.first, r.last
        ));
        l.push(format!("    say {}", shell::quote(&format!("rolling back {}:", r.instance))));
        for (cmd, cond) in &r.cmds {
            let line = format!(
                "{} || say {}",
                shell::full_command(cmd),
                shell::quote(&format!("    rollback command failed: {}", shell::display(cmd)))
            );
            match cond {
                Some(c) => l.push(format!("    if {}; then {line}; fi", shell::cond(c))),
                None => l.push(format!("    {line}")),
            }
        }
        let msg: Vec<String> = r.message.iter().map(shell::word).collect();
        l.push(format!("    say {}", msg.join("")));
        l.push("    lxops_rolled_back=1".into());
        l.push("  fi".into());
    }
    l.push("}".into());
    l.join("\n")
}

/// Lines that print each stopwatch's time at the end.
fn timers(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for s in &plan.steps {
        if let Some(Timer::Start(k)) = &s.timer {
            let t = timer_key(k);
            out.push(format!(
                "say \"downtime {k}: $(awk -v a=\"$lxops_t_{t}_start\" -v b=\"$lxops_t_{t}_stop\" 'BEGIN {{ printf \"%.2f s\", b - a }}')\""
            ));
        }
    }
    out
}
