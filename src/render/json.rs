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
use std::borrow::Cow;

/// Text borrowed from the plan where it is there as is (most of it).
type S<'a> = Cow<'a, str>;

/// The version of this shape; it changes when a field changes meaning or goes away.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Serialize, JsonSchema)]
pub struct JsonPlan<'a> {
    format_version: u32,
    command: S<'a>,
    backend: S<'a>,
    instances: Vec<S<'a>>,
    /// Instance names locked for the run.
    locks: Vec<S<'a>>,
    programs: Vec<S<'a>>,
    facts: Vec<JsonFact<'a>>,
    checks: Vec<JsonCheck<'a>>,
    notes: Vec<S<'a>>,
    units: Vec<JsonUnit<'a>>,
}

#[derive(Serialize, JsonSchema)]
struct JsonFact<'a> {
    var: S<'a>,
    cmd: JsonCmd<'a>,
}

#[derive(Serialize, JsonSchema)]
struct JsonCheck<'a> {
    title: S<'a>,
    ok: JsonCond<'a>,
    error: S<'a>,
    hint: S<'a>,
}

#[derive(Serialize, JsonSchema)]
struct JsonUnit<'a> {
    instance: S<'a>,
    steps: Vec<JsonStep<'a>>,
    /// Step numbers the unit can be resumed at.
    resume_points: Vec<usize>,
    undo: Vec<JsonUndo<'a>>,
    cleanup: Vec<JsonGuarded<'a>>,
}

#[derive(Serialize, JsonSchema)]
struct JsonStep<'a> {
    number: usize,
    id: S<'a>,
    title: S<'a>,
    origin: Option<S<'a>>,
    /// `host`, `server` or `guest`.
    kind: S<'a>,
    destructive: bool,
    skip_if: Option<JsonCond<'a>>,
    skip_note: Option<S<'a>>,
    sets: Vec<S<'a>>,
    timer: Option<JsonTimer<'a>>,
    action: JsonAction<'a>,
}

#[derive(Serialize, JsonSchema)]
struct JsonTimer<'a> {
    label: S<'a>,
    start: S<'a>,
    stop: S<'a>,
    /// `start` or `stop`: which time this step records.
    edge: S<'a>,
}

#[derive(Serialize, JsonSchema)]
struct JsonUndo<'a> {
    first_step: usize,
    last_step: usize,
    run: Vec<JsonGuarded<'a>>,
    message: S<'a>,
}

#[derive(Serialize, JsonSchema)]
struct JsonGuarded<'a> {
    cmd: JsonCmd<'a>,
    #[serde(rename = "if")]
    when: Option<JsonCond<'a>>,
    /// Run once per element of this list, as `$item`.
    for_each: Option<JsonEach<'a>>,
}

#[derive(Serialize, JsonSchema)]
struct JsonEach<'a> {
    list: S<'a>,
    item: S<'a>,
}

