//! The plan: the single description of every side effect lxops can have.
//!
//! A [`Plan`] is data: facts read before anything changes, preflight checks
//! over them, and one [`Unit`] per instance holding its ordered [`Step`]s, the
//! undo windows that restore the state before a failed change, and the
//! cleanup that runs whatever happens. A step has a stable id, a title, the
//! config key it came from, its kind (host / server / guest), whether it is
//! destructive, an optional guard (skip the step when its effect is already
//! there) and its action. Every run-time value (captured output, flags set by
//! steps, stopwatches, loop items) is named here, by the builder; the two
//! runtimes in `crate::runtime` only give these names a bash or a Rust
//! meaning. Only `plan::*` builds plans; nothing here quotes or runs anything.

/// Where an argument comes from: literal text or a run-time value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    /// A run-time scalar, by its plan-wide name.
    Var(String),
    /// A run-time list: expands to zero or more whole words (a word holding
    /// a list holds nothing else).
    List(String),
}

/// One argv element, possibly with run-time values inside.
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

    /// `prefix` followed by the value of `var`.
    pub fn lit_var(prefix: impl Into<String>, var: impl Into<String>) -> Word {
        Word(vec![Part::Lit(prefix.into()), Part::Var(var.into())])
    }

    /// This word followed by `more` (literal text or run-time values).
    pub fn then(mut self, more: impl Into<Word>) -> Word {
        for p in more.into().0 {
            match (self.0.last_mut(), p) {
                (Some(Part::Lit(a)), Part::Lit(b)) => a.push_str(&b),
                (_, p) => self.0.push(p),
            }
        }
        self
    }

    /// The literal text when the word has no run-time part.
    pub fn as_lit(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.0 {
            match p {
                Part::Lit(l) => s.push_str(l),
                Part::Var(_) | Part::List(_) => return None,
            }
        }
        Some(s)
    }

    /// Run-time values the word reads.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Var(v) | Part::List(v) => Some(v.as_str()),
            Part::Lit(_) => None,
        })
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

/// The host a command runs on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Target {
    /// The host that runs the script or lxops.
    #[default]
    Local,
    /// Another host, through `ssh -o BatchMode=yes -- DEST 'quoted argv'`;
    /// with `sudo`, host commands that need root run through `sudo -n` there.
    Ssh { dest: Word, sudo: bool },
}

/// A command's standard input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Input {
    /// Nothing (`/dev/null`).
    #[default]
    Null,
    /// These bytes.
    Bytes(Vec<u8>),
    /// The content of a file on the host that runs the command.
    File(Word),
    /// A run-time value followed by a newline (what an earlier step read,
    /// given back: a profile's previous content).
    Value(Word),
}

/// Where a command's standard output goes (its standard error always goes
/// to the run's standard error).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Sink {
    /// The run's standard error, with the progress lines.
    #[default]
    Log,
    /// A file on the host that runs lxops or the script (created or truncated).
    File(Word),
}

/// A command: an argv vector, never a shell string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub argv: Vec<Word>,
    /// A host command that needs root (run through sudo when not root).
    pub root: bool,
    pub target: Target,
    pub stdin: Input,
    pub stdout: Sink,
}

impl Cmd {
    pub fn new<I, W>(argv: I) -> Cmd
    where
        I: IntoIterator<Item = W>,
        W: Into<Word>,
    {
        Cmd {
            argv: argv.into_iter().map(Into::into).collect(),
            root: false,
            target: Target::Local,
            stdin: Input::Null,
            stdout: Sink::Log,
        }
    }

    /// Marks a host command that needs root.
    pub fn root(mut self) -> Cmd {
        self.root = true;
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Input::Bytes(bytes.into());
        self
    }

    pub fn stdin_file(mut self, path: Word) -> Cmd {
        self.stdin = Input::File(path);
        self
    }

    /// Standard input from a run-time value (and a newline).
    pub fn stdin_value(mut self, value: Word) -> Cmd {
        self.stdin = Input::Value(value);
        self
    }

    pub fn stdout_file(mut self, path: Word) -> Cmd {
        self.stdout = Sink::File(path);
        self
    }

    pub fn on(mut self, target: Target) -> Cmd {
        self.target = target;
        self
    }

    pub fn push(mut self, w: impl Into<Word>) -> Cmd {
        self.argv.push(w.into());
        self
    }

