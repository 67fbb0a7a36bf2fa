//! Fleets on the real bench: six tiny instances launched, then rebuilt,
//! three at once (`-j 3`), one of them with a cloud-config that fails: it is
//! back on its old instance, the other five are rebuilt, the summary says
//! so and the run exits 1; then, its config fixed, resuming that instance
//! alone (`--from NAME:1`) rebuilds it. Through `--execute` and the script.

use super::lxops::{BOOT, Checks, Lx, MODES, Mode, guest, lxops_instance, status};
use super::{Real, Resource, exec, wait_booted};

const N: usize = 6;

fn config(dir: &str, cc: &str) -> String {
    format!(
        "#lxops-v1
ostype: alpine
image: tiny
profiles: [default]
filesystems:
  data:
    pattern: {dir}/(instance)
devices:
  home:
    path: /home/user
    filesystem: data
cloud-config-files: [{cc}]
"
    )
}

#[test]
fn six_instances_rebuilt_three_at_once_one_failing() {
    let test = "six_instances_rebuilt_three_at_once_one_failing";
    let t = Real::start(test);
    let lx = Lx::new(&t);
    let mut ck = Checks::default();
    lx.write("good.cfg", "#cloud-config\nwrite_files:\n- path: /etc/lxt-configured\n  content: \"yes\\n\"\n");
    lx.write("bad.cfg", "#cloud-config\nruncmd:\n- [sh, -c, \"exit 3\"]\n");
    for mode in MODES {
        let m = mode.tag();
        let names: Vec<String> = (1..=N).map(|i| lxops_instance(&t, &format!("{m}-f{i}"))).collect();
        for n in &names {
            t.register(Resource::Instance(format!("{n}-lxops-fallback")));
        }
        let dir = lx.root.join(format!("{m}-data"));
        let dir = dir.to_str().unwrap();
        let failing = &names[3];
        let mut launch = Vec::new();
        let mut rebuild = Vec::new();
        for n in &names {
            launch.push(lx.write(&format!("{m}/launch/{n}.yaml"), &config(dir, "../../good.cfg")));
            let cc = if n == failing { "../../bad.cfg" } else { "../../good.cfg" };
            rebuild.push(lx.write(&format!("{m}/rebuild/{n}.yaml"), &config(dir, cc)));
        }
        let launch: Vec<&str> = launch.iter().map(|p| p.to_str().unwrap()).collect();
        let rebuild: Vec<&str> = rebuild.iter().map(|p| p.to_str().unwrap()).collect();
        lx.set_script_args(&[]);
        let mut args = vec!["--no-wait-network", "-j", "3"];
        args.extend(&launch);
        let r = lx.must(mode, "launch", &args);
        ck.ok(
            format!("{mode:?}: the launch's summary"),
            r.stderr.contains(&format!("summary of {N} instances:")),
            &r.stderr,
        );
        for n in &names {
            wait_booted(n, BOOT);
            exec(n, &["sh", "-c", "echo old > /etc/lxt-old"]);
        }
        let mut args = vec!["--no-wait-network", "-j", "3"];
        args.extend(&rebuild);
        let r = lx.apply(mode, "rebuild", &args);
        ck.eq(format!("{mode:?}: rebuild with one failing: exit status"), r.status.to_string(), "1");
        for n in &names {
            let line =
                r.stderr.lines().find(|l| l.starts_with(&format!("  {n}: "))).unwrap_or("<no summary line>");
            let want = if n == failing { "failed at step" } else { ": ok, " };
            ck.ok(format!("{mode:?}: summary of {n}"), line.contains(want), line);
            ck.eq(format!("{mode:?}: {n} runs"), status(n), "RUNNING");
            wait_booted(n, BOOT);
            let old = guest(n, &["cat", "/etc/lxt-old"]);
            ck.eq(
                format!(
                    "{mode:?}: {n}: {}",
                    if n == failing { "back on its old instance" } else { "a new instance" }
                ),
                old,
                if n == failing {
                    "old\n"
                } else {
                    "<exit 1: cat: can't open '/etc/lxt-old': No such file or directory>"
                },
            );
        }
        ck.ok(
            format!("{mode:?}: every instance's lines carry its name"),
            names.iter().all(|n| r.stderr.contains(&format!("[{n}] [1/"))),
            &r.stderr,
        );
        // Fixed, the failing instance alone is rebuilt.
        lx.write(&format!("{m}/rebuild/{failing}.yaml"), &config(dir, "../../good.cfg"));
        let from = format!("{failing}:1");
        let mut args: Vec<&str> = vec!["--no-wait-network"];
        match mode {
            Mode::Execute => args.extend(["--from", from.as_str()]),
            Mode::Script => lx.set_script_args(&["--from", &from]),
        }
        args.extend(&rebuild);
        let r = lx.must(mode, "rebuild", &args);
        lx.set_script_args(&[]);
        ck.ok(
            format!("{mode:?}: the resume runs that instance alone"),
            r.stderr.contains("summary of 1 instances:"),
            &r.stderr,
        );
        wait_booted(failing, BOOT);
        ck.eq(
            format!("{mode:?}: resumed: a new instance"),
            guest(failing, &["cat", "/etc/lxt-configured"]),
            "yes\n",
        );
        ck.eq(
            format!("{mode:?}: resumed: not the old one"),
            guest(failing, &["cat", "/etc/lxt-old"]),
            "<exit 1: cat: can't open '/etc/lxt-old': No such file or directory>",
        );
    }
    ck.finish(test);
}
