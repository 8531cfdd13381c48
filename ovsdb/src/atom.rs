//! OVSDB atoms: the scalar values sets and maps are made of.
//!
//! Atoms order exactly as ovsdb-server orders them (`ovsdb_atom_compare_3way`): integers and reals
//! numerically, `false < true`, strings bytewise, UUIDs by their 128 bits (as their text sorts).

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::json::{find_escape, JsonView};
use crate::types::{AtomicType, BaseType};

/// One OVSDB value. Cheap to clone (strings are shared).
#[derive(Debug, Clone)]
pub enum Atom {
    /// 64-bit signed integer.
    Integer(i64),
    /// Double (never NaN or infinite).
    Real(f64),
    /// Boolean.
    Boolean(bool),
    /// UTF-8 string, shared.
    String(Arc<str>),
    /// UUID.
    Uuid(Uuid),
}

impl Atom {
    /// The atomic type of this atom.
    pub fn atomic_type(&self) -> AtomicType {
        match self {
            Self::Integer(_) => AtomicType::Integer,
            Self::Real(_) => AtomicType::Real,
            Self::Boolean(_) => AtomicType::Boolean,
            Self::String(_) => AtomicType::String,
            Self::Uuid(_) => AtomicType::Uuid,
        }
    }

    /// The UUID, for uuid atoms.
    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            Self::Uuid(u) => Some(*u),
            _ => None,
        }
    }

    /// Parses an atom of `base` type from JSON (RFC 7047 `<atom>`), resolving `["named-uuid", n]`
    /// through `symbols`, then checks the base type's constraints.
    pub fn from_json<J: JsonView>(
        json: &J,
        base: &BaseType,
        symbols: &mut dyn SymbolResolver,
    ) -> Result<Self> {
        let atom = Self::from_json_unchecked(json, base.atomic, symbols)?;
        base.check_constraints(&atom)?;
        Ok(atom)
    }

    /// Parses an atom of `atomic` type without checking constraints.
    pub fn from_json_unchecked<J: JsonView>(
        json: &J,
        atomic: AtomicType,
        symbols: &mut dyn SymbolResolver,
    ) -> Result<Self> {
        let expected = |what: &str| Error::syntax_at(Some(json), format!("expected {what}"));
        match atomic {
            AtomicType::Integer => json_to_i64(json)
                .map(Self::Integer)
                .ok_or_else(|| expected("integer")),
            AtomicType::Real => match json.as_number() {
                Some(n) => match json_to_i64(json) {
                    Some(i) => Ok(Self::Real(i as f64)),
                    None => n
                        .as_f64()
                        .filter(|f| f.is_finite())
                        .map(Self::Real)
                        .ok_or_else(|| expected("real")),
                },
                _ => Err(expected("real")),
            },
            AtomicType::Boolean => json
                .as_bool()
                .map(Self::Boolean)
                .ok_or_else(|| expected("boolean")),
            AtomicType::String => json
                .as_str()
                .map(|s| Self::String(symbols.string(s)))
                .ok_or_else(|| expected("string")),
            AtomicType::Uuid => parse_uuid_json(json, symbols).map(Self::Uuid),
        }
    }

    /// JSON for this atom, as ovsdb-server prints it (reals as `%.15g`).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Integer(i) => json!(i),
            Self::Real(r) => real_to_json(*r),
            Self::Boolean(b) => json!(b),
            Self::String(s) => Value::String(String::from(&**s)),
            Self::Uuid(u) => uuid_json(u),
        }
    }

    /// JSON that parses back to exactly this atom: like [`Atom::to_json`], except that a real
    /// whose `%.15g` text would not round-trip is written with full precision (used for schemas,
    /// which must re-parse to the same constraints).
    pub fn to_json_exact(&self) -> Value {
        match self {
            Self::Real(r) => {
                let v = real_to_json(*r);
                if v.as_f64() == Some(*r) {
                    v
                } else {
                    json!(r)
                }
            }
            other => other.to_json(),
        }
    }

    /// Text form used in error messages.
    pub fn to_display(&self) -> String {
        match self {
            Self::Integer(i) => i.to_string(),
            Self::Real(r) => format_real(*r),
            Self::Boolean(b) => b.to_string(),
            Self::String(s) => {
                let bare = !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c))
                    && !s.starts_with(|c: char| c.is_ascii_digit() || c == '-');
                if bare {
                    s.to_string()
                } else {
                    Value::String(s.to_string()).to_string()
                }
            }
            Self::Uuid(u) => u.to_string(),
        }
    }
}

