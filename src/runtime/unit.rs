//! Steps, stopwatches, undo and cleanup, in both runtimes.
//!
//! A step is announced (`[3/16] title`, or `[web1 3/16] title` when the plan
//! has several instances), skipped when its guard holds, otherwise run, and
//! reported `ok 0.12 s`; a resumed run reports the steps before the resume
//! point as not run. When a step fails, the undo windows of its unit that
//! cover it run (each command when its condition holds, failures reported
//! and passed over), then the unit's cleanup; the cleanup also runs when the
//! unit ends well. Both runtimes print the same lines and write the same
//! trace records (`LXOPS_TRACE=FILE`): `fact`, `check`, `step`, `value(s)`,
//! `undo`, `cleanup`, `message`, `downtime` and `end`.

use crate::plan::model::{Edge, Guarded, Part, Plan, Step, Undo, Word};
use crate::render::style::Style;
use crate::runtime::action::{self, Outcome};
use crate::runtime::cmd::{self, Out};
use crate::runtime::cond;
use crate::runtime::quote::{posix_line, quote};
use crate::runtime::text::{show, text};
use crate::runtime::{RunError, Runner, Sh};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The bash half of the step framing and of undo and cleanup.
pub const BASH: &str = r#"lxops_say() { printf '%s\n' "$*" >&2; }
lxops_die() { lxops_say "error: $*"; exit 1; }
# lxops_trace FIELD...: one record of the run's trace, when LXOPS_TRACE names a file.
lxops_trace() { if [ -n "${LXOPS_TRACE:-}" ]; then printf '%s\n' "$*" >>"$LXOPS_TRACE"; fi; }
# lxops_now VAR: microseconds since the epoch, into VAR.
lxops_now() { printf -v "$1" '%s' "${EPOCHREALTIME//[!0-9]/}"; }
# lxops_secs MICROSECONDS: seconds with two decimals, truncated.
lxops_secs() { printf '%d.%02d' $(($1 / 1000000)) $(($1 % 1000000 / 10000)); }
# lxops_step U K TITLE: announces step K of unit U; false when the run
# resumes at a later step.
lxops_step() {
  lxops_u=$1 lxops_k=$2 lxops_title=$3 lxops_unit=${lxops_names[$1]} lxops_skipped=0
  lxops_tag="[$2/${lxops_sizes[$1]}]"
  if [ "${#lxops_names[@]}" = 1 ]; then lxops_label=$2; else lxops_label="$lxops_unit:$2"; fi
  if [ "$1" -lt "$lxops_from_u" ] || { [ "$1" = "$lxops_from_u" ] && [ "$2" -lt "$lxops_from_k" ]; }; then
    lxops_say "$lxops_tag $3 ... not run (resuming at $lxops_from)"
    lxops_trace step "$lxops_unit" "$2" not-run
    return 1
  fi
  lxops_began[$1]=1
  lxops_say "$lxops_tag $3"
  lxops_now lxops_t0
}
# lxops_skip NOTE: the step's effect is already there.
lxops_skip() {
  lxops_skipped=1
  lxops_say "    skipped: $1"
  lxops_trace step "$lxops_unit" "$lxops_k" skipped
}
# lxops_ok: the step ran.
lxops_ok() {
  local t
  [ "$lxops_skipped" = 0 ] || return 0
  lxops_now t
  lxops_say "    ok $(lxops_secs $((t - lxops_t0))) s"
  lxops_trace step "$lxops_unit" "$lxops_k" ok
}
# lxops_try undo|cleanup I ARGV...: runs command I of the unit's undo or
# cleanup; a failure is reported and traced, and the next command runs.
lxops_try() {
  local what=$1 i=$2 rc=0
  shift 2
  "$@" || rc=$?
  if [ "$rc" = 0 ]; then
    lxops_trace "$what" "$lxops_unit" "$i" ran
  else
    lxops_say "    $what command failed (exit status $rc): $(lxops_show "$(lxops_qp "$@")")"
    lxops_trace "$what" "$lxops_unit" "$i" failed
  fi
}
# lxops_message TEXT: a message of the undo, e.g. where the snapshots are.
lxops_message() {
  lxops_say "$1"
  lxops_trace message "$lxops_unit" "$1"
}
# lxops_downtime LABEL START STOP: the time between two stopwatch edges, if both ran.
lxops_downtime() {
  [ -n "$2" ] && [ -n "$3" ] || return 0
  lxops_last_downtime=$(lxops_secs $(($3 - $2)))
  lxops_say "downtime $1: $lxops_last_downtime s"
  lxops_trace downtime "$1"
}
"#;

