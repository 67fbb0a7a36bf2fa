//! Parsers of server output, in both runtimes.
//!
//! Each [`Parse`] reads `config show` text line by line (lines end at `\n`
//! only) with the same byte rules in bash (`lxops_*` helpers, `LC_ALL=C`,
//! no awk, sed or escape processing) and in Rust ([`apply`]). A value that
//! would change what a later command acts on — a profile name lxops could
//! not pass on intact, a NIC or MAC that is not plainly one — fails the
//! parse in both, naming it, instead of being passed on or silently dropped.

use crate::plan::model::Parse;
use crate::runtime::text::show;

/// What a parser produced: one value, a list, or why the text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    One(Vec<u8>),
    Many(Vec<Vec<u8>>),
}

/// A profile name lxops can pass on intact: the API name rule of current
/// Incus (starts and ends with a letter or digit; no white space, no
/// `$?&+"'`*/`) without commas (they separate `profile assign`'s list) or
/// control bytes. The bash half is the regular expression in `lxops_name_ok`.
pub fn name_ok(n: &[u8]) -> bool {
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    let bad = |b: &u8| *b < 0x20 || *b == 0x7f || b" \x0b\x0c$?&+\"'`*/,".contains(b);
    match n {
        [] => false,
        [one] => alnum(one),
        [first, middle @ .., last] => alnum(first) && alnum(last) && !middle.iter().any(bad),
    }
}

/// The profile names listed under `profiles:`.
fn profile_names(out: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut names = Vec::new();
    let mut inside = false;
    for line in out.split(|b| *b == b'\n') {
        if line.starts_with(b"profiles:") {
            inside = true;
        } else if inside && let Some(x) = line.strip_prefix(b"- ") {
            if !name_ok(x) {
                return Err(format!("the server lists a profile lxops cannot pass on: {}", show(x)));
            }
            names.push(x.to_vec());
        } else {
            inside = false;
        }
    }
    Ok(names)
}

/// A NIC's name and MAC address, as bytes.
type Nic = (Vec<u8>, Vec<u8>);

/// `(nic, mac)` for each `  volatile.<nic>.hwaddr: <mac>` line.
fn hwaddrs(out: &[u8]) -> Result<Vec<Nic>, String> {
    let mut v = Vec::new();
    for line in out.split(|b| *b == b'\n') {
        let Some(rest) = line.strip_prefix(b"  volatile.") else { continue };
        let Some(dot) = rest.iter().position(|b| *b == b'.') else { continue };
        let (nic, after) = (&rest[..dot], &rest[dot + 1..]);
        let Some(mac) = after.strip_prefix(b"hwaddr: ") else { continue };
        let nic_ok =
            !nic.is_empty() && nic.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
        let mac_ok = !mac.is_empty() && mac.iter().all(|b| b.is_ascii_hexdigit() || *b == b':');
        if !nic_ok || !mac_ok {
            return Err(format!("the server lists a MAC address lxops cannot pass on: {}", show(line)));
        }
        v.push((nic.to_vec(), mac.to_vec()));
    }
    Ok(v)
}

/// The lines after `target` that start with `prefix`.
pub fn after(out: &[u8], target: &[u8], prefix: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = out.split(|b| *b == b'\n');
    lines.by_ref().find(|l| *l == target);
    lines.filter(|l| l.starts_with(prefix)).map(<[u8]>::to_vec).collect()
}

/// `-i SRC@BASE` for the newest snapshot of `src` before `sent` that `dst` has too.
pub fn common_base(src_text: &[u8], dst_text: &[u8], src: &[u8], dst: &[u8], sent: &[u8]) -> Vec<Vec<u8>> {
    let names = |text: &[u8], fs: &[u8]| -> Vec<Vec<u8>> {
        let prefix = [fs, b"@"].concat();
        text.split(|b| *b == b'\n')
            .filter_map(|l| l.strip_prefix(prefix.as_slice()))
            .map(<[u8]>::to_vec)
            .collect()
    };
    let have = names(dst_text, dst);
    let mut base: Option<Vec<u8>> = None;
    for n in names(src_text, src) {
        if n == sent {
            break;
        }
        if !n.is_empty() && have.contains(&n) {
            base = Some(n);
        }
    }
    match base {
        Some(b) => vec![b"-i".to_vec(), [src, b"@", &b].concat()],
        None => Vec::new(),
    }
}

