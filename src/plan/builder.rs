//! The [`Builder`]: how plan functions add facts, checks, units, steps,
//! undo windows and cleanup, and name run-time values.
//!
//! Every name it derives is injective: facts are keyed by what they read
//! (kind and project), run-time values get a fresh name each time, and undo
//! windows are opened and closed through handles.

use crate::plan::backend::Backend;
use crate::plan::cluster::Remote;
use crate::plan::model::{Action, Check, Cmd, Cond, Fact, Guarded, Plan, Step, Target, Undo, Unit, Word};
use crate::resolve::Instance;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};

/// Settings of one compilation that come from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub backend: Backend,
    /// Seconds to wait for an IPv4 address after start; `None`: do not wait.
    pub wait_network: Option<u32>,
    /// delete/destroy: stop a running instance first.
    pub force: bool,
}

/// What a fact reads, per project.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FactKind {
    Profiles,
    Instances,
    /// One instance's `config show`.
    Config(String),
    /// The UTC time in a `date` format, read once for the whole run.
    UtcTime(String),
    /// The image aliases.
    Aliases,
    /// Each instance's base image.
    BaseImages,
    /// The images, as JSON.
    Images,
    /// One config key of every instance.
    Key(String),
    /// Every instance of every project, as JSON.
    AllInstances,
    /// One instance's expanded `config show`.
    Expanded(String),
    /// One instance as the API describes it.
    Api(String),
    /// One profile's `profile show`.
    Profile(String),
    /// Each instance's cluster member.
    Locations,
}

/// An open undo window: the steps added until it is closed are covered.
#[must_use = "close the window with Builder::close_undo"]
pub struct UndoWindow {
    unit: usize,
    first: usize,
}

pub struct Builder {
    pub plan: Plan,
    pub settings: Settings,
    vars: BTreeSet<String>,
    facts: HashMap<(FactKind, String), String>,
    /// The input files recorded so far.
    input_set: std::collections::HashSet<String>,
    /// The instance names locked so far (a fleet locks thousands).
    lock_set: std::collections::HashSet<String>,
    /// Cloud-config files parsed so far: each is read once per invocation.
    cloud: HashMap<std::path::PathBuf, std::rc::Rc<crate::cloudconfig::CloudConfig>>,
    /// Where the current unit's host-side work runs (a cluster member, D36).
    remote: Option<Remote>,
    /// `--target` for the current unit's create or copy.
    placement: Option<Word>,
}

impl Builder {
    pub fn new(command: &str, settings: Settings) -> Builder {
        Builder {
            plan: Plan {
                command: command.to_string(),
                backend: settings.backend,
                locks: Vec::new(),
                programs: Vec::new(),
                facts: Vec::new(),
                checks: Vec::new(),
                units: Vec::new(),
                notes: Vec::new(),
                inputs: Vec::new(),
            },
            settings,
            vars: BTreeSet::new(),
            facts: HashMap::new(),
            input_set: Default::default(),
            lock_set: Default::default(),
            cloud: HashMap::new(),
            remote: None,
            placement: None,
        }
    }

    /// Sends the current unit's host-side work to a cluster member from now
    /// on (its instance is created there).
    pub fn set_remote(&mut self, r: Remote) {
        self.placement = r.member.clone();
        self.remote = Some(r);
        self.program("ssh");
    }

    /// The current unit's instance is created with `--target WORD`.
    pub fn set_placement(&mut self, w: Word) {
        self.placement = Some(w);
    }

    /// Whether the current unit's remote destination is known when the plan is made.
    pub fn remote_known(&self) -> bool {
        self.remote.as_ref().is_some_and(crate::plan::cluster::dest_known)
    }

    pub fn remote_target(&self) -> Option<Target> {
        self.remote.as_ref().map(|r| r.target.clone())
    }

    /// Marks the step or preflight check that checks the member; its
    /// program list is completed when the unit ends.
    pub fn set_member_check(&mut self, at: crate::plan::cluster::CheckAt) {
        if let Some(r) = &mut self.remote {
            r.check = at;
        }
    }

    /// The create or copy command, with the unit's `--target`.
    pub fn placed(&self, c: Cmd) -> Cmd {
        match &self.placement {
            Some(w) => c.push("--target").push(w.clone()),
            None => c,
        }
    }

