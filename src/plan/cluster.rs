//! Clusters (D36): an instance with a `target` lives on one member of an
//! Incus (or LXD) cluster, and its data with it.
//!
//! Server commands still go through the one client (the cluster forwards
//! them); host-side commands (zfs, mkdir, chown, rsync, rm …) and the host
//! conditions of checks and guards run on the member that holds the
//! instance, over ssh. The member is known when the plan is compiled (an
//! explicit member) or read at run time (`@GROUP`: the server chooses, and
//! lxops reads where it went before any host-side step). A unit on a
//! cluster first takes a lock on the server (a profile only one run can
//! create), so two runs from different hosts refuse each other.
//!
//! The retargeting is done by the [`Builder`](crate::plan::Builder) as steps
//! are added: plan functions stay as they are for a single host.

use crate::plan::model::{Action, Check, Cmd, Cond, Guarded, Kind, Parse, Step, Target, Word};
use crate::plan::{Builder, host, origin};
use crate::resolve::Instance;
use std::collections::BTreeSet;

/// Where the current unit's host-side work runs, and what it needs there.
#[derive(Debug, Clone)]
pub struct Remote {
    pub target: Target,
    /// The member, as a word for `--target` (a run-time value for `@GROUP`);
    /// none for a single remote server (`host-ssh`).
    pub member: Option<Word>,
    /// Programs the retargeted commands run on the member.
    pub programs: BTreeSet<String>,
    /// Where the member is checked (ssh, sudo, programs).
    pub check: CheckAt,
}

/// A preflight check (index in the plan's checks) or a step (0-based, in
/// the current unit).
#[derive(Debug, Clone, Copy)]
pub enum CheckAt {
    Plan(usize),
    Step(usize),
}

/// Whether the destination is known when the plan is made (an explicit
/// member, `host-ssh`): then host checks are preflight checks there.
pub fn dest_known(r: &Remote) -> bool {
    matches!(&r.target, Target::Ssh { dest, .. } if dest.vars().next().is_none())
}

/// The profile that locks an instance on a cluster for one lxops run.
pub fn lock_profile(name: &str) -> String {
    format!("{name}.lxops-lock")
}

/// How a member runs host commands that need root: through `sudo -n` (root
/// passes through), as the destination's user may be anyone.
fn ssh_target(dest: Word) -> Target {
    Target::Ssh { dest, sudo: true }
}

/// Programs that run on the host that runs lxops even in a clustered unit:
/// the server client (the cluster forwards it), the clock and ssh itself.
pub fn local_program(p: &str, cli: &str) -> bool {
    p == cli || p == "date" || p == "ssh"
}

/// Commands that stay on the host that runs lxops: [`local_program`]s and
/// commands already sent elsewhere.
fn stays(c: &Cmd, cli: &str) -> bool {
    c.target != Target::Local || local_program(&c.program(), cli)
}

/// The command, sent to the member unless it [`stays`].
pub fn retarget_cmd(c: &mut Cmd, r: &mut Remote, cli: &str) {
    if !stays(c, cli) {
        r.programs.insert(c.program());
        c.target = r.target.clone();
    }
}

/// The condition with its host leaves evaluated on the member: file tests
/// become `test`/`find`/`realpath` there, host commands run there.
pub fn retarget_cond(c: &Cond, r: &mut Remote, cli: &str) -> Cond {
    let on = |c: Cmd, r: &mut Remote| {
        r.programs.insert(c.program());
        c.on(r.target.clone())
    };
    match c {
        Cond::DirExists(p) => Cond::Succeeds(on(host::test("-d", p), r)),
        Cond::FileExists(p) => Cond::Succeeds(on(host::test("-f", p), r)),
        Cond::EmptyOrAbsent(p) => Cond::Or(vec![
            Cond::negate(Cond::Succeeds(on(host::test("-e", p), r))),
            Cond::Prints { cmd: on(host::find_empty_dir(p), r), want: p.clone() },
        ]),
        Cond::RealDir(p) => Cond::And(vec![
            Cond::Succeeds(on(host::test("-d", p), r)),
            Cond::negate(Cond::Succeeds(on(host::test("-L", p), r))),
            Cond::Prints { cmd: on(host::realpath(p), r), want: p.clone() },
        ]),
        Cond::Succeeds(cmd) => {
            let mut cmd = cmd.clone();
            retarget_cmd(&mut cmd, r, cli);
            Cond::Succeeds(cmd)
        }
        Cond::Prints { cmd, want } => {
            let mut cmd = cmd.clone();
            retarget_cmd(&mut cmd, r, cli);
            Cond::Prints { cmd, want: want.clone() }
        }
        Cond::Not(i) => Cond::negate(retarget_cond(i, r, cli)),
        Cond::And(v) => Cond::And(v.iter().map(|x| retarget_cond(x, r, cli)).collect()),
        Cond::Or(v) => Cond::Or(v.iter().map(|x| retarget_cond(x, r, cli)).collect()),
        Cond::Flag(_) | Cond::FactRow { .. } | Cond::ListEmpty(_) | Cond::ListIs { .. } => c.clone(),
    }
}

