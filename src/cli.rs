//! The command line: clap definitions only.
//!
//! Global flags (`--backend`, `-P`, `--properties`, `--project`, `--name`) are
//! accepted before or after the command word. Every command's doc comment is
//! its `--help` text, with an example. Dispatch lives in `lib.rs`; the work
//! lives in `cmd/`.

use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};
use std::path::PathBuf;

/// The exit statuses, for `lxops --help` (the README has the same table).
pub const EXIT_STATUSES: &str = "Examples:
  lxops launch -n web1 web.yaml              show the plan; nothing runs
  lxops launch --execute -n web1 web.yaml    run it
  lxops script rebuild web1.yaml > run.sh    a script to review, then: bash run.sh --yes
  lxops config print containers/web.yaml     the merged config

Exit status:
  0    success (a plan listed, run to its end, or a query answered)
  1    a run failed (a step, a preflight check, a server that cannot be read);
       what the failed step's undo window covers was undone
  2    a config or usage error: nothing ran and nothing was printed on stdout
  3    lxops diff: the instance has drifted from its config
  4    lxops diff: a difference could not be checked
  128+N  interrupted by signal N (SIGINT 130, SIGTERM 143, SIGHUP 129), after the undo";

#[derive(Debug, Parser)]
#[command(
    name = "lxops",
    version = env!("LXOPS_VERSION"),
    about = "Compile LXD/Incus container configs into reviewable plans and shell scripts",
    long_about = "lxops reads YAML instance configs (with includes and (property) substitution) and \
compiles each command into a plan: an ordered list of steps. By default the plan is printed and \
nothing runs; --execute runs it, and `lxops script COMMAND …` renders it as a bash script.",
    after_help = "Examples:\n  lxops launch -n web1 web.yaml              show the plan; nothing runs\n  lxops launch --execute -n web1 web.yaml    run it\n  lxops script rebuild web1.yaml > run.sh    a script to review, then: bash run.sh --yes\n  lxops config print containers/web.yaml     the merged config",
    after_long_help = EXIT_STATUSES
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
    /// Global properties file [default: $XDG_CONFIG_HOME/lxops/properties.yaml];
    /// an empty FILE ('') means properties.d only.
    #[arg(long, global = true, value_name = "FILE", value_hint = ValueHint::FilePath, value_parser = any_path)]
    pub properties: Option<PathBuf>,
    /// Project to use, overriding the config's `project`.
    #[arg(long, global = true, value_name = "PROJECT")]
    pub project: Option<String>,
    /// Cluster member to place instances on, or @GROUP (the server chooses a
    /// member of the group), overriding the config's `target`.
    #[arg(long, global = true, value_name = "MEMBER")]
    pub target: Option<String>,
    /// Instance name (only with one CONFIG) [default: the config file's base name].
    #[arg(short = 'n', long, global = true, value_name = "NAME")]
    pub name: Option<String>,
    /// Colour on a terminal: auto (unless NO_COLOR is set), always or never.
    /// Scripts and JSON are never coloured.
    #[arg(long, global = true, value_name = "WHEN", value_enum, default_value_t = crate::render::style::When::Auto)]
    pub color: crate::render::style::When,
}

/// The command line as lxops parses it and documents it (help, completions,
/// man pages): the derived definitions, with the examples under `script`
/// rewritten for it (`lxops script delete web1.yaml > run.sh`, not the
/// `--execute` run that `script` refuses).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let names: Vec<String> = cmd
        .find_subcommand("script")
        .map(|s| s.get_subcommands().map(|c| c.get_name().to_string()).collect())
        .unwrap_or_default();
    for n in names {
        cmd = cmd.mut_subcommand("script", |s| {
            s.mut_subcommand(&n, |c| {
                let text = c.get_long_about().or(c.get_about()).map(|t| t.to_string()).unwrap_or_default();
                let text: Vec<String> = text.lines().map(|l| script_example(&n, l)).collect();
                c.long_about(text.join("\n"))
            })
        });
    }
    cmd
}

/// An `Example: lxops CMD …` line as `lxops script CMD … > run.sh`.
fn script_example(name: &str, line: &str) -> String {
    let Some(rest) = line.strip_prefix(&format!("Example: lxops {name}")) else { return line.to_string() };
    let rest = rest.replace(" --execute", "");
    let rest = rest.split("  (").next().unwrap_or(&rest).trim_end().to_string();
    format!("Example: lxops script {name}{rest} > run.sh")
}

