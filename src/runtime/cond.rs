//! Conditions and facts, in both runtimes.
//!
//! A fact is a read-only command's output (normalized as every output is)
//! kept for the whole run. A fact row is a line (split at `\n` only) whose
//! comma-separated fields are compared byte for byte: the first with a key,
//! optionally the second with a value (a line without a comma has no second
//! field). `lxops_row` and [`row`] implement that rule; the other
//! conditions are tests on the host (`[ -d ]`, the real-directory check of
//! destroy), flags set by steps, list emptiness, and commands' exit status
//! or output.

use crate::plan::model::Cond;
use crate::runtime::cmd::{self, Out, normalize};
use crate::runtime::quote::quote;
use crate::runtime::{RunError, Runner, Sh};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Whether `fact` has a row whose first field is `key` (and whose field
/// number `column` is `value`, when given): the Rust half of `lxops_row`.
pub fn row(fact: &[u8], key: &[u8], value: Option<&[u8]>, column: usize) -> bool {
    fact.split(|b| *b == b'\n').any(|line| {
        let mut fields = line.split(|b| *b == b',');
        fields.next() == Some(key)
            && match value {
                None => true,
                Some(v) => fields.nth(column - 2) == Some(v),
            }
    })
}

/// The bash half of facts and conditions.
pub const BASH: &str = r#"# lxops_row FACT KEY [VALUE [COLUMN]]: FACT has a line whose first
# comma-separated field is KEY (and whose field number COLUMN, 2 unless
# given, is VALUE, when given).
lxops_row() {
  local LC_ALL=C line rest col=${4:-2} i
  while IFS= read -r line; do
    [[ ${line%%,*} == "$2" ]] || continue
    [ $# -ge 3 ] || return 0
    rest=$line
    for ((i = 1; i < col; i++)); do
      [[ $rest == *,* ]] || continue 2
      rest=${rest#*,}
    done
    [[ ${rest%%,*} == "$3" ]] && return 0
  done <<<"$1"
  return 1
}
# lxops_empty_or_absent PATH: PATH does not exist, or is an empty directory.
lxops_empty_or_absent() {
  [ ! -e "$1" ] || { [ -d "$1" ] && [ -z "$(ls -A -- "$1")" ]; }
}
# lxops_real_dir PATH: PATH is a directory, not reached through a symbolic link.
lxops_real_dir() {
  [ -d "$1" ] && [ ! -L "$1" ] && [ "$(realpath -e -- "$1")" = "$1" ]
}
# lxops_list_is ordered|any NAME ITEM...: the array NAME holds exactly the
# ITEMs, in order or in any order (names hold no newline, so sorting the
# lines compares them as multisets; LC_ALL=C sorts bytes as Rust does).
lxops_list_is() {
  local -n __lxops_list=$2
  local how=$1 i=0 x
  shift 2
  [ "${#__lxops_list[@]}" = $# ] || return 1
  if [ "$how" = ordered ]; then
    for x in "$@"; do
      [[ ${__lxops_list[i]} == "$x" ]] || return 1
      i=$((i + 1))
    done
    return 0
  fi
  [ "$(printf '%s\n' "${__lxops_list[@]}" | LC_ALL=C sort)" = "$(printf '%s\n' "$@" | LC_ALL=C sort)" ]
}
# lxops_prints WANT ARGV...: the command succeeds and prints WANT.
lxops_prints() {
  local want=$1 out
  shift
  out=$("$@" 2>/dev/null | tr -d '\000') && [ "$out" = "$want" ]
}
"#;

/// A bash condition that is true exactly when `c` is; the helpers it calls
/// are recorded in `sh`.
pub fn bash(sh: &mut Sh, c: &Cond) -> String {
    match c {
        Cond::DirExists(p) => format!("[ -d {} ]", quote(p)),
        Cond::FileExists(p) => format!("[ -f {} ]", quote(p)),
        Cond::EmptyOrAbsent(p) => format!("{} {}", sh.uses("lxops_empty_or_absent"), quote(p)),
        Cond::RealDir(p) => format!("{} {}", sh.uses("lxops_real_dir"), quote(p)),
        Cond::Flag(v) => format!("[ \"${v}\" = 1 ]"),
        Cond::FactRow { fact, key, value, column } => {
            let row = sh.uses("lxops_row");
            match value {
                None => format!("{row} \"${fact}\" {}", quote(key)),
                Some(v) if *column == 2 => format!("{row} \"${fact}\" {} {}", quote(key), quote(v)),
                Some(v) => format!("{row} \"${fact}\" {} {} {column}", quote(key), quote(v)),
            }
        }
        Cond::Succeeds(c) => {
            assert_plain(c);
            format!("{} >/dev/null 2>&1", cmd::words(c))
        }
        Cond::Prints { cmd: c, want } => {
            assert_plain(c);
            format!("{} {} {}", sh.uses("lxops_prints"), quote(want), cmd::words(c))
        }
        Cond::ListEmpty(v) => format!("[ \"${{#{v}[@]}}\" -eq 0 ]"),
        Cond::ListIs { list, items, ordered } => {
            let words: Vec<String> = items.iter().map(|i| quote(i)).collect();
            let how = if *ordered { "ordered" } else { "any" };
            format!(
                "{} {how} {list}{}{}",
                sh.uses("lxops_list_is"),
                if words.is_empty() { "" } else { " " },
                words.join(" ")
            )
        }
        Cond::Not(inner) => format!("! {}", group(sh, inner)),
        Cond::And(v) => v.iter().map(|c| group(sh, c)).collect::<Vec<_>>().join(" && "),
        Cond::Or(v) => v.iter().map(|c| group(sh, c)).collect::<Vec<_>>().join(" || "),
    }
}

/// A condition usable as one operand of `!`, `&&` or `||`.
pub fn group(sh: &mut Sh, c: &Cond) -> String {
    match c {
        Cond::And(_) | Cond::Or(_) | Cond::Not(_) => format!("{{ {}; }}", bash(sh, c)),
        _ => bash(sh, c),
    }
}

/// Commands in conditions read nothing and write nowhere: the plan builders
/// never give them input or an output file.
fn assert_plain(c: &crate::plan::model::Cmd) {
    assert!(
        c.stdin == crate::plan::model::Input::Null && c.stdout == crate::plan::model::Sink::Log,
        "a condition's command has redirections"
    );
}

impl Runner {
    /// The Rust half of [`bash`].
    pub fn eval(&self, c: &Cond) -> Result<bool, RunError> {
        Ok(match c {
            Cond::DirExists(p) => std::path::Path::new(p).is_dir(),
            Cond::FileExists(p) => std::path::Path::new(p).is_file(),
            Cond::EmptyOrAbsent(p) => {
                let path = std::path::Path::new(p);
                !path.exists()
                    || (path.is_dir() && std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none()))
            }
            Cond::RealDir(p) => real_dir(p),
            Cond::Flag(v) => self.var(v) == b"1",
            Cond::FactRow { fact, key, value, column } => {
                row(self.var(fact), key.as_bytes(), value.as_deref().map(str::as_bytes), *column)
            }
            Cond::Succeeds(c) => self.spawn(c, Out::Discard)?.status == 0,
            Cond::Prints { cmd: c, want } => {
                let f = self.spawn(c, Out::CaptureQuiet)?;
                f.status == 0 && normalize(&f.stdout) == want.as_bytes()
            }
            Cond::ListEmpty(v) => self.list(v).is_empty(),
            Cond::ListIs { list, items, ordered } => {
                let mut have: Vec<&[u8]> = self.list(list).iter().map(Vec::as_slice).collect();
                let mut want: Vec<&[u8]> = items.iter().map(|i| i.as_bytes()).collect();
                if !*ordered {
                    have.sort();
                    want.sort();
                }
                have == want
            }
            Cond::Not(i) => !self.eval(i)?,
            Cond::And(v) => {
                for x in v {
                    if !self.eval(x)? {
                        return Ok(false);
                    }
                }
                true
            }
            Cond::Or(v) => {
                for x in v {
                    if self.eval(x)? {
                        return Ok(true);
                    }
                }
                false
            }
        })
    }

    /// Runs a fact's command: its normalized output, or the failure.
    pub fn read_fact(&self, c: &crate::plan::model::Cmd) -> Result<Vec<u8>, i32> {
        match self.spawn(c, Out::Capture) {
            Ok(f) if f.status == 0 => Ok(normalize(&f.stdout)),
            Ok(f) => Err(f.status),
            Err(_) => Err(1),
        }
    }
}

/// The Rust half of `lxops_real_dir`: a directory whose canonical path is itself.
fn real_dir(p: &str) -> bool {
    let path = std::path::Path::new(OsStr::from_bytes(p.as_bytes()));
    let Ok(meta) = std::fs::symlink_metadata(path) else { return false };
    meta.is_dir() && std::fs::canonicalize(path).is_ok_and(|c| c.as_os_str().as_bytes() == p.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows() {
        let fact = b"web1,RUNNING\nweb2\nweb3,STOPPED,x\r";
        assert!(row(fact, b"web1", None, 2));
        assert!(row(fact, b"web1", Some(b"RUNNING"), 2));
        assert!(row(fact, b"web2", None, 2));
        assert!(!row(fact, b"web2", Some(b"web2"), 2));
        assert!(row(fact, b"web3", Some(b"STOPPED"), 2));
        assert!(!row(fact, b"web3", Some(b"x"), 2));
        let marks = b"a,RUNNING,incomplete\nb,STOPPED,\nc,RUNNING\n";
        assert!(row(marks, b"a", Some(b"incomplete"), 3));
        assert!(!row(marks, b"a", Some(b"RUNNING"), 3));
        assert!(!row(marks, b"b", Some(b"incomplete"), 3));
        assert!(row(marks, b"b", Some(b""), 3));
        assert!(!row(marks, b"c", Some(b"incomplete"), 3));
        assert!(!row(marks, b"c", Some(b""), 3));
        assert!(!row(fact, b"web", None, 2));
        assert!(!row(b"", b"x", None, 2));
    }
}
