//! `instance …` utilities. All but `wait` (a plan, in `cmd::plan`) are
//! queries: they read facts through the executor's query path and print
//! what they found; `number` then writes its own CSV file, the only thing
//! it changes. The project is `--project`, else the default one;
//! `addresses` reads every project.

use crate::cli::{AddressFormat, Family, Format, GlobalArgs, InstanceCmd};
use crate::diag::{ConfigError, Diag};
use crate::plan::{Builder, Settings};
use crate::runtime::RunError;
use crate::runtime::parse::{Parsed, apply};
use std::collections::HashMap;
use std::io::Write;

pub fn run(g: &GlobalArgs, c: &InstanceCmd, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = g.project.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into());
    let settings = Settings { backend: super::backend(g), wait_network: None, force: false };
    let mut b = Builder::new(&format!("instance {}", name_of(c)), settings);
    b.program(b.backend().cli());
    if let Some(n) = instance_arg(c)
        && let Some(p) = crate::resolve::instance_name_problem(n)
    {
        return Err(ConfigError::one(
            Diag::new(format!("invalid instance name {n:?}: {p}")).at_key("INSTANCE"),
        )
        .into());
    }
    match c {
        InstanceCmd::Profiles(a) => {
            let v = b.instance_config(&project, &a.instance);
            let facts = read(b)?;
            match apply(&crate::plan::model::Parse::ProfileNames, &facts[&v], &|_| Vec::new()) {
                Ok(Parsed::Many(names)) => {
                    for n in names {
                        out.write_all(&n)?;
                        out.write_all(b"\n")?;
                    }
                }
                Ok(Parsed::One(_)) => unreachable!("profile names are a list"),
                Err(e) => return Err(RunError(e).into()),
            }
        }
        InstanceCmd::Devices(a) => {
            let v = b.expanded_config(&project, &a.instance);
            let facts = read(b)?;
            let rows = disk_devices(&facts[&v]).map_err(RunError)?;
            match a.format {
                Format::Json => json(out, "devices", &rows)?,
                Format::Text => {
                    let cells: Vec<Vec<String>> = rows
                        .into_iter()
                        .map(|d| vec![d.source, d.path, d.name, d.readonly.to_string()])
                        .collect();
                    out.write_all(
                        crate::table::render(&["SOURCE", "PATH", "NAME", "READONLY"], &cells).as_bytes(),
                    )?;
                }
            }
        }
        InstanceCmd::Hwaddr(q) => {
            let v = b.key_values(&project, "volatile.eth0.hwaddr");
            let facts = read(b)?;
            let mut rows: Vec<(String, String)> = String::from_utf8_lossy(&facts[&v])
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (n, h) = l.split_once(',').unwrap_or((l, ""));
                    (n.to_string(), h.to_string())
                })
                .collect();
            rows.sort();
            match q.format {
                Format::Json => {
                    let v: Vec<_> =
                        rows.iter().map(|(n, h)| serde_json::json!({"instance": n, "hwaddr": h})).collect();
                    json(out, "instances", &v)?
                }
                Format::Text => {
                    let cells: Vec<Vec<String>> = rows.into_iter().map(|(n, h)| vec![h, n]).collect();
                    out.write_all(crate::table::render(&["HWADDR", "NAME"], &cells).as_bytes())?;
                }
            }
        }
        InstanceCmd::Info(a) => {
            let v = b.instance_api(&project, &a.instance);
            let facts = read(b)?;
            let value: serde_json::Value = serde_json::from_slice(&facts[&v])
                .map_err(|e| RunError(format!("the server's answer is not JSON: {e}")))?;
            out.write_all(serde_yaml::to_string(&value)?.as_bytes())?;
        }
        InstanceCmd::Addresses(a) => {
            let v = b.all_instances();
            let facts = read(b)?;
            let rows = addresses(&facts[&v], a.family).map_err(RunError)?;
            let mut text = String::new();
            match a.format {
                AddressFormat::Csv => {
                    if a.headers {
                        text.push_str("address,name\n");
                    }
                    for (name, addr) in &rows {
                        text.push_str(&format!("{addr},{name}\n"));
                    }
                }
                AddressFormat::Yaml => {
                    let mut m = indexmap::IndexMap::new();
                    for (name, addr) in &rows {
                        m.entry(name.clone()).or_insert(addr.clone());
                    }
                    if !m.is_empty() {
                        text = serde_yaml::to_string(&m)?;
                    }
                }
            }
            match &a.output {
                Some(f) => std::fs::write(f, text)
                    .map_err(|e| RunError(format!("cannot write {}: {e}", f.display())))?,
                None => out.write_all(text.as_bytes())?,
            }
        }
        InstanceCmd::Number(a) => super::number::run(b, a, out)?,
        InstanceCmd::Wait(_) => unreachable!("instance wait is a plan"),
    }
    Ok(())
}

