//! The adversarial generator: hostile bytes in every config field, property,
//! cloud-config field and in the stand-ins' server answers, from a fixed
//! seed and the recorded corpus `tests/hostile/corpus.txt`.
//!
//! For every case that compiles, the script and `--execute` must do the same
//! (argv, stdin, exit status, trace, progress), every command they run must
//! be one the JSON plan lists, and no canary may fire: guest shell scripts
//! really run, in a throwaway root (`tests/stubs/guest-sandbox.sh`), and
//! host scripts with stand-ins for every program that changes something.
//! For every case that does not compile, the listing, the JSON, the script
//! and `--execute` all refuse it with exit 2 and nothing on stdout.
//!
//! `LXOPS_HOSTILE_CASES` sets the number of cases (2,000 by default; `.ci/run`
//! runs 10,000); `LXOPS_HOSTILE_FIRST` and `LXOPS_HOSTILE_WORKERS=1` rerun
//! one case alone. A failing case's files are kept under
//! `target/hostile-failures/<case>` to reproduce it.

use crate::equivalence::{Record, differences, run_both};
use crate::fixtures::{TempDir, root};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

const SEED: u64 = 0x6c78_6f70_7321;
const CANARY_DIR: &str = "/tmp/lxops-canary";

/// The corpus fragments, decoded.
fn corpus() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("tests/hostile/corpus.txt")).unwrap();
    text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(decode).collect()
}

