//! Diagnostics: the errors and warnings lxops shows to the operator.
//!
//! A [`Diag`] names where the problem is (file, key path, line when the YAML
//! parser gives one), what is wrong, and a hint saying what to do. Errors that
//! exist before any plan is compiled are collected into a [`ConfigError`] and
//! make the process exit with status 2, printing nothing on stdout. This module
//! only formats; it never decides what is an error.

use crate::render::style::{Style, err};
use std::fmt;
use std::path::{Path, PathBuf};

/// Exit status for usage and configuration errors (nothing was run).
pub const EXIT_CONFIG: u8 = 2;
/// Exit status when a step failed at run time.
pub const EXIT_RUNTIME: u8 = 1;
/// `lxops diff`: instances drifted from their configs.
pub const EXIT_DRIFTED: u8 = 3;
/// `lxops diff`: something could not be checked (and nothing drifted).
pub const EXIT_UNCHECKED: u8 = 4;

/// A command that finished and printed its result, with an exit status
/// other than 0 that says what the result is (`lxops diff`).
#[derive(Debug)]
pub struct Outcome(pub u8);

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Outcome {}

/// One located message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    pub file: Option<PathBuf>,
    pub key: Option<String>,
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diag {
    pub fn new(message: impl Into<String>) -> Diag {
        Diag { file: None, key: None, line: None, message: message.into(), hint: None }
    }

    pub fn in_file(mut self, file: &Path) -> Diag {
        self.file = Some(file.to_path_buf());
        self
    }

    pub fn at_key(mut self, key: impl Into<String>) -> Diag {
        self.key = Some(key.into());
        self
    }

    pub fn at_line(mut self, line: Option<usize>) -> Diag {
        self.line = line;
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diag {
        self.hint = Some(hint.into());
        self
    }

    /// The location prefix: `file:line: key: `.
    fn location(&self) -> String {
        let mut s = String::new();
        if let Some(f) = &self.file {
            s.push_str(&text(&f.display().to_string()));
            if let Some(l) = self.line {
                s.push_str(&format!(":{l}"));
            }
            s.push_str(": ");
        }
        if let Some(k) = &self.key {
            s.push_str(&text(k));
            s.push_str(": ");
        }
        s
    }
}

/// Diagnostics quote config values; whatever they hold is shown escaped.
fn text(s: &str) -> String {
    crate::runtime::text::text(s)
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.location(), text(&self.message))?;
        if let Some(h) = &self.hint {
            write!(f, "\n  {} {}", err(Style::Hint, "hint:"), text(h))?;
        }
        Ok(())
    }
}

/// Every problem found before a plan could be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub Vec<Diag>);

impl ConfigError {
    pub fn one(d: Diag) -> ConfigError {
        ConfigError(vec![d])
    }
}

impl From<Diag> for ConfigError {
    fn from(d: Diag) -> Self {
        ConfigError(vec![d])
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{} {d}", err(Style::Error, "error:"))?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A diagnostic for a YAML parse error: the line goes into the location, the
/// parser's own "at line N column M" is dropped from the message.
pub fn yaml(path: &Path, e: &serde_yaml::Error) -> Diag {
    let mut msg = e.to_string();
    if let Some(i) = msg.find(" at line ") {
        let rest = &msg[i + " at line ".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ' ' || c.is_ascii_alphabetic()))
            .unwrap_or(rest.len());
        msg = format!("{}{}", &msg[..i], &rest[end..]).trim_end_matches(',').to_string();
    }
    let d = Diag::new(msg).in_file(path).at_line(e.location().map(|l| l.line()));
    let hint = [
        ("duplicate", "each key may appear only once in a map"),
        ("expected struct Device", "a device is a map: path, filesystem, dir, readonly"),
        ("expected struct Filesystem", "a filesystem is a map: pattern, zfsproperties, destroy, transient"),
        ("expected a sequence", "write a list, e.g. [a, b] or one `- item` per line"),
        ("expected a map", "write a map of `key: value` lines"),
        ("expected a string", "write a text value (quote it if it starts with a special character)"),
        ("expected true or false", "write true or false"),
    ]
    .into_iter()
    .find(|(needle, _)| d.message.contains(needle));
    match hint {
        Some((_, h)) => d.hint(h),
        None => d,
    }
}

/// Set by a caller that compiles many inputs in one process (the fuzzer):
/// warnings are not printed.
pub static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints a warning on stderr. Warnings never change the exit status.
pub fn warn(d: &Diag) {
    if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("{} {d}", err(Style::Warning, "warning:"));
    }
}

/// The closest candidate by edit distance, for "did you mean" hints.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos() {
        assert_eq!(closest("profile", &["profiles", "image"]), Some("profiles"));
        assert_eq!(closest("zzzz", &["profiles", "image"]), None);
    }

    #[test]
    fn display_has_location_and_hint() {
        let d = Diag::new("bad").in_file(Path::new("a.yaml")).at_line(Some(3)).at_key("image").hint("fix it");
        assert_eq!(d.to_string(), "a.yaml:3: image: bad\n  hint: fix it");
    }
}
