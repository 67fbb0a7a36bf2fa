//! `lxops config …`: look at config files as files (merged, not resolved).
//!
//! These commands do not validate instances (use `lxops i verify`); they show
//! what the loader makes of the files.

use crate::cli::{ConfigCmd, Format, GlobalArgs};
use crate::config::{Config, HEADER, LEGACY_HEADER};
use crate::diag::{ConfigError, Diag};
use crate::load::{Loader, first_line_comment};
use crate::paths;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn run(g: &GlobalArgs, c: ConfigCmd, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut loader = Loader::new();
    match c {
        ConfigCmd::Schema => out.write_all(crate::config::schema().as_bytes())?,
        ConfigCmd::Formats => {
            writeln!(out, "current format: {HEADER}")?;
            writeln!(out, "supported formats:")?;
            writeln!(out, "{LEGACY_HEADER}")?;
        }
        ConfigCmd::Print(a) => {
            let props = super::properties(g)?;
            let m = merged(&mut loader, &a.config, &props)?;
            out.write_all(print(&m.config)?.as_bytes())?;
        }
        ConfigCmd::Properties(a) => {
            let props = super::properties(g)?;
            let m = merged(&mut loader, &a.config.config, &props)?;
            let mut rows: Vec<Vec<String>> =
                m.config.properties.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect();
            rows.sort();
            if a.out.format == Format::Json {
                let map: serde_json::Map<String, serde_json::Value> =
                    rows.into_iter().map(|r| (r[0].clone(), r[1].clone().into())).collect();
                return super::json(out, "properties", map.into());
            }
            out.write_all(crate::table::render(&[], &rows).as_bytes())?;
        }
        ConfigCmd::CloudConfig(a) => {
            let props = super::properties(g)?;
            let m = merged(&mut loader, &a.config.config, &props)?;
            if a.out.format == Format::Json {
                return super::json(out, "files", m.config.cloud_config_files.clone().into());
            }
            for f in &m.config.cloud_config_files {
                writeln!(out, "{}", crate::runtime::text::text(f))?;
            }
        }
        ConfigCmd::Packages(a) => {
            let props = super::properties(g)?;
            let m = merged(&mut loader, &a.config.config, &props)?;
            let mut all = Vec::new();
            for f in &m.config.cloud_config_files {
                all.extend(crate::cloudconfig::read_file(Path::new(f))?.packages);
            }
            if a.out.format == Format::Json {
                return super::json(out, "packages", all.into());
            }
            for p in all {
                writeln!(out, "{}", crate::runtime::text::text(&p))?;
            }
        }
        ConfigCmd::Includes(a) => {
            loader.quiet = true;
            let mut seen = HashSet::new();
            let mut listed: Vec<PathBuf> = Vec::new();
            for f in &a.configs.configs {
                let f = crate::config_path(f)?;
                let top = loader.read_raw(&f)?;
                includes(&mut loader, &top.path, &top.config.include, &mut seen, &mut listed);
            }
            if a.out.format == Format::Json {
                let files: Vec<String> = listed.iter().map(|p| p.to_string_lossy().to_string()).collect();
                return super::json(out, "files", files.into());
            }
            for p in listed {
                writeln!(out, "{}", crate::runtime::text::text(&p.to_string_lossy()))?;
            }
        }
        ConfigCmd::Convert { output, force, files } => {
            convert(&mut loader, output, force, &files.configs, out)?
        }
    }
    Ok(())
}

fn merged(
    loader: &mut Loader,
    arg: &Path,
    props: &crate::properties::Properties,
) -> Result<crate::load::Merged, ConfigError> {
    let f = crate::config_path(arg)?;
    let m = loader.merge(&f, props)?;
    for w in &m.warnings {
        crate::diag::warn(w);
    }
    Ok(m)
}

/// Serialises a config as an lxops file: header, then YAML with sorted maps.
pub fn print(c: &Config) -> Result<String, ConfigError> {
    let mut c = c.clone();
    c.filesystems.sort_keys();
    c.devices.sort_keys();
    c.properties.sort_keys();
    for fs in c.filesystems.values_mut().flatten() {
        fs.zfsproperties.sort_keys();
    }
    let yaml = if c == Config::default() {
        String::new()
    } else {
        serde_yaml::to_string(&c).map_err(|e| Diag::new(format!("cannot serialise config: {e}")))?
    };
    Ok(format!("{HEADER}\n{yaml}"))
}

/// Prints include paths depth first, each once; unreadable nested files are skipped.
fn includes(
    loader: &mut Loader,
    file: &Path,
    list: &[String],
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) {
    for inc in list {
        let p = paths::relative_to_file(file, inc);
        if !seen.insert(p.clone()) {
            continue;
        }
        out.push(p.clone());
        if let Ok(f) = loader.read_raw(&p) {
            let nested = f.config.include.clone();
            includes(loader, &p, &nested, seen, out);
        }
    }
}

fn convert(
    loader: &mut Loader,
    output: Option<PathBuf>,
    force: bool,
    files: &[PathBuf],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if output.is_some() && files.len() != 1 {
        return Err(ConfigError::one(
            Diag::new("-o requires exactly one input file")
                .at_key("--output")
                .hint("convert other files in place, or one at a time"),
        )
        .into());
    }
    loader.quiet = true;
    for f in files {
        let text = crate::input::read_text(f)
            .map_err(|e| ConfigError::one(Diag::new(format!("cannot read file: {e}")).in_file(f)))?;
        if output.is_none() && first_line_comment(&text) == HEADER && !force {
            eprintln!("{}: already in the current format (use --force to rewrite)", f.display());
            continue;
        }
        let fc = loader.read_raw(f)?;
        let dest = output.clone().unwrap_or_else(|| f.clone());
        std::fs::write(&dest, print(&fc.config)?)?;
        writeln!(out, "{}", dest.display())?;
    }
    Ok(())
}