    /// Ends the current unit's remote part: the member check lists the
    /// programs its steps run there.
    fn seal(&mut self) {
        self.placement = None;
        let Some(r) = self.remote.take() else { return };
        let cmd = crate::plan::cluster::member_check_cmd(&r.programs, &r.target);
        let cond = match r.check {
            crate::plan::cluster::CheckAt::Plan(i) => self.plan.checks.get_mut(i).map(|c| &mut c.ok),
            crate::plan::cluster::CheckAt::Step(i) => {
                match self.current().steps.get_mut(i).map(|s| &mut s.action) {
                    Some(Action::Assert { cond, .. }) => Some(cond),
                    _ => None,
                }
            }
        };
        if let Some(c) = cond {
            *c = Cond::Succeeds(cmd);
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

    /// Starts the unit of an instance: its steps follow; its name is locked.
    pub fn unit(&mut self, name: &str) {
        self.seal();
        self.plan.units.push(Unit {
            name: name.to_string(),
            steps: Vec::new(),
            undo: Vec::new(),
            cleanup: Vec::new(),
        });
        self.lock(name);
    }

    /// Starts a unit that acts on no instance (profiles, say): nothing to lock.
    pub fn group(&mut self, name: &str) {
        self.seal();
        self.plan.units.push(Unit {
            name: name.to_string(),
            steps: Vec::new(),
            undo: Vec::new(),
            cleanup: Vec::new(),
        });
    }

    /// Starts the unit of a resolved instance and records its input files.
    pub fn instance(&mut self, inst: &Instance, loader: &crate::load::Loader) {
        self.unit(&inst.name);
        let mut files: Vec<String> = inst.merged.files.iter().map(|f| f.display().to_string()).collect();
        files.extend(inst.cloud_config_files.iter().map(|f| f.display().to_string()));
        for f in files {
            if !self.input_set.insert(f.clone()) {
                continue;
            }
            let bytes = match loader.text_of(std::path::Path::new(&f)) {
                Some(t) => t.as_bytes().to_vec(),
                None => crate::input::read_bytes(std::path::Path::new(&f)).unwrap_or_default(),
            };
            self.plan.inputs.push((f, hex(&Sha256::digest(&bytes))));
        }
    }

    /// Records an input file and its checksum for the script header.
    pub fn input(&mut self, f: &std::path::Path) {
        let f = f.display().to_string();
        if !self.input_set.insert(f.clone()) {
            return;
        }
        let hash = Sha256::digest(crate::input::read_bytes(std::path::Path::new(&f)).unwrap_or_default());
        self.plan.inputs.push((f, hex(&hash)));
    }

    /// Locks an instance name for the run (every name the plan creates,
    /// renames or deletes).
    pub fn lock(&mut self, name: &str) {
        if self.lock_set.insert(name.to_string()) {
            self.plan.locks.push(name.to_string());
        }
    }

    pub fn program(&mut self, p: &str) {
        // On a cluster, host programs are needed on the member (checked there).
        if let Some(r) = &mut self.remote
            && !crate::plan::cluster::local_program(p, self.settings.backend.cli())
        {
            r.programs.insert(p.to_string());
            return;
        }
        if !self.plan.programs.iter().any(|x| x == p) {
            self.plan.programs.push(p.to_string());
        }
    }

    fn fact(&mut self, kind: FactKind, project: &str, cmd: Cmd) -> String {
        if let Some(v) = self.facts.get(&(kind.clone(), project.to_string())) {
            return v.clone();
        }
        let var = match &kind {
            FactKind::Profiles if project == "default" => self.var(&["profiles"]),
            FactKind::Profiles => self.var(&["profiles", project]),
            FactKind::Instances if project == "default" => self.var(&["instances"]),
            FactKind::Instances => self.var(&["instances", project]),
            FactKind::Config(name) => self.var(&["config", project, name]),
            FactKind::UtcTime(_) => self.var(&["time"]),
            FactKind::Aliases => self.var(&["aliases", project]),
            FactKind::BaseImages => self.var(&["base", "images", project]),
            FactKind::Images => self.var(&["images", project]),
            FactKind::Key(k) => self.var(&["key", project, k]),
            FactKind::AllInstances => self.var(&["all", "instances"]),
            FactKind::Expanded(n) => self.var(&["expanded", project, n]),
            FactKind::Api(n) => self.var(&["api", project, n]),
            FactKind::Profile(n) => self.var(&["profile", project, n]),
            FactKind::Locations => self.var(&["locations", project]),
        };
        self.facts.insert((kind, project.to_string()), var.clone());
        self.plan.facts.push(Fact { var: var.clone(), cmd });
        var
    }

    /// The fact holding the project's profiles, one CSV line each.
    pub fn profiles(&mut self, project: &str) -> String {
        let cmd = self.backend().profile_list(project);
        self.fact(FactKind::Profiles, project, cmd)
    }

    /// The fact holding the project's instances as `name,STATUS` lines.
    pub fn instances(&mut self, project: &str) -> String {
        let cmd = self.backend().instance_list(project);
        self.fact(FactKind::Instances, project, cmd)
    }

    /// The fact holding `name,member` of each instance (clusters).
    pub fn locations(&mut self, project: &str) -> String {
        let cmd = self.backend().instance_locations(project);
        self.fact(FactKind::Locations, project, cmd)
    }

    /// The fact holding the project's image aliases, one CSV line each.
    pub fn image_aliases(&mut self, project: &str) -> String {
        let cmd = self.backend().image_alias_list(project);
        self.fact(FactKind::Aliases, project, cmd)
    }

    /// The fact holding `name,fingerprint` of each instance's base image.
    pub fn base_images(&mut self, project: &str) -> String {
        let cmd = self.backend().base_image_list(project);
        self.fact(FactKind::BaseImages, project, cmd)
    }

    /// The fact holding the project's images as JSON.
    pub fn images(&mut self, project: &str) -> String {
        let cmd = self.backend().image_list_json(project);
        self.fact(FactKind::Images, project, cmd)
    }

    /// The fact holding `name,value` of a config key of every instance.
    pub fn key_values(&mut self, project: &str, key: &str) -> String {
        let cmd = self.backend().key_list(project, key);
        self.fact(FactKind::Key(key.to_string()), project, cmd)
    }

    /// The fact holding every instance of every project, as JSON.
    pub fn all_instances(&mut self) -> String {
        let cmd = self.backend().list_all_json();
        self.fact(FactKind::AllInstances, "", cmd)
    }

    /// The fact holding an instance's expanded `config show`.
    pub fn expanded_config(&mut self, project: &str, name: &str) -> String {
        let cmd = self.backend().show_expanded(project, name);
        self.fact(FactKind::Expanded(name.to_string()), project, cmd)
    }

    /// The fact holding an instance as the API describes it (JSON).
    pub fn instance_api(&mut self, project: &str, name: &str) -> String {
        let cmd = self.backend().instance_api(project, name);
        self.fact(FactKind::Api(name.to_string()), project, cmd)
    }

    /// The fact holding a profile's `profile show`.
    pub fn profile_show(&mut self, project: &str, name: &str) -> String {
        let cmd = self.backend().profile_show(project, name);
        self.fact(FactKind::Profile(name.to_string()), project, cmd)
    }

    /// The fact holding the UTC time in `format` when the plan runs (a
    /// snapshot name shared by every instance of the run).
    pub fn utc_time(&mut self, format: &str) -> String {
        self.program("date");
        let cmd = crate::plan::host::utc_time(format);
        self.fact(FactKind::UtcTime(format.to_string()), "", cmd)
    }

    /// The fact holding an instance's `config show` (a query's input).
    pub fn instance_config(&mut self, project: &str, name: &str) -> String {
        let cmd = self.backend().show(project, name);
        self.fact(FactKind::Config(name.to_string()), project, cmd)
    }

    pub fn check(
        &mut self,
        title: impl Into<String>,
        ok: Cond,
        error: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let c = Check { title: title.into(), ok, error: error.into(), hint: hint.into() };
        let cli = self.settings.backend.cli();
        // On a cluster, what a check reads on the host is read on the member.
        if let Some(r) = &mut self.remote
            && crate::plan::cluster::reads_host(&c.ok, cli)
        {
            // Known when the plan is made: checked before the first change,
            // there. Known only at run time: a step once it is.
            if crate::plan::cluster::dest_known(r) {
                let ok = crate::plan::cluster::retarget_cond(&c.ok, r, cli);
                self.plan.checks.push(Check { ok, ..c });
            } else {
                let s = crate::plan::cluster::check_step(c, r, cli);
                self.current().steps.push(s);
            }
            return;
        }
        self.plan.checks.push(c);
    }

    fn current(&mut self) -> &mut Unit {
        self.plan.units.last_mut().expect("a unit is started before its steps")
    }

    /// Adds a step to the current unit; returns its number in the unit.
    pub fn step(&mut self, mut s: Step) -> usize {
        let cli = self.settings.backend.cli();
        if let Some(r) = &mut self.remote {
            crate::plan::cluster::retarget_step(&mut s, r, cli);
        }
        let u = self.current();
        u.steps.push(s);
        u.steps.len()
    }

    /// Opens an undo window at the next step of the current unit.
    pub fn open_undo(&mut self) -> UndoWindow {
        let unit = self.plan.units.len() - 1;
        UndoWindow { unit, first: self.plan.units[unit].steps.len() + 1 }
    }

    /// Closes a window: if a step added since it was opened fails, `cmds`
    /// run, then `message` is printed.
    pub fn close_undo(&mut self, w: UndoWindow, mut cmds: Vec<Guarded>, message: Vec<Word>) {
        self.on_member(&mut cmds);
        let unit = &mut self.plan.units[w.unit];
        let last = unit.steps.len();
        if last >= w.first {
            unit.undo.push(Undo { first: w.first, last, cmds, message });
        }
    }

    /// A command that runs when the current unit ends, whatever happened,
    /// if its condition holds (once per element of `each`, when given).
    pub fn cleanup(&mut self, cmd: Cmd, when: Option<Cond>, each: Option<crate::plan::model::Each>) {
        let mut g = vec![Guarded { cmd, when, each }];
        self.on_member(&mut g);
        self.current().cleanup.extend(g);
    }

    /// Undo and cleanup commands that are host-side go to the member.
    fn on_member(&mut self, cmds: &mut [Guarded]) {
        let cli = self.settings.backend.cli();
        if let Some(r) = &mut self.remote {
            cmds.iter_mut().for_each(|g| crate::plan::cluster::retarget_guarded(g, r, cli));
        }
    }

    /// Like [`Builder::cleanup`], but before the cleanup added so far (a
    /// clone goes before the snapshot it was made from).
    pub fn cleanup_first(&mut self, cmd: Cmd, when: Option<Cond>) {
        let mut g = vec![Guarded { cmd, when, each: None }];
        self.on_member(&mut g);
        self.current().cleanup.insert(0, g.remove(0));
    }

    /// A fresh run-time value name built from `parts`.
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

    /// The plan, keeping only the flags something reads.
    pub fn finish(mut self) -> Plan {
        if !self.plan.units.is_empty() {
            self.seal();
        }
        let mut read = Vec::new();
        for u in &self.plan.units {
            for s in &u.steps {
                read.extend(s.reads());
            }
            for g in u.undo.iter().flat_map(|w| w.cmds.iter()).chain(u.cleanup.iter()) {
                read.extend(g.reads());
            }
        }
        for c in &self.plan.checks {
            c.ok.vars(&mut read);
        }
        // A set: a fleet's plan has thousands of values.
        let read: std::collections::HashSet<String> = read.into_iter().collect();
        for u in &mut self.plan.units {
            for s in &mut u.steps {
                s.sets.retain(|v| read.contains(v));
            }
        }
        self.plan
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `file: key` for a step's origin.
pub fn origin(file: &std::path::Path, key: &str) -> String {
    format!("{}: {key}", file.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::{Action, Kind};

    fn builder() -> Builder {
        Builder::new("t", Settings { backend: Backend::Incus, wait_network: None, force: false })
    }

    /// Projects whose names differ only in punctuation get their own facts.
    #[test]
    fn facts_are_keyed_by_what_they_read() {
        let mut b = builder();
        let (a, c) = (b.instances("a-b"), b.instances("a.b"));
        assert_ne!(a, c);
        assert_eq!(b.instances("a-b"), a, "read once per project");
        assert_eq!(b.plan.facts.len(), 2);
    }

    /// An undo window covers exactly the steps added while it was open.
    #[test]
    fn undo_windows_cover_the_steps_between_open_and_close() {
        let mut b = builder();
        b.unit("w");
        let step = |id: &str| Step::new(id, Kind::Server, id, Action::Run(vec![]));
        b.step(step("before"));
        let w = b.open_undo();
        b.step(step("in1"));
        b.step(step("in2"));
        b.close_undo(w, vec![], vec![]);
        b.step(step("after"));
        let u = &b.plan.units[0];
        assert_eq!((u.undo[0].first, u.undo[0].last), (2, 3));
        let empty = b.open_undo();
        b.close_undo(empty, vec![], vec![]);
        assert_eq!(b.plan.units[0].undo.len(), 1, "a window over no step is dropped");
    }

    #[test]
    fn run_time_names_are_fresh() {
        let mut b = builder();
        let (x, y) = (b.var(&["a-b"]), b.var(&["a.b"]));
        assert_ne!(x, y);
    }
}
