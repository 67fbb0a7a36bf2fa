//! The bash and Rust halves of every parser, condition and display rule
//! agree: generated inputs (server-like text mixed with hostile bytes, from
//! a fixed seed) go through each bash helper of the script and through its
//! Rust half, and the results must be equal, byte for byte.

use lxops::plan::model::Parse;
use lxops::runtime::parse::Parsed;
use std::io::Write;
use std::process::{Command, Stdio};

const PIECES: &[&[u8]] = &[
    b"profiles:",
    b"profiles: []",
    b"- ",
    b"-",
    b"default",
    b"web1.lxops",
    b"a,b",
    b"  volatile.",
    b"eth0",
    b".hwaddr: ",
    b"10:66:6a:01:02:03",
    b"config:",
    b"    type: nic",
    b"\ttype: nic",
    b"type: nic",
    b"web1",
    b",",
    b"\"10.1.2.3 (eth0)\"",
    b"1000.1.1.1",
    b"256.1.1.1",
    b"010.001.002.003",
    b"1.2.3.4.5",
    b" ",
    b"\r",
    b"\t",
    b"\\",
    b"'",
    b"\"",
    b"$(x)",
    b"`y`",
    b"%s",
    b"\xc3\xa9",
    b"\xff",
    b"\x1b[2J",
    b"\x7f",
    b"\n",
    b"\n",
    b"\n",
];

fn text(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.usize(0..14) {
        if rng.u32(0..8) == 0 {
            out.push(rng.u8(1..=255));
        } else {
            out.extend_from_slice(PIECES[rng.usize(0..PIECES.len())]);
        }
    }
    // Values reach the parsers normalized: no NUL, no trailing newline.
    lxops::runtime::cmd::normalize(&out)
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// The bash side: reads `KIND b64...` lines, prints `b64(result)` lines.
const HARNESS: &str = r#"
d() { if [ "$1" != - ]; then printf '%s' "$1" | base64 -d; fi; }
e() { printf '%s' "$1" | base64 -w0; printf '\n'; }
# the elements of an array, each followed by \x01
a1() { local x; for x in "$@"; do printf '%s\x01' "$x"; done; }
while IFS=' ' read -r kind a b c d2; do
  case $kind in
    show) e "$(lxops_show "$(d "$a")")" ;;
    qp) e "$(lxops_qp "$(d "$a")" "$(d "$b")" "$(d "$c")")" ;;
    row) if lxops_row "$(d "$a")" "$(d "$b")"; then e yes; else e no; fi ;;
    rowv) if lxops_row "$(d "$a")" "$(d "$b")" "$(d "$c")"; then e yes; else e no; fi ;;
    row3) if lxops_row "$(d "$a")" "$(d "$b")" "$(d "$c")" 3; then e yes; else e no; fi ;;
    name) if lxops_name_ok "$(d "$a")"; then e yes; else e no; fi ;;
    nic) if lxops_has_nic "$(d "$a")"; then e yes; else e no; fi ;;
    ipv4) if r=$(lxops_ipv4_of "$(d "$a")" "$(d "$b")"); then e "ip $r"; else e none; fi ;;
    join) v=''; if lxops_profiles v "$(d "$a")" join 2>/dev/null; then e "ok $v"; else e fail; fi ;;
    replace) v=''; if lxops_profiles v "$(d "$a")" join "$(d "$b")" "$(d "$c")" 2>/dev/null; then e "ok $v"; else e fail; fi ;;
    list) v=(); if lxops_profiles v "$(d "$a")" list 2>/dev/null; then e "ok $(a1 "${v[@]}")"; else e fail; fi ;;
    flags) v=(); if lxops_profiles v "$(d "$a")" flags 2>/dev/null; then e "ok $(a1 "${v[@]}")"; else e fail; fi ;;
    macs) v=(); if lxops_hwaddrs v "$(d "$a")" macs 2>/dev/null; then e "ok $(a1 "${v[@]}")"; else e fail; fi ;;
    keys) v=(); if lxops_hwaddrs v "$(d "$a")" keys 2>/dev/null; then e "ok $(a1 "${v[@]}")"; else e fail; fi ;;
    member) v=''; if lxops_member v "$(d "$a")" m2 root@m2-admin 2>/dev/null; then e "ok $v"; else e fail; fi ;;
    random) v=''; if lxops_random_name v "$(d "$a")" extract- 2>/dev/null; then e "ok $v"; else e fail; fi ;;
    listis)
      mapfile -t l < <(d "$b"); mapfile -t w < <(d "$c")
      if lxops_list_is "$(d "$a")" l "${w[@]}"; then e yes; else e no; fi ;;
  esac
