//! Plan commands: compile, then list, print JSON, render a script, or execute.
//!
//! Every CONFIG is resolved first and every compile-time problem of every
//! config is reported together (exit 2) before any output. The same plan
//! feeds all renderings and `--execute`.

use crate::cli::{Format, GlobalArgs, PlanCmd};
use crate::diag::{ConfigError, Diag};
use crate::load::Loader;
use crate::plan::rebuild::{self, RebuildOptions};
use crate::plan::{Builder, Settings, lifecycle};
use crate::render;
use crate::resolve::{self, Options};
use crate::runtime;
use crate::runtime::quote::quote;
use std::io::Write;

/// The command line as typed, quoted, for headers and hints.
fn command_line() -> Vec<String> {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.first_mut() {
        *first = "lxops".to_string();
    }
    args
}

pub fn run(g: &GlobalArgs, c: PlanCmd, script: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if c.is_query() {
        if script {
            return Err(ConfigError::one(
                Diag::new(format!(
                    "lxops {} reads and prints; it has no plan, so there is no script",
                    c.name()
                ))
                .hint(format!("run lxops {} directly", c.name())),
            )
            .into());
        }
        return match c {
            PlanCmd::Image(i) => super::image::run(g, &i, out),
            PlanCmd::Instance(i) => super::instance::run(g, &i, out),
            PlanCmd::Diff(q) => super::diff::run(g, &q, out),
            _ => super::profile::run(g, &c, out),
        };
    }
    let run = c.run_args().clone();
    if script && (run.execute || run.format != Format::Text || run.from.is_some() || run.yes) {
        return Err(ConfigError::one(
            Diag::new("lxops script prints a script; --execute, --format, --from and --yes do not apply")
                .hint("run the script with bash (it takes --from and --yes), or use the command without `script`"),
        )
        .into());
    }
    for (set, flag) in [(run.from.is_some(), "--from"), (run.yes, "--yes")] {
        if set && !run.execute {
            return Err(
                ConfigError::one(Diag::new(format!("{flag} goes with --execute")).at_key(flag)).into()
            );
        }
    }
    // Never freed: the process ends after the command, and freeing a
    // fleet's plan one string at a time took a fifth of the run.
    let plan = std::mem::ManuallyDrop::new(compile(g, &c)?);
    let argv = command_line();
    if script {
        let line = argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
        let opts = runtime::execute::RunOpts {
            jobs: run.jobs.map(usize::from).unwrap_or(1),
            fail_fast: run.fail_fast,
        };
        out.write_all(runtime::script::render_with(&plan, &line, opts).as_bytes())?;
        return Ok(());
    }
    if run.execute {
        let from = match &run.from {
            None => None,
            Some(f) => Some(plan.parse_resume(f).map_err(|e| {
                ConfigError::one(
                    Diag::new(format!("cannot resume at {}: {e}", crate::runtime::text::text(f)))
                        .at_key("--from")
                        .hint("run the whole command again, or resume at a step the listing shows"),
                )
            })?),
        };
        confirm(&plan, run.yes)?;
        let destructive = !plan.destructive_steps().is_empty();
        let resume = |label: &str| {
            let mut words: Vec<String> = Vec::new();
            let mut skip = false;
            for a in &argv {
                if skip {
                    skip = false;
                } else if a == "--from" {
                    skip = true;
                } else if !a.starts_with("--from=") {
                    words.push(quote(a));
                }
            }
            words.push(format!("--from {}", quote(label)));
            if destructive && !argv.iter().any(|a| a == "--yes") {
                words.push("--yes".into());
            }
            words.join(" ")
        };
        let opts = runtime::execute::RunOpts {
            jobs: run.jobs.map(usize::from).unwrap_or(1),
            fail_fast: run.fail_fast,
        };
        if let Err(e) = runtime::execute::execute(&plan, from, &resume, opts) {
            // Interrupted: exit as the script does, 128 + the signal's number.
            if let Some(n) = runtime::signals::interrupted() {
                return Err(crate::diag::Outcome((128 + n) as u8).into());
            }
            return Err(e.into());
        }
        return Ok(());
    }
    match run.format {
        Format::Json => out.write_all(render::json::render(&plan).as_bytes())?,
        Format::Text => {
            let q: Vec<String> = argv.iter().map(|a| quote(a)).collect();
            let run_hint = format!("{} --execute", q.join(" "));
            let script_hint = format!("lxops script {} > run.sh", q[1..].join(" "));
            out.write_all(render::listing::render(&plan, &run_hint, &script_hint).as_bytes())?;
        }
    }
    Ok(())
}