/// Decodes `\n \r \t \0 \\ \xHH \u{H…}` in a corpus line.
fn decode(l: &str) -> String {
    let mut out = String::new();
    let mut chars = l.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some('x') => {
                let h: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&h, 16).unwrap()));
            }
            Some('u') => {
                let h: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).unwrap()).unwrap());
            }
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A YAML double-quoted scalar holding exactly `s`.
fn y(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if crate_hidden(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn crate_hidden(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

struct Gen {
    rng: fastrand::Rng,
    corpus: Vec<String>,
}

impl Gen {
    fn chance(&mut self, percent: u32) -> bool {
        self.rng.u32(0..100) < percent
    }

    /// A hostile value: corpus fragments, random bytes, or both around text.
    fn hostile(&mut self) -> String {
        match self.rng.u32(0..6) {
            0 => {
                let n = self.rng.usize(0..8);
                (0..n).map(|_| char::from(self.rng.u8(0..128))).collect()
            }
            1 => {
                let a = self.pick();
                let b = self.pick();
                format!("{a}x{b}")
            }
            2 => format!("v{}", self.rng.u32(0..100)),
            _ => self.pick(),
        }
    }

    fn pick(&mut self) -> String {
        self.corpus[self.rng.usize(0..self.corpus.len())].clone()
    }

    /// Mostly a usable value, sometimes a hostile one.
    fn maybe(&mut self, usable: &str, percent_hostile: u32) -> String {
        if self.chance(percent_hostile) { self.hostile() } else { usable.to_string() }
    }

    /// Bytes a server might answer: lines mixing valid and hostile content.
    fn answer(&mut self, valid: &str) -> Vec<u8> {
        let mut lines: Vec<Vec<u8>> = valid.lines().map(|l| l.as_bytes().to_vec()).collect();
        for _ in 0..self.rng.usize(0..4) {
            let at = self.rng.usize(0..=lines.len());
            let mut l = self.hostile().into_bytes();
            if self.chance(30) {
                l.push(b'\r');
            }
            if self.chance(10) {
                l.push(0);
            }
            if self.chance(10) {
                l.push(self.rng.u8(0x80..=0xff));
            }
            lines.insert(at, l);
        }
        let mut out = lines.join(&b'\n');
        if self.chance(80) {
            out.push(b'\n');
        }
        out
    }
}

/// One generated case: its files, the lxops arguments and the stand-ins' answers.
struct Case {
    files: Vec<(String, String)>,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn generate(g: &mut Gen) -> Case {
    // Command-line values cannot hold NUL: argv cannot carry it.
    let name = if g.chance(3) { g.hostile().replace('\0', "") } else { format!("h{}", g.rng.u32(0..1000)) };
    let ostype = ["alpine", "debian", "ubuntu"][g.rng.usize(0..3)];
    let mut c = String::from("#lxops-v1\n");
    let _ = writeln!(c, "ostype: {ostype}");
    let _ = writeln!(c, "image: {}", y(&g.maybe("tiny", 15)));
    if g.chance(40) {
        let _ = writeln!(c, "profiles: [{}]", y(&g.maybe("default", 15)));
    }
    if g.chance(10) {
        let _ = writeln!(c, "project: {}", y(&g.maybe("p1", 25)));
    }
    if g.chance(15) {
        let _ = writeln!(c, "profile-pattern: {}", y(&g.maybe("(instance).lxops", 30)));
    }
    // On a cluster: a member, a group, or a property (D36).
    if g.chance(15) {
        let t = ["m2", "@default", "(p1)", "(p2)"][g.rng.usize(0..4)];
        let _ = writeln!(c, "target: {}", y(&g.maybe(t, 30)));
    }
    if g.chance(50) {
        let _ = writeln!(c, "device-owner: {}", y(&g.maybe("1000000:1000000", 10)));
    }
    let _ = writeln!(c, "properties:\n  p1: {}\n  p2: {}", y(&g.hostile()), y(&g.maybe("data", 25)));
    if g.chance(30) {
        let _ = writeln!(c, "lxc-options: [-c, {}]", y(&format!("user.x={}", g.hostile())));
    }
    let patterns = [
        "/srv/(p1)/(instance)",
        "tank/(p2)/(instance)",
        "(p1)/(instance)",
        "/srv/lxops/(instance)",
        "tank/(instance)",
    ];
    let pattern =
        if g.chance(8) { g.hostile() } else { patterns[g.rng.usize(0..patterns.len())].to_string() };
    let _ = writeln!(c, "filesystems:\n  fs1:\n    pattern: {}\n    destroy: {}", y(&pattern), g.chance(50));
    let key = if g.chance(10) { g.hostile() } else { "home".to_string() };
    let _ = writeln!(
        c,
        "devices:\n  {}:\n    path: {}\n    filesystem: fs1",
        y(&key),
        y(&format!("/{}", g.maybe("home", 10)))
    );
    if g.chance(30) {
        let _ = writeln!(c, "    dir: {}", y(&g.hostile()));
    }
    let _ = writeln!(c, "cloud-config-files: [cc.cfg]");

    let mut cc = String::from("#cloud-config\n");
    let content = g.hostile();
    let _ = writeln!(
        cc,
        "write_files:\n- path: {}\n  content: {}",
        y(&format!("/etc/{}", g.maybe("motd", 30))),
        y(&content)
    );
    if g.chance(30) {
        let _ = writeln!(cc, "  owner: {}", y(&g.maybe("root:root", 30)));
    }
    if g.chance(30) {
        let _ = writeln!(cc, "  permissions: {}", y(&g.maybe("0600", 20)));
    }
    if g.chance(20) {
        let _ = writeln!(cc, "  append: true");
    }
    let _ = writeln!(cc, "- path: /etc/two\n  encoding: b64\n  content: {}", y(&b64(g.hostile().as_bytes())));
    if g.chance(60) {
        let _ = writeln!(cc, "users:\n- name: {}", y(&g.maybe("u1", 20)));
        for (key, usable) in
            [("gecos", "U One"), ("homedir", "/home/u1"), ("shell", "/bin/sh"), ("passwd", "$6$x$y")]
        {
            if g.chance(30) {
                let _ = writeln!(cc, "  {key}: {}", y(&g.maybe(usable, 60)));
            }
        }
        if g.chance(40) {
            let _ = writeln!(cc, "  groups: [{}]", y(&g.maybe("wheel", 25)));
        }
        if g.chance(40) {
            let _ = writeln!(cc, "  sudo: {}", y(&g.maybe("ALL=(ALL) NOPASSWD:ALL", 25)));
        }
        if g.chance(40) {
            let _ = writeln!(cc, "  ssh_authorized_keys: [{}]", y(&g.maybe("ssh-ed25519 AAAA u1@h", 25)));
        }
    }
    if g.chance(40) {
        let _ = writeln!(cc, "packages: [{}]", y(&g.maybe("nginx", 25)));
    }
    if g.chance(30) {
        let _ = writeln!(cc, "timezone: {}", y(&g.maybe("Europe/Athens", 25)));
    }
    // A runcmd string is a script: code by design. It may hold anything but
    // the canary, which only values that must stay data may reach.
    let script = g.hostile().replace("/tmp/lxops-canary/fired", "/tmp/runcmd-is-code");
    let _ = writeln!(cc, "runcmd:\n- {}\n- [{}, {}]", y(&script), y(&g.maybe("echo", 15)), y(&g.hostile()));

    let mut global = format!("p2: {}\n", y(&g.maybe("data", 20)));
    if g.chance(30) {
        let _ = writeln!(
            global,
            "member-ssh.{}: {}",
            g.maybe("m2", 20).replace(['\n', ':'], ""),
            y(&g.maybe("root@m2", 30))
        );
    }
    let mut args: Vec<String> = Vec::new();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut extra_files: Vec<(String, String)> = Vec::new();
    let command = g.rng.usize(0..17);
    let state = if g.chance(50) { "RUNNING" } else { "STOPPED" };
    env.push(("STUB_INSTANCES".into(), format!("{name},{state}")));
    match command {
        0 | 1 => args.extend(["launch".to_string(), "--no-wait-network".to_string()]),
        2 => args.extend(["rebuild".to_string(), "--no-wait-network".to_string()]),
        3 => args.extend(["destroy".to_string(), "--force".to_string()]),
        4 => args.extend(["delete".to_string(), "--force".to_string()]),
        5 => args.extend(["rename".to_string()]),
        6 => args.extend(["configure".to_string(), "--no-wait-network".to_string()]),
        7 => args.push(["create-devices", "create-profile"][g.rng.usize(0..2)].to_string()),
        8 => {
            args.push("snapshot".into());
            if g.chance(50) {
                args.extend(["-s".to_string(), g.maybe("s1", 20).replace('\0', "")]);
                if g.chance(40) {
                    args.push("-d".into());
                }
            }
            if g.chance(40) {
                args.push("-c".into());
            }
        }
        9 => {
            args.extend(["rollback".to_string(), "-s".to_string(), g.maybe("s1", 20).replace('\0', "")]);
            if g.chance(50) {
                args.push("--force".into());
            }
            if g.chance(40) {
                args.push("-c".into());
            }
        }
        10 => args.extend(["export".to_string(), "-d".to_string(), g.maybe("out", 20).replace('\0', "")]),
        11 => args.extend(["import".to_string(), "-d".to_string(), "exported".to_string()]),
        13 => {
            args.push("extract".into());
            if g.chance(50) {
                env.push(("STUB_OD_B64".into(), b64(&g.answer("  1 2 3 4 5 6 7 8"))));
            }
            if g.chance(30) {
                let dir = format!("/var/tmp/lxops-extract.{}", g.maybe("Ab3dEf9h", 40));
                env.push(("STUB_MKTEMP_B64".into(), b64(dir.as_bytes())));
            }
        }
        14 => {
            args.push("publish".into());
            if g.chance(50) {
                args.extend(["-c".to_string(), "c.yaml".to_string()]);
            }
            for flag in ["--alias", "--description", "--os", "--serial", "--image-name", "--compression"] {
                if g.chance(25) {
                    args.extend([flag.to_string(), g.maybe("v1", 50).replace('\0', "")]);
                }
            }
            if g.chance(30) {
                args.push("--reuse".into());
            }
            let source = match g.rng.u32(0..3) {
                0 => name.clone(),
                1 => format!("{name}/{}", g.maybe("s1", 30)).replace('\0', ""),
                _ => g.hostile().replace('\0', ""),
            };
            // A leading '-' would make it a flag, not the instance: the
            // renderings append their own flags, so no `--` can end them.
            let source = if source.starts_with('-') { format!("x{source}") } else { source };
            args.push(source);
            if g.chance(30) {
                env.push(("STUB_ALIASES_B64".into(), b64(&g.answer(&format!("{name},abc,CONTAINER,")))));
            }
        }
        15 => {
            // profile import: a hostile file name and content, carried by the plan
            let stem = g.maybe("imp", 30).replace(['\0', '/'], "");
            args.extend(["profile".to_string(), "import".to_string(), format!("{stem}.yaml")]);
            extra_files.push((
                format!("{stem}.yaml"),
                format!("description: {}\nconfig:\n  user.x: {}\n", y(&g.hostile()), y(&g.hostile())),
            ));
            if g.chance(50) {
                env.push(("STUB_PROFILES".into(), stem));
            }
        }
        16 => {
            args.extend(["profile".to_string(), "export".to_string(), "-d".to_string(), ".".to_string()]);
            if g.chance(40) {
                args.push("--all".into());
                env.push(("STUB_PROFILES".into(), g.maybe("web", 40).replace('\0', "")));
            } else {
                args.push(g.maybe("default", 40).replace('\0', ""));
            }
        }
        _ => {
            args.extend(["copy-filesystems".to_string(), "-c".to_string(), "c.yaml".to_string()]);
            args.extend([
                "--instance".to_string(),
                name.clone(),
                "--from-instance".to_string(),
                "h2".to_string(),
            ]);
            if g.chance(50) {
                let host = g.maybe("root@backup", 30).replace('\0', "");
                args.extend([if g.chance(50) { "--from-host" } else { "--to-host" }.to_string(), host]);
            }
            if g.chance(30) {
                args.extend(["-s".to_string(), g.maybe("s1", 20).replace('\0', "")]);
            }
        }
    }
    if command == 0 && g.chance(30) {
        // The network wait, with an answer that holds an address among hostile lines.
        args[1] = "--wait-network=1".into();
        let n4 = g.answer(&format!("{name},\"10.1.2.3 (eth0)\""));
        env.push(("STUB_N4_B64".into(), b64(&n4)));
        env.push(("STUB_EXPANDED_B64".into(), b64(&g.answer("devices:\n  eth0:\n    type: nic"))));
    }
    let two = matches!(command, 0..=4 | 6..=9) && g.chance(20);
    if matches!(command, 12 | 14 | 15 | 16) {
        // These name their config, instances or files themselves.
    } else if two {
        // Two configs: two units, named after their files.
        args.extend(["c.yaml".to_string(), "d.yaml".to_string()]);
        env[0].1 = format!("c,{state} d,{state}");
    } else {
        args.extend(["-n".to_string(), name.clone(), "c.yaml".to_string()]);
    }
    if command == 5 {
        let new = g.maybe("h2", 10).replace('\0', "");
        args.push(if new.starts_with('-') { format!("x{new}") } else { new });
    }
    if g.chance(20) {
        // A command that fails: the step fails, undo and cleanup run.
        let fail = [
            "file push",
            "incus start",
            "profile edit",
            "zfs snapshot",
            "mkdir",
            "exec",
            "config set",
            "rename",
            "delete",
            "export",
            "rsync",
            "publish",
        ];
        env.push(("STUB_FAIL".into(), fail[g.rng.usize(0..fail.len())].into()));
    }
    if g.chance(30) {
        args.extend(["-P".to_string(), format!("p1={}", g.hostile().replace('\0', ""))]);
    }
    if g.chance(50) {
        let show = format!(
            "config:\n  volatile.eth0.hwaddr: 10:66:6a:01:02:03\nprofiles:\n- default\n- {name}.lxops\nstateful: false"
        );
        env.push(("STUB_SHOW_B64".into(), b64(&g.answer(&show))));
    }
    if g.chance(20) {
        env.push(("STUB_INSTANCES_TEXT_B64".into(), b64(&g.answer(""))));
    }
    if g.chance(20) {
        env.push(("STUB_DATE_B64".into(), b64(&g.answer("lxops-rebuild-20260101-000000"))));
    }
    if g.chance(30) {
        env.push(("STUB_LOCATION_B64".into(), b64(&g.answer("Location: m2\n"))));
    }
    if g.chance(20) {
        env.push(("STUB_LOCATIONS_B64".into(), b64(&g.answer(&format!("{name},m2\n")))));
    }
    if g.chance(30) {
        env.push(("STUB_ZFS".into(), format!("tank/{name} tank/data/{name}")));
    }
    let mut files: Vec<(String, String)> = extra_files;
    files.extend([
        ("c.yaml".into(), c.clone()),
        ("cc.cfg".into(), cc),
        ("xdg/lxops/properties.yaml".into(), global),
    ]);
    if command == 11 {
        files.push(("exported/SHA256SUMS".into(), "x  fs1.tar.gz\n".into()));
        files.push(("exported/fs1.tar.gz".into(), "archive\n".into()));
    }
    if command >= 8 && g.chance(50) {
        env.push((
            "STUB_ZFS".into(),
            format!("tank/{name} tank/{name}@s1 tank/data/{name} tank/data/{name}@s1"),
        ));
    }
    if two {
        files.push(("d.yaml".into(), c));
    }
    Case { files, args, env }
}

/// The JSON plan's commands as argv templates (`$NAME` inside a word
/// matches anything; a word `$NAME[@]` matches any number of words).
fn json_commands(json: &serde_json::Value) -> Vec<Vec<String>> {
    fn walk(v: &serde_json::Value, out: &mut Vec<Vec<String>>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::Array(a)) = m.get("argv")
                    && m.contains_key("root")
                {
                    out.push(a.iter().map(|w| w.as_str().unwrap_or("").to_string()).collect());
                    // On another host: ssh with the quoted argv (the stand-in then runs it here).
                    if let Some(serde_json::Value::String(h)) = m.get("host") {
                        out.push(vec![
                            "ssh".into(),
                            "-o".into(),
                            "BatchMode=yes".into(),
                            "--".into(),
                            h.clone(),
                            "$lxops_any".into(),
                        ]);
                    }
                }
                m.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(json, &mut out);
    out
}

/// Whether `word` matches a template word (run-time values as wildcards).
fn word_matches(t: &str, word: &str) -> bool {
    // Split the template at `$name` references: names are [a-z0-9_].
    let mut parts: Vec<&str> = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find("$lxops_") {
        parts.push(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        rest = &after[end..];
    }
    parts.push(rest);
    if parts.len() == 1 {
        return t == word;
    }
    let mut at = 0;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            if !word.starts_with(p) {
                return false;
            }
            at = p.len();
        } else if i + 1 == parts.len() {
            return word.len() >= at + p.len() && word.ends_with(p);
        } else {
            match word[at..].find(p) {
                Some(j) => at += j + p.len(),
                None => return false,
            }
        }
    }
    true
}

fn argv_matches(t: &[String], argv: &[String]) -> bool {
    match (t.first(), argv.first()) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some(w), _) if w.starts_with("$lxops_") && w.ends_with("[@]") => {
            (0..=argv.len()).any(|k| argv_matches(&t[1..], &argv[k..]))
        }
        (Some(_), None) => false,
        (Some(w), Some(a)) => word_matches(w, a) && argv_matches(&t[1..], &argv[1..]),
    }
}

/// Commands of the log the plan does not list.
fn unplanned(log: &[Record], templates: &[Vec<String>]) -> Vec<String> {
    log.iter()
        .filter(|(argv, _)| argv.first().map(String::as_str) != Some("sudo"))
        .filter(|(argv, _)| !templates.iter().any(|t| argv_matches(t, argv)))
        .map(|(argv, _)| format!("{argv:?}"))
        .collect()
}

#[derive(Default)]
struct Tally {
    compiled: usize,
    refused: usize,
    done: usize,
    failures: Vec<String>,
}

/// Case `i`, always the same for the same corpus.
fn case(i: usize, corpus: &[String]) -> Case {
    let mut g = Gen {
        rng: fastrand::Rng::with_seed(SEED ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        corpus: corpus.to_vec(),
    };
    generate(&mut g)
}

/// Keeps case `i`'s files under `target/hostile-failures/<i>`.
fn keep_case(i: usize, case: &Case) -> String {
    let dir = root().join("target/hostile-failures").join(i.to_string());
    let _ = std::fs::create_dir_all(&dir);
    for (f, text) in &case.files {
        let p = dir.join(f);
        let _ = std::fs::create_dir_all(p.parent().unwrap());
        let _ = std::fs::write(p, text);
    }
    let _ = std::fs::write(dir.join("args"), format!("{:?}\n{:?}\n", case.args, case.env));
    dir.display().to_string()
}

fn run_case(i: usize, corpus: &[String]) -> Result<bool, String> {
    let case = case(i, corpus);
    let tmp = TempDir::new(&format!("hostile-{i}"));
    for (f, text) in &case.files {
        let p = tmp.0.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let keep = |why: String| -> String { format!("case {i} ({}): {why}", keep_case(i, &case)) };
    let lxops = |extra: &[&str], script: bool| -> std::process::Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lxops"));
        if script {
            c.arg("script");
        }
        c.args(&case.args)
            .args(extra)
            .current_dir(&tmp.0)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("XDG_CONFIG_HOME", tmp.0.join("xdg"))
            .env("LXOPS_BACKEND", "incus")
            .env("LXOPS_LOCK_DIR", &tmp.0)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let script = lxops(&[], true);
    let status = script.status.code().unwrap_or(-1);
    if status == 2 {
        for (extra, is_script) in
            [(vec![], false), (vec!["--format", "json"], false), (vec!["--execute", "--yes"], false)]
        {
            let o = lxops(&extra, is_script);
            if o.status.code() != Some(2) || !o.stdout.is_empty() {
                return Err(keep(format!(
                    "`lxops script` refuses it, but {extra:?} exits {:?} with {} bytes on stdout: {}",
                    o.status.code(),
                    o.stdout.len(),
                    String::from_utf8_lossy(&o.stderr)
                )));
            }
        }
        if std::env::var_os("LXOPS_HOSTILE_DEBUG").is_some() {
            eprintln!(
                "refused {i}: {}",
                String::from_utf8_lossy(&script.stderr)
                    .lines()
                    .find(|l| l.starts_with("error"))
                    .unwrap_or("")
            );
        }
        return Ok(false);
    }
    if status != 0 {
        return Err(keep(format!(
            "lxops script exits {status}: {}",
            String::from_utf8_lossy(&script.stderr)
        )));
    }
    let json = lxops(&["--format", "json"], false);
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).map_err(|e| {
        keep(format!("the JSON plan does not parse ({e}): {}", String::from_utf8_lossy(&json.stderr)))
    })?;
    let mut env = case.env.clone();
    env.push((
        "LXOPS_GUEST_SANDBOX".into(),
        root().join("tests/stubs/guest-sandbox.sh").display().to_string(),
    ));
    let both = run_both(&tmp.0, &tmp.0, &env, &case.args);
    let diffs = differences(&both);
    if !diffs.is_empty() {
        return Err(keep(diffs.join("\n")));
    }
    let templates = json_commands(&plan);
    let extra = unplanned(&both.script.log, &templates);
    if !extra.is_empty() {
        return Err(keep(format!("commands the JSON plan does not list: {}", extra.join(", "))));
    }
    Ok(true)
}

fn canary_fired() -> bool {
    Path::new(CANARY_DIR).join("fired").exists()
}

/// The canary check can fail: a guest script that writes the canary, run
/// by the stand-in through the sandbox, is seen.
fn canary_self_test() {
    let tmp = TempDir::new("canary");
    let bin = crate::equivalence::stub_dir(&tmp.0);
    let log = tmp.0.join("log");
    let mut c = Command::new(bin.join("incus"))
        .args(["exec", "x", "--", "/bin/sh"])
        .env("LXOPS_STUB_LOG", &log)
        .env("LXOPS_GUEST_SANDBOX", root().join("tests/stubs/guest-sandbox.sh"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin.take().unwrap().write_all(b"mkdir -p /etc/x; echo fired >> /tmp/lxops-canary/fired\n").unwrap();
    assert!(c.wait().unwrap().success());
    assert!(canary_fired(), "the guest sandbox did not run the script: the canary check would prove nothing");
    std::fs::remove_file(Path::new(CANARY_DIR).join("fired")).unwrap();
}

#[test]
fn hostile_inputs_never_become_code_and_both_runtimes_agree() {
    let n: usize = std::env::var("LXOPS_HOSTILE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let corpus = corpus();
    assert!(corpus.len() >= 50, "the corpus has {} fragments", corpus.len());
    let _ = std::fs::remove_dir_all(CANARY_DIR);
    std::fs::create_dir_all(CANARY_DIR).unwrap();
    canary_self_test();
    let _ = std::fs::remove_dir_all(root().join("target/hostile-failures"));
    let started = std::time::Instant::now();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let workers = env("LXOPS_HOSTILE_WORKERS")
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2));
    // To reproduce one case: LXOPS_HOSTILE_FIRST=N LXOPS_HOSTILE_CASES=N+1 LXOPS_HOSTILE_WORKERS=1.
    let next = std::sync::atomic::AtomicUsize::new(env("LXOPS_HOSTILE_FIRST").unwrap_or(0));
    let tally = std::sync::Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let r = run_case(i, &corpus);
                    let fired = canary_fired();
                    let mut t = tally.lock().unwrap();
                    match r {
                        Ok(true) => {
                            t.compiled += 1;
                            t.done += 1;
                        }
                        Ok(false) => t.refused += 1,
                        Err(e) => {
                            t.compiled += 1;
                            t.failures.push(e);
                        }
                    }
                    if fired {
                        let dir = keep_case(i, &case(i, &corpus));
                        t.failures.push(format!("case {i} ({dir}): the canary fired: a value became code"));
                        let _ = std::fs::remove_file(Path::new(CANARY_DIR).join("fired"));
                    }
                }
            });
        }
    });
    let t = tally.into_inner().unwrap();
    eprintln!(
        "hostile: {n} cases in {:.1} s: {} compiled and compared, {} refused by every rendering; {} failures",
        started.elapsed().as_secs_f64(),
        t.compiled,
        t.refused,
        t.failures.len()
    );
    let shown: Vec<&String> = t.failures.iter().take(10).collect();
    assert!(
        t.failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        t.failures.len(),
        shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n\n")
    );
    assert!(
        t.compiled >= n / 5,
        "only {} of {n} cases compiled: the generator is too hostile to test the runtimes",
        t.compiled
    );
    assert!(
        t.refused >= n / 10,
        "only {} of {n} cases were refused: the generator is not hostile enough",
        t.refused
    );
}