/// The OS types, for `--ostype` (and its completion).
fn ostypes() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(crate::cloudconfig::ostype::names())
}

/// A path, the empty one included (clap's own parser refuses it).
fn any_path(s: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(s))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Plan(PlanCmd),
    /// Print a command's plan as a bash script that runs without lxops.
    ///
    /// Example: lxops script launch -n web1 web.yaml > launch-web1.sh
    #[command(subcommand)]
    Script(PlanCmd),
    /// Inspect lxops config files: merged config, includes, properties, packages.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Show what a config resolves to for an instance.
    #[command(subcommand, visible_alias = "i")]
    Info(InfoCmd),
    /// Read and write global properties.
    #[command(subcommand)]
    Property(PropertyCmd),
    /// Shift owners in directory trees: ids below the offsets get the offsets added.
    ///
    /// Symbolic links are never followed (their own owners are shifted);
    /// set-user-ID and set-group-ID bits that chown clears are set again; ids
    /// at or above an offset are left alone, so running it twice changes
    /// nothing. Needs root.
    ///
    /// Example: sudo lxops shiftids -u 1000000 -g 1000000 -v /tank/host/alpine-ssh/home
    Shiftids(ShiftidsArgs),
    /// List the OS types lxops can configure.
    ///
    /// Example: lxops ostypes
    Ostypes(QueryFormat),
    /// Print a shell completion script: bash, zsh or fish.
    ///
    /// It completes commands, flags, config files, backends and OS types.
    ///
    /// Example: lxops completions bash > /etc/bash_completion.d/lxops
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Write man pages into DIR: lxops.1 and one per command (lxops-rebuild.1 …).
    ///
    /// Example: lxops man /usr/local/share/man/man1 && man lxops-rebuild
    Man {
        /// Where to write the pages [default: the current directory].
        #[arg(value_name = "DIR", value_hint = ValueHint::DirPath)]
        dir: Option<PathBuf>,
    },
}

