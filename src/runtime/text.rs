//! What the operator reads: text escaped so that no value can forge or
//! erase a line of a plan, a progress report or an error.
//!
//! Two rules. Text known when the plan is compiled (titles, notes, error
//! messages, all built from config values) goes through [`text`]: control
//! and text-reordering characters become visible escapes, everything else
//! stays, Unicode included. Values only known at run time (server answers,
//! captured output, expanded commands) go through [`show`], a byte rule the
//! script applies with the same result (`lxops_show`): printable ASCII stays,
//! a backslash is doubled, `\n` `\t` `\r` are named, every other byte is
//! `\xHH`.

use crate::runtime::quote::is_hidden;

/// Compile-time text made safe to print.
pub fn text(s: &str) -> String {
    if !s.chars().any(is_hidden) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_hidden(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Free text that may span lines (a description): as [`text`], but newlines
/// and tabs stay.
pub fn multiline(s: &str) -> String {
    s.split('\n')
        .map(|l| l.split('\t').map(text).collect::<Vec<_>>().join("\t"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A run-time value made safe to print (mirrored by `lxops_show`).
pub fn show(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(c as char),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out
}

/// The bash half of [`show`].
pub const BASH: &str = r#"# lxops_show VALUE: VALUE made safe to print, as lxops prints run-time values:
# printable ASCII stays, a backslash is doubled, \n \t \r are named, any
# other byte is \xHH.
lxops_show() {
  local LC_ALL=C s=$1 out='' c h i
  if [[ $s != *[!\ -~]* && $s != *\\* ]]; then printf '%s' "$s"; return; fi
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      \\) out+='\\' ;;
      [\ -~]) out+=$c ;;
      $'\n') out+='\n' ;;
      $'\t') out+='\t' ;;
      $'\r') out+='\r' ;;
      *) printf -v h '%02x' "'$c"; out+="\\x${h: -2}" ;;
    esac
  done
  printf '%s' "$out"
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(text("a\nb\u{1b}[2J\u{202e}é"), "a\\nb\\u{1b}[2J\\u{202e}é");
        assert_eq!(show(b"caf\xc3\xa9 a\\b\x01\x7f"), "caf\\xc3\\xa9 a\\\\b\\x01\\x7f");
    }
}
