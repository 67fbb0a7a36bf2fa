//! `lxops i …` (`info`): what a config resolves to for an instance.
//!
//! Every sub-command resolves each CONFIG fully, so all compile-time errors
//! show here too; `verify` also resolves device and container sources.

use crate::cli::{Format, GlobalArgs, InfoCmd};
use crate::load::Loader;
use crate::resolve::{self, FsKind, Instance, Options};
use crate::table;
use std::io::Write;
use std::path::PathBuf;

pub fn run(g: &GlobalArgs, c: InfoCmd, out: &mut dyn Write) -> anyhow::Result<()> {
    let (q, sources) = match &c {
        InfoCmd::Verify(a) => (a, true),
        InfoCmd::Description(a)
        | InfoCmd::Properties(a)
        | InfoCmd::Filesystems(a)
        | InfoCmd::Devices(a)
        | InfoCmd::Project(a) => (a, false),
    };
    let json = q.out.format == Format::Json;
    let mut records = Vec::new();
    for inst in instances(g, &q.configs.configs, sources)? {
        let mut record = serde_json::Map::new();
        record.insert("name".into(), inst.name.clone().into());
        match &c {
            InfoCmd::Verify(_) => {
                if !json {
                    writeln!(out, "{}", inst.name)?;
                }
            }
            InfoCmd::Description(_) => {
                let d = inst.merged.config.description.trim_end();
                record.insert("description".into(), d.into());
                if !json {
                    writeln!(out, "{}", crate::runtime::text::multiline(d))?;
                }
            }
            InfoCmd::Project(_) => {
                record.insert("project".into(), inst.project.clone().into());
                if !json {
                    writeln!(out, "{}", inst.project)?;
                }
            }
            InfoCmd::Properties(_) => {
                let rows: Vec<Vec<String>> =
                    inst.properties.iter().map(|(k, v, s)| vec![k.clone(), v.clone(), s.clone()]).collect();
                let list: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| serde_json::json!({"key": r[0], "value": r[1], "from": r[2]}))
                    .collect();
                record.insert("properties".into(), list.into());
                if !json {
                    out.write_all(table::render(&["KEY", "VALUE", "FROM"], &rows).as_bytes())?;
                }
            }
            InfoCmd::Filesystems(_) => {
                let mut rows: Vec<Vec<String>> = Vec::new();
                let mut list: Vec<serde_json::Value> = Vec::new();
                for f in &inst.filesystems {
                    let zfs = f.kind == FsKind::Zfs;
                    let mut flags = vec![if zfs { "zfs" } else { "dir" }];
                    if f.destroy {
                        flags.push("destroy");
                    }
                    if f.transient {
                        flags.push("transient");
                    }
                    rows.push(vec![f.id.clone(), f.path.clone(), f.pattern.clone(), flags.join(" ")]);
                    list.push(serde_json::json!({
                        "id": f.id, "path": f.path, "pattern": f.pattern,
                        "zfs": zfs, "destroy": f.destroy, "transient": f.transient,
                    }));
                }
                record.insert("filesystems".into(), list.into());
                if !json {
                    out.write_all(
                        table::render(&["FILESYSTEM", "PATH", "PATTERN", "FLAGS"], &rows).as_bytes(),
                    )?;
                }
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
                let list: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| serde_json::json!({"source": r[0], "path": r[1], "name": r[2], "dir": r[3], "filesystem": r[4]}))
                    .collect();
                record.insert("devices".into(), list.into());
                if !json {
                    out.write_all(
                        table::render(&["SOURCE", "PATH", "NAME", "DIR", "FILESYSTEM"], &rows).as_bytes(),
                    )?;
                }
            }
        }
        records.push(serde_json::Value::Object(record));
    }
    if json {
        return super::json(out, "instances", records.into());
    }
    Ok(())
}

/// Resolves every CONFIG, reporting the problems of all of them together;
/// `sources` (verify) also resolves device and container sources and reads
/// and checks every cloud-config file.
pub fn instances(g: &GlobalArgs, configs: &[PathBuf], sources: bool) -> anyhow::Result<Vec<Instance>> {
    let files = crate::config_paths(g, configs)?;
    let props = super::properties(g)?;
    let opts =
        Options { name: g.name.clone(), project: g.project.clone(), sources, target: g.target.clone() };
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
