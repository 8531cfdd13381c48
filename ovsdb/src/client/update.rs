//! Parsing `<table-updates>` (monitor, RFC 7047) and `<table-updates2>` (monitor_cond and
//! monitor_cond_since, ovsdb-server(7)) into typed row operations, checked against the schema.
//!
//! Parsing is complete before anything is applied, so a malformed notification never leaves the
//! replica half-updated.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::{ClientError, Result};
use crate::atom::{parse_uuid_str, Atom, NoSymbols};
use crate::datum::Datum;
use crate::schema::{Schema, TableSchema};
use crate::types::{AtomicType, ColumnType};

/// Which notation a `<table-updates>` object uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateFormat {
    /// `monitor` / `update`: `{"old": row, "new": row}` with whole column values.
    V1,
    /// `monitor_cond[_since]` / `update2` / `update3`: `initial`, `insert`, `modify` (diffs), `delete`.
    V2,
}

/// What happens to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOp {
    /// The row appears; unnamed columns have their default values.
    Insert(Vec<(usize, Datum)>),
    /// The named columns take these whole values (monitor v1 modifications).
    Replace(Vec<(usize, Datum)>),
    /// The named columns change by these diffs (update2 `modify`).
    Modify(Vec<(usize, Datum)>),
    /// The row disappears.
    Delete,
}

/// The changes to one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableUpdate {
    /// Index of the table in the schema.
    pub table: usize,
    /// Row operations, by row UUID.
    pub rows: Vec<(Uuid, RowOp)>,
    /// Insert notices: rows inserted into a table whose inserts the replica does not hold
    /// ([`super::TableSelection::inserts`]), read as their UUIDs alone (a big transaction's
    /// notices take 16 bytes each, no row operation).
    pub notices: Vec<Uuid>,
}

/// A parsed `<table-updates>` / `<table-updates2>` object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    /// Per-table changes.
    pub tables: Vec<TableUpdate>,
}

impl Update {
    /// Number of row operations.
    pub fn row_count(&self) -> usize {
        self.tables
            .iter()
            .map(|t| t.rows.len() + t.notices.len())
            .sum()
    }

    /// Parses `json` for `schema` in `format`. `what` names the message in errors.
    pub fn parse(schema: &Schema, json: &Value, format: UpdateFormat, what: &str) -> Result<Self> {
        let bad = |d: String| ClientError::malformed(what, d);
        let obj = json
            .as_object()
            .ok_or_else(|| bad(format!("table updates must be an object, got {json}")))?;
        let mut tables = Vec::with_capacity(obj.len());
        for (tname, rows_json) in obj {
            let table = schema
                .table_index(tname)
                .ok_or_else(|| bad(format!("unknown table {tname}")))?;
            let ts = &schema.tables[table];
            let rows_obj = rows_json
                .as_object()
                .ok_or_else(|| bad(format!("table {tname}: row updates must be an object")))?;
            let mut rows = Vec::with_capacity(rows_obj.len());
            for (uuid_s, ru) in rows_obj {
                let uuid = parse_uuid_str(uuid_s)
                    .ok_or_else(|| bad(format!("table {tname}: \"{uuid_s}\" is not a UUID")))?;
                let op = match format {
                    UpdateFormat::V1 => parse_v1(ts, ru),
                    UpdateFormat::V2 => parse_v2(ts, ru),
                }
                .map_err(|d| bad(format!("table {tname} row {uuid_s}: {d}")))?;
                rows.push((uuid, op));
            }
            tables.push(TableUpdate {
                table,
                rows,
                notices: Vec::new(),
            });
        }
        Ok(Self { tables })
    }
}

impl Update {
    /// [`parse`](Self::parse) from the JSON text of the `<table-updates>` object, row by row:
    /// no JSON tree of the whole update is built (only one column value at a time).
    pub fn parse_slice(
        schema: &Schema,
        json: &[u8],
        format: UpdateFormat,
        what: &str,
    ) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let upd = UpdatesSeed {
            schema,
            format,
            notices: &[],
        }
        .deserialize(&mut de)
        .and_then(|u| de.end().map(|()| u))
        .map_err(|e| ClientError::malformed(what, e.to_string()))?;
        Ok(upd)
    }
}