#[derive(Serialize, JsonSchema)]
struct JsonCmd<'a> {
    argv: Vec<S<'a>>,
    /// Needs root on its host (sudo when not root).
    root: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vars: Vec<S<'a>>,
    /// The ssh destination when the command runs on another host.
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<S<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stdin: Option<JsonInput<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stdout_file: Option<S<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonInput<'a> {
    Text(S<'a>),
    Base64(S<'a>),
    File(S<'a>),
    /// A run-time value and a newline.
    Value(S<'a>),
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonCond<'a> {
    DirExists(S<'a>),
    FileExists(S<'a>),
    EmptyOrAbsent(S<'a>),
    RealDir(S<'a>),
    Flag(S<'a>),
    FactRow { fact: S<'a>, key: S<'a>, value: Option<S<'a>>, column: usize },
    Succeeds(JsonCmd<'a>),
    Prints { cmd: JsonCmd<'a>, want: S<'a> },
    ListEmpty(S<'a>),
    ListIs { list: S<'a>, items: Vec<S<'a>>, ordered: bool },
    Not(Box<JsonCond<'a>>),
    All(Vec<JsonCond<'a>>),
    Any(Vec<JsonCond<'a>>),
}

#[derive(Serialize, JsonSchema)]
struct JsonOutput<'a> {
    var: S<'a>,
    /// `text`, `profiles`, `profile_names`, `hwaddrs` or `hwaddr_keys`.
    parse: S<'a>,
    list: bool,
    /// For `profiles`: [old, new], old replaced by new.
    #[serde(skip_serializing_if = "Option::is_none")]
    replace: Option<[S<'a>; 2]>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonAction<'a> {
    Run(Vec<JsonCmd<'a>>),
    Pipe(Vec<JsonCmd<'a>>),
    Capture {
        cmd: JsonCmd<'a>,
        raw: S<'a>,
        outputs: Vec<JsonOutput<'a>>,
    },
    WaitNetwork {
        instance: S<'a>,
        seconds: u32,
        /// Run after the first poll found no address.
        nic_probe: JsonCmd<'a>,
        shown: S<'a>,
        poll: JsonCmd<'a>,
        address: S<'a>,
    },
    WaitReady {
        seconds: u32,
        probe: JsonCmd<'a>,
    },
    Assert {
        cond: JsonCond<'a>,
        message: S<'a>,
    },
    ForEach {
        list: S<'a>,
        item: S<'a>,
        unless_key_in: Option<S<'a>>,
        cmd: JsonCmd<'a>,
        collect: Option<S<'a>>,
        tolerant: bool,
    },
}

fn b(s: &str) -> S<'_> {
    Cow::Borrowed(s)
}

fn cmd(c: &Cmd) -> JsonCmd<'_> {
    JsonCmd {
        argv: c.argv.iter().map(word_text).collect(),
        root: c.root,
        vars: c.vars().into_iter().map(b).collect(),
        host: match &c.target {
            Target::Local => None,
            Target::Ssh { dest, .. } => Some(word_text(dest)),
        },
        stdin: match &c.stdin {
            Input::Null => None,
            Input::Bytes(bytes) => Some(match std::str::from_utf8(bytes) {
                Ok(t) => JsonInput::Text(b(t)),
                Err(_) => JsonInput::Base64(base64::engine::general_purpose::STANDARD.encode(bytes).into()),
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

/// A word as JSON text: literal parts as they are, run-time values as
/// `$NAME` (borrowed when the word is one literal, as most are).
fn word_text(w: &m::Word) -> S<'_> {
    if let [m::Part::Lit(s)] = w.0.as_slice() {
        return b(s);
    }
    w.0.iter()
        .map(|p| match p {
            m::Part::Lit(s) => s.clone(),
            m::Part::Var(v) => format!("${v}"),
            m::Part::List(v) => format!("${v}[@]"),
        })
        .collect::<String>()
        .into()
}

fn cond(c: &Cond) -> JsonCond<'_> {
    match c {
        Cond::DirExists(p) => JsonCond::DirExists(b(p)),
        Cond::FileExists(p) => JsonCond::FileExists(b(p)),
        Cond::EmptyOrAbsent(p) => JsonCond::EmptyOrAbsent(b(p)),
        Cond::RealDir(p) => JsonCond::RealDir(b(p)),
        Cond::Flag(v) => JsonCond::Flag(b(v)),
        Cond::FactRow { fact, key, value, column } => {
            JsonCond::FactRow { fact: b(fact), key: b(key), value: value.as_deref().map(b), column: *column }
        }
        Cond::Succeeds(c) => JsonCond::Succeeds(cmd(c)),
        Cond::Prints { cmd: c, want } => JsonCond::Prints { cmd: cmd(c), want: b(want) },
        Cond::ListEmpty(v) => JsonCond::ListEmpty(b(v)),
        Cond::ListIs { list, items, ordered } => {
            JsonCond::ListIs { list: b(list), items: items.iter().map(|i| b(i)).collect(), ordered: *ordered }
        }
        Cond::Not(i) => JsonCond::Not(Box::new(cond(i))),
        Cond::And(v) => JsonCond::All(v.iter().map(cond).collect()),
        Cond::Or(v) => JsonCond::Any(v.iter().map(cond).collect()),
    }
}

fn guarded(g: &Guarded) -> JsonGuarded<'_> {
    JsonGuarded {
        cmd: cmd(&g.cmd),
        when: g.when.as_ref().map(cond),
        for_each: g.each.as_ref().map(|e| JsonEach { list: b(&e.list), item: b(&e.item) }),
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
        m::Parse::Member { ssh, .. } if ssh.is_empty() => "member",
        m::Parse::Member { .. } => "member_ssh",
    }
}

fn action(a: &Action) -> JsonAction<'_> {
    match a {
        Action::Run(cmds) => JsonAction::Run(cmds.iter().map(cmd).collect()),
        Action::Pipe(cmds) => JsonAction::Pipe(cmds.iter().map(cmd).collect()),
        Action::Capture { cmd: c, raw, outputs } => JsonAction::Capture {
            cmd: cmd(c),
            raw: b(raw),
            outputs: outputs
                .iter()
                .map(|(v, p)| JsonOutput {
                    var: b(v),
                    parse: b(parse_name(p)),
                    list: p.is_list(),
                    replace: match p {
                        m::Parse::Profiles { replace: Some((o, n)) } => Some([b(o), b(n)]),
                        _ => None,
                    },
                })
                .collect(),
        },
        Action::WaitNetwork { show, shown, list, instance, seconds, address } => JsonAction::WaitNetwork {
            instance: b(instance),
            seconds: *seconds,
            nic_probe: cmd(show),
            shown: b(shown),
            poll: cmd(list),
            address: b(address),
        },
        Action::WaitReady { probe, seconds } => {
            JsonAction::WaitReady { seconds: *seconds, probe: cmd(probe) }
        }
        Action::Assert { cond: c, message } => JsonAction::Assert { cond: cond(c), message: b(message) },
        Action::ForEach { list, item, unless_in, cmd: c, collect, tolerant } => JsonAction::ForEach {
            list: b(list),
            item: b(item),
            unless_key_in: unless_in.as_deref().map(b),
            cmd: cmd(c),
            collect: collect.as_deref().map(b),
            tolerant: *tolerant,
        },
    }
}

/// The plan in its JSON shape, borrowing the plan's text.
pub fn to_json(plan: &Plan) -> JsonPlan<'_> {
    JsonPlan {
        format_version: FORMAT_VERSION,
        command: b(&plan.command),
        backend: b(plan.backend.name()),
        instances: plan.instances().into_iter().map(b).collect(),
        locks: plan.locks.iter().map(|l| b(l)).collect(),
        programs: plan.programs.iter().map(|p| b(p)).collect(),
        facts: plan.facts.iter().map(|f| JsonFact { var: b(&f.var), cmd: cmd(&f.cmd) }).collect(),
        checks: plan
            .checks
            .iter()
            .map(|c| JsonCheck { title: b(&c.title), ok: cond(&c.ok), error: b(&c.error), hint: b(&c.hint) })
            .collect(),
        notes: plan.notes.iter().map(|n| b(n)).collect(),
        units: plan
            .units
            .iter()
            .map(|u| JsonUnit {
                instance: b(&u.name),
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
                        id: b(&s.id),
                        title: b(&s.title),
                        origin: s.origin.as_deref().map(b),
                        kind: b(s.kind.name()),
                        destructive: s.destructive,
                        skip_if: s.skip_if.as_ref().map(cond),
                        skip_note: s.skip_note.as_deref().map(b),
                        sets: s.sets.iter().map(|x| b(x)).collect(),
                        timer: s.timer.as_ref().map(|t| JsonTimer {
                            label: b(&t.label),
                            start: b(&t.start),
                            stop: b(&t.stop),
                            edge: b(if t.edge == Edge::Start { "start" } else { "stop" }),
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
                        message: w.message.iter().map(word_text).collect::<Vec<_>>().concat().into(),
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
