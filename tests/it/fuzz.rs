//! A mutation fuzzer for everything that reads input: configs, includes,
//! cloud-config files and properties files, mutated from the fixture corpus
//! (flipped bytes, YAML fragments spliced in, ranges cut or doubled, two
//! files spliced) and compiled into a launch plan in process. A panic is a
//! failure; a hang (one input taking over 10 s) aborts the run, which fails
//! it too. Runs for `LXOPS_FUZZ_SECONDS` (default 10; `.ci/run` gives it
//! longer) from a fixed seed, and says how many inputs it tried.

use crate::fixtures::{TempDir, root};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Fragments that YAML, the loader and the cloud-config reader react to.
const FRAGMENTS: &[&str] = &[
    "\n",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "\n  ",
    "\t",
    "~",
    "null",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!binary ",
    "!!str ",
    "? ",
    "|\n  ",
    ">-\n  ",
    "'",
    "\"",
    "#",
    "%YAML 1.2\n---\n",
    "---\n",
    "...\n",
    "\0",
    "\u{feff}",
    "é",
    "\u{202e}",
    "(instance)",
    "((",
    "(a)(b)",
    "include: [",
    "../",
    "/dev/zero",
    "0755",
    "0x10",
    "1e9999",
    "-",
    "yes",
    "\"true\"",
    "encoding: gz+b64\n  content: H4sI\n",
    "permissions: '99999'",
    "filesystems:\n  x:\n    pattern: ",
    "devices:\n  d:\n    path: ",
    "users:\n- name: ",
    "write_files:\n- path: ",
    "runcmd:\n- ",
    "#lxops-v1\n",
    "#cloud-config\n",
    "#lxdops\n",
];

/// Configs that compile as they are (their include and cloud-config file
/// are the fuzzer's other files): mutations of them reach the resolver, the
/// cloud-config reader and the plan builders.
const SEEDS: &[&str] = &[
    "#lxops-v1\nimage: tiny\nostype: alpine\ninclude: [inc.yaml]\ncloud-config-files: [cc.cfg]\n",
    "#lxops-v1\nimage: tiny\nostype: debian\ndevice-owner: (owner)\nprofiles: [default]\nfilesystems:\n  host:\n    pattern: (fshost)/(instance)\n    destroy: true\n  tmp:\n    pattern: /var/lib/lx/(instance)\n    transient: yes\ndevices:\n  home:\n    path: /home\n    filesystem: host\n  cache:\n    path: /var/cache\n    filesystem: tmp\n    dir: c\n    readonly: true\ncloud-config-files: [cc.cfg]\n",
    "#lxops-v1\nimage: (img)\nostype: alpine\nproperties:\n  img: tiny\n  x: ~\nlxc-options: [-c, security.nesting=true]\nproject: p1\nprofile-pattern: (instance).p\ninclude: [inc.yaml]\n",
];

/// The corpus: every config, include and cloud-config file of the fixtures.
fn corpus() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut yaml, mut cfg) = (Vec::new(), Vec::new());
    for e in walkdir::WalkDir::new(root().join("fixtures")).into_iter().filter_map(Result::ok) {
        let p = e.path();
        let Some(ext) = p.extension().and_then(|x| x.to_str()) else { continue };
        if !e.file_type().is_file() || e.metadata().map(|m| m.len() > 64 * 1024).unwrap_or(true) {
            continue;
        }
        match ext {
            "yaml" => yaml.push(std::fs::read(p).unwrap()),
            "cfg" => cfg.push(std::fs::read(p).unwrap()),
            _ => {}
        }
    }
    (yaml, cfg)
}

fn mutate(rng: &mut fastrand::Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..rng.usize(1..6) {
        let at = rng.usize(0..=v.len());
        match rng.u32(0..6) {
            0 if !v.is_empty() => {
                let i = rng.usize(0..v.len());
                v[i] ^= 1 << rng.u32(0..8);
            }
            1 => {
                let f = FRAGMENTS[rng.usize(0..FRAGMENTS.len())].as_bytes();
                v.splice(at..at, f.iter().copied());
            }
            2 if at < v.len() => {
                let end = (at + rng.usize(1..32)).min(v.len());
                v.drain(at..end);
            }
            3 if at < v.len() => {
                let end = (at + rng.usize(1..64)).min(v.len());
                let piece = v[at..end].to_vec();
                v.splice(at..at, piece);
            }
            4 if !other.is_empty() => {
                let from = rng.usize(0..other.len());
                let end = (from + rng.usize(1..128)).min(other.len());
                v.splice(at..at, other[from..end].iter().copied());
            }
            _ => v.extend_from_slice(FRAGMENTS[rng.usize(0..FRAGMENTS.len())].as_bytes()),
        }
    }
    v
}