/// Destructive steps run only when confirmed: `--yes`, or `yes` typed at a
/// terminal (the question the script asks too). Off a terminal without
/// `--yes` it is a usage error: nothing runs.
fn confirm(plan: &crate::plan::model::Plan, yes: bool) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if yes || plan.destructive_steps().is_empty() {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(ConfigError::one(Diag::new(runtime::script::needs_yes(plan)).at_key("--yes")).into());
    }
    eprint!("{}", runtime::script::question(plan));
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if answer.trim_end_matches('\n') != "yes" {
        eprintln!("cancelled; nothing was changed");
        return Err(runtime::RunError::reported().into());
    }
    Ok(())
}

/// Resolves every CONFIG and builds one plan.
pub fn compile(g: &GlobalArgs, c: &PlanCmd) -> Result<crate::plan::model::Plan, ConfigError> {
    if let PlanCmd::Cloudconfig(a) = c {
        return cloudconfig(g, a);
    }
    if let PlanCmd::Publish(a) = c {
        return publish(g, a);
    }
    if let PlanCmd::Profile(crate::cli::ProfileCmd::Export(a)) = c {
        return profile_export(g, a);
    }
    if let PlanCmd::Profile(crate::cli::ProfileCmd::Import(a)) = c {
        return profile_import(g, a);
    }
    if let PlanCmd::Instance(crate::cli::InstanceCmd::Wait(a)) = c {
        return instance_wait(g, a);
    }
    let files = crate::config_paths(g, c.configs())?;
    if files.is_empty() {
        return Err(Diag::new("no CONFIG given").hint("name one or more lxops config files").into());
    }
    let props = super::properties(g)?;
    let sources = matches!(c, PlanCmd::Launch(_) | PlanCmd::CreateDevices(_) | PlanCmd::Rebuild(_));
    let opts =
        Options { name: g.name.clone(), project: g.project.clone(), sources, target: g.target.clone() };
    // copy-filesystems names its instances with --instance and --from-instance.
    let opts = match c {
        PlanCmd::CopyFilesystems(a) => Options { name: Some(a.instance.clone()), ..opts },
        _ => opts,
    };
    if let PlanCmd::Snapshot(a) = c {
        let o = crate::plan::data::SnapshotOptions {
            name: a.snapshot.as_deref(),
            instance: a.instance,
            destroy: a.destroy,
            recursive: a.recursive,
        };
        let problems = crate::plan::data::snapshot_option_problems(&o);
        if !problems.is_empty() {
            return Err(ConfigError(problems));
        }
    }
    let settings = Settings {
        backend: super::backend(g),
        wait_network: match c {
            PlanCmd::Launch(a) | PlanCmd::Configure(a) if !a.wait.no_wait_network => {
                Some(a.wait.wait_network)
            }
            PlanCmd::Rebuild(a) if !a.wait.no_wait_network => Some(a.wait.wait_network),
            _ => None,
        },
        force: matches!(c, PlanCmd::Delete(a) | PlanCmd::Destroy(a) if a.force),
    };
    let mut b = Builder::new(c.name(), settings);
    let mut loader = Loader::new();
    let mut errs: Vec<Diag> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut claims: Vec<Claim> = Vec::new();
    for f in files {
        let inst = match resolve::instance(&mut loader, &f, &props, &opts) {
            Ok(i) => i,
            Err(e) => {
                errs.extend(e.0);
                continue;
            }
        };
        if seen.contains(&inst.name) {
            errs.push(
                Diag::new(format!("instance {} is named twice", inst.name))
                    .in_file(&f)
                    .hint("each CONFIG must give a different instance"),
            );
            continue;
        }
        seen.insert(inst.name.clone());
        for fs in &inst.filesystems {
            claims.push(Claim {
                instance: inst.name.clone(),
                path: fs.host_dir.clone(),
                key: format!("filesystems.{}", fs.id),
                file: fs.file.clone(),
            });
        }
        for d in inst.devices.iter().filter(|d| d.filesystem.is_some()) {
            claims.push(Claim {
                instance: inst.name.clone(),
                path: d.source.clone(),
                key: format!("devices.{}", d.key),
                file: d.file.clone(),
            });
        }
        b.instance(&inst, &loader);
        if inst.cluster.is_some() || inst.host_ssh.is_some() {
            use crate::plan::cluster::enter;
            match c {
                PlanCmd::Launch(_) => enter(&mut b, &inst, false),
                PlanCmd::Rebuild(_)
                | PlanCmd::Delete(_)
                | PlanCmd::Destroy(_)
                | PlanCmd::Snapshot(_)
                | PlanCmd::Rollback(_)
                | PlanCmd::Rename(_)
                | PlanCmd::CreateDevices(_) => enter(&mut b, &inst, true),
                // Server-side only: the cluster forwards them.
                PlanCmd::Configure(_) | PlanCmd::CreateProfile(_) | PlanCmd::Profile(_) => {}
                _ => {
                    let d = match &inst.cluster {
                        Some(_) => {
                            Diag::new(format!("lxops {} does not act on cluster instances yet", c.name()))
                                .in_file(inst.merged.origins.field("target", &inst.config_file))
                                .at_key("target")
                        }
                        None => Diag::new(format!("lxops {} does not act through host-ssh yet", c.name()))
                            .in_file(&inst.config_file)
                            .at_key("host-ssh"),
                    };
                    errs.push(d.hint("on a cluster or through host-ssh: launch, rebuild, configure, rename, delete, destroy, snapshot, rollback, create-devices, create-profile and profile apply/reorder"));
                    continue;
                }
            }
        }
        match c {
            PlanCmd::Launch(_) => lifecycle::launch(&mut b, &inst, &mut errs),
            PlanCmd::Configure(_) => lifecycle::configure(&mut b, &inst, &mut errs),
            PlanCmd::Rebuild(a) => {
                let o = RebuildOptions {
                    skip_profiles: a.skip_profiles,
                    skip_ip: a.skip_ip,
                    no_snapshot: a.no_snapshot,
                    native: a.native,
                };
                rebuild::rebuild(&mut b, &inst, &o, &mut errs)
            }
            PlanCmd::Rename(a) => {
                if let Some(p) = resolve::instance_name_problem(&a.new_name) {
                    errs.push(
                        Diag::new(format!("invalid new name {:?}: {p}", a.new_name))
                            .at_key("NEWNAME")
                            .hint("instance names are letters, digits and hyphens, at most 63, starting with a letter"),
                    );
                    continue;
                }
                let new_opts = Options { name: Some(a.new_name.clone()), ..opts.clone() };
                match resolve::instance(&mut loader, &f, &props, &new_opts) {
                    Ok(new) => crate::plan::rename::rename(&mut b, &inst, &new, &mut errs),
                    Err(e) => errs.extend(e.0),
                }
            }
            PlanCmd::Cloudconfig(_) | PlanCmd::Publish(_) => unreachable!("handled above"),
            PlanCmd::Extract(_) => crate::plan::images::extract(&mut b, &inst, &mut errs),
            PlanCmd::Delete(_) => lifecycle::remove(&mut b, &inst, false, &mut errs),
            PlanCmd::Destroy(_) => lifecycle::remove(&mut b, &inst, true, &mut errs),
            PlanCmd::CreateDevices(_) => lifecycle::create_devices(&mut b, &inst),
            PlanCmd::CreateProfile(_) => {
                b.program(b.backend().cli());
                lifecycle::create_or_update_profile(&mut b, &inst)
            }
            PlanCmd::Profile(crate::cli::ProfileCmd::Apply(_)) => crate::plan::profiles::apply(&mut b, &inst),
            PlanCmd::Profile(crate::cli::ProfileCmd::Reorder(_)) => {
                crate::plan::profiles::reorder(&mut b, &inst)
            }
            PlanCmd::Profile(_) | PlanCmd::Image(_) | PlanCmd::Instance(_) | PlanCmd::Diff(_) => {
                unreachable!("queries and the commands without configs are handled above")
            }
            PlanCmd::Snapshot(a) => {
                let o = crate::plan::data::SnapshotOptions {
                    name: a.snapshot.as_deref(),
                    instance: a.instance,
                    destroy: a.destroy,
                    recursive: a.recursive,
                };
                crate::plan::data::snapshot(&mut b, &inst, &o)
            }
            PlanCmd::Rollback(a) => {
                let o = crate::plan::data::RollbackOptions {
                    name: &a.snapshot,
                    instance: a.instance,
                    force: a.force,
                };
                crate::plan::data::rollback(&mut b, &inst, &o, &mut errs)
            }
            PlanCmd::Export(a) => {
                let dir = crate::paths::absolute(&a.dir).display().to_string();
                let o = crate::plan::data::ExportOptions {
                    dir: &dir,
                    snapshot: a.snapshot.as_deref(),
                    image: a.image,
                    force: a.force,
                };
                crate::plan::data::export(&mut b, &inst, &o, &mut errs)
            }
            PlanCmd::Import(a) => {
                let dir = crate::paths::absolute(&a.dir).display().to_string();
                let o = crate::plan::data::ImportOptions { dir: &dir, image: a.image, force: a.force };
                crate::plan::data::import(&mut b, &inst, &o)
            }
            PlanCmd::CopyFilesystems(a) => {
                let from_name = a.from_instance.clone().unwrap_or_else(|| a.instance.clone());
                let from_opts = Options { name: Some(from_name), ..opts.clone() };
                match resolve::instance(&mut loader, &f, &props, &from_opts) {
                    Ok(from) => {
                        let o = crate::plan::data::CopyOptions {
                            from_instance: &from,
                            from_host: a.from_host.as_deref(),
                            to_host: a.to_host.as_deref(),
                            snapshot: a.snapshot.as_deref(),
                            force: a.force,
                        };
                        crate::plan::data::copy_filesystems(&mut b, &inst, &o, &mut errs)
                    }
                    Err(e) => errs.extend(e.0),
                }
            }
        }
    }
    errs.extend(shared_directories(claims));
    if !errs.is_empty() {
        return Err(ConfigError(errs));
    }
    Ok(b.finish())
}

