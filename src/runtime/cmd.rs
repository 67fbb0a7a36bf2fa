//! Commands and pipelines, in both runtimes.
//!
//! Bash half: a [`Cmd`] becomes words (literal parts quoted by the one
//! quoting function, run-time values as `"${name}"`), prefixed with
//! `"${SUDO[@]}"` for host commands that need root, or wrapped as
//! `ssh -o BatchMode=yes -- DEST "$(lxops_qp ARGV…)"` for another host,
//! followed by its redirections: a quoted here-document for text input, a
//! base64 here-document decoded on the host for anything else, or a file.
//! Rust half: [`Runner::expand`] builds the same argv (sudo and ssh included)
//! and [`Runner::spawn`] runs it without a shell, with the same input and
//! output. `lxops_run` and [`Runner::run_checked`] report a failing command
//! with the same line.

use crate::plan::model::{Cmd, Input, Part, Sink, Target, Word};
use crate::runtime::quote::{posix_line, quote};
use crate::runtime::text::show;
use crate::runtime::{RunError, Runner, Sh};
use base64::Engine;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};

/// A word as bash text: literal parts quoted, run-time values in double quotes.
pub fn word(w: &Word) -> String {
    if w.0.iter().all(|p| matches!(p, Part::Lit(s) if s.is_empty())) {
        return "''".to_string();
    }
    w.0.iter()
        .map(|p| match p {
            Part::Lit(s) if s.is_empty() => String::new(),
            Part::Lit(s) => quote(s),
            Part::Var(v) => format!("\"${{{v}}}\""),
            Part::List(v) => format!("\"${{{v}[@]}}\""),
        })
        .collect()
}

/// The command's words as bash runs them, target and sudo included.
pub fn words(c: &Cmd) -> String {
    let argv: Vec<String> = c.argv.iter().map(word).collect();
    match &c.target {
        Target::Local if c.root => format!("\"${{SUDO[@]}}\" {}", argv.join(" ")),
        Target::Local => argv.join(" "),
        Target::Ssh { dest, sudo } => {
            let sudo = if c.root && *sudo { "sudo -n " } else { "" };
            format!("ssh -o BatchMode=yes -- {} \"$(lxops_qp {sudo}{})\"", word(dest), argv.join(" "))
        }
    }
}

/// How a command's input is written in bash.
#[derive(Debug, Clone)]
enum ShIn {
    None,
    File(String),
    /// A quoted here-document: (delimiter, body ending with a newline).
    Heredoc(String, String),
    /// Base64 text decoded on the host: (delimiter, body).
    Base64(String, String),
    /// A run-time value (a quoted word) and a newline.
    Value(String),
}

/// A rendered command: its words and redirections, kept apart until
/// [`crate::runtime::Sh::command`] writes them.
#[derive(Debug, Clone)]
pub struct ShCmd {
    words: String,
    stdin: ShIn,
    stdout: Option<String>,
    /// Run through `lxops_run`.
    reported: bool,
    /// Run over ssh (its words call `lxops_qp`).
    remote: bool,
}

impl ShCmd {
    /// The helpers the rendered command calls.
    pub fn helpers(&self) -> Vec<&'static str> {
        let mut h = Vec::new();
        if self.reported {
            h.push("lxops_run");
        }
        if self.stdout.is_some() {
            h.push("lxops_output");
        }
        if matches!(self.stdin, ShIn::File(_)) {
            h.push("lxops_input");
        }
        if self.remote {
            h.push("lxops_qp");
        }
        h
    }

    /// The line that runs the command, and the here-document that follows it.
    pub fn head(&self) -> (String, Option<(&str, &str)>) {
        // Files are opened by `lxops_input` and `lxops_output`, which report a file
        // that cannot be opened as the Rust half does (input first).
        let mut words = self.words.clone();
        if let Some(f) = &self.stdout {
            words = format!("lxops_output {f} {words}");
        }
        match &self.stdin {
            ShIn::None => (words, None),
            ShIn::File(f) => (format!("lxops_input {f} {words}"), None),
            ShIn::Heredoc(d, body) => (format!("{words} <<'{d}'"), Some((d, body))),
            ShIn::Base64(d, body) => (format!("base64 -d <<'{d}' | {words}"), Some((d, body))),
            ShIn::Value(v) => (format!("printf '%s\\n' {v} | {words}"), None),
        }
    }

    /// The same command run through `lxops_run`, which reports its failure.
    pub fn reported(mut self) -> ShCmd {
        self.words = format!("lxops_run {}", self.words);
        self.reported = true;
        self
    }
}

