//! Guest configuration: cloud-config files compiled into guest steps.
//!
//! Files are parsed first, all of them, so a broken file stops everything
//! before the first change (spec C9). Each file is then applied completely,
//! in the order of decision D11: write_files (not deferred) → packages →
//! users → timezone → write_files (deferred) → runcmd. Every guest action is
//! an `incus`/`lxc` command: `exec` with an argv, `exec … -- /bin/sh` with a
//! script on stdin, or `file push -` with the file's bytes on stdin, with
//! owner and mode set explicitly. Users are idempotent (D12): an existing
//! account is not added again and `authorized_keys` is only written when
//! absent, so `configure` can run again.

use crate::cloudconfig::ostype::{OsType, TzStyle};
use crate::cloudconfig::parse::{CloudConfig, RunCmd, Sudo, User, WriteFile};
use crate::diag::{ConfigError, Diag};
use crate::plan::model::{Action, Cmd, Kind, Step};
use crate::plan::{Builder, origin};
use crate::resolve::Instance;
use crate::runtime::quote::{quote, quote_posix};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Seconds to retry the readiness probe before configuring.
pub const READY_SECONDS: u32 = 20;

/// The instance a cloud-config is applied to.
pub struct Target<'a> {
    pub name: &'a str,
    pub project: &'a str,
}

/// Adds the readiness wait and the steps that apply `inst`'s cloud-config files.
pub fn configure_steps(b: &mut Builder, inst: &Instance) -> Result<(), ConfigError> {
    if inst.cloud_config_files.is_empty() {
        return Ok(());
    }
    let os = match crate::cloudconfig::ostype::find(&inst.ostype) {
        Some(o) => Some(o),
        None if inst.ostype.is_empty() => None,
        None => {
            return Err(Diag::new(format!("unsupported ostype {:?}", inst.ostype))
                .in_file(inst.merged.origins.field("ostype", &inst.config_file))
                .at_key("ostype")
                .into());
        }
    };
    let t = Target { name: &inst.name, project: &inst.project };
    apply(b, &t, os, &inst.cloud_config_files)
}

/// Adds a readiness wait, then the steps for `files` in order.
pub fn apply(b: &mut Builder, t: &Target, os: Option<&OsType>, files: &[PathBuf]) -> Result<(), ConfigError> {
    let mut parsed = Vec::new();
    let mut errs = Vec::new();
    for f in files {
        match b.cloud_config(f) {
            Ok(cc) => parsed.push((f.clone(), cc)),
            Err(e) => errs.extend(e.0),
        }
    }
    let mut g = Guest { b, t, os, dirs: HashSet::new(), errs, decoded: 0 };
    if g.errs.is_empty() {
        let probe = g.exec(&["true"]);
        g.b.step(Step::new(
            "ready",
            Kind::Guest,
            format!("wait until {} runs commands", t.name),
            Action::WaitReady { probe, seconds: READY_SECONDS },
        ));
        for (i, (f, cc)) in parsed.iter().enumerate() {
            g.file(i + 1, f, cc);
        }
    }
    if g.errs.is_empty() { Ok(()) } else { Err(ConfigError(g.errs)) }
}

struct Guest<'a, 'b> {
    b: &'a mut Builder,
    t: &'a Target<'b>,
    os: Option<&'a OsType>,
    /// Directories already made in this run, so each is made once.
    dirs: HashSet<String>,
    errs: Vec<Diag>,
    /// Bytes of `write_files` content decoded so far for this instance.
    decoded: u64,
}

impl Guest<'_, '_> {
    fn exec(&self, argv: &[&str]) -> Cmd {
        self.b.backend().exec(self.t.project, self.t.name, &[], argv)
    }

    /// `/bin/sh` in the guest with `script` on stdin.
    fn script(&self, script: String) -> Cmd {
        let mut s = script;
        if !s.ends_with('\n') {
            s.push('\n');
        }
        self.exec(&["/bin/sh"]).stdin(s)
    }

