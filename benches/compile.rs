//! Compile-speed benchmark: `cargo bench`.
//!
//! 1. 1,000 instance configs that share two includes (a device template,
//!    four devices) and three cloud-config files are compiled into one launch
//!    plan and rendered as one script, in process; then the whole `lxops`
//!    process for each rendering (listing, JSON, script), with its peak
//!    memory (target: at least 2,000 instances per second for each).
//! 2. The whole `lxops script launch` process on the tutorial fixture, run
//!    50 times (target: at most 5 ms each).
//! 3. Hostile sizes: include chains of 1,000 and 10,000 files, properties
//!    maps of 100,000 and 1,000,000 entries (`i verify`, whole process):
//!    the time should grow linearly (ratio about 10 for 10 times the size).
//!
//! Prints the figures and whether each target is met; nothing is asserted,
//! so a slow machine does not fail a build.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const N: usize = 1000;

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn setup(dir: &Path) -> Vec<PathBuf> {
    write(&dir.join("props.yaml"), "fsroot: tank/bench\n");
    write(&dir.join("common/tmpl/home/x"), "template file\n");
    // The fleet shape of issue 15: a device template, four devices, three
    // cloud-config files (users, packages, write_files).
    write(
        &dir.join("common/base.yaml"),
        "#lxops-v1\nostype: alpine\nimage: alpine/3.20\nprofiles: [default]\ndevice-owner: 1000000:1000000\n\
device-template: tmpl\ncloud-config-files: [users.cfg, packages.cfg, files.cfg]\n",
    );
    write(
        &dir.join("common/device.yaml"),
        "#lxops-v1\nfilesystems:\n  host:\n    pattern: (fsroot)/host/(instance)\n    destroy: true\n  log:\n    pattern: (fsroot)/log/(instance)\n\
devices:\n  home:\n    path: /home\n    filesystem: host\n  opt:\n    path: /opt\n    filesystem: host\n  etc:\n    path: /etc/app\n    filesystem: host\n  log:\n    path: /var/log\n    filesystem: log\n    dir: .\n",
    );
    write(
        &dir.join("common/users.cfg"),
        "#cloud-config\nusers:\n- name: app\n  uid: 1000\n  groups: wheel\n  sudo: true\n  ssh_authorized_keys: [ssh-ed25519 AAAA app@example]\n",
    );
    write(
        &dir.join("common/packages.cfg"),
        "#cloud-config\npackages: [openssh, curl, rsync, nginx]\nruncmd:\n- rc-update add sshd\n- rc-update add nginx\n",
    );
    write(
        &dir.join("common/files.cfg"),
        "#cloud-config\nwrite_files:\n- path: /etc/motd\n  content: |\n    hello\n- path: /etc/nginx/http.d/default.conf\n  content: |\n    server {\n      listen 80 default_server;\n      root /var/www;\n    }\n",
    );
    (0..N)
        .map(|i| {
            let p = dir.join(format!("containers/web{i}.yaml"));
            write(&p, "#lxops-v1\ninclude:\n- ../common/base.yaml\n- ../common/device.yaml\n");
            p
        })
        .collect()
}

