//! Hostile input files are bounded: lxops reads only regular files of a
//! bounded size (a FIFO as an include must not hang it, `/dev/zero` must
//! not exhaust memory), and `write_files` content decodes to a bounded size
//! (a gzip bomb is a compile error, never an abort). Each case must end
//! with exit status 2 and a message, promptly.

use crate::fixtures::TempDir;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs lxops in `dir`; panics if it has not ended after 20 s (a hang).
fn lxops(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lxops"))
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("LXOPS_BACKEND", "incus")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("lxops {args:?} hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn gz_b64(len: usize) -> String {
    use base64::Engine;
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..len >> 20 {
        e.write_all(&zeros).unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(e.finish().unwrap())
}

#[test]
fn special_files_are_refused_without_hanging() {
    let tmp = TempDir::new("inputs");
    let d = &tmp.0;
    let fifo = Command::new("mkfifo").arg(d.join("fifo.yaml")).status().unwrap();
    assert!(fifo.success());
    std::fs::write(d.join("c.yaml"), "#lxops-v1\nimage: tiny\ninclude: [fifo.yaml]\n").unwrap();
    let (status, err) = lxops(d, &["i", "verify", "c.yaml"]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("not a regular file but a FIFO"), "{err}");
    let (status, err) = lxops(d, &["i", "verify", "fifo.yaml"]);
    assert_eq!(status, 2, "{err}");
    std::fs::write(d.join("z.yaml"), "#lxops-v1\nimage: tiny\ncloud-config-files: [/dev/zero]\n").unwrap();
    let (status, err) = lxops(d, &["i", "verify", "z.yaml"]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("is not a regular file"), "{err}");
    // A file over the limit is refused before it is read.
    let big = std::fs::File::create(d.join("big.yaml")).unwrap();
    big.set_len(lxops::input::MAX_INPUT + 1).unwrap();
    let (status, err) = lxops(d, &["i", "verify", "big.yaml"]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("larger than 16 MiB"), "{err}");
}

#[test]
fn compressed_bombs_are_compile_errors() {
    let tmp = TempDir::new("bombs");
    let d = &tmp.0;
    // One entry that decodes past the per-file limit (32 MiB of zeros).
    let one = format!(
        "#cloud-config\nwrite_files:\n- path: /etc/bomb\n  encoding: gz+b64\n  content: {}\n",
        gz_b64(32 << 20)
    );
    std::fs::write(d.join("one.cfg"), one).unwrap();
    // Many entries under the per-file limit that together pass the total.
    let piece = gz_b64(15 << 20);
    let mut many = String::from("#cloud-config\nwrite_files:\n");
    for i in 0..8 {
        many.push_str(&format!("- path: /etc/f{i}\n  encoding: gz+b64\n  content: {piece}\n"));
    }
    std::fs::write(d.join("many.cfg"), many).unwrap();
    for (cfg, want) in [("one.cfg", "larger than 16 MiB"), ("many.cfg", "decode to more than 64 MiB")] {
        std::fs::write(
            d.join("c.yaml"),
            format!("#lxops-v1\nimage: tiny\nostype: alpine\ncloud-config-files: [{cfg}]\n"),
        )
        .unwrap();
        let (status, err) = lxops(d, &["launch", "--no-wait-network", "c.yaml"]);
        assert_eq!(status, 2, "{cfg}: {err}");
        assert!(err.contains(want), "{cfg}: {err}");
    }
}
