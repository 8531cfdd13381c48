//! Reading Southbound rows straight from JSON into [`SbTables`], without a JSON tree of the
//! rows and without the typed `ovn_sb` rows: a `transact` reply of `select`s (its `result` text,
//! [`SbTables::from_select_reply`]) or row objects already parsed ([`SbTables::add_json_rows`]).
//!
//! Every column value present is checked against the Southbound schema as `ovsdb` checks a
//! datum (atomic type, set size, enum, integer range, string length, duplicate set members and
//! map keys), whether or not [`SbTables`] keeps the column; members that are not columns of the
//! table are ignored, except `_`-prefixed ones, which must be `_uuid` or `_version`.  Missing
//! columns take their default values.  Strings are read where they lie in the input when they
//! have no escapes, and only the columns kept are copied out.

use std::borrow::Cow;
use std::fmt;

use ovsdb::AtomicType as Atomic;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{
    AddressSetRow, ChassisError, ChassisRow, DatapathRow, DpGroupRow, HaChassisGroupRow,
    HaChassisRow, Interner, LogicalFlowRow, MulticastGroupRow, PortBindingRow, PortGroupRow,
    SbTables, TemplateVarRow,
};
use crate::actions::Pipeline;

/// The columns of each table of [`SbTables::TABLES`] that [`SbTables`] keeps (what a `select`
/// needs to ask for), in the order of `TABLES`.
pub(super) const KEPT_COLUMNS: [&[&str]; 12] = [
    &["_uuid", "name", "other_config"],
    &["_uuid", "tunnel_key", "external_ids"],
    &[
        "logical_port",
        "type",
        "datapath",
        "tunnel_key",
        "chassis",
        "additional_chassis",
        "options",
        "ha_chassis_group",
    ],
    &["name", "addresses"],
    &["name", "ports"],
    &["datapath", "name", "tunnel_key"],
    &["_uuid", "datapaths"],
    &["_uuid", "ha_chassis"],
    &["_uuid", "chassis"],
    &["name"],
    &["chassis", "variables"],
    &[
        "_uuid",
        "logical_datapath",
        "logical_dp_group",
        "pipeline",
        "table_id",
        "priority",
        "match",
        "actions",
        "tags",
        "controller_meter",
    ],
];

// ---- Column types, from the schema. ----

/// An atomic type and its constraints.
#[derive(Debug, Clone)]
struct BaseSpec {
    atomic: Atomic,
    /// Allowed values, sorted.
    enum_values: Option<Vec<AtomVal<'static>>>,
    min_int: Option<i64>,
    max_int: Option<i64>,
    min_real: Option<f64>,
    max_real: Option<f64>,
    min_len: Option<u64>,
    max_len: Option<u64>,
}

impl BaseSpec {
    /// From the JSON of an `ovsdb` base type (`"string"` or `{"type": ..., constraints}`).
    fn from_json(v: &Value) -> Option<Self> {
        let (atomic, c) = match v {
            Value::String(s) => (Atomic::from_name(s)?, None),
            Value::Object(o) => (Atomic::from_name(o.get("type")?.as_str()?)?, Some(o)),
            _ => return None,
        };
        let get = |k: &str| c.and_then(|o| o.get(k));
        let enum_values = match get("enum") {
            None => None,
            Some(e) => {
                let list = match e.as_array() {
                    Some(a) if a.len() == 2 && a[0] == "set" => a[1].as_array()?.iter().collect(),
                    _ => vec![e],
                };
                let mut atoms = list
                    .into_iter()
                    .map(|a| AtomVal::from_schema_json(a, atomic))
                    .collect::<Option<Vec<_>>>()?;
                atoms.sort_by(AtomVal::order);
                Some(atoms)
            }
        };
        Some(Self {
            atomic,
            enum_values,
            min_int: get("minInteger").and_then(Value::as_i64),
            max_int: get("maxInteger").and_then(Value::as_i64),
            min_real: get("minReal").and_then(Value::as_f64),
            max_real: get("maxReal").and_then(Value::as_f64),
            min_len: get("minLength").and_then(Value::as_u64),
            max_len: get("maxLength").and_then(Value::as_u64),
        })
    }

