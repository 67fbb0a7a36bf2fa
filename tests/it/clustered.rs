//! The cluster tier (D36): lxops against a real three-member Incus cluster
//! brought up by `ci/cluster-up.sh` (three incusd, each in its own network
//! and mount namespace with its own sshd and its own zfs-fuse pool `lxcl`,
//! and `/srv/lxcl` bound to member-local storage). The tests fail, never
//! skip, when the cluster is down; the fast tier leaves them out by name.
//!
//! Every scenario runs twice, with `--execute` and as a rendered script,
//! on its own instances. What is checked is where things happen: each
//! member's ssh log (a `ForceCommand` wrapper records every command) shows
//! the host-side steps of its own instances and no other's, and the data a
//! container writes is in its own member's pool and nowhere else.

use crate::real::parse_env_file;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ENV_FILE: &str = "/var/tmp/lxops-cluster/env.sh";
const MEMBERS: [&str; 3] = ["m1", "m2", "m3"];

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> bool {
        self.status == 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Execute,
    Script,
}

/// The cluster as the env file describes it, and a work directory.
struct Cl {
    env: BTreeMap<String, String>,
    work: PathBuf,
    /// Extra PATH entries first (the fault shim).
    path_prefix: Option<PathBuf>,
    scripts: std::cell::Cell<usize>,
}