    fn step(&mut self, id: String, title: String, at: String, cmds: Vec<Cmd>) {
        self.b.step(Step::new(&id, Kind::Guest, title, Action::Run(cmds)).origin(at));
    }

    fn need_os(&mut self, file: &Path, key: &str, what: &str) -> Option<&'static OsType> {
        match self.os {
            Some(o) => Some(crate::cloudconfig::ostype::find(o.name).expect("table row")),
            None => {
                self.errs.push(
                    Diag::new(format!("cannot {what}: no ostype"))
                        .in_file(file)
                        .at_key(key)
                        .hint("set `ostype` in the config (or --ostype for lxops cloudconfig)"),
                );
                None
            }
        }
    }

    fn file(&mut self, n: usize, f: &Path, cc: &CloudConfig) {
        let fid = format!("cc{n}");
        for (i, w) in cc.write_files.iter().enumerate().filter(|(_, w)| !w.defer) {
            self.write_file(&fid, f, i, w);
        }
        if !cc.packages.is_empty()
            && let Some(os) = self.need_os(f, "packages", "install packages")
        {
            let mut argv: Vec<&str> = os.install.to_vec();
            argv.extend(cc.packages.iter().map(|p| p.as_str()));
            let cmd = self.b.backend().exec(self.t.project, self.t.name, os.install_env, &argv);
            self.step(
                format!("{fid}/packages"),
                format!("install packages: {}", cc.packages.join(", ")),
                origin(f, "packages"),
                vec![cmd],
            );
        }
        for (i, u) in cc.users.iter().enumerate() {
            let key = format!("users[{i}]");
            let Some(os) = self.need_os(f, &key, "add users") else { continue };
            match user_script(os, u) {
                Ok(s) => {
                    let cmd = self.script(s);
                    self.step(
                        format!("{fid}/user/{}", u.name),
                        format!("add user {}", u.name),
                        origin(f, &key),
                        vec![cmd],
                    );
                }
                Err(msg) => self.errs.push(Diag::new(msg).in_file(f).at_key(key)),
            }
        }
        if let Some(tz) = &cc.timezone
            && let Some(os) = self.need_os(f, "timezone", "set the timezone")
        {
            let cmd = match os.timezone {
                TzStyle::Command(argv) => {
                    let mut a: Vec<&str> = argv.to_vec();
                    a.push(tz);
                    Some(self.exec(&a))
                }
                TzStyle::Zoneinfo => Some(self.script(format!(
                    "tz={}\n[ -e \"/usr/share/zoneinfo/$tz\" ] || {{ echo \"unknown timezone: $tz\" >&2; exit 1; }}\nln -sf \"/usr/share/zoneinfo/$tz\" /etc/localtime\nprintf '%s\\n' \"$tz\" > /etc/timezone\n",
                    quote_posix(tz)
                ))),
                TzStyle::None => None,
            };
            match cmd {
                Some(c) => self.step(
                    format!("{fid}/timezone"),
                    format!("set timezone {tz}"),
                    origin(f, "timezone"),
                    vec![c],
                ),
                None => self.errs.push(
                    Diag::new(format!("ostype {} cannot set the timezone", os.name))
                        .in_file(f)
                        .at_key("timezone"),
                ),
            }
        }
        for (i, w) in cc.write_files.iter().enumerate().filter(|(_, w)| w.defer) {
            self.write_file(&fid, f, i, w);
        }
        for (i, r) in cc.runcmd.iter().enumerate() {
            let key = format!("runcmd[{i}]");
            let (title, cmd) = match r {
                RunCmd::Script(s) => {
                    let first = s.lines().next().unwrap_or("");
                    let more = if s.trim_end().lines().count() > 1 { " …" } else { "" };
                    (format!("run script: {first}{more}"), self.script(s.clone()))
                }
                RunCmd::Argv(a) => {
                    let v: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
                    (
                        format!("run: {}", a.iter().map(|x| quote(x)).collect::<Vec<_>>().join(" ")),
                        self.exec(&v),
                    )
                }
            };
            self.step(format!("{fid}/runcmd/{i}"), title, origin(f, &key), vec![cmd]);
        }
    }

    fn write_file(&mut self, fid: &str, f: &Path, i: usize, w: &WriteFile) {
        let key = format!("write_files[{i}]");
        let bytes = match decode(&w.content, w.encoding.as_deref()) {
            Ok(b) => b,
            Err(msg) => {
                self.errs.push(Diag::new(msg).in_file(f).at_key(format!("{key}.encoding")));
                return;
            }
        };
        let before = self.decoded;
        self.decoded += bytes.len() as u64;
        if self.decoded > MAX_TOTAL_BYTES {
            if before > MAX_TOTAL_BYTES {
                return;
            }
            self.errs.push(
                Diag::new(format!(
                    "the write_files of {} decode to more than {} MiB",
                    self.t.name,
                    MAX_TOTAL_BYTES >> 20
                ))
                .in_file(f)
                .at_key(key)
                .hint("copy large files with a device or a template directory, not through cloud-config"),
            );
            return;
        }
        let mode =
            w.permissions.as_deref().map(|p| u32::from_str_radix(p, 8).unwrap_or(0o644)).unwrap_or(0o644);
        let mode = format!("{mode:04o}");
        let mut cmds = Vec::new();
        let title;
        if w.append {
            title = format!("append to {}", w.path);
            cmds.push(self.exec(&["/bin/sh", "-c", "cat >> \"$1\"", "sh", &w.path]).stdin(bytes));
        } else {
            let dir = Path::new(&w.path).parent().map(|d| d.display().to_string()).unwrap_or_default();
            if dir != "/" && !dir.is_empty() && self.dirs.insert(dir.clone()) {
                cmds.push(self.exec(&["mkdir", "-p", &dir]));
            }
            title = format!("write {} (mode {mode})", w.path);
            cmds.push(self.b.backend().file_push(self.t.project, self.t.name, &w.path, &mode, bytes));
        }
        if let Some(owner) = &w.owner {
            cmds.push(self.exec(&["chown", owner, &w.path]));
        }
        let id = format!("{fid}/file/{i}");
        self.step(id, title, origin(f, &key), cmds);
    }
}

