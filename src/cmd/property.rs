//! `lxops property …`: the global properties files.
//!
//! `set` rewrites only the properties file (keys sorted); files in
//! `properties.d` are read but never written.

use crate::cli::{Format, GlobalArgs, PropertyCmd};
use crate::diag::{ConfigError, Diag};
use crate::properties::read_map;
use crate::table;
use std::io::Write;

pub fn run(g: &GlobalArgs, c: PropertyCmd, out: &mut dyn Write) -> anyhow::Result<()> {
    let props = super::properties(g)?;
    match c {
        PropertyCmd::List(f) => {
            let mut rows: Vec<Vec<String>> =
                props.global.iter().map(|(k, (v, _))| vec![k.clone(), v.clone()]).collect();
            rows.sort();
            if f.format == Format::Json {
                let map: serde_json::Map<String, serde_json::Value> =
                    rows.into_iter().map(|r| (r[0].clone(), r[1].clone().into())).collect();
                return super::json(out, "properties", map.into());
            }
            out.write_all(table::render(&["KEY", "VALUE"], &rows).as_bytes())?;
        }
        PropertyCmd::Get { key } => {
            writeln!(out, "{}", props.global.get(&key).map(|(v, _)| v.as_str()).unwrap_or(""))?;
        }
        PropertyCmd::File => writeln!(out, "{}", props.file.display())?,
        PropertyCmd::Set { key, value } => {
            let f = &props.file;
            let mut map = if f.exists() { read_map(f)? } else { Default::default() };
            map.insert(key, value);
            map.sort_keys();
            if let Some(dir) = f.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    ConfigError::one(Diag::new(format!("cannot create {}: {e}", dir.display())))
                })?;
            }
            let text = serde_yaml::to_string(&map)?;
            std::fs::write(f, text)
                .map_err(|e| ConfigError::one(Diag::new(format!("cannot write: {e}")).in_file(f)))?;
        }
    }
    Ok(())
}
