//! `profile apply|reorder|export|import` plans and the facts of the
//! `profile diff` query.
//!
//! The expected list is the config's `profiles` followed by the instance
//! profile, with no implicit `default` (as the original does; unlike launch).

use crate::plan::Builder;
use crate::plan::model::{Action, Cond, Kind, Parse, Step, Word};
use crate::resolve::Instance;

/// The profiles a config gives its instance, in order.
pub fn expected(inst: &Instance) -> Vec<String> {
    let mut p = inst.profiles.clone();
    p.push(inst.profile.clone());
    p
}

/// A check that the instance exists.
fn exists(b: &mut Builder, inst: &Instance) {
    let instances = b.instances(&inst.project);
    b.check(
        format!("instance {} exists", inst.name),
        Cond::has_key(&instances, &inst.name),
        format!("instance {} does not exist", inst.name),
        "launch it first (lxops launch)",
    );
}

/// profile apply: the instance gets exactly the expected profiles, in order.
pub fn apply(b: &mut Builder, inst: &Instance) {
    let be = b.backend();
    b.program(be.cli());
    exists(b, inst);
    let e = expected(inst);
    b.step(Step::new(
        "profiles",
        Kind::Server,
        format!("give {} the profiles {}", inst.name, e.join(", ")),
        Action::Run(vec![be.profile_assign(&inst.project, &inst.name, Word::lit(e.join(",")))]),
    ));
}

/// profile reorder: when the instance has exactly the expected profiles in
/// another order, put them in the config's order; when it has others, fail.
pub fn reorder(b: &mut Builder, inst: &Instance) {
    let be = b.backend();
    b.program(be.cli());
    exists(b, inst);
    let e = expected(inst);
    let name = &inst.name;
    let raw = b.var(&["config", name]);
    let current = b.var(&["current", name]);
    b.step(Step::new(
        "read-profiles",
        Kind::Server,
        format!("read {name}'s profiles"),
        Action::Capture {
            cmd: be.show(&inst.project, name),
            raw,
            outputs: vec![(current.clone(), Parse::ProfileNames)],
        },
    ));
    b.step(Step::new(
        "same-profiles",
        Kind::Server,
        format!("check that {name} has the profiles {} (in any order)", e.join(", ")),
        Action::Assert {
            cond: Cond::ListIs { list: current.clone(), items: e.clone(), ordered: false },
            message: format!("profiles differ: {name} (use lxops profile apply to set them)"),
        },
    ));
    b.step(
        Step::new(
            "reorder",
            Kind::Server,
            format!("put {name}'s profiles in the order {}", e.join(", ")),
            Action::Run(vec![be.profile_assign(&inst.project, name, Word::lit(e.join(",")))]),
        )
        .skip_if(
            Cond::ListIs { list: current, items: e, ordered: true },
            "the profiles are in the config's order",
        ),
    );
}

/// profile export: each profile's `profile show` YAML into `DIR/NAME`; with
/// no names, every profile the project has when the plan runs.
pub fn export(b: &mut Builder, project: &str, dir: &str, names: &[String]) {
    let be = b.backend();
    b.program(be.cli());
    b.program("mkdir");
    b.group("profiles");
    let profiles = b.profiles(project);
    for n in names {
        b.check(
            format!("profile {n} exists"),
            Cond::has_key(&profiles, n),
            format!("profile {n} does not exist"),
            format!("list the profiles with: {} profile list", be.cli()),
        );
    }
    b.step(Step::new(
        "dir",
        Kind::Host,
        format!("create directory {dir}"),
        Action::Run(vec![crate::plan::host::mkdir_p_mine(dir)]),
    ));
    if names.is_empty() {
        let raw = b.var(&["profile", "list"]);
        let all = b.var(&["profile", "names"]);
        let item = b.var(&["profile"]);
        b.step(Step::new(
            "names",
            Kind::Server,
            "list the project's profiles",
            Action::Capture {
                cmd: be.profile_list(project),
                raw,
                outputs: vec![(all.clone(), Parse::CsvNames)],
            },
        ));
        let file = Word::lit(format!("{dir}/")).then(Word::var(&item));
        b.step(Step::new(
            "export",
            Kind::Server,
            format!("write each profile to {dir}/NAME"),
            Action::ForEach {
                list: all,
                item: item.clone(),
                unless_in: None,
                cmd: be.profile_show(project, Word::var(&item)).stdout_file(file),
                collect: None,
                tolerant: false,
            },
        ));
        return;
    }
    for n in names {
        b.step(Step::new(
            &format!("export/{n}"),
            Kind::Server,
            format!("write profile {n} to {dir}/{n}"),
            Action::Run(vec![be.profile_show(project, n).stdout_file(Word::lit(format!("{dir}/{n}")))]),
        ));
    }
}

