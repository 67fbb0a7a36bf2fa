//! Server calls per command: each plan command runs (through both runtimes,
//! against the stand-ins) on a config with three devices, and the `incus`
//! calls the stand-in logged are counted. The table is a snapshot
//! (`snapshots/server-calls.snap`), so a call more is a reviewed change; and
//! no run may repeat a read whose answer it already has (polls aside).

use crate::equivalence::{differences, run_both};
use crate::fixtures::{TempDir, copy_dir, root};

/// A command to count: (what, environment, lxops arguments).
type Case = (&'static str, &'static [(&'static str, &'static str)], &'static str);

/// One instance, web1, three devices.
const COMMANDS: &[Case] = &[
    ("launch", &[], "launch -n web1 web.yaml"),
    ("rebuild", &[("STUB_INSTANCES", "web1,RUNNING")], "rebuild -n web1 web.yaml"),
    ("rebuild --native", &[("STUB_INSTANCES", "web1,RUNNING")], "rebuild --native -n web1 web.yaml"),
    ("configure", &[("STUB_INSTANCES", "web1,RUNNING")], "configure -n web1 web.yaml"),
    ("create-profile", &[], "create-profile -n web1 web.yaml"),
    (
        "rename",
        &[("STUB_INSTANCES", "web1,STOPPED"), ("STUB_PROFILES", "web1.lxops")],
        "rename -n web1 web.yaml web2",
    ),
    ("snapshot -c", &[("STUB_INSTANCES", "web1,RUNNING")], "snapshot -s s1 -c -n web1 web.yaml"),
    (
        "delete --force",
        &[("STUB_INSTANCES", "web1,RUNNING"), ("STUB_PROFILES", "web1.lxops")],
        "delete --force -n web1 web.yaml",
    ),
    (
        "destroy --force",
        &[("STUB_INSTANCES", "web1,RUNNING"), ("STUB_PROFILES", "web1.lxops")],
        "destroy --force -n web1 web.yaml",
    ),
];

/// Calls that wait for something: repeating them is the point.
fn is_poll(argv: &[String]) -> bool {
    let a = argv.join(" ");
    a.contains(" --columns n4 ") || a.ends_with(" -- true")
}

/// Calls that only read.
fn is_read(argv: &[String]) -> bool {
    let a: Vec<&str> = argv.iter().map(String::as_str).collect();
    let verb = a.iter().skip(1).find(|w| !w.starts_with('-') && !["default"].contains(w)).copied();
    matches!(verb, Some("list" | "query" | "info"))
        || a.windows(2).any(|w| {
            matches!(
                w,
                ["config", "show"]
                    | ["profile", "show"]
                    | ["profile", "list"]
                    | ["config", "get"]
                    | ["image", "list"]
                    | ["alias", "list"]
            )
        })
}

#[test]
fn server_calls_per_command() {
    let case = root().join("fixtures/server-calls");
    let mut table = String::from("command: server calls (reads + changes), other programs\n");
    let mut failures = Vec::new();
    for (what, env, args) in COMMANDS {
        let tmp = TempDir::new("calls");
        copy_dir(&case, &tmp.0);
        // The config's directories are under `(root)`: the copy.
        std::fs::create_dir_all(tmp.0.join("xdg/lxops")).unwrap();
        std::fs::write(tmp.0.join("xdg/lxops/properties.yaml"), format!("root: {:?}\n", tmp.0)).unwrap();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let argv: Vec<String> = args.split(' ').map(str::to_string).collect();
        let both = run_both(&tmp.0, &tmp.0, &env, &argv);
        let diffs = differences(&both);
        if !diffs.is_empty() {
            failures.push(format!("{what}: the runtimes differ:\n{}", diffs.join("\n")));
        }
        if both.execute.status != 0 {
            failures.push(format!("{what}: exit {}:\n{}", both.execute.status, both.execute.stderr));
        }
        let server: Vec<&Vec<String>> =
            both.execute.log.iter().map(|(a, _)| a).filter(|a| a[0] == "incus").collect();
        if std::env::var_os("LXOPS_SHOW_CALLS").is_some() {
            for a in &server {
                eprintln!("  {what}: {}", a.join(" "));
            }
        }
        let reads = server.iter().filter(|a| is_read(a)).count();
        let others = both.execute.log.len() - server.len();
        table.push_str(&format!("{what}: {} ({reads} + {}), {others}\n", server.len(), server.len() - reads));
        let mut seen = std::collections::HashSet::new();
        for a in server.iter().filter(|a| is_read(a) && !is_poll(a)) {
            if !seen.insert(a.join("\u{0}")) {
                failures.push(format!("{what}: reads twice: {}", a.join(" ")));
            }
        }
    }
    eprintln!("{table}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    insta::with_settings!({
        snapshot_path => root().join("snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => "server calls per command (tests/it/calls.rs)",
    }, {
        insta::assert_snapshot!("server-calls", table);
    });
}
