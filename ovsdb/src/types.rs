//! OVSDB column types (RFC 7047 section 3.2 `<type>`, `<base-type>`, `<atomic-type>`).

use serde_json::{json, Map, Value};

use crate::atom::Atom;
use crate::datum::{Datum, Pairs};
use crate::error::{Error, Result};

/// The five atomic types of RFC 7047.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AtomicType {
    /// 64-bit signed integer.
    Integer,
    /// IEEE 754 double.
    Real,
    /// `true` or `false`.
    Boolean,
    /// UTF-8 string.
    String,
    /// A UUID, possibly a reference to a row.
    Uuid,
}

impl AtomicType {
    /// Parses an `<atomic-type>` name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "integer" => Self::Integer,
            "real" => Self::Real,
            "boolean" => Self::Boolean,
            "string" => Self::String,
            "uuid" => Self::Uuid,
            _ => return None,
        })
    }

    /// The `<atomic-type>` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Real => "real",
            Self::Boolean => "boolean",
            Self::String => "string",
            Self::Uuid => "uuid",
        }
    }

    /// The default atom of this type (0, 0.0, false, "", the all-zeros UUID).
    pub fn default_atom(self) -> Atom {
        match self {
            Self::Integer => Atom::Integer(0),
            Self::Real => Atom::Real(0.0),
            Self::Boolean => Atom::Boolean(false),
            Self::String => Atom::String("".into()),
            Self::Uuid => Atom::Uuid(uuid::Uuid::nil()),
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Self::Integer => "integers",
            Self::Real => "reals",
            Self::Boolean => "booleans",
            Self::String => "strings",
            Self::Uuid => "uuids",
        }
    }
}

/// Whether a reference keeps its target alive (strong) or is dropped when the target goes (weak).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RefType {
    /// Referential integrity enforced; the target cannot be deleted while referenced.
    #[default]
    Strong,
    /// Dangling references are removed silently at commit.
    Weak,
}

/// Constraints on the atoms of a `<base-type>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BaseConstraints {
    /// Allowed values (sorted, distinct), when the base type has an `enum`.
    pub enum_values: Option<Vec<Atom>>,
    /// `minInteger`.
    pub min_integer: Option<i64>,
    /// `maxInteger`.
    pub max_integer: Option<i64>,
    /// `minReal`.
    pub min_real: Option<f64>,
    /// `maxReal`.
    pub max_real: Option<f64>,
    /// `minLength` (in Unicode code points).
    pub min_length: Option<u64>,
    /// `maxLength` (in Unicode code points).
    pub max_length: Option<u64>,
    /// `refTable`.
    pub ref_table: Option<String>,
    /// `refType` (meaningful only with `ref_table`).
    pub ref_type: RefType,
}

/// A `<base-type>`: an atomic type plus constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseType {
    /// The atomic type.
    pub atomic: AtomicType,
    /// Its constraints.
    pub constraints: BaseConstraints,
    /// Index of the referenced table in the schema (resolved from `ref_table`).
    pub(crate) ref_table_idx: Option<usize>,
}

impl BaseType {
    /// An unconstrained base type.
    pub fn new(atomic: AtomicType) -> Self {
        Self {
            atomic,
            constraints: BaseConstraints::default(),
            ref_table_idx: None,
        }
    }

    /// True for a uuid base type with a strong `refTable`.
    pub fn is_strong_ref(&self) -> bool {
        self.ref_table_idx.is_some() && self.constraints.ref_type == RefType::Strong
    }

    /// True for a uuid base type with a weak `refTable`.
    pub fn is_weak_ref(&self) -> bool {
        self.ref_table_idx.is_some() && self.constraints.ref_type == RefType::Weak
    }

    /// Index of the referenced table, for uuid base types with `refTable`.
    pub fn ref_table_index(&self) -> Option<usize> {
        self.ref_table_idx
    }

    /// Removes every constraint (as mutation arguments of arithmetic mutators do).
    pub(crate) fn without_constraints(&self) -> Self {
        Self::new(self.atomic)
    }

    fn has_constraints(&self) -> bool {
        self.constrains_atoms() || self.constraints.ref_table.is_some()
    }