/// Compiles a launch of `config` in process; whether a plan came out.
fn compile(config: &Path, props: &Path) -> bool {
    let g = lxops::cli::GlobalArgs {
        backend: Some(lxops::cli::BackendArg::Incus),
        properties: Some(props.to_path_buf()),
        ..Default::default()
    };
    let c = lxops::cli::PlanCmd::Launch(lxops::cli::LaunchArgs {
        run: Default::default(),
        wait: Default::default(),
        configs: lxops::cli::Configs { configs: vec![config.to_path_buf()] },
    });
    lxops::cmd::plan::compile(&g, &c).is_ok()
}

#[test]
fn mutated_inputs_never_panic_or_hang() {
    // Thousands of inputs: their warnings would bury the result.
    lxops::diag::QUIET.store(true, Ordering::Relaxed);
    let seconds: u64 = std::env::var("LXOPS_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let (yaml, cfg) = corpus();
    assert!(
        yaml.len() >= 50 && cfg.len() >= 10,
        "the corpus has {} configs, {} cloud-configs",
        yaml.len(),
        cfg.len()
    );
    let tmp = TempDir::new("fuzz");
    let d = tmp.0.clone();
    let failures_dir = root().join("target/fuzz-failures");
    let _ = std::fs::remove_dir_all(&failures_dir);
    // The watchdog: an input that takes over 10 s is a hang.
    static STARTED: AtomicU64 = AtomicU64::new(0);
    let epoch = Instant::now();
    let hang_dir = failures_dir.clone();
    let input_dir = d.clone();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let s = STARTED.load(Ordering::SeqCst);
            if s != 0 && epoch.elapsed().as_millis() as u64 > s + 10_000 {
                let _ = std::fs::create_dir_all(&hang_dir);
                for f in ["c.yaml", "inc.yaml", "cc.cfg", "props.yaml"] {
                    let _ = std::fs::copy(input_dir.join(f), hang_dir.join(f));
                }
                eprintln!("fuzz: an input hangs; it is in {}", hang_dir.display());
                std::process::abort();
            }
        }
    });
    let mut rng = fastrand::Rng::with_seed(0x6675_7a7a);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut execs, mut planned, mut failures) = (0u64, 0u64, Vec::<PathBuf>::new());
    let pick = |rng: &mut fastrand::Rng, v: &Vec<Vec<u8>>| v[rng.usize(0..v.len())].clone();
    while Instant::now() < deadline {
        // One file is mutated (so that the others lead the compiler deep
        // into the code that reads it), now and then all of them.
        let target = rng.usize(0..5);
        let take = |rng: &mut fastrand::Rng, i: usize, base: &Vec<Vec<u8>>, other: &Vec<Vec<u8>>| {
            let (b, o) = (pick(rng, base), pick(rng, other));
            if target == i || target == 4 { mutate(rng, &b, &o) } else { b }
        };
        let mut config = if rng.bool() {
            let seed = SEEDS[rng.usize(0..SEEDS.len())].as_bytes().to_vec();
            let o = pick(&mut rng, &yaml);
            if target == 0 || target == 4 { mutate(&mut rng, &seed, &o) } else { seed }
        } else {
            take(&mut rng, 0, &yaml, &yaml)
        };
        if rng.bool() && !config.windows(8).any(|w| w == b"include:") {
            config.extend_from_slice(b"\ninclude: [inc.yaml]\ncloud-config-files: [cc.cfg]\n");
        }
        let include = take(&mut rng, 1, &yaml, &cfg);
        let cloud = take(&mut rng, 2, &cfg, &cfg);
        let props_base = b"fshost: tank/host\nowner: 1000000:1000000\n".to_vec();
        let props = if target == 3 || target == 4 {
            let o = pick(&mut rng, &yaml);
            mutate(&mut rng, &props_base, &o)
        } else {
            props_base
        };
        let files = [("c.yaml", config), ("inc.yaml", include), ("cc.cfg", cloud), ("props.yaml", props)];
        for (name, bytes) in &files {
            std::fs::write(d.join(name), bytes).unwrap();
        }
        STARTED.store(epoch.elapsed().as_millis() as u64, Ordering::SeqCst);
        let outcome = std::panic::catch_unwind(|| compile(&d.join("c.yaml"), &d.join("props.yaml")));
        STARTED.store(0, Ordering::SeqCst);
        execs += 1;
        if matches!(outcome, Ok(true)) {
            planned += 1;
        }
        if outcome.is_err() {
            let keep = failures_dir.join(failures.len().to_string());
            std::fs::create_dir_all(&keep).unwrap();
            for (name, bytes) in &files {
                std::fs::write(keep.join(name), bytes).unwrap();
            }
            failures.push(keep);
        }
    }
    eprintln!(
        "fuzz: {execs} inputs in {seconds} s ({planned} compiled to a plan), {} panics",
        failures.len()
    );
    assert!(failures.is_empty(), "inputs that made lxops panic: {failures:?}");
    assert!(execs >= 100, "only {execs} inputs in {seconds} s");
}