/// A host directory an instance's filesystem or device directory holds.
struct Claim {
    instance: String,
    path: String,
    key: String,
    file: std::path::PathBuf,
}

/// Two instances of one plan whose filesystems or device directories are
/// the same directory, or one inside the other: they would write each
/// other's data (and, run at once, race). Sorted by path components, a
/// directory's ancestors are the claims on the stack before it.
fn shared_directories(mut claims: Vec<Claim>) -> Vec<Diag> {
    // By components, so that a directory's descendants follow it at once
    // (`/a/x` before `/a-b`).
    claims.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')).then(a.instance.cmp(&b.instance)));
    let mut errs = Vec::new();
    let mut reported = std::collections::HashSet::new();
    let mut stack: Vec<&Claim> = Vec::new();
    for c in &claims {
        while let Some(top) = stack.last() {
            if c.path == top.path || crate::paths::is_within(&c.path, &top.path) {
                break;
            }
            stack.pop();
        }
        if let Some(other) = stack.iter().find(|o| o.instance != c.instance)
            && reported.insert((other.instance.clone(), c.instance.clone()))
        {
            errs.push(
                Diag::new(format!(
                    "instances {} and {} share a directory: {} ({}) and {} ({})",
                    other.instance,
                    c.instance,
                    other.path,
                    other.key,
                    c.path,
                    c.key
                ))
                .in_file(&c.file)
                .at_key(c.key.clone())
                .hint("give each instance directories of its own, e.g. with (instance) in the filesystem pattern"),
            );
        }
        stack.push(c);
    }
    errs
}

