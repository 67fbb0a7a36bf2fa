//! The nine cases of the hostile-input review (issue "no config value may
//! become code"), each as a named test. Each writes its files into a fresh
//! directory, and either shows both runtimes agree and nothing fired, or
//! that every rendering refuses the config with exit 2, naming the key.

use crate::equivalence::{differences, run_both, stub_dir};
use crate::fixtures::{TempDir, root};
use std::path::Path;
use std::process::{Command, Output};

const CANARY: &str = "/tmp/lxops-regression-canary";

fn files(tmp: &Path, files: &[(&str, &str)]) {
    for (f, text) in files {
        let p = tmp.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn lxops(tmp: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lxops"))
        .args(args)
        .current_dir(tmp)
        .env("XDG_CONFIG_HOME", tmp.join("xdg"))
        .env("LXOPS_BACKEND", "incus")
        .env("LXOPS_LOCK_DIR", tmp)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Every rendering refuses: exit 2, nothing on stdout, the key named.
fn refused_everywhere(tmp: &Path, args: &[&str], key: &str) {
    for (pre, post) in [
        (vec![], vec![]),
        (vec![], vec!["--format", "json"]),
        (vec!["script"], vec![]),
        (vec![], vec!["--execute", "--yes"]),
    ] {
        let a: Vec<&str> = pre.iter().chain(args.iter()).chain(post.iter()).copied().collect();
        let o = lxops(tmp, &a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {err}");
        assert!(o.stdout.is_empty(), "{a:?} printed on stdout");
        assert!(err.contains(key), "{a:?} does not name {key}: {err}");
    }
}

/// Case 1: Shell text is never re-parsed: a heredoc marker inside a quoted value
/// cannot end a here-document early, on the host or in the guest.
#[test]
fn case1_a_heredoc_marker_in_a_path_stays_data() {
    let _ = std::fs::remove_file(CANARY);
    let tmp = TempDir::new("reg1");
    let cc = format!(
        "#cloud-config\nwrite_files:\n- path: \"/a<<'b/f\"\n  content: \"\\\\\\nx\"\n- path: /b\n  content: \"LXOPS_EOF\\ntouch {CANARY}\\n\"\n- path: \"/c<<\"\n  content: no final newline\n"
    );
    files(
        &tmp.0,
        &[
            ("web.yaml", "#lxops-v1\nostype: alpine\nimage: tiny\ncloud-config-files: [cc.cfg]\n"),
            ("cc.cfg", &cc),
        ],
    );
    let env = vec![("STUB_INSTANCES".to_string(), "web,RUNNING".to_string())];
    let both = run_both(&tmp.0, &tmp.0, &env, &strings(&["configure", "--no-wait-network", "web.yaml"]));
    assert!(differences(&both).is_empty(), "{:?}", differences(&both));
    assert_eq!(both.script.status, 0, "{}", both.script.stderr);
    let pushed: Vec<&String> = both
        .script
        .log
        .iter()
        .filter(|(a, _)| a.get(2).is_some_and(|x| x == "push"))
        .map(|(a, _)| a.last().unwrap())
        .collect();
    assert_eq!(pushed, vec!["web/a<<'b/f", "web/b", "web/c<<"]);
    assert!(!Path::new(CANARY).exists(), "the file content ran as a command");
}

/// Case 2: A NUL byte, which bash would cut a value short at, is a compile error
/// naming its key: the destroy of `/srv/shared` is never planned.
#[test]
fn case2_a_nul_byte_is_a_compile_error() {
    let tmp = TempDir::new("reg2");
    files(
        &tmp.0,
        &[(
            "web.yaml",
            "#lxops-v1\nostype: alpine\nimage: tiny\nproperties:\n  share: \"shared\\0\"\nfilesystems:\n  data:\n    pattern: /srv/(share)/(instance)\n    destroy: true\n",
        )],
    );
    refused_everywhere(&tmp.0, &["destroy", "--force", "web.yaml"], "properties.share");
}

/// Case 3: Run-time values reach comparisons without escape processing: a
/// profile name with a tab is refused, and a backslash in the profile
/// pattern survives a rename in both runtimes alike.
#[test]
fn case3_backslashes_and_tabs_are_not_escape_sequences() {
    let tmp = TempDir::new("reg3");
    files(&tmp.0, &[("web.yaml", "#lxops-v1\nostype: alpine\nimage: tiny\nprofiles: [\"a\\tb\"]\n")]);
    refused_everywhere(&tmp.0, &["launch", "web.yaml"], "profiles[0]");
    files(
        &tmp.0,
        &[("web1.yaml", "#lxops-v1\nostype: alpine\nimage: tiny\nprofile-pattern: '(instance)\\tp'\n")],
    );
    let show = "profiles:\n- default\n- web1\\tp\n";
    let env = vec![
        ("STUB_INSTANCES".to_string(), "web1,STOPPED".to_string()),
        ("STUB_SHOW_B64".to_string(), b64(show)),
    ];
    let both = run_both(&tmp.0, &tmp.0, &env, &strings(&["rename", "web1.yaml", "web2"]));
    assert!(differences(&both).is_empty(), "{:?}", differences(&both));
    assert_eq!(both.script.status, 0, "{}", both.script.stderr);
    let assign = both
        .script
        .log
        .iter()
        .find(|(a, _)| a.get(2).is_some_and(|x| x == "assign"))
        .expect("profile assign");
    assert_eq!(assign.0, strings(&["incus", "profile", "assign", "web2", "default,web2\\tp"]));
}

/// Case 4: Server output is parsed by one rule in both runtimes: a carriage
/// return at the end of a profile name is a byte of the name, which is then
/// not a name lxops passes on — both refuse it at the same step.
#[test]
fn case4_a_carriage_return_in_server_output_is_read_alike() {
    let tmp = TempDir::new("reg4");
    files(&tmp.0, &[("web1.yaml", "#lxops-v1\nostype: alpine\nimage: tiny\n")]);
    let env = vec![
        ("STUB_INSTANCES".to_string(), "web1,STOPPED".to_string()),
        ("STUB_SHOW_B64".to_string(), b64("profiles:\n- default\r\n- web1.lxops\n")),
    ];
    let both = run_both(&tmp.0, &tmp.0, &env, &strings(&["rename", "web1.yaml", "web2"]));
    assert!(differences(&both).is_empty(), "{:?}", differences(&both));
    assert_eq!(both.script.status, 1);
    assert!(
        both.script.stderr.contains("the server lists a profile lxops cannot pass on: default\\r"),
        "{}",
        both.script.stderr
    );
    assert!(
        !both.script.log.iter().any(|(a, _)| a.get(1).is_some_and(|x| x == "rename")),
        "nothing was renamed"
    );
}

/// Case 5: Facts are keyed by what they read: projects `a-b` and `a.b` have
/// their own instance lists, so a running `y` in `a.b` is seen as running.
#[test]
fn case5_projects_with_similar_names_have_their_own_facts() {
    let tmp = TempDir::new("reg5");
    files(
        &tmp.0,
        &[
            (
                "x.yaml",
                "#lxops-v1\nostype: alpine\nimage: tiny\nproject: a-b\nfilesystems:\n  d:\n    pattern: /srv/lxops-reg5/(instance)\n    destroy: true\n",
            ),
            (
                "y.yaml",
                "#lxops-v1\nostype: alpine\nimage: tiny\nproject: a.b\nfilesystems:\n  d:\n    pattern: /srv/lxops-reg5/(instance)\n    destroy: true\n",
            ),
        ],
    );
    let json = lxops(&tmp.0, &["destroy", "x.yaml", "y.yaml", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let vars: Vec<&str> =
        plan["facts"].as_array().unwrap().iter().map(|f| f["var"].as_str().unwrap()).collect();
    assert_eq!(vars.len(), 4, "instances and profiles of each project: {vars:?}");
    let env = vec![("STUB_PROJECT_INSTANCES".to_string(), "a-b=x,STOPPED a.b=y,RUNNING".to_string())];
    let both = run_both(&tmp.0, &tmp.0, &env, &strings(&["destroy", "x.yaml", "y.yaml"]));
    assert!(differences(&both).is_empty(), "{:?}", differences(&both));
    assert_eq!(both.script.status, 1, "{}", both.script.stderr);
    assert!(both.script.stderr.contains("error: instance y is running"), "{}", both.script.stderr);
    assert!(!both.script.log.iter().any(|(a, _)| a[0] == "rm"), "nothing was removed");
}

/// Case 6: What the reviewer reads is escaped: a newline or a terminal escape in
/// a value cannot forge or erase a line of the listing or of the progress.
#[test]
fn case6_displayed_text_escapes_control_characters() {
    let tmp = TempDir::new("reg6");
    files(
        &tmp.0,
        &[("web.yaml", "#lxops-v1\nostype: alpine\nimage: \"tiny\\n 9. [host] nothing to see\\e[2K\"\n")],
    );
    let o = lxops(&tmp.0, &["launch", "web.yaml", "--no-wait-network"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let listing = String::from_utf8(o.stdout).unwrap();
    assert!(!listing.contains('\u{1b}'), "a raw escape reached the listing");
    assert!(
        listing.contains("create instance web from image tiny\\n 9. [host] nothing to see\\u{1b}[2K"),
        "{listing}"
    );
    assert!(
        !listing.lines().any(|l| l.starts_with(" 9. [host] nothing")),
        "a value forged a step line: {listing}"
    );
    let env = vec![("STUB_INSTANCES".to_string(), String::new())];
    let both = run_both(&tmp.0, &tmp.0, &env, &strings(&["launch", "web.yaml", "--no-wait-network"]));
    assert!(differences(&both).is_empty(), "{:?}", differences(&both));
    for s in [&both.script.stderr, &both.execute.stderr] {
        assert!(!s.contains('\u{1b}'), "a raw escape reached the progress: {s}");
    }
    let bad = lxops(&tmp.0, &["i", "verify", "-n", "x\u{1b}[2J", "web.yaml"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        !String::from_utf8_lossy(&bad.stderr).contains('\u{1b}'),
        "a raw escape reached an error message"
    );
}

/// Case 7: Every name a plan touches is locked: `rename web db` holds `db` too.
#[test]
fn case7_rename_locks_the_new_name() {
    let tmp = TempDir::new("reg7");
    files(&tmp.0, &[("web.yaml", "#lxops-v1\nostype: alpine\nimage: tiny\n")]);
    let json = lxops(&tmp.0, &["rename", "web.yaml", "db", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(plan["locks"], serde_json::json!(["web", "db"]));
    // Hold db's lock as a concurrent `launch db` would, then try both runtimes.
    let lock = std::fs::File::create(tmp.0.join("lxops-db.lock")).unwrap();
    lock.try_lock().unwrap();
    let bin = stub_dir(&tmp.0);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let script = lxops(&tmp.0, &["script", "rename", "web.yaml", "db"]);
    std::fs::write(tmp.0.join("run.sh"), &script.stdout).unwrap();
    let log = tmp.0.join("log");
    let s = Command::new("bash")
        .arg(tmp.0.join("run.sh"))
        .env("PATH", &path)
        .env("LXOPS_LOCK_DIR", &tmp.0)
        .env("LXOPS_STUB_LOG", &log)
        .env("STUB_INSTANCES", "web,STOPPED")
        .output()
        .unwrap();
    let e = Command::new(env!("CARGO_BIN_EXE_lxops"))
        .args(["rename", "web.yaml", "db", "--execute"])
        .current_dir(&tmp.0)
        .env("PATH", &path)
        .env("XDG_CONFIG_HOME", tmp.0.join("xdg"))
        .env("LXOPS_BACKEND", "incus")
        .env("LXOPS_LOCK_DIR", &tmp.0)
        .env("LXOPS_STUB_LOG", &log)
        .env("STUB_INSTANCES", "web,STOPPED")
        .output()
        .unwrap();
    for o in [&s, &e] {
        assert_eq!(o.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("another lxops run holds the lock for instance db"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(!log.exists(), "nothing ran while db was locked");
}

/// Case 8: A pattern that becomes a system directory (an empty property and
/// instance `etc` give `/etc`) is a compile error naming the key and value.
#[test]
fn case8_a_pattern_that_becomes_a_system_directory_is_refused() {
    let tmp = TempDir::new("reg8");
    files(
        &tmp.0,
        &[(
            "web.yaml",
            "#lxops-v1\nostype: alpine\nimage: tiny\nfilesystems:\n  host:\n    pattern: (fshost)/(instance)\n    destroy: true\n",
        )],
    );
    refused_everywhere(
        &tmp.0,
        &["destroy", "-P", "fshost=", "-n", "etc", "web.yaml"],
        "filesystems.host.pattern",
    );
    let o = lxops(&tmp.0, &["destroy", "-P", "fshost=", "-n", "etc", "web.yaml"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("/etc is a system directory"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    files(&tmp.0, &[("xdg/lxops/properties.yaml", "fshost: ''\n")]);
    refused_everywhere(&tmp.0, &["destroy", "-n", "usr", "web.yaml"], "filesystems.host.pattern");
}

/// Case 9: A device key `..` cannot make its directory leave the filesystem.
#[test]
fn case9_a_device_key_cannot_leave_its_filesystem() {
    let tmp = TempDir::new("reg9");
    files(
        &tmp.0,
        &[(
            "web.yaml",
            "#lxops-v1\nostype: alpine\nimage: tiny\nfilesystems:\n  d:\n    pattern: /srv/lxops-reg9/(instance)\ndevices:\n  ..:\n    path: /x\n    filesystem: d\n",
        )],
    );
    refused_everywhere(&tmp.0, &["launch", "web.yaml"], "devices...");
    let _ = root();
}