    /// The constraint checks of `ovsdb`'s `BaseType::check_constraints`.
    fn check(&self, a: &AtomVal<'_>) -> Result<(), String> {
        if let Some(allowed) = &self.enum_values {
            if allowed.iter().any(|e| e == a) {
                return Ok(());
            }
            let list: Vec<String> = allowed.iter().map(AtomVal::to_string).collect();
            return Err(format!(
                "{a} is not one of the allowed values ([{}])",
                list.join(", ")
            ));
        }
        match a {
            AtomVal::Integer(i) => range(*i, self.min_int, self.max_int),
            AtomVal::Real(r) => range(*r, self.min_real, self.max_real),
            AtomVal::String(s) if self.min_len.is_some() || self.max_len.is_some() => {
                let n = s.chars().count() as u64;
                match (self.min_len, self.max_len) {
                    (Some(min), _) if n < min => Err(format!(
                        "{a} length {n} is less than minimum allowed length {min}"
                    )),
                    (_, Some(max)) if n > max => Err(format!(
                        "{a} length {n} is greater than maximum allowed length {max}"
                    )),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

fn range<T: PartialOrd + fmt::Display>(v: T, min: Option<T>, max: Option<T>) -> Result<(), String> {
    match (min, max) {
        (Some(a), Some(b)) if v < a || v > b => Err(format!(
            "{v} is not in the valid range {a} to {b} (inclusive)"
        )),
        (Some(a), None) if v < a => Err(format!("{v} is less than minimum allowed value {a}")),
        (None, Some(b)) if v > b => Err(format!("{v} is greater than maximum allowed value {b}")),
        _ => Ok(()),
    }
}

/// A column's type: key (or element) type, value type for maps, and the number of elements.
#[derive(Debug, Clone)]
struct ColSpec {
    key: BaseSpec,
    value: Option<BaseSpec>,
    min: u64,
    max: u64,
}

impl ColSpec {
    /// From the JSON of an `ovsdb` column type.
    fn from_json(v: &Value) -> Option<Self> {
        let Value::Object(o) = v else {
            return Some(Self {
                key: BaseSpec::from_json(v)?,
                value: None,
                min: 1,
                max: 1,
            });
        };
        if !o.contains_key("key") {
            // A scalar with constraints may be written as a bare base type.
            return Some(Self {
                key: BaseSpec::from_json(v)?,
                value: None,
                min: 1,
                max: 1,
            });
        }
        let max = match o.get("max") {
            None => 1,
            Some(Value::String(s)) if s == "unlimited" => u64::MAX,
            Some(m) => m.as_u64()?,
        };
        Some(Self {
            key: BaseSpec::from_json(o.get("key")?)?,
            value: match o.get("value") {
                Some(v) => Some(BaseSpec::from_json(v)?),
                None => None,
            },
            min: match o.get("min") {
                None => 1,
                Some(m) => m.as_u64()?,
            },
            max,
        })
    }

    fn uuid_scalar() -> Self {
        Self {
            key: BaseSpec {
                atomic: Atomic::Uuid,
                enum_values: None,
                min_int: None,
                max_int: None,
                min_real: None,
                max_real: None,
                min_len: None,
                max_len: None,
            },
            value: None,
            min: 1,
            max: 1,
        }
    }
}

/// One table's columns: first the kept ones (in [`KEPT_COLUMNS`] order), then the others of
/// the schema, checked and dropped.
#[derive(Debug)]
struct TableSpec {
    index: usize,
    name: &'static str,
    columns: Vec<(String, ColSpec)>,
    kept: usize,
}

impl TableSpec {
    fn new(index: usize) -> Result<Self, ChassisError> {
        let name = SbTables::TABLES[index];
        let bad = |message: String| ChassisError::Row {
            table: name.to_owned(),
            message,
        };
        let ts = ovn_sb::model::schema()
            .table(name)
            .ok_or_else(|| bad("not in the Southbound schema".into()))?;
        let spec_of = |c: &str| -> Result<ColSpec, ChassisError> {
            if c == "_uuid" || c == "_version" {
                return Ok(ColSpec::uuid_scalar());
            }
            let col = ts
                .column(c)
                .ok_or_else(|| bad(format!("no column {c} in the Southbound schema")))?;
            ColSpec::from_json(&col.type_.to_json())
                .ok_or_else(|| bad(format!("column {c}: type not understood")))
        };
        let mut columns = Vec::new();
        for c in KEPT_COLUMNS[index] {
            columns.push(((*c).to_owned(), spec_of(c)?));
        }
        let kept = columns.len();
        for col in &ts.columns {
            if !KEPT_COLUMNS[index].contains(&col.name.as_str()) {
                columns.push((col.name.clone(), spec_of(&col.name)?));
            }
        }
        for c in ["_uuid", "_version"] {
            if !columns.iter().any(|(n, _)| n == c) {
                columns.push((c.to_owned(), ColSpec::uuid_scalar()));
            }
        }
        Ok(Self {
            index,
            name,
            columns,
            kept,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == name)
    }
}

// ---- Values. ----

/// One atom as read, strings borrowed from the input when they had no escapes.
#[derive(Debug, Clone, PartialEq)]
enum AtomVal<'de> {
    Integer(i64),
    Real(f64),
    Boolean(bool),
    String(Cow<'de, str>),
    Uuid(u128),
}

impl AtomVal<'_> {
    /// The order of `ovsdb` atoms of one type (integers and reals numerically, strings
    /// bytewise, UUIDs by their 128 bits).
    fn order(a: &Self, b: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (a, b) {
            (Self::Integer(x), Self::Integer(y)) => x.cmp(y),
            (Self::Real(x), Self::Real(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
            (Self::Boolean(x), Self::Boolean(y)) => x.cmp(y),
            (Self::String(x), Self::String(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Self::Uuid(x), Self::Uuid(y)) => x.cmp(y),
            _ => a.rank().cmp(&b.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Integer(_) => 0,
            Self::Real(_) => 1,
            Self::Boolean(_) => 2,
            Self::String(_) => 3,
            Self::Uuid(_) => 4,
        }
    }

    fn from_schema_json(v: &Value, atomic: Atomic) -> Option<AtomVal<'static>> {
        Some(match atomic {
            Atomic::Integer => AtomVal::Integer(v.as_i64()?),
            Atomic::Real => AtomVal::Real(v.as_f64()?),
            Atomic::Boolean => AtomVal::Boolean(v.as_bool()?),
            Atomic::String => AtomVal::String(Cow::Owned(v.as_str()?.to_owned())),
            Atomic::Uuid => {
                let a = v.as_array()?;
                AtomVal::Uuid(parse_uuid(a.get(1)?.as_str()?)?)
            }
        })
    }

    fn as_str(&self) -> &str {
        match self {
            Self::String(s) => s,
            _ => "",
        }
    }

    fn as_uuid(&self) -> u128 {
        match self {
            Self::Uuid(u) => *u,
            _ => 0,
        }
    }

    fn as_int(&self) -> i64 {
        match self {
            Self::Integer(i) => *i,
            _ => 0,
        }
    }
}

impl fmt::Display for AtomVal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Integer(i) => write!(f, "{i}"),
            Self::Real(r) => write!(f, "{r}"),
            Self::Boolean(b) => write!(f, "{b}"),
            Self::String(s) => write!(f, "{s:?}"),
            Self::Uuid(u) => f.write_str(&super::format_uuid(*u)),
        }
    }
}

/// The value of each hex digit, 0xff for other bytes.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Parses a UUID in its canonical 36-character form (the only one OVSDB accepts).
fn parse_uuid(s: &str) -> Option<u128> {
    let b: &[u8; 36] = s.as_bytes().try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let mut v: u128 = 0;
    let mut bad = 0u8;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            continue;
        }
        let d = HEX_VALUE[usize::from(c)];
        bad |= d;
        v = (v << 4) | u128::from(d & 0xf);
    }
    (bad & 0xf0 == 0).then_some(v)
}

/// One column value as read: its atoms (keys for a map) and, for a map, its values.
#[derive(Debug, Default)]
struct DatumVal<'de> {
    present: bool,
    keys: Vec<AtomVal<'de>>,
    values: Vec<AtomVal<'de>>,
}

impl<'de> DatumVal<'de> {
    fn clear(&mut self) {
        self.present = false;
        self.keys.clear();
        self.values.clear();
    }

    /// Sorts a set's atoms or a map's pairs by key, rejecting duplicates (as `ovsdb` does).
    fn normalize(&mut self, is_map: bool) -> Result<(), String> {
        if self.keys.len() < 2 {
            return Ok(());
        }
        if !is_map {
            self.keys.sort_by(AtomVal::order);
            if self.keys.windows(2).any(|w| w[0] == w[1]) {
                return Err("set contains duplicate".into());
            }
            return Ok(());
        }
        let mut pairs: Vec<(AtomVal<'de>, AtomVal<'de>)> =
            self.keys.drain(..).zip(self.values.drain(..)).collect();
        pairs.sort_by(|a, b| AtomVal::order(&a.0, &b.0));
        if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err("map contains duplicate key".into());
        }
        for (k, v) in pairs {
            self.keys.push(k);
            self.values.push(v);
        }
        Ok(())
    }

    /// The value of map key `key`.
    fn map_get(&self, key: &str) -> Option<&AtomVal<'de>> {
        self.keys
            .iter()
            .position(|k| k.as_str() == key)
            .and_then(|i| self.values.get(i))
    }