/// The shells `lxops completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct ShiftidsArgs {
    /// Add this to every uid below it.
    #[arg(short = 'u', long, value_name = "N", default_value_t = 0)]
    pub uid: u32,
    /// Add this to every gid below it.
    #[arg(short = 'g', long, value_name = "N", default_value_t = 0)]
    pub gid: u32,
    /// Print each change: chown UID:GID PATH (-1: unchanged).
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Directory trees to shift.
    #[arg(value_name = "DIR", value_hint = ValueHint::DirPath, required = true)]
    pub dirs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct Configs {
    /// lxops config files (a bare NAME means NAME.yaml in the current directory).
    #[arg(value_name = "CONFIG", required = true, value_hint = ValueHint::FilePath)]
    pub configs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OneConfig {
    /// An lxops config file (a bare NAME means NAME.yaml in the current directory).
    #[arg(value_name = "CONFIG", value_hint = ValueHint::FilePath)]
    pub config: PathBuf,
}

/// Text or JSON, for a command that prints a table or a list.
#[derive(Debug, Args)]
pub struct QueryFormat {
    /// Output format: text, or JSON ({"format_version": 1, …}; the README
    /// lists each command's shape).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Configs, for a query.
#[derive(Debug, Args)]
pub struct QueryConfigs {
    #[command(flatten)]
    pub configs: Configs,
    #[command(flatten)]
    pub out: QueryFormat,
}

/// One config, for a query.
#[derive(Debug, Args)]
pub struct QueryConfig {
    #[command(flatten)]
    pub config: OneConfig,
    #[command(flatten)]
    pub out: QueryFormat,
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
    Includes(QueryConfigs),
    /// List the merged config's properties.
    ///
    /// Example: lxops config properties containers/web.yaml
    Properties(QueryConfig),
    /// List the packages the config's cloud-config files install.
    ///
    /// Example: lxops config packages containers/web.yaml
    Packages(QueryConfig),
    /// List the config's cloud-config files, in the order they are applied.
    ///
    /// Example: lxops config cloud-config containers/web.yaml
    CloudConfig(QueryConfig),
    /// Print the JSON Schema of lxops config files (for editors).
    ///
    /// It is also docs/config.schema.json. With the YAML language server, a
    /// config names it in a comment: # yaml-language-server: $schema=PATH
    ///
    /// Example: lxops config schema > /usr/local/share/lxops/config.schema.json
    Schema,
    /// Print the current and the supported file format headers.
    ///
    /// Example: lxops config formats
    Formats,
    /// Rewrite files in the current format (#lxdops files are migrated).
    ///
    /// Example: lxops config convert -o new.yaml old.yaml
    Convert {
        /// Write to this file instead of converting in place (one input only).
        #[arg(short, long, value_name = "FILE", value_hint = ValueHint::FilePath)]
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
    Verify(QueryConfigs),
    /// Print the config's description.
    ///
    /// Example: lxops i description web.yaml
    Description(QueryConfigs),
    /// Print the effective properties and where each comes from.
    ///
    /// Example: lxops i properties -n web2 web.yaml
    Properties(QueryConfigs),
    /// Print the instance's filesystems.
    ///
    /// Example: lxops i filesystems web.yaml
    Filesystems(QueryConfigs),
    /// Print the instance's disk devices and their host directories.
    ///
    /// Example: lxops i devices web.yaml
    Devices(QueryConfigs),
    /// Print the instance's project.
    ///
    /// Example: lxops i project web.yaml
    Project(QueryConfigs),
}

#[derive(Debug, Subcommand)]
pub enum PropertyCmd {
    /// List global properties (properties.d/*.yaml, then the properties file).
    ///
    /// Example: lxops property list
    List(QueryFormat),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// A numbered listing for humans.
    #[default]
    Text,
    /// The plan as JSON (format_version 2).
    Json,
}

/// How to use a plan: show it (default), as JSON, or run it.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Run the plan on this host instead of printing it.
    #[arg(long)]
    pub execute: bool,
    /// Output format of the plan.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// With --execute: resume at STEP (or INSTANCE:STEP when the plan has
    /// several instances); the preflight checks are then not evaluated.
    #[arg(long, value_name = "STEP")]
    pub from: Option<String>,
    /// With --execute: run destructive steps without asking.
    #[arg(long)]
    pub yes: bool,
    /// With several instances: run at most N of them at once [default: 1].
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// With several instances: after one fails, start no more (the others go on by default).
    #[arg(long)]
    pub fail_fast: bool,
}

/// Waiting for the instance's network after start (decision D15).
#[derive(Debug, Args, Clone, Default)]
pub struct WaitArgs {
    /// Seconds to wait for an IPv4 address after start.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub wait_network: u32,
    /// Do not wait for the network after start.
    #[arg(long)]
    pub no_wait_network: bool,
}

#[derive(Debug, Args)]
pub struct LaunchArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub configs: Configs,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Stop a running instance first instead of refusing.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub configs: Configs,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Give the new instance the config's profiles, not the old instance's.
    #[arg(long, conflicts_with = "native")]
    pub skip_profiles: bool,
    /// Do not keep the old instance's MAC addresses (and so its DHCP address).
    #[arg(long, conflicts_with = "native")]
    pub skip_ip: bool,
    /// Do not snapshot the ZFS filesystems before stopping the instance.
    #[arg(long)]
    pub no_snapshot: bool,
    /// Use the server's own `rebuild` (Incus; LXD 5.15 and later): no fallback.
    #[arg(long)]
    pub native: bool,
    #[command(flatten)]
    pub configs: Configs,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The snapshot's name [default: the UTC time when the plan runs, YYYYMMDDhhmmss].
    #[arg(short = 's', long = "snapshot", value_name = "NAME")]
    pub snapshot: Option<String>,
    /// Also snapshot the instance itself (with the server's own snapshot).
    #[arg(short = 'c', long = "instance")]
    pub instance: bool,
    /// Destroy the named snapshot instead of taking it.
    #[arg(short = 'd', long)]
    pub destroy: bool,
    /// With -d: also destroy the snapshots and clones that depend on it (zfs destroy -R).
    #[arg(short = 'R', long)]
    pub recursive: bool,
    #[command(flatten)]
    pub configs: Configs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The snapshot to roll back to.
    #[arg(short = 's', long = "snapshot", value_name = "NAME", required = true)]
    pub snapshot: String,
    /// Also restore the instance's own snapshot of that name.
    #[arg(short = 'c', long = "instance")]
    pub instance: bool,
    /// Stop a running instance first, and start it again afterwards.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub configs: Configs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The directory to write the archives and their checksums to.
    #[arg(short = 'd', long = "dir", value_name = "DIR", value_hint = ValueHint::DirPath, required = true)]
    pub dir: PathBuf,
    /// Export this existing snapshot [default: take one for the export and destroy it afterwards].
    #[arg(long, value_name = "NAME")]
    pub snapshot: Option<String>,
    /// Also export the instance's image (the config's `image`).
    #[arg(long)]
    pub image: bool,
    /// Overwrite archives already in the directory.
    #[arg(long)]
    pub force: bool,
    /// The instance's config file.
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The directory an export wrote.
    #[arg(short = 'd', long = "dir", value_name = "DIR", value_hint = ValueHint::DirPath, required = true)]
    pub dir: PathBuf,
    /// Also import the image (as the config's `image`).
    #[arg(long)]
    pub image: bool,
    /// Unpack even into filesystems that already hold data.
    #[arg(long)]
    pub force: bool,
    /// The instance's config file.
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The config of the instances (both ends).
    #[arg(short = 'c', long = "config", value_name = "CONFIG", required = true)]
    pub config: PathBuf,
    /// The instance whose filesystems receive the copy.
    #[arg(long, value_name = "NAME", required = true)]
    pub instance: String,
    /// The instance whose filesystems are copied [default: --instance].
    #[arg(long, value_name = "NAME")]
    pub from_instance: Option<String>,
    /// Copy from this ssh destination (USER@HOST or an ssh config name).
    #[arg(long, value_name = "HOST", conflicts_with = "to_host")]
    pub from_host: Option<String>,
    /// Copy to this ssh destination.
    #[arg(long, value_name = "HOST")]
    pub to_host: Option<String>,
    /// Send this snapshot [default: take one, named by the UTC time].
    #[arg(short = 's', long = "snapshot", value_name = "NAME")]
    pub snapshot: Option<String>,
    /// Let the receiving side discard changes made since the common snapshot (zfs receive -F).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The instance's config file.
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
    /// The new instance name.
    #[arg(value_name = "NEWNAME")]
    pub new_name: String,
}

#[derive(Debug, Args)]
pub struct CloudconfigArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The guest's OS type (needed for packages, users and timezone).
    #[arg(long, value_name = "OSTYPE", value_parser = ostypes())]
    pub ostype: Option<String>,
    /// The instance to configure.
    #[arg(short, long, value_name = "INSTANCE")]
    pub instance: String,
    /// Cloud-config files, applied in order.
    #[arg(value_name = "FILE", value_hint = ValueHint::FilePath, required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub configs: Configs,
}

