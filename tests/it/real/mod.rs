//! Real tier: tests against a running LXD or Incus and a zfs-fuse pool,
//! brought up by `ci/bench-up.sh lxd|incus` (torn down by `ci/bench-down.sh`).
//!
//! The harness reads the bench's environment file (path from
//! `LXOPS_BENCH_ENV`, default `/var/tmp/lxops-bench/env.sh`) by parsing its
//! `export K=V` lines. If the file is absent every real test FAILS: the real
//! tier never skips silently. Run the fast tier alone with
//! `cargo test --test it -- --skip real:: --skip clustered::`.
//!
//! Each test takes a [`Real`] from [`Real::start`]: it holds a global lock
//! (real tests run one at a time even under a parallel runner), gives the test
//! a unique name prefix (`lxt-<pid>-<n>`) and deletes, on drop (panics
//! included), every instance, profile, image and zfs dataset the test
//! registered. The first `Real` of a process also removes `lxt-` leftovers of
//! earlier, killed runs.

#![allow(dead_code)] // helpers for the lxops real tests to come

mod bench;
mod data;
mod drift;
mod faults;
mod fleet;
mod images;
mod lxops;
mod origin;
mod rebuild;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Once, OnceLock};
use std::time::{Duration, Instant};

/// Default location of the bench environment file written by `ci/bench-up.sh`.
pub const DEFAULT_ENV_FILE: &str = "/var/tmp/lxops-bench/env.sh";
/// Every name a real test creates starts with this; pre-clean removes them.
pub const PREFIX: &str = "lxt-";

/// What `ci/bench-up.sh` wrote into env.sh.
#[derive(Debug, Clone)]
pub struct Bench {
    /// Path of the env file that was read.
    pub env_file: PathBuf,
    /// All `export`ed variables, values expanded.
    pub vars: BTreeMap<String, String>,
    /// `lxd` or `incus`.
    pub backend: String,
    /// `lxc` or `incus`.
    pub cli: String,
    /// zfs pool name (e.g. `lxopsci`).
    pub zpool: String,
    /// Mountpoint of the pool's root dataset (e.g. `/lxopsci`).
    pub zpool_mount: PathBuf,
    /// Name of the managed bridge (`lxdbr0` / `incusbr0`).
    pub bridge: String,
    /// PATH for child processes: the zfs shim first.
    pub path: String,
    /// Image aliases bench-up imported (`tiny`, maybe `debian-mini`).
    pub images: Vec<String>,
    /// bench-up ran with `LXOPS_BENCH_DEBIAN=1`.
    pub debian: bool,
}

impl Bench {
    /// Fails the test unless the bench built and imported debian-mini.
    pub fn require_debian_mini(&self) {
        assert!(
            self.debian,
            "debian-mini was not built (LXOPS_BENCH_DEBIAN=0 in {}): bring the bench up with LXOPS_BENCH_DEBIAN=1",
            self.env_file.display()
        );
        assert!(
            self.images.iter().any(|i| i == "debian-mini"),
            "LXOPS_BENCH_DEBIAN=1 but env.sh lists images {:?}",
            self.images
        );
        let info = cli_status(&["image", "info", "debian-mini"]);
        assert!(info.ok(), "image debian-mini missing although LXOPS_BENCH_DEBIAN=1: {}", info.stderr);
    }

    pub fn is_incus(&self) -> bool {
        self.backend == "incus"
    }
    pub fn var(&self, k: &str) -> Option<&str> {
        self.vars.get(k).map(String::as_str)
    }
    /// `Command` for `program` with the bench PATH and the bench variables set.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        c.envs(&self.vars).env("PATH", &self.path).stdin(Stdio::null());
        c
    }
}

/// Parses the `export K=V` lines of an env file (no shell involved).
/// Values may be single- or double-quoted; in unquoted and double-quoted
/// values `$NAME` / `${NAME}` expand from earlier lines, then the process env.
pub fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("export ") else { continue };
        let Some((k, v)) = rest.trim().split_once('=') else { continue };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let v = v.trim();
        let value = if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            inner.to_string()
        } else {
            let inner = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(v);
            expand(inner, &vars)
        };
        vars.insert(k.to_string(), value);
    }
    vars
}