    fn scalar(&self) -> Option<&AtomVal<'de>> {
        self.keys.first()
    }
}

/// The `visit_*` methods of a visitor for the scalar JSON types (string, numbers, boolean,
/// null), none of which the visitor reads: each returns the error its method `$err` records.
macro_rules! reject_scalars {
    ($err:ident) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
            Err(self.$err())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            Err(self.$err())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            Err(self.$err())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            Err(self.$err())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            Err(self.$err())
        }
        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Err(self.$err())
        }
    };
}

// ---- Errors out of serde. ----

/// The error of a read, kept beside serde's (which only carries text).
#[derive(Debug, Default)]
struct Failure {
    error: Option<ChassisError>,
}

fn fail<E: de::Error>(msg: &str) -> E {
    E::custom(msg)
}

// ---- Seeds. ----

/// Reads one atom of type `base` (its JSON is not an array, or is `["uuid", ...]`).
struct AtomSeed<'s> {
    base: &'s BaseSpec,
}

impl<'de> DeserializeSeed<'de> for AtomSeed<'_> {
    type Value = AtomVal<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(AtomVisitor {
            base: self.base,
            first: None,
        })
    }
}

struct AtomVisitor<'s, 'de> {
    base: &'s BaseSpec,
    /// The first element of an array already read by the caller.
    first: Option<Tag<'de>>,
}

impl<'de> AtomVisitor<'_, 'de> {
    fn checked<E: de::Error>(&self, a: AtomVal<'de>) -> Result<AtomVal<'de>, E> {
        self.base.check(&a).map_err(|m| E::custom(m))?;
        Ok(a)
    }

    fn expected<E: de::Error>(&self) -> E {
        match self.base.atomic {
            Atomic::Uuid => E::custom("expected [\"uuid\", <string>]"),
            a => E::custom(format!("expected {}", a.name())),
        }
    }

    fn uuid_from_seq<A: SeqAccess<'de>>(
        &self,
        tag: Tag<'de>,
        mut seq: A,
    ) -> Result<AtomVal<'de>, A::Error> {
        match tag {
            Tag::Str(k) if k == "uuid" => {
                let s: Str<'de> = seq
                    .next_element()?
                    .ok_or_else(|| fail::<A::Error>("expected [\"uuid\", <string>]"))?;
                let u = parse_uuid(&s.0)
                    .ok_or_else(|| de::Error::custom(format!("\"{}\" is not a valid UUID", s.0)))?;
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(fail("expected [\"uuid\", <string>]"));
                }
                Ok(AtomVal::Uuid(u))
            }
            Tag::Str(k) if k == "named-uuid" => Err(fail("named-uuid not allowed here")),
            _ => Err(self.expected()),
        }
    }
}