/// A here-document delimiter that no line of `text` equals.
fn delimiter(text: &str, base: &str) -> String {
    let mut d = base.to_string();
    let mut n = 1;
    while text.split('\n').any(|l| l == d) {
        n += 1;
        d = format!("{base}_{n}");
    }
    d
}

/// Whether bytes can be shown as a here-document: UTF-8 text ending with a
/// newline, with no character that would hide or rewrite text on the
/// reviewer's terminal (tabs aside) and no carriage return.
fn heredoc_text(bytes: &[u8]) -> Option<&str> {
    let t = std::str::from_utf8(bytes).ok()?;
    let visible = t.chars().all(|c| c == '\n' || c == '\t' || !crate::runtime::quote::is_hidden(c));
    (t.ends_with('\n') && visible).then_some(t)
}

/// A command with its redirections, as bash text.
pub fn sh(c: &Cmd) -> ShCmd {
    let stdin = match &c.stdin {
        Input::Null => ShIn::None,
        Input::File(w) => ShIn::File(word(w)),
        Input::Value(w) => ShIn::Value(word(w)),
        Input::Bytes(b) if b.is_empty() => ShIn::File("/dev/null".into()),
        Input::Bytes(b) => match heredoc_text(b) {
            Some(t) => ShIn::Heredoc(delimiter(t, "LXOPS_EOF"), t.to_string()),
            None => {
                let mut body = String::new();
                let enc = base64::engine::general_purpose::STANDARD.encode(b);
                for chunk in enc.as_bytes().chunks(76) {
                    body.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
                    body.push('\n');
                }
                // Base64 lines hold no '_': the delimiter never equals one.
                ShIn::Base64("LXOPS_B64".into(), body)
            }
        },
    };
    let stdout = match &c.stdout {
        Sink::Log => None,
        Sink::File(w) => Some(word(w)),
    };
    let remote = matches!(c.target, Target::Ssh { .. });
    ShCmd { words: words(c), stdin, stdout, reported: false, remote }
}

/// A pipeline as one bash line: every member's input and output, and the
/// report naming the statuses when any member fails.
pub fn pipeline(out: &mut Sh, cmds: &[Cmd]) -> (String, Vec<(String, String)>) {
    let mut parts = Vec::new();
    let mut docs = Vec::new();
    out.uses("lxops_pipe_failed");
    out.uses("lxops_qp");
    for c in cmds {
        let rendered = sh(c);
        for h in rendered.helpers() {
            out.uses(h);
        }
        let (head, doc) = rendered.head();
        parts.push(head);
        if let Some((d, b)) = doc {
            docs.push((d.to_string(), b.to_string()));
        }
    }
    let shown: Vec<String> = cmds.iter().map(|c| format!("\"$(lxops_qp {})\"", argv_words(c))).collect();
    (format!("{} || lxops_pipe_failed \"${{PIPESTATUS[*]}}\" {}", parts.join(" | "), shown.join(" ")), docs)
}

/// The words of the argv as run (sudo and ssh included), for `lxops_qp`.
fn argv_words(c: &Cmd) -> String {
    words(c)
}

