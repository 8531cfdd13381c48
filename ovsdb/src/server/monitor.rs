//! Monitors: parsing `monitor`, `monitor_cond` and `monitor_cond_since` requests, and composing the
//! table updates ovsdb-server 3.1 sends for them.
//!
//! Shapes (checked against a real ovsdb-server 3.1):
//! - `update` (`monitor`): `{"new": row}` for an insert, `{"old": row}` for a delete, and for a modify
//!   `{"new": all monitored columns, "old": the changed monitored columns with their old values}`.
//!   Rows carry every monitored column, default values included.
//! - `update2`/`update3`: `{"initial": row}` / `{"insert": row}` with only the columns whose value is
//!   not the column's default, `{"delete": null}`, and `{"modify": diff}` with the changed monitored
//!   columns, each as a diff ([`datum_diff`]).
//! - A modify that changes no monitored column sends nothing; a row that enters a monitor's condition
//!   is an insert, one that leaves it is a delete.
//! - A `where` of a monitor matches a row when it is empty or when any one of its clauses holds
//!   (clauses are OR'ed, unlike in `transact`).
//! - Without `columns`, a monitor covers every column except `_uuid` (so `_version` is included).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::atom::{write_json_str, write_uuid, NoSymbols};
use crate::condition::Condition;
use crate::datum::Datum;
use crate::db::{ChangeSet, Database, Row};
use crate::error::Error;
use crate::schema::{Schema, TableSchema, COL_UUID};
use crate::types::ColumnType;

/// Which notification a monitor sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorVersion {
    /// `monitor` → `update`.
    V1,
    /// `monitor_cond` → `update2`.
    V2,
    /// `monitor_cond_since` → `update3`.
    V3,
}

impl MonitorVersion {
    /// The notification method name.
    pub fn method(self) -> &'static str {
        match self {
            Self::V1 => "update",
            Self::V2 => "update2",
            Self::V3 => "update3",
        }
    }
}

/// The `select` member of a monitor request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Select {
    pub(crate) initial: bool,
    pub(crate) insert: bool,
    pub(crate) delete: bool,
    pub(crate) modify: bool,
}

impl Select {
    const ALL: Self = Self {
        initial: true,
        insert: true,
        delete: true,
        modify: true,
    };
    const NONE: Self = Self {
        initial: false,
        insert: false,
        delete: false,
        modify: false,
    };

    fn or(self, o: Self) -> Self {
        Self {
            initial: self.initial || o.initial,
            insert: self.insert || o.insert,
            delete: self.delete || o.delete,
            modify: self.modify || o.modify,
        }
    }
}

/// What one monitor watches in one table.
#[derive(Debug, Clone)]
pub(crate) struct TableMonitor {
    pub(crate) table: usize,
    /// Monitored columns by index, ascending, without duplicates.
    pub(crate) columns: Vec<usize>,
    /// The `select` of the request naming each column of `columns` (same order): a row
    /// update of a kind carries only the columns whose request selects that kind, as
    /// ovsdb-server does (a table watched by two requests, one without inserts and one with
    /// a single column and inserts, gets only that column for an insert).
    pub(crate) column_select: Vec<Select>,
    /// Every kind some request selects.
    pub(crate) select: Select,
    /// Rows match when any condition holds; `None` matches every row.
    pub(crate) conditions: Option<Vec<Condition>>,
}

/// A kind of row update, as a request's `select` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Initial,
    Insert,
    Delete,
    Modify,
}

impl Select {
    fn has(self, k: Kind) -> bool {
        match k {
            Kind::Initial => self.initial,
            Kind::Insert => self.insert,
            Kind::Delete => self.delete,
            Kind::Modify => self.modify,
        }
    }
}

impl TableMonitor {
    /// The monitored columns an update of kind `k` carries (see `column_select`).
    fn columns_for(&self, k: Kind) -> std::borrow::Cow<'_, [usize]> {
        if self.column_select.iter().all(|s| s.has(k)) {
            return std::borrow::Cow::Borrowed(&self.columns);
        }
        self.columns
            .iter()
            .zip(&self.column_select)
            .filter(|(_, s)| s.has(k))
            .map(|(c, _)| *c)
            .collect()
    }

    fn matches(&self, ts: &TableSchema, row: &Row) -> bool {
        match &self.conditions {
            None => true,
            // Unlike `where` in transact, a monitor condition holds when it is empty or when
            // any of its clauses holds (ovsdb-server's "match any clause" rule).
            Some(cs) => cs.iter().any(|c| {
                c.clauses.is_empty() || c.clauses.iter().any(|cl| cl.evaluate(ts, &row.fields))
            }),
        }
    }
}