/// The bash block of step `k` (1-based) of unit `u`.
pub fn step_bash(sh: &mut Sh, plan: &Plan, u: usize, k: usize, s: &Step) {
    let unit = &plan.units[u];
    let label = plan.resume_label(crate::plan::model::Resume { unit: u, step: k });
    let mark = if s.destructive { "  [DESTRUCTIVE]" } else { "" };
    sh.line("");
    sh.line(format!("# ---- step {label}/{}: {}{mark}", unit.steps.len(), comment(&s.title)));
    sh.line(format!("# id: {}", comment(&s.id)));
    if let Some(o) = &s.origin {
        sh.line(format!("# from: {}", comment(o)));
    }
    let step = sh.uses("lxops_step");
    sh.open(format!("if {step} {u} {k} {}; then", quote(&text(&s.title))));
    if let Some(c) = &s.skip_if {
        let c = cond::bash(sh, c);
        sh.open(format!("if {c}; then"));
        let skip = sh.uses("lxops_skip");
        sh.line(format!("{skip} {}", quote(&text(s.skip_note.as_deref().unwrap_or("")))));
        sh.reopen("else");
    }
    if let Some(t) = s.timer.as_ref().filter(|t| t.edge == Edge::Start) {
        let now = sh.uses("lxops_now");
        sh.line(format!("{now} {}", t.start));
    }
    action::bash(sh, &s.action);
    for f in &s.sets {
        sh.line(format!("{f}=1"));
    }
    if let Some(t) = s.timer.as_ref().filter(|t| t.edge == Edge::Stop) {
        let now = sh.uses("lxops_now");
        sh.line(format!("{now} {}", t.stop));
    }
    let ok = sh.uses("lxops_ok");
    sh.line(ok);
    if s.skip_if.is_some() {
        sh.close("fi");
    }
    sh.close("fi");
}

/// Text safe inside a `#` comment.
pub fn comment(s: &str) -> String {
    text(s)
}

/// A message of words as one bash word: literal parts shown as compiled,
/// run-time values through `lxops_show`.
fn message_word(words: &[Word]) -> String {
    let mut out = String::new();
    let mut lit = String::new();
    for p in words.iter().flat_map(|w| w.0.iter()) {
        match p {
            Part::Lit(l) => lit.push_str(l),
            Part::Var(v) | Part::List(v) => {
                if !lit.is_empty() {
                    out.push_str(&quote(&text(&std::mem::take(&mut lit))));
                }
                let all = if matches!(p, Part::List(_)) { "[*]" } else { "" };
                out.push_str(&format!("\"$(lxops_show \"${{{v}{all}}}\")\""));
            }
        }
    }
    if !lit.is_empty() || out.is_empty() {
        out.push_str(&quote(&text(&lit)));
    }
    out
}

/// One guarded command of undo or cleanup (a loop over its list, if any).
fn guarded_bash(sh: &mut Sh, what: &str, unit: &str, i: usize, g: &Guarded) {
    let c = cmd::sh(&g.cmd);
    if let Some(e) = &g.each {
        sh.open(format!("for {} in \"${{{}[@]}}\"; do", e.item, e.list));
    }
    match &g.when {
        Some(w) => {
            let w = cond::bash(sh, w);
            sh.open(format!("if {w}; then"));
            let t = sh.uses("lxops_try");
            sh.command(&format!("{t} {what} {i} "), &c, "");
            sh.reopen("else");
            sh.line(format!("lxops_trace {what} {} {i} skipped", quote(unit)));
            sh.close("fi");
        }
        None => {
            let t = sh.uses("lxops_try");
            sh.command(&format!("{t} {what} {i} "), &c, "")
        }
    }
    if g.each.is_some() {
        sh.close("done");
    }
}

