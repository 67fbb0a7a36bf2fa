//! `--format json`: the plan as JSON, `format_version` 2.
//!
//! The shape is the typed structs below (snake_case names, no Rust debug
//! text); [`schema`] gives its JSON Schema, which a snapshot test keeps
//! stable. Arguments are strings; run-time values appear as `$NAME` in them
//! and are listed per command under `vars`.

use crate::plan::model::{self as m, Action, Cmd, Cond, Edge, Guarded, Input, Plan, Sink, Target};
use base64::Engine;
use schemars::JsonSchema;
use serde::Serialize;

/// The version of this shape; it changes when a field changes meaning or goes away.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Serialize, JsonSchema)]
pub struct JsonPlan {
    format_version: u32,
    command: String,
    backend: String,
    instances: Vec<String>,
    /// Instance names locked for the run.
    locks: Vec<String>,
    programs: Vec<String>,
    facts: Vec<JsonFact>,
    checks: Vec<JsonCheck>,
    notes: Vec<String>,
    units: Vec<JsonUnit>,
}

#[derive(Serialize, JsonSchema)]
struct JsonFact {
    var: String,
    cmd: JsonCmd,
}

#[derive(Serialize, JsonSchema)]
struct JsonCheck {
    title: String,
    ok: JsonCond,
    error: String,
    hint: String,
}

#[derive(Serialize, JsonSchema)]
struct JsonUnit {
    instance: String,
    steps: Vec<JsonStep>,
    /// Step numbers the unit can be resumed at.
    resume_points: Vec<usize>,
    undo: Vec<JsonUndo>,
    cleanup: Vec<JsonGuarded>,
}

#[derive(Serialize, JsonSchema)]
struct JsonStep {
    number: usize,
    id: String,
    title: String,
    origin: Option<String>,
    /// `host`, `server` or `guest`.
    kind: String,
    destructive: bool,
    skip_if: Option<JsonCond>,
    skip_note: Option<String>,
    sets: Vec<String>,
    timer: Option<JsonTimer>,
    action: JsonAction,
}

#[derive(Serialize, JsonSchema)]
struct JsonTimer {
    label: String,
    start: String,
    stop: String,
    /// `start` or `stop`: which time this step records.
    edge: String,
}

#[derive(Serialize, JsonSchema)]
struct JsonUndo {
    first_step: usize,
    last_step: usize,
    run: Vec<JsonGuarded>,
    message: String,
}

#[derive(Serialize, JsonSchema)]
struct JsonGuarded {
    cmd: JsonCmd,
    #[serde(rename = "if")]
    when: Option<JsonCond>,
    /// Run once per element of this list, as `$item`.
    for_each: Option<JsonEach>,
}

#[derive(Serialize, JsonSchema)]
struct JsonEach {
    list: String,
    item: String,
}