/// The parts of a monitor notification's `params`, parsed from its JSON text.
#[derive(Debug)]
pub(crate) struct NotificationParams<T> {
    /// The monitor id (first parameter).
    pub(crate) id: String,
    /// `update3`'s last transaction id (second parameter).
    pub(crate) txn_id: Option<String>,
    /// The table updates, with what `pick` returned for the monitor id; `None` when `pick`
    /// returned `None` (the updates are skipped unparsed) or the parameter is missing.
    pub(crate) updates: Option<(T, Update)>,
}

/// Parses the `params` of an `update`, `update2` or `update3` notification (`method`) from
/// their JSON text: `[id, updates]`, or `[id, last-txn-id, updates]` for `update3`. `pick`
/// gives, for the monitor id, the schema to read the updates with (and a tag returned with
/// them, and the tables (schema indexes) whose inserts are insert notices:
/// [`MonitorSpec::insert_notices`](super::MonitorSpec)), or `None` to skip them. An insert into
/// a notice table is read as its UUID alone (the replica keeps nothing else of it), so that the
/// notices of a big transaction (hundreds of thousands of flows) cost no parsed columns.
pub(crate) fn parse_notification_params<'s, T>(
    method: &str,
    json: &[u8],
    pick: impl FnOnce(&str) -> Option<(T, &'s Schema, &'s [usize])>,
) -> Result<NotificationParams<T>> {
    let (format, with_txn) = match method {
        "update" => (UpdateFormat::V1, false),
        "update3" => (UpdateFormat::V2, true),
        _ => (UpdateFormat::V2, false),
    };
    let mut de = serde_json::Deserializer::from_slice(json);
    let seed = ParamsSeed {
        format,
        with_txn,
        pick,
    };
    seed.deserialize(&mut de)
        .and_then(|p| de.end().map(|()| p))
        .map_err(|e| ClientError::malformed(method, e.to_string()))
}

/// Parses a `monitor_cond_since` reply from its JSON text: `[found, last-txn-id, updates]`.
pub(crate) fn parse_cond_since_reply(
    schema: &Schema,
    json: &[u8],
    what: &str,
) -> Result<(bool, String, Update)> {
    let mut de = serde_json::Deserializer::from_slice(json);
    CondSinceSeed { schema }
        .deserialize(&mut de)
        .and_then(|p| de.end().map(|()| p))
        .map_err(|e| ClientError::malformed(what, e.to_string()))
}

struct ParamsSeed<F> {
    format: UpdateFormat,
    with_txn: bool,
    pick: F,
}

impl<'de, 's, T, F> DeserializeSeed<'de> for ParamsSeed<F>
where
    F: FnOnce(&str) -> Option<(T, &'s Schema, &'s [usize])>,
{
    type Value = NotificationParams<T>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, 's, T, F> Visitor<'de> for ParamsSeed<F>
where
    F: FnOnce(&str) -> Option<(T, &'s Schema, &'s [usize])>,
{
    type Value = NotificationParams<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("notification params (an array)")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        // A null id (no monitor id) reads as "".
        let id: Option<String> = seq.next_element::<Option<String>>()?.flatten();
        let id = id.unwrap_or_default();
        let txn_id = if self.with_txn {
            seq.next_element::<Option<String>>()?.flatten()
        } else {
            None
        };
        let updates = match (self.pick)(&id) {
            Some((tag, schema, notices)) => seq
                .next_element_seed(UpdatesSeed {
                    schema,
                    format: self.format,
                    notices,
                })?
                .map(|u| (tag, u)),
            None => {
                let _ = seq.next_element::<IgnoredAny>()?;
                None
            }
        };
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(NotificationParams {
            id,
            txn_id,
            updates,
        })
    }
}

struct CondSinceSeed<'a> {
    schema: &'a Schema,
}

impl<'de> DeserializeSeed<'de> for CondSinceSeed<'_> {
    type Value = (bool, String, Update);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CondSinceSeed<'_> {
    type Value = (bool, String, Update);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[found, last-txn-id, updates]")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let missing = || de::Error::custom("expected [found, last-txn-id, updates]");
        let found: bool = seq.next_element()?.ok_or_else(missing)?;
        let id: String = seq.next_element()?.ok_or_else(missing)?;
        let upd = seq
            .next_element_seed(UpdatesSeed {
                schema: self.schema,
                format: UpdateFormat::V2,
                notices: &[],
            })?
            .ok_or_else(missing)?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(missing());
        }
        Ok((found, id, upd))
    }
}

