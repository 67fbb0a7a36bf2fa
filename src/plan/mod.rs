//! Compiling commands into plans.
//!
//! One function per command builds its steps from resolved instances
//! ([`lifecycle`]); the filesystem and device steps shared by launch and
//! create-devices are in [`devices`]. The [`Builder`] collects facts (read
//! once per project), preflight checks and steps, and names run-time
//! variables. Decisions that need the host are left to guards and checks.

pub mod backend;
pub mod devices;
pub mod lifecycle;
pub mod model;
pub mod rebuild;

use crate::resolve::Instance;
use backend::Backend;
use model::{Check, Cmd, Cond, Fact, Plan, Step};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Settings of one compilation that come from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub backend: Backend,
    /// Seconds to wait for an IPv4 address after start; `None`: do not wait.
    pub wait_network: Option<u32>,
    /// delete/destroy: stop a running instance first.
    pub force: bool,
}

pub struct Builder {
    pub plan: Plan,
    pub settings: Settings,
    vars: BTreeSet<String>,
    /// Cloud-config files parsed so far: each is read once per invocation.
    cloud: std::collections::HashMap<std::path::PathBuf, std::rc::Rc<crate::cloudconfig::CloudConfig>>,
}

impl Builder {
    pub fn new(command: &str, settings: Settings) -> Builder {
        Builder {
            plan: Plan {
                command: command.to_string(),
                backend: settings.backend,
                instances: Vec::new(),
                programs: Vec::new(),
                facts: Vec::new(),
                checks: Vec::new(),
                steps: Vec::new(),
                notes: Vec::new(),
                rollbacks: Vec::new(),
                inputs: Vec::new(),
            },
            settings,
            vars: BTreeSet::new(),
            cloud: Default::default(),
        }
    }

    /// A parsed cloud-config file, read and parsed at most once.
    pub fn cloud_config(
        &mut self,
        path: &std::path::Path,
    ) -> Result<std::rc::Rc<crate::cloudconfig::CloudConfig>, crate::diag::ConfigError> {
        if let Some(c) = self.cloud.get(path) {
            return Ok(c.clone());
        }
        let c = std::rc::Rc::new(crate::cloudconfig::read_file(path)?);
        self.cloud.insert(path.to_path_buf(), c.clone());
        Ok(c)
    }

    pub fn backend(&self) -> Backend {
        self.settings.backend
    }

    /// Registers an instance: its lock, and its input files for the header.
    pub fn instance(&mut self, inst: &Instance, loader: &crate::load::Loader) {
        self.plan.instances.push(inst.name.clone());
        let mut files: Vec<String> = inst.merged.files.iter().map(|f| f.display().to_string()).collect();
        files.extend(inst.cloud_config_files.iter().map(|f| f.display().to_string()));
        for f in files {
            if self.plan.inputs.iter().any(|(p, _)| *p == f) {
                continue;
            }
            let bytes = match loader.text_of(std::path::Path::new(&f)) {
                Some(t) => t.as_bytes().to_vec(),
                None => std::fs::read(&f).unwrap_or_default(),
            };
            let hash = Sha256::digest(&bytes);
            let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            self.plan.inputs.push((f, hex));
        }
    }

    /// Records an input file and its checksum for the script header.
    pub fn input(&mut self, f: &std::path::Path) {
        let f = f.display().to_string();
        if self.plan.inputs.iter().any(|(p, _)| *p == f) {
            return;
        }
        let hash = Sha256::digest(std::fs::read(&f).unwrap_or_default());
        self.plan.inputs.push((f, hash.iter().map(|b| format!("{b:02x}")).collect()));
    }

    pub fn program(&mut self, p: &str) {
        if !self.plan.programs.iter().any(|x| x == p) {
            self.plan.programs.push(p.to_string());
        }
    }

    fn fact(&mut self, var: String, cmd: Cmd) -> String {
        if !self.plan.facts.iter().any(|f| f.var == var) {
            self.plan.facts.push(Fact { var: var.clone(), cmd });
        }
        var
    }

    /// The fact holding the project's profile names, one per line.
    pub fn profiles(&mut self, project: &str) -> String {
        let cmd = self.backend().profile_list(project);
        self.fact(fact_name("PROFILES", project), cmd)
    }

    /// The fact holding the project's instances as `name,STATUS` lines.
    pub fn instances(&mut self, project: &str) -> String {
        let cmd = self.backend().instance_list(project);
        self.fact(fact_name("INSTANCES", project), cmd)
    }

    pub fn check(
        &mut self,
        title: impl Into<String>,
        ok: Cond,
        error: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.plan.checks.push(Check {
            title: title.into(),
            ok,
            error: error.into(),
            hint: hint.into(),
            state: true,
        });
    }

    pub fn step(&mut self, s: Step) {
        self.plan.steps.push(s);
    }

    /// A fresh run-time variable name built from `parts`.
    pub fn var(&mut self, parts: &[&str]) -> String {
        let base: String = parts
            .join("_")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
            .collect();
        let base = format!("lxops_{base}");
        let mut v = base.clone();
        let mut n = 2;
        while !self.vars.insert(v.clone()) {
            v = format!("{base}_{n}");
            n += 1;
        }
        v
    }

    /// The plan, keeping only the variables some guard reads.
    pub fn finish(mut self) -> Plan {
        let mut read = Vec::new();
        for s in &self.plan.steps {
            if let Some(c) = &s.skip_if {
                c.vars(&mut read);
            }
        }
        for c in &self.plan.checks {
            c.ok.vars(&mut read);
        }
        for r in &self.plan.rollbacks {
            for c in r.cmds.iter().filter_map(|(_, c)| c.as_ref()) {
                c.vars(&mut read);
            }
        }
        for s in &mut self.plan.steps {
            s.sets.retain(|v| read.contains(v));
        }
        self.plan
    }
}

fn fact_name(base: &str, project: &str) -> String {
    if project == "default" {
        base.to_string()
    } else {
        let p: String = project
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
            .collect();
        format!("{base}_{p}")
    }
}

/// `file: key` for a step's origin.
pub fn origin(file: &std::path::Path, key: &str) -> String {
    format!("{}: {key}", file.display())
}
