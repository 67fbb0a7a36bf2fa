//! Renderings of a plan: the listing (default output), JSON, and the script.
//!
//! All three read the same [`crate::plan::model::Plan`]; none of them decides
//! what runs.

pub mod json;
pub mod listing;
pub mod script;
pub mod shell;

/// Human wording of a condition, for listings.
pub fn describe(c: &crate::plan::model::Cond) -> String {
    use crate::plan::model::Cond;
    match c {
        Cond::DirExists(p) => format!("{p} exists"),
        Cond::Var(v) => format!("{v} was set by an earlier step"),
        Cond::FactLine { fact, line } => format!("{line} is in {fact}"),
        Cond::FactField { fact, key, value } => format!("{key} is {value} in {fact}"),
        Cond::FactKey { fact, key } => format!("{key} is in {fact}"),
        Cond::Succeeds(cmd) => format!("`{}` succeeds", shell::display(cmd)),
        Cond::ListEmpty(v) => format!("${v} is empty"),
        Cond::Not(inner) => format!("not ({})", describe(inner)),
        Cond::And(v) => v.iter().map(describe).collect::<Vec<_>>().join(" and "),
        Cond::Or(v) => v.iter().map(describe).collect::<Vec<_>>().join(" or "),
    }
}
