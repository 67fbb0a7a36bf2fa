//! Loading lxops files: the only code that reads config files.
//!
//! Checks the `#lxops-v1` header (migrating `#lxdops` files), parses the YAML
//! (duplicate keys are errors, unknown keys warnings), filters conditional
//! `include` / `cloud-config-files` entries, resolves paths against the file
//! that names them, and merges include trees depth first, each file once.
//! Every merged value keeps the file it came from. Each file is read and
//! parsed once per invocation, however many configs share it. Nothing here
//! substitutes properties in values or validates the merged result: that is
//! the resolver's job.

use crate::config::{CONFIG_KEYS, Config, DEVICE_KEYS, FILESYSTEM_KEYS, HEADER, LEGACY_HEADER, REMOVED_KEYS};
use crate::diag::{ConfigError, Diag, closest};
use crate::paths;
use crate::properties::{Properties, substitute};
use indexmap::IndexMap;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A parsed file, before merging.
#[derive(Debug)]
pub struct FileConfig {
    pub path: PathBuf,
    pub config: Config,
    /// The raw bytes, for the script header's checksum.
    pub text: String,
}

/// Where each merged value came from.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    pub fields: HashMap<&'static str, PathBuf>,
    pub filesystems: IndexMap<String, PathBuf>,
    pub devices: IndexMap<String, PathBuf>,
    pub properties: IndexMap<String, PathBuf>,
    pub profiles: Vec<PathBuf>,
    pub cloud_config_files: Vec<PathBuf>,
}

impl Origins {
    /// The file that set a single-valued field, or the top file.
    pub fn field<'a>(&'a self, key: &str, top: &'a Path) -> &'a Path {
        self.fields.get(key).map(|p| p.as_path()).unwrap_or(top)
    }
}

/// A merged include tree.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The top file as the operator named it.
    pub top: PathBuf,
    /// The merged config: `include` is empty, host paths are resolved.
    pub config: Config,
    pub origins: Origins,
    /// Every file merged, in merge order, top first.
    pub files: Vec<PathBuf>,
    /// Warnings found while merging (overrides); printed by the caller.
    pub warnings: Vec<Diag>,
}

/// Reads and caches files for one invocation.
#[derive(Default)]
pub struct Loader {
    cache: HashMap<PathBuf, Rc<FileConfig>>,
    /// Per-file warnings, printed once when the file is first read.
    pub quiet: bool,
}

impl Loader {
    pub fn new() -> Loader {
        Loader::default()
    }

    /// Reads one file (cached): header, migration, YAML, unknown keys.
    pub fn read(&mut self, path: &Path) -> Result<Rc<FileConfig>, ConfigError> {
        if let Some(f) = self.cache.get(path) {
            return Ok(f.clone());
        }
        let text = crate::input::read_text(path).map_err(|e| {
            Diag::new(format!("cannot read file: {e}")).in_file(path).hint(
                "check the path; include and cloud-config paths are relative to the file that names them",
            )
        })?;
        let (config, warnings) = parse(path, &text)?;
        if !self.quiet {
            for w in &warnings {
                crate::diag::warn(w);
            }
        }
        let f = Rc::new(FileConfig { path: path.to_path_buf(), config, text });
        self.cache.insert(path.to_path_buf(), f.clone());
        Ok(f)
    }

    /// Every file read so far with its text (for checksums).
    pub fn text_of(&self, path: &Path) -> Option<&str> {
        self.cache.get(path).map(|f| f.text.as_str())
    }

    /// Merges `top` and its includes.
    pub fn merge(&mut self, top: &Path, props: &Properties) -> Result<Merged, ConfigError> {
        let mut m = Merger {
            loader: self,
            props,
            seen: HashSet::new(),
            stack: Vec::new(),
            on_stack: HashSet::new(),
            out: Merged {
                top: top.to_path_buf(),
                config: Config::default(),
                origins: Origins::default(),
                files: Vec::new(),
                warnings: Vec::new(),
            },
        };
        m.merge(&paths::clean(top))?;
        Ok(m.out)
    }

    /// Reads `path` alone, without includes (for `config includes` and `convert`).
    pub fn read_raw(&mut self, path: &Path) -> Result<Rc<FileConfig>, ConfigError> {
        self.read(&paths::clean(path))
    }
}