/// A string of the text: borrowed unless it has escapes (row UUIDs and column names, once per
/// row and column of a whole database, cost no allocation).
struct Text<'de>(std::borrow::Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(
                self,
                s: &'de str,
            ) -> std::result::Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(s)))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(s.to_owned())))
            }

            fn visit_string<E: de::Error>(self, s: String) -> std::result::Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// `<table-updates>`: table name to the rows' updates.
struct UpdatesSeed<'a> {
    schema: &'a Schema,
    format: UpdateFormat,
    /// Tables whose `insert`s are notices (see [`parse_notification_params`]).
    notices: &'a [usize],
}

impl<'de> DeserializeSeed<'de> for UpdatesSeed<'_> {
    type Value = Update;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UpdatesSeed<'_> {
    type Value = Update;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("table updates (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Update, A::Error> {
        let mut tables = Vec::new();
        while let Some(tname) = m.next_key::<String>()? {
            let table = self
                .schema
                .table_index(&tname)
                .ok_or_else(|| de::Error::custom(format!("unknown table {tname}")))?;
            let (rows, notices) = m.next_value_seed(RowsSeed {
                ts: &self.schema.tables[table],
                format: self.format,
                notices: self.notices.contains(&table),
            })?;
            tables.push(TableUpdate {
                table,
                rows,
                notices,
            });
        }
        Ok(Update { tables })
    }
}

/// One table's row updates: UUID to row update.
struct RowsSeed<'a> {
    ts: &'a TableSchema,
    format: UpdateFormat,
    /// The table's `insert`s are notices: read as the UUID alone.
    notices: bool,
}

/// A table's row operations and insert notices.
type TableRows = (Vec<(Uuid, RowOp)>, Vec<Uuid>);

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = TableRows;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = TableRows;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}: row updates (an object)", self.ts.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
        let tname = &self.ts.name;
        let mut rows = Vec::new();
        let mut notices = Vec::new();
        while let Some(Text(uuid_s)) = m.next_key::<Text<'de>>()? {
            let uuid = parse_uuid_str(&uuid_s).ok_or_else(|| {
                de::Error::custom(format!("table {tname}: \"{uuid_s}\" is not a UUID"))
            })?;
            let op = m
                .next_value_seed(RowUpdateSeed {
                    ts: self.ts,
                    format: self.format,
                    notices: self.notices,
                })
                .map_err(|e| de::Error::custom(format!("table {tname} row {uuid_s}: {e}")))?;
            match op {
                RowOp::Insert(cols) if self.notices && cols.is_empty() => notices.push(uuid),
                op => rows.push((uuid, op)),
            }
        }
        rows.shrink_to_fit();
        notices.shrink_to_fit();
        Ok((rows, notices))
    }
}

/// One row update: `{"old": .., "new": ..}` (V1) or `{"<kind>": row}` (V2).
struct RowUpdateSeed<'a> {
    ts: &'a TableSchema,
    format: UpdateFormat,
    /// An `insert` is a notice: its columns are skipped.
    notices: bool,
}