impl<'de> Visitor<'de> for AtomVisitor<'_, 'de> {
    type Value = AtomVal<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an OVSDB {} atom", self.base.atomic.name())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match self.base.atomic {
            Atomic::Integer => self.checked(AtomVal::Integer(v)),
            Atomic::Real => self.checked(AtomVal::Real(v as f64)),
            _ => Err(self.expected()),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match (self.base.atomic, i64::try_from(v)) {
            (Atomic::Integer, Ok(i)) => self.checked(AtomVal::Integer(i)),
            (Atomic::Real, _) => self.checked(AtomVal::Real(v as f64)),
            _ => Err(self.expected()),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // 2^63: the first integral double beyond i64.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        match self.base.atomic {
            Atomic::Integer if v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v) => {
                self.checked(AtomVal::Integer(v as i64))
            }
            Atomic::Real if v.is_finite() => self.checked(AtomVal::Real(v)),
            _ => Err(self.expected()),
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        match self.base.atomic {
            Atomic::Boolean => self.checked(AtomVal::Boolean(v)),
            _ => Err(self.expected()),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        match self.base.atomic {
            Atomic::String => self.checked(AtomVal::String(Cow::Borrowed(v))),
            _ => Err(self.expected()),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match self.base.atomic {
            Atomic::String => self.checked(AtomVal::String(Cow::Owned(v.to_owned()))),
            _ => Err(self.expected()),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Self::Value, A::Error> {
        if self.base.atomic != Atomic::Uuid {
            return Err(self.expected());
        }
        let tag = match self.first.take() {
            Some(t) => t,
            None => seq.next_element()?.unwrap_or(Tag::Other),
        };
        let a = self.uuid_from_seq(tag, seq)?;
        self.checked(a)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.expected())
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.expected())
    }
}

/// A string, borrowed from the input when it has no escapes.
struct Str<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The first element of an array: a string (`"set"`, `"map"`, `"uuid"`, ...) or anything else.
enum Tag<'de> {
    Str(Cow<'de, str>),
    Other,
}

impl<'de> de::Deserialize<'de> for Tag<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tag<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Tag<'de>, E> {
                Ok(Tag::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tag<'de>, E> {
                Ok(Tag::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Tag<'de>, E> {
                Ok(Tag::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Tag<'de>, E> {
                Ok(Tag::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Tag<'de>, E> {
                Ok(Tag::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Tag<'de>, E> {
                Ok(Tag::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Tag<'de>, E> {
                Ok(Tag::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tag<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Tag::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tag<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Tag::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads one column value (RFC 7047 `<value>`) of type `spec` into `out`.
struct DatumSeed<'s, 'de> {
    spec: &'s ColSpec,
    out: &'s mut DatumVal<'de>,
}

impl<'de> DeserializeSeed<'de> for DatumSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> DatumSeed<'_, 'de> {
    fn scalar<E: de::Error>(self, a: Result<AtomVal<'de>, E>) -> Result<(), E> {
        if self.spec.value.is_some() {
            return Err(fail("\"map\" expected"));
        }
        self.out.keys.push(a?);
        self.size()
    }

    fn size<E: de::Error>(&self) -> Result<(), E> {
        let n = self.out.keys.len() as u64;
        if n < self.spec.min || n > self.spec.max {
            let class = if self.spec.value.is_some() {
                "map"
            } else {
                "set"
            };
            return Err(E::custom(if self.spec.min == 1 && self.spec.max == 1 {
                format!("{class} must have exactly one member but {n} are present")
            } else {
                format!(
                    "{class} must have {} to {} members but {n} are present",
                    self.spec.min,
                    self.spec.max.min(u64::from(u32::MAX))
                )
            }));
        }
        Ok(())
    }

    fn atom_visitor(&self) -> AtomVisitor<'_, 'de> {
        AtomVisitor {
            base: &self.spec.key,
            first: None,
        }
    }
}

impl<'de> Visitor<'de> for DatumSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OVSDB value")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        let a = self.atom_visitor().visit_i64(v);
        self.scalar(a)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        let a = self.atom_visitor().visit_u64(v);
        self.scalar(a)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let a = self.atom_visitor().visit_f64(v);
        self.scalar(a)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        let a = self.atom_visitor().visit_bool(v);
        self.scalar(a)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        let a = self.atom_visitor().visit_borrowed_str(v);
        self.scalar(a)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        let a = self.atom_visitor().visit_str(v);
        self.scalar(a)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(fail("expected an OVSDB value, not null"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(fail("expected an OVSDB value, not an object"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let tag: Tag<'de> = seq.next_element()?.unwrap_or(Tag::Other);
        let class = match &tag {
            Tag::Str(s) if s == "set" => Some("set"),
            Tag::Str(s) if s == "map" => Some("map"),
            _ => None,
        };
        let is_map = self.spec.value.is_some();
        match (class, is_map) {
            (Some("map"), true) | (Some("set"), false) => {}
            (_, true) => return Err(fail("\"map\" expected")),
            (_, false) => {
                let a = AtomVisitor {
                    base: &self.spec.key,
                    first: Some(tag),
                }
                .visit_seq(seq);
                return self.scalar(a);
            }
        }
        let Self { spec, out } = self;
        seq.next_element_seed(ElementsSeed {
            spec,
            out: &mut *out,
        })?
        .ok_or_else(|| fail::<A::Error>("set or map value must be an array"))?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(fail("set or map notation must have two elements"));
        }
        DatumSeed { spec, out }.size()
    }
}

/// The array of a `["set", [...]]` or `["map", [[k, v], ...]]`.
struct ElementsSeed<'s, 'de> {
    spec: &'s ColSpec,
    out: &'s mut DatumVal<'de>,
}

impl<'de> DeserializeSeed<'de> for ElementsSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ElementsSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of set members or map pairs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match &self.spec.value {
            None => {
                while let Some(a) = seq.next_element_seed(AtomSeed {
                    base: &self.spec.key,
                })? {
                    self.out.keys.push(a);
                }
            }
            Some(vt) => {
                while let Some((k, v)) = seq.next_element_seed(PairSeed {
                    key: &self.spec.key,
                    value: vt,
                })? {
                    self.out.keys.push(k);
                    self.out.values.push(v);
                }
            }
        }
        Ok(())
    }
}

/// One `[key, value]` pair of a map.
struct PairSeed<'s> {
    key: &'s BaseSpec,
    value: &'s BaseSpec,
}

impl<'de> DeserializeSeed<'de> for PairSeed<'_> {
    type Value = (AtomVal<'de>, AtomVal<'de>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PairSeed<'_> {
    type Value = (AtomVal<'de>, AtomVal<'de>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 2-element array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let bad = || fail::<A::Error>("2-element array expected");
        let k = seq
            .next_element_seed(AtomSeed { base: self.key })?
            .ok_or_else(bad)?;
        let v = seq
            .next_element_seed(AtomSeed { base: self.value })?
            .ok_or_else(bad)?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(bad());
        }
        Ok((k, v))
    }
}

/// Reads one table's rows into [`SbTables`]: the per-table state of a read.
struct TableReader<'de, 'r> {
    spec: &'r TableSpec,
    sb: &'r mut SbTables,
    texts: &'r mut Interner,
    datums: Vec<DatumVal<'de>>,
    /// The columns of the last row, in the order its members came (rows from one server
    /// list their columns in the same order): the first guess for the next row's.
    last_order: Vec<usize>,
    failure: &'r mut Failure,
}

impl<'de, 'r> TableReader<'de, 'r> {
    fn new(
        spec: &'r TableSpec,
        sb: &'r mut SbTables,
        texts: &'r mut Interner,
        failure: &'r mut Failure,
    ) -> Self {
        Self {
            spec,
            sb,
            texts,
            datums: (0..spec.columns.len())
                .map(|_| DatumVal::default())
                .collect(),
            last_order: Vec::new(),
            failure,
        }
    }

    fn row_error(&self, message: String) -> ChassisError {
        ChassisError::Row {
            table: self.spec.name.to_owned(),
            message,
        }
    }

    /// Reads one row object and adds it.
    fn read_row<D: Deserializer<'de>>(&mut self, d: D) -> Result<(), D::Error> {
        for dv in &mut self.datums {
            dv.clear();
        }
        d.deserialize_any(RowVisitor { r: self })?;
        match self.add_row() {
            Ok(()) => Ok(()),
            Err(e) => {
                self.failure.error = Some(e);
                Err(fail("bad row"))
            }
        }
    }

    /// Builds the row from the kept columns read.
    fn add_row(&mut self) -> Result<(), ChassisError> {
        let d = &self.datums;
        let uuid = |i: usize| d[i].scalar().map_or(0, AtomVal::as_uuid);
        let opt_uuid = |i: usize| d[i].scalar().map(AtomVal::as_uuid);
        let uuids = |i: usize| d[i].keys.iter().map(AtomVal::as_uuid).collect::<Vec<_>>();
        let int = |i: usize| d[i].scalar().map_or(0, AtomVal::as_int);
        let string = |i: usize| d[i].scalar().map_or("", AtomVal::as_str).to_owned();
        let strings = |i: usize| {
            d[i].keys
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        let sb = &mut *self.sb;
        match self.spec.index {
            0 => sb.chassis.push(ChassisRow {
                uuid: uuid(0),
                name: string(1),
                monitor_all: d[2]
                    .map_get("ovn-monitor-all")
                    .is_some_and(|v| v.as_str() == "true"),
            }),
            1 => sb.datapaths.push(DatapathRow {
                uuid: uuid(0),
                tunnel_key: int(1),
                is_router: d[2].map_get("logical-router").is_some(),
            }),
            2 => sb.port_bindings.push(PortBindingRow {
                logical_port: string(0),
                kind: string(1),
                datapath: uuid(2),
                tunnel_key: int(3),
                chassis: opt_uuid(4),
                additional_chassis: uuids(5),
                peer: d[6].map_get("peer").map(|a| a.as_str().to_owned()),
                ha_chassis_group: opt_uuid(7),
            }),
            3 => sb.address_sets.push(AddressSetRow {
                name: string(0),
                addresses: strings(1),
            }),
            4 => sb.port_groups.push(PortGroupRow {
                name: string(0),
                ports: strings(1),
            }),
            5 => sb.multicast_groups.push(MulticastGroupRow {
                datapath: uuid(0),
                name: string(1),
                tunnel_key: int(2),
            }),
            6 => sb.dp_groups.push(DpGroupRow {
                uuid: uuid(0),
                datapaths: uuids(1),
            }),
            7 => sb.ha_chassis_groups.push(HaChassisGroupRow {
                uuid: uuid(0),
                ha_chassis: uuids(1),
            }),
            8 => sb.ha_chassis.push(HaChassisRow {
                uuid: uuid(0),
                chassis: opt_uuid(1),
            }),
            9 => sb.meters.push(string(0)),
            10 => sb.template_vars.push(TemplateVarRow {
                chassis: string(0),
                variables: d[1]
                    .keys
                    .iter()
                    .zip(&d[1].values)
                    .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
                    .collect(),
            }),
            11 => {
                let texts = &mut *self.texts;
                let text = |i: usize| d[i].scalar().map_or("", AtomVal::as_str);
                sb.logical_flows.push(LogicalFlowRow {
                    uuid: uuid(0),
                    logical_datapath: opt_uuid(1),
                    logical_dp_group: opt_uuid(2),
                    pipeline: match text(3) {
                        "ingress" => Pipeline::Ingress,
                        // The model's default for a missing column.
                        _ => Pipeline::Egress,
                    },
                    table_id: int(4),
                    priority: int(5),
                    match_: texts.intern(text(6)),
                    actions: texts.intern(text(7)),
                    in_out_port: d[8].map_get("in_out_port").map(|a| a.as_str().into()),
                    controller_meter: d[9].scalar().map(|a| texts.intern(a.as_str())),
                });
            }
            _ => return Err(self.row_error("not a table this reader knows".into())),
        }
        Ok(())
    }
}

struct RowVisitor<'a, 'de, 'r> {
    r: &'a mut TableReader<'de, 'r>,
}

impl<'de> Visitor<'de> for RowVisitor<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let r = self.r;
        let spec = r.spec;
        let mut position = 0;
        while let Some(Str(name)) = map.next_key::<Str<'de>>()? {
            let guess = r
                .last_order
                .get(position)
                .copied()
                .filter(|&i| spec.columns[i].0 == *name);
            let found = guess.or_else(|| {
                let i = spec.column(&name)?;
                r.last_order.truncate(position);
                r.last_order.push(i);
                Some(i)
            });
            position += 1;
            let Some(i) = found else {
                if name.starts_with('_') {
                    r.failure.error = Some(r.row_error(format!("unknown column {name}")));
                    return Err(fail("unknown column"));
                }
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let col = &spec.columns[i].1;
            let out = &mut r.datums[i];
            // A repeated member: the last one counts.
            out.clear();
            out.present = true;
            if let Err(e) = map.next_value_seed(DatumSeed { spec: col, out }) {
                if r.failure.error.is_none() {
                    r.failure.error = Some(r.row_error(format!("column {name}: {e}")));
                }
                return Err(e);
            }
            if let Err(m) = r.datums[i].normalize(col.value.is_some()) {
                r.failure.error = Some(r.row_error(format!("column {name}: {m}")));
                return Err(fail("bad column"));
            }
            if i >= spec.kept {
                r.datums[i].clear();
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.not_object())
    }

    reject_scalars!(not_object);
}

impl RowVisitor<'_, '_, '_> {
    fn not_object<E: de::Error>(self) -> E {
        self.r.failure.error = Some(self.r.row_error("a row is not a JSON object".into()));
        fail("not an object")
    }
}

/// The `rows` array of one `select` result.
struct RowsSeed<'a, 'de, 'r> {
    r: &'a mut TableReader<'de, 'r>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(RowSeed { r: &mut *self.r })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.no_rows())
    }