/// The first comma-separated field of each non-empty line, each a name
/// lxops can pass on.
fn csv_names(out: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut names = Vec::new();
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let n = line.split(|b| *b == b',').next().unwrap_or_default();
        if !name_ok(n) {
            return Err(format!("the server lists a name lxops cannot pass on: {}", show(n)));
        }
        names.push(n.to_vec());
    }
    Ok(names)
}

/// `prefix` and a letter for each decimal number in `out` (`od -An -tu1`);
/// anything but numbers separated by blanks is refused.
pub fn random_name(out: &[u8], prefix: &[u8]) -> Result<Vec<u8>, String> {
    let mut name = prefix.to_vec();
    for n in out.split(|b| b" \t\n".contains(b)).filter(|t| !t.is_empty()) {
        let v = std::str::from_utf8(n).ok().filter(|t| t.len() <= 9 && t.bytes().all(|b| b.is_ascii_digit()));
        let Some(v) = v.and_then(|t| t.parse::<u32>().ok()) else {
            return Err(format!("the random bytes are not numbers: {}", show(out)));
        };
        name.push(b'a' + (v % 26) as u8);
    }
    if name.len() == prefix.len() {
        return Err("no random bytes were read".into());
    }
    Ok(name)
}

/// The member in the `Location: ` line of `info` output; with `ssh` pairs,
/// its destination. The bash half is `lxops_member`.
pub fn member(out: &[u8], ssh: &[(String, String)]) -> Result<Vec<u8>, String> {
    let m = out.split(|b| *b == b'\n').find_map(|l| l.strip_prefix(b"Location: ")).unwrap_or_default();
    if !name_ok(m) || m == b"none" {
        return Err(format!("the server does not say which cluster member holds the instance: {}", show(m)));
    }
    Ok(ssh.iter().find(|(k, _)| k.as_bytes() == m).map(|(_, d)| d.as_bytes().to_vec()).unwrap_or(m.to_vec()))
}

/// The Rust half of the parsers; `word` gives the value of a run-time word.
pub fn apply(
    p: &Parse,
    out: &[u8],
    word: &dyn Fn(&crate::plan::model::Word) -> Vec<u8>,
) -> Result<Parsed, String> {
    Ok(match p {
        Parse::Lines => Parsed::Many(if out.is_empty() {
            Vec::new()
        } else {
            out.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
        }),
        Parse::After { target, prefix } => Parsed::Many(after(out, target.as_bytes(), prefix.as_bytes())),
        Parse::CommonBase { other, src, dst, sent } => Parsed::Many(common_base(
            out,
            &word(&crate::plan::model::Word::var(other)),
            src.as_bytes(),
            dst.as_bytes(),
            &word(sent),
        )),
        Parse::Text => Parsed::One(out.to_vec()),
        Parse::RandomName { prefix } => Parsed::One(random_name(out, prefix.as_bytes())?),
        Parse::Member { ssh } => Parsed::One(member(out, ssh)?),
        Parse::CsvNames => Parsed::Many(csv_names(out)?),
        Parse::ProfileNames => Parsed::Many(profile_names(out)?),
        Parse::ProfileFlags => {
            let names = profile_names(out)?;
            if names.is_empty() {
                Parsed::Many(vec![b"--no-profiles".to_vec()])
            } else {
                Parsed::Many(names.into_iter().flat_map(|n| [b"-p".to_vec(), n]).collect())
            }
        }
        Parse::Profiles { replace } => {
            let mut names = profile_names(out)?;
            if let Some((old, new)) = replace {
                match names.iter_mut().find(|n| n.as_slice() == old.as_bytes()) {
                    Some(n) => *n = new.as_bytes().to_vec(),
                    None => names.push(new.as_bytes().to_vec()),
                }
            }
            Parsed::One(names.join(&b','))
        }
        Parse::Hwaddrs => Parsed::Many(
            hwaddrs(out)?
                .into_iter()
                .map(|(n, m)| [b"volatile.", &n[..], b".hwaddr=", &m[..]].concat())
                .collect(),
        ),
        Parse::HwaddrKeys => Parsed::Many(
            hwaddrs(out)?.into_iter().map(|(n, _)| [b"volatile.", &n[..], b".hwaddr="].concat()).collect(),
        ),
    })
}

