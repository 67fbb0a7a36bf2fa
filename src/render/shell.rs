//! The one quoting function, and shell text for commands and conditions.
//!
//! Every value that reaches a shell passes through [`quote`]: configs,
//! properties, names and file contents can never become code. Commands stay
//! argv vectors until here. Run-time variables are expanded inside double
//! quotes, so their values are never split or globbed.

use crate::plan::model::{Cmd, Cond, Part, Word};

/// Quotes `s` as one shell word. Plain words are left readable; words with
/// control characters (newlines, tabs) use bash's `$'…'` form, so a quoted
/// word never spans lines and indenting script text cannot change it.
pub fn quote(s: &str) -> String {
    quote_in(s, true)
}

/// The same quoting for POSIX `sh` (guest scripts run by dash or busybox),
/// which has no `$'…'`: control characters stay inside single quotes.
pub fn quote_posix(s: &str) -> String {
    quote_in(s, false)
}

fn quote_in(s: &str, bash: bool) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b)) {
        return s.to_string();
    }
    if bash && s.chars().any(|c| c.is_control()) {
        let mut out = String::from("$'");
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('\'');
        return out;
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A word: literal parts quoted, variables as `"${VAR}"`.
pub fn word(w: &Word) -> String {
    if w.0.is_empty() {
        return "''".to_string();
    }
    w.0.iter()
        .map(|p| match p {
            Part::Lit(s) if s.is_empty() => String::new(),
            Part::Lit(s) => quote(s),
            Part::Var(v) => format!("\"${{{v}}}\""),
            Part::List(v) => format!("\"${{{v}[@]}}\""),
            Part::Item => "\"$lxops_item\"".to_string(),
        })
        .collect()
}

/// A command line, with `"${SUDO[@]}"` in front of host commands that need root.
pub fn command(c: &Cmd) -> String {
    let words: Vec<String> = c.argv.iter().map(word).collect();
    let line = words.join(" ");
    if c.root { format!("\"${{SUDO[@]}}\" {line}") } else { line }
}

/// A command as a human reads it in a listing (no sudo prefix).
pub fn display(c: &Cmd) -> String {
    c.argv.iter().map(word).collect::<Vec<_>>().join(" ")
}

/// A bash condition that is true exactly when `c` is.
pub fn cond(c: &Cond) -> String {
    match c {
        Cond::DirExists(p) => format!("[ -d {} ]", quote(p)),
        Cond::Var(v) => format!("[ \"${{{v}:-0}}\" = 1 ]"),
        Cond::FactLine { fact, line } => format!("has_line \"${fact}\" {}", quote(line)),
        Cond::FactField { fact, key, value } => {
            format!("has_field \"${fact}\" {} {}", quote(key), quote(value))
        }
        Cond::FactKey { fact, key } => format!("has_key \"${fact}\" {}", quote(key)),
        Cond::Succeeds(cmd) => format!("{} >/dev/null 2>&1", command(cmd)),
        Cond::ListEmpty(v) => format!("[ \"${{#{v}[@]}}\" -eq 0 ]"),
        Cond::Not(inner) => format!("! {}", group(inner)),
        Cond::And(v) => v.iter().map(group).collect::<Vec<_>>().join(" && "),
        Cond::Or(v) => v.iter().map(group).collect::<Vec<_>>().join(" || "),
    }
}

fn group(c: &Cond) -> String {
    match c {
        Cond::And(_) | Cond::Or(_) | Cond::Not(_) => format!("{{ {}; }}", cond(c)),
        _ => cond(c),
    }
}

/// The awk program that computes `p` from a command's output, exactly as
/// `Parse::apply` does.
pub fn parse_program(p: &crate::plan::model::Parse) -> String {
    use crate::plan::model::Parse;
    match p {
        Parse::Trim => "cat".to_string(),
        Parse::Profiles { replace } => {
            let (o, n) = replace.clone().unwrap_or_default();
            format!(
                "awk -v o={} -v n={} '/^profiles:/ {{ p = 1; next }} p && /^- / {{ x = substr($0, 3); if (o != \"\" && x == o) {{ x = n; f = 1 }} s = s (s == \"\" ? \"\" : \",\") x; next }} {{ p = 0 }} END {{ if (o != \"\" && !f) s = s (s == \"\" ? \"\" : \",\") n; print s }}'",
                quote(&o),
                quote(&n)
            )
        }
        Parse::ProfileNames => {
            "awk '/^profiles:/ { p = 1; next } p && /^- / { print substr($0, 3); next } { p = 0 }'"
                .to_string()
        }
        Parse::Hwaddrs => {
            "awk '/^  volatile\\.[^.]+\\.hwaddr: / { k = substr($1, 1, length($1) - 1); print k \"=\" $2 }'"
                .to_string()
        }
        Parse::HwaddrKeys => {
            "awk '/^  volatile\\.[^.]+\\.hwaddr: / { k = substr($1, 1, length($1) - 1); print k \"=\" }'"
                .to_string()
        }
    }
}

/// A heredoc delimiter that no line of `text` equals.
pub fn delimiter(text: &str, base: &str) -> String {
    let mut d = base.to_string();
    let mut n = 1;
    while text.lines().any(|l| l == d) {
        n += 1;
        d = format!("{base}_{n}");
    }
    d
}

/// Text safe inside a `#` comment: control characters are escaped.
pub fn comment(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// `line` (a rendered command) fed `bytes` on standard input: a quoted
/// heredoc for text, base64 decoded on the host for anything else.
pub fn with_stdin(line: &str, bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return format!("{line} </dev/null");
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if text.ends_with('\n') && !text.contains('\0') && !text.contains('\r') => {
            let d = delimiter(text, "LXOPS_EOF");
            format!("{line} <<'{d}'\n{text}{d}")
        }
        _ => {
            let mut body = String::new();
            for chunk in base64(bytes).as_bytes().chunks(76) {
                body.push_str(std::str::from_utf8(chunk).unwrap_or_default());
                body.push('\n');
            }
            let d = delimiter(&body, "LXOPS_B64");
            format!("base64 -d <<'{d}' | {line}\n{body}{d}")
        }
    }
}

/// A command with its standard input, as script text. Commands without
/// input read from /dev/null: the script redirects its own stdin at the top.
pub fn full_command(c: &Cmd) -> String {
    match &c.stdin {
        Some(b) => with_stdin(&command(c), b),
        None => command(c),
    }
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}

/// Indents script text by `n` spaces, except heredoc bodies and their
/// terminators, which must stay at the start of the line.
pub fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    let mut out = Vec::new();
    let mut until: Option<String> = None;
    for line in text.lines() {
        if let Some(d) = &until {
            out.push(line.to_string());
            if line == d {
                until = None;
            }
            continue;
        }
        out.push(if line.is_empty() { String::new() } else { format!("{pad}{line}") });
        if let Some(i) = line.rfind("<<'") {
            let rest = &line[i + 3..];
            if let Some(j) = rest.find('\'') {
                until = Some(rest[..j].to_string());
            }
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("abc/d-e.f"), "abc/d-e.f");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(quote("a\nb'c\\"), r"$'a\nb\'c\\'");
        assert_eq!(quote_posix("a\nb'c"), "'a\nb'\\''c'");
    }

    #[test]
    fn words_with_vars() {
        let w = Word(vec![Part::Lit("volatile.eth0.hwaddr=".into()), Part::Var("MAC_1".into())]);
        assert_eq!(word(&w), "volatile.eth0.hwaddr=\"${MAC_1}\"");
    }

    #[test]
    fn delimiters_avoid_content() {
        assert_eq!(delimiter("a\nLXOPS_EOF\n", "LXOPS_EOF"), "LXOPS_EOF_2");
        assert_eq!(delimiter("a\n", "LXOPS_EOF"), "LXOPS_EOF");
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
