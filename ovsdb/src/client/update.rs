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
use crate::types::ColumnType;

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
        while let Some(uuid_s) = m.next_key::<String>()? {
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
                let Some(kind) = m.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "row update must have exactly one member, has 0",
                    ));
                };
                let op = match kind.as_str() {
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
        while let Some(cname) = m.next_key::<String>()? {
            let col = self
                .ts
                .column(&cname)
                .ok_or_else(|| de::Error::custom(format!("unknown column {cname}")))?;
            // One column's value as a (small) tree at a time.
            let v: Value = m.next_value()?;
            let d = parse_datum(&v, &col.type_, self.diff)
                .map_err(|e| de::Error::custom(format!("column {cname}: {e}")))?;
            out.push((col.index, d));
        }
        // The whole update is parsed before it is applied: a big one (the echo of a big
        // transaction) would otherwise hold the room the vector grew by, up to as much again.
        out.shrink_to_fit();
        Ok(out)
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