    /// Appends several words.
    pub fn extend<W: Into<Word>>(mut self, words: impl IntoIterator<Item = W>) -> Cmd {
        self.argv.extend(words.into_iter().map(Into::into));
        self
    }

    /// The program's name (the first word's literal text).
    pub fn program(&self) -> String {
        self.argv.first().and_then(Word::as_lit).unwrap_or_default()
    }

    /// Run-time values the command reads (argv, target, input and output files).
    pub fn vars(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.argv.iter().flat_map(Word::vars).collect();
        if let Target::Ssh { dest, .. } = &self.target {
            v.extend(dest.vars());
        }
        if let Input::File(w) | Input::Value(w) = &self.stdin {
            v.extend(w.vars());
        }
        if let Sink::File(w) = &self.stdout {
            v.extend(w.vars());
        }
        v
    }
}

/// A run-time condition, evaluated the same way by the script and `--execute`
/// (both halves are in `runtime::cond`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// The path is a directory on the host.
    DirExists(String),
    /// The path is a regular file on the host.
    FileExists(String),
    /// The path does not exist, or is an empty directory.
    EmptyOrAbsent(String),
    /// The path is a directory that is neither a symbolic link nor reached
    /// through one: what a destroy may remove.
    RealDir(String),
    /// The run-time flag was set by a step that ran.
    Flag(String),
    /// A fact has a line whose first comma-separated field is `key` and,
    /// when `value` is given, whose field number `column` (2 or more) is
    /// `value`.
    FactRow {
        fact: String,
        key: String,
        value: Option<String>,
        column: usize,
    },
    /// The command exits 0 (its output is discarded).
    Succeeds(Cmd),
    /// The command exits 0 and prints exactly `want` (trailing newlines aside).
    Prints {
        cmd: Cmd,
        want: String,
    },
    /// The run-time list has no element.
    ListEmpty(String),
    /// The run-time list holds exactly `items`: in this order, or in any
    /// order (as a multiset) when `ordered` is false.
    ListIs {
        list: String,
        items: Vec<String>,
        ordered: bool,
    },
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    pub fn negate(c: Cond) -> Cond {
        Cond::Not(Box::new(c))
    }

    /// A fact row whose first field is `key`.
    pub fn has_key(fact: &str, key: &str) -> Cond {
        Cond::FactRow { fact: fact.to_string(), key: key.to_string(), value: None, column: 2 }
    }

    /// A fact row `key,value,…`.
    pub fn has_row(fact: &str, key: &str, value: &str) -> Cond {
        Cond::has_cell(fact, key, 2, value)
    }

    /// A fact row whose first field is `key` and field number `column` is `value`.
    pub fn has_cell(fact: &str, key: &str, column: usize, value: &str) -> Cond {
        assert!(column >= 2, "column 1 is the key");
        Cond::FactRow { fact: fact.to_string(), key: key.to_string(), value: Some(value.to_string()), column }
    }

    /// Appends the run-time values the condition reads (facts excluded).
    pub fn vars(&self, out: &mut Vec<String>) {
        match self {
            Cond::Flag(v) | Cond::ListEmpty(v) | Cond::ListIs { list: v, .. } => out.push(v.clone()),
            Cond::Succeeds(c) | Cond::Prints { cmd: c, .. } => {
                out.extend(c.vars().into_iter().map(str::to_string))
            }
            Cond::Not(i) => i.vars(out),
            Cond::And(v) | Cond::Or(v) => v.iter().for_each(|c| c.vars(out)),
            Cond::DirExists(_)
            | Cond::FileExists(_)
            | Cond::EmptyOrAbsent(_)
            | Cond::RealDir(_)
            | Cond::FactRow { .. } => {}
        }
    }

    /// Every command the condition may run.
    pub fn commands(&self) -> Vec<&Cmd> {
        match self {
            Cond::Succeeds(c) | Cond::Prints { cmd: c, .. } => vec![c],
            Cond::Not(i) => i.commands(),
            Cond::And(v) | Cond::Or(v) => v.iter().flat_map(Cond::commands).collect(),
            _ => Vec::new(),
        }
    }
}

/// Output of a read-only command captured before any change, shared by checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub var: String,
    pub cmd: Cmd,
}

