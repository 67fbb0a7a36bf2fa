//! The two runtimes of a plan: the bash script and `--execute`.
//!
//! "The script you review is what `--execute` runs" holds by construction
//! here: every run-time behaviour has its bash half and its Rust half side
//! by side, in the module of its kind — commands and pipelines ([`cmd`]),
//! conditions and facts ([`cond`]), parsers of server output ([`parse`]),
//! actions such as captures, waits and loops ([`action`]), and the framing
//! of steps, stopwatches, undo, cleanup and the trace ([`unit`]). Bash
//! halves are helper functions (string constants included in every script)
//! or text written through the structured writer [`Sh`]; Rust halves act on
//! a [`Runner`]. The drivers are [`script`] (the template) and [`execute`].
//!
//! Rules both halves follow, so that they agree on every input:
//! - a command's output is its bytes with NUL bytes removed and trailing
//!   newlines trimmed (what bash's `$(… | tr -d '\000')` gives);
//! - output is split into lines at `\n` only; a `\r` is an ordinary byte;
//! - values are compared as bytes (bash helpers run with `LC_ALL=C`);
//! - run-time values reach programs as argv or stdin, never as code; they
//!   are printed through `text::show`.

pub mod action;
pub mod cmd;
pub mod cond;
pub mod execute;
pub mod parse;
pub mod quote;
pub mod script;
pub mod signals;
pub mod text;
pub mod unit;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;

/// Bash text built with its structure known: every line is written through
/// [`Sh::line`] (which refuses a newline inside it) at the current depth,
/// and here-document bodies go out unindented right after the line that
/// opens them. Nothing is ever searched for or re-indented afterwards: the
/// helpers the text calls are recorded where each call is written
/// ([`Sh::uses`]), so the script defines exactly those.
#[derive(Default)]
pub struct Sh {
    out: String,
    depth: usize,
    uses: BTreeSet<&'static str>,
}

impl Sh {
    pub fn new() -> Sh {
        Sh::default()
    }

    /// One line of code at the current depth. Quoted words never span lines,
    /// so a newline here is a bug in lxops, not something a value can cause.
    pub fn line(&mut self, s: impl AsRef<str>) {
        let s = s.as_ref();
        assert!(!s.contains('\n'), "a script line holds a newline: {s:?}");
        if !s.is_empty() {
            for _ in 0..self.depth {
                self.out.push_str("  ");
            }
            self.out.push_str(s);
        }
        self.out.push('\n');
    }

    /// A line that opens a block; the lines after it are indented.
    pub fn open(&mut self, s: impl AsRef<str>) {
        self.line(s);
        self.depth += 1;
    }

    /// A line that closes the innermost block.
    pub fn close(&mut self, s: impl AsRef<str>) {
        self.depth = self.depth.saturating_sub(1);
        self.line(s);
    }

    /// A line that both ends and starts a block (`else`).
    pub fn reopen(&mut self, s: impl AsRef<str>) {
        self.depth = self.depth.saturating_sub(1);
        self.line(s);
        self.depth += 1;
    }

    /// Records that the text calls the helper `h`; gives `h` back for the
    /// format string that writes the call.
    pub fn uses(&mut self, h: &'static str) -> &'static str {
        self.uses.insert(h);
        h
    }

    /// The helpers the text written so far calls.
    pub fn used(&self) -> &BTreeSet<&'static str> {
        &self.uses
    }

    /// A statement around a command: `before` + the command and its
    /// redirections + `after`, then its here-document, if any.
    pub fn command(&mut self, before: &str, c: &cmd::ShCmd, after: &str) {
        self.uses.extend(c.helpers());
        let (head, doc) = c.head();
        self.line(format!("{before}{head}{after}"));
        if let Some((delim, body)) = doc {
            self.out.push_str(body);
            self.out.push_str(delim);
            self.out.push('\n');
        }
    }