/// One monitor of one session.
#[derive(Debug, Clone)]
pub(crate) struct Monitor {
    pub(crate) db: usize,
    pub(crate) version: MonitorVersion,
    pub(crate) tables: Vec<TableMonitor>,
}

fn syntax(json: Option<&Value>, details: impl Into<String>) -> Error {
    Error::Syntax {
        details: details.into(),
        syntax: json.map(Value::to_string),
    }
}

/// Parses the `<monitor-requests>` object of a monitor request.
pub(crate) fn parse_requests(
    schema: &Schema,
    version: MonitorVersion,
    requests: &Value,
) -> Result<Vec<TableMonitor>, Error> {
    let Value::Object(obj) = requests else {
        return Err(syntax(Some(requests), "monitor requests must be an object"));
    };
    let mut out = Vec::new();
    for (name, reqs) in obj {
        let t = schema
            .table_index(name)
            .ok_or_else(|| syntax(None, format!("no table named {name}")))?;
        let ts = &schema.tables[t];
        let list: Vec<&Value> = match reqs {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        let mut tm = TableMonitor {
            table: t,
            columns: Vec::new(),
            column_select: Vec::new(),
            select: Select::NONE,
            conditions: Some(Vec::new()),
        };
        for req in list {
            let Value::Object(r) = req else {
                return Err(syntax(Some(req), "monitor request must be an object"));
            };
            for key in r.keys() {
                let ok = matches!(key.as_str(), "columns" | "select")
                    || (key == "where" && version != MonitorVersion::V1);
                if !ok {
                    return Err(syntax(
                        Some(req),
                        format!(
                            "Parsing table {name} failed: Member '{key}' is present but not \
                             allowed here."
                        ),
                    ));
                }
            }
            let cols: Vec<usize> = match r.get("columns") {
                None => (0..ts.columns.len()).filter(|&c| c != COL_UUID).collect(),
                Some(Value::Array(a)) => {
                    let mut v = Vec::with_capacity(a.len());
                    for c in a {
                        let idx = c.as_str().and_then(|s| ts.column_index(s)).ok_or_else(|| {
                            let n = c.as_str().map_or_else(|| c.to_string(), str::to_owned);
                            syntax(r.get("columns"), format!("{n} is not a valid column name"))
                        })?;
                        v.push(idx);
                    }
                    v
                }
                Some(other) => return Err(syntax(Some(other), "array of column names expected")),
            };
            for &c in &cols {
                if tm.columns.contains(&c) {
                    return Err(syntax(
                        None,
                        format!("column {} is mentioned more than once", ts.columns[c].name),
                    ));
                }
                tm.columns.push(c);
            }
            let select = match r.get("select") {
                None => Select::ALL,
                Some(Value::Object(s)) => {
                    let mut sel = Select::ALL;
                    for (k, v) in s {
                        let b = v
                            .as_bool()
                            .ok_or_else(|| syntax(Some(v), format!("\"{k}\" must be a boolean")))?;
                        match k.as_str() {
                            "initial" => sel.initial = b,
                            "insert" => sel.insert = b,
                            "delete" => sel.delete = b,
                            "modify" => sel.modify = b,
                            _ => return Err(syntax(Some(v), format!("unknown member \"{k}\""))),
                        }
                    }
                    sel
                }
                Some(other) => return Err(syntax(Some(other), "select must be an object")),
            };
            tm.select = tm.select.or(select);
            tm.column_select.extend(cols.iter().map(|_| select));
            push_condition(&mut tm, ts, r.get("where"))?;
        }
        let mut by_column: Vec<(usize, Select)> = tm
            .columns
            .iter()
            .copied()
            .zip(tm.column_select.iter().copied())
            .collect();
        by_column.sort_unstable_by_key(|(c, _)| *c);
        (tm.columns, tm.column_select) = by_column.into_iter().unzip();
        out.push(tm);
    }
    out.sort_by_key(|t| t.table);
    Ok(out)
}

/// Adds one request's `where` to the table monitor's disjunction (absent = every row).
fn push_condition(tm: &mut TableMonitor, ts: &TableSchema, w: Option<&Value>) -> Result<(), Error> {
    match w {
        None => tm.conditions = None,
        Some(Value::Array(clauses)) => {
            let c = Condition::from_json(ts, clauses, &mut NoSymbols)?;
            if let Some(cs) = &mut tm.conditions {
                cs.push(c);
            }
        }
        Some(other) => return Err(syntax(Some(other), "where must be an array")),
    }
    Ok(())
}

/// Parses the `<monitor-cond-update-requests>` of `monitor_cond_change` and returns the monitor's
/// tables with the new conditions.
pub(crate) fn parse_condition_change(
    schema: &Schema,
    current: &[TableMonitor],
    requests: &Value,
) -> Result<Vec<TableMonitor>, Error> {
    let Value::Object(obj) = requests else {
        return Err(syntax(
            Some(requests),
            "monitor condition requests must be an object",
        ));
    };
    let mut out = current.to_vec();
    for (name, reqs) in obj {
        let t = schema
            .table_index(name)
            .ok_or_else(|| syntax(None, format!("no table named {name}")))?;
        let ts = &schema.tables[t];
        let tm = out
            .iter_mut()
            .find(|m| m.table == t)
            .ok_or_else(|| syntax(None, format!("no table named {name} in monitor")))?;
        let list: Vec<&Value> = match reqs {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        tm.conditions = Some(Vec::new());
        for req in list {
            let Value::Object(r) = req else {
                return Err(syntax(Some(req), "monitor request must be an object"));
            };
            if r.contains_key("columns") {
                return Err(syntax(Some(req), "changing columns is not supported"));
            }
            push_condition(tm, ts, r.get("where"))?;
        }
    }
    Ok(out)
}

/// The diff between two values of a column, as ovsdb-server writes it in `update2` modifications and
/// in `_is_diff` file records: the new value for columns holding at most one element; the symmetric
/// difference for sets; for maps, removed pairs with their old value, added and changed pairs with
/// their new value.
pub fn datum_diff(old: &Datum, new: &Datum, ty: &ColumnType) -> Datum {
    if ty.max <= 1 {
        return new.clone();
    }
    match (old, new) {
        (Datum::Set(_), Datum::Set(_)) => {
            // The symmetric difference, in order (by one merge, or from the two versions'
            // deltas when they share storage).
            let mut out = Vec::new();
            old.for_each_difference(new, |x, _, _| out.push(x.clone()));
            Datum::Set(out.into())
        }
        (Datum::Map(a), Datum::Map(b)) => {
            let (a, b) = (a.as_slice(), b.as_slice());
            let mut out = Vec::new();
            let (mut i, mut j) = (0, 0);
            while i < a.len() || j < b.len() {
                match (a.get(i), b.get(j)) {
                    (Some(x), Some(y)) if x.0 == y.0 => {
                        if x.1 != y.1 {
                            out.push(y.clone());
                        }
                        i += 1;
                        j += 1;
                    }
                    (Some(x), Some(y)) if x.0 < y.0 => {
                        out.push(x.clone());
                        i += 1;
                    }
                    (Some(_), Some(y)) => {
                        out.push(y.clone());
                        j += 1;
                    }
                    (Some(x), None) => {
                        out.push(x.clone());
                        i += 1;
                    }
                    (None, Some(y)) => {
                        out.push(y.clone());
                        j += 1;
                    }
                    (None, None) => break,
                }
            }
            Datum::Map(out.into())
        }
        _ => new.clone(),
    }
}

/// Applies a diff made by [`datum_diff`] to `old`.
pub fn datum_apply_diff(old: &Datum, diff: &Datum, ty: &ColumnType) -> Datum {
    if ty.max <= 1 {
        return diff.clone();
    }
    match (old, diff) {
        (Datum::Set(a), Datum::Set(d)) => {
            // Symmetric difference is its own inverse.
            datum_diff(&Datum::Set(a.clone()), &Datum::Set(d.clone()), ty)
        }
        (Datum::Map(a), Datum::Map(d)) => {
            let mut m: std::collections::BTreeMap<_, _> = a.iter().cloned().collect();
            for (k, v) in d {
                match m.get(k) {
                    Some(old) if old == v => {
                        m.remove(k);
                    }
                    _ => {
                        m.insert(k.clone(), v.clone());
                    }
                }
            }
            Datum::Map(m.into_iter().collect())
        }
        _ => diff.clone(),
    }
}

fn row_json(ts: &TableSchema, row: &Row, cols: &[usize], skip_defaults: bool) -> Value {
    let mut m = Map::new();
    for &c in cols {
        let (Some(col), Some(d)) = (ts.columns.get(c), row.fields.get(c)) else {
            continue;
        };
        if skip_defaults && *d == ts.defaults()[c] {
            continue;
        }
        m.insert(col.name.clone(), d.to_json());
    }
    Value::Object(m)
}

/// One row's old and new state over some span of commits.
pub(crate) type RowDelta<'a> = (Uuid, Option<&'a Arc<Row>>, Option<&'a Arc<Row>>);

/// Composes the update of one row, or `None` when the monitor sends nothing for it.
pub(crate) fn row_update(
    version: MonitorVersion,
    tm: &TableMonitor,
    ts: &TableSchema,
    old: Option<&Row>,
    new: Option<&Row>,
    initial: bool,
) -> Option<Value> {
    let old_m = old.filter(|r| tm.matches(ts, r));
    let new_m = new.filter(|r| tm.matches(ts, r));
    let mut m = Map::new();
    match (old_m, new_m) {
        (None, None) => return None,
        (None, Some(n)) => {
            if (initial && !tm.select.initial) || (!initial && !tm.select.insert) {
                return None;
            }
            let cols = tm.columns_for(if initial { Kind::Initial } else { Kind::Insert });
            match version {
                MonitorVersion::V1 => {
                    m.insert("new".into(), row_json(ts, n, &cols, false));
                }
                _ => {
                    let key = if initial { "initial" } else { "insert" };
                    m.insert(key.into(), row_json(ts, n, &cols, true));
                }
            }
        }
        (Some(o), None) => {
            if !tm.select.delete {
                return None;
            }
            match version {
                MonitorVersion::V1 => {
                    let cols = tm.columns_for(Kind::Delete);
                    m.insert("old".into(), row_json(ts, o, &cols, false));
                }
                _ => {
                    m.insert("delete".into(), Value::Null);
                }
            }
        }
        (Some(o), Some(n)) => {
            if !tm.select.modify {
                return None;
            }
            let cols = tm.columns_for(Kind::Modify);
            let changed: Vec<usize> = cols
                .iter()
                .copied()
                .filter(|&c| o.fields.get(c) != n.fields.get(c))
                .collect();
            if changed.is_empty() {
                return None;
            }
            match version {
                MonitorVersion::V1 => {
                    m.insert("new".into(), row_json(ts, n, &cols, false));
                    m.insert("old".into(), row_json(ts, o, &changed, false));
                }
                _ => {
                    let mut d = Map::new();
                    for c in changed {
                        if let (Some(col), Some(od), Some(nd)) =
                            (ts.columns.get(c), o.fields.get(c), n.fields.get(c))
                        {
                            d.insert(col.name.clone(), datum_diff(od, nd, &col.type_).to_json());
                        }
                    }
                    m.insert("modify".into(), Value::Object(d));
                }
            }
        }
    }
    Some(Value::Object(m))
}

/// [`row_json`], written as compact JSON text.
fn write_row_json(
    out: &mut Vec<u8>,
    ts: &TableSchema,
    row: &Row,
    cols: &[usize],
    skip_defaults: bool,
) {
    out.push(b'{');
    let mut first = true;
    for &c in cols {
        let (Some(col), Some(d)) = (ts.columns.get(c), row.fields.get(c)) else {
            continue;
        };
        if skip_defaults && *d == ts.defaults()[c] {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_json_str(out, &col.name);
        out.push(b':');
        d.write_json(out);
    }
    out.push(b'}');
}

/// [`row_update`] for a commit (not an initial dump), written as compact JSON text after
/// `"UUID":`; returns false, with nothing written, when the monitor sends nothing for the row.
fn write_row_update(
    out: &mut Vec<u8>,
    version: MonitorVersion,
    tm: &TableMonitor,
    ts: &TableSchema,
    uuid: &Uuid,
    old: Option<&Row>,
    new: Option<&Row>,
) -> bool {
    let start = out.len();
    let key = |out: &mut Vec<u8>| {
        out.push(b'"');
        write_uuid(out, uuid);
        out.extend_from_slice(b"\":{");
    };
    let old_m = old.filter(|r| tm.matches(ts, r));
    let new_m = new.filter(|r| tm.matches(ts, r));
    match (old_m, new_m) {
        (None, None) => return false,
        (None, Some(n)) => {
            if !tm.select.insert {
                return false;
            }
            key(out);
            let cols = tm.columns_for(Kind::Insert);
            match version {
                MonitorVersion::V1 => {
                    out.extend_from_slice(b"\"new\":");
                    write_row_json(out, ts, n, &cols, false);
                }
                _ => {
                    out.extend_from_slice(b"\"insert\":");
                    write_row_json(out, ts, n, &cols, true);
                }
            }
        }
        (Some(o), None) => {
            if !tm.select.delete {
                return false;
            }
            key(out);
            match version {
                MonitorVersion::V1 => {
                    out.extend_from_slice(b"\"old\":");
                    write_row_json(out, ts, o, &tm.columns_for(Kind::Delete), false);
                }
                _ => out.extend_from_slice(b"\"delete\":null"),
            }
        }
        (Some(o), Some(n)) => {
            if !tm.select.modify {
                return false;
            }
            let cols = tm.columns_for(Kind::Modify);
            let changed: Vec<usize> = cols
                .iter()
                .copied()
                .filter(|&c| o.fields.get(c) != n.fields.get(c))
                .collect();
            if changed.is_empty() {
                return false;
            }
            key(out);
            match version {
                MonitorVersion::V1 => {
                    out.extend_from_slice(b"\"new\":");
                    write_row_json(out, ts, n, &cols, false);
                    out.extend_from_slice(b",\"old\":");
                    write_row_json(out, ts, o, &changed, false);
                }
                _ => {
                    out.extend_from_slice(b"\"modify\":{");
                    let mut first = true;
                    for c in changed {
                        if let (Some(col), Some(od), Some(nd)) =
                            (ts.columns.get(c), o.fields.get(c), n.fields.get(c))
                        {
                            if !first {
                                out.push(b',');
                            }
                            first = false;
                            write_json_str(out, &col.name);
                            out.push(b':');
                            datum_diff(od, nd, &col.type_).write_json(out);
                        }
                    }
                    out.push(b'}');
                }
            }
        }
    }
    debug_assert!(out.len() > start);
    out.push(b'}');
    true
}

impl Monitor {
    /// The initial contents (the reply to the monitor request) as a JSON tree; the server sends
    /// [`initial_encoded`](Self::initial_encoded), this is its test oracle.
    #[cfg(test)]
    pub(crate) fn initial(&self, db: &Database) -> Value {
        let schema = db.schema();
        let mut out = Map::new();
        for tm in &self.tables {
            if !tm.select.initial {
                continue;
            }
            let ts = &schema.tables[tm.table];
            let Some(rows) = db.rows_by_index(tm.table) else {
                continue;
            };
            let mut t = Map::new();
            for (uuid, row) in rows {
                if let Some(u) = row_update(self.version, tm, ts, None, Some(row), true) {
                    t.insert(uuid.to_string(), u);
                }
            }
            if !t.is_empty() {
                out.insert(ts.name.clone(), Value::Object(t));
            }
        }
        Value::Object(out)
    }

    /// A key identifying what [`initial`](Self::initial) returns for a given database state.
    pub(crate) fn cache_key(&self) -> String {
        format!("{:?}|{:?}", self.version, self.tables)
    }

    /// [`initial`](Self::initial), encoded as compact JSON without building a JSON tree.
    pub(crate) fn initial_encoded(&self, db: &Database) -> Vec<u8> {
        let schema = db.schema();
        let mut out = Vec::with_capacity(1024);
        out.push(b'{');
        let mut first_table = true;
        for tm in &self.tables {
            if !tm.select.initial {
                continue;
            }
            let ts = &schema.tables[tm.table];
            let Some(rows) = db.rows_by_index(tm.table) else {
                continue;
            };
            let initial_cols = tm.columns_for(Kind::Initial);
            let mut first_row = true;
            for (uuid, row) in rows {
                if !tm.matches(ts, row) {
                    continue;
                }
                if first_row {
                    if !first_table {
                        out.push(b',');
                    }
                    first_table = false;
                    write_json_str(&mut out, &ts.name);
                    out.extend_from_slice(b":{");
                } else {
                    out.push(b',');
                }
                first_row = false;
                out.push(b'"');
                write_uuid(&mut out, uuid);
                let tag: &[u8] = match self.version {
                    MonitorVersion::V1 => b"\":{\"new\":{",
                    _ => b"\":{\"initial\":{",
                };
                out.extend_from_slice(tag);
                let mut first_col = true;
                for &c in initial_cols.iter() {
                    let (Some(col), Some(d)) = (ts.columns.get(c), row.fields.get(c)) else {
                        continue;
                    };
                    if self.version != MonitorVersion::V1 && *d == ts.defaults()[c] {
                        continue;
                    }
                    if !first_col {
                        out.push(b',');
                    }
                    first_col = false;
                    write_json_str(&mut out, &col.name);
                    out.push(b':');
                    d.write_json(&mut out);
                }
                out.extend_from_slice(b"}}");
            }
            if !first_row {
                out.push(b'}');
            }
        }
        out.push(b'}');
        out
    }

    /// The table updates for one commit, or `None` when nothing monitored changed; the server
    /// sends [`write_updates`](Self::write_updates), this is its test oracle.
    #[cfg(test)]
    pub(crate) fn updates(&self, schema: &Schema, changes: &ChangeSet) -> Option<Value> {
        let mut out = Map::new();
        for tc in &changes.tables {
            let Some(tm) = self.tables.iter().find(|t| t.table == tc.table) else {
                continue;
            };
            let ts = &schema.tables[tc.table];
            let mut t = Map::new();
            for rc in &tc.rows {
                if let Some(u) = row_update(
                    self.version,
                    tm,
                    ts,
                    rc.old.as_deref(),
                    rc.new.as_deref(),
                    false,
                ) {
                    t.insert(rc.uuid.to_string(), u);
                }
            }
            if !t.is_empty() {
                out.insert(ts.name.clone(), Value::Object(t));
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }

    /// [`updates`](Self::updates) as compact JSON text appended to `out`, without building a
    /// JSON tree; returns false, with nothing appended, when nothing monitored changed.
    pub(crate) fn write_updates(
        &self,
        schema: &Schema,
        changes: &ChangeSet,
        out: &mut Vec<u8>,
    ) -> bool {
        let start = out.len();
        out.push(b'{');
        let mut first_table = true;
        for tc in &changes.tables {
            let Some(tm) = self.tables.iter().find(|t| t.table == tc.table) else {
                continue;
            };
            let ts = &schema.tables[tc.table];
            let table_start = out.len();
            if !first_table {
                out.push(b',');
            }
            write_json_str(out, &ts.name);
            out.extend_from_slice(b":{");
            let mut first_row = true;
            for rc in &tc.rows {
                let row_start = out.len();
                if !first_row {
                    out.push(b',');
                }
                if write_row_update(
                    out,
                    self.version,
                    tm,
                    ts,
                    &rc.uuid,
                    rc.old.as_deref(),
                    rc.new.as_deref(),
                ) {
                    first_row = false;
                } else {
                    out.truncate(row_start);
                }
            }
            if first_row {
                out.truncate(table_start);
            } else {
                out.push(b'}');
                first_table = false;
            }
        }
        if first_table {
            out.truncate(start);
            return false;
        }
        out.push(b'}');
        true
    }

    /// The table updates for several consecutive commits, merged per row (first old, last new).
    pub(crate) fn merged_updates(&self, schema: &Schema, commits: &[Arc<ChangeSet>]) -> Value {
        let mut merged: HashMap<usize, Vec<RowDelta<'_>>> = HashMap::new();
        let mut pos: HashMap<(usize, Uuid), usize> = HashMap::new();
        for cs in commits {
            for tc in &cs.tables {
                if !self.tables.iter().any(|t| t.table == tc.table) {
                    continue;
                }
                let list = merged.entry(tc.table).or_default();
                for rc in &tc.rows {
                    match pos.get(&(tc.table, rc.uuid)) {
                        Some(&i) => list[i].2 = rc.new.as_ref(),
                        None => {
                            pos.insert((tc.table, rc.uuid), list.len());
                            list.push((rc.uuid, rc.old.as_ref(), rc.new.as_ref()));
                        }
                    }
                }
            }
        }
        let mut out = Map::new();
        for tm in &self.tables {
            let Some(list) = merged.get(&tm.table) else {
                continue;
            };
            let ts = &schema.tables[tm.table];
            let mut t = Map::new();
            for (uuid, old, new) in list {
                if let Some(u) = row_update(
                    self.version,
                    tm,
                    ts,
                    old.map(|r| &**r),
                    new.map(|r| &**r),
                    false,
                ) {
                    t.insert(uuid.to_string(), u);
                }
            }
            if !t.is_empty() {
                out.insert(ts.name.clone(), Value::Object(t));
            }
        }
        Value::Object(out)
    }

    /// The updates a condition change causes: rows leaving the condition are deleted, rows entering
    /// it inserted. `self` holds the old conditions.
    pub(crate) fn condition_change_updates(&self, db: &Database, new: &[TableMonitor]) -> Value {
        let schema = db.schema();
        let mut out = Map::new();
        for (old_tm, new_tm) in self.tables.iter().zip(new) {
            let ts = &schema.tables[old_tm.table];
            let Some(rows) = db.rows_by_index(old_tm.table) else {
                continue;
            };
            let mut t = Map::new();
            for (uuid, row) in rows {
                let was = old_tm.matches(ts, row);
                let is = new_tm.matches(ts, row);
                let u = match (was, is) {
                    (true, false) => row_update(self.version, old_tm, ts, Some(row), None, false),
                    (false, true) => row_update(self.version, new_tm, ts, None, Some(row), false),
                    _ => None,
                };
                if let Some(u) = u {
                    t.insert(uuid.to_string(), u);
                }
            }
            if !t.is_empty() {
                out.insert(ts.name.clone(), Value::Object(t));
            }
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::Atom;
    use crate::types::AtomicType;

    fn s(x: &str) -> Atom {
        Atom::String(x.into())
    }

    #[test]
    fn diff_and_apply_are_inverse() {
        let set_ty = ColumnType {
            min: 0,
            max: u64::MAX,
            ..ColumnType::scalar(AtomicType::String)
        };
        let a = Datum::Set(vec![s("a"), s("b")].into());
        let b = Datum::Set(vec![s("b"), s("c")].into());
        let d = datum_diff(&a, &b, &set_ty);
        assert_eq!(d, Datum::Set(vec![s("a"), s("c")].into()));
        assert_eq!(datum_apply_diff(&a, &d, &set_ty), b);

        let mut map_ty = set_ty.clone();
        map_ty.value = Some(crate::types::BaseType::new(AtomicType::String));
        let a = Datum::Map(vec![(s("x"), s("1")), (s("y"), s("2"))].into());
        let b = Datum::Map(vec![(s("y"), s("3")), (s("z"), s("4"))].into());
        let d = datum_diff(&a, &b, &map_ty);
        assert_eq!(
            d,
            Datum::Map(vec![(s("x"), s("1")), (s("y"), s("3")), (s("z"), s("4"))].into())
        );
        assert_eq!(datum_apply_diff(&a, &d, &map_ty), b);

        let opt = ColumnType {
            min: 0,
            max: 1,
            ..ColumnType::scalar(AtomicType::String)
        };
        let d = datum_diff(&Datum::scalar(s("x")), &Datum::empty_set(), &opt);
        assert_eq!(d, Datum::empty_set());
    }

    /// A table watched by two requests: each kind of update carries the columns of the
    /// requests that select it (an insert notice only the column of the request with
    /// inserts), as ovsdb-server sends them.
    #[test]
    fn updates_carry_the_columns_of_the_requests_selecting_them() {
        use serde_json::json;
        let schema = Schema::from_str_json(
            r#"{"name":"S","version":"1.0.0","tables":{
              "P":{"columns":{"name":{"type":"string"},"n":{"type":"integer"},
                "t":{"type":"integer"}}}}}"#,
        )
        .unwrap();
        let req = json!({"P": [
            {"columns": ["name", "n"], "select": {"insert": false}},
            {"columns": ["t"], "select": {"insert": true, "delete": false}}]});
        let tables = parse_requests(&schema, MonitorVersion::V2, &req).unwrap();
        let tm = &tables[0];
        let ts = &schema.tables[tm.table];
        let col = |n: &str| ts.column_index(n).unwrap();
        let mut old = Row {
            fields: ts.defaults().to_vec(),
        };
        old.fields[col("name")] = Datum::scalar(s("a"));
        old.fields[col("n")] = Datum::scalar(Atom::Integer(1));
        old.fields[col("t")] = Datum::scalar(Atom::Integer(3));
        let mut new = old.clone();
        new.fields[col("n")] = Datum::scalar(Atom::Integer(2));
        let uuid = Uuid::from_u128(1);
        let update = |o: Option<&Row>, n: Option<&Row>, initial: bool| {
            let tree = row_update(MonitorVersion::V2, tm, ts, o, n, initial);
            if !initial {
                let mut text = Vec::new();
                let written = write_row_update(&mut text, MonitorVersion::V2, tm, ts, &uuid, o, n);
                assert_eq!(written, tree.is_some());
                if let Some(t) = &tree {
                    let text = format!("{{{}}}", String::from_utf8(text).unwrap());
                    let parsed: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(parsed[uuid.to_string()], *t);
                }
            }
            tree
        };
        assert_eq!(
            update(None, Some(&old), false),
            Some(json!({"insert": {"t": 3}}))
        );
        assert_eq!(
            update(None, Some(&old), true),
            Some(json!({"initial": {"name": "a", "n": 1, "t": 3}}))
        );
        assert_eq!(
            update(Some(&old), Some(&new), false),
            Some(json!({"modify": {"n": 2}}))
        );
        assert_eq!(
            update(Some(&old), None, false),
            Some(json!({"delete": null}))
        );
    }

    #[test]
    fn written_updates_are_the_json_of_updates() {
        use crate::db::{TxnContext, TxnOutcome};
        use serde_json::json;
        let schema = Schema::from_str_json(
            r#"{"name":"S","version":"1.0.0","tables":{
              "P":{"columns":{"name":{"type":"string"},"n":{"type":"integer"},
                "r":{"type":{"key":"real","min":0,"max":1}},
                "tags":{"type":{"key":"string","min":0,"max":"unlimited"}},
                "m":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}}},
              "Q":{"columns":{"v":{"type":"integer"}}}}}"#,
        )
        .unwrap();
        let mut db = Database::new(schema.clone());
        let monitors: Vec<Monitor> = [
            (MonitorVersion::V1, json!({"P": {}, "Q": {}})),
            (
                MonitorVersion::V2,
                json!({"P": [{"columns": ["name", "tags"]}], "Q": {}}),
            ),
            (
                MonitorVersion::V3,
                json!({"P": [{"where": [["n", ">", 1]], "select": {"delete": false}}]}),
            ),
        ]
        .into_iter()
        .map(|(version, req)| Monitor {
            db: 0,
            version,
            tables: parse_requests(&schema, version, &req).unwrap(),
        })
        .collect();
        let txns = [
            json!(["S", {"op": "insert", "table": "P", "row": {"name": "a\"\u{e9}", "n": 1,
                "tags": ["set", ["x", "y"]], "m": ["map", [["k", "v"]]]}},
                {"op": "insert", "table": "Q", "row": {"v": 3}}]),
            json!(["S", {"op": "update", "table": "P", "where": [], "row": {"n": 2, "r": 0.1,
                "tags": ["set", ["y", "z"]], "m": ["map", [["k", "w"]]]}}]),
            json!(["S", {"op": "update", "table": "P", "where": [], "row": {"n": 2}}]),
            json!(["S", {"op": "delete", "table": "P", "where": []},
                {"op": "update", "table": "Q", "where": [], "row": {"v": 4}}]),
        ];
        let mut written = 0;
        for t in &txns {
            let TxnOutcome::Complete {
                changes: Some(ch), ..
            } = db.transact(t, &TxnContext::default())
            else {
                panic!("{t} did not commit");
            };
            for m in &monitors {
                let mut out = b"prefix".to_vec();
                let any = m.write_updates(&schema, &ch, &mut out);
                let want = m.updates(&schema, &ch);
                assert_eq!(any, want.is_some());
                let mut expected = b"prefix".to_vec();
                if let Some(w) = want {
                    expected.extend_from_slice(w.to_string().as_bytes());
                    written += 1;
                }
                assert_eq!(String::from_utf8(out), String::from_utf8(expected));
            }
        }
        assert!(written >= 6, "{written}");
    }
}
