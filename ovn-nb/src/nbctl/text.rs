//! The text syntax of OVSDB values used on ovn-nbctl command lines and in its output
//! (`ovsdb_atom_from_string` / `ovsdb_datum_to_string` in OVS): bare or double-quoted strings,
//! `[a, b]` sets and `{k=v, ...}` maps.

use std::collections::HashMap;

use ovsdb::model::Uuid;
use ovsdb::types::{AtomicType, BaseType, ColumnType};
use ovsdb::{Atom, Datum};

use super::error::{NbctlError, Result};

/// Named rows (`--id=@name`) that UUID atoms may refer to.
pub type Symbols = HashMap<String, Uuid>;

fn is_delim(c: char) -> bool {
    ":=, []{}!<>".contains(c)
}

/// Reads one token (quoted parts kept with their quotes, backslashes escaping the next char).
fn token(s: &str) -> Result<(String, &str)> {
    let mut out = String::new();
    let mut in_quotes = false;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            if in_quotes {
                out.push('\\');
            }
            match chars.next() {
                Some((_, n)) => out.push(n),
                None => {
                    return Err(NbctlError::invalid(format!(
                        "{s}: backslash at end of argument"
                    )))
                }
            }
        } else if !in_quotes && is_delim(c) {
            return Ok((out, &s[i..]));
        } else {
            out.push(c);
            if c == '"' {
                in_quotes = !in_quotes;
            }
        }
    }
    if in_quotes {
        return Err(NbctlError::invalid(format!(
            "{s}: quoted string extends past end of argument"
        )));
    }
    Ok((out, ""))
}

/// Parses one atom of `base` from its text.
pub fn atom_from_string(base: &BaseType, s: &str, symbols: &Symbols) -> Result<Atom> {
    let atom = match base.atomic {
        AtomicType::Integer => Atom::Integer(
            s.parse()
                .map_err(|_| NbctlError::invalid(format!("\"{s}\" is not a valid integer")))?,
        ),
        AtomicType::Real => Atom::Real(
            s.parse()
                .map_err(|_| NbctlError::invalid(format!("\"{s}\" is not a valid real number")))?,
        ),
        AtomicType::Boolean => match s {
            "true" => Atom::Boolean(true),
            "false" => Atom::Boolean(false),
            _ => {
                return Err(NbctlError::invalid(format!(
                    "\"{s}\" is not a valid boolean (use \"true\" or \"false\")"
                )))
            }
        },
        AtomicType::String => {
            if s.starts_with('"') {
                if s.len() < 2 || !s.ends_with('"') {
                    return Err(NbctlError::invalid(format!(
                        "{s}: missing quote at end of quoted string"
                    )));
                }
                let v: String = serde_json::from_str(s)
                    .map_err(|e| NbctlError::invalid(format!("{s}: {e}")))?;
                Atom::String(v.into())
            } else {
                Atom::String(s.into())
            }
        }
        AtomicType::Uuid => {
            if let Some(u) = symbols.get(s) {
                Atom::Uuid(*u)
            } else if let Some(u) = ovsdb::atom::parse_uuid_str(s) {
                Atom::Uuid(u)
            } else {
                return Err(NbctlError::invalid(format!("\"{s}\" is not a valid UUID")));
            }
        }
    };
    base.check_constraints(&atom)
        .map_err(|e| NbctlError::invalid(e.to_string()))?;
    Ok(atom)
}

/// Parses a single atom argument (a whole token).
pub fn atom_arg(base: &BaseType, s: &str, symbols: &Symbols) -> Result<Atom> {
    let (tok, rest) = token(s)?;
    if !rest.is_empty() {
        return Err(NbctlError::invalid(format!(
            "{s}: trailing garbage after value"
        )));
    }
    atom_from_string(base, &tok, symbols)
}

fn skip_ws(s: &str) -> &str {
    s.trim_start()
}

/// Parses a whole datum of `ty` from text.
pub fn datum_from_string(ty: &ColumnType, s: &str, symbols: &Symbols) -> Result<Datum> {
    let is_map = ty.is_map();
    let mut p = skip_ws(s);
    let (open, close) = if is_map { ('{', '}') } else { ('[', ']') };
    let bracketed = p.starts_with(open);
    if bracketed {
        p = &p[1..];
    }
    let mut keys = Vec::new();
    let mut pairs = Vec::new();
    loop {
        p = skip_ws(p);
        if p.is_empty() || p.starts_with(close) {
            break;
        }
        let (tok, rest) = token(p)?;
        let key = atom_from_string(&ty.key, &tok, symbols)?;
        p = skip_ws(rest);
        if is_map {
            let Some(r) = p.strip_prefix('=') else {
                return Err(NbctlError::invalid(format!("{s}: syntax error at \"{p}\"")));
            };
            let (vtok, rest) = token(skip_ws(r))?;
            let vty = ty.value.as_ref().unwrap_or(&ty.key);
            let value = atom_from_string(vty, &vtok, symbols)?;
            pairs.push((key, value));
            p = skip_ws(rest);
        } else {
            keys.push(key);
        }
        if let Some(r) = p.strip_prefix(',') {
            p = r;
        }
    }
    if bracketed {
        if !p.starts_with(close) {
            return Err(NbctlError::invalid(format!(
                "{s}: missing \"{close}\" at end of data"
            )));
        }
        p = skip_ws(&p[1..]);
    }
    if !p.is_empty() {
        return Err(NbctlError::invalid(format!(
            "{s}: trailing garbage after value"
        )));
    }
    let d = if is_map {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(NbctlError::invalid(format!(
                "{s}: map contains duplicate key"
            )));
        }
        Datum::Map(pairs.into())
    } else {
        keys.sort();
        keys.dedup();
        Datum::Set(keys.into())
    };
    if !d.conforms_to(ty) {
        return Err(NbctlError::invalid(format!(
            "\"{s}\" is not a valid value: {} elements but column takes {} to {}",
            d.len(),
            ty.min,
            if ty.max == u64::MAX {
                "unlimited".to_owned()
            } else {
                ty.max.to_string()
            }
        )));
    }
    Ok(d)
}