/// [`apply`] for parsers that read no run-time value (tests).
pub fn apply_for_test(p: &Parse, out: &[u8]) -> Result<Parsed, String> {
    apply(p, out, &|_| Vec::new())
}

/// The bash call that sets `var` from the text in `raw` (its helper
/// recorded in `sh`).
pub fn bash(sh: &mut crate::runtime::Sh, p: &Parse, var: &str, raw: &str) -> String {
    let q = crate::runtime::quote::quote;
    match p {
        Parse::Text => format!("{var}=${raw}"),
        Parse::ProfileNames => format!("{} {var} \"${raw}\" list", sh.uses("lxops_profiles")),
        Parse::ProfileFlags => format!("{} {var} \"${raw}\" flags", sh.uses("lxops_profiles")),
        Parse::Profiles { replace: None } => format!("{} {var} \"${raw}\" join", sh.uses("lxops_profiles")),
        Parse::Profiles { replace: Some((o, n)) } => {
            format!("{} {var} \"${raw}\" join {} {}", sh.uses("lxops_profiles"), q(o), q(n))
        }
        Parse::Hwaddrs => format!("{} {var} \"${raw}\" macs", sh.uses("lxops_hwaddrs")),
        Parse::HwaddrKeys => format!("{} {var} \"${raw}\" keys", sh.uses("lxops_hwaddrs")),
        Parse::Lines => format!("{} {var} \"${raw}\"", sh.uses("lxops_lines")),
        Parse::After { target, prefix } => {
            format!("{} {var} \"${raw}\" {} {}", sh.uses("lxops_after"), q(target), q(prefix))
        }
        Parse::RandomName { prefix } => {
            format!("{} {var} \"${raw}\" {}", sh.uses("lxops_random_name"), q(prefix))
        }
        Parse::Member { ssh } => {
            let mut s = format!("{} {var} \"${raw}\"", sh.uses("lxops_member"));
            for (m, d) in ssh {
                s.push_str(&format!(" {} {}", q(m), q(d)));
            }
            s
        }
        Parse::CsvNames => format!("{} {var} \"${raw}\"", sh.uses("lxops_csv_names")),
        Parse::CommonBase { other, src, dst, sent } => format!(
            "{} {var} \"${raw}\" \"${other}\" {} {} {}",
            sh.uses("lxops_common_base"),
            q(src),
            q(dst),
            crate::runtime::cmd::word(sent)
        ),
    }
}

