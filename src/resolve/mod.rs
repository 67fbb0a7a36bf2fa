//! From a merged config to a resolved, validated [`Instance`].
//!
//! Computes the instance name, the effective project, the built-in and
//! looked-up properties, the profile name, the filesystems (ZFS or plain
//! directory) and device directories, the device owner and, for commands
//! that create devices, where devices come from (a template instance to
//! rsync from, or an instance snapshot to clone). Every check that can be
//! made without a host runs here, and all problems are reported together,
//! each naming its file and key. Nothing here touches the host.

use crate::diag::{ConfigError, Diag};
use crate::load::{Loader, Merged};
use crate::paths;
use crate::properties::{Properties, substitute};
use names::owner_problem;
use sources::{parse_origin, resolve_device_source};
use storage::{resolve_devices, resolve_filesystems};

mod names;
mod sources;
mod storage;

use indexmap::IndexMap;
pub use names::{api_name_problem, instance_name_problem, ssh_dest_ok};
use std::path::{Path, PathBuf};

/// Settings that come from the command line rather than the config.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--name`: overrides the instance name of a single config.
    pub name: Option<String>,
    /// `--project`: overrides the config's project (decision D3).
    pub project: Option<String>,
    /// Resolve device and container sources (launch, rebuild, create-devices, verify).
    pub sources: bool,
    /// `--target`: overrides the config's `target`.
    pub target: Option<String>,
}

/// A resolved instance: everything later stages need, nothing raw.
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    /// The top config file as the operator named it.
    pub config_file: PathBuf,
    /// The top config file made absolute: the instance profile's description.
    pub config_abs: PathBuf,
    pub merged: Merged,
    /// The effective project; `default` when none is set.
    pub project: String,
    pub ostype: String,
    /// The substituted image (may carry a remote prefix).
    pub image: String,
    /// The instance profile that carries the disk devices.
    pub profile: String,
    /// The config's `profiles`, in merged order.
    pub profiles: Vec<String>,
    pub lxc_options: Vec<String>,
    /// `uid:gid` to chown new filesystem roots and device directories to.
    pub owner: Option<String>,
    /// Sorted by path, so parents come before children.
    pub filesystems: Vec<Fs>,
    /// Sorted by (filesystem id, key).
    pub devices: Vec<Dev>,
    pub cloud_config_files: Vec<PathBuf>,
    /// `origin`: copy the instance from another instance (snapshot).
    pub origin: Option<ContainerSource>,
    pub device_source: Option<DeviceSource>,
    /// Effective properties with where each came from, for display.
    pub properties: Vec<(String, String, String)>,
    /// Where on a cluster the instance is (D36); `None`: a single host.
    pub cluster: Option<Cluster>,
    /// The `host-ssh` property: the ssh destination of the server's host
    /// when it is not this machine (the client's default remote); host-side
    /// steps run there (D36).
    pub host_ssh: Option<String>,
}

/// An instance on a cluster: the member (or group) it is placed on, and the
/// ssh destinations of the members, for host-side steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// A member's name, or `@GROUP` (the server chooses a member).
    pub target: String,
    /// `member-ssh.<member>` properties: member name and ssh destination,
    /// sorted by member. A member not listed is reached as `ssh MEMBER`.
    pub ssh: Vec<(String, String)>,
}

impl Cluster {
    /// The member, when the target names one.
    pub fn member(&self) -> Option<&str> {
        (!self.target.starts_with('@')).then_some(self.target.as_str())
    }

