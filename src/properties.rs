//! Property sources and `(key)` pattern substitution.
//!
//! Sources: built-ins (`instance`, `project`, `project/`, `project_instance`),
//! `-P KEY=VALUE`, the config's `properties`, and the global files
//! (`properties.d/*.yaml` in name order, then `properties.yaml` or the file
//! named by `--properties`; decision D2: a missing default file is fine).
//! Substitution is a single left-to-right pass over innermost parentheses;
//! replacement text is never rescanned. This module does not know which chain
//! a given value uses: the resolver builds the lookup.

use crate::diag::{ConfigError, Diag};
use indexmap::IndexMap;
use std::path::{Path, PathBuf};

/// The command-line and global properties of one invocation.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    /// `-P KEY=VALUE`, in command-line order (later wins).
    pub cli: IndexMap<String, String>,
    /// Global properties after merging the files, each with the file it came from.
    pub global: IndexMap<String, (String, PathBuf)>,
    /// The properties file `property set` writes and `property file` prints.
    pub file: PathBuf,
}

impl Properties {
    /// Loads the global properties and parses `-P` arguments.
    pub fn load(cli: &[String], file_flag: Option<&Path>) -> Result<Properties, ConfigError> {
        let mut props = Properties::default();
        for arg in cli {
            match arg.split_once('=') {
                Some((k, v)) => {
                    props.cli.insert(k.to_string(), v.to_string());
                }
                None => {
                    return Err(Diag::new(format!("missing value from property: {arg}"))
                        .at_key("-P")
                        .hint(format!("write -P {arg}=VALUE"))
                        .into());
                }
            }
        }
        let dir = config_dir();
        let d = dir.join("properties.d");
        if let Ok(entries) = std::fs::read_dir(&d) {
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml") && !p.is_dir())
                .collect();
            files.sort();
            for f in files {
                props.merge_file(&f)?;
            }
        }
        match file_flag {
            Some(f) if f.as_os_str().is_empty() => props.file = dir.join("properties.yaml"),
            Some(f) => {
                if !f.exists() {
                    return Err(Diag::new(format!("properties file {} does not exist", f.display()))
                        .at_key("--properties")
                        .hint(
                            "create it (an empty file is fine) or leave out --properties to use the default",
                        )
                        .into());
                }
                props.file = f.to_path_buf();
                props.merge_file(f)?;
            }
            None => {
                props.file = dir.join("properties.yaml");
                if props.file.exists() {
                    let f = props.file.clone();
                    props.merge_file(&f)?;
                }
            }
        }
        Ok(props)
    }

    fn merge_file(&mut self, f: &Path) -> Result<(), ConfigError> {
        for (k, v) in read_map(f)? {
            self.global.insert(k, (v, f.to_path_buf()));
        }
        Ok(())
    }

    /// The lookup for conditional include and cloud-config paths: `-P`, then
    /// global, and an empty value counts as undefined.
    pub fn conditional(&self, key: &str) -> Option<String> {
        let v = match self.cli.get(key) {
            Some(v) => Some(v.clone()),
            None => self.global.get(key).map(|(v, _)| v.clone()),
        };
        v.filter(|v| !v.is_empty())
    }
}

/// `$XDG_CONFIG_HOME/lxops`, else `$HOME/.config/lxops`.
pub fn config_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("lxops");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".config").join("lxops")
}

/// Reads a flat `key: value` YAML map; scalars become their text.
pub fn read_map(f: &Path) -> Result<IndexMap<String, String>, ConfigError> {
    let text = crate::input::read_text(f)
        .map_err(|e| Diag::new(format!("cannot read properties file: {e}")).in_file(f))?;
    if text.trim().is_empty() {
        return Ok(IndexMap::new());
    }
    let map: Option<IndexMap<String, Option<String>>> = serde_yaml::from_str(&text).map_err(|e| {
        crate::diag::yaml(f, &e)
            .hint("a properties file is a flat map of names to values, e.g. `fshost: tank/host`")
    })?;
    let map: IndexMap<String, String> =
        map.unwrap_or_default().into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect();
    // D24: argv cannot carry a NUL byte, so no value may hold one.
    let nul: Vec<Diag> = map
        .iter()
        .filter(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| {
            Diag::new("the value holds a NUL byte, which no command argument can carry")
                .in_file(f)
                .at_key(crate::runtime::text::text(k))
                .hint("remove the \\0 from the value")
        })
        .collect();
    if !nul.is_empty() {
        return Err(ConfigError(nul));
    }
    Ok(map)
}

/// A pattern split into literal text and `(key)` references.
enum Piece<'a> {
    Text(&'a str),
    Key(&'a str),
}

fn pieces(pattern: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('(') {
        out.push(Piece::Text(&rest[..open]));
        let after = &rest[open + 1..];
        match after.find([')', '(']) {
            Some(i) if after.as_bytes()[i] == b')' => {
                out.push(Piece::Key(&after[..i]));
                rest = &after[i + 1..];
            }
            _ => {
                // An opening parenthesis that does not start an innermost pair is literal text.
                out.push(Piece::Text("("));
                rest = after;
            }
        }
    }
    out.push(Piece::Text(rest));
    out
}

/// Replaces every `(key)` in `pattern`. Returns the first undefined key as the error.
pub fn substitute(pattern: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(pattern.len());
    for p in pieces(pattern) {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Key(k) => match lookup(k) {
                Some(v) => out.push_str(&v),
                None => return Err(k.to_string()),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(p: &str) -> Result<String, String> {
        substitute(p, &|k| match k {
            "a" => Some("A".into()),
            "" => Some("E".into()),
            _ => None,
        })
    }

    #[test]
    fn substitution_rules() {
        assert_eq!(sub("a(a)b(a)c"), Ok("aAbAc".into()));
        assert_eq!(sub("(x)"), Err("x".into()));
        assert_eq!(sub("((a))"), Ok("(A)".into()));
        assert_eq!(sub(""), Ok("".into()));
        assert_eq!(sub("()"), Ok("E".into()));
        assert_eq!(sub("a(b"), Ok("a(b".into()));
        assert_eq!(sub("a)b"), Ok("a)b".into()));
    }
}