    /// True when an enum, a range or a length constrains the atoms of this type: only then
    /// can checking an atom against its constraints fail (a reference constrains no atom).
    pub(crate) fn constrains_atoms(&self) -> bool {
        let c = &self.constraints;
        c.enum_values.is_some()
            || c.min_integer.is_some()
            || c.max_integer.is_some()
            || c.min_real.is_some()
            || c.max_real.is_some()
            || c.min_length.is_some()
            || c.max_length.is_some()
    }

    /// Parses a `<base-type>` (a name, or an object with "type" and constraints).
    pub fn from_json(json: &Value) -> Result<Self> {
        match json {
            Value::String(s) => AtomicType::from_name(s)
                .map(Self::new)
                .ok_or_else(|| Error::syntax_at(Some(json), format!("unknown OVSDB type \"{s}\""))),
            Value::Object(obj) => {
                let ty = obj.get("type").and_then(Value::as_str).ok_or_else(|| {
                    Error::syntax_at(Some(json), "base type requires a \"type\" string member")
                })?;
                let atomic = AtomicType::from_name(ty).ok_or_else(|| {
                    Error::syntax_at(Some(json), format!("unknown OVSDB type \"{ty}\""))
                })?;
                let mut base = Self::new(atomic);
                let allowed: &[&str] = match atomic {
                    AtomicType::Integer => &["type", "enum", "minInteger", "maxInteger"],
                    AtomicType::Real => &["type", "enum", "minReal", "maxReal"],
                    AtomicType::Boolean => &["type", "enum"],
                    AtomicType::String => &["type", "enum", "minLength", "maxLength"],
                    AtomicType::Uuid => &["type", "enum", "refTable", "refType"],
                };
                if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
                    return Err(Error::syntax_at(
                        Some(json),
                        format!("Member '{k}' is present but not allowed here."),
                    ));
                }
                let c = &mut base.constraints;
                if let Some(e) = obj.get("enum") {
                    let set_type = ColumnType {
                        key: Self::new(atomic),
                        value: None,
                        min: 1,
                        max: u64::MAX,
                    };
                    let d = Datum::from_json(e, &set_type, &mut crate::datum::NoSymbols)?;
                    c.enum_values = Some(d.set_atoms().to_vec());
                }
                let int_member = |name: &str| -> Result<Option<i64>> {
                    match obj.get(name) {
                        None => Ok(None),
                        Some(v) => crate::atom::json_to_i64(v).map(Some).ok_or_else(|| {
                            Error::syntax_at(Some(v), format!("{name} must be an integer"))
                        }),
                    }
                };
                let real_member = |name: &str| -> Result<Option<f64>> {
                    match obj.get(name) {
                        None => Ok(None),
                        Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                            Error::syntax_at(Some(v), format!("{name} must be a number"))
                        }),
                    }
                };
                c.min_integer = int_member("minInteger")?;
                c.max_integer = int_member("maxInteger")?;
                if let (Some(a), Some(b)) = (c.min_integer, c.max_integer) {
                    if a > b {
                        return Err(Error::syntax_at(
                            Some(json),
                            "minInteger exceeds maxInteger",
                        ));
                    }
                }
                c.min_real = real_member("minReal")?;
                c.max_real = real_member("maxReal")?;
                if let (Some(a), Some(b)) = (c.min_real, c.max_real) {
                    if a > b {
                        return Err(Error::syntax_at(Some(json), "minReal exceeds maxReal"));
                    }
                }
                for (name, slot) in [
                    ("minLength", &mut c.min_length),
                    ("maxLength", &mut c.max_length),
                ] {
                    if let Some(v) = obj.get(name) {
                        let n = crate::atom::json_to_i64(v)
                            .filter(|n| *n >= 0 && *n <= i64::from(u32::MAX))
                            .ok_or_else(|| {
                                Error::syntax_at(
                                    Some(v),
                                    format!("{name} out of valid range 0 to {}", u32::MAX),
                                )
                            })?;
                        *slot = Some(n as u64);
                    }
                }
                if let (Some(a), Some(b)) = (c.min_length, c.max_length) {
                    if a > b {
                        return Err(Error::syntax_at(Some(json), "minLength exceeds maxLength"));
                    }
                }
                if let Some(rt) = obj.get("refTable") {
                    let name =
                        rt.as_str()
                            .filter(|s| crate::parser::is_id(s))
                            .ok_or_else(|| {
                                Error::syntax_at(Some(rt), "refTable must be an identifier")
                            })?;
                    c.ref_table = Some(name.to_owned());
                    c.ref_type = match obj.get("refType") {
                        None => RefType::Strong,
                        Some(Value::String(s)) if s == "strong" => RefType::Strong,
                        Some(Value::String(s)) if s == "weak" => RefType::Weak,
                        Some(v) => {
                            return Err(Error::syntax_at(
                                Some(v),
                                "refType must be \"strong\" or \"weak\"",
                            ));
                        }
                    };
                } else if obj.contains_key("refType") {
                    return Err(Error::syntax_at(Some(json), "refType requires refTable"));
                }
                Ok(base)
            }
            _ => Err(Error::syntax_at(Some(json), "base type expected")),
        }
    }

    /// Serializes back to a `<base-type>` as ovsdb-server prints it.
    pub fn to_json(&self) -> Value {
        if !self.has_constraints() {
            return json!(self.atomic.name());
        }
        let c = &self.constraints;
        let mut m = Map::new();
        m.insert("type".into(), json!(self.atomic.name()));
        if let Some(e) = &c.enum_values {
            let atoms: Vec<Value> = e.iter().map(Atom::to_json_exact).collect();
            let v = if atoms.len() == 1 {
                atoms.into_iter().next().unwrap_or(Value::Null)
            } else {
                json!(["set", atoms])
            };
            m.insert("enum".into(), v);
        }
        if let Some(v) = c.min_integer {
            m.insert("minInteger".into(), json!(v));
        }
        if let Some(v) = c.max_integer {
            m.insert("maxInteger".into(), json!(v));
        }
        if let Some(v) = c.min_real {
            m.insert("minReal".into(), Atom::Real(v).to_json_exact());
        }
        if let Some(v) = c.max_real {
            m.insert("maxReal".into(), Atom::Real(v).to_json_exact());
        }
        if let Some(v) = c.min_length {
            m.insert("minLength".into(), json!(v));
        }
        if let Some(v) = c.max_length {
            m.insert("maxLength".into(), json!(v));
        }
        if let Some(t) = &c.ref_table {
            m.insert("refTable".into(), json!(t));
            if c.ref_type == RefType::Weak {
                m.insert("refType".into(), json!("weak"));
            }
        }
        Value::Object(m)
    }

    /// Checks an atom against this base type's constraints (enum, range, length), with
    /// ovsdb-server's messages.
    pub fn check_constraints(&self, atom: &Atom) -> Result<()> {
        let c = &self.constraints;
        if let Some(allowed) = &c.enum_values {
            if allowed.binary_search(atom).is_err() {
                let list: Vec<String> = allowed.iter().map(Atom::to_display).collect();
                return Err(Error::constraint(format!(
                    "{} is not one of the allowed values ([{}])",
                    atom.to_display(),
                    list.join(", ")
                )));
            }
            return Ok(());
        }
        match atom {
            Atom::Integer(i) => range_check(*i, c.min_integer, c.max_integer, |v| v.to_string()),
            Atom::Real(r) => range_check(*r, c.min_real, c.max_real, crate::atom::format_real),
            Atom::String(s) => {
                if c.min_length.is_none() && c.max_length.is_none() {
                    return Ok(());
                }
                let n = s.chars().count() as u64;
                if let Some(min) = c.min_length {
                    if n < min {
                        return Err(Error::constraint(format!(
                            "\"{s}\" length {n} is less than minimum allowed length {min}"
                        )));
                    }
                }
                if let Some(max) = c.max_length {
                    if n > max {
                        return Err(Error::constraint(format!(
                            "\"{s}\" length {n} is greater than maximum allowed length {max}"
                        )));
                    }
                }
                Ok(())
            }
            Atom::Boolean(_) | Atom::Uuid(_) => Ok(()),
        }
    }
}

