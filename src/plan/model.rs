//! The plan: the single description of every side effect lxops can have.
//!
//! A [`Plan`] is data: facts captured before anything changes, preflight
//! checks over them, and ordered [`Step`]s. Each step has a stable id, a
//! title, the config key it came from, its kind (host / server / guest),
//! whether it is destructive, an optional guard (skip the step when its effect
//! is already there) and its action: commands as argv vectors, a captured
//! run-time variable, or a wait. Renderers and the executor read plans; only
//! `plan::*` builds them. Nothing here quotes or runs anything.

use serde::Serialize;

/// Where a command's argument comes from: literal text or a run-time variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Lit(String),
    Var(String),
    /// A run-time list: expands to zero or more whole words (a word holding
    /// a list holds nothing else).
    List(String),
    /// The current element inside a `ForEach` action.
    Item,
}

/// One argv element, possibly with run-time variables inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word(pub Vec<Part>);

impl Word {
    pub fn lit(s: impl Into<String>) -> Word {
        Word(vec![Part::Lit(s.into())])
    }

    pub fn var(v: impl Into<String>) -> Word {
        Word(vec![Part::Var(v.into())])
    }

    pub fn list(v: impl Into<String>) -> Word {
        Word(vec![Part::List(v.into())])
    }

    /// The word with variables shown as `$NAME`, for humans and JSON.
    pub fn display(&self) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Part::Lit(s) => s.clone(),
                Part::Var(v) => format!("${v}"),
                Part::List(v) => format!("${v}[@]"),
                Part::Item => "$item".to_string(),
            })
            .collect()
    }
}

impl From<&str> for Word {
    fn from(s: &str) -> Word {
        Word::lit(s)
    }
}

impl From<String> for Word {
    fn from(s: String) -> Word {
        Word::lit(s)
    }
}

impl From<&String> for Word {
    fn from(s: &String) -> Word {
        Word::lit(s.clone())
    }
}

/// A command: an argv vector, never a shell string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub argv: Vec<Word>,
    /// A host command that needs root (run through sudo when not root).
    pub root: bool,
    /// Bytes fed to the command's standard input.
    pub stdin: Option<Vec<u8>>,
}

impl Cmd {
    pub fn new<I, W>(argv: I) -> Cmd
    where
        I: IntoIterator<Item = W>,
        W: Into<Word>,
    {
        Cmd { argv: argv.into_iter().map(Into::into).collect(), root: false, stdin: None }
    }

    /// Marks a host command that needs root.
    pub fn root(mut self) -> Cmd {
        self.root = true;
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn push(mut self, w: impl Into<Word>) -> Cmd {
        self.argv.push(w.into());
        self
    }

    pub fn program(&self) -> String {
        self.argv.first().map(|w| w.display()).unwrap_or_default()
    }

    /// Run-time variables the command reads.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.argv.iter().flat_map(|w| w.0.iter()).filter_map(|p| match p {
            Part::Var(v) | Part::List(v) => Some(v.as_str()),
            Part::Lit(_) | Part::Item => None,
        })
    }
}

/// A run-time condition, evaluated the same way by the script and `--execute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// The path is a directory on the host.
    DirExists(String),
    /// The run-time variable is set to 1.
    Var(String),
    /// A captured fact has a line equal to this text.
    FactLine {
        fact: String,
        line: String,
    },
    /// A captured CSV fact has a line whose first field is `key` and second `value`.
    FactField {
        fact: String,
        key: String,
        value: String,
    },
    /// A captured CSV fact has a line whose first field is `key`.
    FactKey {
        fact: String,
        key: String,
    },
    /// The command exits 0 (its output is discarded).
    Succeeds(Cmd),
    /// The run-time list has no element.
    ListEmpty(String),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    pub fn negate(c: Cond) -> Cond {
        Cond::Not(Box::new(c))
    }

    /// Appends the run-time variables and lists the condition reads.
    pub fn vars(&self, out: &mut Vec<String>) {
        match self {
            Cond::Var(v) | Cond::ListEmpty(v) => out.push(v.clone()),
            Cond::Succeeds(c) => out.extend(c.vars().map(str::to_string)),
            Cond::Not(i) => i.vars(out),
            Cond::And(v) | Cond::Or(v) => v.iter().for_each(|c| c.vars(out)),
            Cond::DirExists(_) | Cond::FactLine { .. } | Cond::FactField { .. } | Cond::FactKey { .. } => {}
        }
    }
}

/// Output of a read-only command captured before any change, shared by checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub var: String,
    pub cmd: Cmd,
}

/// A preflight check: when `ok` is false the plan stops before its first change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub title: String,
    pub ok: Cond,
    pub error: String,
    pub hint: String,
    /// Checks about state the plan itself changes; `--from` does not enforce them.
    pub state: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Runs on the host: zfs, mkdir, chown, rsync.
    Host,
    /// Talks to the container manager: incus or lxc.
    Server,
    /// Runs inside the guest through the container manager.
    Guest,
}