    /// The ssh destination of a member.
    pub fn dest(&self, member: &str) -> String {
        self.ssh
            .iter()
            .find(|(m, _)| m == member)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| member.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsKind {
    Zfs,
    Dir,
}

/// A filesystem of the instance.
#[derive(Debug, Clone)]
pub struct Fs {
    pub id: String,
    pub pattern: String,
    /// The dataset name (ZFS) or the absolute directory.
    pub path: String,
    pub kind: FsKind,
    /// Where the filesystem is on the host (`/<dataset>` for ZFS).
    pub host_dir: String,
    /// `zfs create -o` properties, sorted by name.
    pub zfsproperties: Vec<(String, String)>,
    pub destroy: bool,
    pub transient: bool,
    pub file: PathBuf,
    /// With `device-origin`: the snapshot to clone this filesystem from.
    pub clone_from: Option<String>,
    /// With `device-origin`: the origin has this filesystem, as transient.
    pub origin_transient: bool,
}

/// A disk device of the instance.
#[derive(Debug, Clone)]
pub struct Dev {
    pub key: String,
    /// Mount path inside the instance.
    pub path: String,
    /// The filesystem id; `None` for a standalone device.
    pub filesystem: Option<String>,
    /// The host directory the device is sourced from.
    pub source: String,
    pub readonly: bool,
    pub file: PathBuf,
    /// With `device-template`: the template instance's directory to copy.
    pub template: Option<String>,
}

/// Where the instance itself is copied from (`origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSource {
    pub project: String,
    pub container: String,
    pub snapshot: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceMode {
    /// `device-template`: rsync new device directories from the template.
    Template,
    /// `device-origin`: zfs-clone filesystems from a snapshot.
    Clone { snapshot: String },
}

#[derive(Debug, Clone)]
pub struct DeviceSource {
    pub instance: String,
    pub mode: SourceMode,
}

impl Instance {
    pub fn filesystem(&self, id: &str) -> Option<&Fs> {
        self.filesystems.iter().find(|f| f.id == id)
    }

    /// Filesystems not below another filesystem of the instance.
    pub fn roots(&self) -> Vec<&Fs> {
        self.filesystems
            .iter()
            .filter(|f| {
                !self
                    .filesystems
                    .iter()
                    .any(|o| o.kind == f.kind && o.path != f.path && paths::is_within(&f.path, &o.path))
            })
            .collect()
    }
}

/// [`roots`] of a selection of filesystems.
pub fn roots_of<'a>(fss: &[&'a Fs]) -> Vec<&'a Fs> {
    fss.iter()
        .filter(|f| {
            !fss.iter().any(|o| o.kind == f.kind && o.path != f.path && paths::is_within(&f.path, &o.path))
        })
        .copied()
        .collect()
}

/// The filesystems of `fss` that are not below another one of the same kind.
pub fn roots(fss: &[Fs]) -> Vec<&Fs> {
    fss.iter()
        .filter(|f| {
            !fss.iter().any(|o| o.kind == f.kind && o.path != f.path && paths::is_within(&f.path, &o.path))
        })
        .collect()
}

/// Loads, merges and resolves one config.
pub fn instance(
    loader: &mut Loader,
    file: &Path,
    props: &Properties,
    opts: &Options,
) -> Result<Instance, ConfigError> {
    let merged = loader.merge(file, props)?;
    for w in &merged.warnings {
        crate::diag::warn(w);
    }
    resolve(loader, merged, props, opts)
}

/// The instance name a config file gives: its base name without the last extension.
pub fn base_name(file: &Path) -> String {
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    match name.rfind('.') {
        Some(i) => name[..i].to_string(),
        None => name,
    }
}