impl PartialEq for Atom {
    fn eq(&self, other: &Self) -> bool {
        // Agrees with `cmp` (reals are never NaN, and -0 == 0 either way).
        match (self, other) {
            (Self::Integer(a), Self::Integer(b)) => a == b,
            (Self::Real(a), Self::Real(b)) => a == b,
            (Self::Boolean(a), Self::Boolean(b)) => a == b,
            (Self::String(a), Self::String(b)) => a.as_bytes() == b.as_bytes(),
            (Self::Uuid(a), Self::Uuid(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Atom {}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Atom {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Integer(a), Self::Integer(b)) => a.cmp(b),
            (Self::Real(a), Self::Real(b)) => {
                if a < b {
                    Ordering::Less
                } else if a > b {
                    Ordering::Greater
                } else {
                    Ordering::Equal
                }
            }
            (Self::Boolean(a), Self::Boolean(b)) => a.cmp(b),
            (Self::String(a), Self::String(b)) => a.as_bytes().cmp(b.as_bytes()),
            // As 128-bit numbers: the same order as their bytes (and text), in fewer steps.
            (Self::Uuid(a), Self::Uuid(b)) => a.as_u128().cmp(&b.as_u128()),
            (a, b) => a.atomic_type().cmp(&b.atomic_type()),
        }
    }
}

impl Hash for Atom {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Self::Integer(i) => i.hash(state),
            Self::Real(r) => {
                // -0.0 == 0.0, so they must hash alike.
                let r = if *r == 0.0 { 0.0 } else { *r };
                r.to_bits().hash(state);
            }
            Self::Boolean(b) => b.hash(state),
            Self::String(s) => s.hash(state),
            Self::Uuid(u) => u.hash(state),
        }
    }
}

/// `["uuid", "<text>"]`, the JSON of a UUID atom.
pub(crate) fn uuid_json(u: &Uuid) -> Value {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text: &str = u.hyphenated().encode_lower(&mut buf);
    Value::Array(vec![
        Value::String("uuid".to_owned()),
        Value::String(text.to_owned()),
    ])
}

/// Writes the same JSON as [`Atom::to_json`], without building a [`Value`].
impl Atom {
    /// Appends this atom's JSON text to `out`: the bytes `serde_json` writes for
    /// [`Atom::to_json`], written without it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Self::Integer(i) => write_i64(out, *i),
            Self::Real(r) => {
                // Writing to a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, &real_to_json(*r));
            }
            Self::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Self::String(s) => write_json_str(out, s),
            Self::Uuid(u) => {
                out.extend_from_slice(b"[\"uuid\",\"");
                write_uuid(out, u);
                out.extend_from_slice(b"\"]");
            }
        }
    }
}

/// Appends the decimal text of `i` to `out`.
pub(crate) fn write_i64(out: &mut Vec<u8>, i: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[at..]);
}

/// The two lower-case hex digits of every byte value.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 15]];
        i += 1;
    }
    t
};

/// Where each byte of a UUID starts in its hyphenated text.
const UUID_TEXT_AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/// Appends `u` in its hyphenated lower-case form (36 bytes) to `out`.
pub(crate) fn write_uuid(out: &mut Vec<u8>, u: &Uuid) {
    let b = u.as_bytes();
    let mut text = [b'-'; 36];
    for (byte, &at) in b.iter().zip(&UUID_TEXT_AT) {
        let [hi, lo] = HEX_PAIRS[usize::from(*byte)];
        text[at] = hi;
        text[at + 1] = lo;
    }
    out.extend_from_slice(&text);
}