/// The first line when the text starts with `#`, up to `\r` or `\n`.
pub fn first_line_comment(text: &str) -> &str {
    if !text.starts_with('#') {
        return "";
    }
    let end = text.find(['\r', '\n']).unwrap_or(text.len());
    &text[..end]
}

/// Parses one file's text into a `Config` and the warnings it deserves.
pub fn parse(path: &Path, text: &str) -> Result<(Config, Vec<Diag>), ConfigError> {
    let header = first_line_comment(text);
    let legacy = match header {
        HEADER => false,
        LEGACY_HEADER => true,
        _ => {
            // The first line is shown only when it looks like a mistyped
            // header: another file's first line may be a secret.
            let found = if header.starts_with("#lx") && header.len() <= 40 {
                format!("the first line is {header:?}")
            } else if text.is_empty() {
                "the file is empty".to_string()
            } else {
                "the first line is not a header".to_string()
            };
            return Err(Diag::new(format!("not an lxops file: {found}, expected \"{HEADER}\""))
                .in_file(path)
                .at_line(Some(1))
                .hint(format!("make \"{HEADER}\" the exact first line (no trailing spaces); old \"{LEGACY_HEADER}\" files are migrated"))
                .into());
        }
    };
    let yaml_err = |e: serde_yaml::Error| -> ConfigError { crate::diag::yaml(path, &e).into() };
    // A generic parse first: it rejects duplicate keys (D18) and lets us name unknown keys (D4).
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(yaml_err)?;
    let nul = nul_values(path, &value);
    if !nul.is_empty() {
        return Err(ConfigError(nul));
    }
    let mut warnings = Vec::new();
    if let serde_yaml::Value::Mapping(m) = &value {
        check_keys(path, m, "", CONFIG_KEYS, legacy, &mut warnings);
        for (section, allowed) in [("filesystems", FILESYSTEM_KEYS), ("devices", DEVICE_KEYS)] {
            if let Some(serde_yaml::Value::Mapping(entries)) = m.get(section) {
                for (id, entry) in entries {
                    if let serde_yaml::Value::Mapping(e) = entry {
                        let prefix = format!("{section}.{}.", scalar_text(id));
                        check_keys(path, e, &prefix, allowed, false, &mut warnings);
                    }
                }
            }
        }
        if legacy
            && let Some(os) = m.get("os")
            && !os.is_mapping()
            && !os.is_null()
        {
            return Err(Diag::new("unexpected os type: `os` must be a map with `name` and `image`")
                .in_file(path)
                .at_key("os")
                .into());
        }
    } else if !value.is_null() {
        return Err(Diag::new("the file's content is not a map of config keys")
            .in_file(path)
            .hint("an lxops file is a YAML map, e.g. `image: alpine/3.20`")
            .into());
    }
    let mut config: Config =
        if value.is_null() { Config::default() } else { serde_yaml::from_str(text).map_err(yaml_err)? };
    if legacy {
        // Migration keeps each scalar's text (D17): the typed parse already read it as written.
        if let Some(os) = config.os.take() {
            config.ostype = os.name;
            config.image = os.image;
        }
    } else {
        config.os = None;
    }
    Ok((config, warnings))
}

/// Every value (or key) holding a NUL byte, which no command argument can
/// carry (decision D24): each is an error naming its key.
pub fn nul_values(path: &Path, value: &serde_yaml::Value) -> Vec<Diag> {
    fn walk(v: &serde_yaml::Value, key: &str, out: &mut Vec<String>) {
        match v {
            serde_yaml::Value::String(s) if s.contains('\0') => out.push(key.to_string()),
            serde_yaml::Value::Sequence(items) => {
                for (i, x) in items.iter().enumerate() {
                    walk(x, &format!("{key}[{i}]"), out);
                }
            }
            serde_yaml::Value::Mapping(m) => {
                for (k, x) in m {
                    let name = crate::runtime::text::text(&scalar_text(k));
                    let sub = if key.is_empty() { name } else { format!("{key}.{name}") };
                    if scalar_text(k).contains('\0') {
                        out.push(sub.clone());
                    }
                    walk(x, &sub, out);
                }
            }
            serde_yaml::Value::Tagged(t) => walk(&t.value, key, out),
            _ => {}
        }
    }
    let mut keys = Vec::new();
    walk(value, "", &mut keys);
    keys.into_iter()
        .map(|k| {
            Diag::new("the value holds a NUL byte, which no command argument can carry")
                .in_file(path)
                .at_key(if k.is_empty() { "(top)".to_string() } else { k })
                .hint("remove the \\0 from the value")
        })
        .collect()
}