/// A preflight check: when `ok` is false the plan stops before its first
/// change. Checks are about state the plan changes, so a resumed run
/// (`--from`) does not evaluate them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub title: String,
    pub ok: Cond,
    pub error: String,
    pub hint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Runs on a host: zfs, mkdir, chown, rsync.
    Host,
    /// Talks to the container manager: incus or lxc.
    Server,
    /// Runs inside the guest through the container manager.
    Guest,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Host => "host",
            Kind::Server => "server",
            Kind::Guest => "guest",
        }
    }
}

/// How a captured command's output becomes a run-time value (both halves
/// are in `runtime::parse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// The whole output.
    Text,
    /// From `config show`: the profile names joined by commas, with `old`
    /// replaced by `new` (appended when absent) if given.
    Profiles { replace: Option<(String, String)> },
    /// From `config show`: the profile names, as a list.
    ProfileNames,
    /// From `config show`: `-p NAME` for each profile, as a list of words for
    /// `create` (`--no-profiles` when there is none).
    ProfileFlags,
    /// From `config show`: a list of `volatile.<nic>.hwaddr=<mac>` words.
    Hwaddrs,
    /// From `config show`: a list of `volatile.<nic>.hwaddr=` words (unset them).
    HwaddrKeys,
    /// The lines, as a list (none for empty output).
    Lines,
    /// The lines after the line `target` that start with `prefix`, as a list
    /// (the snapshots a rollback to `target` destroys).
    After { target: String, prefix: String },
    /// From two `zfs list -t snapshot` outputs (this one of `src`, the run-time
    /// value `other` of `dst`): `-i SRC@BASE` for the newest snapshot BASE of
    /// `src` listed before `sent` that `dst` has too, or nothing (a full send).
    CommonBase { other: String, src: String, dst: String, sent: Word },
    /// From a `--format csv` listing: the first field of each line, as a
    /// list; a name lxops could not pass on fails the parse.
    CsvNames,
    /// From `od`'s random bytes (decimal numbers): `prefix` followed by one
    /// lower-case letter per number (a temporary instance's name).
    RandomName { prefix: String },
    /// From `info`: the cluster member in its `Location: ` line (a name
    /// lxops can pass on; `none`, on a single server, fails the parse) or,
    /// with `ssh`, that member's ssh destination (its entry in `ssh`, else
    /// its name).
    Member { ssh: Vec<(String, String)> },
}

impl Parse {
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            Parse::Hwaddrs
                | Parse::HwaddrKeys
                | Parse::ProfileNames
                | Parse::ProfileFlags
                | Parse::Lines
                | Parse::CsvNames
                | Parse::After { .. }
                | Parse::CommonBase { .. }
        )
    }

    /// Run-time values the parser reads besides the command's output.
    pub fn reads(&self) -> Vec<&str> {
        match self {
            Parse::CommonBase { other, sent, .. } => {
                let mut v = vec![other.as_str()];
                v.extend(sent.vars());
                v
            }
            _ => Vec::new(),
        }
    }
}

/// A command whose failure is reported without failing the run, and which
/// only runs when its condition holds (undo and cleanup); with `each`, it
/// runs once per element of a run-time list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guarded {
    pub cmd: Cmd,
    pub when: Option<Cond>,
    pub each: Option<Each>,
}

/// A run-time list to loop over, and the name of its current element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Each {
    pub list: String,
    pub item: String,
}

impl Guarded {
    pub fn new(cmd: Cmd, when: Option<Cond>) -> Guarded {
        Guarded { cmd, when, each: None }
    }

    /// Run-time values the command reads (its own loop element excluded).
    pub fn reads(&self) -> Vec<String> {
        let item = self.each.as_ref().map(|e| e.item.as_str());
        let mut r: Vec<String> =
            self.cmd.vars().into_iter().filter(|v| Some(*v) != item).map(str::to_string).collect();
        if let Some(c) = &self.when {
            c.vars(&mut r);
        }
        if let Some(e) = &self.each {
            r.push(e.list.clone());
        }
        r
    }
}