/// profile import: each profile created when missing, then given the
/// file's content (`profile edit` replaces config, description and devices).
pub fn import(b: &mut Builder, project: &str, files: &[(String, String, String)]) {
    let be = b.backend();
    b.program(be.cli());
    b.group("profiles");
    let profiles = b.profiles(project);
    for (name, file, yaml) in files {
        b.step(
            Step::new(
                &format!("create/{name}"),
                Kind::Server,
                format!("create profile {name}"),
                Action::Run(vec![be.profile_create(project, name)]),
            )
            .origin(file.clone())
            .skip_if(Cond::has_key(&profiles, name), format!("profile {name} exists")),
        );
        b.step(
            Step::new(
                &format!("edit/{name}"),
                Kind::Server,
                format!("give profile {name} the content of {file}"),
                Action::Run(vec![be.profile_edit(project, name, yaml.clone())]),
            )
            .origin(file.clone()),
        );
    }
}

/// Why a profile file cannot be imported, if it cannot: it must be a YAML
/// mapping whose `config` maps names to strings, `description` is a string
/// and `devices` maps names to mappings of strings (other keys, like those
/// `profile show` adds, are ignored by the server).
pub fn profile_file_problem(text: &str) -> Option<String> {
    let v: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => return Some(format!("not YAML: {e}")),
    };
    let Some(m) = v.as_mapping() else { return Some("not a YAML mapping".into()) };
    let scalar = |v: &serde_yaml::Value| v.is_string() || v.is_bool() || v.is_number();
    if let Some(c) = m.get("config")
        && !c.is_null()
        && !c.as_mapping().is_some_and(|c| c.values().all(scalar))
    {
        return Some("`config` must map keys to values".into());
    }
    if let Some(d) = m.get("description")
        && !(d.is_null() || d.is_string())
    {
        return Some("`description` must be text".into());
    }
    if let Some(d) = m.get("devices")
        && !d.is_null()
        && !d
            .as_mapping()
            .is_some_and(|d| d.values().all(|x| x.as_mapping().is_some_and(|x| x.values().all(scalar))))
    {
        return Some("`devices` must map device names to key: value mappings".into());
    }
    None
}

/// profile diff: the fact holding the instance's `config show`.
pub fn diff_facts(b: &mut Builder, inst: &Instance) -> String {
    b.program(b.backend().cli());
    b.instance_config(&inst.project, &inst.name)
}

/// How an instance's profiles differ from the expected ones.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProfileDiff {
    pub instance: String,
    pub expected: Vec<String>,
    pub actual: Vec<String>,
    pub only_in_config: Vec<String>,
    pub only_in_instance: Vec<String>,
    /// Same profiles, another order.
    pub order_differs: bool,
}

impl ProfileDiff {
    pub fn new(instance: &str, expected: Vec<String>, actual: Vec<String>) -> ProfileDiff {
        let only_in_config: Vec<String> = expected.iter().filter(|p| !actual.contains(p)).cloned().collect();
        let only_in_instance: Vec<String> =
            actual.iter().filter(|p| !expected.contains(p)).cloned().collect();
        let order_differs = only_in_config.is_empty() && only_in_instance.is_empty() && expected != actual;
        ProfileDiff {
            instance: instance.to_string(),
            expected,
            actual,
            only_in_config,
            only_in_instance,
            order_differs,
        }
    }

    pub fn in_sync(&self) -> bool {
        self.expected == self.actual
    }

    /// The original's wording, one line per difference.
    pub fn lines(&self) -> Vec<String> {
        let mut l = Vec::new();
        if !self.only_in_config.is_empty() {
            l.push(format!("{} profiles only in config: {}", self.instance, self.only_in_config.join(" ")));
        }
        if !self.only_in_instance.is_empty() {
            l.push(format!(
                "{} profiles only in container: {}",
                self.instance,
                self.only_in_instance.join(" ")
            ));
        }
        if self.order_differs {
            l.push(format!("{} profiles are in different order: {}", self.instance, self.expected.join(" ")));
        }
        if l.is_empty() && !self.in_sync() {
            // Same names, but one is listed twice on one side.
            l.push(format!(
                "{} profiles differ: config {}, container {}",
                self.instance,
                self.expected.join(" "),
                self.actual.join(" ")
            ));
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn diffs() {
        assert!(ProfileDiff::new("w", v(&["a", "w.lxops"]), v(&["a", "w.lxops"])).lines().is_empty());
        assert_eq!(
            ProfileDiff::new("w", v(&["a", "w.lxops"]), v(&["default", "w.lxops"])).lines(),
            vec!["w profiles only in config: a", "w profiles only in container: default"]
        );
        assert_eq!(
            ProfileDiff::new("w", v(&["a", "w.lxops"]), v(&["w.lxops", "a"])).lines(),
            vec!["w profiles are in different order: a w.lxops"]
        );
    }
}