/// The bash half of command reporting.
pub const BASH: &str = r#"# lxops_run ARGV...: runs a command; when it fails, says which command with
# which exit status, and fails with that status.
lxops_run() {
  local rc=0
  "$@" || rc=$?
  [ "$rc" = 0 ] || lxops_say "    command failed (exit status $rc): $(lxops_show "$(lxops_qp "$@")")"
  return "$rc"
}
# lxops_input FILE ARGV... / lxops_output FILE ARGV...: runs ARGV with its
# standard input from (output to) FILE; a FILE that cannot be opened is
# reported and fails the command, as --execute does.
lxops_input() {
  local f=$1
  shift
  if ! { : <"$f"; } 2>/dev/null; then lxops_say "    cannot read $(lxops_show "$f")"; return 1; fi
  "$@" <"$f"
}
lxops_output() {
  local f=$1
  shift
  if ! { : >"$f"; } 2>/dev/null; then lxops_say "    cannot write $(lxops_show "$f")"; return 1; fi
  "$@" >"$f"
}
# lxops_pipe_failed STATUSES CMD...: reports a failed pipeline and fails.
lxops_pipe_failed() {
  local statuses=$1 shown='' c
  shift
  for c in "$@"; do shown+="${shown:+ | }$c"; done
  lxops_say "    pipeline failed (exit statuses $statuses): $(lxops_show "$shown")"
  return 1
}
"#;

/// Where a spawned command's standard output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    /// As the command says (the run's standard error, or its file).
    AsPlanned,
    /// Into memory, for captures and facts.
    Capture,
    /// Into memory, with standard error discarded (conditions).
    CaptureQuiet,
    /// Nowhere (conditions that only need the exit status; stderr too).
    Discard,
}

/// A finished command.
pub struct Finished {
    /// Exit status; 128 + N when killed by signal N (as bash reports it).
    pub status: i32,
    pub stdout: Vec<u8>,
}

/// The output rule of both runtimes: NUL bytes dropped, trailing newlines trimmed.
pub fn normalize(out: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = out.iter().copied().filter(|b| *b != 0).collect();
    while v.last() == Some(&b'\n') {
        v.pop();
    }
    v
}

fn status_of(s: std::process::ExitStatus) -> i32 {
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
}

fn stderr_stdio() -> Stdio {
    use std::os::fd::AsFd;
    std::io::stderr().as_fd().try_clone_to_owned().map(Stdio::from).unwrap_or_else(|_| Stdio::inherit())
}

impl Runner {
    /// A word's bytes.
    pub fn word(&self, w: &Word) -> Vec<u8> {
        let mut s = Vec::new();
        for p in &w.0 {
            match p {
                Part::Lit(l) => s.extend_from_slice(l.as_bytes()),
                Part::Var(v) => s.extend_from_slice(self.var(v)),
                Part::List(v) => s.extend(self.list(v).join(&b' ')),
            }
        }
        s
    }

    /// The argv the command runs with, exactly as the script builds it.
    pub fn expand(&self, c: &Cmd) -> Vec<Vec<u8>> {
        let mut argv: Vec<Vec<u8>> = Vec::new();
        for w in &c.argv {
            if let [Part::List(v)] = w.0.as_slice() {
                argv.extend(self.list(v).iter().cloned());
            } else {
                argv.push(self.word(w));
            }
        }
        match &c.target {
            Target::Local if c.root && self.sudo => {
                let mut a = vec![b"sudo".to_vec(), b"-n".to_vec()];
                a.extend(argv);
                a
            }
            Target::Local => argv,
            Target::Ssh { dest, sudo } => {
                let mut remote = Vec::new();
                if c.root && *sudo {
                    remote.extend([b"sudo".to_vec(), b"-n".to_vec()]);
                }
                remote.extend(argv);
                vec![
                    b"ssh".to_vec(),
                    b"-o".to_vec(),
                    b"BatchMode=yes".to_vec(),
                    b"--".to_vec(),
                    self.word(dest),
                    posix_line(&remote),
                ]
            }
        }
    }

    fn open_stdin(&self, c: &Cmd) -> Result<(Stdio, Option<Vec<u8>>), RunError> {
        Ok(match &c.stdin {
            Input::Null => (Stdio::null(), None),
            Input::Bytes(b) => (Stdio::piped(), Some(b.clone())),
            Input::Value(w) => {
                let mut v = self.word(w);
                v.push(b'\n');
                (Stdio::piped(), Some(v))
            }
            Input::File(w) => {
                let p = self.word(w);
                let f = std::fs::File::open(OsStr::from_bytes(&p)).map_err(|e| {
                    self.say(&format!("    cannot read {}", show(&p)));
                    RunError(format!("cannot read {}: {e}", show(&p)))
                })?;
                (Stdio::from(f), None)
            }
        })
    }

