//! Parsing cloud-config files into typed modules.
//!
//! A file must start with the exact line `#cloud-config`. Supported modules:
//! `write_files`, `packages`, `users`, `timezone`, `runcmd`; any other
//! top-level key is reported as a warning naming the file and the module.
//! This module only parses and checks shapes; it does not know ostypes.

use crate::config::parse_yaml11_bool;
use crate::diag::{ConfigError, Diag, closest};
use serde::{Deserialize, Deserializer};
use std::path::Path;

pub const HEADER: &str = "#cloud-config";
const MODULES: &[&str] = &["write_files", "packages", "users", "timezone", "runcmd"];
const FILE_KEYS: &[&str] = &["path", "content", "owner", "permissions", "append", "defer", "encoding"];
const USER_KEYS: &[&str] = &[
    "name",
    "uid",
    "gecos",
    "shell",
    "homedir",
    "no_create_home",
    "primary_group",
    "groups",
    "sudo",
    "ssh_authorized_keys",
    "lock_passwd",
    "hashed_passwd",
    "passwd",
];
/// Modules cloud-init has that lxops deliberately does not apply.
const IGNORED_KNOWN: &[&str] =
    &["package_update", "package_upgrade", "bootcmd", "apt", "ssh_pwauth", "hostname"];

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct CloudConfig {
    #[serde(default)]
    pub write_files: Vec<WriteFile>,
    #[serde(default)]
    pub packages: Vec<String>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub runcmd: Vec<RunCmd>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct WriteFile {
    pub path: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub permissions: Option<String>,
    #[serde(default, deserialize_with = "crate::config::yaml11_bool")]
    pub append: bool,
    #[serde(default, deserialize_with = "crate::config::yaml11_bool")]
    pub defer: bool,
    #[serde(default)]
    pub encoding: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct User {
    pub name: String,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub gecos: Option<String>,
    #[serde(default)]
    pub shell: Option<String>,
    #[serde(default)]
    pub homedir: Option<String>,
    #[serde(default, deserialize_with = "crate::config::yaml11_bool")]
    pub no_create_home: bool,
    #[serde(default)]
    pub primary_group: Option<String>,
    #[serde(default, deserialize_with = "groups")]
    pub groups: Vec<String>,
    #[serde(default)]
    pub sudo: Sudo,
    #[serde(default)]
    pub ssh_authorized_keys: Vec<String>,
    #[serde(default)]
    pub lock_passwd: Option<bool>,
    #[serde(default)]
    pub hashed_passwd: Option<String>,
    #[serde(default)]
    pub passwd: Option<String>,
}

/// `sudo`: absent/false (nothing), true (the default rule), a rule, or rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Sudo {
    #[default]
    None,
    Rules(Vec<String>),
}

impl<'de> Deserialize<'de> for Sudo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum S {
            Bool(bool),
            Str(String),
            List(Vec<String>),
            Null(()),
        }
        let s = S::deserialize(d).map_err(|_| {
            serde::de::Error::custom("sudo must be true, false, a sudoers rule or a list of rules")
        })?;
        Ok(match s {
            S::Bool(false) | S::Null(()) => Sudo::None,
            S::Bool(true) => Sudo::Rules(Vec::new()),
            S::Str(s) => match parse_yaml11_bool(&s) {
                Some(false) => Sudo::None,
                _ => Sudo::Rules(vec![s]),
            },
            S::List(l) => Sudo::Rules(l),
        })
    }
}

/// `groups` as a comma-separated string or a YAML list.
fn groups<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum G {
        Str(String),
        List(Vec<String>),
    }
    let g = G::deserialize(d)
        .map_err(|_| serde::de::Error::custom("groups must be a comma-separated string or a list"))?;
    let items = match g {
        G::Str(s) => s.split(',').map(|x| x.trim().to_string()).collect::<Vec<_>>(),
        G::List(l) => l.into_iter().map(|x| x.trim().to_string()).collect(),
    };
    Ok(items.into_iter().filter(|x| !x.is_empty()).collect())
}

/// A `runcmd` entry: a shell script (string) or an argv (list).
#[derive(Debug, Clone, PartialEq)]
pub enum RunCmd {
    Script(String),
    Argv(Vec<String>),
}

impl<'de> Deserialize<'de> for RunCmd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum R {
            Str(String),
            List(Vec<Scalar>),
        }
        match R::deserialize(d).map_err(|_| {
            serde::de::Error::custom("a runcmd entry is a string (a script) or a list (an argv)")
        })? {
            R::Str(s) => Ok(RunCmd::Script(s)),
            R::List(l) if l.is_empty() => Err(serde::de::Error::custom("empty command in runcmd")),
            R::List(l) => Ok(RunCmd::Argv(l.into_iter().map(|s| s.0).collect())),
        }
    }
}