/// The median wall time of `runs` whole `lxops` processes, their output's
/// size, and the peak memory of the last one (from GNU time, when installed).
fn whole(exe: &str, dir: &Path, args: &[&str], runs: usize) -> (f64, usize, Option<u64>) {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let out =
            Command::new(exe).args(args).current_dir(dir).env("LXOPS_BACKEND", "incus").output().unwrap();
        times.push(t.elapsed().as_secs_f64());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        size = out.stdout.len();
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rss = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o", "/dev/stdout"])
        .arg(exe)
        .args(args)
        .current_dir(dir)
        .env("LXOPS_BACKEND", "incus")
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().last()?.trim().parse().ok());
    (times[runs / 2], size, rss)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("lxops-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let configs = setup(&dir);
    let g = lxops::cli::GlobalArgs {
        backend: Some(lxops::cli::BackendArg::Incus),
        properties: Some(dir.join("props.yaml")),
        ..Default::default()
    };
    let cmd = lxops::cli::PlanCmd::Launch(lxops::cli::LaunchArgs {
        run: Default::default(),
        wait: lxops::cli::WaitArgs { wait_network: 120, no_wait_network: false },
        configs: lxops::cli::Configs { configs: configs.clone() },
    });
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let plan = lxops::cmd::plan::compile(&g, &cmd).expect("the benchmark configs compile");
        let script = lxops::runtime::script::render(&plan, "lxops script launch …");
        times.push(t.elapsed().as_secs_f64());
        bytes = script.len();
        assert_eq!(plan.instances().len(), N);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = times[times.len() / 2];
    let rate = N as f64 / median;
    println!(
        "compile+render {N} instances: median {:.1} ms ({:.0} instances/s, script {} KiB); target >= 2000/s: {}",
        median * 1000.0,
        rate,
        bytes / 1024,
        if rate >= 2000.0 { "met" } else { "NOT met" }
    );

    let exe = env!("CARGO_BIN_EXE_lxops");
    // The whole process, per rendering: listing, JSON, script.
    let files: Vec<String> = (0..N).map(|i| format!("containers/web{i}.yaml")).collect();
    for (what, pre) in [
        ("listing", vec!["launch"]),
        ("JSON", vec!["launch", "--format", "json"]),
        ("script", vec!["script", "launch"]),
    ] {
        let mut args = vec!["--properties", "props.yaml"];
        args.extend(pre);
        args.extend(files.iter().map(String::as_str));
        let (t, size, rss) = whole(exe, &dir, &args, 5);
        let rate = N as f64 / t;
        println!(
            "whole process, {N} instances, {what}: median {:.0} ms ({rate:.0} instances/s), output {:.1} MB, peak memory {}; target >= 2000/s: {}",
            t * 1000.0,
            size as f64 / 1e6,
            rss.map(|k| format!("{:.0} MB", k as f64 / 1024.0))
                .unwrap_or_else(|| "unknown (no /usr/bin/time)".into()),
            if rate >= 2000.0 { "met" } else { "NOT met" }
        );
    }

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tutorial");
    let run = || {
        let out = Command::new(exe)
            .args(["script", "launch", "-n", "ssh1", "containers/ssh.yaml"])
            .current_dir(&root)
            .env("XDG_CONFIG_HOME", root.join("xdg"))
            .env("LXOPS_BACKEND", "incus")
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    run();
    let runs = 50;
    let t = Instant::now();
    for _ in 0..runs {
        run();
    }
    let each = t.elapsed().as_secs_f64() / runs as f64;
    println!(
        "whole process `lxops script launch` (tutorial): {:.2} ms per run over {runs} runs; target <= 5 ms: {}",
        each * 1000.0,
        if each <= 0.005 { "met" } else { "NOT met" }
    );
    // 3. Hostile sizes grow linearly.
    let verify = |file: &Path| -> f64 {
        let t = Instant::now();
        let out =
            Command::new(exe).args(["i", "verify"]).arg(file).env("LXOPS_BACKEND", "incus").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        t.elapsed().as_secs_f64()
    };
    let chain = |n: usize| -> PathBuf {
        let d = dir.join(format!("chain{n}"));
        for i in 0..n {
            let next =
                if i + 1 < n { format!("include: [f{}.yaml]\n", i + 1) } else { "image: tiny\n".into() };
            write(&d.join(format!("f{i}.yaml")), &format!("#lxops-v1\n{next}"));
        }
        d.join("f0.yaml")
    };
    let props = |n: usize| -> PathBuf {
        let mut text = String::from("#lxops-v1\nimage: tiny\nproperties:\n");
        for i in 0..n {
            // Short entries: a million of them stay under the 16 MiB file limit.
            text.push_str(&format!("  k{i}: v\n"));
        }
        let p = dir.join(format!("props{n}.yaml"));
        write(&p, &text);
        p
    };
    for (what, small, big) in [
        ("include chain", verify(&chain(1_000)), verify(&chain(10_000))),
        ("properties", verify(&props(100_000)), verify(&props(1_000_000))),
    ] {
        println!(
            "{what}: {:.2} s, ten times the size {:.2} s (ratio {:.1}; linear is 10)",
            small,
            big,
            big / small
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