/// The bash half of the parsers.
pub const BASH: &str = r#"# lxops_name_ok NAME: a profile name lxops can pass on intact.
lxops_name_ok() {
  local LC_ALL=C re=$'^[A-Za-z0-9]([^[:cntrl:][:space:]$?&+"\'`*/,]*[A-Za-z0-9])?$'
  [[ $1 =~ $re ]]
}
# lxops_profiles VAR TEXT list|flags|join [OLD NEW]: the profile names under
# `profiles:` in `config show` TEXT, as an array, as `-p NAME` words (or
# --no-profiles) or comma-joined, OLD replaced by NEW (appended when absent).
lxops_profiles() {
  # shellcheck disable=SC2178  # VAR is an array or a string, as asked
  local -n __lxops_names=$1
  local LC_ALL=C line inside=0 found=0 n
  local -a names=()
  while IFS= read -r line; do
    if [[ $line == profiles:* ]]; then
      inside=1
    elif [ "$inside" = 1 ] && [[ $line == '- '* ]]; then
      n=${line#'- '}
      lxops_name_ok "$n" || { lxops_say "    the server lists a profile lxops cannot pass on: $(lxops_show "$n")"; return 1; }
      if [ $# -ge 5 ] && [ "$found" = 0 ] && [[ $n == "$4" ]]; then n=$5; found=1; fi
      names+=("$n")
    else
      inside=0
    fi
  done <<<"$2"
  if [ $# -ge 5 ] && [ "$found" = 0 ]; then names+=("$5"); fi
  if [ "$3" = list ]; then
    __lxops_names=("${names[@]}")
  elif [ "$3" = flags ]; then
    __lxops_names=(--no-profiles)
    [ "${#names[@]}" = 0 ] || __lxops_names=()
    for n in "${names[@]}"; do __lxops_names+=(-p "$n"); done
  else
    local IFS=,
    # shellcheck disable=SC2178
    __lxops_names="${names[*]}"
  fi
}
# lxops_hwaddrs VAR TEXT macs|keys: volatile.<nic>.hwaddr=<mac> (or the keys
# with an empty value) for each NIC in `config show` TEXT.
lxops_hwaddrs() {
  local -n __lxops_macs=$1
  local LC_ALL=C line rest nic mac
  __lxops_macs=()
  while IFS= read -r line; do
    [[ $line == '  volatile.'* ]] || continue
    rest=${line#'  volatile.'}
    [[ $rest == *.* ]] || continue
    nic=${rest%%.*}
    rest=${rest#*.}
    [[ $rest == 'hwaddr: '* ]] || continue
    mac=${rest#'hwaddr: '}
    if ! [[ $nic =~ ^[A-Za-z0-9_-]+$ && $mac =~ ^[0-9A-Fa-f:]+$ ]]; then
      lxops_say "    the server lists a MAC address lxops cannot pass on: $(lxops_show "$line")"
      return 1
    fi
    if [ "$3" = keys ]; then __lxops_macs+=("volatile.$nic.hwaddr="); else __lxops_macs+=("volatile.$nic.hwaddr=$mac"); fi
  done <<<"$2"
}
# lxops_lines VAR TEXT: the lines of TEXT as an array (none for empty text).
lxops_lines() {
  local -n __lxops_lines=$1
  __lxops_lines=()
  [ -z "$2" ] || mapfile -t __lxops_lines <<<"$2"
}
# lxops_after VAR TEXT TARGET PREFIX: the lines after the line TARGET that
# start with PREFIX (the snapshots a rollback destroys).
lxops_after() {
  local -n __lxops_later=$1
  local LC_ALL=C line seen=0
  __lxops_later=()
  while IFS= read -r line; do
    if [ "$seen" = 1 ]; then
      if [[ $line == "$4"* ]]; then __lxops_later+=("$line"); fi
    elif [[ $line == "$3" ]]; then
      seen=1
    fi
  done <<<"$2"
}
# lxops_common_base VAR SRC_TEXT DST_TEXT SRC DST SENT: `-i SRC@BASE` for the
# newest snapshot BASE of SRC listed before SENT that DST has too, or nothing.
lxops_common_base() {
  local -n __lxops_base=$1
  local LC_ALL=C line name base='' have=$'\n'
  __lxops_base=()
  while IFS= read -r line; do
    if [[ $line == "$5@"* ]]; then have+="${line#"$5@"}"$'\n'; fi
  done <<<"$3"
  while IFS= read -r line; do
    [[ $line == "$4@"* ]] || continue
    name=${line#"$4@"}
    [[ $name == "$6" ]] && break
    if [[ -n $name && $have == *$'\n'"$name"$'\n'* ]]; then base=$name; fi
  done <<<"$2"
  if [ -n "$base" ]; then __lxops_base=(-i "$4@$base"); fi
}
# lxops_csv_names VAR TEXT: the first comma-separated field of each line of
# TEXT (a --format csv listing), each a name lxops can pass on, as an array.
lxops_csv_names() {
  local -n __lxops_csv=$1
  local LC_ALL=C line n
  __lxops_csv=()
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    n=${line%%,*}
    lxops_name_ok "$n" || { lxops_say "    the server lists a name lxops cannot pass on: $(lxops_show "$n")"; return 1; }
    __lxops_csv+=("$n")
  done <<<"$2"
}
# lxops_member VAR TEXT [MEMBER DEST]...: the cluster member in the
# `Location: ` line of `info` TEXT (a name lxops can pass on, not `none`);
# with MEMBER DEST pairs, the DEST of the matching MEMBER (else the name).
lxops_member() {
  local -n __lxops_member=$1
  local LC_ALL=C line m=''
  while IFS= read -r line; do
    if [[ $line == 'Location: '* ]]; then m=${line#'Location: '}; break; fi
  done <<<"$2"
  if ! lxops_name_ok "$m" || [ "$m" = none ]; then
    lxops_say "    the server does not say which cluster member holds the instance: $(lxops_show "$m")"
    return 1
  fi
  shift 2
  while [ $# -ge 2 ]; do
    if [[ $m == "$1" ]]; then m=$2; break; fi
    shift 2
  done
  # shellcheck disable=SC2034  # set for the caller
  __lxops_member=$m
}
# lxops_random_name VAR TEXT PREFIX: PREFIX and a letter for each decimal
# number in TEXT (od's random bytes); anything else is refused.
lxops_random_name() {
  local -n __lxops_random=$1
  local LC_ALL=C letters=abcdefghijklmnopqrstuvwxyz name=$3 n
  local -a nums=()
  IFS=$' \t\n' read -r -d '' -a nums <<<"$2" || true
  for n in "${nums[@]}"; do
    if ! [[ $n =~ ^[0-9]{1,9}$ ]]; then
      lxops_say "    the random bytes are not numbers: $(lxops_show "$2")"
      return 1
    fi
    name+=${letters:$((10#$n % 26)):1}
  done
  if [ "${#nums[@]}" = 0 ]; then lxops_say "    no random bytes were read"; return 1; fi
  # shellcheck disable=SC2034  # set for the caller
  __lxops_random=$name
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name_ok(b"web1.lxops"));
        assert!(name_ok(b"a"));
        assert!(name_ok(b"caf\xc3\xa9x"));
        assert!(!name_ok(b"a,b"));
        assert!(!name_ok(b"a b"));
        assert!(!name_ok(b"-a"));
        assert!(!name_ok(b"a\tb"));
        assert!(!name_ok(b""));
    }

    #[test]
    fn profiles_and_macs() {
        let show = b"config:\n  volatile.eth0.hwaddr: 10:66:6a:01:02:03\nprofiles:\n- default\n- web1.lxops\nstateful: false";
        let p = Parse::Profiles { replace: Some(("web1.lxops".into(), "web2.lxops".into())) };
        let none = |_: &crate::plan::model::Word| Vec::new();
        assert_eq!(apply(&p, show, &none).unwrap(), Parsed::One(b"default,web2.lxops".to_vec()));
        assert_eq!(
            apply(&Parse::Hwaddrs, show, &none).unwrap(),
            Parsed::Many(vec![b"volatile.eth0.hwaddr=10:66:6a:01:02:03".to_vec()])
        );
        assert!(apply(&Parse::ProfileNames, b"profiles:\n- a,b", &none).is_err());
    }

    #[test]
    fn snapshots() {
        let list = b"t/a@1\nt/a@2\nt/a/c@2\nt/a@3";
        assert_eq!(after(list, b"t/a@1", b"t/a@"), vec![b"t/a@2".to_vec(), b"t/a@3".to_vec()]);
        assert_eq!(
            common_base(list, b"u@1\nu@2", b"t/a", b"u", b"3"),
            vec![b"-i".to_vec(), b"t/a@2".to_vec()]
        );
        assert!(common_base(list, b"u@9", b"t/a", b"u", b"3").is_empty());
    }
}
