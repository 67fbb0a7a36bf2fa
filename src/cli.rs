//! The command line: clap definitions only.
//!
//! Global flags (`--backend`, `-P`, `--properties`, `--project`, `--name`) are
//! accepted before or after the command word. Every command's doc comment is
//! its `--help` text, with an example. Dispatch lives in `lib.rs`; the work
//! lives in `cmd/`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "lxops",
    version,
    about = "Compile LXD/Incus container configs into reviewable plans and shell scripts",
    long_about = "lxops reads YAML instance configs (with includes and (property) substitution) and \
compiles each command into a plan: an ordered list of steps. By default the plan is printed and \
nothing runs; --execute runs it, and `lxops script COMMAND …` renders it as a bash script.",
    after_help = "Examples:\n  lxops config print containers/web.yaml\n  lxops i devices -n web2 containers/web.yaml"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    Incus,
    Lxd,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Container manager CLI to target: incus or lxd (lxc).
    #[arg(long, global = true, env = "LXOPS_BACKEND", value_enum)]
    pub backend: Option<BackendArg>,
    /// Set a property, overriding config and global properties (repeatable).
    #[arg(short = 'P', long = "property", global = true, value_name = "KEY=VALUE")]
    pub property: Vec<String>,
    /// Global properties file [default: $XDG_CONFIG_HOME/lxops/properties.yaml].
    #[arg(long, global = true, value_name = "FILE")]
    pub properties: Option<PathBuf>,
    /// Project to use, overriding the config's `project`.
    #[arg(long, global = true, value_name = "PROJECT")]
    pub project: Option<String>,
    /// Instance name (only with one CONFIG) [default: the config file's base name].
    #[arg(short = 'n', long, global = true, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect lxops config files: merged config, includes, properties, packages.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Show what a config resolves to for an instance (alias: i).
    #[command(subcommand, visible_alias = "i")]
    Info(InfoCmd),
    /// Read and write global properties.
    #[command(subcommand)]
    Property(PropertyCmd),
    /// List the OS types lxops can configure.
    ///
    /// Example: lxops ostypes
    Ostypes,
}

#[derive(Debug, Args)]
pub struct Configs {
    /// lxops config files (a bare NAME means NAME.yaml in the current directory).
    #[arg(value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OneConfig {
    /// An lxops config file (a bare NAME means NAME.yaml in the current directory).
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print the merged config (includes applied) as an lxops file.
    ///
    /// Example: lxops config print containers/web.yaml
    Print(OneConfig),
    /// List the files a config includes, depth first, each once.
    ///
    /// Example: lxops config includes containers/web.yaml
    Includes(Configs),
    /// List the merged config's properties.
    ///
    /// Example: lxops config properties containers/web.yaml
    Properties(OneConfig),
    /// List the packages the config's cloud-config files install.
    ///
    /// Example: lxops config packages containers/web.yaml
    Packages(OneConfig),
    /// List the config's cloud-config files, in the order they are applied.
    ///
    /// Example: lxops config cloud-config containers/web.yaml
    CloudConfig(OneConfig),
    /// Print the current and the supported file format headers.
    ///
    /// Example: lxops config formats
    Formats,
    /// Rewrite files in the current format (#lxdops files are migrated).
    ///
    /// Example: lxops config convert -o new.yaml old.yaml
    Convert {
        /// Write to this file instead of converting in place (one input only).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Also rewrite files that are already in the current format.
        #[arg(short, long)]
        force: bool,
        #[command(flatten)]
        files: Configs,
    },
}

#[derive(Debug, Subcommand)]
pub enum InfoCmd {
    /// Resolve configs fully (sources included) and print each instance name.
    ///
    /// Example: lxops i verify containers/*.yaml
    Verify(Configs),
    /// Print the config's description.
    ///
    /// Example: lxops i description web.yaml
    Description(Configs),
    /// Print the effective properties and where each comes from.
    ///
    /// Example: lxops i properties -n web2 web.yaml
    Properties(Configs),
    /// Print the instance's filesystems.
    ///
    /// Example: lxops i filesystems web.yaml
    Filesystems(Configs),
    /// Print the instance's disk devices and their host directories.
    ///
    /// Example: lxops i devices web.yaml
    Devices(Configs),
    /// Print the instance's project.
    ///
    /// Example: lxops i project web.yaml
    Project(Configs),
}

#[derive(Debug, Subcommand)]
pub enum PropertyCmd {
    /// List global properties (properties.d/*.yaml, then the properties file).
    ///
    /// Example: lxops property list
    List,
    /// Print one global property (an empty line if it is not set).
    ///
    /// Example: lxops property get fshost
    Get { key: String },
    /// Set a property in the properties file (properties.d is left alone).
    ///
    /// Example: lxops property set fshost tank/host
    Set { key: String, value: String },
    /// Print the path of the properties file.
    ///
    /// Example: lxops property file
    File,
}
