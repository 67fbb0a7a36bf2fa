//! Command implementations, one module per command group.
//!
//! Each module turns parsed arguments into output on the given writer. They
//! use `load` and `resolve` for everything about configs; none of them runs
//! external programs.

pub mod config;
pub mod diff;
pub mod image;
pub mod info;
pub mod instance;
pub mod number;
pub mod plan;
pub mod profile;
pub mod property;
pub mod shell;
pub mod shiftids;

use crate::cli::GlobalArgs;
use crate::diag::ConfigError;
use crate::properties::Properties;

/// A query's JSON: `{"format_version": 1, KEY: VALUE}` (the README lists
/// each command's shape).
pub fn json(out: &mut dyn std::io::Write, key: &str, value: serde_json::Value) -> anyhow::Result<()> {
    let mut m = serde_json::Map::new();
    m.insert("format_version".into(), 1.into());
    m.insert(key.into(), value);
    let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(m))?;
    text.push('\n');
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// The command-line and global properties for this invocation.
pub fn properties(g: &GlobalArgs) -> Result<Properties, ConfigError> {
    Properties::load(&g.property, g.properties.as_deref())
}

/// `--backend`, else `LXOPS_BACKEND` (clap reads it), else incus if on
/// PATH, else lxc if on PATH, else incus.
pub fn backend(g: &GlobalArgs) -> crate::plan::backend::Backend {
    use crate::plan::backend::Backend;
    use crate::runtime::find_program;
    match g.backend {
        Some(crate::cli::BackendArg::Incus) => Backend::Incus,
        Some(crate::cli::BackendArg::Lxd) => Backend::Lxd,
        None if find_program("incus").is_some() => Backend::Incus,
        None if find_program("lxc").is_some() => Backend::Lxd,
        None => Backend::Incus,
    }
}