/// The most bytes one `write_files` entry may decode to: a larger file is
/// not configuration, and a compressed bomb must not exhaust the host.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The most bytes all `write_files` entries of one instance may decode to.
pub const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;

/// Decodes `write_files` content as cloud-init does (decision D13), at most
/// [`MAX_FILE_BYTES`].
pub fn decode(content: &str, encoding: Option<&str>) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let too_big = || format!("the decoded content is larger than {} MiB", MAX_FILE_BYTES / 1024 / 1024);
    let gunzip = |b: Vec<u8>| -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&b[..])
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("content is not gzip data: {e}"))?;
        if out.len() as u64 > MAX_FILE_BYTES {
            return Err(too_big());
        }
        Ok(out)
    };
    let out = match encoding.map(|e| e.to_ascii_lowercase()) {
        None => content.as_bytes().to_vec(),
        Some(e) => match e.as_str() {
            "text/plain" => content.as_bytes().to_vec(),
            "b64" | "base64" => base64_decode(content)?,
            "gz" | "gzip" => gunzip(content.as_bytes().to_vec())?,
            "gz+b64" | "gz+base64" | "gzip+b64" | "gzip+base64" => gunzip(base64_decode(content)?)?,
            other => return Err(format!("unknown encoding {other:?}: use b64, base64, gzip, gz or gz+b64")),
        },
    };
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    Ok(out)
}

/// Base64 as cloud-init reads it: white space ignored, padding optional,
/// the standard or the URL-safe alphabet.
fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let cfg = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let url = compact.contains(['-', '_']);
    let engine =
        GeneralPurpose::new(if url { &base64::alphabet::URL_SAFE } else { &base64::alphabet::STANDARD }, cfg);
    engine.decode(compact.as_bytes()).map_err(|e| format!("content is not base64: {e}"))
}