/// How often the waits poll: a rebuild's downtime ends when the new instance
/// has its address, and a poll once a second would add half a second to it
/// on average (each poll is one client call, ~50-90 ms).
pub const POLLS_PER_SECOND: u32 = 4;

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run these commands in order; the first failure fails the step.
    Run(Vec<Cmd>),
    /// One pipeline: each command's output is the next one's input; the step
    /// fails when any of them fails.
    Pipe(Vec<Cmd>),
    /// Run the command once; keep its output in `raw` and derive run-time
    /// values from it.
    Capture { cmd: Cmd, raw: String, outputs: Vec<(String, Parse)> },
    /// Wait for a global IPv4 address (kept in `address`), unless the
    /// instance has no NIC: `show` (its expanded config, kept in `shown`)
    /// says whether it has one, read only when the first poll found no
    /// address (while the instance waits for DHCP anyway); `list` is polled `POLLS_PER_SECOND` times a
    /// second.
    WaitNetwork { show: Cmd, shown: String, list: Cmd, instance: String, seconds: u32, address: String },
    /// Wait until a command succeeds in the guest (retried `POLLS_PER_SECOND`
    /// times a second).
    WaitReady { probe: Cmd, seconds: u32 },
    /// Fail with `message` unless the condition holds (a run-time
    /// assumption that only an earlier step can establish).
    Assert { cond: Cond, message: String },
    /// Run `cmd` once per element of the run-time list `list` (the element
    /// is the run-time value `item`), skipping elements that are keys of the
    /// fact `unless_in`, collecting the elements done into the list
    /// `collect`. With `tolerant`, a failing command is reported and the
    /// loop goes on.
    ForEach {
        list: String,
        item: String,
        unless_in: Option<String>,
        cmd: Cmd,
        collect: Option<String>,
        tolerant: bool,
    },
}

/// Starts or stops a stopwatch (rebuild downtime). The times are run-time
/// values named by the plan; the time is printed at the end of the run when
/// both steps ran (`downtime LABEL: 1.23 s`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// What is timed, for the message.
    pub label: String,
    /// The run-time value holding the start time.
    pub start: String,
    /// The run-time value holding the stop time.
    pub stop: String,
    pub edge: Edge,
}

