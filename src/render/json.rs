//! `--format json`: the plan as JSON, `format_version` 1.
//!
//! Arguments are arrays of strings; run-time variables appear as `$NAME` in
//! them and are listed per command under `vars`. Field names are stable.

use crate::plan::model::{Action, Cmd, Cond, Plan};
use crate::render::shell;
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Serialize)]
struct JsonPlan {
    format_version: u32,
    command: String,
    backend: &'static str,
    instances: Vec<String>,
    programs: Vec<String>,
    facts: Vec<Value>,
    checks: Vec<Value>,
    notes: Vec<String>,
    rollbacks: Vec<Value>,
    steps: Vec<Value>,
}

fn cmd(c: &Cmd) -> Value {
    let mut v = json!({
        "argv": c.argv.iter().map(|w| w.display()).collect::<Vec<_>>(),
        "root": c.root,
    });
    let vars: Vec<&str> = c.vars().collect();
    if !vars.is_empty() {
        v["vars"] = json!(vars);
    }
    if let Some(b) = &c.stdin {
        v["stdin"] = match std::str::from_utf8(b) {
            Ok(t) => json!({"text": t}),
            Err(_) => json!({"base64": shell::base64(b)}),
        };
    }
    v
}

fn cond(c: &Cond) -> Value {
    match c {
        Cond::DirExists(p) => json!({"dir_exists": p}),
        Cond::Var(v) => json!({"var_set": v}),
        Cond::FactLine { fact, line } => json!({"fact_line": {"fact": fact, "line": line}}),
        Cond::FactField { fact, key, value } => {
            json!({"fact_field": {"fact": fact, "key": key, "value": value}})
        }
        Cond::FactKey { fact, key } => json!({"fact_key": {"fact": fact, "key": key}}),
        Cond::Succeeds(c) => json!({"succeeds": cmd(c)}),
        Cond::ListEmpty(v) => json!({"list_empty": v}),
        Cond::Not(i) => json!({"not": cond(i)}),
        Cond::And(v) => json!({"all": v.iter().map(cond).collect::<Vec<_>>()}),
        Cond::Or(v) => json!({"any": v.iter().map(cond).collect::<Vec<_>>()}),
    }
}

pub fn render(plan: &Plan) -> String {
    let steps = plan
        .steps
        .iter()
        .map(|s| {
            let action = match &s.action {
                Action::Run(cmds) => json!({"run": cmds.iter().map(cmd).collect::<Vec<_>>()}),
                Action::Capture { cmd: c, outputs } => json!({"capture": {
                    "cmd": cmd(c),
                    "outputs": outputs.iter().map(|(v, p)| json!({"var": v, "parse": format!("{p:?}"), "list": p.is_list()})).collect::<Vec<_>>(),
                }}),
                Action::WaitNetwork { show, list, instance, seconds } => {
                    json!({"wait_network": {"instance": instance, "seconds": seconds, "nic_probe": cmd(show), "poll": cmd(list)}})
                }
                Action::ForEach { list, unless_in, cmd: c, collect, tolerant } => json!({"for_each": {
                    "list": list, "unless_key_in": unless_in, "cmd": cmd(c), "collect": collect, "tolerant": tolerant,
                }}),
                Action::WaitReady { probe, seconds } => {
                    json!({"wait_ready": {"seconds": seconds, "probe": cmd(probe)}})
                }
            };
            json!({
                "id": s.id,
                "instance": s.instance,
                "title": s.title,
                "origin": s.origin,
                "kind": s.kind,
                "destructive": s.destructive,
                "skip_if": s.skip_if.as_ref().map(cond),
                "sets": s.sets,
                "timer": s.timer.as_ref().map(|t| match t {
                    crate::plan::model::Timer::Start(k) => json!({"start": k}),
                    crate::plan::model::Timer::Stop(k) => json!({"stop": k}),
                }),
                "action": action,
            })
        })
        .collect();
    let p = JsonPlan {
        format_version: 1,
        command: plan.command.clone(),
        backend: plan.backend.name(),
        instances: plan.instances.clone(),
        programs: plan.programs.clone(),
        facts: plan.facts.iter().map(|f| json!({"var": f.var, "cmd": cmd(&f.cmd)})).collect(),
        checks: plan
            .checks
            .iter()
            .map(|c| json!({"title": c.title, "ok": cond(&c.ok), "error": c.error, "hint": c.hint}))
            .collect(),
        notes: plan.notes.clone(),
        rollbacks: plan
            .rollbacks
            .iter()
            .map(|r| {
                json!({
                    "instance": r.instance,
                    "first_step": r.first,
                    "last_step": r.last,
                    "run": r.cmds.iter().map(|(c, k)| json!({"cmd": cmd(c), "if": k.as_ref().map(cond)})).collect::<Vec<_>>(),
                    "message": r.message.iter().map(|w| w.display()).collect::<String>(),
                })
            })
            .collect(),
        steps,
    };
    let mut s = serde_json::to_string_pretty(&p).expect("plans serialise");
    s.push('\n');
    s
}