    reject_scalars!(no_rows);
}

impl RowsSeed<'_, '_, '_> {
    fn no_rows<E: de::Error>(self) -> E {
        self.r.failure.error = Some(ChassisError::Reply(format!(
            "{}: \"rows\" is not an array",
            self.r.spec.name
        )));
        fail("no rows")
    }
}

struct RowSeed<'a, 'de, 'r> {
    r: &'a mut TableReader<'de, 'r>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.r.read_row(d)
    }
}

/// One element of the `transact` result: `{"rows": [...]}` for table `index`, or an error.
struct ResultSeed<'a> {
    index: usize,
    specs: &'a [TableSpec],
    sb: &'a mut SbTables,
    failure: &'a mut Failure,
}

impl<'de> DeserializeSeed<'de> for ResultSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl ResultSeed<'_> {
    fn name(&self) -> &'static str {
        SbTables::TABLES[self.index]
    }

    fn not_object<E: de::Error>(self) -> E {
        self.failure.error = Some(ChassisError::Reply(format!("{}: no rows", self.name())));
        fail("no rows")
    }
}

impl<'de> Visitor<'de> for ResultSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a select result")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let name = self.name();
        let mut rows = false;
        let mut error = None;
        let mut texts = Interner::default();
        while let Some(Str(k)) = map.next_key::<Str<'de>>()? {
            match &*k {
                "rows" if rows => {
                    self.failure.error =
                        Some(ChassisError::Reply(format!("{name}: \"rows\" given twice")));
                    return Err(fail("rows twice"));
                }
                "rows" => {
                    let mut r = TableReader::new(
                        &self.specs[self.index],
                        &mut *self.sb,
                        &mut texts,
                        &mut *self.failure,
                    );
                    map.next_value_seed(RowsSeed { r: &mut r })?;
                    rows = true;
                }
                "error" => error = Some(map.next_value::<Value>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(e) = error {
            self.failure.error = Some(ChassisError::Reply(format!("{name}: {e}")));
            return Err(fail("error"));
        }
        if !rows {
            self.failure.error = Some(ChassisError::Reply(format!("{name}: no rows")));
            return Err(fail("no rows"));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.not_object())
    }

    reject_scalars!(not_object);
}