/// Commands that compile a plan.
#[derive(Debug, Subcommand)]
pub enum PlanCmd {
    /// Create an instance's filesystems, devices and profile, then create, start and configure it.
    ///
    /// Example: lxops launch -n web1 web.yaml  (shows the plan; --execute runs it)
    Launch(LaunchArgs),
    /// Delete instances and their profiles; filesystems are kept.
    ///
    /// Example: lxops delete --execute web1.yaml
    Delete(RemoveArgs),
    /// Delete instances and profiles, and destroy filesystems marked `destroy: true`.
    ///
    /// Example: lxops script destroy web1.yaml > destroy.sh
    Destroy(RemoveArgs),
    /// Give an instance a new OS from its image, keeping its data, profiles and MAC/IP.
    ///
    /// The new instance is prepared while the old one runs; the old one is
    /// kept as a fallback until the new one is configured, and put back if
    /// anything fails.
    ///
    /// Example: lxops rebuild --execute -n web1 web1.yaml
    Rebuild(RebuildArgs),
    /// Rename a stopped instance, its filesystems and its instance profile.
    ///
    /// Example: lxops rename --execute web1.yaml web2
    Rename(RenameArgs),
    /// Apply a config's cloud-config files to an existing, running instance.
    ///
    /// Example: lxops configure --execute web1.yaml
    Configure(LaunchArgs),
    /// Apply cloud-config files to an instance, without an lxops config.
    ///
    /// Example: lxops cloudconfig --ostype alpine -i web1 --execute motd.cfg
    Cloudconfig(CloudconfigArgs),
    /// Snapshot instances' ZFS filesystems (and with -c the instances), or destroy a snapshot.
    ///
    /// Example: lxops snapshot --execute -s before-upgrade web1.yaml
    Snapshot(SnapshotArgs),
    /// Roll instances' ZFS filesystems back to a snapshot (newer snapshots are destroyed).
    ///
    /// Example: lxops rollback --execute -s before-upgrade web1.yaml
    Rollback(RollbackArgs),
    /// Export an instance's filesystems as archives with a checksum manifest.
    ///
    /// Example: lxops export --execute -d /backup/web1 web1.yaml
    Export(ExportArgs),
    /// Import filesystems an export wrote, into an instance's filesystems.
    ///
    /// Example: lxops import --execute -d /backup/web1 web1.yaml
    Import(ImportArgs),
    /// Copy an instance's ZFS filesystems with zfs send | zfs receive, across hosts with ssh.
    ///
    /// Example: lxops copy-filesystems --execute -c web.yaml --instance web1 --from-host backup1
    CopyFilesystems(CopyArgs),
    /// Compare an instance's profiles with its config, or bring them in line.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Fill new template device directories from the config's image.
    ///
    /// A temporary instance is created from the image (never started), its
    /// directory at each device's path is copied into the device directory,
    /// and the owners are shifted by `device-owner`. Existing device
    /// directories are left alone; the temporary instance is always deleted.
    ///
    /// Example: lxops extract --execute -n alpine-ssh ssh.yaml
    Extract(PlanArgs),
    /// Publish an instance's snapshot as an image with an alias and properties.
    ///
    /// Without a snapshot, one is taken for the image (the instance keeps
    /// running) and deleted afterwards. With -c, the config gives the
    /// defaults: description (its first line), os (ostype), variant (the
    /// file's base name), and the alias OS-VARIANT-VERSION.
    ///
    /// Example: lxops publish --execute -c alpine-ssh.yaml alpine-ssh-1.2
    Publish(PublishArgs),
    /// Images: which instances were made from which image.
    #[command(subcommand)]
    Image(ImageCmd),
    /// Utilities on the server's instances: profiles, wait, devices, MAC and IP addresses, numbers.
    #[command(subcommand)]
    Instance(InstanceCmd),
    /// Show where instances have drifted from their configs (a query).
    ///
    /// Compares, for each config: the instance exists and runs, the image it
    /// was created from, its profiles and their order, the instance profile's
    /// devices, the config keys lxc-options set, the filesystems and device
    /// directories with their owner, and the recorded MAC addresses. Each
    /// difference names the config key and the lxops command that fixes it.
    /// Exit status: 0 in sync, 3 drifted, 4 could not check (1: failure, 2:
    /// config error, as everywhere).
    ///
    /// Example: lxops diff containers/*.yaml
    Diff(QueryArgs),
    /// Create an instance's filesystems and device directories only.
    ///
    /// Example: lxops create-devices --execute web1.yaml
    CreateDevices(PlanArgs),
    /// Create an instance's profile, or bring an existing one's disk devices in line with the config.
    ///
    /// Example: lxops create-profile --execute web1.yaml
    CreateProfile(PlanArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    /// List each instance with the image it was created from (a query: it reads the server).
    ///
    /// The image is shown by its aliases (comma-separated), or by its
    /// fingerprint when it has none or no longer exists.
    ///
    /// Example: lxops image instances
    Instances(ImageQueryArgs),
}

#[derive(Debug, Args)]
pub struct ImageQueryArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// A config that gives the defaults (and the project).
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// The image's alias [default: OS-VARIANT-VERSION with -c, else the instance's name].
    #[arg(long, value_name = "ALIAS")]
    pub alias: Option<String>,
    /// Move the alias to the new image if another image has it.
    #[arg(long)]
    pub reuse: bool,
    /// The image property architecture [default: this host's, e.g. amd64].
    #[arg(long, value_name = "ARCH")]
    pub architecture: Option<String>,
    /// The image property os [default: the config's ostype].
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// The image property variant [default: the config file's base name, else the instance].
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// The image property release [default: the version].
    #[arg(long, value_name = "RELEASE")]
    pub release: Option<String>,
    /// The image property serial [default: the version].
    #[arg(long, value_name = "SERIAL")]
    pub serial: Option<String>,
    /// The image property description [default: the config's description, first line].
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// The image property name [default: the instance's name].
    #[arg(long = "image-name", value_name = "NAME")]
    pub image_name: Option<String>,
    /// The image's compression (the server's default otherwise).
    #[arg(long, value_name = "ALGORITHM")]
    pub compression: Option<String>,
    /// The image's format: unified or split.
    #[arg(long = "image-format", value_name = "FORMAT")]
    pub image_format: Option<String>,
    /// INSTANCE or INSTANCE/SNAPSHOT [default: the config's instance].
    #[arg(value_name = "INSTANCE[/SNAPSHOT]")]
    pub instance: Option<String>,
    /// The snapshot to publish [default: take one for the image].
    #[arg(value_name = "SNAPSHOT")]
    pub snapshot: Option<String>,
}