impl<'de> DeserializeSeed<'de> for RowUpdateSeed<'_> {
    type Value = RowOp;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowUpdateSeed<'_> {
    type Value = RowOp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row update (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<RowOp, A::Error> {
        let row = |diff| RowSeed { ts: self.ts, diff };
        match self.format {
            UpdateFormat::V1 => {
                let (mut old, mut new) = (false, None);
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "old" => {
                            m.next_value::<IgnoredAny>()?;
                            old = true;
                        }
                        "new" => new = Some(m.next_value_seed(row(false))?),
                        _ => return Err(de::Error::custom(format!("unexpected member \"{k}\""))),
                    }
                }
                Ok(match (old, new) {
                    (_, None) => RowOp::Delete,
                    (false, Some(cols)) => RowOp::Insert(cols),
                    (true, Some(cols)) => RowOp::Replace(cols),
                })
            }
            UpdateFormat::V2 => {
                let Some(Text(kind)) = m.next_key::<Text<'de>>()? else {
                    return Err(de::Error::custom(
                        "row update must have exactly one member, has 0",
                    ));
                };
                let op = match &*kind {
                    "insert" if self.notices => {
                        m.next_value::<IgnoredAny>()?;
                        RowOp::Insert(Vec::new())
                    }
                    "initial" | "insert" => RowOp::Insert(m.next_value_seed(row(false))?),
                    "modify" => RowOp::Modify(m.next_value_seed(row(true))?),
                    "delete" => {
                        m.next_value::<IgnoredAny>()?;
                        RowOp::Delete
                    }
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown row update kind \"{other}\""
                        )))
                    }
                };
                if m.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("row update must have exactly one member"));
                }
                Ok(op)
            }
        }
    }
}

/// A row's columns: name to value (or, with `diff`, an update2 diff).
struct RowSeed<'a> {
    ts: &'a TableSchema,
    diff: bool,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Vec<(usize, Datum)>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Vec<(usize, Datum)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(m.size_hint().unwrap_or(0));
        while let Some(Text(cname)) = m.next_key::<Text<'de>>()? {
            let col = self
                .ts
                .column(&cname)
                .ok_or_else(|| de::Error::custom(format!("unknown column {cname}")))?;
            // Read straight into a datum, as `parse_datum` reads the column's JSON value.
            let d = m
                .next_value_seed(DatumSeed {
                    ty: &col.type_,
                    diff: self.diff,
                })
                .map_err(|e| de::Error::custom(format!("column {cname}: {e}")))?;
            out.push((col.index, d));
        }
        // The whole update is parsed before it is applied: a big one (the echo of a big
        // transaction) would otherwise hold the room the vector grew by, up to as much again.
        out.shrink_to_fit();
        Ok(out)
    }
}

/// One atom of type `atomic`, read from the text as [`Atom::from_json_unchecked`] reads its
/// JSON value (no named UUIDs).
#[derive(Clone, Copy)]
struct AtomSeed(AtomicType);

fn atom_from_i64<E: de::Error>(atomic: AtomicType, i: i64) -> std::result::Result<Atom, E> {
    match atomic {
        AtomicType::Integer => Ok(Atom::Integer(i)),
        AtomicType::Real => Ok(Atom::Real(i as f64)),
        other => Err(E::custom(format!("expected {}", other.name()))),
    }
}

fn atom_from_u64<E: de::Error>(atomic: AtomicType, u: u64) -> std::result::Result<Atom, E> {
    match atomic {
        AtomicType::Integer => i64::try_from(u)
            .map(Atom::Integer)
            .map_err(|_| E::custom("expected integer")),
        AtomicType::Real => Ok(Atom::Real(u as f64)),
        other => Err(E::custom(format!("expected {}", other.name()))),
    }
}

fn atom_from_f64<E: de::Error>(atomic: AtomicType, f: f64) -> std::result::Result<Atom, E> {
    // 2^63: the first integral double beyond i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match atomic {
        AtomicType::Integer if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) => {
            Ok(Atom::Integer(f as i64))
        }
        AtomicType::Real if f.is_finite() => Ok(Atom::Real(f)),
        other => Err(E::custom(format!("expected {}", other.name()))),
    }
}

fn atom_from_str<E: de::Error>(atomic: AtomicType, s: &str) -> std::result::Result<Atom, E> {
    match atomic {
        AtomicType::String => Ok(Atom::String(s.into())),
        other => Err(E::custom(format!("expected {}", other.name()))),
    }
}

fn atom_from_bool<E: de::Error>(atomic: AtomicType, b: bool) -> std::result::Result<Atom, E> {
    match atomic {
        AtomicType::Boolean => Ok(Atom::Boolean(b)),
        other => Err(E::custom(format!("expected {}", other.name()))),
    }
}