/// The whole `result` array.
struct ReplyVisitor<'a> {
    specs: &'a [TableSpec],
    sb: &'a mut SbTables,
    failure: &'a mut Failure,
}

impl<'de> Visitor<'de> for ReplyVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of select results")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for index in 0..SbTables::TABLES.len() {
            let seed = ResultSeed {
                index,
                specs: self.specs,
                sb: &mut *self.sb,
                failure: &mut *self.failure,
            };
            if seq.next_element_seed(seed)?.is_none() {
                // Fewer results than tables: the rest stay empty (as before).
                return Ok(());
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.not_array())
    }

    reject_scalars!(not_array);
}

impl ReplyVisitor<'_> {
    fn not_array<E: de::Error>(self) -> E {
        self.failure.error = Some(ChassisError::Reply("not an array".into()));
        fail("not an array")
    }
}

/// The error of a read: the one recorded beside serde's, else serde's own (bad JSON).
fn finish_error(failure: Failure, e: &dyn fmt::Display) -> ChassisError {
    failure
        .error
        .unwrap_or_else(|| ChassisError::Reply(format!("invalid JSON: {e}")))
}

fn table_specs() -> Result<Vec<TableSpec>, ChassisError> {
    (0..SbTables::TABLES.len()).map(TableSpec::new).collect()
}