/// Any YAML scalar, kept as text (`[echo, 1]` is the argv `echo 1`).
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses one cloud-config text; returns the config and warnings.
pub fn parse(path: &Path, text: &str) -> Result<(CloudConfig, Vec<Diag>), ConfigError> {
    let first = text.split(['\r', '\n']).next().unwrap_or("");
    if first != HEADER {
        return Err(Diag::new(format!("not a cloud-config file: the first line is {first:?}"))
            .in_file(path)
            .at_line(Some(1))
            .hint(format!("make \"{HEADER}\" the exact first line"))
            .into());
    }
    let err = |e: serde_yaml::Error| -> ConfigError { crate::diag::yaml(path, &e).into() };
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(err)?;
    let mut warnings = Vec::new();
    if let serde_yaml::Value::Mapping(m) = &value {
        for k in m.keys() {
            let k = k.as_str().unwrap_or("?");
            if MODULES.contains(&k) {
                continue;
            }
            let d = Diag::new(format!("cloud-config module `{k}` is not supported by lxops and is ignored"))
                .in_file(path);
            warnings.push(match closest(k, MODULES) {
                Some(c) if !IGNORED_KNOWN.contains(&k) => d.hint(format!("did you mean `{c}`?")),
                _ => d.hint(format!("supported modules: {}", MODULES.join(", "))),
            });
        }
        for (module, known) in [("write_files", FILE_KEYS), ("users", USER_KEYS)] {
            let Some(serde_yaml::Value::Sequence(items)) = m.get(module) else { continue };
            for (i, item) in items.iter().enumerate() {
                let serde_yaml::Value::Mapping(e) = item else { continue };
                for k in e.keys().filter_map(|k| k.as_str()).filter(|k| !known.contains(k)) {
                    let d = Diag::new(format!("key `{k}` is not supported by lxops and is ignored"))
                        .in_file(path)
                        .at_key(format!("{module}[{i}]"));
                    warnings.push(match closest(k, known) {
                        Some(c) => d.hint(format!("did you mean `{c}`?")),
                        None => d.hint(format!("supported keys: {}", known.join(", "))),
                    });
                }
            }
        }
    } else if !value.is_null() {
        return Err(Diag::new("a cloud-config file is a YAML map of modules").in_file(path).into());
    }
    let cc: CloudConfig =
        if value.is_null() { CloudConfig::default() } else { serde_yaml::from_str(text).map_err(err)? };
    for (i, f) in cc.write_files.iter().enumerate() {
        if let Some(p) = &f.permissions
            && u32::from_str_radix(p, 8).is_err()
        {
            return Err(Diag::new(format!("permissions {p:?} is not an octal mode"))
                .in_file(path)
                .at_key(format!("write_files[{i}].permissions"))
                .hint("write it quoted, e.g. '0644'")
                .into());
        }
        if !f.path.starts_with('/') {
            return Err(Diag::new(format!("path {:?} is not absolute", f.path))
                .in_file(path)
                .at_key(format!("write_files[{i}].path"))
                .into());
        }
    }
    Ok((cc, warnings))
}

/// Reads and parses a cloud-config file, printing its warnings.
pub fn read(path: &Path) -> Result<CloudConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diag::new(format!("cannot read cloud-config file: {e}")).in_file(path))?;
    let (cc, warnings) = parse(path, &text)?;
    for w in &warnings {
        crate::diag::warn(w);
    }
    Ok(cc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<CloudConfig, ConfigError> {
        parse(Path::new("c.cfg"), s).map(|x| x.0)
    }

    #[test]
    fn header_required() {
        assert!(p("#cloud-config\n").is_ok());
        assert!(p("packages: [a]\n").is_err());
    }

    #[test]
    fn runcmd_forms() {
        let c = p("#cloud-config\nruncmd:\n- echo\n- [echo, a]\n- [echo, 1]\n").unwrap();
        assert_eq!(
            c.runcmd,
            vec![
                RunCmd::Script("echo".into()),
                RunCmd::Argv(vec!["echo".into(), "a".into()]),
                RunCmd::Argv(vec!["echo".into(), "1".into()])
            ]
        );
    }

    #[test]
    fn groups_and_sudo() {
        let c = p("#cloud-config\nusers:\n- name: u\n  groups: 'a, b'\n  sudo: true\n- name: v\n  groups: [c]\n  sudo: 'ALL=(ALL) ALL'\n").unwrap();
        assert_eq!(c.users[0].groups, vec!["a", "b"]);
        assert_eq!(c.users[0].sudo, Sudo::Rules(vec![]));
        assert_eq!(c.users[1].groups, vec!["c"]);
        assert_eq!(c.users[1].sudo, Sudo::Rules(vec!["ALL=(ALL) ALL".into()]));
        assert!(p("#cloud-config\nusers:\n- name: u\n  sudo: 5\n").is_err());
    }

    #[test]
    fn bad_permissions() {
        assert!(p("#cloud-config\nwrite_files:\n- path: /a\n  permissions: '9'\n").is_err());
    }
}
