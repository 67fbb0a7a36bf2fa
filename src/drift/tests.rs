//! The drift comparison on `config show --expanded`, `profile show` and
//! `image list` texts recorded from the bench's servers (tests/recorded).

use super::*;
use std::path::PathBuf;

const LXD_EXPANDED: &[u8] = include_bytes!("../../tests/recorded/lxd/expanded.yaml");
const LXD_PROFILE: &[u8] = include_bytes!("../../tests/recorded/lxd/profile.yaml");
const LXD_IMAGES: &[u8] = include_bytes!("../../tests/recorded/lxd/images.json");
const INCUS_EXPANDED: &[u8] = include_bytes!("../../tests/recorded/incus/expanded.yaml");
const INCUS_PROFILE: &[u8] = include_bytes!("../../tests/recorded/incus/profile.yaml");
const INCUS_IMAGES: &[u8] = include_bytes!("../../tests/recorded/incus/images.json");

/// The recorded instance `zz-w1` as a config describes it, with `extra` lines.
fn instance(extra: &str) -> (Instance, PathBuf) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "lxops-drift-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let props = dir.join("properties.yaml");
    std::fs::write(&props, "{}\n").unwrap();
    let cfg = dir.join("zz-w1.yaml");
    std::fs::write(
        &cfg,
        format!("#lxops-v1\nimage: tiny\nostype: alpine\ndevices:\n  home:\n    path: /home\n    dir: /srv/lxops-rec/home\n    readonly: true\n{extra}"),
    )
    .unwrap();
    let props = crate::properties::Properties::load(&[], Some(&props)).unwrap();
    let opts = crate::resolve::Options { name: None, project: None, sources: false, target: None };
    let inst = crate::resolve::instance(&mut crate::load::Loader::new(), &cfg, &props, &opts).unwrap();
    (inst, dir)
}

/// Every directory exists, owned by root, but those under /nonexistent.
fn owner(dir: &str) -> Option<String> {
    (!dir.starts_with("/nonexistent")).then(|| "0:0".into())
}

fn report(inst: &Instance, expanded: &[u8], profile: &[u8], images: &[u8]) -> Report {
    let seen = Observed {
        instances: Ok(b"other,STOPPED\nzz-w1,RUNNING"),
        expanded: Ok(expanded),
        profile: Ok(profile),
        images: Ok(images),
        owner_of: &owner,
    };
    compare(inst, Backend::Incus, &seen)
}

fn keys(r: &Report) -> Vec<String> {
    r.differences.iter().map(|d| format!("{} {}", d.sign.symbol(), d.key)).collect()
}

#[test]
fn the_recorded_instances_are_in_sync_with_their_config() {
    for (what, e, p, i) in [
        ("LXD", LXD_EXPANDED, LXD_PROFILE, LXD_IMAGES),
        ("Incus", INCUS_EXPANDED, INCUS_PROFILE, INCUS_IMAGES),
    ] {
        let (inst, dir) = instance("");
        let r = report(&inst, e, p, i);
        assert!(r.in_sync(), "{what}: {r:#?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn each_kind_of_drift_names_its_key_and_fix() {
    for (what, e, p, i) in [
        ("LXD", LXD_EXPANDED, LXD_PROFILE, LXD_IMAGES),
        ("Incus", INCUS_EXPANDED, INCUS_PROFILE, INCUS_IMAGES),
    ] {
        let (inst, dir) = instance(
            "profiles: [default, web]\nlxc-options: [-c, user.x=2, --config=security.nesting=true]\ndevice-owner: 1000:1000\nfilesystems:\n  data:\n    pattern: /nonexistent/lxops-drift/(instance)\n",
        );
        let r = report(&inst, e, p, i);
        let k = keys(&r);
        assert!(k.contains(&"+ profiles".to_string()), "{what}: profile web missing: {k:?}");
        assert!(!k.contains(&"- profiles".to_string()), "{what}: the instance profile is expected: {k:?}");
        assert_eq!(k.iter().filter(|x| *x == "~ lxc-options").count(), 2, "{what}: {k:?}");
        assert!(k.contains(&"+ filesystems.data".to_string()), "{what}: {k:?}");
        assert!(
            !k.contains(&"~ devices.home".to_string()),
            "{what}: a standalone device has no directory check: {k:?}"
        );
        let fix = &r.differences.iter().find(|d| d.key == "profiles").unwrap().fix;
        assert!(fix.starts_with("lxops profile apply -n zz-w1 "), "{fix}");
        std::fs::remove_dir_all(dir).unwrap();
    }
    // Same profiles in another order; a device that changed; an image that moved on.
    let (inst, dir) = instance("profiles: [zz-w1.lxops, default]\nprofile-pattern: (instance).lxops\n");
    let profile =
        String::from_utf8_lossy(LXD_PROFILE).replace("source: /srv/lxops-rec/home", "source: /srv/other");
    let images = String::from_utf8_lossy(LXD_IMAGES).replace("2060f088622", "99999999999");
    let r = report(&inst, LXD_EXPANDED, profile.as_bytes(), images.as_bytes());
    assert_eq!(keys(&r), vec!["~ image", "~ profiles", "~ devices.home"], "{r:#?}");
    assert!(r.differences[1].fix.starts_with("lxops profile reorder"));
    assert!(r.differences[2].message.contains("\"/srv/other\""));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn what_cannot_be_read_is_unchecked_not_in_sync() {
    let (inst, dir) = instance("");
    let seen = Observed {
        instances: Err("exit status 1".into()),
        expanded: Err("exit status 1".into()),
        profile: Err("exit status 1".into()),
        images: Err("exit status 1".into()),
        owner_of: &owner,
    };
    let r = compare(&inst, Backend::Lxd, &seen);
    assert!(r.differences.is_empty(), "{r:#?}");
    assert!(!r.unchecked.is_empty() && !r.in_sync());
    let gone = Observed { instances: Ok(b"other,RUNNING"), ..seen };
    let r = compare(&inst, Backend::Lxd, &gone);
    assert_eq!(keys(&r), vec!["+ instance", "+ profile-pattern"], "{r:#?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn lxc_option_keys() {
    let o: Vec<String> = ["-c", "a=1", "--config", "b=2", "--config=c=3", "-cd=4", "--vm", "-s", "pool"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let got: Vec<String> = option_keys(&o).into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(got, vec!["a=1", "b=2", "c=3", "d=4"]);
}