impl SbTables {
    /// The columns of `table` that [`SbTables`] keeps (what a `select` needs: `"columns"`),
    /// `None` for a table it does not read.
    pub fn kept_columns(table: &str) -> Option<&'static [&'static str]> {
        let i = Self::TABLES.iter().position(|t| *t == table)?;
        Some(KEPT_COLUMNS[i])
    }

    /// Reads the `result` of a `transact` whose operations are one `select` per table of
    /// [`SbTables::TABLES`], in that order (any `columns` that include
    /// [`SbTables::kept_columns`]), given as the JSON text the server sent.  Rows are checked
    /// and copied as [`SbTables::add_json_rows`] does, straight from the text.  Results beyond
    /// the tables are ignored; missing ones leave their tables empty.
    pub fn from_select_reply(text: &[u8]) -> Result<Self, ChassisError> {
        let specs = table_specs()?;
        let mut sb = Self::default();
        let mut failure = Failure::default();
        // JSON text is UTF-8: checked once here rather than string by string.
        let text = std::str::from_utf8(text)
            .map_err(|e| ChassisError::Reply(format!("invalid JSON: {e}")))?;
        let mut de = serde_json::Deserializer::from_str(text);
        let read = de
            .deserialize_any(ReplyVisitor {
                specs: &specs,
                sb: &mut sb,
                failure: &mut failure,
            })
            .and_then(|()| de.end());
        if let Err(e) = read {
            return Err(finish_error(failure, &e));
        }
        sb.logical_flows.shrink_to_fit();
        Ok(sb)
    }

    /// Reads rows of `table` as JSON objects of column name to OVSDB `<value>` (as a `select`
    /// returns them, with `_uuid`) into `self`; rows of other tables are ignored.  Equal match
    /// and action texts within one call are stored once.
    pub(super) fn read_json_rows(
        &mut self,
        table: &str,
        rows: &[Value],
    ) -> Result<(), ChassisError> {
        let Some(index) = Self::TABLES.iter().position(|t| *t == table) else {
            return Ok(());
        };
        let spec = TableSpec::new(index)?;
        let mut texts = Interner::default();
        let mut failure = Failure::default();
        let mut r = TableReader::new(&spec, self, &mut texts, &mut failure);
        for row in rows {
            if let Err(e) = r.read_row(row) {
                drop(r);
                return Err(finish_error(failure, &e));
            }
        }
        self.logical_flows.shrink_to_fit();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ovn_sb::model::AnyRow;
    use serde_json::json;

    use super::*;

    const U1: &str = "00000000-0000-0000-0000-0000000000a1";
    const U2: &str = "00000000-0000-0000-0000-0000000000a2";
    const U3: &str = "0000000F-0000-0000-0000-0000000000A3";

    fn uuid(u: &str) -> Value {
        json!(["uuid", u])
    }

    /// Rows of every table read, with every kept column (and some that are not kept), sets of
    /// 0, 1 and more members, maps, escapes and non-ASCII text.
    fn sample_rows() -> Vec<(&'static str, Vec<Value>)> {
        vec![
            (
                "Chassis",
                vec![
                    json!({"_uuid": uuid(U1), "name": "ch\"1\u{e9}", "hostname": "h",
                            "other_config": ["map", [["a", "b"]]]}),
                ],
            ),
            (
                "Datapath_Binding",
                vec![
                    json!({"_uuid": uuid(U1), "tunnel_key": 7,
                           "external_ids": ["map", [["name", "r"], ["logical-router", "x"]]]}),
                    json!({"_uuid": uuid(U2), "tunnel_key": 8.0, "external_ids": ["map", []]}),
                ],
            ),
            (
                "Port_Binding",
                vec![
                    json!({"_uuid": uuid(U1), "logical_port": "lsp1", "type": "patch",
                           "datapath": uuid(U1), "tunnel_key": 3, "chassis": ["set", []],
                           "additional_chassis": ["set", [uuid(U2), uuid(U1)]],
                           "options": ["map", [["peer", "lrp\\1"], ["x", "y"]]],
                           "ha_chassis_group": uuid(U3), "mac": ["set", ["a", "b"]]}),
                    json!({"logical_port": "lsp2", "datapath": uuid(U2), "tunnel_key": 4,
                           "chassis": ["set", [uuid(U1)]]}),
                ],
            ),
            (
                "Address_Set",
                vec![json!({"name": "as1",
                            "addresses": ["set", ["10.0.0.2", "10.0.0.10", "10.0.0.1"]]})],
            ),
            (
                "Port_Group",
                vec![
                    json!({"name": "1_pg", "ports": "only"}),
                    json!({"name": "2_pg"}),
                ],
            ),
            (
                "Multicast_Group",
                vec![
                    json!({"datapath": uuid(U1), "name": "_MC_flood", "tunnel_key": 32768,
                            "ports": ["set", []]}),
                ],
            ),
            (
                "Logical_DP_Group",
                vec![json!({"_uuid": uuid(U3), "datapaths": ["set", [uuid(U2), uuid(U1)]]})],
            ),
            (
                "HA_Chassis_Group",
                vec![json!({"_uuid": uuid(U2), "name": "g", "ha_chassis": ["set", [uuid(U1)]]})],
            ),
            (
                "HA_Chassis",
                vec![json!({"_uuid": uuid(U1), "chassis": uuid(U2), "priority": 10})],
            ),
            (
                "Meter",
                vec![json!({"_uuid": uuid(U1), "name": "m1", "unit": "pktps"})],
            ),
            (
                "Logical_Flow",
                vec![
                    json!({"_uuid": uuid(U1), "logical_datapath": uuid(U1),
                           "logical_dp_group": ["set", []], "pipeline": "ingress",
                           "table_id": 3, "priority": 100,
                           "match": "inport == \"lsp1\" && ip4", "actions": "next;",
                           "tags": ["map", [["in_out_port", "lsp1"]]],
                           "controller_meter": ["set", []],
                           "external_ids": ["map", [["stage-name", "ls_in_x"]]],
                           "_version": uuid(U2)}),
                    json!({"_uuid": uuid(U2), "logical_dp_group": uuid(U3),
                           "pipeline": "egress", "table_id": 0, "priority": 0,
                           "match": "1", "actions": "next;", "controller_meter": "m1"}),
                    // Every column missing: the model's defaults.
                    json!({}),
                ],
            ),
            ("SB_Global", vec![json!({"nb_cfg": "not read"})]),
        ]
    }

    /// The rows read through the typed `ovn_sb` model, as `add_json_rows` did before.
    fn through_model(rows: &[(&str, Vec<Value>)]) -> SbTables {
        let mut sb = SbTables::default();
        for (t, rows) in rows {
            if !SbTables::TABLES.contains(t) {
                continue;
            }
            for r in rows {
                sb.add_row(AnyRow::from_json(t, r).unwrap());
            }
        }
        sb
    }

    fn assert_same(a: &SbTables, b: &SbTables) {
        assert_eq!(a.chassis, b.chassis);
        assert_eq!(a.datapaths, b.datapaths);
        assert_eq!(a.port_bindings, b.port_bindings);
        assert_eq!(a.address_sets, b.address_sets);
        assert_eq!(a.port_groups, b.port_groups);
        assert_eq!(a.multicast_groups, b.multicast_groups);
        assert_eq!(a.dp_groups, b.dp_groups);
        assert_eq!(a.ha_chassis_groups, b.ha_chassis_groups);
        assert_eq!(a.ha_chassis, b.ha_chassis);
        assert_eq!(a.meters, b.meters);
        assert_eq!(a.logical_flows, b.logical_flows);
    }

    /// A `transact` result of one `select` per table.
    fn reply(rows: &[(&str, Vec<Value>)]) -> Vec<u8> {
        let results: Vec<Value> = SbTables::TABLES
            .iter()
            .map(|t| {
                let rows = rows
                    .iter()
                    .find(|(n, _)| n == t)
                    .map_or(vec![], |(_, r)| r.clone());
                json!({"rows": rows})
            })
            .collect();
        serde_json::to_vec(&results).unwrap()
    }

    #[test]
    fn json_rows_read_as_the_typed_model_reads_them() {
        let rows = sample_rows();
        let mut sb = SbTables::default();
        for (t, r) in &rows {
            sb.add_json_rows(t, r).unwrap();
        }
        let model = through_model(&rows);
        assert_same(&sb, &model);
        assert_eq!(sb.port_bindings[0].peer.as_deref(), Some("lrp\\1"));
        assert_eq!(sb.address_sets[0].addresses[0], "10.0.0.1");
        assert_eq!(sb.chassis[0].name, "ch\"1\u{e9}");
        assert!(sb.datapaths[0].is_router && !sb.datapaths[1].is_router);
        assert_eq!(sb.logical_flows[2].pipeline, Pipeline::Egress);
        // Equal texts are shared.
        assert!(Arc::ptr_eq(
            &sb.logical_flows[0].actions,
            &sb.logical_flows[1].actions
        ));
    }

    #[test]
    fn select_reply_reads_as_json_rows() {
        let rows = sample_rows();
        let sb = SbTables::from_select_reply(&reply(&rows)).unwrap();
        assert_same(&sb, &through_model(&rows));
        // Extra results are ignored; missing ones leave their tables empty.
        let mut v: Value = serde_json::from_slice(&reply(&rows)).unwrap();
        v.as_array_mut().unwrap().push(json!({"count": 1}));
        let sb = SbTables::from_select_reply(v.to_string().as_bytes()).unwrap();
        assert_eq!(sb.logical_flows.len(), 3);
        v.as_array_mut().unwrap().truncate(2);
        let sb = SbTables::from_select_reply(v.to_string().as_bytes()).unwrap();
        assert_eq!((sb.datapaths.len(), sb.logical_flows.len()), (2, 0));
        // Whitespace and escapes anywhere.
        let spaced = serde_json::to_string_pretty(&v).unwrap();
        assert!(SbTables::from_select_reply(spaced.as_bytes()).is_ok());
    }

    /// The error for `value` in column `column` of a `table` row that is otherwise empty, both
    /// through `add_json_rows` and in a select reply; the model must refuse it too.
    fn row_error(table: &str, column: &str, value: Value) -> String {
        let row = json!({ column: value });
        assert!(
            AnyRow::from_json(table, &row).is_err(),
            "the model accepts {row}"
        );
        let mut sb = SbTables::default();
        let e = sb
            .add_json_rows(table, std::slice::from_ref(&row))
            .unwrap_err();
        let e2 = SbTables::from_select_reply(&reply(&[(table, vec![row])])).unwrap_err();
        for e in [&e, &e2] {
            match e {
                ChassisError::Row { table: t, message } => {
                    assert_eq!(t, table);
                    assert!(message.contains(column), "{message}");
                }
                other => panic!("{other:?}"),
            }
        }
        e.to_string()
    }

    #[test]
    fn malformed_columns_are_refused_naming_table_and_column() {
        let e = row_error("Logical_Flow", "priority", json!("high"));
        assert!(e.contains("expected integer"), "{e}");
        let e = row_error("Logical_Flow", "priority", json!(65536));
        assert!(e.contains("range"), "{e}");
        row_error("Logical_Flow", "priority", json!(1.5));
        row_error("Logical_Flow", "priority", json!(["set", [1, 2]]));
        row_error("Logical_Flow", "priority", json!(["set", []]));
        row_error("Logical_Flow", "priority", json!(null));
        row_error("Logical_Flow", "priority", json!({"a": 1}));
        let e = row_error("Logical_Flow", "pipeline", json!("sideways"));
        assert!(e.contains("allowed values"), "{e}");
        row_error("Logical_Flow", "table_id", json!(-1));
        row_error("Logical_Flow", "match", json!(5));
        row_error("Logical_Flow", "match", json!(["uuid", U1]));
        row_error("Logical_Flow", "logical_datapath", json!("dp"));
        row_error(
            "Logical_Flow",
            "logical_datapath",
            json!(["uuid", "not-a-uuid"]),
        );
        row_error("Logical_Flow", "logical_datapath", json!(["uuid", U1, U2]));
        row_error(
            "Logical_Flow",
            "logical_datapath",
            json!(["named-uuid", "x"]),
        );
        row_error(
            "Logical_Flow",
            "logical_datapath",
            json!(["set", [uuid(U1), uuid(U2)]]),
        );
        row_error("Logical_Flow", "tags", json!(["set", []]));
        row_error("Logical_Flow", "tags", json!(["map", [["a"]]]));
        row_error("Logical_Flow", "tags", json!(["map", [["a", 1]]]));
        let e = row_error(
            "Logical_Flow",
            "tags",
            json!(["map", [["a", "b"], ["a", "c"]]]),
        );
        assert!(e.contains("duplicate"), "{e}");
        row_error("Logical_Flow", "tags", json!(["map", {"a": "b"}]));
        row_error("Logical_Flow", "tags", json!(["map", [], []]));
        row_error("Logical_Flow", "_uuid", json!("x"));
        row_error("Logical_Flow", "_version", json!(1));
        // A column SbTables does not keep is checked all the same.
        row_error("Logical_Flow", "external_ids", json!(["map", [["a", 1]]]));
        let e = row_error("Address_Set", "addresses", json!(["set", ["a", "a"]]));
        assert!(e.contains("duplicate"), "{e}");
        row_error("Datapath_Binding", "tunnel_key", json!(0));
        row_error(
            "Port_Binding",
            "chassis",
            json!(["set", [uuid(U1), uuid(U2)]]),
        );
        row_error("Multicast_Group", "tunnel_key", json!(1));
    }

    #[test]
    fn malformed_rows_and_replies_are_refused() {
        let mut sb = SbTables::default();
        // Not an object.
        let e = sb.add_json_rows("Chassis", &[json!([1])]).unwrap_err();
        assert!(matches!(&e, ChassisError::Row { table, .. } if table == "Chassis"));
        // An unknown `_` member is refused; other unknown members are ignored.
        assert!(sb.add_json_rows("Chassis", &[json!({"_x": 1})]).is_err());
        sb.add_json_rows(
            "Chassis",
            &[json!({"newer_column": {"any": [1]}, "name": "c"})],
        )
        .unwrap();
        assert_eq!(sb.chassis.last().map(|c| c.name.as_str()), Some("c"));
        // Other tables are ignored.
        sb.add_json_rows("Encap", &[json!(5)]).unwrap();

        let err = |text: &str| SbTables::from_select_reply(text.as_bytes()).unwrap_err();
        for text in [
            "",
            "[",
            "{}",
            "null",
            "5",
            "[{\"rows\": [}]",
            "[{\"rows\": []}] x",
            "[\"x\"]",
            "[null]",
            "[{}]",
            "[{\"rows\": 5}]",
            "[{\"rows\": [5]}]",
            "[{\"rows\": [{\"name\": 5}]}]",
            "[{\"error\": \"boom\", \"details\": \"x\"}]",
            "[{\"rows\": [], \"error\": \"boom\"}]",
            "[{\"rows\": [{\"name\": \"\\ud800\"}]}]",
        ] {
            let e = err(text);
            assert!(!e.to_string().is_empty(), "{text}");
        }
        assert!(err("[{\"error\": \"boom\"}]")
            .to_string()
            .contains("Chassis"));
        assert!(err("[{\"rows\": [{\"name\": 5}]}]")
            .to_string()
            .contains("name"));
        // Any error member is an error, and so are rows given twice.
        err("[{\"rows\": [], \"error\": null}]");
        err("[{\"rows\": [], \"rows\": []}]");
    }

    #[test]
    fn kept_columns_are_columns_of_the_schema() {
        for t in SbTables::TABLES {
            let ts = ovn_sb::model::schema().table(t).unwrap();
            for c in SbTables::kept_columns(t).unwrap() {
                assert!(ts.column(c).is_some(), "{t}.{c}");
            }
        }
        assert!(SbTables::kept_columns("Encap").is_none());
    }

    #[test]
    fn uuids_parse_as_the_uuid_crate_does() {
        for s in [U1, U2, U3, "ffffffff-ffff-ffff-ffff-ffffffffffff"] {
            let model = AnyRow::from_json("Chassis", &json!({"_uuid": uuid(s)})).unwrap();
            let AnyRow::Chassis(c) = model else {
                unreachable!()
            };
            assert_eq!(parse_uuid(s), Some(c.uuid.uuid().as_u128()));
        }
        for s in [
            "",
            "00000000-0000-0000-0000-0000000000a",
            "00000000+0000-0000-0000-0000000000a1",
            "0000000g-0000-0000-0000-0000000000a1",
            "{00000000-0000-0000-0000-0000000000a1}",
        ] {
            assert_eq!(parse_uuid(s), None, "{s}");
        }
    }
}
