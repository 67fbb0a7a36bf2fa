//! `lxops diff`: a query. Every CONFIG is resolved (all compile-time
//! problems first, exit 2), the facts of every instance are read through
//! the executor's query path (a failing one is recorded, not fatal), host
//! directories are looked at, and `drift::compare` says what differs.
//! Exit status: 0 in sync, 3 drifted, 4 could not check.

use crate::cli::{Format, GlobalArgs, QueryArgs};
use crate::diag::{ConfigError, EXIT_DRIFTED, EXIT_UNCHECKED, Outcome};
use crate::drift::{self, Observed, Report};
use crate::plan::{Builder, Settings};
use crate::resolve::Options;
use std::io::Write;
use std::os::unix::fs::MetadataExt;

pub fn run(g: &GlobalArgs, q: &QueryArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let files = crate::config_paths(g, &q.configs.configs)?;
    if files.is_empty() {
        return Err(ConfigError::one(
            crate::diag::Diag::new("no CONFIG given").hint("name one or more lxops config files"),
        )
        .into());
    }
    let props = super::properties(g)?;
    let opts =
        Options { name: g.name.clone(), project: g.project.clone(), sources: true, target: g.target.clone() };
    let mut loader = crate::load::Loader::new();
    let (mut errs, mut insts) = (Vec::new(), Vec::new());
    for f in files {
        match crate::resolve::instance(&mut loader, &f, &props, &opts) {
            Ok(i) => insts.push(i),
            Err(e) => errs.extend(e.0),
        }
    }
    if !errs.is_empty() {
        return Err(ConfigError(errs).into());
    }
    let backend = super::backend(g);
    let settings = Settings { backend, wait_network: None, force: false };
    let mut b = Builder::new("diff", settings);
    b.program(backend.cli());
    let vars: Vec<[String; 4]> = insts
        .iter()
        .map(|i| {
            [
                b.instances(&i.project),
                b.expanded_config(&i.project, &i.name),
                b.profile_show(&i.project, &i.profile),
                b.images(&i.project),
            ]
        })
        .collect();
    let facts = crate::runtime::execute::read_facts_each(&b.finish())?;
    let owner_of = |p: &str| {
        std::fs::metadata(p).ok().filter(|m| m.is_dir()).map(|m| format!("{}:{}", m.uid(), m.gid()))
    };
    let reports: Vec<Report> = insts
        .iter()
        .zip(&vars)
        .map(|(inst, v)| {
            let get = |k: &String| -> Result<&[u8], String> {
                match facts.get(k) {
                    Some(Ok(x)) => Ok(x.as_slice()),
                    Some(Err(status)) => Err(format!("the command failed (exit status {status})")),
                    None => Err("not read".into()),
                }
            };
            let seen = Observed {
                instances: get(&v[0]),
                expanded: get(&v[1]),
                profile: get(&v[2]),
                images: get(&v[3]),
                owner_of: &owner_of,
            };
            drift::compare(inst, backend, &seen)
        })
        .collect();
    let drifted = reports.iter().filter(|r| !r.differences.is_empty()).count();
    let unchecked = reports.iter().any(|r| !r.unchecked.is_empty());
    let status = if drifted > 0 {
        "drifted"
    } else if unchecked {
        "unchecked"
    } else {
        "in_sync"
    };
    match q.format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "format_version": 1,
                "status": status,
                "instances": reports,
            }))?
        )?,
        Format::Text => out.write_all(render(&reports).as_bytes())?,
    }
    match status {
        "drifted" => Err(Outcome(EXIT_DRIFTED).into()),
        "unchecked" => Err(Outcome(EXIT_UNCHECKED).into()),
        _ => Ok(()),
    }
}

/// The reports as people read them: like a plan, one line per difference
/// with its sign and config key, and the command that fixes it below.
pub fn render(reports: &[Report]) -> String {
    use crate::runtime::text::text;
    let mut s = String::new();
    for r in reports {
        if r.in_sync() {
            s.push_str(&format!("{}: in sync with {}\n", text(&r.instance), text(&r.config)));
            continue;
        }
        s.push_str(&format!("{} ({}):\n", text(&r.instance), text(&r.config)));
        for d in &r.differences {
            s.push_str(&format!("  {} {}: {}\n", d.sign.symbol(), d.key, text(&d.message)));
            s.push_str(&format!("      fix: {}\n", text(&d.fix)));
        }
        for u in &r.unchecked {
            s.push_str(&format!("  ? not checked: {}\n", text(u)));
        }
    }
    let drifted = reports.iter().filter(|r| !r.differences.is_empty()).count();
    let n: usize = reports.iter().map(|r| r.differences.len()).sum();
    s.push_str(&format!(
        "{drifted} of {} instance{} drifted ({n} difference{})\n",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" },
        if n == 1 { "" } else { "s" }
    ));
    s
}
