//! Actions, in both runtimes: run, pipe, capture, wait for the network,
//! wait until the guest answers, and loop over a run-time list.
//!
//! [`bash`] writes an action's body into the script; [`Runner::act`] does
//! the same on this host. Both print the same lines (values through
//! `text::show`) and trace the same records; an action that finds nothing
//! to do (an instance without a NIC) reports the step as skipped in both.

use crate::plan::model::{Action, Cmd, POLLS_PER_SECOND};
use crate::runtime::cmd::{self, Out, normalize};
use crate::runtime::parse::{self, Parsed};
use crate::runtime::quote::quote;
use crate::runtime::text::show;
use crate::runtime::{RunError, Runner, Sh};
use std::time::Duration;

/// How an action ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ran,
    /// It found its effect already there; the note says why.
    Skipped(String),
}

/// The bash half of value reports, the network wait and the readiness wait.
pub const BASH: &str = r#"# lxops_value NAME VALUE / lxops_values NAME ELEMENT...: shows a run-time
# value the step computed, and traces it.
lxops_value() {
  lxops_say "    $1 = $(lxops_show "$2")"
  lxops_trace value "$lxops_unit" "$lxops_k" "$1" "$(lxops_show "$2")"
}
lxops_values() {
  local name=$1 shown='' e i=0
  shift
  lxops_trace values "$lxops_unit" "$lxops_k" "$name" "$#"
  for e in "$@"; do
    shown+="${shown:+ }$(lxops_show "$e")"
    lxops_trace value "$lxops_unit" "$lxops_k" "${name}[$i]" "$(lxops_show "$e")"
    i=$((i + 1))
  done
  lxops_say "    $name = $shown"
}
# lxops_has_nic TEXT: the expanded config TEXT has a device of type nic.
lxops_has_nic() {
  local LC_ALL=C line
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]+type:\ nic$ ]] && return 0
  done <<<"$1"
  return 1
}
# lxops_ipv4_of NAME TEXT: the first IPv4 address on NAME's line of
# `list --format csv --columns n4` TEXT: the first run of digits and dots
# that is four numbers of one to three digits, each at most 255.
lxops_ipv4_of() {
  local LC_ALL=C line rest tok re='^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$'
  while IFS= read -r line; do
    [[ ${line%%,*} == "$1" && $line == *,* ]] || continue
    rest=${line#*,}
    while [[ $rest =~ [0-9.]+ ]]; do
      tok=${BASH_REMATCH[0]}
      rest=${rest#*"$tok"}
      if [[ $tok =~ $re ]] && ((10#${BASH_REMATCH[1]} <= 255 && 10#${BASH_REMATCH[2]} <= 255 && 10#${BASH_REMATCH[3]} <= 255 && 10#${BASH_REMATCH[4]} <= 255)); then
        printf '%s' "$tok"
        return 0
      fi
    done
    return 1
  done <<<"$2"
  return 1
}
# lxops_poll_ipv4 VAR NAME ARGV...: runs ARGV once; NAME's IPv4 address in
# its output goes into VAR (status 1 when there is none yet).
lxops_poll_ipv4() {
  local -n __lxops_addr=$1
  local var=$1 name=$2 out
  shift 2
  out=$("$@" 2>/dev/null | tr -d '\000') || out=''
  __lxops_addr=$(lxops_ipv4_of "$name" "$out") || return 1
  lxops_value "$var" "$__lxops_addr"
}
# lxops_wait_network VAR SECONDS TRIES PAUSE NAME SHOWN ARGV...: unless SHOWN
# (the expanded config) has no NIC, polls ARGV for NAME's IPv4 address into
# VAR, up to TRIES times, PAUSE seconds apart.
lxops_wait_network() {
  local var=$1 seconds=$2 tries=$3 pause=$4 name=$5 shown=$6 i
  shift 6
  if ! lxops_has_nic "$shown"; then
    lxops_skip 'the instance has no network interface'
    return 0
  fi
  for ((i = 0; i < tries; i++)); do
    lxops_poll_ipv4 "$var" "$name" "$@" && { lxops_status_end; return 0; }
    lxops_status "$i" "$tries" "$seconds" "waiting for an IPv4 address of $name"
    sleep "$pause"
  done
  lxops_status_end
  lxops_say "    no IPv4 address for $name after $seconds s"
  return 1
}
# lxops_status I TRIES SECONDS TEXT: on a terminal, a status line that
# counts the seconds of a wait (rewritten in place; nothing otherwise).
lxops_status() {
  [ -t 2 ] || return 0
  local per=$(($2 / ($3 > 0 ? $3 : 1)))
  (($1 % (per > 0 ? per : 1) == 0)) || return 0
  printf '\r    %s: %d s\033[K' "$4" $(($1 / (per > 0 ? per : 1))) >&2
}
# lxops_status_end: the status line goes.
lxops_status_end() {
  [ -t 2 ] || return 0
  printf '\r\033[K' >&2
}
# lxops_wait_ready SECONDS TRIES PAUSE ARGV...: retries ARGV up to TRIES times,
# PAUSE seconds apart, until it succeeds.
lxops_wait_ready() {
  local seconds=$1 tries=$2 pause=$3 i
  shift 3
  for ((i = 0; i < tries; i++)); do
    "$@" >/dev/null 2>&1 && { lxops_status_end; return 0; }
    lxops_status "$i" "$tries" "$seconds" 'waiting for the instance to answer'
    sleep "$pause"
  done
  lxops_status_end
  lxops_say "    the instance did not answer within $seconds s"
  return 1
}
"#;

/// Writes the body of `a` into the script.
pub fn bash(sh: &mut Sh, a: &Action) {
    match a {
        Action::Run(cmds) => {
            for c in cmds {
                sh.command("", &cmd::sh(c).reported(), "");
            }
        }
        Action::Pipe(cmds) => {
            let (line, docs) = cmd::pipeline(sh, cmds);
            sh.line(line);
            sh.docs(&docs);
        }
        Action::Capture { cmd: c, raw, outputs } => {
            capture_bash(sh, c, raw);
            for (var, p) in outputs {
                let line = parse::bash(sh, p, var, raw);
                sh.line(line);
                if p.is_list() {
                    let h = sh.uses("lxops_values");
                    sh.line(format!("{h} {var} \"${{{var}[@]}}\""));
                } else {
                    let h = sh.uses("lxops_value");
                    sh.line(format!("{h} {var} \"${var}\""));
                }
            }
        }
        Action::WaitNetwork { show, shown, list, instance, seconds, address } => {
            // The expanded config is read only when the first poll found no
            // address: while the instance waits for DHCP, not before.
            let (name, list) = (quote(instance), cmd::words(list));
            let poll = sh.uses("lxops_poll_ipv4");
            sh.open(format!("if ! {poll} {address} {name} {list}; then"));
            capture_bash(sh, show, shown);
            let wait = sh.uses("lxops_wait_network");
            sh.line(format!(
                "{wait} {address} {seconds} {} {} {name} \"${shown}\" {list}",
                seconds * POLLS_PER_SECOND,
                pause(),
            ));
            sh.close("fi");
        }
        Action::WaitReady { probe, seconds } => {
            let wait = sh.uses("lxops_wait_ready");
            sh.line(format!(
                "{wait} {seconds} {} {} {}",
                seconds * POLLS_PER_SECOND,
                pause(),
                cmd::words(probe)
            ));
        }
        Action::Assert { cond, message } => {
            let cond = crate::runtime::cond::group(sh, cond);
            sh.open(format!("if ! {cond}; then"));
            sh.line(format!("lxops_say {}", quote(&format!("    {}", crate::runtime::text::text(message)))));
            sh.line("false");
            sh.close("fi");
        }
        Action::ForEach { list, item, unless_in, cmd: c, collect, tolerant } => {
            if let Some(v) = collect {
                sh.line(format!("{v}=()"));
            }
            sh.open(format!("for {item} in \"${{{list}[@]}}\"; do"));
            if let Some(f) = unless_in {
                let row = sh.uses("lxops_row");
                sh.line(format!("{row} \"${f}\" \"${item}\" && continue"));
            }
            let after = if *tolerant {
                format!(" || {{ lxops_say \"    failed: $(lxops_show \"${item}\")\"; continue; }}")
            } else {
                String::new()
            };
            sh.command("", &cmd::sh(c).reported(), &after);
            if let Some(v) = collect {
                sh.line(format!("{v}+=(\"${item}\")"));
            }
            sh.close("done");
            if let Some(v) = collect {
                let h = sh.uses("lxops_values");
                sh.line(format!("{h} {v} \"${{{v}[@]}}\""));
            }
        }
    }
}

/// `raw=$(lxops_run CMD | tr -d '\000')`, on several lines when the command
/// has a here-document.
fn capture_bash(sh: &mut Sh, c: &Cmd, raw: &str) {
    let rendered = cmd::sh(c).reported();
    if rendered.head().1.is_some() {
        sh.open(format!("{raw}=$("));
        sh.command("", &rendered, " | tr -d '\\000'");
        sh.close(")");
    } else {
        sh.command(&format!("{raw}=$("), &rendered, " | tr -d '\\000')");
    }
}

impl Runner {
    /// Shows and traces a scalar the step computed (`lxops_value`).
    fn value(&mut self, name: &str, v: &[u8]) {
        self.say(&format!("    {name} = {}", show(v)));
        let (u, k) = (self.unit_name.clone(), self.step_no.to_string());
        self.trace(&["value", &u, &k, name, &show(v)]);
    }

    /// Shows and traces a list the step computed (`lxops_values`).
    fn values(&mut self, name: &str, v: &[Vec<u8>]) {
        let (u, k) = (self.unit_name.clone(), self.step_no.to_string());
        self.trace(&["values", &u, &k, name, &v.len().to_string()]);
        for (i, e) in v.iter().enumerate() {
            self.trace(&["value", &u, &k, &format!("{name}[{i}]"), &show(e)]);
        }
        let shown: Vec<String> = v.iter().map(|e| show(e)).collect();
        self.say(&format!("    {name} = {}", shown.join(" ")));
    }

    fn capture(&mut self, c: &Cmd, raw: &str) -> Result<Vec<u8>, RunError> {
        let out = normalize(&self.run_checked(c, Out::Capture)?.stdout);
        self.vars.insert(raw.to_string(), out.clone());
        Ok(out)
    }

    /// On a terminal, a status line counting the seconds of a wait, rewritten
    /// in place (the Rust half of `lxops_status`); a unit's output, going to
    /// its log, gets none.
    fn status(&self, poll: u32, what: &str) {
        use std::io::{IsTerminal, Write};
        if self.unit.is_none() && poll.is_multiple_of(POLLS_PER_SECOND) && std::io::stderr().is_terminal() {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r    {what}: {} s\x1b[K", poll / POLLS_PER_SECOND);
            let _ = e.flush();
        }
    }

    /// The status line goes (`lxops_status_end`).
    fn status_end(&self) {
        use std::io::{IsTerminal, Write};
        if self.unit.is_none() && std::io::stderr().is_terminal() {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
        }
    }

    /// One poll for `instance`'s IPv4 address, kept in `address` (the Rust
    /// half of `lxops_poll_ipv4`).
    fn poll_ipv4(&mut self, list: &Cmd, instance: &str, address: &str) -> bool {
        let out = match self.spawn(list, Out::CaptureQuiet) {
            Ok(f) if f.status == 0 => normalize(&f.stdout),
            _ => Vec::new(),
        };
        let Some(ip) = ipv4_of(&out, instance.as_bytes()) else { return false };
        self.vars.insert(address.to_string(), ip.clone());
        self.value(address, &ip);
        true
    }

    /// The Rust half of [`bash`].
    pub fn act(&mut self, a: &Action) -> Result<Outcome, RunError> {
        match a {
            Action::Run(cmds) => {
                for c in cmds {
                    self.run_checked(c, Out::AsPlanned)?;
                }
            }
            Action::Pipe(cmds) => self.run_pipeline(cmds)?,
            Action::Capture { cmd: c, raw, outputs } => {
                let text = self.capture(c, raw)?;
                for (var, p) in outputs {
                    let parsed = parse::apply(p, &text, &|w| self.word(w));
                    match parsed {
                        Ok(Parsed::One(v)) => {
                            self.vars.insert(var.clone(), v.clone());
                            self.value(var, &v);
                        }
                        Ok(Parsed::Many(v)) => {
                            self.lists.insert(var.clone(), v.clone());
                            self.values(var, &v);
                        }
                        Err(msg) => {
                            self.say(&format!("    {msg}"));
                            return Err(RunError(msg));
                        }
                    }
                }
            }
            Action::WaitNetwork { show: s, shown, list, instance, seconds, address } => {
                // As the script: one poll, then the NIC check, then the polls.
                if self.poll_ipv4(list, instance, address) {
                    return Ok(Outcome::Ran);
                }
                let text = self.capture(s, shown)?;
                if !has_nic(&text) {
                    return Ok(Outcome::Skipped("the instance has no network interface".into()));
                }
                let what = format!("waiting for an IPv4 address of {instance}");
                for i in 0..seconds * POLLS_PER_SECOND {
                    if self.poll_ipv4(list, instance, address) {
                        self.status_end();
                        return Ok(Outcome::Ran);
                    }
                    self.status(i, &what);
                    std::thread::sleep(Duration::from_millis(1000 / u64::from(POLLS_PER_SECOND)));
                }
                self.status_end();
                let msg = format!("no IPv4 address for {instance} after {seconds} s");
                self.say(&format!("    {msg}"));
                return Err(RunError(msg));
            }
            Action::WaitReady { probe, seconds } => {
                for i in 0..seconds * POLLS_PER_SECOND {
                    if self.spawn(probe, Out::Discard)?.status == 0 {
                        self.status_end();
                        return Ok(Outcome::Ran);
                    }
                    self.status(i, "waiting for the instance to answer");
                    std::thread::sleep(Duration::from_millis(1000 / u64::from(POLLS_PER_SECOND)));
                }
                self.status_end();
                let msg = format!("the instance did not answer within {seconds} s");
                self.say(&format!("    {msg}"));
                return Err(RunError(msg));
            }
            Action::Assert { cond, message } => {
                if !self.eval(cond)? {
                    self.say(&format!("    {}", crate::runtime::text::text(message)));
                    return Err(RunError(message.clone()));
                }
            }
            Action::ForEach { list, item, unless_in, cmd: c, collect, tolerant } => {
                let mut done = Vec::new();
                for e in self.list(list).to_vec() {
                    if let Some(f) = unless_in
                        && crate::runtime::cond::row(self.var(f), &e, None, 2)
                    {
                        continue;
                    }
                    self.vars.insert(item.clone(), e.clone());
                    if let Err(err) = self.run_checked(c, Out::AsPlanned) {
                        if *tolerant {
                            self.say(&format!("    failed: {}", show(&e)));
                            continue;
                        }
                        return Err(err);
                    }
                    done.push(e);
                }
                if let Some(v) = collect {
                    self.lists.insert(v.clone(), done.clone());
                    self.values(v, &done);
                }
            }
        }
        Ok(Outcome::Ran)
    }
}

/// The Rust half of `lxops_has_nic`: a line of one or more white-space
/// bytes (as `[[:space:]]` in the C locale) followed by `type: nic`.
pub fn has_nic(text: &[u8]) -> bool {
    text.split(|b| *b == b'\n').any(|l| {
        let n = l.iter().take_while(|b| b" \t\x0b\x0c\r".contains(b)).count();
        n > 0 && &l[n..] == b"type: nic"
    })
}

/// The Rust half of `lxops_ipv4_of`.
pub fn ipv4_of(csv: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    let line = csv.split(|b| *b == b'\n').find(|l| {
        let first = l.split(|b| *b == b',').next().unwrap_or_default();
        first == name && l.contains(&b',')
    })?;
    let rest = &line[line.iter().position(|b| *b == b',')? + 1..];
    rest.split(|b| !(b.is_ascii_digit() || *b == b'.'))
        .filter(|t| !t.is_empty())
        .find(|t| {
            let parts: Vec<&[u8]> = t.split(|b| *b == b'.').collect();
            parts.len() == 4
                && parts.iter().all(|p| {
                    (1..=3).contains(&p.len())
                        && std::str::from_utf8(p)
                            .ok()
                            .and_then(|s| s.parse::<u32>().ok())
                            .is_some_and(|n| n <= 255)
                })
        })
        .map(<[u8]>::to_vec)
}

/// The pause between two polls, as `sleep` takes it (0.25 for four a second).
fn pause() -> String {
    format!("{}", 1.0 / f64::from(POLLS_PER_SECOND))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ipv4() {
        assert_eq!(ipv4_of(b"c1,\"10.77.0.5 (eth0)\"", b"c1"), Some(b"10.77.0.5".to_vec()));
        assert_eq!(ipv4_of(b"c10,\"10.77.0.5 (eth0)\"\nc1,", b"c1"), None);
        assert_eq!(ipv4_of(b"c1,1000.1.1.1 10.0.0.1", b"c1"), Some(b"10.0.0.1".to_vec()));
        assert!(has_nic(b"devices:\n  eth0:\n    type: nic"));
        assert!(!has_nic(b"type: nic\n    type: nics"));
    }
}