/// What `serde_json` writes after a backslash for each byte it escapes in a string (`u` for
/// `\u00XX`), 0 for bytes it writes as they are.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Appends `s` as a JSON string to `out`, escaped exactly as `serde_json` escapes it.
pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut run = 0;
    loop {
        let i = find_escape(b, run);
        out.extend_from_slice(&b[run..i]);
        let Some(&c) = b.get(i) else { break };
        match ESCAPE[usize::from(c)] {
            b'u' => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 15)],
            ]),
            e => out.extend_from_slice(&[b'\\', e]),
        }
        run = i + 1;
    }
    out.push(b'"');
}

impl serde::Serialize for Atom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Integer(i) => s.serialize_i64(*i),
            Self::Real(r) => real_to_json(*r).serialize(s),
            Self::Boolean(b) => s.serialize_bool(*b),
            Self::String(t) => s.serialize_str(t),
            Self::Uuid(u) => {
                let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
                let text: &str = u.hyphenated().encode_lower(&mut buf);
                ("uuid", text).serialize(s)
            }
        }
    }
}

/// Resolves `["named-uuid", name]` references while parsing.
pub trait SymbolResolver {
    /// The UUID `name` stands for, or `None` when named UUIDs are not allowed here.
    fn resolve(&mut self, name: &str) -> Option<Uuid>;

    /// The shared string for a string atom's text `s`: a new one, unless the resolver keeps
    /// strings it has seen (a transaction shares the repeated strings of its rows, such as
    /// `external_ids` keys, among them).
    fn string(&mut self, s: &str) -> Arc<str> {
        s.into()
    }
}

/// A resolver that rejects every named UUID.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSymbols;

impl SymbolResolver for NoSymbols {
    fn resolve(&mut self, _name: &str) -> Option<Uuid> {
        None
    }
}

fn parse_uuid_json<J: JsonView>(json: &J, symbols: &mut dyn SymbolResolver) -> Result<Uuid> {
    if let Some(a) = json.as_array() {
        if a.len() == 2 {
            if let (Some(kind), Some(s)) = (a[0].as_str(), a[1].as_str()) {
                if kind == "uuid" {
                    return parse_uuid_str(s).ok_or_else(|| {
                        Error::syntax_at(Some(json), format!("\"{s}\" is not a valid UUID"))
                    });
                }
                if kind == "named-uuid" {
                    return symbols.resolve(s).ok_or_else(|| {
                        Error::syntax_at(Some(json), format!("named-uuid \"{s}\" not allowed here"))
                    });
                }
            }
        }
    }
    Err(Error::syntax_at(
        Some(json),
        "expected [\"uuid\", <string>] or [\"named-uuid\", <string>]",
    ))
}

/// Parses a UUID in its canonical 36-character text form (the only form ovsdb-server accepts).
pub fn parse_uuid_str(s: &str) -> Option<Uuid> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    for (i, c) in b.iter().enumerate() {
        let dash = matches!(i, 8 | 13 | 18 | 23);
        if dash != (*c == b'-') || (!dash && !c.is_ascii_hexdigit()) {
            return None;
        }
    }
    Uuid::parse_str(s).ok()
}

/// Converts a JSON number to an integer the way ovsdb-server's JSON lexer does: integral numbers
/// that fit in 64 bits are integers, even when written as `1.0` or `1e3`.
pub fn json_to_i64<J: JsonView>(json: &J) -> Option<i64> {
    let n = json.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    if n.is_u64() {
        return None;
    }
    let f = n.as_f64()?;
    // 2^63: the first integral double beyond i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) {
        Some(f as i64)
    } else {
        None
    }
}