/// `lxops cloudconfig`: ad-hoc files for one instance, no lxops config.
fn cloudconfig(
    g: &GlobalArgs,
    a: &crate::cli::CloudconfigArgs,
) -> Result<crate::plan::model::Plan, ConfigError> {
    let os = match &a.ostype {
        None => None,
        Some(o) => Some(crate::cloudconfig::ostype::find(o).ok_or_else(|| {
            ConfigError::one(
                Diag::new(format!("unsupported ostype {o:?}"))
                    .at_key("--ostype")
                    .hint(format!("use one of: {}", crate::cloudconfig::ostype::names().join(", "))),
            )
        })?),
    };
    if let Some(p) = resolve::instance_name_problem(&a.instance) {
        return Err(Diag::new(format!("invalid instance name {:?}: {p}", a.instance))
            .at_key("--instance")
            .into());
    }
    let settings = Settings { backend: super::backend(g), wait_network: None, force: false };
    let project = g.project.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into());
    let mut b = Builder::new("cloudconfig", settings);
    b.unit(&a.instance);
    for f in &a.files {
        b.input(f);
    }
    b.program(b.backend().cli());
    lifecycle::require_running(&mut b, &a.instance, &project);
    let t = crate::guest::Target { name: &a.instance, project: &project };
    crate::guest::apply(&mut b, &t, os, &a.files)?;
    Ok(b.finish())
}