impl Timer {
    /// The run-time value this step's edge sets.
    pub fn var(&self) -> &str {
        match self.edge {
            Edge::Start => &self.start,
            Edge::Stop => &self.stop,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The stopwatch starts when the step begins.
    Start,
    /// The stopwatch stops when the step is done.
    Stop,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Stable across runs, unique within its unit: `<what>[/<object>]`.
    pub id: String,
    pub title: String,
    /// Where in the config the step comes from (`file: key`).
    pub origin: Option<String>,
    pub kind: Kind,
    pub destructive: bool,
    /// When true at run time, the step is skipped because its effect is there.
    pub skip_if: Option<Cond>,
    /// Human wording of `skip_if`, e.g. "/tank/x exists".
    pub skip_note: Option<String>,
    /// Run-time flags set when the step has run.
    pub sets: Vec<String>,
    pub timer: Option<Timer>,
    pub action: Action,
}

impl Step {
    pub fn new(id: &str, kind: Kind, title: impl Into<String>, action: Action) -> Step {
        Step {
            id: id.to_string(),
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

    pub fn sets(mut self, flag: impl Into<String>) -> Step {
        self.sets.push(flag.into());
        self
    }

    /// Every command the step may run, guard included, in order.
    pub fn commands(&self) -> Vec<&Cmd> {
        let mut out: Vec<&Cmd> = self.skip_if.as_ref().map(Cond::commands).unwrap_or_default();
        match &self.action {
            Action::Run(c) | Action::Pipe(c) => out.extend(c.iter()),
            Action::Capture { cmd, .. } => out.push(cmd),
            Action::WaitNetwork { show, list, .. } => out.extend([list, show]),
            Action::WaitReady { probe, .. } => out.push(probe),
            Action::ForEach { cmd, .. } => out.push(cmd),
            Action::Assert { cond, .. } => out.extend(cond.commands()),
        }
        out
    }

    /// Run-time values the step creates.
    pub fn produces(&self) -> Vec<&str> {
        let mut p: Vec<&str> = self.sets.iter().map(String::as_str).collect();
        match &self.action {
            Action::Capture { raw, outputs, .. } => {
                p.push(raw);
                p.extend(outputs.iter().map(|(v, _)| v.as_str()));
            }
            Action::WaitNetwork { shown, address, .. } => p.extend([shown.as_str(), address.as_str()]),
            Action::ForEach { item, collect, .. } => {
                p.push(item);
                p.extend(collect.as_deref());
            }
            _ => {}
        }
        if let Some(t) = &self.timer {
            p.push(t.var());
        }
        p
    }

    /// Run-time values the step reads (its own loop item excluded).
    pub fn reads(&self) -> Vec<String> {
        let mut r: Vec<String> = Vec::new();
        if let Some(c) = &self.skip_if {
            c.vars(&mut r);
        }
        let own_item = match &self.action {
            Action::ForEach { item, list, .. } => {
                r.push(list.clone());
                Some(item.as_str())
            }
            Action::Assert { cond, .. } => {
                cond.vars(&mut r);
                None
            }
            Action::Capture { outputs, .. } => {
                r.extend(outputs.iter().flat_map(|(_, p)| p.reads()).map(str::to_string));
                None
            }
            _ => None,
        };
        for c in self.commands() {
            r.extend(c.vars().into_iter().filter(|v| Some(*v) != own_item).map(str::to_string));
        }
        // A stopwatch is not a reason to refuse resuming: a resumed run
        // reports no downtime.
        r
    }
}

/// Commands that undo a partly done change when a step in `first..=last`
/// (1-based, within the unit) fails: each runs when its condition holds;
/// failures are reported and the next command still runs. `message` is
/// printed afterwards, e.g. where the pre-change snapshots are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    pub first: usize,
    pub last: usize,
    pub cmds: Vec<Guarded>,
    pub message: Vec<Word>,
}

/// Everything lxops does to one instance: its steps, undo windows, and the
/// cleanup that runs when the unit ends, whether it succeeded or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The instance (unique in the plan).
    pub name: String,
    pub steps: Vec<Step>,
    pub undo: Vec<Undo>,
    pub cleanup: Vec<Guarded>,
}

impl Unit {
    /// For each step, whether the unit can be resumed there: no earlier
    /// step creates a run-time value that this step, a later one, the undo
    /// or the cleanup reads (a resumed run would not have it). One pass: a
    /// value created by step p and last read by step r blocks p+1..=r.
    pub fn resume_points(&self) -> Vec<bool> {
        use std::collections::HashMap;
        let n = self.steps.len();
        let mut first_produced: HashMap<&str, usize> = HashMap::new();
        let mut last_read: HashMap<String, usize> = HashMap::new();
        for (i, s) in self.steps.iter().enumerate() {
            for p in s.produces() {
                first_produced.entry(p).or_insert(i);
            }
            for r in s.reads() {
                last_read.insert(r, i);
            }
        }
        let mut tail: Vec<String> = Vec::new();
        for g in self.undo.iter().flat_map(|u| u.cmds.iter()).chain(self.cleanup.iter()) {
            tail.extend(g.reads());
        }
        tail.extend(
            self.undo.iter().flat_map(|u| u.message.iter()).flat_map(|w| w.vars().map(str::to_string)),
        );
        for v in tail {
            last_read.insert(v, n);
        }
        let mut ok = vec![true; n];
        for (v, p) in first_produced {
            if let Some(&r) = last_read.get(v) {
                for slot in ok.iter_mut().take(r.min(n.saturating_sub(1)) + 1).skip(p + 1) {
                    *slot = false;
                }
            }
        }
        ok
    }
}

/// A compiled command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The lxops command, e.g. `launch`.
    pub command: String,
    pub backend: crate::plan::backend::Backend,
    /// Names locked for the run (`flock` on `lxops-NAME.lock`): every
    /// instance name the plan creates, renames or deletes.
    pub locks: Vec<String>,
    /// Programs the plan runs on this host (checked first).
    pub programs: Vec<String>,
    pub facts: Vec<Fact>,
    pub checks: Vec<Check>,
    pub units: Vec<Unit>,
    /// Remarks the listing shows before the steps.
    pub notes: Vec<String>,
    /// Input files and their contents' sha256, for the script header.
    pub inputs: Vec<(String, String)>,
}

/// A point to resume a plan at: step `step` (1-based) of unit `unit` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    pub unit: usize,
    pub step: usize,
}

impl Plan {
    pub fn instances(&self) -> Vec<&str> {
        self.units.iter().map(|u| u.name.as_str()).collect()
    }

    pub fn step_count(&self) -> usize {
        self.units.iter().map(|u| u.steps.len()).sum()
    }

