//! `profile list`, `profile diff` and `profile exists`: queries. `list` needs no server;
//! `diff` reads each instance's profiles through the model's query path
//! (facts run by `runtime::execute::read_facts`, the executor's own code)
//! and compares them in Rust. A query has no script and no `--execute`.

use crate::cli::{Format, GlobalArgs, PlanCmd, ProfileCmd};
use crate::diag::ConfigError;
use crate::plan::profiles::{self, ProfileDiff};
use crate::plan::{Builder, Settings};
use crate::resolve::Options;
use crate::runtime::parse::{Parsed, apply};
use std::io::Write;

pub fn run(g: &GlobalArgs, c: &PlanCmd, out: &mut dyn Write) -> anyhow::Result<()> {
    let PlanCmd::Profile(p) = c else { unreachable!("only profile queries come here") };
    let (q, diff) = match p {
        ProfileCmd::List(q) => (q, false),
        ProfileCmd::Diff(q) => (q, true),
        ProfileCmd::Exists(a) => return exists(g, &a.profile, out),
        _ => unreachable!("apply, reorder, export and import are plans"),
    };
    let files = crate::config_paths(g, &q.configs.configs)?;
    let props = super::properties(g)?;
    let opts = Options {
        name: g.name.clone(),
        project: g.project.clone(),
        sources: false,
        target: g.target.clone(),
    };
    let mut loader = crate::load::Loader::new();
    let mut errs = Vec::new();
    let mut insts = Vec::new();
    for f in files {
        match crate::resolve::instance(&mut loader, &f, &props, &opts) {
            Ok(i) => insts.push(i),
            Err(e) => errs.extend(e.0),
        }
    }
    if !errs.is_empty() {
        return Err(ConfigError(errs).into());
    }
    if !diff {
        let lists: Vec<(String, Vec<String>)> =
            insts.iter().map(|i| (i.name.clone(), profiles::expected(i))).collect();
        match q.format {
            Format::Json => {
                let v: Vec<_> =
                    lists.iter().map(|(n, l)| serde_json::json!({"instance": n, "profiles": l})).collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"format_version": 1, "instances": v}))?
                )?;
            }
            Format::Text => {
                for (_, l) in lists {
                    for p in l {
                        writeln!(out, "{p}")?;
                    }
                }
            }
        }
        return Ok(());
    }
    let settings = Settings { backend: super::backend(g), wait_network: None, force: false };
    let mut b = Builder::new("profile diff", settings);
    let vars: Vec<String> = insts.iter().map(|i| profiles::diff_facts(&mut b, i)).collect();
    let plan = b.finish();
    let facts = crate::runtime::execute::read_facts(&plan)?;
    let mut diffs = Vec::new();
    for (i, v) in insts.iter().zip(vars) {
        let text = facts.get(&v).cloned().unwrap_or_default();
        let actual = match apply(&crate::plan::model::Parse::ProfileNames, &text, &|_| Vec::new()) {
            Ok(Parsed::Many(names)) => names.iter().map(|n| String::from_utf8_lossy(n).to_string()).collect(),
            Ok(Parsed::One(_)) => unreachable!("profile names are a list"),
            Err(e) => return Err(crate::runtime::RunError(format!("{}: {e}", i.name)).into()),
        };
        diffs.push(ProfileDiff::new(&i.name, profiles::expected(i), actual));
    }
    match q.format {
        Format::Json => {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"format_version": 1, "instances": diffs}))?
            )?;
        }
        Format::Text => {
            for d in &diffs {
                for l in d.lines() {
                    writeln!(out, "{}", crate::runtime::text::text(&l))?;
                }
            }
        }
    }
    Ok(())
}

/// `profile exists NAME`: the name, if the project has the profile.
fn exists(g: &GlobalArgs, name: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(p) = crate::resolve::api_name_problem(name) {
        return Err(ConfigError::one(
            crate::diag::Diag::new(format!("invalid profile name {name:?}: {p}")).at_key("PROFILE"),
        )
        .into());
    }
    let project = g.project.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into());
    let settings = Settings { backend: super::backend(g), wait_network: None, force: false };
    let mut b = Builder::new("profile exists", settings);
    b.program(b.backend().cli());
    let v = b.profiles(&project);
    let facts = crate::runtime::execute::read_facts(&b.finish())?;
    if crate::runtime::cond::row(
        facts.get(&v).map(Vec::as_slice).unwrap_or_default(),
        name.as_bytes(),
        None,
        2,
    ) {
        writeln!(out, "{name}")?;
    }
    Ok(())
}