fn scalar_text(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

fn check_keys(
    path: &Path,
    m: &serde_yaml::Mapping,
    prefix: &str,
    allowed: &[&str],
    legacy: bool,
    warnings: &mut Vec<Diag>,
) {
    for k in m.keys() {
        let k = scalar_text(k);
        if allowed.contains(&k.as_str()) {
            continue;
        }
        if prefix.is_empty() && legacy && k == "os" {
            continue;
        }
        let d = Diag::new(format!("unknown key `{prefix}{k}` is ignored")).in_file(path);
        let d = if prefix.is_empty() && REMOVED_KEYS.contains(&k.as_str()) {
            Diag::new(format!("key `{k}` is no longer supported and is ignored"))
                .in_file(path)
                .hint("remove it from the file")
        } else if let Some(c) = closest(&k, allowed) {
            d.hint(format!("did you mean `{prefix}{c}`?"))
        } else {
            d.hint(format!("known keys here: {}", allowed.join(", ")))
        };
        warnings.push(d);
    }
}

struct Merger<'a> {
    loader: &'a mut Loader,
    props: &'a Properties,
    seen: HashSet<PathBuf>,
    /// The files being merged, outermost first (and as a set, so a deep
    /// chain of includes is checked in constant time per file).
    stack: Vec<PathBuf>,
    on_stack: HashSet<PathBuf>,
    out: Merged,
}