/// `profile …`: the instance's profile list against the config's. The
/// expected list is the config's `profiles` followed by the instance
/// profile (no implicit `default`, as in the original).
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Print the profiles a config gives its instance, in order (nothing is read from the server).
    ///
    /// Example: lxops profile list web1.yaml
    List(QueryArgs),
    /// Show where an instance's profiles differ from its config (a query: it reads the server).
    ///
    /// Example: lxops profile diff web1.yaml
    Diff(QueryArgs),
    /// Give an instance exactly its config's profiles, in the config's order.
    ///
    /// Example: lxops profile apply --execute web1.yaml
    Apply(PlanArgs),
    /// Put an instance's profiles in the config's order, when it has exactly those profiles.
    ///
    /// Example: lxops profile reorder --execute web1.yaml
    Reorder(PlanArgs),
    /// Print the profile's name if it exists (a query; exit 0 either way).
    ///
    /// Example: lxops profile exists web1.lxops
    Exists(ProfileExistsArgs),
    /// Write profiles as YAML files DIR/NAME, as `profile show` prints them.
    ///
    /// Example: lxops profile export --execute -d profiles/ --all
    Export(ProfileExportArgs),
    /// Create or update profiles from YAML files (the profile is the file's base name).
    ///
    /// Example: lxops profile import --execute profiles/web.yaml
    Import(ProfileImportArgs),
}

