//! Compile-speed benchmark: `cargo bench`.
//!
//! 1. 1,000 instance configs that share two includes and two cloud-config
//!    files are compiled into one launch plan and rendered as one script, in
//!    process (target: at least 2,000 instances per second).
//! 2. The whole `lxops script launch` process on the tutorial fixture, run
//!    50 times (target: at most 5 ms each).
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
    write(
        &dir.join("common/base.yaml"),
        "#lxops-v1\nostype: alpine\nimage: alpine/3.20\nprofiles: [default]\ndevice-owner: 1000000:1000000\ncloud-config-files: [users.cfg, packages.cfg]\n",
    );
    write(
        &dir.join("common/device.yaml"),
        "#lxops-v1\nfilesystems:\n  host:\n    pattern: (fsroot)/host/(instance)\n    destroy: true\n  log:\n    pattern: (fsroot)/log/(instance)\ndevices:\n  home:\n    path: /home\n    filesystem: host\n  opt:\n    path: /opt\n    filesystem: host\n  log:\n    path: /var/log\n    filesystem: log\n    dir: .\n",
    );
    write(
        &dir.join("common/users.cfg"),
        "#cloud-config\nusers:\n- name: app\n  uid: 1000\n  groups: wheel\n  sudo: true\n  ssh_authorized_keys: [ssh-ed25519 AAAA app@example]\nwrite_files:\n- path: /etc/motd\n  content: |\n    hello\n",
    );
    write(
        &dir.join("common/packages.cfg"),
        "#cloud-config\npackages: [openssh, curl]\nruncmd:\n- rc-update add sshd\n",
    );
    (0..N)
        .map(|i| {
            let p = dir.join(format!("containers/web{i}.yaml"));
            write(&p, "#lxops-v1\ninclude:\n- ../common/base.yaml\n- ../common/device.yaml\n");
            p
        })
        .collect()
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

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tutorial");
    let exe = env!("CARGO_BIN_EXE_lxops");
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
    let _ = std::fs::remove_dir_all(&dir);
}
