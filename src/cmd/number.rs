//! `instance number`: lasting numbers (ssh ports, say) for instances, kept
//! in a `NAME,NUMBER` CSV file. Numbers in the file never change; a name
//! without one gets the lowest free number from `--first` (default: the
//! lowest in the file) up to `--last`; `--clean` drops the names not
//! selected. The file is the only thing it writes (whole, through a
//! temporary file renamed over it); the new lines are printed.

use crate::cli::NumberArgs;
use crate::diag::{ConfigError, Diag};
use crate::plan::Builder;
use crate::runtime::RunError;
use std::io::Write;

/// `(name, number)` pairs, in the file's order.
type Numbers = Vec<(String, u32)>;

/// The file's `(name, number)` pairs, in order; a malformed line is an error
/// naming its line.
pub fn parse(text: &str, file: &str) -> Result<Numbers, Diag> {
    let mut v = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let at = |m: String| Diag::new(format!("{file}:{}: {m}", i + 1));
        if fields.len() != 2 {
            return Err(at(format!("expected 2 fields (NAME,NUMBER): {}", crate::runtime::text::text(line))));
        }
        let n = fields[1]
            .trim()
            .parse::<u32>()
            .map_err(|_| at(format!("not a number: {}", crate::runtime::text::text(fields[1]))))?;
        v.push((fields[0].trim().to_string(), n));
    }
    Ok(v)
}

/// Numbers `selected` names: returns the new list and the pairs added.
pub fn assign(
    mut numbers: Numbers,
    selected: &[String],
    first: Option<u32>,
    last: Option<u32>,
    clean: bool,
) -> Result<(Numbers, Numbers), String> {
    if clean {
        numbers.retain(|(n, _)| selected.contains(n));
    }
    let mut next = match first {
        Some(f) => f,
        None => numbers
            .iter()
            .map(|(_, n)| *n)
            .min()
            .ok_or("no numbers in the file to start from: give --first")?,
    };
    let mut added = Vec::new();
    for name in selected {
        if numbers.iter().any(|(n, _)| n == name) {
            continue;
        }
        while numbers.iter().any(|(_, n)| *n == next) {
            next = next.checked_add(1).ok_or("no number left")?;
        }
        if let Some(l) = last
            && next > l
        {
            return Err(format!("no numbers available between {} and {l}", first.unwrap_or(next)));
        }
        numbers.push((name.clone(), next));
        added.push((name.clone(), next));
    }
    Ok((numbers, added))
}

pub fn run(mut b: Builder, a: &NumberArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let file = a.file.display().to_string();
    for n in &a.names {
        if let Some(p) = crate::resolve::instance_name_problem(n) {
            return Err(ConfigError::one(
                Diag::new(format!("invalid instance name {n:?}: {p}")).at_key("NAME"),
            )
            .into());
        }
    }
    let text = match crate::input::read_text(&a.file) {
        Ok(t) => t,
        Err(crate::input::InputError::Missing) => String::new(),
        Err(e) => return Err(RunError(format!("cannot read {file}: {e}")).into()),
    };
    let numbers = parse(&text, &file).map_err(ConfigError::one)?;
    let mut selected: Vec<String> = Vec::new();
    if let Some(p) = &a.from_project {
        let v = b.instances(p);
        let facts = super::instance::read(b)?;
        for line in String::from_utf8_lossy(&facts[&v]).split('\n').filter(|l| !l.is_empty()) {
            let mut fields = line.split(',');
            let (name, status) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
            if !a.running || status == "RUNNING" {
                selected.push(name.to_string());
            }
        }
    }
    for n in &a.names {
        if !selected.contains(n) {
            selected.push(n.clone());
        }
    }
    if a.first.is_none() && numbers.is_empty() && !selected.is_empty() {
        return Err(ConfigError::one(
            Diag::new(format!("{file} has no numbers to start from"))
                .at_key("--first")
                .hint("give the first number with --first"),
        )
        .into());
    }
    let (numbers, added) = assign(numbers, &selected, a.first, a.last, a.clean).map_err(RunError)?;
    let body: String = numbers.iter().map(|(n, v)| format!("{n},{v}\n")).collect();
    let tmp = format!("{file}.lxops-tmp");
    std::fs::write(&tmp, body)
        .and_then(|_| std::fs::rename(&tmp, &a.file))
        .map_err(|e| RunError(format!("cannot write {file}: {e}")))?;
    for (n, v) in added {
        writeln!(out, "{n},{v}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn numbers_are_kept_and_gaps_filled() {
        let have = parse("a,2201\nc,2203\n\n", "f").unwrap();
        let (all, added) = assign(have.clone(), &s(&["a", "b", "d"]), None, None, false).unwrap();
        assert_eq!(added, vec![("b".into(), 2202), ("d".into(), 2204)]);
        assert_eq!(all.len(), 4);
        let (all, _) = assign(have.clone(), &s(&["b"]), Some(2201), None, true).unwrap();
        assert_eq!(all, vec![("b".into(), 2201)], "--clean drops a and c; b takes the freed number");
        assert!(assign(have.clone(), &s(&["b", "d"]), Some(2201), Some(2202), false).is_err());
        assert!(assign(Vec::new(), &s(&["b"]), None, None, false).is_err(), "nothing to start from");
        assert!(parse("a,1,2\n", "f").is_err());
        assert!(parse("a,x\n", "f").is_err());
    }
}