fn range_check<T: PartialOrd + Copy>(
    v: T,
    min: Option<T>,
    max: Option<T>,
    fmt: impl Fn(T) -> String,
) -> Result<()> {
    match (min, max) {
        (Some(a), Some(b)) if v < a || v > b => Err(Error::constraint(format!(
            "{} is not in the valid range {} to {} (inclusive)",
            fmt(v),
            fmt(a),
            fmt(b)
        ))),
        (Some(a), None) if v < a => Err(Error::constraint(format!(
            "{} is less than minimum allowed value {}",
            fmt(v),
            fmt(a)
        ))),
        (None, Some(b)) if v > b => Err(Error::constraint(format!(
            "{} is greater than maximum allowed value {}",
            fmt(v),
            fmt(b)
        ))),
        _ => Ok(()),
    }
}

/// A column `<type>`: key base type, optional value base type (a map), and size bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnType {
    /// Key (or element) base type.
    pub key: BaseType,
    /// Value base type, for maps.
    pub value: Option<BaseType>,
    /// Minimum number of elements (0 or 1).
    pub min: u64,
    /// Maximum number of elements (`u64::MAX` for "unlimited").
    pub max: u64,
}

impl ColumnType {
    /// A scalar (exactly one element) of an unconstrained atomic type.
    pub fn scalar(atomic: AtomicType) -> Self {
        Self {
            key: BaseType::new(atomic),
            value: None,
            min: 1,
            max: 1,
        }
    }