/// How a captured command's output becomes a run-time value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// The whole output, trailing newlines removed.
    Trim,
    /// From `config show`: the profile names joined by commas, with `old`
    /// replaced by `new` (appended when absent) if given.
    Profiles { replace: Option<(String, String)> },
    /// From `config show`: the profile names, as a list.
    ProfileNames,
    /// From `config show`: a list of `volatile.<nic>.hwaddr=<mac>` words.
    Hwaddrs,
    /// From `config show`: a list of `volatile.<nic>.hwaddr=` words (unset them).
    HwaddrKeys,
}

impl Parse {
    pub fn is_list(&self) -> bool {
        matches!(self, Parse::Hwaddrs | Parse::HwaddrKeys | Parse::ProfileNames)
    }

    /// The value(s) from a command's output. The script's awk programs
    /// (`render::shell::parse_program`) must compute exactly the same.
    pub fn apply(&self, out: &str) -> Vec<String> {
        match self {
            Parse::Trim => vec![out.trim_end_matches('\n').to_string()],
            Parse::Profiles { replace } => {
                let (old, new) = replace.clone().unwrap_or_default();
                let mut names: Vec<String> = Vec::new();
                let mut found = false;
                let mut inside = false;
                for line in out.lines() {
                    if line.starts_with("profiles:") {
                        inside = true;
                    } else if inside && let Some(x) = line.strip_prefix("- ") {
                        if !old.is_empty() && x == old {
                            found = true;
                            names.push(new.clone());
                        } else {
                            names.push(x.to_string());
                        }
                    } else {
                        inside = false;
                    }
                }
                if !old.is_empty() && !found {
                    names.push(new);
                }
                vec![names.join(",")]
            }
            Parse::ProfileNames => {
                let mut names = Vec::new();
                let mut inside = false;
                for line in out.lines() {
                    if line.starts_with("profiles:") {
                        inside = true;
                    } else if inside && let Some(x) = line.strip_prefix("- ") {
                        names.push(x.to_string());
                    } else {
                        inside = false;
                    }
                }
                names
            }
            Parse::Hwaddrs | Parse::HwaddrKeys => out
                .lines()
                .filter(|l| {
                    l.strip_prefix("  volatile.")
                        .and_then(|r| r.split_once('.'))
                        .is_some_and(|(nic, rest)| !nic.is_empty() && rest.starts_with("hwaddr: "))
                })
                .map(|l| {
                    let mut f = l.split_whitespace();
                    let key = f.next().unwrap_or("").trim_end_matches(':');
                    if *self == Parse::Hwaddrs {
                        format!("{key}={}", f.next().unwrap_or(""))
                    } else {
                        format!("{key}=")
                    }
                })
                .collect(),
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run these commands in order; the first failure fails the step.
    Run(Vec<Cmd>),
    /// Run the command once and derive run-time values from its output.
    Capture { cmd: Cmd, outputs: Vec<(String, Parse)> },
    /// Wait for a global IPv4 address, unless the instance has no NIC.
    WaitNetwork { show: Cmd, list: Cmd, instance: String, seconds: u32 },
    /// Wait until a command succeeds in the guest (retrying once a second).
    WaitReady { probe: Cmd, seconds: u32 },
    /// Run `cmd` once per element of the run-time list `list` (the element
    /// is `Part::Item`), skipping elements that are keys of the fact
    /// `unless_in`, collecting the elements done into the list `collect`.
    /// With `tolerant`, a failing command is reported and the loop goes on.
    ForEach { list: String, unless_in: Option<String>, cmd: Cmd, collect: Option<String>, tolerant: bool },
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Stable across runs: `<instance>/<what>[/<object>]`.
    pub id: String,
    pub instance: String,
    pub title: String,
    /// Where in the config the step comes from (`file: key`).
    pub origin: Option<String>,
    pub kind: Kind,
    pub destructive: bool,
    /// When true at run time, the step is skipped because its effect is there.
    pub skip_if: Option<Cond>,
    /// Human wording of `skip_if`, e.g. "skipped if /tank/x exists".
    pub skip_note: Option<String>,
    /// Run-time variables set to 1 when the step runs.
    pub sets: Vec<String>,
    /// Starts or stops a named stopwatch when the step has run (downtime).
    pub timer: Option<Timer>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    Start(String),
    Stop(String),
}

/// Commands that undo a partly done change when a step in `first..=last`
/// (1-based) fails: each runs when its condition holds; failures are reported
/// and the next command still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    pub instance: String,
    pub first: usize,
    pub last: usize,
    pub cmds: Vec<(Cmd, Option<Cond>)>,
    /// Printed after the rollback, e.g. where the pre-change snapshot is.
    pub message: Vec<Word>,
}

impl Step {
    pub fn new(instance: &str, id: &str, kind: Kind, title: impl Into<String>, action: Action) -> Step {
        Step {
            id: format!("{instance}/{id}"),
            instance: instance.to_string(),
            title: title.into(),
            origin: None,
            kind,
            destructive: false,
            skip_if: None,
            skip_note: None,
            sets: Vec::new(),
            timer: None,
            action,
        }
    }

