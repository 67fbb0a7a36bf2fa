//! The lxops file format as serde types that mirror the YAML one to one.
//!
//! No logic lives here beyond (de)serialisation: scalars are accepted where a
//! string is expected (`uid: 1000`), booleans accept YAML 1.1 spellings
//! (`yes`, `off`, decision D19), and `config print` serialises the fields in
//! the original's order. Merging, properties and validation are elsewhere.

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};

/// The current format header; the first line of every lxops file.
pub const HEADER: &str = "#lxops-v1";
/// The older header whose files are migrated on load.
pub const LEGACY_HEADER: &str = "#lxdops";

/// One lxops file, as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ostype: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub project: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub origin: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_template: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_origin: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_config: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lxc_options: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile_pattern: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_owner: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub filesystems: IndexMap<String, Option<Filesystem>>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub devices: IndexMap<String, Option<Device>>,
    #[serde(default, deserialize_with = "null_is_empty", skip_serializing_if = "IndexMap::is_empty")]
    pub properties: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cloud_config_files: Vec<String>,
    /// Only read from `#lxdops` files, where it is migrated into `ostype`
    /// and `image`; never written.
    #[serde(default, skip_serializing)]
    pub os: Option<LegacyOs>,
}

/// The `os` block of `#lxdops` files.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct LegacyOs {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub version: String,
}

/// A filesystem: a ZFS dataset or (pattern starting with `/`) a directory.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Filesystem {
    #[serde(default)]
    pub pattern: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub zfsproperties: IndexMap<String, String>,
    #[serde(default, deserialize_with = "yaml11_bool")]
    pub destroy: bool,
    #[serde(default, deserialize_with = "yaml11_bool", skip_serializing_if = "is_false")]
    pub transient: bool,
}

/// A disk device attached to the instance through its profile.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Device {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub filesystem: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dir: String,
    #[serde(default, deserialize_with = "yaml11_bool", skip_serializing_if = "is_false")]
    pub readonly: bool,
}

/// Keys a `Config` understands, for unknown-key warnings.
pub const CONFIG_KEYS: &[&str] = &[
    "description",
    "ostype",
    "image",
    "project",
    "origin",
    "device-template",
    "device-origin",
    "source-config",
    "lxc-options",
    "profiles",
    "profile-pattern",
    "device-owner",
    "filesystems",
    "devices",
    "properties",
    "include",
    "cloud-config-files",
];
/// Keys the original once had and now ignores; they warn differently.
pub const REMOVED_KEYS: &[&str] = &[
    "stop",
    "snapshot",
    "os",
    "profile-config",
    "profiles-config",
    "profiles-run",
    "container",
    "condition",
    "if",
];
pub const FILESYSTEM_KEYS: &[&str] = &["pattern", "zfsproperties", "destroy", "transient"];
pub const DEVICE_KEYS: &[&str] = &["path", "filesystem", "dir", "readonly"];

fn is_false(b: &bool) -> bool {
    !*b
}

/// Accepts a YAML bool or a YAML 1.1 boolean word, as the original's yaml.v2 did.
pub fn yaml11_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("true or false")
        }
        fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<bool, E> {
            Ok(b)
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<bool, E> {
            // A plain `true` arrives as a boolean; as text it was quoted, and
            // quoted text is not a boolean (as in the original's YAML 1.1).
            if matches!(s, "true" | "True" | "TRUE" | "false" | "False" | "FALSE") {
                return Err(E::custom(format!(
                    "{s:?} is quoted text, not a boolean: write {s} without quotes"
                )));
            }
            parse_yaml11_bool(s).ok_or_else(|| E::custom(format!("invalid boolean {s:?}: use true or false")))
        }
    }
    d.deserialize_any(V)
}

/// A map of texts where a null value (`~`, `null`, nothing) is the empty
/// text, as the original reads `properties`.
pub fn null_is_empty<'de, D: Deserializer<'de>>(d: D) -> Result<IndexMap<String, String>, D::Error> {
    let m: Option<IndexMap<String, Option<String>>> = Option::deserialize(d)?;
    Ok(m.unwrap_or_default().into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect())
}

/// YAML 1.1's boolean words.
pub fn parse_yaml11_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => Some(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => Some(false),
        _ => None,
    }
}
