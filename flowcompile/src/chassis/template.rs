//! Chassis template variables in logical flows: ovn-controller 23.03 replaces each `^NAME`
//! token of a logical flow's match and actions by the value of the chassis'
//! `Chassis_Template_Var` variable `NAME` before parsing them, and leaves a `^NAME` without a
//! value as it is (the text then fails to parse, and the flow is not installed).

use std::collections::BTreeMap;

/// Whether `c` may start a name (as in the expression lexer: a letter, `_` or `.`).
fn is_id1(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'.'
}

/// Whether `c` may continue a name.
fn is_idn(c: u8) -> bool {
    is_id1(c) || c.is_ascii_digit()
}

/// `text` with every `^NAME` outside quoted strings replaced by `vars[NAME]`, or `None` if
/// nothing was replaced.
pub(crate) fn expand(text: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    if vars.is_empty() || !text.contains('^') {
        return None;
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut copied = 0;
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // A quoted string: skip to its end (backslash escapes a character).
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'^' if b.get(i + 1).is_some_and(|&c| is_id1(c)) => {
                let start = i + 1;
                let mut end = start + 1;
                while end < b.len() && is_idn(b[end]) {
                    end += 1;
                }
                if let Some(v) = text.get(start..end).and_then(|n| vars.get(n)) {
                    out.push_str(text.get(copied..i).unwrap_or_default());
                    out.push_str(v);
                    copied = end;
                    changed = true;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    if !changed {
        return None;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [
            ("VIP", "10.0.0.1"),
            ("BACKENDS", "10.1.0.3:8080,10.1.0.4:8080"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn replaces_known_names_only() {
        let v = vars();
        assert_eq!(
            expand("ip4.dst == ^VIP && tcp.dst == 80", &v).as_deref(),
            Some("ip4.dst == 10.0.0.1 && tcp.dst == 80")
        );
        assert_eq!(
            expand("ct_lb_mark(backends=^BACKENDS);", &v).as_deref(),
            Some("ct_lb_mark(backends=10.1.0.3:8080,10.1.0.4:8080);")
        );
        assert_eq!(expand("reg1 = ^OTHER; next;", &v), None);
        assert_eq!(expand("outport = \"^VIP\"; output;", &v), None);
        assert_eq!(expand("ip4.dst == ^VIP", &BTreeMap::new()), None);
        assert_eq!(expand("next;", &v), None);
    }
}