#[derive(Debug, Args)]
pub struct ProfileExistsArgs {
    /// The profile's name.
    #[arg(value_name = "PROFILE")]
    pub profile: String,
}

#[derive(Debug, Args)]
pub struct ProfileExportArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The directory to write to.
    #[arg(short = 'd', long = "dir", value_name = "DIR", value_hint = ValueHint::DirPath, default_value = ".")]
    pub dir: PathBuf,
    /// Every profile of the project (read when the plan runs).
    #[arg(long, conflicts_with = "profiles")]
    pub all: bool,
    /// The profiles to export.
    #[arg(value_name = "PROFILE", required_unless_present = "all")]
    pub profiles: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ProfileImportArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// YAML files (config, description, devices; other keys are ignored).
    #[arg(value_name = "FILE", value_hint = ValueHint::FilePath, required = true)]
    pub files: Vec<PathBuf>,
}

/// `instance …`: utilities on the server's instances (the project is
/// `--project`, else the default one).
#[derive(Debug, Subcommand)]
pub enum InstanceCmd {
    /// Print an instance's profiles, one per line (a query).
    ///
    /// Example: lxops instance profiles web1
    Profiles(InstanceArg),
    /// Wait until instances have an IPv4 address (a plan).
    ///
    /// Example: lxops instance wait --execute web1 web2
    Wait(InstanceWaitArgs),
    /// Print an instance's disk devices, its profiles' included (a query).
    ///
    /// Example: lxops instance devices web1
    Devices(InstanceTableArgs),
    /// Print each instance's eth0 MAC address (a query).
    ///
    /// Example: lxops instance hwaddr
    Hwaddr(ImageQueryArgs),
    /// Print an instance as the server describes it, as YAML (a query).
    ///
    /// Example: lxops instance info web1
    Info(InstanceArg),
    /// Print the global addresses of every instance in every project (a query).
    ///
    /// Example: lxops instance addresses --family inet6 --headers
    Addresses(AddressesArgs),
    /// Give instances lasting numbers (ssh ports, say) in a NAME,NUMBER CSV file.
    ///
    /// Numbers already in the file stay; new names get the lowest free number
    /// from --first (default: the file's lowest) up to --last. With --clean,
    /// names not selected lose theirs. Only the file changes.
    ///
    /// Example: lxops instance number -f ports.csv --first 2201 --from-project web -r
    Number(NumberArgs),
}

#[derive(Debug, Args)]
pub struct InstanceArg {
    #[arg(value_name = "INSTANCE")]
    pub instance: String,
}

#[derive(Debug, Args)]
pub struct InstanceTableArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[arg(value_name = "INSTANCE")]
    pub instance: String,
}

