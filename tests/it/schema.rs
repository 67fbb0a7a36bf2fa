//! The JSON shape of plans is a contract: its JSON Schema, generated from
//! the typed structs of `render::json`, is committed as
//! `docs/plan.schema.json` and must not change unnoticed. After a deliberate
//! change (and a new `format_version`), regenerate it with
//! `LXOPS_UPDATE_SCHEMA=1 cargo test --test it schema`.

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