    pub fn origin(mut self, o: impl Into<String>) -> Step {
        self.origin = Some(o.into());
        self
    }

    pub fn destructive(mut self) -> Step {
        self.destructive = true;
        self
    }

    pub fn skip_if(mut self, c: Cond, note: impl Into<String>) -> Step {
        self.skip_if = Some(c);
        self.skip_note = Some(note.into());
        self
    }

    pub fn timer(mut self, t: Timer) -> Step {
        self.timer = Some(t);
        self
    }

    pub fn sets(mut self, var: impl Into<String>) -> Step {
        self.sets.push(var.into());
        self
    }

    /// Every command the step may run, in order.
    pub fn commands(&self) -> Vec<&Cmd> {
        match &self.action {
            Action::Run(c) => c.iter().collect(),
            Action::Capture { cmd, .. } => vec![cmd],
            Action::WaitNetwork { show, list, .. } => vec![show, list],
            Action::WaitReady { probe, .. } => vec![probe],
            Action::ForEach { cmd, .. } => vec![cmd],
        }
    }
}

/// A compiled command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The lxops command, e.g. `launch`.
    pub command: String,
    pub backend: crate::plan::backend::Backend,
    pub instances: Vec<String>,
    /// Programs the plan runs on the host (checked first).
    pub programs: Vec<String>,
    pub facts: Vec<Fact>,
    pub checks: Vec<Check>,
    pub steps: Vec<Step>,
    /// Remarks the listing shows before the steps.
    pub notes: Vec<String>,
    pub rollbacks: Vec<Rollback>,
    /// Input files and their contents' sha256, for the script header.
    pub inputs: Vec<(String, String)>,
}

impl Plan {
    pub fn destructive_count(&self) -> usize {
        self.steps.iter().filter(|s| s.destructive).count()
    }

    /// Whether the plan can be resumed at step `k` (1-based): no earlier
    /// step sets a run-time value that step `k` or a later one (or a
    /// rollback) reads, since a resumed run would not have it.
    pub fn resumable(&self, k: usize) -> bool {
        self.resume_points().get(k.wrapping_sub(1)).copied().unwrap_or(false)
    }

    /// For each step, whether the plan can be resumed there; one pass over
    /// the steps: a value produced by step p and last read by step r blocks
    /// resuming at every step in p+1..=r.
    pub fn resume_points(&self) -> Vec<bool> {
        let n = self.steps.len();
        let mut first_produced: std::collections::HashMap<&str, usize> = Default::default();
        let mut last_read: std::collections::HashMap<String, usize> = Default::default();
        for (i, s) in self.steps.iter().enumerate() {
            let mut produced: Vec<&str> = s.sets.iter().map(|v| v.as_str()).collect();
            match &s.action {
                Action::Capture { outputs, .. } => produced.extend(outputs.iter().map(|(v, _)| v.as_str())),
                Action::ForEach { collect: Some(v), .. } => produced.push(v.as_str()),
                _ => {}
            }
            for p in produced {
                first_produced.entry(p).or_insert(i);
            }
            let mut read: Vec<String> = Vec::new();
            if let Some(c) = &s.skip_if {
                c.vars(&mut read);
            }
            for c in s.commands() {
                read.extend(c.vars().map(str::to_string));
            }
            if let Action::ForEach { list, .. } = &s.action {
                read.push(list.clone());
            }
            for r in read {
                last_read.insert(r, i);
            }
        }
        // Rollbacks may run after any step: their reads count as read at the end.
        for r in &self.rollbacks {
            let mut read: Vec<String> = Vec::new();
            for (c, cond) in &r.cmds {
                read.extend(c.vars().map(str::to_string));
                if let Some(cond) = cond {
                    cond.vars(&mut read);
                }
            }
            for w in &r.message {
                for p in &w.0 {
                    if let Part::Var(v) | Part::List(v) = p {
                        read.push(v.clone());
                    }
                }
            }
            for v in read {
                last_read.insert(v, n);
            }
        }
        let mut ok = vec![true; n];
        for (v, p) in first_produced {
            if let Some(&r) = last_read.get(v) {
                // Resuming at step index k (0-based) loses values produced before k.
                for slot in ok.iter_mut().take(r.min(n - 1) + 1).skip(p + 1) {
                    *slot = false;
                }
            }
        }
        ok
    }
}