/// The undo function of unit `u` (`lxops_undo_U STEP`), if it has undo windows.
pub fn undo_bash(sh: &mut Sh, plan: &Plan, u: usize) {
    let unit = &plan.units[u];
    if unit.undo.is_empty() {
        return;
    }
    sh.line(format!("# undo for {}: run when a step in a window below fails", comment(&unit.name)));
    sh.open(format!("lxops_undo_{u}() {{"));
    for (w, Undo { first, last, cmds, message }) in unit.undo.iter().enumerate() {
        sh.open(format!("if [ \"$1\" -ge {first} ] && [ \"$1\" -le {last} ]; then"));
        sh.line(format!("lxops_say {}", quote(&format!("undoing the changes to {}:", text(&unit.name)))));
        sh.line(format!("lxops_trace undo {} window {w}", quote(&unit.name)));
        for (i, g) in cmds.iter().enumerate() {
            guarded_bash(sh, "undo", &unit.name, i, g);
        }
        if !message.is_empty() {
            let m = sh.uses("lxops_message");
            sh.line(format!("{m} {}", message_word(message)));
        }
        sh.line("lxops_undone=1");
        sh.close("fi");
    }
    sh.close("}");
}

/// The cleanup function of unit `u` (`lxops_cleanup_U`), if it has cleanup.
pub fn cleanup_bash(sh: &mut Sh, plan: &Plan, u: usize) {
    let unit = &plan.units[u];
    if unit.cleanup.is_empty() {
        return;
    }
    sh.line(format!(
        "# cleanup for {}: runs when the unit ends, whether it succeeded or not",
        comment(&unit.name)
    ));
    sh.open(format!("lxops_cleanup_{u}() {{"));
    sh.line(format!("lxops_unit={}", quote(&unit.name)));
    for (i, g) in unit.cleanup.iter().enumerate() {
        guarded_bash(sh, "cleanup", &unit.name, i, g);
    }
    sh.close("}");
}

/// The time now, as the script's `lxops_now` gives it.
fn now_us() -> Vec<u8> {
    let us = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
    us.to_string().into_bytes()
}

/// Seconds with two decimals, truncated, as `lxops_secs`.
pub fn secs(us: u128) -> String {
    format!("{}.{:02}", us / 1_000_000, us % 1_000_000 / 10_000)
}

/// How a step ended in `--execute`.
pub enum StepEnd {
    Ran,
    Skipped,
}

impl Runner {
    /// The tag of step `k` of unit `u` in progress lines.
    pub fn tag(plan: &Plan, u: usize, k: usize) -> String {
        // With several instances, each unit's lines carry its name already.
        format!("[{k}/{}]", plan.units[u].steps.len())
    }

    /// The Rust half of one step block: announce, guard, action, flags,
    /// stopwatch edges, `ok`.
    pub fn run_step(&mut self, plan: &Plan, u: usize, k: usize, s: &Step) -> Result<StepEnd, RunError> {
        self.unit_name = plan.units[u].name.clone();
        self.step_no = k;
        let tag = Self::tag(plan, u, k);
        self.say_marked(Style::Heading, &tag, &format!(" {}", text(&s.title)));
        let t0 = Instant::now();
        if let Some(c) = &s.skip_if
            && self.eval(c)?
        {
            self.skip(&text(s.skip_note.as_deref().unwrap_or("")));
            return Ok(StepEnd::Skipped);
        }
        if let Some(t) = s.timer.as_ref().filter(|t| t.edge == Edge::Start) {
            self.vars.insert(t.start.clone(), now_us());
        }
        if let Outcome::Skipped(note) = self.act(&s.action)? {
            self.skip(&note);
            return Ok(StepEnd::Skipped);
        }
        for f in &s.sets {
            self.vars.insert(f.clone(), b"1".to_vec());
        }
        if let Some(t) = s.timer.as_ref().filter(|t| t.edge == Edge::Stop) {
            self.vars.insert(t.stop.clone(), now_us());
        }
        self.say_marked(Style::Ok, "    ok", &format!(" {} s", secs(t0.elapsed().as_micros())));
        let (n, k) = (self.unit_name.clone(), k.to_string());
        self.trace(&["step", &n, &k, "ok"]);
        Ok(StepEnd::Ran)
    }

    fn skip(&mut self, note: &str) {
        self.say_marked(Style::Quiet, "    skipped:", &format!(" {note}"));
        let (n, k) = (self.unit_name.clone(), self.step_no.to_string());
        self.trace(&["step", &n, &k, "skipped"]);
    }

    fn try_guarded(&mut self, what: &str, i: usize, g: &Guarded) {
        match &g.each {
            None => self.try_one(what, i, g),
            Some(e) => {
                for item in self.list(&e.list).to_vec() {
                    self.vars.insert(e.item.clone(), item);
                    self.try_one(what, i, g);
                }
            }
        }
    }

