//! `lxops i …` (`info`): what a config resolves to for an instance.
//!
//! Every sub-command resolves each CONFIG fully, so all compile-time errors
//! show here too; `verify` also resolves device and container sources.

use crate::cli::{GlobalArgs, InfoCmd};
use crate::load::Loader;
use crate::resolve::{self, FsKind, Instance, Options};
use crate::table;
use std::io::Write;
use std::path::PathBuf;

pub fn run(g: &GlobalArgs, c: InfoCmd, out: &mut dyn Write) -> anyhow::Result<()> {
    let (configs, sources) = match &c {
        InfoCmd::Verify(a) => (&a.configs, true),
        InfoCmd::Description(a)
        | InfoCmd::Properties(a)
        | InfoCmd::Filesystems(a)
        | InfoCmd::Devices(a)
        | InfoCmd::Project(a) => (&a.configs, false),
    };
    for inst in instances(g, configs, sources)? {
        match &c {
            InfoCmd::Verify(_) => writeln!(out, "{}", inst.name)?,
            InfoCmd::Description(_) => writeln!(
                out,
                "{}",
                crate::runtime::text::multiline(inst.merged.config.description.trim_end())
            )?,
            InfoCmd::Project(_) => writeln!(out, "{}", inst.project)?,
            InfoCmd::Properties(_) => {
                let rows: Vec<Vec<String>> =
                    inst.properties.iter().map(|(k, v, s)| vec![k.clone(), v.clone(), s.clone()]).collect();
                out.write_all(table::render(&["KEY", "VALUE", "FROM"], &rows).as_bytes())?;
            }
            InfoCmd::Filesystems(_) => {
                let rows: Vec<Vec<String>> = inst
                    .filesystems
                    .iter()
                    .map(|f| {
                        let mut flags = vec![if f.kind == FsKind::Zfs { "zfs" } else { "dir" }];
                        if f.destroy {
                            flags.push("destroy");
                        }
                        if f.transient {
                            flags.push("transient");
                        }
                        vec![f.id.clone(), f.path.clone(), f.pattern.clone(), flags.join(" ")]
                    })
                    .collect();
                out.write_all(table::render(&["FILESYSTEM", "PATH", "PATTERN", "FLAGS"], &rows).as_bytes())?;
            }
            InfoCmd::Devices(_) => {
                let mut rows: Vec<Vec<String>> = inst
                    .devices
                    .iter()
                    .map(|d| {
                        let dir = inst
                            .merged
                            .config
                            .devices
                            .get(&d.key)
                            .and_then(|x| x.as_ref())
                            .map(|x| x.dir.clone())
                            .unwrap_or_default();
                        vec![
                            d.source.clone(),
                            d.path.clone(),
                            d.key.clone(),
                            dir,
                            d.filesystem.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                rows.sort();
                out.write_all(
                    table::render(&["SOURCE", "PATH", "NAME", "DIR", "FILESYSTEM"], &rows).as_bytes(),
                )?;
            }
        }
    }
    Ok(())
}

/// Resolves every CONFIG, reporting the problems of all of them together;
/// `sources` (verify) also resolves device and container sources and reads
/// and checks every cloud-config file.
pub fn instances(g: &GlobalArgs, configs: &[PathBuf], sources: bool) -> anyhow::Result<Vec<Instance>> {
    let files = crate::config_paths(g, configs)?;
    let props = super::properties(g)?;
    let opts = Options { name: g.name.clone(), project: g.project.clone(), sources };
    let mut loader = Loader::new();
    let mut out = Vec::new();
    let mut errs = Vec::new();
    let mut checked = std::collections::HashSet::new();
    for f in files {
        match resolve::instance(&mut loader, &f, &props, &opts) {
            Ok(i) => {
                if sources {
                    for cc in &i.cloud_config_files {
                        if checked.insert(cc.clone())
                            && let Err(e) = crate::cloudconfig::read_file(cc)
                        {
                            errs.extend(e.0);
                        }
                    }
                }
                out.push(i);
            }
            Err(e) => errs.extend(e.0),
        }
    }
    if !errs.is_empty() {
        return Err(crate::diag::ConfigError(errs).into());
    }
    Ok(out)
}