/// Whether the condition reads the host (and so must be read on the member).
pub fn reads_host(c: &Cond, cli: &str) -> bool {
    match c {
        Cond::DirExists(_) | Cond::FileExists(_) | Cond::EmptyOrAbsent(_) | Cond::RealDir(_) => true,
        Cond::Succeeds(cmd) | Cond::Prints { cmd, .. } => !stays(cmd, cli),
        Cond::Not(i) => reads_host(i, cli),
        Cond::And(v) | Cond::Or(v) => v.iter().any(|x| reads_host(x, cli)),
        Cond::Flag(_) | Cond::FactRow { .. } | Cond::ListEmpty(_) | Cond::ListIs { .. } => false,
    }
}

/// A step with its host-side commands and guard sent to the member.
pub fn retarget_step(s: &mut Step, r: &mut Remote, cli: &str) {
    if let Some(c) = &s.skip_if {
        s.skip_if = Some(retarget_cond(c, r, cli));
    }
    if s.kind != Kind::Host {
        return;
    }
    match &mut s.action {
        Action::Run(cmds) | Action::Pipe(cmds) => cmds.iter_mut().for_each(|c| retarget_cmd(c, r, cli)),
        Action::Capture { cmd, .. } | Action::ForEach { cmd, .. } => retarget_cmd(cmd, r, cli),
        Action::Assert { cond, .. } => *cond = retarget_cond(cond, r, cli),
        Action::WaitNetwork { .. } | Action::WaitReady { .. } => {}
    }
}

/// An undo or cleanup command, sent to the member when it is host-side.
pub fn retarget_guarded(g: &mut Guarded, r: &mut Remote, cli: &str) {
    retarget_cmd(&mut g.cmd, r, cli);
    if let Some(c) = &g.when {
        g.when = Some(retarget_cond(c, r, cli));
    }
}

/// A preflight check that reads the host, as a step of the unit on the
/// member (the member is known only in the unit).
pub fn check_step(c: Check, r: &mut Remote, cli: &str) -> Step {
    let cond = retarget_cond(&c.ok, r, cli);
    Step::new(
        "check",
        Kind::Host,
        format!("check on the member: {}", c.title),
        Action::Assert { cond, message: format!("{} ({})", c.error, c.hint) },
    )
}

/// The member check's command: sudo works there and every program the
/// unit runs there is found.
pub fn member_check_cmd(programs: &BTreeSet<String>, target: &Target) -> Cmd {
    host::programs_installed(programs.iter().map(String::as_str)).on(target.clone())
}