/// Formats a real exactly as ovsdb-server does (C `printf("%.15g")`).
pub fn format_real(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    const P: i32 = 15;
    // Scientific form with P significant digits gives the decimal exponent after rounding.
    let sci = format!("{:.*e}", (P - 1) as usize, x);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    if !(-4..P).contains(&exp) {
        let m = strip_zeros(mantissa);
        let mut out = String::with_capacity(m.len() + 5);
        out.push_str(&m);
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
        out
    } else {
        let decimals = (P - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{x:.decimals$}"))
    }
}

fn strip_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

/// JSON for a real as a client of ovsdb-server sees it: the `%.15g` text, parsed back.
pub fn real_to_json(x: f64) -> Value {
    let text = format_real(x);
    serde_json::from_str::<Value>(&text).unwrap_or_else(|_| json!(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_atoms_are_what_serde_json_writes() {
        let mut strings: Vec<String> = vec![
            String::new(),
            "inport == \"pod-0-1\" && eth.src == {0a:58:0a:00:00:01}".into(),
            "é ü 😀 \u{7f} \\ / \"".into(),
        ];
        // Every ASCII byte at every position of a 17-byte string (two words and a tail).
        for c in 0u8..0x80 {
            for at in 0..17 {
                let mut s = vec![b'a'; 17];
                s[at] = c;
                strings.push(String::from_utf8(s).unwrap());
            }
        }
        let mut atoms: Vec<Atom> = strings
            .into_iter()
            .map(|s| Atom::String(s.into()))
            .collect();
        atoms.extend([
            Atom::Integer(0),
            Atom::Integer(-1),
            Atom::Integer(i64::MIN),
            Atom::Integer(i64::MAX),
            Atom::Integer(1234567890),
            Atom::Real(2.5),
            Atom::Real(1e300),
            Atom::Real(-0.0),
            Atom::Boolean(true),
            Atom::Boolean(false),
            Atom::Uuid(Uuid::nil()),
            Atom::Uuid(Uuid::from_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210)),
            Atom::Uuid(Uuid::from_u128(u128::MAX)),
        ]);
        for a in atoms {
            let mut out = Vec::new();
            a.write_json(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&a.to_json()).unwrap(),
                "{a:?}"
            );
        }
    }

    #[test]
    fn real_format_matches_printf_g15() {
        for (x, s) in [
            (1.0, "1"),
            (0.1, "0.1"),
            (1e20, "1e+20"),
            (1e-7, "1e-07"),
            (123456789012345678.0, "1.23456789012346e+17"),
            (2.5, "2.5"),
            (1e300, "1e+300"),
            (1e15, "1e+15"),
            (123456789012345.0, "123456789012345"),
            (0.30000000000000004, "0.3"),
            (0.000123, "0.000123"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-2.5, "-2.5"),
            (1234567.125, "1234567.125"),
            (100.5, "100.5"),
        ] {
            assert_eq!(format_real(x), s, "{x}");
        }
        assert_eq!(real_to_json(1e15), json!(1e15));
        assert_eq!(real_to_json(3.0), json!(3));
    }

    #[test]
    fn uuid_order_is_byte_order() {
        let ids = [
            "00000000-0000-0000-0000-000000000001",
            "00000000-0000-0000-0000-000000000100",
            "0000000f-0000-0000-0000-000000000000",
            "10000000-0000-0000-0000-000000000000",
            "f0000000-0000-0000-0000-00000000000f",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ];
        for a in ids {
            for b in ids {
                let (ua, ub) = (parse_uuid_str(a).unwrap(), parse_uuid_str(b).unwrap());
                assert_eq!(Atom::Uuid(ua).cmp(&Atom::Uuid(ub)), a.cmp(b), "{a} {b}");
                assert_eq!(Atom::Uuid(ua) == Atom::Uuid(ub), a == b);
            }
        }
    }

    #[test]
    fn ordering() {
        assert!(Atom::Real(-0.0) == Atom::Real(0.0));
        assert!(Atom::String("B".into()) < Atom::String("a".into()));
        assert!(Atom::Boolean(false) < Atom::Boolean(true));
    }

    #[test]
    fn integers_like_ovs_lexer() {
        assert_eq!(json_to_i64(&json!(1.0)), Some(1));
        assert_eq!(json_to_i64(&json!(1.5)), None);
        assert_eq!(json_to_i64(&json!(1e20)), None);
        assert_eq!(json_to_i64(&json!(u64::MAX)), None);
        assert_eq!(json_to_i64(&json!("1")), None);
    }

    #[test]
    fn uuid_text() {
        assert!(parse_uuid_str("11111111-2222-3333-4444-555555555555").is_some());
        assert!(parse_uuid_str("111111112222333344445555555555555555").is_none());
        assert!(parse_uuid_str("{11111111-2222-3333-4444-555555555555}").is_none());
    }
}
