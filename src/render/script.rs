//! The bash rendering of a plan, through the minijinja template
//! `templates/script.sh.j2`.
//!
//! The template gets a view built from the plan, never the config. Values the
//! template prints are shell-quoted by the environment's formatter unless they
//! are marked safe; only text that `render::shell` already quoted (commands,
//! conditions, step bodies) is passed as safe, and comment text goes through
//! the `comment` filter. The script runs on a host without lxops.

use crate::plan::model::{Action, Plan, Step};
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
        if let Action::Capture { var, .. } = &s.action
            && !vars.contains(var)
        {
            vars.push(var.clone());
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
        Action::Capture { var, cmd } => {
            lines.push(format!("{var}=$({})", shell::full_command(cmd)));
            lines.push(format!("say \"    {var}=${var}\""));
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
    lines.join("\n")
}