/// Starts the cluster part of an instance's unit: the lock, then (for an
/// instance that exists, or an explicit member) where its host-side steps
/// run. A launch onto `@GROUP` calls [`locate`] after the create.
pub fn enter(b: &mut Builder, inst: &Instance, exists: bool) {
    if inst.cluster.is_none() && inst.host_ssh.is_none() {
        return;
    }
    let be = b.backend();
    let (p, name) = (&inst.project, &inst.name);
    let lock = lock_profile(name);
    let profiles = b.profiles(p);
    b.check(
        format!("no other lxops run holds {name} (profile {lock})"),
        Cond::negate(Cond::has_key(&profiles, &lock)),
        format!("another lxops run holds {name}: profile {lock} exists"),
        format!(
            "wait for that run to end; if none is running (a run was killed), delete the profile: {} profile delete {lock}",
            be.cli()
        ),
    );
    let taken = b.var(&["locked", name]);
    b.step(
        Step::new(
            "lock",
            Kind::Server,
            format!("lock {name} on the cluster (create profile {lock})"),
            Action::Run(vec![be.profile_create(p, &lock)]),
        )
        .sets(taken.clone()),
    );
    b.cleanup(be.profile_delete(p, &lock), Some(Cond::Flag(taken)), None);
    let Some(cl) = &inst.cluster else {
        // A server that is not this machine: its host is `host-ssh`.
        let dest = inst.host_ssh.clone().expect("host-ssh");
        b.set_remote(Remote {
            target: ssh_target(Word::lit(dest)),
            member: None,
            programs: BTreeSet::new(),
            check: CheckAt::Step(0),
        });
        member_check(b, inst);
        return;
    };
    match cl.member() {
        Some(m) => {
            let target = ssh_target(Word::lit(cl.dest(m)));
            b.set_remote(Remote {
                target,
                member: Some(Word::lit(m)),
                programs: BTreeSet::new(),
                check: CheckAt::Step(0),
            });
            if exists {
                // Before the first change, like every check on the member.
                let instances = b.instances(p);
                let locations = b.locations(p);
                b.check(
                    format!("{name} is on cluster member {m} (or does not exist)"),
                    Cond::Or(vec![
                        Cond::negate(Cond::has_key(&instances, name)),
                        Cond::has_row(&locations, name, m),
                    ]),
                    format!("{name} is not on cluster member {m} (its target)"),
                    format!(
                        "lxops does not move instances between members (their data would stay behind); \
fix `target` ({} list -c nL shows where it is)",
                        be.cli()
                    ),
                );
            }
            member_check(b, inst);
        }
        None if exists => locate(b, inst),
        None => b.set_placement(Word::lit(&cl.target)),
    }
}

/// Reads where the server placed the instance (`info`, its `Location:`
/// line) and sends the host-side steps that follow there.
pub fn locate(b: &mut Builder, inst: &Instance) {
    let cl = inst.cluster.as_ref().expect("a cluster instance");
    let name = &inst.name;
    let raw = b.var(&["info", name]);
    let member = b.var(&["member", name]);
    let dest = b.var(&["ssh", name]);
    let outputs = vec![
        (member.clone(), Parse::Member { ssh: vec![] }),
        (dest.clone(), Parse::Member { ssh: cl.ssh.clone() }),
    ];
    b.step(
        Step::new(
            "location",
            Kind::Server,
            format!("read which cluster member holds {name}"),
            Action::Capture { cmd: b.backend().info(&inst.project, name), raw, outputs },
        )
        .origin(origin(inst.merged.origins.field("target", &inst.config_file), "target")),
    );
    let target = ssh_target(Word::var(&dest));
    b.set_remote(Remote {
        target,
        member: Some(Word::var(&member)),
        programs: BTreeSet::new(),
        check: CheckAt::Step(0),
    });
    member_check(b, inst);
}

/// The step that checks the member answers over ssh, sudo works there and
/// the unit's programs are installed (its list is completed when the unit
/// ends).
fn member_check(b: &mut Builder, inst: &Instance) {
    let target = b.remote_target().expect("a remote is set");
    let shown = match &target {
        Target::Ssh { dest, .. } => dest.as_lit().unwrap_or_else(|| "its ssh destination".to_string()),
        Target::Local => String::new(),
    };
    let (what, whose) = if inst.cluster.is_some() {
        ("member", "cluster member")
    } else {
        ("server's host", "server's host")
    };
    let title = format!(
        "the {what} of {} ({shown}) answers over ssh, sudo works, the plan's programs are there",
        inst.name
    );
    let cond = Cond::Succeeds(member_check_cmd(&BTreeSet::new(), &target));
    let error = format!(
        "the {whose} of {} cannot be reached over ssh, refuses sudo -n, or lacks a program",
        inst.name
    );
    let known = b.remote_known();
    if known {
        // Known when the plan is made: a preflight check, first on the member.
        let hint = "the error above says which; check the ssh destination (member-ssh.MEMBER or host-ssh) and sudo there";
        b.check(title, cond, error, hint);
        let at = b.plan.checks.len() - 1;
        b.set_member_check(CheckAt::Plan(at));
        return;
    }
    let at = b.step(Step::new(
        "member",
        Kind::Host,
        format!("check that {title}"),
        Action::Assert { cond, message: error },
    ));
    b.set_member_check(CheckAt::Step(at - 1));
}
