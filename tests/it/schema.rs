//! The JSON shape of plans is a contract: its JSON Schema, generated from
//! the typed structs of `render::json`, is committed as
//! `docs/plan.schema.json` and must not change unnoticed. After a deliberate
//! change (and a new `format_version`), regenerate it with
//! `LXOPS_UPDATE_SCHEMA=1 cargo test --test it schema`. The config files'
//! schema (`docs/config.schema.json`, `lxops config schema`) likewise, and
//! every fixture config that lxops loads validates against it.

use crate::fixtures::root;

#[test]
fn the_plan_json_schema_is_the_committed_one() {
    let schema = lxops::render::json::schema();
    let file = root().join("docs/plan.schema.json");
    if std::env::var_os("LXOPS_UPDATE_SCHEMA").is_some() {
        std::fs::write(&file, &schema).unwrap();
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == schema,
        "the JSON shape of plans changed: bump render::json::FORMAT_VERSION if a field changed meaning or went away, then regenerate {} (LXOPS_UPDATE_SCHEMA=1)",
        file.display()
    );
    let v: serde_json::Value = serde_json::from_str(&schema).unwrap();
    assert_eq!(v["properties"]["format_version"]["type"], "integer");
}

/// Every fixture plan's JSON has the committed shape's required top-level fields.
#[test]
fn plans_carry_the_format_version() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_lxops"))
        .args(["launch", "--format", "json", "web.yaml", "--no-wait-network"])
        .current_dir(root().join("fixtures/backends"))
        .env("LXOPS_BACKEND", "incus")
        .env("XDG_CONFIG_HOME", root().join("fixtures/backends/xdg"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format_version"], lxops::render::json::FORMAT_VERSION);
    let schema: serde_json::Value = serde_json::from_str(&lxops::render::json::schema()).unwrap();
    for field in schema["required"].as_array().unwrap() {
        assert!(v.get(field.as_str().unwrap()).is_some(), "the plan lacks {field}");
    }
}

/// The config schema (`lxops config schema`) is `docs/config.schema.json`.
#[test]
fn the_config_schema_is_the_committed_one() {
    let schema = lxops::config::schema();
    let file = root().join("docs/config.schema.json");
    if std::env::var_os("LXOPS_UPDATE_SCHEMA").is_some() {
        std::fs::write(&file, &schema).unwrap();
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(committed == schema, "regenerate {} (LXOPS_UPDATE_SCHEMA=1)", file.display());
    let o =
        std::process::Command::new(env!("CARGO_BIN_EXE_lxops")).args(["config", "schema"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), schema);
}

/// Every lxops config among the fixtures that lxops loads (the error cases
/// aside) validates against the schema, and configs with mistakes an editor
/// should flag do not.
#[test]
fn fixture_configs_validate_against_the_config_schema() {
    let schema: serde_json::Value = serde_json::from_str(&lxops::config::schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the config schema is a valid JSON Schema");
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in walkdir::WalkDir::new(root().join("fixtures")).into_iter().filter_map(Result::ok) {
        let p = entry.path();
        let rel = p.strip_prefix(root()).unwrap().display().to_string();
        if !rel.ends_with(".yaml") || rel.starts_with("fixtures/error-") || rel.contains("/xdg/") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(p) else { continue };
        if !text.starts_with("#lxops-v1") {
            continue;
        }
        let value: serde_json::Value = match serde_yaml::from_str(&text) {
            Ok(v) => v,
            Err(_) => continue, // not YAML a loader accepts: the error fixtures' business
        };
        // Configs lxops itself refuses (load-probes has some on purpose)
        // need not validate.
        let loads = std::process::Command::new(env!("CARGO_BIN_EXE_lxops"))
            .args(["config", "print"])
            .arg(p)
            .current_dir(p.parent().unwrap())
            .env("LXOPS_BACKEND", "incus")
            .output()
            .unwrap()
            .status
            .success();
        if !loads {
            continue;
        }
        checked += 1;
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{e} at {}", e.instance_path())).collect();
        if !errors.is_empty() {
            failures.push(format!("{rel}: {}", errors.join("; ")));
        }
    }
    assert!(checked >= 40, "only {checked} fixture configs were checked");
    assert!(failures.is_empty(), "{} of {checked} configs:\n{}", failures.len(), failures.join("\n"));
    for bad in [
        "image: [a, b]\n",
        "devices:\n  home:\n    path: 3\n",
        "filesystems:\n  data:\n    destroy: maybe\n",
        "profiles: default\n",
    ] {
        let v: serde_json::Value = serde_yaml::from_str(bad).unwrap();
        assert!(!validator.is_valid(&v), "the schema accepts {bad:?}");
    }
}