    /// True for maps.
    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }

    /// True for a non-map with exactly one element.
    pub fn is_scalar(&self) -> bool {
        self.value.is_none() && self.min == 1 && self.max == 1
    }

    /// True for a non-map with zero or one element.
    pub fn is_optional_scalar(&self) -> bool {
        self.value.is_none() && self.min == 0 && self.max == 1
    }

    /// True for a non-map that is not a scalar.
    pub fn is_set(&self) -> bool {
        self.value.is_none() && !(self.min == 1 && self.max == 1)
    }

    /// True when a key or value is a strong reference.
    pub fn has_strong_refs(&self) -> bool {
        self.key.is_strong_ref() || self.value.as_ref().is_some_and(BaseType::is_strong_ref)
    }

    /// True when a key or value is a weak reference.
    pub fn has_weak_refs(&self) -> bool {
        self.key.is_weak_ref() || self.value.as_ref().is_some_and(BaseType::is_weak_ref)
    }

    /// The default value of a column of this type: empty when `min` is 0, else one default atom
    /// (or one default key/value pair).
    pub fn default_datum(&self) -> Datum {
        if self.min == 0 {
            return Datum::empty(self);
        }
        match &self.value {
            None => Datum::scalar(self.key.atomic.default_atom()),
            Some(v) => Datum::Map(Pairs::from([(
                self.key.atomic.default_atom(),
                v.atomic.default_atom(),
            )])),
        }
    }

    /// Parses a column `<type>`.
    pub fn from_json(json: &Value) -> Result<Self> {
        match json {
            Value::String(_) => Ok(Self {
                key: BaseType::from_json(json)?,
                value: None,
                min: 1,
                max: 1,
            }),
            Value::Object(obj) => {
                if let Some(k) = obj
                    .keys()
                    .find(|k| !["key", "value", "min", "max"].contains(&k.as_str()))
                {
                    return Err(Error::syntax_at(
                        Some(json),
                        format!("Member '{k}' is present but not allowed here."),
                    ));
                }
                let key = obj.get("key").ok_or_else(|| {
                    Error::syntax_at(Some(json), "Required 'key' member is missing.")
                })?;
                let key = BaseType::from_json(key)?;
                let value = obj.get("value").map(BaseType::from_json).transpose()?;
                let min = match obj.get("min") {
                    None => 1,
                    Some(v) => crate::atom::json_to_i64(v)
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| Error::syntax_at(Some(v), "bad min or max value"))?
                        as u64,
                };
                let max = match obj.get("max") {
                    None => 1,
                    Some(Value::String(s)) if s == "unlimited" => u64::MAX,
                    Some(v) => crate::atom::json_to_i64(v)
                        .filter(|n| *n >= 1 && *n <= i64::from(u32::MAX))
                        .ok_or_else(|| Error::syntax_at(Some(v), "bad min or max value"))?
                        as u64,
                };
                if min > 1 || min > max {
                    return Err(Error::syntax_at(
                        Some(json),
                        "ovsdb type fails constraint checks",
                    ));
                }
                Ok(Self {
                    key,
                    value,
                    min,
                    max,
                })
            }
            _ => Err(Error::syntax_at(Some(json), "ovsdb type expected")),
        }
    }

    /// Serializes back to a `<type>` as ovsdb-server prints it.
    pub fn to_json(&self) -> Value {
        if self.is_scalar() && !self.key.has_constraints() {
            return self.key.to_json();
        }
        let mut m = Map::new();
        m.insert("key".into(), self.key.to_json());
        if let Some(v) = &self.value {
            m.insert("value".into(), v.to_json());
        }
        if self.min != 1 {
            m.insert("min".into(), json!(self.min));
        }
        if self.max == u64::MAX {
            m.insert("max".into(), json!("unlimited"));
        } else if self.max != 1 {
            m.insert("max".into(), json!(self.max));
        }
        Value::Object(m)
    }

    /// English description, as ovsdb-server words types in error messages.
    pub fn to_english(&self) -> String {
        let key = self.key.atomic;
        match &self.value {
            None if self.is_scalar() => key.name().to_owned(),
            None => {
                if self.max == u64::MAX {
                    if self.min == 0 {
                        format!("set of {}", key.plural())
                    } else {
                        format!("set of {} or more {}", self.min, key.plural())
                    }
                } else if self.min == 0 && self.max == 1 {
                    format!("optional {}", key.name())
                } else {
                    format!("set of up to {} {}", self.max, key.plural())
                }
            }
            Some(v) => {
                let pair = format!("({}, {}) pairs", key.name(), v.atomic.name());
                if self.max == u64::MAX {
                    format!("map of {pair}")
                } else {
                    format!("map of up to {} {pair}", self.max)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_round_trip() {
        for j in [
            json!("integer"),
            json!({"key": "string", "min": 0}),
            json!({"key": {"type": "uuid", "refTable": "T", "refType": "weak"}, "max": "unlimited", "min": 0}),
            json!({"key": {"type": "integer", "minInteger": 0, "maxInteger": 10}}),
            json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"}),
            json!({"key": {"type": "string", "enum": ["set", ["a", "b"]]}, "min": 0, "max": 3}),
        ] {
            let t = ColumnType::from_json(&j).unwrap();
            assert_eq!(t.to_json(), j);
        }
    }

    #[test]
    fn real_constraints_round_trip_exactly() {
        let j = json!({"key": {"type": "real", "enum": ["set", [0.30000000000000004, 0.3]], "minReal": 0.1}});
        let t = ColumnType::from_json(&j).unwrap();
        assert_eq!(ColumnType::from_json(&t.to_json()).unwrap(), t);
    }

    #[test]
    fn bad_types() {
        assert!(ColumnType::from_json(&json!({"key": "string", "min": 2, "max": 3})).is_err());
        assert!(ColumnType::from_json(&json!({"key": "str"})).is_err());
        assert!(
            ColumnType::from_json(&json!({"key": {"type": "string", "minInteger": 1}})).is_err()
        );
        assert!(ColumnType::from_json(
            &json!({"key": {"type": "integer", "minInteger": 3, "maxInteger": 1}})
        )
        .is_err());
        assert!(ColumnType::from_json(&json!({"key": "integer", "max": 0})).is_err());
    }

    #[test]
    fn constraints() {
        let t = ColumnType::from_json(
            &json!({"key": {"type": "integer", "minInteger": -100, "maxInteger": 100}}),
        )
        .unwrap();
        let e = t.key.check_constraints(&Atom::Integer(1000)).unwrap_err();
        assert_eq!(
            e.details(),
            "1000 is not in the valid range -100 to 100 (inclusive)"
        );
        let t = ColumnType::from_json(
            &json!({"key": {"type": "string", "enum": ["set", ["red", "blue"]]}}),
        )
        .unwrap();
        let e = t
            .key
            .check_constraints(&Atom::String("pink".into()))
            .unwrap_err();
        assert_eq!(
            e.details(),
            "pink is not one of the allowed values ([blue, red])"
        );
        assert_eq!(
            t.default_datum(),
            Datum::Set(vec![Atom::String("".into())].into())
        );
    }
}