fn expand(s: &str, vars: &BTreeMap<String, String>) -> String {
    let lookup =
        |name: &str| vars.get(name).cloned().or_else(|| std::env::var(name).ok()).unwrap_or_default();
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                out.push_str(&lookup(&name));
            }
            '$' if chars.peek().is_some_and(|c| c.is_ascii_alphabetic() || *c == '_') => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push_str(&lookup(&name));
            }
            c => out.push(c),
        }
    }
    out
}

fn env_file_path() -> PathBuf {
    std::env::var_os("LXOPS_BENCH_ENV").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_ENV_FILE))
}

fn load_bench() -> Result<Bench, String> {
    let path = env_file_path();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "real test bench is not up: cannot read {} ({e}).\n\
             Bring it up with `ci/bench-up.sh lxd` or `ci/bench-up.sh incus` (as root), \
             or run only the fast tier: `cargo test --test it -- --skip real:: --skip clustered::`.",
            path.display()
        )
    })?;
    let vars = parse_env_file(&text);
    let need = |k: &str| {
        vars.get(k).filter(|v| !v.is_empty()).cloned().ok_or_else(|| {
            format!("{} has no {k}: rerun `ci/bench-up.sh lxd|incus` to rewrite it", path.display())
        })
    };
    let backend = need("LXOPS_BENCH_BACKEND")?;
    let cli = need("LXOPS_BENCH_CLI")?;
    let zpool = need("LXOPS_BENCH_ZPOOL")?;
    let bridge = need("LXOPS_BENCH_BRIDGE")?;
    let path_var = need("PATH")?;
    let zpool_mount = vars.get("LXOPS_BENCH_ZPOOL_MOUNT").cloned().unwrap_or_else(|| format!("/{zpool}"));
    let images = vars
        .get("LXOPS_BENCH_IMAGES")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_else(|| vec!["tiny".to_string()]);
    let debian = vars.get("LXOPS_BENCH_DEBIAN").is_some_and(|v| v == "1");
    if !matches!((backend.as_str(), cli.as_str()), ("lxd", "lxc") | ("incus", "incus")) {
        return Err(format!("{}: unexpected backend/cli {backend}/{cli}", path.display()));
    }
    Ok(Bench {
        env_file: path,
        vars,
        backend,
        cli,
        zpool,
        zpool_mount: PathBuf::from(zpool_mount),
        bridge,
        path: path_var,
        images,
        debian,
    })
}

/// The bench description; panics (test failure) when the bench is down.
pub fn bench() -> &'static Bench {
    static BENCH: OnceLock<Result<Bench, String>> = OnceLock::new();
    match BENCH.get_or_init(load_bench) {
        Ok(b) => b,
        Err(msg) => panic!("{msg}"),
    }
}

/// Output of a finished command.
#[derive(Debug, Clone)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.status == 0
    }
}

fn describe(program: &OsStr, args: &[&OsStr]) -> String {
    let mut s = program.to_string_lossy().into_owned();
    for a in args {
        s.push(' ');
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$\\;&|<>".contains(c)) {
            s.push('\'');
            s.push_str(&a.replace('\'', "'\\''"));
            s.push('\'');
        } else {
            s.push_str(&a);
        }
    }
    s
}

