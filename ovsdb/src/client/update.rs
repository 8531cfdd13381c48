//! Parsing `<table-updates>` (monitor, RFC 7047) and `<table-updates2>` (monitor_cond and
//! monitor_cond_since, ovsdb-server(7)) into typed row operations, checked against the schema.
//!
//! Parsing is complete before anything is applied, so a malformed notification never leaves the
//! replica half-updated.

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
        self.tables.iter().map(|t| t.rows.len()).sum()
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
            tables.push(TableUpdate { table, rows });
        }
        Ok(Self { tables })
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
