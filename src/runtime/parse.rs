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

/// The Rust half of the parsers.
pub fn apply(p: &Parse, out: &[u8]) -> Result<Parsed, String> {
    Ok(match p {
        Parse::Text => Parsed::One(out.to_vec()),
        Parse::ProfileNames => Parsed::Many(profile_names(out)?),
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

/// The bash call that sets `var` from the text in `raw`.
pub fn bash(p: &Parse, var: &str, raw: &str) -> String {
    let q = crate::runtime::quote::quote;
    match p {
        Parse::Text => format!("{var}=${raw}"),
        Parse::ProfileNames => format!("lxops_profiles {var} \"${raw}\" list"),
        Parse::Profiles { replace: None } => format!("lxops_profiles {var} \"${raw}\" join"),
        Parse::Profiles { replace: Some((o, n)) } => {
            format!("lxops_profiles {var} \"${raw}\" join {} {}", q(o), q(n))
        }
        Parse::Hwaddrs => format!("lxops_hwaddrs {var} \"${raw}\" macs"),
        Parse::HwaddrKeys => format!("lxops_hwaddrs {var} \"${raw}\" keys"),
    }
}

/// The bash half of the parsers.
pub const BASH: &str = r#"# lxops_name_ok NAME: a profile name lxops can pass on intact.
lxops_name_ok() {
  local LC_ALL=C re=$'^[A-Za-z0-9]([^[:cntrl:][:space:]$?&+"\'`*/,]*[A-Za-z0-9])?$'
  [[ $1 =~ $re ]]
}
# lxops_profiles VAR TEXT list|join [OLD NEW]: the profile names under
# `profiles:` in `config show` TEXT, as an array or comma-joined, OLD
# replaced by NEW (appended when absent).
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
        assert_eq!(apply(&p, show).unwrap(), Parsed::One(b"default,web2.lxops".to_vec()));
        assert_eq!(
            apply(&Parse::Hwaddrs, show).unwrap(),
            Parsed::Many(vec![b"volatile.eth0.hwaddr=10:66:6a:01:02:03".to_vec()])
        );
        assert!(apply(&Parse::ProfileNames, b"profiles:\n- a,b").is_err());
    }
}
