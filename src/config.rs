//! The lxops file format as serde types that mirror the YAML one to one.
//!
//! No logic lives here beyond (de)serialisation: scalars are accepted where a
//! string is expected (`uid: 1000`), booleans accept YAML 1.1 spellings
//! (`yes`, `off`, decision D19), and `config print` serialises the fields in
//! the original's order. Merging, properties and validation are elsewhere.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// The current format header; the first line of every lxops file.
pub const HEADER: &str = "#lxops-v1";
/// The older header whose files are migrated on load.
pub const LEGACY_HEADER: &str = "#lxdops";

/// One lxops file, as written. The doc comments of the fields are the
/// descriptions of the config's JSON Schema (`lxops config schema`), which
/// editors show.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(title = "lxops config", description = "An lxops instance config (first line: #lxops-v1).")]
pub struct Config {
    /// Free text (only the top file's counts; `publish` uses its first line).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The guest's OS type, for packages, users and timezone (`lxops ostypes`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ostype: String,
    /// The image to launch or rebuild from (may carry a remote prefix).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// The Incus/LXD project; `--project` overrides it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub project: String,
    /// The cluster member to place the instance on, or `@GROUP` to let the server choose
    /// within a cluster group (`@default`: any member); `--target` overrides it. With a
    /// target, host-side steps run on the member that holds the instance, over ssh
    /// (`member-ssh.<member>` properties name the destinations).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// `[project_]container[/snapshot]`: copy the instance from another instead of an image.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub origin: String,
    /// An instance whose device directories are copied (`rsync -a`) into newly created ones.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_template: String,
    /// `instance@snapshot` whose ZFS filesystems are cloned (takes precedence over `device-template`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_origin: String,
    /// The config that describes the template/origin instance's filesystems.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_config: String,
    /// Extra arguments for instance creation, e.g. `[-c, limits.memory=256MiB]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lxc_options: Vec<String>,
    /// Profiles the instance gets (`default` when empty); the instance profile is added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// The name of the instance profile that holds the devices [default: (instance).lxops].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile_pattern: String,
    /// `uid:gid` as the host sees the container's root, for new filesystem roots and device directories.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_owner: String,
    /// Filesystems by name: ZFS datasets, or directories when the pattern starts with `/`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub filesystems: IndexMap<String, Option<Filesystem>>,
    /// Disk devices by name, attached through the instance profile.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub devices: IndexMap<String, Option<Device>>,
    /// Properties for `(name)` substitution; a value may be any scalar.
    #[serde(default, deserialize_with = "null_is_empty", skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(schema_with = "scalar_map")]
    pub properties: IndexMap<String, String>,
    /// Files merged into this one, relative to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Cloud-config files applied by launch, rebuild and configure, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cloud_config_files: Vec<String>,
    /// Only read from `#lxdops` files, where it is migrated into `ostype`
    /// and `image`; never written.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
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
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
pub struct Filesystem {
    /// The dataset or directory, with `(instance)` and other properties, e.g. `tank/host/(instance)`.
    #[serde(default)]
    pub pattern: String,
    /// ZFS properties set when the dataset is created (`zfs create -o`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub zfsproperties: IndexMap<String, String>,
    /// `destroy` removes this filesystem (never without this).
    #[serde(default, deserialize_with = "yaml11_bool")]
    #[schemars(schema_with = "yaml11_bool_schema")]
    pub destroy: bool,
    /// Not snapshotted, exported or copied (caches, scratch space).
    #[serde(default, deserialize_with = "yaml11_bool", skip_serializing_if = "is_false")]
    #[schemars(schema_with = "yaml11_bool_schema")]
    pub transient: bool,
}

/// A disk device attached to the instance through its profile.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
pub struct Device {
    /// Where the device appears in the guest, e.g. `/home`.
    #[serde(default)]
    pub path: String,
    /// The filesystem (a key of `filesystems`) the device's directory is in.
    #[serde(default)]
    pub filesystem: String,
    /// The directory in the filesystem (default: the device's key); `.` is the filesystem itself, an absolute one is used as is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dir: String,
    /// Attach the device read-only.
    #[serde(default, deserialize_with = "yaml11_bool", skip_serializing_if = "is_false")]
    #[schemars(schema_with = "yaml11_bool_schema")]
    pub readonly: bool,
}

/// A boolean, or one of YAML 1.1's boolean words (`yes`, `off` …, D19).
fn yaml11_bool_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            {"type": "boolean"},
            {"enum": ["yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N"]}
        ]
    })
}

/// A map whose values are scalars (turned into text) or null (empty text).
fn scalar_map(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["object", "null"],
        "additionalProperties": {"type": ["string", "number", "boolean", "null"]}
    })
}

/// The config's JSON Schema, as `lxops config schema` prints it and
/// `docs/config.schema.json` holds it.
pub fn schema() -> String {
    let mut s = serde_json::to_string_pretty(&schemars::schema_for!(Config)).expect("schemas serialise");
    s.push('\n');
    s
}

/// Keys a `Config` understands, for unknown-key warnings.
pub const CONFIG_KEYS: &[&str] = &[
    "description",
    "ostype",
    "image",
    "project",
    "target",
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