    pub fn destructive_steps(&self) -> Vec<(&Unit, usize, &Step)> {
        let mut out = Vec::new();
        for u in &self.units {
            for (i, s) in u.steps.iter().enumerate() {
                if s.destructive {
                    out.push((u, i + 1, s));
                }
            }
        }
        out
    }

    /// The label of a resume point as `--from` takes it: `STEP` when the
    /// plan has one unit, `INSTANCE:STEP` otherwise.
    pub fn resume_label(&self, r: Resume) -> String {
        if self.units.len() == 1 {
            r.step.to_string()
        } else {
            format!("{}:{}", self.units[r.unit].name, r.step)
        }
    }

    /// Every point the plan can be resumed at, in order.
    pub fn resume_points(&self) -> Vec<Resume> {
        let mut out = Vec::new();
        for (u, unit) in self.units.iter().enumerate() {
            for (i, ok) in unit.resume_points().into_iter().enumerate() {
                if ok {
                    out.push(Resume { unit: u, step: i + 1 });
                }
            }
        }
        out
    }

    /// Parses a `--from` value: `STEP` (one unit) or `INSTANCE:STEP`, and
    /// checks the plan can be resumed there.
    pub fn parse_resume(&self, s: &str) -> Result<Resume, String> {
        let (unit, step) = match s.rsplit_once(':') {
            Some((name, n)) => match self.units.iter().position(|u| u.name == name) {
                Some(u) => (u, n),
                None => return Err(format!("the plan has no instance {name:?}")),
            },
            None if self.units.len() == 1 => (0, s),
            None => return Err("the plan has several instances: write INSTANCE:STEP".to_string()),
        };
        let n = self.units[unit].steps.len();
        let step: usize = match step.parse() {
            Ok(k) if (1..=n).contains(&k) => k,
            _ => return Err(format!("{step:?} is not a step of {} (1 to {n})", self.units[unit].name)),
        };
        let r = Resume { unit, step };
        if step > 1 && !self.resume_points().contains(&r) {
            return Err(format!(
                "an earlier step computes values step {} needs; run the whole plan again",
                self.resume_label(r)
            ));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, argv: &[&str]) -> Step {
        Step::new(id, Kind::Server, id, Action::Run(vec![Cmd::new(argv.iter().copied())]))
    }

    /// A value captured by step 1 and read by step 3 blocks resuming at 2
    /// and 3; the undo reading it blocks every later step too.
    #[test]
    fn resume_points_follow_the_values() {
        let capture = Step::new(
            "c",
            Kind::Server,
            "capture",
            Action::Capture {
                cmd: Cmd::new(["x"]),
                raw: "raw".into(),
                outputs: vec![("v".into(), Parse::Text)],
            },
        );
        let read =
            Step::new("r", Kind::Server, "read", Action::Run(vec![Cmd::new(["y"]).push(Word::var("v"))]));
        let mut u = Unit {
            name: "w".into(),
            steps: vec![capture, run("a", &["a"]), read, run("b", &["b"])],
            undo: vec![],
            cleanup: vec![],
        };
        assert_eq!(u.resume_points(), vec![true, false, false, true]);
        u.undo.push(Undo { first: 2, last: 4, cmds: vec![], message: vec![Word::var("v")] });
        assert_eq!(u.resume_points(), vec![true, false, false, false]);
    }

    #[test]
    fn resume_labels_and_parsing() {
        let unit = |n: &str| Unit {
            name: n.into(),
            steps: vec![run("a", &["a"]), run("b", &["b"])],
            undo: vec![],
            cleanup: vec![],
        };
        let mut plan = Plan {
            command: "t".into(),
            backend: crate::plan::backend::Backend::Incus,
            locks: vec![],
            programs: vec![],
            facts: vec![],
            checks: vec![],
            units: vec![unit("w1")],
            notes: vec![],
            inputs: vec![],
        };
        assert_eq!(plan.parse_resume("2"), Ok(Resume { unit: 0, step: 2 }));
        assert!(plan.parse_resume("0").is_err());
        assert!(plan.parse_resume("3").is_err());
        plan.units.push(unit("w2"));
        assert_eq!(plan.resume_label(Resume { unit: 1, step: 2 }), "w2:2");
        assert_eq!(plan.parse_resume("w2:1"), Ok(Resume { unit: 1, step: 1 }));
        assert!(plan.parse_resume("2").is_err(), "several units need INSTANCE:STEP");
        assert!(plan.parse_resume("w3:1").is_err());
    }
}
