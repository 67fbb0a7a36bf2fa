//! Drift: where an instance has moved away from its config. Pure
//! comparison of a resolved [`Instance`] with what the server said (its
//! expanded `config show`, its instance profile, the image list, the
//! instance list) and what the host has (directories and their owners);
//! `cmd::diff` reads those and prints the [`Report`]s.
//!
//! Every difference names the config key it is about and the command that
//! brings the instance back in line. What could not be read is reported as
//! unchecked, never as in sync.

use crate::plan::backend::Backend;
use crate::resolve::{FsKind, Instance, SourceMode};
use crate::runtime::quote::quote;
use serde::Serialize;

/// What the server and the host answered for one instance; `Err` holds
/// why an answer is missing.
pub struct Observed<'a> {
    /// `name,STATUS,launch mark` lines of the project's instances.
    pub instances: Result<&'a [u8], String>,
    /// The instance's `config show --expanded`.
    pub expanded: Result<&'a [u8], String>,
    /// The instance profile's `profile show`.
    pub profile: Result<&'a [u8], String>,
    /// `image list --format json`.
    pub images: Result<&'a [u8], String>,
    /// `uid:gid` of a host directory, `None` when it does not exist.
    pub owner_of: &'a dyn Fn(&str) -> Option<String>,
}

/// `+` the config has it and the server or host does not, `-` the other
/// way round, `~` both have it but it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Sign {
    #[serde(rename = "+")]
    Missing,
    #[serde(rename = "-")]
    Extra,
    #[serde(rename = "~")]
    Changed,
}

