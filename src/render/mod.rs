//! Renderings of a plan for people and programs: the listing (the default
//! output) and JSON. The script is the bash runtime's job
//! (`crate::runtime::script`). None of them decides what runs.

pub mod json;
pub mod listing;
pub mod style;

use crate::plan::model::{Cmd, Cond, Input, Part, Sink, Target, Word};
use crate::runtime::quote::quote;
use crate::runtime::text::text;

/// A word as a person reads it: literal text quoted, run-time values as `$NAME`.
pub fn display_word(w: &Word) -> String {
    if w.0.iter().all(|p| matches!(p, Part::Lit(s) if s.is_empty())) {
        return "''".into();
    }
    w.0.iter()
        .map(|p| match p {
            Part::Lit(s) if s.is_empty() => String::new(),
            Part::Lit(s) => quote(s),
            Part::Var(v) => format!("${v}"),
            Part::List(v) => format!("${v}[@]"),
        })
        .collect()
}

/// A command as a person reads it (no sudo prefix), with its host and
/// redirections. Quoting keeps control characters visible.
pub fn display_cmd(c: &Cmd) -> String {
    let mut s = c.argv.iter().map(display_word).collect::<Vec<_>>().join(" ");
    if let Target::Ssh { dest, .. } = &c.target {
        s = format!("[on {}] {s}", display_word(dest));
    }
    match &c.stdin {
        Input::File(w) => s.push_str(&format!(" < {}", display_word(w))),
        Input::Value(w) => s.push_str(&format!(" <<< {}", display_word(w))),
        Input::Bytes(b) => s.push_str(&format!("   < {} bytes", b.len())),
        Input::Null => {}
    }
    if let Sink::File(w) = &c.stdout {
        s.push_str(&format!(" > {}", display_word(w)));
    }
    s
}

/// Human wording of a condition, for listings.
pub fn describe(c: &Cond) -> String {
    match c {
        Cond::DirExists(p) => format!("{} exists", text(p)),
        Cond::FileExists(p) => format!("file {} exists", text(p)),
        Cond::EmptyOrAbsent(p) => format!("{} is empty or absent", text(p)),
        Cond::RealDir(p) => format!("{} is a directory not reached through a symbolic link", text(p)),
        Cond::Flag(v) => format!("{v} was set by an earlier step"),
        Cond::FactRow { fact, key, value: None, .. } => format!("{} is in {fact}", text(key)),
        Cond::FactRow { fact, key, value: Some(v), column: 2 } => {
            format!("{} is {} in {fact}", text(key), text(v))
        }
        Cond::FactRow { fact, key, value: Some(v), column } => {
            format!("{} is {} in {fact} (field {column})", text(key), text(v))
        }
        Cond::Succeeds(cmd) => format!("`{}` succeeds", display_cmd(cmd)),
        Cond::Prints { cmd, want } => format!("`{}` prints {}", display_cmd(cmd), quote(want)),
        Cond::ListEmpty(v) => format!("${v} is empty"),
        Cond::ListIs { list, items, ordered } => {
            format!("${list} is {}{}", items.join(","), if *ordered { "" } else { " in some order" })
        }
        Cond::Not(inner) => format!("not ({})", describe(inner)),
        Cond::And(v) => v.iter().map(describe).collect::<Vec<_>>().join(" and "),
        Cond::Or(v) => v.iter().map(describe).collect::<Vec<_>>().join(" or "),
    }
}