fn finish(out: Output) -> Run {
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `program args...` (argv, no shell) with the bench PATH; stdin is
/// `input` if given, else /dev/null. Returns the outcome whatever the status.
pub fn run_status<S: AsRef<OsStr>>(program: &str, args: &[S], input: Option<&[u8]>) -> Run {
    let b = bench();
    let args: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    let mut cmd = b.command(program);
    cmd.args(&args).stdout(Stdio::piped()).stderr(Stdio::piped());
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child =
        cmd.spawn().unwrap_or_else(|e| panic!("cannot run `{}`: {e}", describe(program.as_ref(), &args)));
    if let Some(data) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        let data = data.to_vec();
        // a writer thread: a large input must not deadlock against the output pipes
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for `{}`: {e}", describe(program.as_ref(), &args)));
    finish(out)
}

/// Like [`run_status`] but panics, showing stderr, unless the exit status is 0.
/// Returns stdout.
pub fn run<S: AsRef<OsStr>>(program: &str, args: &[S]) -> String {
    run_input(program, args, None)
}

/// [`run`] with data on stdin.
pub fn run_input<S: AsRef<OsStr>>(program: &str, args: &[S], input: Option<&[u8]>) -> String {
    let r = run_status(program, args, input);
    if !r.ok() {
        let argv: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
        panic!(
            "`{}` failed with exit status {}\n--- stderr ---\n{}--- stdout ---\n{}",
            describe(program.as_ref(), &argv),
            r.status,
            readable(&r.stderr),
            readable(&r.stdout)
        );
    }
    r.stdout
}

/// Output as a failure message shows it: a server's progress bars (lines
/// rewritten with carriage returns, such as "Image pack: 57% (16.78MB/s)")
/// are dropped, so that they cannot push the error itself out of a CI log
/// that keeps only its head and tail.
pub fn readable(output: &str) -> String {
    let mut out = String::new();
    let mut dropped = 0usize;
    for line in output.split(['\n', '\r']) {
        if line.trim().is_empty() {
            continue;
        }
        if line.contains("% (") && line.contains("/s)") {
            dropped += 1;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if dropped > 0 {
        out.push_str(&format!("({dropped} progress lines left out)\n"));
    }
    out
}

/// The backend CLI (`lxc` or `incus`) with `args`; panics on failure.
pub fn cli<S: AsRef<OsStr>>(args: &[S]) -> String {
    run(&bench().cli, args)
}

/// The backend CLI, any exit status.
pub fn cli_status<S: AsRef<OsStr>>(args: &[S]) -> Run {
    run_status(&bench().cli, args, None)
}

/// `zfs` (through the bench's retry shim, first on the bench PATH); panics on failure.
pub fn zfs<S: AsRef<OsStr>>(args: &[S]) -> String {
    run("zfs", args)
}

/// `zfs`, any exit status.
pub fn zfs_status<S: AsRef<OsStr>>(args: &[S]) -> Run {
    run_status("zfs", args, None)
}

/// `<cli> exec INSTANCE -- argv...` with optional uid/gid, cwd, stdin.
#[derive(Debug, Clone, Default)]
pub struct Exec<'a> {
    pub user: Option<u32>,
    pub group: Option<u32>,
    pub cwd: Option<&'a str>,
    pub env: Vec<(&'a str, &'a str)>,
    pub stdin: Option<&'a [u8]>,
}

impl<'a> Exec<'a> {
    pub fn as_user(uid: u32, gid: u32) -> Self {
        Exec { user: Some(uid), group: Some(gid), ..Default::default() }
    }
    pub fn stdin(mut self, data: &'a [u8]) -> Self {
        self.stdin = Some(data);
        self
    }
    fn argv(&self, instance: &str, argv: &[&str]) -> Vec<String> {
        let mut a = vec!["exec".to_string(), instance.to_string()];
        if let Some(u) = self.user {
            a.extend(["--user".to_string(), u.to_string()]);
        }
        if let Some(g) = self.group {
            a.extend(["--group".to_string(), g.to_string()]);
        }
        if let Some(d) = self.cwd {
            a.extend(["--cwd".to_string(), d.to_string()]);
        }
        for (k, v) in &self.env {
            a.extend(["--env".to_string(), format!("{k}={v}")]);
        }
        a.push("--".to_string());
        a.extend(argv.iter().map(|s| s.to_string()));
        a
    }
    /// Runs, returning the outcome whatever the exit status.
    pub fn status(&self, instance: &str, argv: &[&str]) -> Run {
        run_status(&bench().cli, &self.argv(instance, argv), self.stdin)
    }
    /// Runs, panicking (with stderr) unless the exit status is 0; returns stdout.
    pub fn run(&self, instance: &str, argv: &[&str]) -> String {
        run_input(&bench().cli, &self.argv(instance, argv), self.stdin)
    }
}

/// Runs `argv` as root inside `instance`; panics on failure; returns stdout.
pub fn exec(instance: &str, argv: &[&str]) -> String {
    Exec::default().run(instance, argv)
}

/// Runs `argv` as root inside `instance`, any exit status.
pub fn exec_status(instance: &str, argv: &[&str]) -> Run {
    Exec::default().status(instance, argv)
}

/// Runs a `/bin/sh -c SCRIPT` inside `instance` as root; panics on failure.
pub fn sh(instance: &str, script: &str) -> String {
    exec(instance, &["/bin/sh", "-c", script])
}

/// Waits until `/run/booted` exists in `instance` (the test images' init
/// writes it once boot is done). Panics after `timeout`.
pub fn wait_booted(instance: &str, timeout: Duration) {
    let start = Instant::now();
    loop {
        let r = exec_status(instance, &["test", "-e", "/run/booted"]);
        if r.ok() {
            return;
        }
        if start.elapsed() > timeout {
            panic!("{instance}: /run/booted did not appear within {timeout:?}; last check: {r:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Things a test created, deleted by [`Real`]'s drop in a safe order.
#[derive(Debug, Clone)]
pub enum Resource {
    Instance(String),
    Profile(String),
    Image(String),
    Dataset(String),
    Path(PathBuf),
}

static LOCK: Mutex<()> = Mutex::new(());
static COUNTER: AtomicUsize = AtomicUsize::new(0);
static PRECLEAN: Once = Once::new();

/// A real test's context: serialisation lock, unique name prefix, cleanup guard.
pub struct Real {
    pub bench: &'static Bench,
    prefix: String,
    resources: Mutex<Vec<Resource>>,
    started: Instant,
    name: String,
    // dropped after Drop::drop has cleaned up
    _lock: MutexGuard<'static, ()>,
}

impl Real {
    /// Starts a real test: checks the bench is up (panics if not), waits for
    /// the global lock, pre-cleans `lxt-` leftovers once per process.
    pub fn start(test_name: &str) -> Real {
        let bench = bench();
        let lock = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        PRECLEAN.call_once(preclean);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("{PREFIX}{}-{n}", std::process::id());
        eprintln!("[real] {test_name}: backend {} ({}), prefix {prefix}", bench.backend, bench.cli);
        Real {
            bench,
            prefix,
            resources: Mutex::new(Vec::new()),
            started: Instant::now(),
            name: test_name.to_string(),
            _lock: lock,
        }
    }

    /// The test's unique prefix, e.g. `lxt-4242-0`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>-<suffix>`: a unique name for an instance/profile/image/dataset.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    /// Registers something for deletion when the test ends (even on panic).
    pub fn register(&self, r: Resource) {
        let mut v = self.resources.lock().unwrap_or_else(|p| p.into_inner());
        if !v.iter().any(|x| same(x, &r)) {
            v.push(r);
        }
    }

    /// Registers and returns the instance name `<prefix>-<suffix>`.
    pub fn instance(&self, suffix: &str) -> String {
        let n = self.name(suffix);
        self.register(Resource::Instance(n.clone()));
        n
    }

    /// Creates an empty profile `<prefix>-<suffix>` and registers it.
    pub fn profile(&self, suffix: &str) -> String {
        let n = self.name(suffix);
        self.register(Resource::Profile(n.clone()));
        cli(&["profile", "create", &n]);
        n
    }

    /// Creates the dataset `<pool>/<prefix>-<suffix>` (with `-p`), registers
    /// it and returns (dataset name, mountpoint).
    pub fn dataset(&self, suffix: &str) -> (String, PathBuf) {
        let ds = format!("{}/{}", self.bench.zpool, self.name(suffix));
        self.register(Resource::Dataset(ds.clone()));
        zfs(&["create", "-p", &ds]);
        let mp = zfs(&["get", "-H", "-o", "value", "mountpoint", &ds]);
        (ds, PathBuf::from(mp.trim()))
    }

    /// `launch IMAGE <prefix>-<suffix> [extra args]`, registered, then waits
    /// for /run/booted. Returns the instance name.
    pub fn launch(&self, image: &str, suffix: &str, extra: &[&str]) -> String {
        let n = self.instance(suffix);
        let mut args = vec!["launch", "-q", image, n.as_str()];
        args.extend_from_slice(extra);
        cli(&args);
        wait_booted(&n, Duration::from_secs(30));
        n
    }

    fn cleanup(&self) -> Vec<String> {
        let res = std::mem::take(&mut *self.resources.lock().unwrap_or_else(|p| p.into_inner()));
        let mut errors = Vec::new();
        let order = |r: &Resource| match r {
            Resource::Instance(_) => 0,
            Resource::Profile(_) => 1,
            Resource::Image(_) => 2,
            Resource::Dataset(_) => 3,
            Resource::Path(_) => 4,
        };
        let mut res = res;
        res.sort_by_key(order);
        for r in res.iter() {
            let outcome = match r {
                Resource::Instance(n) => delete_instance(n),
                Resource::Profile(n) => delete_quiet(&["profile", "delete", n], "not found"),
                Resource::Image(n) => delete_quiet(&["image", "delete", n], "not found"),
                Resource::Dataset(d) => destroy_dataset(d),
                Resource::Path(p) => remove_path(p),
            };
            if let Err(e) = outcome {
                errors.push(format!("{r:?}: {e}"));
            }
        }
        errors
    }
}

fn same(a: &Resource, b: &Resource) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

impl Drop for Real {
    fn drop(&mut self) {
        let errors = self.cleanup();
        eprintln!("[real] {}: done in {:.2?}", self.name, self.started.elapsed());
        if !errors.is_empty() {
            let msg = format!("[real] {}: cleanup failed:\n  {}", self.name, errors.join("\n  "));
            if std::thread::panicking() {
                eprintln!("{msg}");
            } else {
                panic!("{msg}");
            }
        }
    }
}

fn gone(r: &Run, marker: &str) -> bool {
    let e = r.stderr.to_ascii_lowercase();
    e.contains(marker) || e.contains("not found") || e.contains("does not exist")
}

fn delete_quiet(args: &[&str], marker: &str) -> Result<(), String> {
    let r = cli_status(args);
    if r.ok() || gone(&r, marker) { Ok(()) } else { Err(r.stderr.trim().to_string()) }
}

fn delete_instance(n: &str) -> Result<(), String> {
    delete_quiet(&["delete", "-f", n], "not found")
}

fn destroy_dataset(d: &str) -> Result<(), String> {
    // a dataset bind-mounted into a running instance stays busy: instances
    // are deleted first; retry a little for zfs-fuse's asynchronous unmounts
    let mut last = String::new();
    for _ in 0..5 {
        let r = zfs_status(&["destroy", "-r", d]);
        if r.ok() || gone(&r, "dataset does not exist") {
            return Ok(());
        }
        last = r.stderr.trim().to_string();
        std::thread::sleep(Duration::from_millis(300));
    }
    Err(last)
}

fn remove_path(p: &Path) -> Result<(), String> {
    let r = if p.is_dir() { std::fs::remove_dir_all(p) } else { std::fs::remove_file(p) };
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Removes `lxt-` instances, profiles, image aliases and datasets left by
/// earlier (killed) runs.
fn preclean() {
    let b = bench();
    let list = |args: &[&str]| -> Vec<String> {
        let r = cli_status(args);
        if !r.ok() {
            panic!("pre-clean: `{} {}` failed: {}", b.cli, args.join(" "), r.stderr);
        }
        r.stdout
            .lines()
            .filter_map(|l| l.split(',').next())
            .map(|s| s.trim().to_string())
            .filter(|s| s.starts_with(PREFIX))
            .collect()
    };
    let mut removed = Vec::new();
    for n in list(&["list", "-f", "csv", "-c", "n"]) {
        let _ = delete_instance(&n);
        removed.push(n);
    }
    for n in list(&["profile", "list", "-f", "csv"]) {
        let _ = delete_quiet(&["profile", "delete", &n], "not found");
        removed.push(n);
    }
    for n in list(&["image", "alias", "list", "-f", "csv"]) {
        let _ = delete_quiet(&["image", "delete", &n], "not found");
        removed.push(n);
    }
    let ds = zfs(&["list", "-H", "-o", "name", "-d", "1", &b.zpool]);
    for d in ds.lines() {
        if d.split('/').nth(1).is_some_and(|n| n.starts_with(PREFIX)) {
            let _ = destroy_dataset(d);
            removed.push(d.to_string());
        }
    }
    if !removed.is_empty() {
        eprintln!("[real] pre-clean removed leftovers: {}", removed.join(" "));
    }
}

#[cfg(test)]
mod harness_tests {
    use super::{parse_env_file, readable};

    #[test]
    fn failure_messages_leave_progress_bars_out() {
        let out = "[3/4] publish\nPublishing instance: Image pack: 5% (61.91MB/s)\r   \rPublishing instance: Image pack: 9% (39.12MB/s)\r\nError: The image already exists: 06a9\n";
        assert_eq!(
            readable(out),
            "[3/4] publish\nError: The image already exists: 06a9\n(2 progress lines left out)\n"
        );
    }

    #[test]
    fn env_file_parsing() {
        let v = parse_env_file(
            "# c\nexport A=1\nexport B=\"x y\"\nexport C='$A'\nexport D=\"/bin:$A:${B}\"\nnot=this\n",
        );
        assert_eq!(v["A"], "1");
        assert_eq!(v["B"], "x y");
        assert_eq!(v["C"], "$A");
        assert_eq!(v["D"], "/bin:1:x y");
        assert!(!v.contains_key("not"));
    }
}