/// Property lookup: built-ins, then (optionally) `-P`, then the config's
/// properties, then global properties.
pub(super) struct Lookup<'a> {
    builtins: [(&'static str, String); 4],
    cli: Option<&'a IndexMap<String, String>>,
    config: &'a IndexMap<String, String>,
    props: &'a Properties,
}

impl<'a> Lookup<'a> {
    fn new(
        name: &str,
        project: &str,
        cli: bool,
        config: &'a IndexMap<String, String>,
        props: &'a Properties,
    ) -> Self {
        let default = project.is_empty() || project == "default";
        let builtins = [
            ("instance", name.to_string()),
            ("project", if default { "default".into() } else { project.to_string() }),
            ("project/", if default { String::new() } else { format!("{project}/") }),
            ("project_instance", if default { name.to_string() } else { format!("{project}_{name}") }),
        ];
        Lookup { builtins, cli: cli.then_some(&props.cli), config, props }
    }

    fn get(&self, key: &str) -> Option<String> {
        if let Some((_, v)) = self.builtins.iter().find(|(k, _)| *k == key) {
            return Some(v.clone());
        }
        if let Some(v) = self.cli.and_then(|c| c.get(key)) {
            return Some(v.clone());
        }
        if let Some(v) = self.config.get(key) {
            return Some(v.clone());
        }
        self.props.global.get(key).map(|(v, _)| v.clone())
    }

    /// Substitutes, turning an unknown key into a located error.
    pub(super) fn sub(&self, pattern: &str, file: &Path, key: &str, errs: &mut Vec<Diag>) -> Option<String> {
        match substitute(pattern, &|k| self.get(k)) {
            Ok(v) => Some(v),
            Err(missing) => {
                errs.push(
                    Diag::new(format!("unknown property ({missing}) in {pattern:?}"))
                        .in_file(file)
                        .at_key(key)
                        .hint(format!(
                            "define `{missing}` with -P {missing}=VALUE, under `properties:` in the config, or in {}",
                            self.props.file.display()
                        )),
                );
                None
            }
        }
    }
}

fn resolve(
    loader: &mut Loader,
    merged: Merged,
    props: &Properties,
    opts: &Options,
) -> Result<Instance, ConfigError> {
    let c = &merged.config;
    let top = merged.top.clone();
    let o = &merged.origins;
    let mut errs: Vec<Diag> = Vec::new();

    let name = opts.name.clone().unwrap_or_else(|| base_name(&top));
    if let Some(p) = instance_name_problem(&name) {
        let d = Diag::new(format!("invalid instance name {name:?}: {p}")).in_file(&top);
        errs.push(if opts.name.is_some() {
            d.at_key("--name")
                .hint("instance names are letters, digits and hyphens, at most 63, starting with a letter")
        } else {
            d.hint("the name comes from the file name; rename the file or pass --name NAME")
        });
    }
    let project = opts.project.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| c.project.clone());
    let project = if project.is_empty() { "default".to_string() } else { project };
    if let Some(p) = api_name_problem(&project) {
        let d = Diag::new(format!("invalid project name {project:?}: {p}"));
        errs.push(if opts.project.as_deref().is_some_and(|x| !x.is_empty()) {
            d.at_key("--project")
        } else {
            d.in_file(o.field("project", &top)).at_key("project")
        });
    }
    let look = Lookup::new(&name, &project, true, &c.properties, props);
    let field = |k: &str| o.field(k, &top).to_path_buf();

    // Verify (spec §2.8), every check, all reported together.
    let mut cloud_config_files = Vec::new();
    for (i, f) in c.cloud_config_files.iter().enumerate() {
        let p = PathBuf::from(f);
        if !p.is_file() {
            let from = o.cloud_config_files.get(i).cloned().unwrap_or(top.clone());
            let what = if p.exists() { "is not a regular file" } else { "does not exist" };
            errs.push(
                Diag::new(format!("cloud-config file {f} {what}"))
                    .in_file(&from)
                    .at_key("cloud-config-files")
                    .hint("paths are relative to the file that lists them"),
            );
        }
        cloud_config_files.push(p);
    }
    if !c.source_config.is_empty() && !Path::new(&c.source_config).is_file() {
        errs.push(
            Diag::new(format!("source-config file {} does not exist", c.source_config))
                .in_file(&field("source-config"))
                .at_key("source-config"),
        );
    }
    let mut seen_profiles = Vec::new();
    let mut dups = Vec::new();
    for p in &c.profiles {
        if seen_profiles.contains(p) {
            if !dups.contains(p) {
                dups.push(p.clone());
            }
        } else {
            seen_profiles.push(p.clone());
        }
    }
    for (i, p) in c.profiles.iter().enumerate() {
        if let Some(problem) = api_name_problem(p) {
            let from = o.profiles.get(i).cloned().unwrap_or(top.clone());
            errs.push(
                Diag::new(format!("invalid profile name {p:?}: {problem}"))
                    .in_file(&from)
                    .at_key(format!("profiles[{i}]"))
                    .hint("profile names start and end with a letter or digit and have no spaces, commas, quotes or '/'"),
            );
        }
    }
    if !dups.is_empty() {
        errs.push(
            Diag::new(format!("duplicate profiles: {}", dups.join(", ")))
                .in_file(&top)
                .at_key("profiles")
                .hint("a profile is listed by more than one file of the include tree; list it once"),
        );
    }
    if !c.ostype.is_empty() && crate::cloudconfig::ostype::find(&c.ostype).is_none() {
        errs.push(
            Diag::new(format!("unsupported ostype {:?}", c.ostype))
                .in_file(&field("ostype"))
                .at_key("ostype")
                .hint(format!("use one of: {}", crate::cloudconfig::ostype::names().join(", "))),
        );
    }

    let image = look.sub(&c.image, &field("image"), "image", &mut errs).unwrap_or_default();
    let pattern = if c.profile_pattern.is_empty() { "(instance).lxops" } else { c.profile_pattern.as_str() };
    let profile =
        look.sub(pattern, &field("profile-pattern"), "profile-pattern", &mut errs).unwrap_or_default();
    if let Some(problem) = api_name_problem(&profile) {
        errs.push(
            Diag::new(format!("invalid profile name {profile:?} (from {pattern:?}): {problem}"))
                .in_file(&field("profile-pattern"))
                .at_key("profile-pattern")
                .hint("profile names start and end with a letter or digit and have no spaces, commas, quotes or '/'"),
        );
    }
    let owner = look
        .sub(&c.device_owner, &field("device-owner"), "device-owner", &mut errs)
        .filter(|s| !s.is_empty());
    if let Some(ow) = &owner
        && owner_problem(ow)
    {
        errs.push(
            Diag::new(format!("device-owner {ow:?} is not of the form uid:gid"))
                .in_file(&field("device-owner"))
                .at_key("device-owner")
                .hint("use numbers as the host sees the container's root, e.g. 1000000:1000000"),
        );
    }

    let filesystems = resolve_filesystems(c, &merged, &look, &mut errs);
    let devices = resolve_devices(c, &merged, &look, &filesystems, &mut errs);

    let mut origin = None;
    let mut device_source = None;
    let mut filesystems = filesystems;
    let mut devices = devices;
    if opts.sources {
        let os = look.sub(&c.origin, &field("origin"), "origin", &mut errs).unwrap_or_default();
        if !os.is_empty() {
            // Without a project prefix, the origin is in the source config's
            // project when it names one (as the original), else this one's.
            let origin_project = if c.source_config.is_empty() {
                project.clone()
            } else {
                loader
                    .merge(Path::new(&c.source_config), props)
                    .ok()
                    .map(|m| m.config.project)
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| project.clone())
            };
            let o = parse_origin(&os, &origin_project);
            let problem = instance_name_problem(&o.container)
                .map(|p| format!("instance {:?}: {p}", o.container))
                .or_else(|| api_name_problem(&o.project).map(|p| format!("project {:?}: {p}", o.project)))
                .or_else(|| {
                    (o.snapshot.contains('/') || o.snapshot.chars().any(char::is_control))
                        .then(|| format!("snapshot {:?} contains '/' or a control character", o.snapshot))
                });
            match problem {
                Some(p) => errs.push(
                    Diag::new(format!("invalid origin {os:?}: {p}"))
                        .in_file(&field("origin"))
                        .at_key("origin")
                        .hint("write [PROJECT_]INSTANCE[/SNAPSHOT]"),
                ),
                None => origin = Some(o),
            }
        }
        device_source = resolve_device_source(
            loader,
            &merged,
            props,
            &look,
            &project,
            &mut filesystems,
            &mut devices,
            &mut errs,
        );
    }

    let mut properties = Vec::new();
    for (k, v) in &look.builtins {
        properties.push((k.to_string(), v.clone(), "built-in".to_string()));
    }
    let mut rest: IndexMap<String, (String, String)> = IndexMap::new();
    for (k, (v, f)) in &props.global {
        rest.insert(k.clone(), (v.clone(), f.display().to_string()));
    }
    for (k, v) in &c.properties {
        let f = o.properties.get(k).map(|p| p.display().to_string()).unwrap_or_default();
        rest.insert(k.clone(), (v.clone(), f));
    }
    for (k, v) in &props.cli {
        rest.insert(k.clone(), (v.clone(), "-P".to_string()));
    }
    rest.sort_keys();
    for (k, (v, f)) in rest {
        if !look.builtins.iter().any(|(b, _)| *b == k) {
            properties.push((k, v, f));
        }
    }

    let cluster = cluster(opts, c, &look, &field("target"), &properties, &mut errs);
    let host_ssh = host_ssh(&properties, cluster.is_some(), &mut errs);
    if !errs.is_empty() {
        return Err(ConfigError(errs));
    }
    Ok(Instance {
        cluster,
        host_ssh,
        config_abs: paths::absolute(&top),
        config_file: top,
        name,
        project,
        ostype: c.ostype.clone(),
        image,
        profile,
        profiles: c.profiles.clone(),
        lxc_options: c.lxc_options.clone(),
        owner,
        filesystems,
        devices,
        cloud_config_files,
        origin,
        device_source,
        properties,
        merged,
    })
}