fn name_of(c: &InstanceCmd) -> &'static str {
    match c {
        InstanceCmd::Profiles(_) => "profiles",
        InstanceCmd::Wait(_) => "wait",
        InstanceCmd::Devices(_) => "devices",
        InstanceCmd::Hwaddr(_) => "hwaddr",
        InstanceCmd::Info(_) => "info",
        InstanceCmd::Addresses(_) => "addresses",
        InstanceCmd::Number(_) => "number",
    }
}

fn instance_arg(c: &InstanceCmd) -> Option<&str> {
    match c {
        InstanceCmd::Profiles(a) | InstanceCmd::Info(a) => Some(&a.instance),
        InstanceCmd::Devices(a) => Some(&a.instance),
        _ => None,
    }
}

/// Reads the builder's facts; any failure fails the query.
pub fn read(b: Builder) -> Result<HashMap<String, Vec<u8>>, RunError> {
    crate::runtime::execute::read_facts(&b.finish())
}

fn json<T: serde::Serialize>(out: &mut dyn Write, key: &str, v: &T) -> anyhow::Result<()> {
    let mut m = serde_json::Map::new();
    m.insert("format_version".into(), 1.into());
    m.insert(key.into(), serde_json::to_value(v)?);
    writeln!(out, "{}", serde_json::to_string_pretty(&m)?)?;
    Ok(())
}

/// A disk device as `instance devices` shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Disk {
    pub source: String,
    pub path: String,
    pub name: String,
    pub readonly: bool,
}

/// The disk devices of an expanded `config show`, sorted by source.
pub fn disk_devices(show: &[u8]) -> Result<Vec<Disk>, String> {
    let v: serde_yaml::Value =
        serde_yaml::from_slice(show).map_err(|e| format!("cannot read the instance's config: {e}"))?;
    let mut rows = Vec::new();
    if let Some(devices) = v.get("devices").and_then(|d| d.as_mapping()) {
        for (name, d) in devices {
            let field = |k: &str| d.get(k).map(scalar).unwrap_or_default();
            if field("type") != "disk" {
                continue;
            }
            rows.push(Disk {
                source: field("source"),
                path: field("path"),
                name: scalar(name),
                readonly: matches!(field("readonly").as_str(), "true" | "1" | "yes" | "on"),
            });
        }
    }
    rows.sort();
    Ok(rows)
}

/// A YAML scalar as text.
pub fn scalar(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// `(instance, address)` for every global address of the family, sorted.
pub fn addresses(list: &[u8], family: Family) -> Result<Vec<(String, String)>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(list).map_err(|e| format!("the instance list is not JSON: {e}"))?;
    let fam = match family {
        Family::Inet => "inet",
        Family::Inet6 => "inet6",
    };
    let mut rows = Vec::new();
    for i in v.as_array().into_iter().flatten() {
        let name = i["name"].as_str().unwrap_or_default().to_string();
        let Some(nets) = i["state"]["network"].as_object() else { continue };
        for net in nets.values() {
            for a in net["addresses"].as_array().into_iter().flatten() {
                if a["family"].as_str() == Some(fam) && a["scope"].as_str() == Some("global") {
                    rows.push((name.clone(), a["address"].as_str().unwrap_or_default().to_string()));
                }
            }
        }
    }
    rows.sort();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disks_from_an_expanded_config() {
        let show = b"devices:\n  eth0:\n    type: nic\n  home:\n    path: /home\n    readonly: \"true\"\n    source: /tank/w/home\n    type: disk\n  root:\n    path: /\n    pool: default\n    type: disk\n";
        let d = disk_devices(show).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].name.as_str(), d[0].source.as_str()), ("root", ""));
        assert_eq!((d[1].name.as_str(), d[1].readonly), ("home", true));
    }

    #[test]
    fn global_addresses_of_a_family() {
        let list = br#"[{"name":"b","state":{"network":{"eth0":{"addresses":[
            {"family":"inet","address":"10.0.0.2","scope":"global"},
            {"family":"inet6","address":"fe80::1","scope":"link"},
            {"family":"inet6","address":"fd00::2","scope":"global"}]},
            "lo":{"addresses":[{"family":"inet","address":"127.0.0.1","scope":"local"}]}}}},
            {"name":"a","state":null}]"#;
        assert_eq!(addresses(list, Family::Inet).unwrap(), vec![("b".into(), "10.0.0.2".into())]);
        assert_eq!(addresses(list, Family::Inet6).unwrap(), vec![("b".into(), "fd00::2".into())]);
        assert!(addresses(b"<html>", Family::Inet).is_err());
    }
}