    /// Here-documents that follow the line just written (pipelines may have several).
    pub fn docs(&mut self, docs: &[(String, String)]) {
        for (delim, body) in docs {
            self.out.push_str(body);
            self.out.push_str(delim);
            self.out.push('\n');
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A run-time failure of `--execute`: exit status 1. An empty message
/// means the failure has been reported already (as the script reports it).
#[derive(Debug)]
pub struct RunError(pub String);

impl RunError {
    pub fn reported() -> RunError {
        RunError(String::new())
    }

    pub fn is_reported(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

/// The state of one `--execute` run: the Rust counterpart of the script's
/// shell variables, plus where progress and the trace go.
pub struct Runner {
    /// Prefix host commands that need root with `sudo -n`.
    pub sudo: bool,
    pub vars: HashMap<String, Vec<u8>>,
    pub lists: HashMap<String, Vec<Vec<u8>>>,
    /// The unit and step running, for trace records.
    pub unit_name: String,
    pub step_no: usize,
    /// Undo or cleanup runs: a signal is reported, not obeyed.
    pub undoing: std::cell::Cell<bool>,
    /// The run's interruption has been passed to this runner's commands.
    pub forwarded: std::cell::Cell<bool>,
    /// In a plan of several instances, the unit this runner runs: its name
    /// (`LXOPS_UNIT` for its commands) and where its output goes (a pipe to
    /// the relay that writes the unit's log and prefixes its lines).
    pub unit: Option<(String, std::io::PipeWriter)>,
    trace: Option<std::fs::File>,
}

impl Runner {
    pub fn new(sudo: bool) -> Runner {
        let trace = std::env::var_os("LXOPS_TRACE")
            .filter(|p| !p.is_empty())
            .and_then(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).ok());
        Runner {
            sudo,
            vars: HashMap::new(),
            lists: HashMap::new(),
            unit_name: String::new(),
            step_no: 0,
            undoing: std::cell::Cell::new(false),
            forwarded: std::cell::Cell::new(false),
            unit: None,
            trace,
        }
    }

    /// A runner for one unit of a plan of several instances: the facts read
    /// so far, its own trace handle, and its output into `writer`.
    pub fn for_unit(&self, name: &str, writer: std::io::PipeWriter) -> Runner {
        let mut r = Runner::new(self.sudo);
        r.vars = self.vars.clone();
        r.lists = self.lists.clone();
        r.unit = Some((name.to_string(), writer));
        r
    }

    /// A run-time scalar (empty when unset, as in bash).
    pub fn var(&self, name: &str) -> &[u8] {
        self.vars.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn list(&self, name: &str) -> &[Vec<u8>] {
        self.lists.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// A progress line on standard error (the script's `lxops_say`), or
    /// into the unit's output.
    pub fn say(&self, line: &str) {
        match &self.unit {
            Some((_, w)) => {
                let mut w: &std::io::PipeWriter = w;
                let _ = writeln!(w, "{line}");
            }
            None => {
                let mut e = std::io::stderr().lock();
                let _ = writeln!(e, "{line}");
            }
        }
    }

    /// A progress line whose first words (`mark`) stand out on a terminal;
    /// a unit's lines go to its log too, and stay plain.
    pub fn say_marked(&self, style: crate::render::style::Style, mark: &str, rest: &str) {
        let mark = match self.unit {
            None => crate::render::style::err(style, mark),
            Some(_) => mark.to_string(),
        };
        self.say(&format!("{mark}{rest}"));
    }

    /// One trace record (the script's `lxops_trace`): fields joined by spaces.
    pub fn trace(&mut self, fields: &[&str]) {
        if let Some(f) = &mut self.trace {
            // One write per record: units running at once append to one file.
            let _ = f.write_all(format!("{}\n", fields.join(" ")).as_bytes());
        }
    }
}

/// The executable file `prog` in a `PATH` directory, if there is one.
pub fn find_program(prog: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false))
}

/// Every helper a script may define: the bash halves, in one place.
pub fn bash_helpers() -> Vec<&'static str> {
    vec![unit::BASH, text::BASH, quote::BASH, cmd::BASH, cond::BASH, parse::BASH, action::BASH]
}

/// The helper definitions, one per function: (name, its comment and body,
/// the helpers its body calls). Read from lxops's own helper text, once.
fn helper_blocks() -> &'static [(String, String, Vec<usize>)] {
    static BLOCKS: std::sync::OnceLock<Vec<(String, String, Vec<usize>)>> = std::sync::OnceLock::new();
    BLOCKS.get_or_init(|| {
        let mut out: Vec<(String, String, Vec<usize>)> = Vec::new();
        let mut pending = String::new();
        for line in bash_helpers().concat().lines() {
            pending.push_str(line);
            pending.push('\n');
            let name = line.split_once("() {").map(|(n, _)| n.to_string());
            let ends = line.ends_with('}') && (line == "}" || name.is_some());
            if let Some(n) = name.filter(|n| n.starts_with("lxops_") && !n.contains(' ')) {
                out.push((n, String::new(), Vec::new()));
            }
            if ends && let Some(last) = out.last_mut() {
                last.1 = std::mem::take(&mut pending);
            }
        }
        let calls: Vec<Vec<usize>> = out
            .iter()
            .map(|(_, body, _)| (0..out.len()).filter(|&j| names(body, &out[j].0)).collect())
            .collect();
        for (b, c) in out.iter_mut().zip(calls) {
            b.2 = c;
        }
        out
    })
}

/// Whether `text` names `name` as a word (not as part of a longer name).
fn names(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        let part = |c: char| c.is_ascii_alphanumeric() || c == '_';
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// The definitions of the helpers `used` names, and of the helpers those
/// call, in their order. Every name must be a helper's.
pub fn bash_helpers_for(used: &BTreeSet<&str>) -> String {
    let blocks = helper_blocks();
    let mut want: Vec<bool> = blocks.iter().map(|(n, _, _)| used.contains(n.as_str())).collect();
    let unknown: Vec<&&str> = used.iter().filter(|u| !blocks.iter().any(|(n, _, _)| n == **u)).collect();
    assert!(unknown.is_empty(), "the script calls helpers that do not exist: {unknown:?}");
    let mut todo: Vec<usize> = (0..blocks.len()).filter(|&i| want[i]).collect();
    while let Some(i) = todo.pop() {
        for &j in &blocks[i].2 {
            if !want[j] {
                want[j] = true;
                todo.push(j);
            }
        }
    }
    blocks.iter().zip(want).filter(|(_, w)| *w).map(|((_, b, _), _)| b.as_str()).collect()
}

/// Every helper's name (for tests that check a script defines what it calls).
pub fn helper_names() -> Vec<&'static str> {
    helper_blocks().iter().map(|(n, _, _)| n.as_str()).collect()
}