/// The `host-ssh` property, checked.
fn host_ssh(
    properties: &[(String, String, String)],
    clustered: bool,
    errs: &mut Vec<Diag>,
) -> Option<String> {
    let (_, v, from) = properties.iter().find(|(k, _, _)| k == "host-ssh")?;
    let d =
        Diag::new(format!("invalid property host-ssh: {v:?}")).in_file(Path::new(from)).at_key("host-ssh");
    if !ssh_dest_ok(v) {
        errs.push(d.hint("write host-ssh: [USER@]HOST or an ssh config name"));
        return None;
    }
    if clustered {
        errs.push(
            Diag::new("host-ssh is for a server that is not clustered; this instance has a cluster target")
                .in_file(Path::new(from))
                .at_key("host-ssh")
                .hint("on a cluster, name each member's destination with member-ssh.MEMBER"),
        );
        return None;
    }
    Some(v.clone())
}

/// The instance's place on a cluster: `--target`, else the config's
/// `target` (property-substituted); with the `member-ssh.*` properties.
fn cluster(
    opts: &Options,
    c: &crate::config::Config,
    look: &Lookup,
    file: &Path,
    properties: &[(String, String, String)],
    errs: &mut Vec<Diag>,
) -> Option<Cluster> {
    let (target, key) = match &opts.target {
        Some(t) => (t.clone(), "--target"),
        None if c.target.is_empty() => return None,
        None => (look.sub(&c.target, file, "target", errs)?, "target"),
    };
    let located =
        |d: Diag| if key == "--target" { d.at_key("--target") } else { d.in_file(file).at_key("target") };
    let name = target.strip_prefix('@').unwrap_or(&target);
    if let Some(p) =
        api_name_problem(name).or_else(|| name.starts_with('-').then(|| "it starts with '-'".into()))
    {
        errs.push(
            located(Diag::new(format!("invalid cluster target {target:?}: {p}")))
                .hint("write a member's name, or @GROUP for a member of a cluster group (@default: any)"),
        );
        return None;
    }
    let mut ssh = Vec::new();
    for (k, v, from) in properties {
        let Some(member) = k.strip_prefix("member-ssh.") else { continue };
        let bad_member = api_name_problem(member);
        let bad_dest = !ssh_dest_ok(v);
        if bad_member.is_some() || bad_dest {
            errs.push(
                Diag::new(format!("invalid property {k}: {v:?}"))
                    .in_file(Path::new(from))
                    .at_key(k.clone())
                    .hint("write member-ssh.MEMBER: [USER@]HOST or an ssh config name"),
            );
            continue;
        }
        ssh.push((member.to_string(), v.clone()));
    }
    ssh.sort();
    Some(Cluster { target, ssh })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names() {
        assert_eq!(base_name(Path::new("a.yaml")), "a");
        assert_eq!(base_name(Path::new("dir/x.y.yaml")), "x.y");
        assert_eq!(base_name(Path::new("noext")), "noext");
    }

    fn fs(path: &str) -> Fs {
        Fs {
            id: path.into(),
            pattern: String::new(),
            path: path.into(),
            kind: FsKind::Zfs,
            host_dir: format!("/{path}"),
            zfsproperties: vec![],
            destroy: false,
            transient: false,
            file: PathBuf::new(),
            clone_from: None,
            origin_transient: false,
        }
    }

    /// Spec U3: roots of a/b, a/b/c, a/d are a/b and a/d.
    #[test]
    fn roots_skip_nested_filesystems() {
        let fss = vec![fs("a/b"), fs("a/b/c"), fs("a/d"), fs("a/bc")];
        let roots: Vec<String> = roots(&fss).iter().map(|f| f.path.clone()).collect();
        assert_eq!(roots, vec!["a/b", "a/d", "a/bc"]);
    }
}