/// `lxops publish`: the instance and snapshot from the arguments, the
/// image's alias and properties from the flags, then the config (with
/// `-c`), then the original's defaults (spec §5.26).
fn publish(g: &GlobalArgs, a: &crate::cli::PublishArgs) -> Result<crate::plan::model::Plan, ConfigError> {
    use crate::plan::images::{self, PublishOptions};
    let mut errs: Vec<Diag> = Vec::new();
    let config = match &a.config {
        None => None,
        Some(f) => {
            let f = crate::config_path(f)?;
            let props = super::properties(g)?;
            let opts = Options {
                name: g.name.clone(),
                project: g.project.clone(),
                sources: false,
                target: g.target.clone(),
            };
            Some(resolve::instance(&mut Loader::new(), &f, &props, &opts)?)
        }
    };
    let (instance, snapshot) = match (&a.instance, &a.snapshot) {
        (Some(i), second) => match (i.split_once('/'), second) {
            (Some((name, _)), Some(s)) => {
                errs.push(
                    Diag::new(format!("the snapshot is named twice: {i} and {s}"))
                        .at_key("SNAPSHOT")
                        .hint("write INSTANCE/SNAPSHOT or INSTANCE SNAPSHOT"),
                );
                (name.to_string(), None)
            }
            (Some((i, s)), None) => (i.to_string(), Some(s.to_string())),
            (None, s) => (i.clone(), s.clone()),
        },
        (None, _) => match &config {
            Some(inst) => (inst.name.clone(), None),
            None => {
                return Err(Diag::new("need an instance name or a config file (-c)")
                    .at_key("INSTANCE")
                    .hint("lxops publish INSTANCE[/SNAPSHOT], or lxops publish -c CONFIG")
                    .into());
            }
        },
    };
    if let Some(p) = resolve::instance_name_problem(&instance) {
        errs.push(Diag::new(format!("invalid instance name {instance:?}: {p}")).at_key("INSTANCE"));
    }
    if let Some(s) = &snapshot
        && let Some(p) = crate::plan::data::snapshot_name_problem(s)
    {
        errs.push(Diag::new(format!("invalid snapshot name {s:?}: {p}")).at_key("SNAPSHOT"));
    }
    let from_config = |f: &dyn Fn(&resolve::Instance) -> String| config.as_ref().map(f).unwrap_or_default();
    let or = |given: &Option<String>, default: String| given.clone().unwrap_or(default);
    let os = or(&a.os, from_config(&|i| i.ostype.clone()));
    let variant = or(
        &a.variant,
        match &config {
            Some(i) => i.config_file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default(),
            None => instance.clone(),
        },
    );
    let version = a
        .serial
        .clone()
        .or_else(|| a.release.clone())
        .unwrap_or_else(|| images::version_in(&instance).unwrap_or_default().to_string());
    let alias = match (&a.alias, &config) {
        (Some(x), _) => x.clone(),
        (None, Some(_)) => {
            let parts: Vec<&str> = [os.as_str(), variant.as_str(), version.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            if parts.is_empty() { instance.clone() } else { parts.join("-") }
        }
        (None, None) => instance.clone(),
    };
    if let Some(p) = images::alias_problem(&alias) {
        errs.push(
            Diag::new(format!("invalid image alias {alias:?}: {p}"))
                .at_key("--alias")
                .hint("set one with --alias"),
        );
    }
    let description = or(
        &a.description,
        from_config(&|i| i.merged.config.description.lines().next().unwrap_or("").to_string()),
    );
    let fields = [
        ("architecture", or(&a.architecture, images::host_architecture().to_string())),
        ("description", description),
        ("name", or(&a.image_name, instance.clone())),
        ("os", os.clone()),
        ("release", or(&a.release, version.clone())),
        ("serial", or(&a.serial, version.clone())),
        ("variant", variant.clone()),
    ];
    let properties: Vec<(String, String)> =
        fields.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v)).collect();
    let mut options = Vec::new();
    if let Some(c) = &a.compression {
        if c.is_empty()
            || c.starts_with('-')
            || !c.chars().all(|x| x.is_ascii_alphanumeric() || "_.+-".contains(x))
        {
            errs.push(
                Diag::new(format!("invalid compression {c:?}"))
                    .at_key("--compression")
                    .hint("name an algorithm the server knows, e.g. gzip, xz, zstd or none"),
            );
        }
        options.extend(["--compression".to_string(), c.clone()]);
    }
    if let Some(f) = &a.image_format {
        if f != "unified" && f != "split" {
            errs.push(
                Diag::new(format!("invalid image format {f:?}"))
                    .at_key("--image-format")
                    .hint("use unified or split"),
            );
        }
        if super::backend(g) == crate::plan::backend::Backend::Lxd {
            errs.push(
                Diag::new("LXD's publish has no --format (its images are unified)")
                    .at_key("--image-format")
                    .hint("leave out --image-format with --backend lxd"),
            );
        }
        options.extend(["--format".to_string(), f.clone()]);
    }
    if !errs.is_empty() {
        return Err(ConfigError(errs));
    }
    let project = match &config {
        Some(i) => i.project.clone(),
        None => g.project.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into()),
    };
    let settings = Settings { backend: super::backend(g), wait_network: None, force: false };
    let mut b = Builder::new("publish", settings);
    if let Some(f) = &a.config {
        b.input(f);
    }
    let o = PublishOptions { project, instance, snapshot, alias, reuse: a.reuse, options, properties };
    images::publish(&mut b, &o);
    Ok(b.finish())
}