fn needs_quotes(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return true,
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        return true;
    }
    s == "true" || s == "false" || ovsdb::atom::parse_uuid_str(s).is_some()
}

/// One atom as ovn-nbctl prints it.
pub fn atom_to_string(a: &Atom) -> String {
    match a {
        Atom::String(s) if needs_quotes(s) => serde_json::Value::String(s.to_string()).to_string(),
        Atom::String(s) => s.to_string(),
        Atom::Integer(i) => i.to_string(),
        Atom::Real(r) => ovsdb::atom::format_real(*r),
        Atom::Boolean(b) => b.to_string(),
        Atom::Uuid(u) => u.to_string(),
    }
}

/// A whole datum as ovn-nbctl prints it (`list`, `get`).
pub fn datum_to_string(d: &Datum, ty: &ColumnType) -> String {
    let is_map = ty.is_map();
    let bracket = ty.max > 1 || d.is_empty();
    let mut out = String::new();
    if bracket {
        out.push(if is_map { '{' } else { '[' });
    }
    match d {
        Datum::Map(pairs) => {
            let items: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", atom_to_string(k), atom_to_string(v)))
                .collect();
            out.push_str(&items.join(", "));
        }
        Datum::Set(atoms) => {
            let items: Vec<String> = atoms.iter().map(atom_to_string).collect();
            out.push_str(&items.join(", "));
        }
    }
    if bracket {
        out.push(if is_map { '}' } else { ']' });
    }
    out
}

/// Splits `COLUMN[:KEY]` + operator + `VALUE` (ctl's `parse_column_key_value`): the column name,
/// the key text (unparsed), the operator (one of `ops`, if any), and the value text.
pub fn split_column_arg<'a>(
    arg: &'a str,
    ops: &[&'static str],
) -> Result<(String, Option<String>, Option<&'static str>, &'a str)> {
    let (col, rest) = token(arg)?;
    if col.is_empty() {
        return Err(NbctlError::invalid(format!("{arg}: missing column name")));
    }
    let mut rest = rest;
    let mut key = None;
    if let Some(r) = rest.strip_prefix(':') {
        let (k, r2) = token(r)?;
        key = Some(k);
        rest = r2;
    }
    if ops.is_empty() || rest.is_empty() {
        if !rest.is_empty() {
            return Err(NbctlError::invalid(format!(
                "{arg}: trailing garbage \"{rest}\" in argument"
            )));
        }
        return Ok((col, key, None, ""));
    }
    let mut best: Option<&'static str> = None;
    for op in ops {
        if rest.starts_with(op) && best.is_none_or(|b| op.len() > b.len()) {
            best = Some(op);
        }
    }
    match best {
        Some(op) => Ok((col, key, Some(op), &rest[op.len()..])),
        None => Err(NbctlError::invalid(format!(
            "{arg}: argument does not end in \"{}\" followed by a value.",
            ops.join("\", \"")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovsdb::types::{AtomicType, ColumnType};

    fn string_map() -> ColumnType {
        let mut t = ColumnType::scalar(AtomicType::String);
        t.value = Some(BaseType::new(AtomicType::String));
        t.min = 0;
        t.max = u64::MAX;
        t
    }

    #[test]
    fn parses_and_prints_maps_and_sets() {
        let ty = string_map();
        let d = datum_from_string(&ty, "{b=\"x y\", a=1}", &Symbols::new()).unwrap();
        assert_eq!(datum_to_string(&d, &ty), "{a=\"1\", b=\"x y\"}");
        let mut set = ColumnType::scalar(AtomicType::String);
        set.min = 0;
        set.max = u64::MAX;
        let d = datum_from_string(&set, "[\"10.0.0.1\", abc]", &Symbols::new()).unwrap();
        assert_eq!(datum_to_string(&d, &set), "[\"10.0.0.1\", abc]");
        assert_eq!(datum_to_string(&Datum::empty_set(), &set), "[]");
    }

    #[test]
    fn quoting_follows_ovsdb() {
        for (s, q) in [
            ("lrp0", false),
            ("allow-related", false),
            ("10.0.0.1", true),
            ("true", true),
            ("", true),
            ("a:b", true),
        ] {
            assert_eq!(needs_quotes(s), q, "{s}");
        }
    }

    #[test]
    fn splits_column_arguments() {
        let (c, k, op, v) = split_column_arg("options:router-port=rp1", &["="]).unwrap();
        assert_eq!(
            (c.as_str(), k.as_deref(), op, v),
            ("options", Some("router-port"), Some("="), "rp1")
        );
        let (c, _, op, v) = split_column_arg("priority!=5", &["=", "!="]).unwrap();
        assert_eq!((c.as_str(), op, v), ("priority", Some("!="), "5"));
        assert!(token("\"unterminated").is_err());
    }
}
