//! Command implementations, one module per command group.
//!
//! Each module turns parsed arguments into output on the given writer. They
//! use `load` and `resolve` for everything about configs; none of them runs
//! external programs.

pub mod config;
pub mod info;
pub mod plan;
pub mod property;

use crate::cli::GlobalArgs;
use crate::diag::ConfigError;
use crate::properties::Properties;

/// The command-line and global properties for this invocation.
pub fn properties(g: &GlobalArgs) -> Result<Properties, ConfigError> {
    Properties::load(&g.property, g.properties.as_deref())
}
