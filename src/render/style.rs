//! Colour for a person at a terminal, and nowhere else.
//!
//! `--color auto` (the default) colours a stream only when it is a terminal,
//! `NO_COLOR` is unset or empty and `TERM` is not `dumb`; `always` and
//! `never` decide alone. Only people's renderings use it — the listing,
//! errors, warnings and hints, `--execute` progress of a single instance —
//! never the script, JSON, or per-instance log files. Styles wrap whole
//! words lxops wrote itself; values are shown through `text()` first, as
//! everywhere else.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// When to colour (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum When {
    #[default]
    Auto,
    Always,
    Never,
}

static STDOUT: AtomicBool = AtomicBool::new(false);
static STDERR: AtomicBool = AtomicBool::new(false);

/// Decides, once, whether stdout and stderr get colour.
pub fn init(when: When) {
    let env_allows = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
    let decide = |tty: bool| match when {
        When::Always => true,
        When::Never => false,
        When::Auto => tty && env_allows,
    };
    STDOUT.store(decide(std::io::stdout().is_terminal()), Ordering::Relaxed);
    STDERR.store(decide(std::io::stderr().is_terminal()), Ordering::Relaxed);
}

/// Where a text goes.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What a text is.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    Error,
    Warning,
    Hint,
    Destructive,
    Heading,
    Ok,
    Quiet,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Error | Style::Destructive => "1;31",
            Style::Warning => "1;33",
            Style::Hint => "36",
            Style::Heading => "1",
            Style::Ok => "32",
            Style::Quiet => "2",
        }
    }
}

/// `text` in `style`, when `stream` gets colour.
pub fn paint(stream: Stream, style: Style, text: &str) -> String {
    let on = match stream {
        Stream::Stdout => STDOUT.load(Ordering::Relaxed),
        Stream::Stderr => STDERR.load(Ordering::Relaxed),
    };
    if on && !text.is_empty() { format!("\x1b[{}m{text}\x1b[0m", style.code()) } else { text.to_string() }
}

/// For stderr: a shorthand.
pub fn err(style: Style, text: &str) -> String {
    paint(Stream::Stderr, style, text)
}