done
"#;

fn yes(b: bool) -> Vec<u8> {
    if b { b"yes".to_vec() } else { b"no".to_vec() }
}

fn parsed(r: Result<Parsed, String>) -> Vec<u8> {
    match r {
        Err(_) => b"fail".to_vec(),
        Ok(Parsed::One(v)) => [b"ok ".as_slice(), &v].concat(),
        Ok(Parsed::Many(v)) => {
            let mut o = b"ok ".to_vec();
            for x in v {
                o.extend(x);
                o.push(1);
            }
            o
        }
    }
}

#[test]
fn bash_and_rust_halves_agree_on_generated_inputs() {
    use lxops::runtime::{action, cond, parse, quote, text as disp};
    let mut rng = fastrand::Rng::with_seed(0x7275_6e74_696d_6573);
    let mut lines = String::new();
    let mut want: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..3000 {
        let (a, b, c) = (text(&mut rng), text(&mut rng), text(&mut rng));
        // Keys and names are short words, as the plan gives them.
        let key = |rng: &mut fastrand::Rng| -> Vec<u8> {
            let mut k = PIECES[rng.usize(0..PIECES.len())].to_vec();
            k.retain(|x| *x != b'\n');
            if k.is_empty() { b"x".to_vec() } else { k }
        };
        let (k, v) = (key(&mut rng), key(&mut rng));
        // Lists of names (no newline, not empty), joined by newlines for the harness.
        let names = |rng: &mut fastrand::Rng| -> Vec<Vec<u8>> {
            (0..rng.usize(0..4))
                .map(|_| [b"a".as_slice(), b"b", b"c", b"web1.lxops", b"x\ry"][rng.usize(0..5)].to_vec())
                .collect()
        };
        let (l, w) = (names(&mut rng), names(&mut rng));
        let w = if rng.bool() { l.iter().rev().cloned().collect() } else { w };
        let (lj, wj) = (l.join(&b'\n'), w.join(&b'\n'));
        let how: &[u8] = if rng.bool() { b"ordered" } else { b"any" };
        let listis = {
            let (mut a2, mut b2) = (l.clone(), w.clone());
            if how == b"any" {
                a2.sort();
                b2.sort();
            }
            yes(a2 == b2)
        };
        // od's output: numbers and blanks, now and then something else.
        let od: Vec<u8> = (0..rng.usize(0..10))
            .flat_map(|_| match rng.u32(0..12) {
                0 => PIECES[rng.usize(0..PIECES.len())].to_vec(),
                1 => b"\t".to_vec(),
                2 => b"\n".to_vec(),
                3 => b"0001234567890".to_vec(),
                _ => format!(" {:>3}", rng.u32(0..256)).into_bytes(),
            })
            .collect();
        let od = lxops::runtime::cmd::normalize(&od);
        // `info` output: a Location line (a member, `none`, anything) among other text.
        let info: Vec<u8> = {
            let m: Vec<u8> = match rng.u32(0..5) {
                0 => b"none".to_vec(),
                1 => b"m2".to_vec(),
                _ => k.clone(),
            };
            let loc = [b"Location: ".as_slice(), &m].concat();
            match rng.u32(0..4) {
                0 => [a.clone(), b"\n".to_vec(), loc].concat(),
                1 => a.clone(),
                _ => [b"Name: x\n".as_slice(), &loc, b"\n", &b].concat(),
            }
        };
        let member_pairs = vec![("m2".to_string(), "root@m2-admin".to_string())];
        let (kind, args, expected): (&str, Vec<&[u8]>, Vec<u8>) = match i % 17 {
            16 => ("member", vec![&info], parsed(parse::member(&info, &member_pairs).map(Parsed::One))),
            15 => ("flags", vec![&a], parsed(parse::apply_for_test(&Parse::ProfileFlags, &a))),
            14 => ("row3", vec![&a, &k, &v], yes(cond::row(&a, &k, Some(&v), 3))),
            13 => (
                "random",
                vec![&od],
                parsed(parse::apply_for_test(&Parse::RandomName { prefix: "extract-".into() }, &od)),
            ),
            12 => ("listis", vec![how, &lj, &wj], listis),
            0 => ("show", vec![&a], disp::show(&a).into_bytes()),
            1 => ("qp", vec![&a, &b, &c], quote::posix_line(&[a.clone(), b.clone(), c.clone()])),
            2 => ("row", vec![&a, &k], yes(cond::row(&a, &k, None, 2))),
            3 => ("rowv", vec![&a, &k, &v], yes(cond::row(&a, &k, Some(&v), 2))),
            4 => ("name", vec![&k], yes(parse::name_ok(&k))),
            5 => ("nic", vec![&a], yes(action::has_nic(&a))),
            6 => (
                "ipv4",
                vec![&k, &a],
                match action::ipv4_of(&a, &k) {
                    Some(ip) => [b"ip ".as_slice(), &ip].concat(),
                    None => b"none".to_vec(),
                },
            ),
            7 => ("join", vec![&a], parsed(parse::apply_for_test(&Parse::Profiles { replace: None }, &a))),
            8 => (
                "replace",
                vec![&a, b"web1.lxops", b"web2.lxops"],
                parsed(parse::apply_for_test(
                    &Parse::Profiles { replace: Some(("web1.lxops".into(), "web2.lxops".into())) },
                    &a,
                )),
            ),
            9 => ("list", vec![&a], parsed(parse::apply_for_test(&Parse::ProfileNames, &a))),
            10 => ("macs", vec![&a], parsed(parse::apply_for_test(&Parse::Hwaddrs, &a))),
            _ => ("keys", vec![&a], parsed(parse::apply_for_test(&Parse::HwaddrKeys, &a))),
        };
        let enc: Vec<String> = args.iter().map(|x| b64(x)).collect();
        // An empty base64 field would shift `read`'s fields: mark it.
        let enc: Vec<String> = enc.into_iter().map(|s| if s.is_empty() { "-".into() } else { s }).collect();
        lines.push_str(&format!("{kind} {}\n", enc.join(" ")));
        want.push((
            format!(
                "{kind} {:?}",
                args.iter().map(|x| String::from_utf8_lossy(x).to_string()).collect::<Vec<_>>()
            ),
            expected,
        ));
    }
    let script = format!("set -u\n{}\n{HARNESS}", lxops::runtime::bash_helpers().join(""));
    let mut child = Command::new("bash")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(lines.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let got: Vec<Vec<u8>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(l).unwrap()
        })
        .collect();
    assert_eq!(got.len(), want.len(), "bash answered {} of {} inputs", got.len(), want.len());
    let mut bad = Vec::new();
    for ((what, w), g) in want.iter().zip(&got) {
        if w != g {
            bad.push(format!(
                "{what}\n  rust: {:?}\n  bash: {:?}",
                String::from_utf8_lossy(w),
                String::from_utf8_lossy(g)
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} inputs differ:\n{}",
        bad.len(),
        want.len(),
        bad.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Runs `body` in bash with the script's helpers, `set -euo pipefail`;
/// returns (status, stdout).
fn bash_with_helpers(body: &str) -> (i32, Vec<u8>) {
    let script = format!("set -euo pipefail\n{}\n{body}\n", lxops::runtime::bash_helpers().join(""));
    let o = Command::new("bash").args(["-c", &script]).stdin(Stdio::null()).output().unwrap();
    (o.status.code().unwrap_or(-1), o.stdout)
}

/// A command's argv — on this host or over ssh, with sudo or not, with
/// run-time values and lists — is the same in both runtimes.
#[test]
fn commands_expand_alike_locally_and_over_ssh() {
    use lxops::plan::model::{Cmd, Target, Word};
    use lxops::runtime::quote::quote;
    let mut rng = fastrand::Rng::with_seed(0x0073_7368);
    let cmds = [
        Cmd::new(["zfs", "snapshot"])
            .push(Word::lit_var("tank/a b@", "snap"))
            .root()
            .on(Target::Ssh { dest: Word::var("host"), sudo: true }),
        Cmd::new(["zfs", "list"])
            .push(Word::var("v"))
            .on(Target::Ssh { dest: Word::lit("root@h'1"), sudo: false }),
        Cmd::new(["mkdir", "-p"]).push(Word::var("v")).root(),
        Cmd::new(["echo", "x y"]).push(Word::list("l")).push(Word::lit("")),
    ];
    for round in 0..60 {
        let vals: Vec<Vec<u8>> =
            (0..3).map(|_| text(&mut rng).into_iter().filter(|b| *b != b'\n').collect()).collect();
        let list: Vec<Vec<u8>> = (0..rng.usize(0..3)).map(|_| text(&mut rng)).collect();
        let sudo = round % 2 == 0;
        let mut r = lxops::runtime::Runner::new(sudo);
        r.vars.insert("host".into(), vals[0].clone());
        r.vars.insert("snap".into(), vals[1].clone());
        r.vars.insert("v".into(), vals[2].clone());
        r.lists.insert("l".into(), list.clone());
        // Values reach bash as base64, decoded into the variables.
        let decode = |name: &str, v: &[u8]| format!("{name}=$(printf '%s' {} | base64 -d)", quote(&b64(v)));
        let mut body = String::new();
        body.push_str(if sudo { "SUDO=(sudo -n)\n" } else { "SUDO=()\n" });
        body.push_str(&format!(
            "{}\n{}\n{}\nl=()\n",
            decode("host", &vals[0]),
            decode("snap", &vals[1]),
            decode("v", &vals[2])
        ));
        for e in &list {
            body.push_str(&format!("l+=(\"$(printf '%s' {} | base64 -d)\")\n", quote(&b64(e))));
        }
        for c in &cmds {
            body.push_str(&format!(
                "printf '%s\\0' {} | base64 -w0; printf '\\n'\n",
                lxops::runtime::cmd::words(c)
            ));
        }
        let (status, out) = bash_with_helpers(&body);
        assert_eq!(status, 0);
        let got: Vec<Vec<u8>> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(l).unwrap()
            })
            .collect();
        for (c, g) in cmds.iter().zip(&got) {
            let want: Vec<u8> = r
                .expand(c)
                .into_iter()
                .flat_map(|mut a| {
                    a.push(0);
                    a
                })
                .collect();
            assert_eq!(&want, g, "{c:?} with {vals:?} {list:?}");
        }
    }
}

/// Pipelines, input from a file and output to a file work alike: the same
/// bytes arrive, and a failing member fails the step in both runtimes.
#[test]
fn pipelines_and_file_streams_run_alike() {
    use lxops::plan::model::{Action, Cmd, Word};
    let tmp = crate::fixtures::TempDir::new("streams");
    let input = tmp.0.join("in");
    std::fs::write(&input, b"hello \x00\xff world\n").unwrap();
    for (name, middle, ok) in [("ok", "tr", true), ("fails", "false", false)] {
        let out_bash = tmp.0.join(format!("{name}.bash"));
        let out_rust = tmp.0.join(format!("{name}.rust"));
        let pipe = |out: &std::path::Path| {
            let mid = if middle == "tr" { Cmd::new(["tr", "a-z", "A-Z"]) } else { Cmd::new(["false"]) };
            Action::Pipe(vec![
                Cmd::new(["cat"]).stdin_file(Word::var("src")),
                mid,
                Cmd::new(["cat"]).stdout_file(Word::lit(out.display().to_string())),
            ])
        };
        let mut sh = lxops::runtime::Sh::new();
        lxops::runtime::action::bash(&mut sh, &pipe(&out_bash));
        let body = format!(
            "src={}\nlxops_unit=t lxops_k=1\n{}",
            lxops::runtime::quote::quote(&input.display().to_string()),
            sh.finish()
        );
        let (status, _) = bash_with_helpers(&body);
        let mut r = lxops::runtime::Runner::new(false);
        r.vars.insert("src".into(), input.display().to_string().into_bytes());
        let rust = r.act(&pipe(&out_rust));
        assert_eq!(status == 0, ok, "bash: {name}");
        assert_eq!(rust.is_ok(), ok, "rust: {name}");
        assert_eq!(std::fs::read(&out_bash).unwrap(), std::fs::read(&out_rust).unwrap(), "{name}");
        if ok {
            assert_eq!(std::fs::read(&out_rust).unwrap(), b"HELLO \x00\xff WORLD\n");
        }
    }
}