impl Merger<'_> {
    fn merge(&mut self, file: &Path) -> Result<(), ConfigError> {
        if self.on_stack.contains(file) {
            // As the original: each file is merged once; the cycle is named.
            let mut chain: Vec<String> =
                self.stack.iter().skip_while(|p| *p != file).map(|p| p.display().to_string()).collect();
            chain.push(file.display().to_string());
            let includer = self.stack.last().cloned().unwrap_or_default();
            self.out.warnings.push(
                Diag::new(format!("include cycle: {}; each file is merged once", chain.join(" → ")))
                    .in_file(&includer)
                    .at_key("include")
                    .hint("remove one of these includes"),
            );
            return Ok(());
        }
        if !self.seen.insert(file.to_path_buf()) {
            // A diamond: the shared file was merged at its first visit.
            return Ok(());
        }
        let fc = match self.loader.read(file) {
            Ok(fc) => fc,
            // A missing include, or one that is not an lxops file, is
            // reported at the file that names it.
            Err(mut e)
                if !self.stack.is_empty()
                    && e.0[0].file.as_deref() == Some(file)
                    && (e.0[0].line.is_none() || e.0[0].message.starts_with("not an lxops file")) =>
            {
                e.0[0].line = None;
                let d = &mut e.0[0];
                d.message = format!("{}: {}", file.display(), d.message);
                d.file = self.stack.last().cloned();
                d.key = Some("include".into());
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let c = &fc.config;
        let top = self.out.files.is_empty();
        self.out.files.push(file.to_path_buf());
        if top {
            self.out.config.description = c.description.clone();
        }
        let includes = self.conditional(file, "include", &c.include)?;
        self.stack.push(file.to_path_buf());
        self.on_stack.insert(file.to_path_buf());
        for inc in &includes {
            self.merge(inc)?;
        }
        self.on_stack.remove(file);
        self.stack.pop();
        self.apply(file, c)?;
        Ok(())
    }

    /// Filters conditional entries and resolves them against `file`'s directory.
    fn conditional(&self, file: &Path, key: &str, entries: &[String]) -> Result<Vec<PathBuf>, ConfigError> {
        let mut out = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if let Some(c) = e.chars().find(|c| "|;,:".contains(*c)) {
                return Err(Diag::new(format!("path {e:?} contains the reserved character '{c}'"))
                    .in_file(file)
                    .at_key(format!("{key}[{i}]"))
                    .hint("the characters | ; , : are reserved in include and cloud-config paths")
                    .into());
            }
            // Conditional paths see only -P and global properties; an undefined one drops the entry.
            if let Ok(p) = substitute(e, &|k| self.props.conditional(k)) {
                out.push(paths::relative_to_file(file, &p));
            }
        }
        Ok(out)
    }

    fn apply(&mut self, file: &Path, c: &Config) -> Result<(), ConfigError> {
        let t = &mut self.out.config;
        let o = &mut self.out.origins;
        let w = &mut self.out.warnings;
        let mut single = |key: &'static str, mine: &str, into: &mut String| {
            if mine.is_empty() {
                return;
            }
            if !into.is_empty() && into != mine {
                let from = o.fields.get(key).cloned().unwrap_or_default();
                w.push(
                    Diag::new(format!("{key} {mine:?} overrides {into:?} from {}", from.display()))
                        .in_file(file),
                );
            }
            *into = mine.to_string();
            o.fields.insert(key, file.to_path_buf());
        };
        single("ostype", &c.ostype, &mut t.ostype);
        single("image", &c.image, &mut t.image);
        single("project", &c.project, &mut t.project);
        single("target", &c.target, &mut t.target);
        single("profile-pattern", &c.profile_pattern, &mut t.profile_pattern);
        single("device-owner", &c.device_owner, &mut t.device_owner);
        single("origin", &c.origin, &mut t.origin);
        single("device-template", &c.device_template, &mut t.device_template);
        single("device-origin", &c.device_origin, &mut t.device_origin);
        if !c.source_config.is_empty() {
            let p = paths::relative_to_file(file, &c.source_config).display().to_string();
            single("source-config", &p, &mut t.source_config);
        }
        for (k, v) in &c.properties {
            if let Some(old) = t.properties.get(k)
                && !old.is_empty()
                && old != v
            {
                let from = o.properties.get(k).cloned().unwrap_or_default();
                w.push(
                    Diag::new(format!("property {k}: {v:?} overrides {old:?} from {}", from.display()))
                        .in_file(file),
                );
            }
            t.properties.insert(k.clone(), v.clone());
            o.properties.insert(k.clone(), file.to_path_buf());
        }
        if !c.lxc_options.is_empty() {
            t.lxc_options = c.lxc_options.clone();
            o.fields.insert("lxc-options", file.to_path_buf());
        }
        for (id, fs) in &c.filesystems {
            if let Some(from) = o.filesystems.get(id) {
                w.push(
                    Diag::new(format!("filesystem {id} overrides the one from {}", from.display()))
                        .in_file(file),
                );
            }
            t.filesystems.insert(id.clone(), fs.clone());
            o.filesystems.insert(id.clone(), file.to_path_buf());
        }
        for (id, d) in &c.devices {
            if let Some(from) = o.devices.get(id) {
                w.push(
                    Diag::new(format!("device {id} overrides the one from {}", from.display())).in_file(file),
                );
            }
            t.devices.insert(id.clone(), d.clone());
            o.devices.insert(id.clone(), file.to_path_buf());
        }
        for p in &c.profiles {
            t.profiles.push(p.clone());
            o.profiles.push(file.to_path_buf());
        }
        for p in self.conditional(file, "cloud-config-files", &c.cloud_config_files)? {
            self.out.config.cloud_config_files.push(p.display().to_string());
            self.out.origins.cloud_config_files.push(file.to_path_buf());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line() {
        assert_eq!(first_line_comment("#one\ntwo"), "#one");
        assert_eq!(first_line_comment("x"), "");
        assert_eq!(first_line_comment(""), "");
        assert_eq!(first_line_comment("#a\r\nb"), "#a");
    }

    #[test]
    fn migrates_lxdops() {
        let (c, _) =
            parse(Path::new("a"), "#lxdops\nos:\n  name: os1\n  image: image1\nuid: 0755\n").unwrap();
        assert_eq!(c.ostype, "os1");
        assert_eq!(c.image, "image1");
    }

    #[test]
    fn header_errors() {
        let e = parse(Path::new("a.yaml"), "#lxops-v1 \nimage: x\n").unwrap_err();
        assert!(e.to_string().contains("\"#lxops-v1 \""), "{e}");
        assert!(parse(Path::new("a.yaml"), "image: x\n").is_err());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = parse(Path::new("a.yaml"), "#lxops-v1\nimage: a\nimage: b\n").unwrap_err();
        assert!(e.to_string().contains("a.yaml:"), "{e}");
    }
}