    fn open_stdout(&self, c: &Cmd, out: Out) -> Result<Stdio, RunError> {
        Ok(match (out, &c.stdout) {
            (Out::Capture | Out::CaptureQuiet, _) => Stdio::piped(),
            (Out::Discard, _) => Stdio::null(),
            (Out::AsPlanned, Sink::Log) => self.log_stdio(),
            (Out::AsPlanned, Sink::File(w)) => {
                let p = self.word(w);
                let f = std::fs::File::create(OsStr::from_bytes(&p)).map_err(|e| {
                    self.say(&format!("    cannot write {}", show(&p)));
                    RunError(format!("cannot write {}: {e}", show(&p)))
                })?;
                Stdio::from(f)
            }
        })
    }

    /// Starts `argv` with the given input and output; standard error goes
    /// to the run's standard error (or nowhere with [`Out::Discard`]).
    fn start(&self, argv: &[Vec<u8>], stdin: Stdio, stdout: Stdio, quiet: bool) -> std::io::Result<Child> {
        let mut cmd = Command::new(OsStr::from_bytes(&argv[0]));
        cmd.args(argv[1..].iter().map(|a| OsStr::from_bytes(a)));
        cmd.stdin(stdin).stdout(stdout).stderr(if quiet { Stdio::null() } else { self.log_stdio() });
        if let Some((name, _)) = &self.unit {
            cmd.env("LXOPS_UNIT", name);
        }
        cmd.spawn()
    }

    /// Where a command's messages go: the run's standard error, or the
    /// unit's output in a plan of several instances.
    fn log_stdio(&self) -> Stdio {
        match &self.unit {
            Some((_, w)) => w.try_clone().map(Stdio::from).unwrap_or_else(|_| stderr_stdio()),
            None => stderr_stdio(),
        }
    }

