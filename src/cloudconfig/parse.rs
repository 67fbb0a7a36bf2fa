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
    // D24: file content may hold any byte (it is sent on stdin); nothing else may hold a NUL.
    let nul: Vec<Diag> = crate::load::nul_values(path, &value)
        .into_iter()
        .filter(|d| {
            !d.key.as_deref().is_some_and(|k| k.starts_with("write_files[") && k.ends_with("].content"))
        })
        .collect();
    if !nul.is_empty() {
        return Err(ConfigError(nul));
    }
    let cc: CloudConfig =
        if value.is_null() { CloudConfig::default() } else { serde_yaml::from_str(text).map_err(err)? };
    let problems = validate(&cc);
    if !problems.is_empty() {
        return Err(ConfigError(
            problems.into_iter().map(|(k, m, h)| Diag::new(m).in_file(path).at_key(k).hint(h)).collect(),
        ));
    }
    for (i, u) in cc.users.iter().enumerate() {
        if u.lock_passwd.is_some() {
            warnings.push(
                Diag::new("`lock_passwd` is not applied by lxops and is ignored")
                    .in_file(path)
                    .at_key(format!("users[{i}].lock_passwd"))
                    .hint("lxops sets a password only from hashed_passwd or passwd; without one the account has no usable password"),
            );
        }
    }
    Ok((cc, warnings))
}

/// A user or group name the guest's tools read as one name: portable
/// characters (letters, digits, `. _ -`, not starting with `-`, an optional
/// final `$`), at most 32.
fn account_name_ok(n: &str) -> bool {
    let body = n.strip_suffix('$').unwrap_or(n);
    !body.is_empty()
        && n.len() <= 32
        && !body.starts_with('-')
        && body.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Text a guest tool reads as one field: no control characters, no `:`.
fn field_ok(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() || c == ':')
}

/// Every value a guest tool would misread: (key, problem, hint).
fn validate(cc: &CloudConfig) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut bad = |key: String, msg: String, hint: &str| out.push((key, msg, hint.to_string()));
    let names_hint = "names use letters, digits, '.', '_' and '-', do not start with '-', at most 32";
    for (i, f) in cc.write_files.iter().enumerate() {
        let k = |x: &str| format!("write_files[{i}].{x}");
        if !f.path.starts_with('/') || f.path.chars().any(char::is_control) {
            bad(
                k("path"),
                format!("path {:?} is not an absolute path without control characters", f.path),
                "e.g. /etc/motd",
            );
        }
        if let Some(p) = &f.permissions {
            match u32::from_str_radix(p, 8) {
                Ok(m) if m <= 0o7777 => {}
                Ok(_) => bad(
                    k("permissions"),
                    format!("permissions {p:?} is above 07777"),
                    "a mode is at most four octal digits, e.g. '0644'",
                ),
                Err(_) => bad(
                    k("permissions"),
                    format!("permissions {p:?} is not an octal mode"),
                    "write it quoted, e.g. '0644'",
                ),
            }
        }
        if let Some(o) = &f.owner {
            let ok = match o.split_once(':') {
                Some((u, g)) => (u.is_empty() || account_name_ok(u)) && account_name_ok(g),
                None => account_name_ok(o),
            };
            if !ok {
                bad(k("owner"), format!("owner {o:?} is not USER or USER:GROUP"), names_hint);
            }
        }
    }
    for (i, u) in cc.users.iter().enumerate() {
        let k = |x: &str| format!("users[{i}].{x}");
        if !account_name_ok(&u.name) {
            bad(
                k("name"),
                format!("user name {:?} is not a name the guest's tools accept", u.name),
                names_hint,
            );
        }
        if let Some(uid) = &u.uid
            && (uid.is_empty() || !uid.chars().all(|c| c.is_ascii_digit()))
        {
            bad(k("uid"), format!("uid {uid:?} is not a number"), "e.g. 1001");
        }
        for (key, v) in [("gecos", &u.gecos), ("hashed_passwd", &u.hashed_passwd), ("passwd", &u.passwd)] {
            if let Some(v) = v
                && !field_ok(v)
            {
                bad(
                    k(key),
                    format!("{key} holds a ':' or a control character"),
                    "the guest's account files separate fields with ':' and lines with newlines",
                );
            }
        }
        for (key, v) in [("shell", &u.shell), ("homedir", &u.homedir)] {
            if let Some(v) = v
                && (!v.starts_with('/') || !field_ok(v))
            {
                bad(
                    k(key),
                    format!("{key} {v:?} is not an absolute path without ':' or control characters"),
                    "e.g. /bin/sh",
                );
            }
        }
        for (j, g) in u.primary_group.iter().chain(u.groups.iter()).enumerate() {
            if !account_name_ok(g) {
                let key = if u.primary_group.is_some() && j == 0 { k("primary_group") } else { k("groups") };
                bad(key, format!("group name {g:?} is not a name the guest's tools accept"), names_hint);
            }
        }
        if let Sudo::Rules(rules) = &u.sudo
            && rules.iter().any(|r| r.chars().any(char::is_control))
        {
            bad(
                k("sudo"),
                "a sudo rule holds a control character".into(),
                "one rule per list entry, on one line",
            );
        }
        if u.ssh_authorized_keys.iter().any(|x| x.chars().any(char::is_control)) {
            bad(
                k("ssh_authorized_keys"),
                "a key holds a control character".into(),
                "one key per list entry, on one line",
            );
        }
    }
    for (i, p) in cc.packages.iter().enumerate() {
        if p.is_empty() || p.starts_with('-') || p.chars().any(|c| c.is_control() || c.is_whitespace()) {
            bad(
                format!("packages[{i}]"),
                format!("package name {p:?} would be read as something else"),
                "a package name has no spaces and does not start with '-'",
            );
        }
    }
    if let Some(tz) = &cc.timezone
        && (tz.is_empty()
            || tz.starts_with('/')
            || tz.split('/').any(|x| x.is_empty() || x == "." || x == "..")
            || !tz.chars().all(|c| c.is_ascii_alphanumeric() || "_+-./".contains(c)))
    {
        bad("timezone".into(), format!("timezone {tz:?} is not a zoneinfo name"), "e.g. Europe/Athens");
    }
    out
}

/// Reads and parses a cloud-config file, printing its warnings.
pub fn read(path: &Path) -> Result<CloudConfig, ConfigError> {
    let text = crate::input::read_text(path)
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