impl Cl {
    fn start(test: &str) -> Cl {
        let text = std::fs::read_to_string(ENV_FILE).unwrap_or_else(|e| {
            panic!("the cluster is not up ({ENV_FILE}: {e}); bring it up with `bash ci/cluster-up.sh`")
        });
        let env = parse_env_file(&text);
        let work = std::env::temp_dir().join(format!("lxcl-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(work.join("xdg/lxops")).unwrap();
        let cl = Cl { env, work, path_prefix: None, scripts: std::cell::Cell::new(0) };
        let members = cl.must("incus", &["cluster", "list", "-f", "csv", "-c", "ns"]);
        for m in MEMBERS {
            assert!(
                members.lines().any(|l| l == format!("{m},ONLINE")),
                "member {m} is not ONLINE:\n{members}"
            );
        }
        let mut props: String =
            MEMBERS.iter().map(|m| format!("member-ssh.{m}: {}\n", cl.ssh_of(m))).collect();
        // Launch also passes it with -P; later commands read it from here.
        props.push_str("place: \"@default\"\n");
        std::fs::write(cl.work.join("xdg/lxops/properties.yaml"), props).unwrap();
        cl
    }

    fn ssh_of(&self, m: &str) -> String {
        self.env.get(&format!("LXOPS_CLUSTER_SSH_{m}")).cloned().unwrap_or_else(|| panic!("no ssh for {m}"))
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let path = self.env.get("PATH").cloned().unwrap_or_default();
        let path = match &self.path_prefix {
            Some(p) => format!("{}:{path}", p.display()),
            None => path,
        };
        c.env("PATH", path).env("XDG_CONFIG_HOME", self.work.join("xdg")).env_remove("LXOPS_BACKEND");
        c.current_dir(&self.work).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> Run {
        let out = self.command(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn must(&self, program: &str, args: &[&str]) -> String {
        let r = self.run(program, args);
        assert!(
            r.ok(),
            "`{program} {}` failed ({}):\n{}",
            args.join(" "),
            r.status,
            crate::real::readable(&r.stderr)
        );
        r.stdout
    }

    /// Runs a command inside a member's namespaces (its pool, its /srv/lxcl).
    fn on(&self, member: &str, args: &[&str]) -> Run {
        let mut a = vec![member];
        a.extend_from_slice(args);
        self.run("lxcl-member", &a)
    }

    fn lxops(&self, mode: Mode, command: &str, args: &[&str]) -> Run {
        let started = Instant::now();
        let r = match mode {
            Mode::Execute => {
                let mut a = vec!["--backend", "incus", command, "--execute", "--yes"];
                a.extend_from_slice(args);
                self.run(env!("CARGO_BIN_EXE_lxops"), &a)
            }
            Mode::Script => {
                let mut a = vec!["--backend", "incus", "script", command];
                a.extend_from_slice(args);
                let r = self.run(env!("CARGO_BIN_EXE_lxops"), &a);
                assert!(r.ok(), "lxops {}: {}", a.join(" "), r.stderr);
                let n = self.scripts.get() + 1;
                self.scripts.set(n);
                let file = self.work.join(format!("{n:02}-{command}.sh"));
                std::fs::write(&file, &r.stdout).unwrap();
                self.run("bash", &[file.to_str().unwrap(), "--yes"])
            }
        };
        eprintln!(
            "[cluster] {mode:?} {command} {} -> exit {} in {:.2?}",
            args.join(" "),
            r.status,
            started.elapsed()
        );
        r
    }

    fn lxops_ok(&self, mode: Mode, command: &str, args: &[&str]) -> Run {
        let r = self.lxops(mode, command, args);
        assert!(
            r.ok(),
            "{mode:?} lxops {command} {} failed ({}):\n{}",
            args.join(" "),
            r.status,
            crate::real::readable(&r.stderr)
        );
        r
    }

    /// The member that holds the instance.
    fn location(&self, name: &str) -> String {
        let out = self.must("incus", &["list", "-f", "csv", "-c", "nL"]);
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name},")))
            .unwrap_or_else(|| panic!("{name} is not listed:\n{out}"))
            .to_string()
    }

    fn ssh_log(&self, m: &str) -> String {
        let dir = self.env.get("LXOPS_CLUSTER_DIR").expect("LXOPS_CLUSTER_DIR");
        std::fs::read_to_string(Path::new(dir).join(m).join("ssh-commands.log")).unwrap_or_default()
    }

    fn exec(&self, name: &str, script: &str) -> Run {
        self.run("incus", &["exec", name, "--", "sh", "-c", script])
    }

    fn wait_exec(&self, name: &str) {
        let start = Instant::now();
        while !self.exec(name, "true").ok() {
            assert!(start.elapsed() < Duration::from_secs(60), "{name} does not answer exec");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn key(&self, name: &str, key: &str) -> String {
        self.must("incus", &["config", "get", name, key]).trim().to_string()
    }

    fn ipv4(&self, name: &str) -> String {
        let out = self.must("incus", &["list", name, "-f", "csv", "-c", "n4"]);
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name},")))
            .map(|v| v.trim_matches('"').split(' ').next().unwrap_or("").to_string())
            .unwrap_or_default()
    }

    /// Deletes the test's instances, lock profiles, datasets and directories.
    fn clean(&self, names: &[String]) {
        for n in names {
            for i in [n.clone(), format!("{n}-lxops-fallback"), format!("{n}-lxops-new")] {
                let _ = self.run("incus", &["delete", "--force", &i]);
            }
            for p in [format!("{n}.lxops"), format!("{n}.lxops-lock")] {
                let _ = self.run("incus", &["profile", "delete", &p]);
            }
            for m in MEMBERS {
                let _ = self.on(m, &["zfs", "destroy", "-r", &format!("lxcl/{n}")]);
                let _ = self.on(m, &["rm", "-rf", &format!("/srv/lxcl/{n}")]);
            }
        }
    }
}

fn config(target: &str) -> String {
    format!(
        "#lxops-v1
ostype: alpine
image: tiny
target: {target}
profiles: [default]
device-owner: 1000000:1000000
filesystems:
  data:
    pattern: lxcl/(instance)
    destroy: true
  dirs:
    pattern: /srv/lxcl/(instance)
    destroy: true
devices:
  data:
    path: /data
    filesystem: data
  home:
    path: /home/user
    filesystem: dirs
"
    )
}

/// A fault shim: `incus` that fails the first call matching `$LXOPS_FAULT`.
fn shim(cl: &Cl) -> PathBuf {
    let dir = cl.work.join("shim");
    std::fs::create_dir_all(&dir).unwrap();
    let real = Path::new(cl.env.get("LXOPS_CLUSTER_DIR").unwrap()).join("bin/incus");
    let body = format!(
        "#!/bin/bash\nif [ -n \"${{LXOPS_FAULT:-}}\" ] && [[ \" $* \" == *\"$LXOPS_FAULT\"* ]] && [ ! -e \"$LXOPS_FAULT_DONE\" ]; then\n  : > \"$LXOPS_FAULT_DONE\"; echo \"injected fault: $*\" >&2; exit 1\nfi\nexec {} \"$@\"\n",
        real.display()
    );
    let f = dir.join("incus");
    std::fs::write(&f, body).unwrap();
    cl.must("chmod", &["755", f.to_str().unwrap()]);
    dir
}

#[test]
fn instances_and_their_data_live_on_their_members() {
    let mut cl = Cl::start("members");
    let shim = shim(&cl);
    let mut fails: Vec<String> = Vec::new();
    let mut check = |what: String, ok: bool, detail: String| {
        if !ok {
            fails.push(format!("{what}: {detail}"));
        }
    };
    let tag = std::process::id() % 10000;
    let mut all: Vec<String> = Vec::new();
    for mode in [Mode::Execute, Mode::Script] {
        let m = if mode == Mode::Execute { "x" } else { "s" };
        // Two explicit members and one placed by the server (a property-substituted target).
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| format!("lxcl{tag}-{m}{s}")).collect();
        all.extend(names.iter().cloned());
        cl.clean(&names);
        for (n, t) in names.iter().zip(["m1", "m2", "(place)"]) {
            std::fs::write(cl.work.join(format!("{n}.yaml")), config(t)).unwrap();
        }
        let cfg = |n: &String| format!("{n}.yaml");
        for n in &names {
            cl.lxops_ok(mode, "launch", &["-P", "place=@default", "--wait-network", "30", "-n", n, &cfg(n)]);
        }
        let at: Vec<String> = names.iter().map(|n| cl.location(n)).collect();
        check(format!("{mode:?}: explicit targets"), at[0] == "m1" && at[1] == "m2", format!("{at:?}"));
        let mut distinct = at.clone();
        distinct.sort();
        distinct.dedup();
        check(
            format!("{mode:?}: the server placed the third on the free member"),
            distinct.len() == 3,
            format!("{at:?}"),
        );
        // Each member's ssh log has its own instances' host steps and no other's.
        for (n, member) in names.iter().zip(&at) {
            for other in MEMBERS {
                let log = cl.ssh_log(other);
                let has = log.contains(&format!("lxcl/{n}")) && log.contains(&format!("/srv/lxcl/{n}"));
                let mentions = log.contains(n.as_str());
                if other == member {
                    check(format!("{mode:?}: {n}: host steps in {other}'s ssh log"), has, log.clone());
                } else {
                    check(format!("{mode:?}: {n}: nothing in {other}'s ssh log"), !mentions, log.clone());
                }
            }
            // Data written in the container lands in its member's pool only.
            cl.wait_exec(n);
            let w = cl.exec(n, &format!("echo {n} > /data/f && echo home > /home/user/h"));
            check(format!("{mode:?}: {n}: write in the container"), w.ok(), w.stderr.clone());
            for other in MEMBERS {
                let f = cl.on(other, &["cat", &format!("/lxcl/{n}/data/f")]);
                let h = cl.on(other, &["cat", &format!("/srv/lxcl/{n}/home/h")]);
                if other == member {
                    check(format!("{mode:?}: {n}: data on {other}"), f.stdout == format!("{n}\n"), f.stderr);
                    check(format!("{mode:?}: {n}: home on {other}"), h.stdout == "home\n", h.stderr);
                    let own = cl.on(other, &["stat", "-c", "%u:%g", &format!("/srv/lxcl/{n}/home")]);
                    check(
                        format!("{mode:?}: {n}: owner on {other}"),
                        own.stdout == "1000000:1000000\n",
                        own.stdout,
                    );
                } else {
                    let ds = cl.on(other, &["zfs", "list", &format!("lxcl/{n}")]);
                    check(format!("{mode:?}: {n}: no dataset on {other}"), !ds.ok() && !f.ok(), ds.stdout);
                    check(format!("{mode:?}: {n}: no directory on {other}"), !h.ok(), h.stdout);
                }
            }
        }

        // rebuild keeps the member, the data, the MAC and the address.
        let b = &names[1];
        let (mac, ip) = (cl.key(b, "volatile.eth0.hwaddr"), cl.ipv4(b));
        cl.exec(b, "echo old > /etc/lxcl-old");
        cl.lxops_ok(mode, "rebuild", &["--wait-network", "30", "-n", b, &cfg(b)]);
        cl.wait_exec(b);
        check(format!("{mode:?}: rebuild: member"), cl.location(b) == "m2", cl.location(b));
        check(format!("{mode:?}: rebuild: new OS"), !cl.exec(b, "test -e /etc/lxcl-old").ok(), String::new());
        let d = cl.exec(b, "cat /data/f");
        check(format!("{mode:?}: rebuild: data"), d.stdout == format!("{b}\n"), d.stderr);
        check(format!("{mode:?}: rebuild: MAC"), cl.key(b, "volatile.eth0.hwaddr") == mac, mac.clone());
        check(
            format!("{mode:?}: rebuild: address"),
            !ip.is_empty() && cl.ipv4(b) == ip,
            format!("{ip:?} then {:?}", cl.ipv4(b)),
        );
        let snaps =
            cl.on("m2", &["zfs", "list", "-H", "-o", "name", "-t", "snapshot", "-r", &format!("lxcl/{b}")]);
        check(
            format!("{mode:?}: rebuild: safety snapshot on m2"),
            snaps.stdout.contains("@lxops-rebuild-"),
            snaps.stdout,
        );

        // rename moves the data on the member.
        let b2 = format!("{b}r");
        all.push(b2.clone());
        cl.must("incus", &["stop", b]);
        cl.lxops_ok(mode, "rename", &["-n", b, &cfg(b), &b2]);
        cl.must("incus", &["start", &b2]);
        cl.wait_exec(&b2);
        check(format!("{mode:?}: rename: member"), cl.location(&b2) == "m2", cl.location(&b2));
        let d = cl.on("m2", &["cat", &format!("/lxcl/{b2}/data/f")]);
        check(format!("{mode:?}: rename: dataset renamed on m2"), d.stdout == format!("{b}\n"), d.stderr);
        let h = cl.on("m2", &["cat", &format!("/srv/lxcl/{b2}/home/h")]);
        check(format!("{mode:?}: rename: directory renamed on m2"), h.stdout == "home\n", h.stderr);
        let g = cl.exec(&b2, "cat /data/f");
        check(
            format!("{mode:?}: rename: the container sees its data"),
            g.stdout == format!("{b}\n"),
            g.stderr,
        );

        // A config whose target is another member is refused before any change.
        let a = &names[0];
        let wrong = cl.work.join(format!("{a}-wrong.yaml"));
        std::fs::write(&wrong, config("m3")).unwrap();
        let r = cl.lxops(mode, "snapshot", &["-s", "w", "-n", a, wrong.to_str().unwrap()]);
        check(
            format!("{mode:?}: another member's target is refused"),
            r.status == 1 && r.stderr.contains(&format!("{a} is not on cluster member m3")),
            r.stderr.clone(),
        );

        // A failing rebuild falls back, on the member.
        cl.exec(a, "echo old > /etc/lxcl-old");
        let done = cl.work.join(format!("fault-{m}"));
        cl.path_prefix = Some(shim.clone());
        cl.env.insert("LXOPS_FAULT".into(), format!(" start {a} "));
        cl.env.insert("LXOPS_FAULT_DONE".into(), done.display().to_string());
        let r = cl.lxops(mode, "rebuild", &["--wait-network", "30", "-n", a, &cfg(a)]);
        cl.path_prefix = None;
        cl.env.remove("LXOPS_FAULT");
        check(format!("{mode:?}: failing rebuild: exit 1"), r.status == 1, r.stderr.clone());
        check(
            format!("{mode:?}: failing rebuild: the old instance is back"),
            r.stderr.contains(&format!("{a} is back on its old instance")),
            r.stderr.clone(),
        );
        cl.wait_exec(a);
        check(format!("{mode:?}: failing rebuild: member"), cl.location(a) == "m1", cl.location(a));
        check(
            format!("{mode:?}: failing rebuild: old OS"),
            cl.exec(a, "test -e /etc/lxcl-old").ok(),
            String::new(),
        );

        // Another run holds the lock: refused before any change.
        cl.must("incus", &["profile", "create", &format!("{a}.lxops-lock")]);
        let r = cl.lxops(mode, "snapshot", &["-s", "s1", "-n", a, &cfg(a)]);
        check(
            format!("{mode:?}: a held lock refuses the run"),
            r.status == 1 && r.stderr.contains("another lxops run holds"),
            r.stderr.clone(),
        );
        cl.must("incus", &["profile", "delete", &format!("{a}.lxops-lock")]);

        // snapshot acts on the member.
        cl.lxops_ok(mode, "snapshot", &["-s", "s1", "-n", a, &cfg(a)]);
        let s = cl.on("m1", &["zfs", "list", "-t", "snapshot", &format!("lxcl/{a}@s1")]);
        check(format!("{mode:?}: snapshot on m1"), s.ok(), s.stderr);

        // destroy (the server-placed one) removes its data on its member.
        let c = &names[2];
        cl.lxops_ok(mode, "destroy", &["--force", "-n", c, &cfg(c)]);
        let gone = cl.run("incus", &["info", c]);
        check(format!("{mode:?}: destroy: instance gone"), !gone.ok(), gone.stdout);
        let ds = cl.on(&at[2], &["zfs", "list", &format!("lxcl/{c}")]);
        check(format!("{mode:?}: destroy: dataset gone on {}", at[2]), !ds.ok(), ds.stdout);
        let dir = cl.on(&at[2], &["test", "-e", &format!("/srv/lxcl/{c}")]);
        check(format!("{mode:?}: destroy: directory gone on {}", at[2]), !dir.ok(), String::new());
        let locks = cl.must("incus", &["profile", "list", "-f", "csv"]);
        check(format!("{mode:?}: no lock left"), !locks.contains(".lxops-lock"), locks);
    }
    cl.clean(&all);
    assert!(fails.is_empty(), "{} checks failed:\n{}", fails.len(), fails.join("\n"));
}