    /// Runs a command to its end.
    pub fn spawn(&self, c: &Cmd, out: Out) -> Result<Finished, RunError> {
        let argv = self.expand(c);
        let (stdin, bytes) = self.open_stdin(c)?;
        let stdout = self.open_stdout(c, out)?;
        let quiet = matches!(out, Out::Discard | Out::CaptureQuiet);
        let mut child = match self.start(&argv, stdin, stdout, quiet) {
            Ok(ch) => ch,
            Err(e) => {
                // As bash: a program that cannot be started fails with 127 (126 if not executable).
                let status = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
                if !quiet {
                    self.say(&format!("lxops: {}: {e}", show(&argv[0])));
                }
                return Ok(Finished { status, stdout: Vec::new() });
            }
        };
        // Write input from a thread so a child that prints before reading cannot deadlock us.
        let writer = bytes.map(|b| {
            let mut w = child.stdin.take().expect("stdin is piped");
            std::thread::spawn(move || {
                let _ = w.write_all(&b);
            })
        });
        // Output is read from a thread too, so that a signal is seen (and
        // forwarded) while the command runs.
        let reader = child.stdout.take().map(|mut o| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = o.read_to_end(&mut v);
                v
            })
        });
        let status = self.wait_child(&mut child, &[])?;
        let stdout = reader.map(|r| r.join().unwrap_or_default()).unwrap_or_default();
        if let Some(w) = writer {
            let _ = w.join();
        }
        self.check_interrupted()?;
        Ok(Finished { status: status_of(status), stdout })
    }

    /// Waits for a command, forwarding a signal lxops receives meanwhile to
    /// it (and to the other members of its pipeline).
    fn wait_child(&self, child: &mut Child, others: &[u32]) -> Result<std::process::ExitStatus, RunError> {
        loop {
            if let Some(s) = child.try_wait().map_err(|e| RunError(e.to_string()))? {
                return Ok(s);
            }
            let mut pids = vec![child.id()];
            pids.extend_from_slice(others);
            self.watch_signals(&pids);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Notes the signals received since the last look: the first one
    /// interrupts the run (and goes to the running commands); during the
    /// undo they are reported and the undo goes on.
    pub fn watch_signals(&self, pids: &[u32]) {
        while let Some((n, name)) = crate::runtime::signals::take() {
            if self.undoing.get() {
                self.say(&format!(
                    "lxops: SIG{name} during the undo: the undo goes on, so that it is not left half done"
                ));
                continue;
            }
            if crate::runtime::signals::interrupted().is_none() {
                crate::runtime::signals::note(n);
            }
        }
        // Every runner (one per unit running) passes the interruption on to
        // its own commands, once.
        if let Some(n) = crate::runtime::signals::interrupted()
            && !self.undoing.get()
            && !self.forwarded.get()
        {
            self.forwarded.set(true);
            self.say(&format!("lxops: interrupted by SIG{}", crate::runtime::signals::name(n)));
            for pid in pids {
                crate::runtime::signals::forward(*pid, n);
            }
        }
    }

    /// Fails when the run has been interrupted (outside the undo).
    pub fn check_interrupted(&self) -> Result<(), RunError> {
        self.watch_signals(&[]);
        if crate::runtime::signals::interrupted().is_some() && !self.undoing.get() {
            return Err(RunError("interrupted".into()));
        }
        Ok(())
    }

    /// Runs a command; a failure is reported as `lxops_run` reports it.
    pub fn run_checked(&self, c: &Cmd, out: Out) -> Result<Finished, RunError> {
        let f = self.spawn(c, out)?;
        if f.status != 0 {
            let argv = self.expand(c);
            self.say(&format!("    command failed (exit status {}): {}", f.status, show(&posix_line(&argv))));
            return Err(RunError(format!("exit status {}", f.status)));
        }
        Ok(f)
    }

    /// Runs a pipeline, streaming each member's output into the next;
    /// fails, as `lxops_pipe_failed` does, when any member fails.
    pub fn run_pipeline(&self, cmds: &[Cmd]) -> Result<(), RunError> {
        let mut children: Vec<Child> = Vec::new();
        let mut writers = Vec::new();
        let mut prev: Option<std::process::ChildStdout> = None;
        let mut early: Option<i32> = None;
        for (i, c) in cmds.iter().enumerate() {
            let argv = self.expand(c);
            let (stdin, bytes) = match prev.take() {
                Some(o) => (Stdio::from(o), None),
                None => self.open_stdin(c)?,
            };
            let last = i + 1 == cmds.len();
            let stdout = if last { self.open_stdout(c, Out::AsPlanned)? } else { Stdio::piped() };
            match self.start(&argv, stdin, stdout, false) {
                Ok(mut ch) => {
                    if let Some(b) = bytes {
                        let mut w = ch.stdin.take().expect("stdin is piped");
                        writers.push(std::thread::spawn(move || {
                            let _ = w.write_all(&b);
                        }));
                    }
                    if !last {
                        prev = ch.stdout.take();
                    }
                    children.push(ch);
                }
                Err(e) => {
                    self.say(&format!("lxops: {}: {e}", show(&argv[0])));
                    early = Some(127);
                    break;
                }
            }
        }
        let mut statuses: Vec<String> = Vec::new();
        let pids: Vec<u32> = children.iter().map(Child::id).collect();
        for mut ch in children {
            let s = self.wait_child(&mut ch, &pids)?;
            statuses.push(status_of(s).to_string());
        }
        self.check_interrupted()?;
        for w in writers {
            let _ = w.join();
        }
        if let Some(s) = early {
            statuses.push(s.to_string());
        }
        if early.is_some() || statuses.iter().any(|s| s != "0") {
            let shown: Vec<String> = cmds.iter().map(|c| show(&posix_line(&self.expand(c)))).collect();
            self.say(&format!(
                "    pipeline failed (exit statuses {}): {}",
                statuses.join(" "),
                shown.join(" | ")
            ));
            return Err(RunError("pipeline failed".into()));
        }
        Ok(())
    }
}