/// The project of commands that take no config: `--project`, else `default`.
fn project_of(g: &GlobalArgs) -> String {
    g.project.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into())
}

fn plain_settings(g: &GlobalArgs) -> Settings {
    Settings { backend: super::backend(g), wait_network: None, force: false }
}

/// `lxops profile export`.
fn profile_export(
    g: &GlobalArgs,
    a: &crate::cli::ProfileExportArgs,
) -> Result<crate::plan::model::Plan, ConfigError> {
    let mut errs = Vec::new();
    for n in &a.profiles {
        if let Some(p) = resolve::api_name_problem(n) {
            errs.push(Diag::new(format!("invalid profile name {n:?}: {p}")).at_key("PROFILE"));
        }
    }
    if !errs.is_empty() {
        return Err(ConfigError(errs));
    }
    let dir = crate::paths::absolute(&a.dir).display().to_string();
    let mut b = Builder::new("profile export", plain_settings(g));
    crate::plan::profiles::export(&mut b, &project_of(g), &dir, &a.profiles);
    Ok(b.finish())
}

/// `lxops profile import`: every file is read and checked now; the plan
/// carries its content.
fn profile_import(
    g: &GlobalArgs,
    a: &crate::cli::ProfileImportArgs,
) -> Result<crate::plan::model::Plan, ConfigError> {
    let mut errs = Vec::new();
    let mut files = Vec::new();
    for f in &a.files {
        let base = f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let name =
            base.strip_suffix(".yaml").or_else(|| base.strip_suffix(".yml")).unwrap_or(&base).to_string();
        if let Some(p) = resolve::api_name_problem(&name) {
            errs.push(
                Diag::new(format!("invalid profile name {name:?} (the file's base name): {p}"))
                    .in_file(f)
                    .hint("name the file after the profile (NAME, NAME.yaml or NAME.yml)"),
            );
            continue;
        }
        let text = match crate::input::read_text(f) {
            Ok(t) => t,
            Err(e) => {
                errs.push(Diag::new(format!("cannot read it: {e}")).in_file(f));
                continue;
            }
        };
        if text.contains('\0') {
            errs.push(Diag::new("it contains a NUL byte").in_file(f));
            continue;
        }
        if let Some(p) = crate::plan::profiles::profile_file_problem(&text) {
            errs.push(
                Diag::new(format!("not a profile: {p}"))
                    .in_file(f)
                    .hint("write it as `profile show` prints one (lxops profile export does)"),
            );
            continue;
        }
        if files.iter().any(|(n, _, _): &(String, String, String)| *n == name) {
            errs.push(Diag::new(format!("profile {name} is named twice")).in_file(f));
            continue;
        }
        files.push((name, f.display().to_string(), text));
    }
    if !errs.is_empty() {
        return Err(ConfigError(errs));
    }
    let mut b = Builder::new("profile import", plain_settings(g));
    for f in &a.files {
        b.input(f);
    }
    crate::plan::profiles::import(&mut b, &project_of(g), &files);
    Ok(b.finish())
}

/// `lxops instance wait`: a network wait per instance, each in its unit.
fn instance_wait(
    g: &GlobalArgs,
    a: &crate::cli::InstanceWaitArgs,
) -> Result<crate::plan::model::Plan, ConfigError> {
    let mut errs = Vec::new();
    for n in &a.instances {
        if let Some(p) = resolve::instance_name_problem(n) {
            errs.push(Diag::new(format!("invalid instance name {n:?}: {p}")).at_key("INSTANCE"));
        }
    }
    if !errs.is_empty() {
        return Err(ConfigError(errs));
    }
    let project = project_of(g);
    let mut b = Builder::new("instance wait", plain_settings(g));
    b.program(b.backend().cli());
    for n in &a.instances {
        b.group(n);
        lifecycle::require_running(&mut b, n, &project);
        lifecycle::wait_network_of(&mut b, n, &project, a.wait_network);
    }
    Ok(b.finish())
}