#[derive(Debug, Args)]
pub struct InstanceWaitArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Seconds to wait for each instance.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub wait_network: u32,
    #[arg(value_name = "INSTANCE", required = true)]
    pub instances: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum AddressFormat {
    /// ADDRESS,NAME lines.
    #[default]
    Csv,
    /// NAME: ADDRESS lines.
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Family {
    /// IPv4.
    #[default]
    Inet,
    /// IPv6.
    Inet6,
}

#[derive(Debug, Args)]
pub struct AddressesArgs {
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    #[arg(long = "address-format", value_enum, default_value_t = AddressFormat::Csv)]
    pub format: AddressFormat,
    /// Start the CSV with a header line.
    #[arg(long)]
    pub headers: bool,
    #[arg(long, value_enum, default_value_t = Family::Inet)]
    pub family: Family,
}

#[derive(Debug, Args)]
pub struct NumberArgs {
    /// The NAME,NUMBER CSV file (created when missing).
    #[arg(short = 'f', long = "file", value_name = "FILE", value_hint = ValueHint::FilePath, required = true)]
    pub file: PathBuf,
    /// The lowest number to give [default: the lowest in the file].
    #[arg(long, value_name = "N")]
    pub first: Option<u32>,
    /// The highest number to give.
    #[arg(long, value_name = "N")]
    pub last: Option<u32>,
    /// Also number the instances of this project.
    #[arg(long = "from-project", value_name = "PROJECT")]
    pub from_project: Option<String>,
    /// With --from-project: only its running instances.
    #[arg(short = 'r', long, requires = "from_project")]
    pub running: bool,
    /// Drop the numbers of names not selected.
    #[arg(long)]
    pub clean: bool,
    /// Instance names to number.
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

/// A command that reads and prints: it has no plan to run or script.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub configs: Configs,
}

/// The run arguments of a query: it has no plan, so nothing to execute.
const NO_RUN: RunArgs =
    RunArgs { execute: false, format: Format::Text, from: None, yes: false, jobs: None, fail_fast: false };

impl PlanCmd {
    /// Whether the command reads the server and prints a result (a query)
    /// instead of compiling a plan: it has no script and no `--execute`.
    pub fn is_query(&self) -> bool {
        matches!(
            self,
            PlanCmd::Profile(ProfileCmd::List(_) | ProfileCmd::Diff(_) | ProfileCmd::Exists(_))
                | PlanCmd::Image(_)
                | PlanCmd::Diff(_)
                | PlanCmd::Instance(
                    InstanceCmd::Profiles(_)
                        | InstanceCmd::Devices(_)
                        | InstanceCmd::Hwaddr(_)
                        | InstanceCmd::Info(_)
                        | InstanceCmd::Addresses(_)
                        | InstanceCmd::Number(_)
                )
        )
    }

    pub fn run_args(&self) -> &RunArgs {
        match self {
            PlanCmd::Profile(ProfileCmd::Apply(a) | ProfileCmd::Reorder(a)) => &a.run,
            PlanCmd::Profile(ProfileCmd::Export(a)) => &a.run,
            PlanCmd::Profile(ProfileCmd::Import(a)) => &a.run,
            PlanCmd::Instance(InstanceCmd::Wait(a)) => &a.run,
            PlanCmd::Profile(ProfileCmd::List(_) | ProfileCmd::Diff(_) | ProfileCmd::Exists(_))
            | PlanCmd::Image(_)
            | PlanCmd::Diff(_)
            | PlanCmd::Instance(_) => &NO_RUN,
            PlanCmd::Extract(a) => &a.run,
            PlanCmd::Publish(a) => &a.run,
            PlanCmd::Snapshot(a) => &a.run,
            PlanCmd::Rollback(a) => &a.run,
            PlanCmd::Export(a) => &a.run,
            PlanCmd::Import(a) => &a.run,
            PlanCmd::CopyFilesystems(a) => &a.run,
            PlanCmd::Launch(a) | PlanCmd::Configure(a) => &a.run,
            PlanCmd::Rebuild(a) => &a.run,
            PlanCmd::Rename(a) => &a.run,
            PlanCmd::Cloudconfig(a) => &a.run,
            PlanCmd::Delete(a) | PlanCmd::Destroy(a) => &a.run,
            PlanCmd::CreateDevices(a) | PlanCmd::CreateProfile(a) => &a.run,
        }
    }

    pub fn configs(&self) -> &[PathBuf] {
        match self {
            PlanCmd::Launch(a) | PlanCmd::Configure(a) => &a.configs.configs,
            PlanCmd::Rebuild(a) => &a.configs.configs,
            PlanCmd::Rename(a) => std::slice::from_ref(&a.config),
            PlanCmd::Cloudconfig(_) | PlanCmd::Image(_) | PlanCmd::Instance(_) => &[],
            PlanCmd::Profile(ProfileCmd::Exists(_) | ProfileCmd::Export(_) | ProfileCmd::Import(_)) => &[],
            PlanCmd::Diff(q) => &q.configs.configs,
            PlanCmd::Extract(a) => &a.configs.configs,
            PlanCmd::Publish(a) => a.config.as_slice(),
            PlanCmd::Delete(a) | PlanCmd::Destroy(a) => &a.configs.configs,
            PlanCmd::CreateDevices(a) | PlanCmd::CreateProfile(a) => &a.configs.configs,
            PlanCmd::Profile(ProfileCmd::Apply(a) | ProfileCmd::Reorder(a)) => &a.configs.configs,
            PlanCmd::Profile(ProfileCmd::List(q) | ProfileCmd::Diff(q)) => &q.configs.configs,
            PlanCmd::Snapshot(a) => &a.configs.configs,
            PlanCmd::Rollback(a) => &a.configs.configs,
            PlanCmd::Export(a) => std::slice::from_ref(&a.config),
            PlanCmd::Import(a) => std::slice::from_ref(&a.config),
            PlanCmd::CopyFilesystems(a) => std::slice::from_ref(&a.config),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            PlanCmd::Profile(ProfileCmd::List(_)) => "profile list",
            PlanCmd::Profile(ProfileCmd::Diff(_)) => "profile diff",
            PlanCmd::Profile(ProfileCmd::Apply(_)) => "profile apply",
            PlanCmd::Profile(ProfileCmd::Reorder(_)) => "profile reorder",
            PlanCmd::Image(ImageCmd::Instances(_)) => "image instances",
            PlanCmd::Profile(ProfileCmd::Exists(_)) => "profile exists",
            PlanCmd::Profile(ProfileCmd::Export(_)) => "profile export",
            PlanCmd::Profile(ProfileCmd::Import(_)) => "profile import",
            PlanCmd::Instance(InstanceCmd::Profiles(_)) => "instance profiles",
            PlanCmd::Instance(InstanceCmd::Wait(_)) => "instance wait",
            PlanCmd::Instance(InstanceCmd::Devices(_)) => "instance devices",
            PlanCmd::Instance(InstanceCmd::Hwaddr(_)) => "instance hwaddr",
            PlanCmd::Instance(InstanceCmd::Info(_)) => "instance info",
            PlanCmd::Instance(InstanceCmd::Addresses(_)) => "instance addresses",
            PlanCmd::Instance(InstanceCmd::Number(_)) => "instance number",
            PlanCmd::Diff(_) => "diff",
            PlanCmd::Extract(_) => "extract",
            PlanCmd::Publish(_) => "publish",
            PlanCmd::Snapshot(_) => "snapshot",
            PlanCmd::Rollback(_) => "rollback",
            PlanCmd::Export(_) => "export",
            PlanCmd::Import(_) => "import",
            PlanCmd::CopyFilesystems(_) => "copy-filesystems",
            PlanCmd::Launch(_) => "launch",
            PlanCmd::Configure(_) => "configure",
            PlanCmd::Rebuild(_) => "rebuild",
            PlanCmd::Rename(_) => "rename",
            PlanCmd::Cloudconfig(_) => "cloudconfig",
            PlanCmd::Delete(_) => "delete",
            PlanCmd::Destroy(_) => "destroy",
            PlanCmd::CreateDevices(_) => "create-devices",
            PlanCmd::CreateProfile(_) => "create-profile",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every command's help says what it does and shows an example.
    #[test]
    fn every_command_has_help_with_an_example() {
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for s in c.get_subcommands() {
                let p = format!("{path} {}", s.get_name());
                if s.get_subcommands().next().is_some() {
                    walk(s, &p, missing);
                    continue;
                }
                let help = format!(
                    "{} {}",
                    s.get_about().map(|a| a.to_string()).unwrap_or_default(),
                    s.get_long_about().map(|a| a.to_string()).unwrap_or_default()
                );
                if s.get_about().is_none() || !help.contains("Example") {
                    missing.push(p);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "lxops", &mut missing);
        missing.retain(|m| !m.ends_with(" help"));
        assert!(missing.is_empty(), "commands without help or example: {missing:?}");
        Cli::command().debug_assert();
    }
}