/// The rest of `["uuid", "<uuid>"]` once its first element (`kind`) is read.
fn uuid_rest<'de, A: SeqAccess<'de>>(
    kind: &str,
    seq: &mut A,
) -> std::result::Result<Atom, A::Error> {
    let bad = || de::Error::custom("expected [\"uuid\", <string>] or [\"named-uuid\", <string>]");
    let Some(Text(s)) = seq.next_element::<Text<'de>>()? else {
        return Err(bad());
    };
    if seq.next_element::<IgnoredAny>()?.is_some() {
        return Err(bad());
    }
    match kind {
        "uuid" => parse_uuid_str(&s)
            .map(Atom::Uuid)
            .ok_or_else(|| de::Error::custom(format!("\"{s}\" is not a valid UUID"))),
        "named-uuid" => Err(de::Error::custom(format!(
            "named-uuid \"{s}\" not allowed here"
        ))),
        _ => Err(bad()),
    }
}

impl<'de> DeserializeSeed<'de> for AtomSeed {
    type Value = Atom;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AtomSeed {
    type Value = Atom;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.name())
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<Atom, E> {
        atom_from_bool(self.0, b)
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> std::result::Result<Atom, E> {
        atom_from_i64(self.0, i)
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> std::result::Result<Atom, E> {
        atom_from_u64(self.0, u)
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> std::result::Result<Atom, E> {
        atom_from_f64(self.0, f)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Atom, E> {
        atom_from_str(self.0, s)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Atom, A::Error> {
        let kind = seq.next_element::<Text<'de>>()?;
        match (self.0, kind) {
            (AtomicType::Uuid, Some(Text(kind))) => uuid_rest(&kind, &mut seq),
            _ => Err(de::Error::custom(format!("expected {}", self.0.name()))),
        }
    }
}

/// A column value (or, with `diff`, an update2 diff) read from the text as [`parse_datum`]
/// reads its JSON value, without a JSON tree of it.
struct DatumSeed<'a> {
    ty: &'a ColumnType,
    diff: bool,
}

impl DatumSeed<'_> {
    fn scalar<E: de::Error>(
        &self,
        atom: std::result::Result<Atom, E>,
    ) -> std::result::Result<Datum, E> {
        if self.ty.is_map() {
            return Err(E::custom("expected [\"map\", ...]"));
        }
        atom.map(Datum::scalar)
    }
}

impl<'de> DeserializeSeed<'de> for DatumSeed<'_> {
    type Value = Datum;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DatumSeed<'_> {
    type Value = Datum;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a datum")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<Datum, E> {
        self.scalar(atom_from_bool(self.ty.key.atomic, b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> std::result::Result<Datum, E> {
        self.scalar(atom_from_i64(self.ty.key.atomic, i))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> std::result::Result<Datum, E> {
        self.scalar(atom_from_u64(self.ty.key.atomic, u))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> std::result::Result<Datum, E> {
        self.scalar(atom_from_f64(self.ty.key.atomic, f))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Datum, E> {
        self.scalar(atom_from_str(self.ty.key.atomic, s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Datum, A::Error> {
        let ty = self.ty;
        let class = if ty.is_map() { "map" } else { "set" };
        let Some(Text(kind)) = seq.next_element::<Text<'de>>()? else {
            return Err(de::Error::custom(format!("expected {class}")));
        };
        if *kind != *class {
            // Not `["set", ...]`: a scalar UUID (`["uuid", ...]`), or an error.
            return match ty.key.atomic {
                AtomicType::Uuid if !ty.is_map() => uuid_rest(&kind, &mut seq).map(Datum::scalar),
                _ if ty.is_map() => Err(de::Error::custom("expected [\"map\", ...]")),
                other => Err(de::Error::custom(format!("expected {}", other.name()))),
            };
        }
        let datum = match &ty.value {
            None => {
                let atoms = seq
                    .next_element_seed(AtomsSeed(ty.key.atomic))?
                    .ok_or_else(|| de::Error::custom(format!("expected {class}")))?;
                if !self.diff && (atoms.len() as u64) > ty.max {
                    return Err(de::Error::custom(format!(
                        "{} elements exceed the column's maximum {}",
                        atoms.len(),
                        ty.max
                    )));
                }
                Datum::set_from_vec(atoms).map_err(de::Error::custom)?
            }
            Some(vt) => {
                let pairs = seq
                    .next_element_seed(PairsSeed(ty.key.atomic, vt.atomic))?
                    .ok_or_else(|| de::Error::custom(format!("expected {class}")))?;
                if !self.diff && (pairs.len() as u64) > ty.max {
                    return Err(de::Error::custom(format!(
                        "{} elements exceed the column's maximum {}",
                        pairs.len(),
                        ty.max
                    )));
                }
                Datum::map_from_vec(pairs).map_err(de::Error::custom)?
            }
        };
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(format!("expected {class}")));
        }
        Ok(datum)
    }
}

/// The elements of a `["set", [...]]`.
struct AtomsSeed(AtomicType);

impl<'de> DeserializeSeed<'de> for AtomsSeed {
    type Value = Vec<Atom>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for AtomsSeed {
    type Value = Vec<Atom>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("set contents (an array)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Vec<Atom>, A::Error> {
        let mut atoms = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(a) = seq.next_element_seed(AtomSeed(self.0))? {
            atoms.push(a);
        }
        // The vector becomes the datum's storage, kept as long as the row: without the room
        // it grew by (the text gives no count, so it doubled as it went). A single atom is
        // held inline instead.
        if atoms.len() > 1 {
            atoms.shrink_to_fit();
        }
        Ok(atoms)
    }
}

/// The pairs of a `["map", [[k, v], ...]]`.
struct PairsSeed(AtomicType, AtomicType);

impl<'de> DeserializeSeed<'de> for PairsSeed {
    type Value = Vec<(Atom, Atom)>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PairsSeed {
    type Value = Vec<(Atom, Atom)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("map contents (an array)")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Vec<(Atom, Atom)>, A::Error> {
        let mut pairs = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(p) = seq.next_element_seed(PairSeed(self.0, self.1))? {
            pairs.push(p);
        }
        // As for sets: the vector is kept as the datum's storage.
        pairs.shrink_to_fit();
        Ok(pairs)
    }
}

/// One `[k, v]` of a map.
struct PairSeed(AtomicType, AtomicType);

impl<'de> DeserializeSeed<'de> for PairSeed {
    type Value = (Atom, Atom);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PairSeed {
    type Value = (Atom, Atom);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("map pair must be a 2-element array")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(Atom, Atom), A::Error> {
        let bad = || de::Error::custom("map pair must be a 2-element array");
        let k = seq.next_element_seed(AtomSeed(self.0))?.ok_or_else(bad)?;
        let v = seq.next_element_seed(AtomSeed(self.1))?.ok_or_else(bad)?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(bad());
        }
        Ok((k, v))
    }
}

fn parse_v1(ts: &TableSchema, ru: &Value) -> Result<RowOp, String> {
    let o = ru.as_object().ok_or("row update must be an object")?;
    if let Some(k) = o.keys().find(|k| *k != "old" && *k != "new") {
        return Err(format!("unexpected member \"{k}\""));
    }
    match (o.get("old"), o.get("new")) {
        (_, None) => Ok(RowOp::Delete),
        (None, Some(new)) => Ok(RowOp::Insert(parse_row(ts, new, false)?)),
        (Some(_), Some(new)) => Ok(RowOp::Replace(parse_row(ts, new, false)?)),
    }
}

fn parse_v2(ts: &TableSchema, ru: &Value) -> Result<RowOp, String> {
    let o = ru.as_object().ok_or("row update must be an object")?;
    if o.len() != 1 {
        return Err(format!(
            "row update must have exactly one member, has {}",
            o.len()
        ));
    }
    let Some((kind, body)) = o.iter().next() else {
        return Err("empty row update".into());
    };
    match kind.as_str() {
        "initial" | "insert" => Ok(RowOp::Insert(parse_row(ts, body, false)?)),
        "modify" => Ok(RowOp::Modify(parse_row(ts, body, true)?)),
        "delete" => Ok(RowOp::Delete),
        other => Err(format!("unknown row update kind \"{other}\"")),
    }
}

fn parse_row(ts: &TableSchema, row: &Value, diff: bool) -> Result<Vec<(usize, Datum)>, String> {
    let o: &Map<String, Value> = row.as_object().ok_or("row must be an object")?;
    let mut out = Vec::with_capacity(o.len());
    for (cname, v) in o {
        let col = ts
            .column(cname)
            .ok_or_else(|| format!("unknown column {cname}"))?;
        let d = parse_datum(v, &col.type_, diff).map_err(|e| format!("column {cname}: {e}"))?;
        out.push((col.index, d));
    }
    Ok(out)
}

/// Parses a column value (or, with `diff`, an update2 diff) without the schema's constraint and
/// size checks: the server already enforced them, and a diff may exceed the column's size bounds.
pub fn parse_datum(v: &Value, ty: &ColumnType, diff: bool) -> Result<Datum, String> {
    let class = if ty.is_map() { "map" } else { "set" };
    let tagged = matches!(v, Value::Array(a) if a.len() == 2 && a[0].as_str() == Some(class));
    if !tagged {
        if ty.is_map() {
            return Err(format!("expected [\"map\", ...], got {v}"));
        }
        let a = Atom::from_json_unchecked(v, ty.key.atomic, &mut NoSymbols)
            .map_err(|e| e.to_string())?;
        return Ok(Datum::scalar(a));
    }
    let inner = match v {
        Value::Array(a) => a[1]
            .as_array()
            .ok_or_else(|| format!("{class} contents must be an array"))?,
        _ => return Err(format!("expected {class}")),
    };
    if !diff && (inner.len() as u64) > ty.max {
        return Err(format!(
            "{} elements exceed the column's maximum {}",
            inner.len(),
            ty.max
        ));
    }
    match &ty.value {
        None => {
            let mut atoms = Vec::with_capacity(inner.len());
            for e in inner {
                atoms.push(
                    Atom::from_json_unchecked(e, ty.key.atomic, &mut NoSymbols)
                        .map_err(|e| e.to_string())?,
                );
            }
            Datum::set_from_vec(atoms).map_err(|e| e.to_string())
        }
        Some(vt) => {
            let mut pairs = Vec::with_capacity(inner.len());
            for e in inner {
                let p = e
                    .as_array()
                    .filter(|p| p.len() == 2)
                    .ok_or("map pair must be a 2-element array")?;
                let k = Atom::from_json_unchecked(&p[0], ty.key.atomic, &mut NoSymbols)
                    .map_err(|e| e.to_string())?;
                let val = Atom::from_json_unchecked(&p[1], vt.atomic, &mut NoSymbols)
                    .map_err(|e| e.to_string())?;
                pairs.push((k, val));
            }
            Datum::map_from_vec(pairs).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Parse time of a whole database as a monitor's first reply (`monitor_cond` updates):
    /// `OVSDB_BENCH_DUMP=FILE` (tables as `{table: [row...]}`, rows with `_uuid`, as
    /// `northd`'s scale test saves them), `OVSDB_BENCH_SCHEMA=FILE` (the database's schema).
    #[test]
    #[ignore = "benchmark: needs OVSDB_BENCH_DUMP and OVSDB_BENCH_SCHEMA"]
    fn bench_parse_initial_dump() {
        let (Ok(dump), Ok(schema)) = (
            std::env::var("OVSDB_BENCH_DUMP"),
            std::env::var("OVSDB_BENCH_SCHEMA"),
        ) else {
            eprintln!("skipped: set OVSDB_BENCH_DUMP and OVSDB_BENCH_SCHEMA");
            return;
        };
        let read = |p: &str| -> Value {
            serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json")
        };
        let schema = Schema::from_json(&read(&schema)).expect("schema");
        let mut updates = Map::new();
        // Every column value's text with its type, to time its parse alone.
        let mut values: Vec<(&ColumnType, String)> = Vec::new();
        for (table, rows) in read(&dump).as_object().expect("tables") {
            let ts = schema.table(table).expect("table");
            for row in rows.as_array().expect("rows") {
                for (c, v) in row.as_object().expect("row") {
                    if let Some(col) = ts.column(c).filter(|col| col.index >= 2) {
                        values.push((&col.type_, v.to_string()));
                    }
                }
            }
            let mut out = Map::new();
            for row in rows.as_array().expect("rows") {
                let mut cols = row.as_object().expect("row").clone();
                let uuid = cols.remove("_uuid").expect("_uuid");
                cols.remove("_version");
                let uuid = uuid[1].as_str().expect("uuid").to_owned();
                out.insert(uuid, json!({"initial": cols}));
            }
            updates.insert(table.clone(), Value::Object(out));
        }
        let text = serde_json::to_vec(&Value::Object(updates)).expect("text");
        // This thread's CPU time in ms (the first field of its schedstat, in ns).
        let cpu = || {
            std::fs::read_to_string("/proc/thread-self/schedstat")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
                .map_or(0.0, |ns| ns / 1e6)
        };
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = cpu();
            let u = Update::parse_slice(&schema, &text, UpdateFormat::V2, "bench").expect("parse");
            times.push(cpu() - t);
            std::hint::black_box(u);
        }
        times.sort_by(f64::total_cmp);
        eprintln!(
            "{} MB parsed: thread CPU ms {:?} (median {:.0})",
            text.len() >> 20,
            times.iter().map(|t| t.round()).collect::<Vec<_>>(),
            times[2]
        );
        // The column values alone: through a JSON tree and `parse_datum`, and straight.
        for round in 0..3 {
            let t = cpu();
            for (ty, v) in &values {
                let v: Value = serde_json::from_str(v).expect("json");
                std::hint::black_box(parse_datum(&v, ty, false).expect("datum"));
            }
            let tree = cpu() - t;
            let t = cpu();
            for (ty, v) in &values {
                let mut de = serde_json::Deserializer::from_str(v);
                let d = DatumSeed { ty, diff: false }.deserialize(&mut de);
                std::hint::black_box(d.expect("datum"));
            }
            let straight = cpu() - t;
            eprintln!(
                "round {round}: {} column values: JSON tree + parse_datum {tree:.0} ms, \
                 straight {straight:.0} ms",
                values.len()
            );
        }
    }

    /// The datum read straight from the text is the one `parse_datum` reads from the JSON
    /// value, and both reject the same values.
    #[test]
    fn datums_read_from_text_as_from_json() {
        let types = [
            json!("string"),
            json!("integer"),
            json!("real"),
            json!("boolean"),
            json!("uuid"),
            json!({"key": "string", "min": 0, "max": 1}),
            json!({"key": "uuid", "min": 0, "max": "unlimited"}),
            json!({"key": "integer", "min": 0, "max": 2}),
            json!({"key": "real", "min": 0, "max": "unlimited"}),
            json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"}),
            json!({"key": "integer", "value": "uuid", "min": 0, "max": "unlimited"}),
        ];
        let values = [
            json!("a"),
            json!(""),
            json!(7),
            json!(-7),
            json!(18446744073709551615u64),
            json!(2.0),
            json!(2.5),
            json!(true),
            json!(["uuid", "0b8f2a46-9d4f-4b8e-8f5e-2f0f7d4c8a11"]),
            json!(["uuid", "not-a-uuid"]),
            json!(["named-uuid", "x"]),
            json!(["set", []]),
            json!(["set", ["b", "a"]]),
            json!(["set", ["a", "a"]]),
            json!(["set", [1, 2, 3]]),
            json!(["set", [1.5, 2]]),
            json!(["set", [["uuid", "0b8f2a46-9d4f-4b8e-8f5e-2f0f7d4c8a11"]]]),
            json!(["set", "a"]),
            json!(["set", ["a"], 1]),
            json!(["set"]),
            json!(["map", []]),
            json!(["map", [["k", "v"], ["a", "b"]]]),
            json!(["map", [["k", "v"], ["k", "w"]]]),
            json!([
                "map",
                [[1, ["uuid", "0b8f2a46-9d4f-4b8e-8f5e-2f0f7d4c8a11"]]]
            ]),
            json!(["map", [["k"]]]),
            json!(["map", [["k", "v", "w"]]]),
            json!(null),
            json!({"a": 1}),
        ];
        for t in &types {
            let ty = ColumnType::from_json(t).expect("type");
            for v in &values {
                for diff in [false, true] {
                    let want = parse_datum(v, &ty, diff).ok();
                    let text = v.to_string();
                    let mut de = serde_json::Deserializer::from_str(&text);
                    let got = DatumSeed { ty: &ty, diff }.deserialize(&mut de).ok();
                    assert_eq!(got, want, "type {t}, value {v}, diff {diff}");
                }
            }
        }
    }
}