    fn try_one(&mut self, what: &str, i: usize, g: &Guarded) {
        let i = i.to_string();
        let n = self.unit_name.clone();
        if let Some(w) = &g.when
            && !self.eval(w).unwrap_or(false)
        {
            self.trace(&[what, &n, &i, "skipped"]);
            return;
        }
        match self.spawn(&g.cmd, Out::AsPlanned) {
            Ok(f) if f.status == 0 => self.trace(&[what, &n, &i, "ran"]),
            other => {
                let status = other.map(|f| f.status).unwrap_or(1);
                let shown = show(&posix_line(&self.expand(&g.cmd)));
                self.say(&format!("    {what} command failed (exit status {status}): {shown}"));
                self.trace(&[what, &n, &i, "failed"]);
            }
        }
    }

    /// The Rust half of `lxops_undo_U`: returns whether a window covered step `k`.
    pub fn undo(&mut self, plan: &Plan, u: usize, k: usize) -> bool {
        let unit = &plan.units[u];
        self.unit_name = unit.name.clone();
        let mut any = false;
        for (w, undo) in unit.undo.iter().enumerate() {
            if k < undo.first || k > undo.last {
                continue;
            }
            self.say(&format!("undoing the changes to {}:", text(&unit.name)));
            self.trace(&["undo", &unit.name, "window", &w.to_string()]);
            for (i, g) in undo.cmds.iter().enumerate() {
                self.try_guarded("undo", i, g);
            }
            if !undo.message.is_empty() {
                let mut m = String::new();
                for p in undo.message.iter().flat_map(|w| w.0.iter()) {
                    match p {
                        Part::Lit(l) => m.push_str(&text(l)),
                        Part::Var(v) => m.push_str(&show(self.var(v))),
                        Part::List(v) => m.push_str(&show(&self.list(v).join(&b' '))),
                    }
                }
                self.say(&m);
                self.trace(&["message", &unit.name, &m]);
            }
            any = true;
        }
        any
    }

    /// The Rust half of `lxops_cleanup_U`.
    pub fn cleanup(&mut self, plan: &Plan, u: usize) {
        let unit = &plan.units[u];
        self.unit_name = unit.name.clone();
        for (i, g) in unit.cleanup.iter().enumerate() {
            self.try_guarded("cleanup", i, g);
        }
    }

    /// The Rust half of `lxops_downtime`, for every stopwatch of the plan.
    /// Reports the stopwatches (of unit `u`, or of every unit) and returns
    /// the last downtime, for the summary.
    pub fn downtimes(&mut self, plan: &Plan, u: Option<usize>) -> Option<String> {
        let mut last = None;
        let units: Vec<&crate::plan::model::Unit> = match u {
            Some(u) => vec![&plan.units[u]],
            None => plan.units.iter().collect(),
        };
        for s in units.into_iter().flat_map(|u| u.steps.iter()) {
            let Some(t) = s.timer.as_ref().filter(|t| t.edge == Edge::Start) else { continue };
            let parse = |v: &[u8]| std::str::from_utf8(v).ok().and_then(|s| s.parse::<u128>().ok());
            if let (Some(a), Some(b)) = (parse(self.var(&t.start)), parse(self.var(&t.stop))) {
                let d = secs(b.saturating_sub(a));
                self.say(&format!("downtime {}: {d} s", text(&t.label)));
                self.trace(&["downtime", &text(&t.label)]);
                last = Some(d);
            }
        }
        last
    }
}

/// `YYYYmmdd-HHMMSS` in UTC for seconds since the epoch (as `date -u
/// +%Y%m%d-%H%M%S`), for log directory names.
pub fn utc_stamp(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The bash lines that report the stopwatches of one unit.
pub fn downtimes_bash_unit(sh: &mut Sh, unit: &crate::plan::model::Unit) {
    for s in &unit.steps {
        if let Some(t) = s.timer.as_ref().filter(|t| t.edge == Edge::Start) {
            let d = sh.uses("lxops_downtime");
            sh.line(format!("{d} {} \"${}\" \"${}\"", quote(&text(&t.label)), t.start, t.stop));
        }
    }
}

/// The bash lines that report every stopwatch at the end.
pub fn downtimes_bash(sh: &mut Sh, plan: &Plan) {
    for s in plan.units.iter().flat_map(|u| u.steps.iter()) {
        if let Some(t) = s.timer.as_ref().filter(|t| t.edge == Edge::Start) {
            let d = sh.uses("lxops_downtime");
            sh.line(format!("{d} {} \"${}\" \"${}\"", quote(&text(&t.label)), t.start, t.stop));
        }
    }
}