impl Sign {
    pub fn symbol(self) -> char {
        match self {
            Sign::Missing => '+',
            Sign::Extra => '-',
            Sign::Changed => '~',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub sign: Sign,
    /// The config key (`profiles`, `devices.home`, `filesystems.data` …).
    pub key: String,
    pub message: String,
    /// The command that fixes it.
    pub fix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub instance: String,
    pub config: String,
    pub differences: Vec<Difference>,
    /// What could not be compared, and why.
    pub unchecked: Vec<String>,
}

impl Report {
    pub fn in_sync(&self) -> bool {
        self.differences.is_empty() && self.unchecked.is_empty()
    }
}

/// `lxops COMMAND -n NAME CONFIG`, quoted.
fn lxops(command: &str, inst: &Instance) -> String {
    format!("lxops {command} -n {} {}", quote(&inst.name), quote(&inst.config_file.display().to_string()))
}

fn yaml(text: &[u8]) -> Result<serde_yaml::Value, String> {
    serde_yaml::from_slice(text).map_err(|e| format!("not YAML: {e}"))
}

fn text_of(v: Option<&serde_yaml::Value>) -> String {
    v.map(crate::cmd::instance::scalar).unwrap_or_default()
}

/// The `KEY=VALUE` config settings among `lxc-options` (`-c`, `--config`).
pub fn option_keys(options: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut it = options.iter();
    while let Some(o) = it.next() {
        let kv = match o.as_str() {
            "-c" | "--config" => it.next().map(String::as_str),
            _ => o.strip_prefix("--config=").or_else(|| o.strip_prefix("-c").filter(|r| r.contains('='))),
        };
        if let Some((k, v)) = kv.and_then(|kv| kv.split_once('=')) {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

/// Compares one instance with what was observed.
pub fn compare(inst: &Instance, backend: Backend, seen: &Observed) -> Report {
    let mut r = Report {
        instance: inst.name.clone(),
        config: inst.config_file.display().to_string(),
        differences: Vec::new(),
        unchecked: Vec::new(),
    };
    let mut diff = |sign, key: &str, message: String, fix: String| {
        r.differences.push(Difference { sign, key: key.to_string(), message, fix })
    };
    let name = &inst.name;
    let cli = backend.cli();
    let mut unchecked = Vec::new();

    // The instance, and what its expanded config says.
    let status = match &seen.instances {
        Ok(list) => String::from_utf8_lossy(list).split('\n').find_map(|l| {
            let mut fields = l.split(',');
            let (n, s) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
            (n == name).then(|| s.to_string())
        }),
        Err(e) => {
            unchecked.push(format!("instance: cannot list the instances: {e}"));
            None
        }
    };
    let exists = status.is_some();
    if seen.instances.is_ok() && !exists {
        diff(Sign::Missing, "instance", format!("{name} does not exist"), lxops("launch", inst));
    }
    if let Some(s) = &status
        && s != "RUNNING"
    {
        diff(
            Sign::Changed,
            "instance",
            format!("{name} is {}, not running", s.to_lowercase()),
            format!("{cli} start {name}"),
        );
    }
    let expanded = match (&seen.expanded, exists) {
        (Ok(t), true) => match yaml(t) {
            Ok(v) => Some(v),
            Err(e) => {
                unchecked.push(format!("{name}'s config: {e}"));
                None
            }
        },
        (Err(e), true) => {
            unchecked.push(format!("{name}'s config: {e}"));
            None
        }
        _ => None,
    };
    if let Some(v) = &expanded {
        let config = v.get("config");
        let key = |k: &str| text_of(config.and_then(|c| c.get(k)));

        // A launch that stopped halfway.
        if key(crate::plan::lifecycle::LAUNCH_MARK) == crate::plan::lifecycle::LAUNCH_INCOMPLETE {
            diff(
                Sign::Changed,
                "instance",
                format!("the launch of {name} stopped halfway"),
                lxops("launch", inst),
            );
        }

        // The image it was created from.
        if inst.origin.is_none() && !inst.image.is_empty() {
            let base = key("volatile.base_image");
            match &seen.images {
                _ if inst.image.contains(':') => unchecked
                    .push(format!("image: {} is on a remote; only local images are compared", inst.image)),
                Err(e) => unchecked.push(format!("image: cannot list the images: {e}")),
                Ok(list) => match image_fingerprint(list, &inst.image) {
                    Err(e) => unchecked.push(format!("image: {e}")),
                    Ok(None) => unchecked.push(format!("image: the server has no image {}", inst.image)),
                    Ok(Some(_)) if base.is_empty() => {
                        unchecked.push(format!("image: {name} records no base image"))
                    }
                    Ok(Some(fp)) if fp != base => diff(
                        Sign::Changed,
                        "image",
                        format!(
                            "{name} was created from image {}, but {} is now {}",
                            short(&base),
                            inst.image,
                            short(&fp)
                        ),
                        lxops("rebuild", inst),
                    ),
                    Ok(Some(_)) => {}
                },
            }
        }

        // Profiles and their order (what launch gives: the config's, or default).
        let actual: Vec<String> = v
            .get("profiles")
            .and_then(|p| p.as_sequence())
            .map(|s| s.iter().map(crate::cmd::instance::scalar).collect())
            .unwrap_or_default();
        let expected = crate::plan::lifecycle::launch_profiles(inst);
        if actual != expected {
            let fix = if inst.profiles.is_empty() {
                format!("{cli} profile assign {name} {}", expected.join(","))
            } else {
                lxops("profile apply", inst)
            };
            let mut any = false;
            for p in expected.iter().filter(|p| !actual.contains(p)) {
                diff(Sign::Missing, "profiles", format!("{name} does not have profile {p}"), fix.clone());
                any = true;
            }
            for p in actual.iter().filter(|p| !expected.contains(p)) {
                diff(
                    Sign::Extra,
                    "profiles",
                    format!("{name} has profile {p}, which the config does not list"),
                    fix.clone(),
                );
                any = true;
            }
            if !any {
                let fix = if inst.profiles.is_empty() { fix } else { lxops("profile reorder", inst) };
                diff(
                    Sign::Changed,
                    "profiles",
                    format!(
                        "{name} has its profiles in the order {}; the config's is {}",
                        actual.join(", "),
                        expected.join(", ")
                    ),
                    fix,
                );
            }
        }

        // Config keys that lxc-options set.
        for (k, want) in option_keys(&inst.lxc_options) {
            let have = key(&k);
            if have != want {
                diff(
                    Sign::Changed,
                    "lxc-options",
                    format!("{name} has {k}={have:?}; lxc-options sets {want:?}"),
                    format!("{cli} config set {name} {}", quote(&format!("{k}={want}"))),
                );
            }
        }

        // MAC addresses: each NIC's is recorded, so a rebuild can keep it.
        if let Some(devices) = v.get("devices").and_then(|d| d.as_mapping()) {
            for (nic, d) in devices {
                if text_of(d.get("type")) != "nic" {
                    continue;
                }
                let nic = crate::cmd::instance::scalar(nic);
                if key(&format!("volatile.{nic}.hwaddr")).is_empty() {
                    diff(
                        Sign::Missing,
                        "hwaddr",
                        format!(
                            "{name} has no MAC address recorded for {nic} (the server records one when it starts): a rebuild cannot keep its address"
                        ),
                        format!("{cli} start {name}"),
                    );
                }
            }
        }
    }

    // Filesystems and device directories on the host, with their owner
    // (before the profile's devices: a device needs its directory first).
    let cloned = matches!(inst.device_source.as_ref().map(|s| &s.mode), Some(SourceMode::Clone { .. }));
    for fs in &inst.filesystems {
        let key = format!("filesystems.{}", fs.id);
        match (seen.owner_of)(&fs.host_dir) {
            None => diff(
                Sign::Missing,
                &key,
                format!(
                    "{} {} does not exist",
                    if fs.kind == FsKind::Zfs { "filesystem" } else { "directory" },
                    fs.host_dir
                ),
                lxops("create-devices", inst),
            ),
            Some(have) => {
                if let Some(want) = &inst.owner
                    && !cloned
                    && !fs.origin_transient
                    && &have != want
                {
                    diff(
                        Sign::Changed,
                        &key,
                        format!("{} belongs to {have}; device-owner is {want}", fs.host_dir),
                        format!("chown {want} {}", quote(&fs.host_dir)),
                    );
                }
            }
        }
    }
    for d in inst.devices.iter().filter(|d| d.filesystem.is_some()) {
        let key = format!("devices.{}", d.key);
        match (seen.owner_of)(&d.source) {
            None => diff(
                Sign::Missing,
                &key,
                format!("device directory {} does not exist", d.source),
                lxops("create-devices", inst),
            ),
            Some(have) => {
                if let Some(want) = &inst.owner
                    && d.template.is_none()
                    && !cloned
                    && &have != want
                {
                    diff(
                        Sign::Changed,
                        &key,
                        format!("{} belongs to {have}; device-owner is {want}", d.source),
                        format!("chown {want} {}", quote(&d.source)),
                    );
                }
            }
        }
    }
    // The instance profile's devices.
    match &seen.profile {
        Err(_) if seen.instances.is_err() => {}
        Err(_) => diff(
            Sign::Missing,
            "profile-pattern",
            format!("profile {} does not exist", inst.profile),
            lxops("create-profile", inst),
        ),
        Ok(t) => match yaml(t) {
            Err(e) => unchecked.push(format!("profile {}: {e}", inst.profile)),
            Ok(p) => {
                let fix = lxops("create-profile", inst);
                let devices = p.get("devices").and_then(|d| d.as_mapping()).cloned().unwrap_or_default();
                for d in &inst.devices {
                    let key = format!("devices.{}", d.key);
                    let Some(have) = devices.get(d.key.as_str()) else {
                        diff(
                            Sign::Missing,
                            &key,
                            format!("profile {} has no device {}", inst.profile, d.key),
                            fix.clone(),
                        );
                        continue;
                    };
                    let field = |k: &str| text_of(have.get(k));
                    let ro = matches!(field("readonly").as_str(), "true" | "1" | "yes" | "on");
                    for (what, has, want) in [
                        ("path", field("path"), d.path.clone()),
                        ("source", field("source"), d.source.clone()),
                        ("readonly", ro.to_string(), d.readonly.to_string()),
                        ("type", field("type"), "disk".to_string()),
                    ] {
                        if has != want {
                            diff(
                                Sign::Changed,
                                &key,
                                format!(
                                    "profile {}'s device {} has {what} {has:?}; the config says {want:?}",
                                    inst.profile, d.key
                                ),
                                fix.clone(),
                            );
                        }
                    }
                }
                for (k, _) in &devices {
                    let k = crate::cmd::instance::scalar(k);
                    if !inst.devices.iter().any(|d| d.key == k) {
                        diff(
                            Sign::Extra,
                            &format!("devices.{k}"),
                            format!(
                                "profile {} has device {k}, which the config does not have",
                                inst.profile
                            ),
                            fix.clone(),
                        );
                    }
                }
            }
        },
    }

    r.unchecked = unchecked;
    r
}

/// The first 12 characters of a fingerprint.
fn short(fp: &str) -> String {
    fp.chars().take(12).collect()
}

/// The fingerprint of the local image that `image` names (an alias, or a
/// fingerprint or its prefix), from `image list --format json`.
pub fn image_fingerprint(list: &[u8], image: &str) -> Result<Option<String>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(list).map_err(|e| format!("the image list is not JSON: {e}"))?;
    let images = v.as_array().cloned().unwrap_or_default();
    let fp = |i: &serde_json::Value| i["fingerprint"].as_str().unwrap_or_default().to_string();
    if let Some(i) = images.iter().find(|i| {
        i["aliases"].as_array().is_some_and(|a| a.iter().any(|x| x["name"].as_str() == Some(image)))
    }) {
        return Ok(Some(fp(i)));
    }
    let by_prefix: Vec<String> =
        images.iter().map(fp).filter(|f| image.len() >= 12 && f.starts_with(image)).collect();
    Ok(if by_prefix.len() == 1 { by_prefix.into_iter().next() } else { None })
}

#[cfg(test)]
mod tests;