#[derive(Serialize, JsonSchema)]
struct JsonCmd {
    argv: Vec<String>,
    /// Needs root on its host (sudo when not root).
    root: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vars: Vec<String>,
    /// The ssh destination when the command runs on another host.
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stdin: Option<JsonInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stdout_file: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonInput {
    Text(String),
    Base64(String),
    File(String),
    /// A run-time value and a newline.
    Value(String),
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonCond {
    DirExists(String),
    FileExists(String),
    EmptyOrAbsent(String),
    RealDir(String),
    Flag(String),
    FactRow { fact: String, key: String, value: Option<String>, column: usize },
    Succeeds(JsonCmd),
    Prints { cmd: JsonCmd, want: String },
    ListEmpty(String),
    ListIs { list: String, items: Vec<String>, ordered: bool },
    Not(Box<JsonCond>),
    All(Vec<JsonCond>),
    Any(Vec<JsonCond>),
}

#[derive(Serialize, JsonSchema)]
struct JsonOutput {
    var: String,
    /// `text`, `profiles`, `profile_names`, `hwaddrs` or `hwaddr_keys`.
    parse: String,
    list: bool,
    /// For `profiles`: [old, new], old replaced by new.
    #[serde(skip_serializing_if = "Option::is_none")]
    replace: Option<[String; 2]>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonAction {
    Run(Vec<JsonCmd>),
    Pipe(Vec<JsonCmd>),
    Capture {
        cmd: JsonCmd,
        raw: String,
        outputs: Vec<JsonOutput>,
    },
    WaitNetwork {
        instance: String,
        seconds: u32,
        /// Run after the first poll found no address.
        nic_probe: JsonCmd,
        shown: String,
        poll: JsonCmd,
        address: String,
    },
    WaitReady {
        seconds: u32,
        probe: JsonCmd,
    },
    Assert {
        cond: JsonCond,
        message: String,
    },
    ForEach {
        list: String,
        item: String,
        unless_key_in: Option<String>,
        cmd: JsonCmd,
        collect: Option<String>,
        tolerant: bool,
    },
}

fn cmd(c: &Cmd) -> JsonCmd {
    JsonCmd {
        argv: c.argv.iter().map(word_text).collect(),
        root: c.root,
        vars: c.vars().into_iter().map(str::to_string).collect(),
        host: match &c.target {
            Target::Local => None,
            Target::Ssh { dest, .. } => Some(word_text(dest)),
        },
        stdin: match &c.stdin {
            Input::Null => None,
            Input::Bytes(b) => Some(match std::str::from_utf8(b) {
                Ok(t) => JsonInput::Text(t.to_string()),
                Err(_) => JsonInput::Base64(base64::engine::general_purpose::STANDARD.encode(b)),
            }),
            Input::File(w) => Some(JsonInput::File(word_text(w))),
            Input::Value(w) => Some(JsonInput::Value(word_text(w))),
        },
        stdout_file: match &c.stdout {
            Sink::Log => None,
            Sink::File(w) => Some(word_text(w)),
        },
    }
}

/// A word as JSON text: literal parts as they are, run-time values as `$NAME`.
fn word_text(w: &m::Word) -> String {
    w.0.iter()
        .map(|p| match p {
            m::Part::Lit(s) => s.clone(),
            m::Part::Var(v) => format!("${v}"),
            m::Part::List(v) => format!("${v}[@]"),
        })
        .collect()
}

fn cond(c: &Cond) -> JsonCond {
    match c {
        Cond::DirExists(p) => JsonCond::DirExists(p.clone()),
        Cond::FileExists(p) => JsonCond::FileExists(p.clone()),
        Cond::EmptyOrAbsent(p) => JsonCond::EmptyOrAbsent(p.clone()),
        Cond::RealDir(p) => JsonCond::RealDir(p.clone()),
        Cond::Flag(v) => JsonCond::Flag(v.clone()),
        Cond::FactRow { fact, key, value, column } => {
            JsonCond::FactRow { fact: fact.clone(), key: key.clone(), value: value.clone(), column: *column }
        }
        Cond::Succeeds(c) => JsonCond::Succeeds(cmd(c)),
        Cond::Prints { cmd: c, want } => JsonCond::Prints { cmd: cmd(c), want: want.clone() },
        Cond::ListEmpty(v) => JsonCond::ListEmpty(v.clone()),
        Cond::ListIs { list, items, ordered } => {
            JsonCond::ListIs { list: list.clone(), items: items.clone(), ordered: *ordered }
        }
        Cond::Not(i) => JsonCond::Not(Box::new(cond(i))),
        Cond::And(v) => JsonCond::All(v.iter().map(cond).collect()),
        Cond::Or(v) => JsonCond::Any(v.iter().map(cond).collect()),
    }
}

fn guarded(g: &Guarded) -> JsonGuarded {
    JsonGuarded {
        cmd: cmd(&g.cmd),
        when: g.when.as_ref().map(cond),
        for_each: g.each.as_ref().map(|e| JsonEach { list: e.list.clone(), item: e.item.clone() }),
    }
}

fn parse_name(p: &m::Parse) -> &'static str {
    match p {
        m::Parse::Text => "text",
        m::Parse::Profiles { .. } => "profiles",
        m::Parse::ProfileNames => "profile_names",
        m::Parse::ProfileFlags => "profile_flags",
        m::Parse::Hwaddrs => "hwaddrs",
        m::Parse::HwaddrKeys => "hwaddr_keys",
        m::Parse::Lines => "lines",
        m::Parse::After { .. } => "after",
        m::Parse::CommonBase { .. } => "common_base",
        m::Parse::RandomName { .. } => "random_name",
        m::Parse::CsvNames => "csv_names",
    }
}

fn action(a: &Action) -> JsonAction {
    match a {
        Action::Run(cmds) => JsonAction::Run(cmds.iter().map(cmd).collect()),
        Action::Pipe(cmds) => JsonAction::Pipe(cmds.iter().map(cmd).collect()),
        Action::Capture { cmd: c, raw, outputs } => JsonAction::Capture {
            cmd: cmd(c),
            raw: raw.clone(),
            outputs: outputs
                .iter()
                .map(|(v, p)| JsonOutput {
                    var: v.clone(),
                    parse: parse_name(p).to_string(),
                    list: p.is_list(),
                    replace: match p {
                        m::Parse::Profiles { replace: Some((o, n)) } => Some([o.clone(), n.clone()]),
                        _ => None,
                    },
                })
                .collect(),
        },
        Action::WaitNetwork { show, shown, list, instance, seconds, address } => JsonAction::WaitNetwork {
            instance: instance.clone(),
            seconds: *seconds,
            nic_probe: cmd(show),
            shown: shown.clone(),
            poll: cmd(list),
            address: address.clone(),
        },
        Action::WaitReady { probe, seconds } => {
            JsonAction::WaitReady { seconds: *seconds, probe: cmd(probe) }
        }
        Action::Assert { cond: c, message } => JsonAction::Assert { cond: cond(c), message: message.clone() },
        Action::ForEach { list, item, unless_in, cmd: c, collect, tolerant } => JsonAction::ForEach {
            list: list.clone(),
            item: item.clone(),
            unless_key_in: unless_in.clone(),
            cmd: cmd(c),
            collect: collect.clone(),
            tolerant: *tolerant,
        },
    }
}

/// The plan in its JSON shape.
pub fn to_json(plan: &Plan) -> JsonPlan {
    JsonPlan {
        format_version: FORMAT_VERSION,
        command: plan.command.clone(),
        backend: plan.backend.name().to_string(),
        instances: plan.instances().iter().map(|s| s.to_string()).collect(),
        locks: plan.locks.clone(),
        programs: plan.programs.clone(),
        facts: plan.facts.iter().map(|f| JsonFact { var: f.var.clone(), cmd: cmd(&f.cmd) }).collect(),
        checks: plan
            .checks
            .iter()
            .map(|c| JsonCheck {
                title: c.title.clone(),
                ok: cond(&c.ok),
                error: c.error.clone(),
                hint: c.hint.clone(),
            })
            .collect(),
        notes: plan.notes.clone(),
        units: plan
            .units
            .iter()
            .map(|u| JsonUnit {
                instance: u.name.clone(),
                resume_points: u
                    .resume_points()
                    .iter()
                    .enumerate()
                    .filter(|(_, ok)| **ok)
                    .map(|(i, _)| i + 1)
                    .collect(),
                steps: u
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| JsonStep {
                        number: i + 1,
                        id: s.id.clone(),
                        title: s.title.clone(),
                        origin: s.origin.clone(),
                        kind: s.kind.name().to_string(),
                        destructive: s.destructive,
                        skip_if: s.skip_if.as_ref().map(cond),
                        skip_note: s.skip_note.clone(),
                        sets: s.sets.clone(),
                        timer: s.timer.as_ref().map(|t| JsonTimer {
                            label: t.label.clone(),
                            start: t.start.clone(),
                            stop: t.stop.clone(),
                            edge: if t.edge == Edge::Start { "start" } else { "stop" }.to_string(),
                        }),
                        action: action(&s.action),
                    })
                    .collect(),
                undo: u
                    .undo
                    .iter()
                    .map(|w| JsonUndo {
                        first_step: w.first,
                        last_step: w.last,
                        run: w.cmds.iter().map(guarded).collect(),
                        message: w.message.iter().map(word_text).collect(),
                    })
                    .collect(),
                cleanup: u.cleanup.iter().map(guarded).collect(),
            })
            .collect(),
    }
}

pub fn render(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(&to_json(plan)).expect("plans serialise");
    s.push('\n');
    s
}

/// The JSON Schema of [`render`]'s output.
pub fn schema() -> String {
    let mut s = serde_json::to_string_pretty(&schemars::schema_for!(JsonPlan)).expect("schemas serialise");
    s.push('\n');
    s
}