/// The guest shell script that adds `u` idempotently (decision D12).
fn user_script(os: &OsType, u: &User) -> Result<String, String> {
    let add = os.add_user(u).ok_or_else(|| format!("ostype {} cannot add users", os.name))?;
    let name = quote_posix(&u.name);
    let mut s = String::from("set -e\n");
    s.push_str(&format!("if ! id -u {name} >/dev/null 2>&1; then\n"));
    s.push_str(&format!("  {}\n", add.iter().map(|a| quote_posix(a)).collect::<Vec<_>>().join(" ")));
    let hash = u.hashed_passwd.as_ref().or(u.passwd.as_ref());
    let set_password = os.set_password.join(" ");
    match hash {
        Some(h) => s.push_str(&format!(
            "  printf '%s\\n' {} | {set_password}\n",
            quote_posix(&format!("{}:{h}", u.name))
        )),
        None if os.unlock_password => s.push_str(&format!(
            "  printf '%s\\n' {} | {set_password}\n",
            quote_posix(&format!("{}:*", u.name))
        )),
        None => {}
    }
    s.push_str("fi\n");
    for g in &u.groups {
        let add: Vec<String> =
            os.add_to_group.iter().map(|a| a.to_string()).chain([u.name.clone(), g.clone()]).collect();
        let add: Vec<String> = add.iter().map(|a| quote_posix(a)).collect();
        let g = quote_posix(g);
        s.push_str(&format!("id -nG {name} | tr ' ' '\\n' | grep -qxF {g} || {}\n", add.join(" ")));
    }
    if let Sudo::Rules(rules) = &u.sudo {
        let rules: Vec<String> =
            if rules.is_empty() { vec!["ALL=(ALL) NOPASSWD:ALL".into()] } else { rules.clone() };
        let sudoers: Vec<String> = rules.iter().map(|r| quote_posix(&format!("{} {r}", u.name))).collect();
        let f = quote_posix(&format!("/etc/sudoers.d/{}", u.name));
        s.push_str(&format!(
            "if [ -d /etc/sudoers.d ]; then\n  printf '%s\\n' {} > {f}\n  chmod 600 {f}\nfi\n",
            sudoers.join(" ")
        ));
        let nopass = rules.iter().any(|r| r.contains("NOPASSWD"));
        let doas = quote_posix(&format!("permit {}{}", if nopass { "nopass " } else { "" }, u.name));
        let f = quote_posix(&format!("/etc/doas.d/{}.conf", u.name));
        s.push_str(&format!(
            "if [ -d /etc/doas.d ]; then\n  printf '%s\\n' {doas} > {f}\n  chmod 600 {f}\nfi\n"
        ));
    }
    if !u.ssh_authorized_keys.is_empty() {
        let home = match (&u.homedir, u.name.as_str()) {
            (Some(h), _) => h.clone(),
            (None, "root") => "/root".to_string(),
            (None, n) => format!("/home/{n}"),
        };
        let ssh = quote_posix(&format!("{home}/.ssh"));
        let keys = quote_posix(&format!("{home}/.ssh/authorized_keys"));
        let lines: Vec<String> = u.ssh_authorized_keys.iter().map(|k| quote_posix(k)).collect();
        s.push_str(&format!("if [ ! -e {keys} ]; then\n"));
        s.push_str(&format!("  mkdir -p {ssh}\n  chmod 0700 {ssh}\n"));
        s.push_str(&format!("  printf '%s\\n' {} > {keys}\n  chmod 0600 {keys}\n", lines.join(" ")));
        s.push_str(&format!("  chown {name}:\"$(id -gn {name})\" {ssh} {keys}\nfi\n"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(decode("aGk=", Some("b64")).unwrap(), b"hi");
        assert_eq!(decode("x", None).unwrap(), b"x");
        assert!(decode("x", Some("rot13")).is_err());
    }
}
