//! The replica: the monitored tables and columns of one database, kept in step with the server's
//! updates, with indexes and change tracking. No I/O: the connection task feeds it parsed
//! [`Update`]s; tests feed it directly.

use std::sync::Arc;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::{ClientError, Result};
use super::index::{Index, IndexSpec};
use super::update::{RowOp, TableUpdate, Update};
use crate::atom::Atom;
use crate::datum::Datum;
use crate::hash::FastMap;
use crate::schema::{Schema, TableSchema};

/// Entries the emptied maps of tracked changes keep room for.
const SPARE_ROOM: usize = 4096;

/// Snapshots of at least this many rows fill the replica on two threads.
const TWO_THREADS_ROWS: usize = 20_000;

/// One row of the replica. Fields are indexed by schema column index (`_uuid` is 0, `_version` 1);
/// columns that are not monitored hold their default value.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    uuid: Uuid,
    /// The fields, held as the engine's row type so that typed models read them in place
    /// ([`Row::as_row`]).
    row: crate::Row,
}

impl Row {
    fn new_default(uuid: Uuid, ts: &TableSchema) -> Self {
        let fields = ts
            .columns
            .iter()
            .map(|c| {
                if c.index == 0 {
                    Datum::scalar(Atom::Uuid(uuid))
                } else {
                    c.type_.default_datum()
                }
            })
            .collect();
        Self {
            uuid,
            row: crate::Row { fields },
        }
    }

    /// A row with the values `cols` (by column index) and defaults elsewhere.
    fn with_columns(uuid: Uuid, ts: &TableSchema, cols: Vec<(usize, Datum)>) -> Self {
        let mut r = Self::new_default(uuid, ts);
        for (c, d) in cols {
            if let Some(f) = r.row.fields.get_mut(c) {
                *f = d;
            }
        }
        r
    }

    /// The row's UUID.
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// The value of column `index` (see [`TableSchema::column_index`]); out-of-range indexes read
    /// as an empty set.
    pub fn field(&self, index: usize) -> &Datum {
        static EMPTY: Datum = Datum::empty_set();
        self.row.fields.get(index).unwrap_or(&EMPTY)
    }

    /// All fields, by column index.
    pub fn fields(&self) -> &[Datum] {
        &self.row.fields
    }

    /// The fields as an engine [`crate::Row`], for conversions that take one (such as
    /// [`crate::model::Model::from_row`]) without copying them.
    pub fn as_row(&self) -> &crate::Row {
        &self.row
    }
}

/// What happened to a row since the consumer last called [`Replica::take_changes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    /// The row is new.
    Insert,
    /// The row existed before and still exists with different values.
    Modify,
    /// The row existed before and is gone.
    Delete,
}

/// One tracked change: the row as the consumer last saw it and as it is now.
#[derive(Debug, Clone)]
pub struct TrackedChange {
    /// The table name.
    pub table: String,
    /// The row UUID.
    pub uuid: Uuid,
    /// Insert, modify or delete.
    pub kind: ChangeKind,
    /// The row before (for modify and delete).
    pub old: Option<Arc<Row>>,
    /// The row now (for insert and modify).
    pub new: Option<Arc<Row>>,
}

impl TrackedChange {
    /// Column indexes whose values differ between `old` and `new` (all columns for insert/delete).
    pub fn changed_columns(&self) -> Vec<usize> {
        match (&self.old, &self.new) {
            (Some(o), Some(n)) => (0..o.fields().len())
                .filter(|&i| &o.fields()[i] != n.field(i))
                .collect(),
            (Some(r), None) | (None, Some(r)) => (0..r.fields().len()).collect(),
            (None, None) => Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct TableReplica {
    columns: Vec<usize>,
    /// The server reports rows inserted after the snapshot (see [`TableSelection::inserts`]).
    inserts: bool,
    /// (Keyed with the crate's fast hasher: a whole database goes through these maps.)
    rows: FastMap<Uuid, Arc<Row>>,
    indexes: Vec<Index>,
}

impl TableReplica {
    /// Puts row `uuid` of a snapshot in with the values `cols` (what [`Replica::apply_row`]
    /// does with a snapshot's insert, but for the record of changes); its indexes follow.
    fn insert_snapshot_row(&mut self, ts: &TableSchema, uuid: Uuid, cols: Vec<(usize, Datum)>) {
        let new = Arc::new(Row::with_columns(uuid, ts, cols));
        match self.rows.insert(uuid, new.clone()) {
            // (A snapshot names each row once; were one named twice, the last would stay.)
            Some(old) => self.indexes.iter_mut().for_each(|i| i.update(&old, &new)),
            None => self.indexes.iter_mut().for_each(|i| i.insert(&new)),
        }
    }
}

/// Which tables and columns a replica holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSelection {
    /// The table.
    pub table: String,
    /// Monitored columns; `None` for all.
    pub columns: Option<Vec<String>>,
    /// Whether the server reports rows inserted after the initial snapshot
    /// ([`MonitorSelect::insert`](super::MonitorSelect)). When it does not, the server may
    /// delete or modify rows the replica does not hold: each is reported by
    /// [`Replica::take_changes`] as a change with neither `old` nor `new` row.
    pub inserts: bool,
}

/// A cached copy of the monitored part of one database.
#[derive(Debug, Clone)]
pub struct Replica {
    schema: Arc<Schema>,
    tables: Vec<Option<TableReplica>>,
    tracking: bool,
    pending: FastMap<(usize, Uuid), Option<Arc<Row>>>,
    /// Deletions, modifications and insert notices of rows the replica does not hold, in tables
    /// whose inserts the server does not report.
    blind: FastMap<(usize, Uuid), ChangeKind>,
    /// Every row held is new to the consumer: the replica was empty (or held only rows the
    /// consumer never took) when a snapshot filled it. [`Replica::take_changes`] then reports
    /// each row as inserted, without one entry per row in `pending` (a whole database at
    /// start-up), and later changes need no record until then.
    all_new: bool,
    applied: u64,
    resets: u64,
}

impl Replica {
    /// An empty replica of `tables` of `schema`, maintaining the schema's unique indexes (those whose
    /// columns are all monitored) and `indexes`. Change tracking starts enabled.
    pub fn new(
        schema: Arc<Schema>,
        tables: &[TableSelection],
        indexes: &[IndexSpec],
    ) -> Result<Self> {
        let mut out: Vec<Option<TableReplica>> = vec![None; schema.tables.len()];
        for sel in tables {
            let ti = schema.table_index(&sel.table).ok_or_else(|| {
                ClientError::SchemaMismatch(format!("the server has no table {}", sel.table))
            })?;
            let ts = &schema.tables[ti];
            let columns: Vec<usize> = match &sel.columns {
                None => (2..ts.columns.len()).collect(),
                Some(names) => {
                    let mut v = Vec::with_capacity(names.len());
                    for n in names {
                        let c = ts.column(n).ok_or_else(|| {
                            ClientError::SchemaMismatch(format!(
                                "the server's table {} has no column {n}",
                                sel.table
                            ))
                        })?;
                        if c.index >= 2 && !v.contains(&c.index) {
                            v.push(c.index);
                        }
                    }
                    v
                }
            };
            let mut idx = Vec::new();
            for (i, cols) in ts.indexes.iter().enumerate() {
                if cols.iter().all(|c| *c < 2 || columns.contains(c)) {
                    idx.push(Index::from_columns(format!("schema:{i}"), cols));
                }
            }
            out[ti] = Some(TableReplica {
                columns,
                inserts: sel.inserts,
                rows: FastMap::default(),
                indexes: idx,
            });
        }
        for spec in indexes {
            let ti = schema.table_index(&spec.table).ok_or_else(|| {
                ClientError::InvalidMonitor(format!("index {}: no table {}", spec.name, spec.table))
            })?;
            let ts = &schema.tables[ti];
            let Some(t) = out[ti].as_mut() else {
                return Err(ClientError::InvalidMonitor(format!(
                    "index {}: table {} is not monitored",
                    spec.name, spec.table
                )));
            };
            if t.indexes.iter().any(|i| i.name == spec.name) {
                return Err(ClientError::InvalidMonitor(format!(
                    "index {} defined twice",
                    spec.name
                )));
            }
            t.indexes.push(Index::new(spec, ts, &t.columns)?);
        }
        Ok(Self {
            schema,
            tables: out,
            tracking: true,
            pending: FastMap::default(),
            blind: FastMap::default(),
            all_new: false,
            applied: 0,
            resets: 0,
        })
    }

    /// The schema the replica follows.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// Turns change tracking on or off (off drops what was tracked).
    pub fn set_tracking(&mut self, on: bool) {
        self.tracking = on;
        if !on {
            self.pending.clear();
            self.blind.clear();
            self.all_new = false;
        }
    }

    /// How many updates have been applied since the replica was created.
    pub fn applied_updates(&self) -> u64 {
        self.applied
    }

    /// The monitored columns of `table` (schema column indexes), if it is monitored.
    pub fn monitored_columns(&self, table: &str) -> Option<&[usize]> {
        let ti = self.schema.table_index(table)?;
        self.tables[ti].as_ref().map(|t| t.columns.as_slice())
    }

    /// Names of the monitored tables, in schema order.
    pub fn table_names(&self) -> Vec<&str> {
        self.schema
            .tables
            .iter()
            .zip(&self.tables)
            .filter(|(_, t)| t.is_some())
            .map(|(ts, _)| ts.name.as_str())
            .collect()
    }

    /// A read view of `table`, if it is monitored.
    pub fn table(&self, name: &str) -> Option<TableView<'_>> {
        let ti = self.schema.table_index(name)?;
        let t = self.tables[ti].as_ref()?;
        Some(TableView {
            schema: &self.schema.tables[ti],
            table: t,
        })
    }

    fn touch(&mut self, ti: usize, uuid: Uuid, before: Option<&Arc<Row>>) {
        if self.tracking && !self.all_new {
            self.pending
                .entry((ti, uuid))
                .or_insert_with(|| before.cloned());
        }
    }

    fn check(&self, update: &Update) -> Result<()> {
        for tu in &update.tables {
            let name = &self.schema.tables[tu.table].name;
            let Some(t) = self.tables[tu.table].as_ref() else {
                return Err(ClientError::malformed(
                    "update",
                    format!("table {name} is not monitored"),
                ));
            };
            for (uuid, op) in &tu.rows {
                if matches!(op, RowOp::Modify(_) | RowOp::Replace(_))
                    && t.inserts
                    && !t.rows.contains_key(uuid)
                {
                    return Err(ClientError::malformed(
                        "update",
                        format!("modification of row {uuid} of table {name}, which the replica does not have"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Applies an incremental update. It is checked first (modified rows must exist, tables must be
    /// monitored): on error nothing is applied and the caller must resynchronize.
    pub fn apply(&mut self, update: &Update) -> Result<()> {
        self.apply_owned(update.clone())
    }

    /// [`apply`](Self::apply), taking the update: its values move into the replica's rows and
    /// each row operation is freed once applied (a big update is not held twice).
    pub fn apply_owned(&mut self, update: Update) -> Result<()> {
        self.check(&update)?;
        for tu in update.tables {
            let ti = tu.table;
            for (uuid, op) in tu.rows {
                self.apply_row(ti, uuid, op, false);
            }
            for uuid in tu.notices {
                self.apply_row(ti, uuid, RowOp::Insert(Vec::new()), false);
            }
        }
        self.applied += 1;
        Ok(())
    }

    /// Replaces the whole content by the snapshot `update` (an initial monitor reply, or a
    /// `monitor_cond_since` reply whose history was not found). Tracked changes then describe the
    /// difference between the old and the new content: rows unchanged across the purge are not
    /// reported.
    pub fn reset(&mut self, update: &Update) -> Result<()> {
        self.reset_owned(update.clone())
    }

    /// [`reset`](Self::reset), taking the snapshot (as [`apply_owned`](Self::apply_owned)).
    pub fn reset_owned(&mut self, update: Update) -> Result<()> {
        for tu in &update.tables {
            if self.tables[tu.table].is_none() {
                let name = &self.schema.tables[tu.table].name;
                return Err(ClientError::malformed(
                    "snapshot",
                    format!("table {name} is not monitored"),
                ));
            }
            if tu
                .rows
                .iter()
                .any(|(_, op)| !matches!(op, RowOp::Insert(_)))
            {
                return Err(ClientError::malformed(
                    "snapshot",
                    "a snapshot may only insert rows",
                ));
            }
        }
        // Nothing the consumer saw is held: every row of the snapshot is simply new.
        let held = self.tables.iter().flatten().any(|t| !t.rows.is_empty());
        if self.tracking && self.pending.is_empty() && (self.all_new || !held) {
            self.all_new = true;
        }
        for ti in 0..self.tables.len() {
            let Some(t) = self.tables[ti].as_mut() else {
                continue;
            };
            let old = std::mem::take(&mut t.rows);
            for i in &mut t.indexes {
                i.clear();
            }
            if self.tracking && !self.all_new {
                for (uuid, row) in old {
                    self.pending.entry((ti, uuid)).or_insert(Some(row));
                }
            }
        }
        let untracked = !self.tracking || self.all_new;
        if untracked && update.row_count() >= TWO_THREADS_ROWS {
            self.fill_on_two_threads(update);
        } else {
            for tu in update.tables {
                if let Some(t) = self.tables[tu.table].as_mut() {
                    t.rows.reserve(tu.rows.len());
                }
                for (uuid, op) in tu.rows {
                    self.apply_row(tu.table, uuid, op, true);
                }
                // (A snapshot is read without notices; were there any, they would stay
                // notices.)
                for uuid in tu.notices {
                    self.apply_row(tu.table, uuid, RowOp::Insert(Vec::new()), false);
                }
            }
        }
        self.applied += 1;
        self.resets += 1;
        Ok(())
    }

    /// Fills the emptied tables with the rows of snapshot `update` (inserts only, checked), the
    /// tables shared between this thread and another by their number of rows: each table's rows
    /// and indexes are its own. Only when no change is recorded per row (tracking is off, or
    /// every row is new: `all_new`), so that the rows go in as [`apply_row`](Self::apply_row)
    /// would put them, in the update's order within each table.
    fn fill_on_two_threads(&mut self, update: Update) {
        // Each table's row operations, in order; rows only (notices go in afterwards, here).
        let mut work: Vec<(usize, TableReplica, Vec<TableUpdate>)> = Vec::new();
        let mut notices: Vec<(usize, Uuid)> = Vec::new();
        for mut tu in update.tables {
            notices.extend(tu.notices.drain(..).map(|u| (tu.table, u)));
            match work.iter_mut().find(|w| w.0 == tu.table) {
                Some(w) => w.2.push(tu),
                None => {
                    let Some(t) = self.tables[tu.table].take() else {
                        continue;
                    };
                    work.push((tu.table, t, vec![tu]));
                }
            }
        }
        let weight = |w: &(usize, TableReplica, Vec<TableUpdate>)| -> usize {
            w.2.iter().map(|tu| tu.rows.len()).sum()
        };
        work.sort_by_key(|w| std::cmp::Reverse(weight(w)));
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        let (mut my_rows, mut their_rows) = (0, 0);
        for w in work {
            if my_rows <= their_rows {
                my_rows += weight(&w);
                mine.push(w);
            } else {
                their_rows += weight(&w);
                theirs.push(w);
            }
        }
        let schema = &self.schema;
        let fill = |part: &mut Vec<(usize, TableReplica, Vec<TableUpdate>)>| {
            for (ti, t, tus) in part.iter_mut() {
                let ts = &schema.tables[*ti];
                t.rows.reserve(tus.iter().map(|tu| tu.rows.len()).sum());
                for tu in tus.drain(..) {
                    for (uuid, op) in tu.rows {
                        // (Only inserts: `reset_owned` checked.)
                        if let RowOp::Insert(cols) = op {
                            t.insert_snapshot_row(ts, uuid, cols);
                        }
                    }
                }
            }
        };
        let theirs = std::sync::Mutex::new(theirs);
        let lock = || {
            theirs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        std::thread::scope(|s| {
            let worker = std::thread::Builder::new()
                .name("ovsdb-replica-fill".into())
                .spawn_scoped(s, || fill(&mut lock()));
            fill(&mut mine);
            match worker {
                Ok(w) => {
                    if let Err(panic) = w.join() {
                        std::panic::resume_unwind(panic);
                    }
                }
                // No second thread: this one does it all.
                Err(_) => fill(&mut lock()),
            }
        });
        let theirs = theirs
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (ti, t, _) in mine.into_iter().chain(theirs) {
            self.tables[ti] = Some(t);
        }
        for (ti, uuid) in notices {
            self.apply_row(ti, uuid, RowOp::Insert(Vec::new()), false);
        }
    }

    /// Drops the insert notice of row `uuid` of table `table` (schema index) waiting to be
    /// taken, if there is one: the row is this client's own insert, which the caller knows
    /// of (see [`MonitorSpec::insert_notices`](super::MonitorSpec::insert_notices)).
    pub fn forget_insert_notice(&mut self, table: usize, uuid: Uuid) {
        if let Some(ChangeKind::Insert) = self.blind.get(&(table, uuid)) {
            self.blind.remove(&(table, uuid));
            if self.blind.is_empty() && self.blind.capacity() > SPARE_ROOM {
                self.blind = FastMap::default();
            }
        }
    }

    /// The monitored tables (schema indexes) whose inserts the server does not report: an
    /// insert there is a notice, of which the replica keeps only the UUID
    /// ([`TableSelection::inserts`]).
    pub fn notice_tables(&self) -> Vec<usize> {
        self.tables
            .iter()
            .enumerate()
            .filter(|(_, t)| t.as_ref().is_some_and(|t| !t.inserts))
            .map(|(i, _)| i)
            .collect()
    }

    /// How many snapshots replaced the whole content so far ([`reset`](Self::reset): the
    /// monitor's first reply, and every resynchronization that could not resume from
    /// history). A consumer that keeps its own record of rows the server does not report (see
    /// [`TableSelection::inserts`]) starts it over when this changes: the snapshot has them.
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// Applies one row change; `snapshot`: it comes from a snapshot (whose rows are held even in
    /// tables whose later inserts are not).
    fn apply_row(&mut self, ti: usize, uuid: Uuid, op: RowOp, snapshot: bool) {
        let ts = &self.schema.tables[ti];
        let Some(t) = self.tables[ti].as_mut() else {
            return;
        };
        let old = t.rows.get(&uuid).cloned();
        // An insert into a table whose inserts are not reported is an insert notice
        // (`MonitorSpec::insert_notices`): the row is not held either.
        if old.is_none() && !t.inserts && !(snapshot && matches!(op, RowOp::Insert(_))) {
            if self.tracking {
                let kind = match op {
                    RowOp::Delete => ChangeKind::Delete,
                    RowOp::Insert(_) => ChangeKind::Insert,
                    _ => ChangeKind::Modify,
                };
                // A deletion is final; a modification does not hide a later deletion.
                let k = self.blind.entry((ti, uuid)).or_insert(kind);
                if kind == ChangeKind::Delete {
                    *k = kind;
                }
            }
            return;
        }
        let new = match op {
            RowOp::Delete => None,
            RowOp::Insert(cols) => Some(Arc::new(Row::with_columns(uuid, ts, cols))),
            RowOp::Replace(cols) => {
                let Some(o) = &old else { return };
                let mut r = Row::clone(o);
                for (c, d) in cols {
                    if let Some(f) = r.row.fields.get_mut(c) {
                        *f = d;
                    }
                }
                Some(Arc::new(r))
            }
            RowOp::Modify(cols) => {
                let Some(o) = &old else { return };
                let mut r = Row::clone(o);
                for (c, d) in &cols {
                    if let (Some(f), Some(col)) = (r.row.fields.get_mut(*c), ts.columns.get(*c)) {
                        f.apply_diff(d, &col.type_);
                    }
                }
                Some(Arc::new(r))
            }
        };
        match (&old, &new) {
            (Some(o), Some(n)) => t.indexes.iter_mut().for_each(|i| i.update(o, n)),
            (Some(o), None) => t.indexes.iter_mut().for_each(|i| i.remove(o)),
            (None, Some(n)) => t.indexes.iter_mut().for_each(|i| i.insert(n)),
            (None, None) => {}
        }
        match &new {
            Some(n) => {
                t.rows.insert(uuid, n.clone());
            }
            None => {
                t.rows.remove(&uuid);
            }
        }
        if old.is_some() || new.is_some() {
            self.touch(ti, uuid, old.as_ref());
        }
    }

    /// True when changes are waiting for [`take_changes`](Self::take_changes).
    pub fn has_changes(&self) -> bool {
        !self.pending.is_empty()
            || !self.blind.is_empty()
            || (self.all_new && self.tables.iter().flatten().any(|t| !t.rows.is_empty()))
    }

    /// Drops the changes tracked so far, as [`take_changes`](Self::take_changes) would
    /// without listing them (a consumer about to read the whole replica).
    pub fn drop_changes(&mut self) {
        self.all_new = false;
        self.pending.clear();
        self.blind.clear();
        if self.pending.capacity() > SPARE_ROOM {
            self.pending = FastMap::default();
        }
        if self.blind.capacity() > SPARE_ROOM {
            self.blind = FastMap::default();
        }
    }

    /// The rows inserted, modified or deleted since the last call, each once, with the row as it was
    /// at the last call and as it is now; sorted by table then UUID. A row inserted then deleted in
    /// between, or changed and changed back, is not reported.
    pub fn take_changes(&mut self) -> Vec<TrackedChange> {
        let mut keys: Vec<(usize, Uuid)> = self.pending.keys().copied().collect();
        if std::mem::take(&mut self.all_new) {
            // (Nothing was recorded per row meanwhile: every row held is an insert.)
            for (ti, t) in self.tables.iter().enumerate() {
                if let Some(t) = t {
                    keys.extend(t.rows.keys().map(|u| (ti, *u)));
                }
            }
            for &k in &keys {
                self.pending.entry(k).or_insert(None);
            }
        }
        keys.sort_unstable();
        keys.dedup();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(old) = self.pending.remove(&key) else {
                continue;
            };
            let (ti, uuid) = key;
            let new = self.tables[ti]
                .as_ref()
                .and_then(|t| t.rows.get(&uuid).cloned());
            let kind = match (&old, &new) {
                (None, None) => continue,
                (None, Some(_)) => ChangeKind::Insert,
                (Some(_), None) => ChangeKind::Delete,
                (Some(o), Some(n)) => {
                    if Arc::ptr_eq(o, n) || o.row.fields == n.row.fields {
                        continue;
                    }
                    ChangeKind::Modify
                }
            };
            out.push(TrackedChange {
                table: self.schema.tables[ti].name.clone(),
                uuid,
                kind,
                old,
                new,
            });
        }
        let mut blind: Vec<((usize, Uuid), ChangeKind)> = self.blind.drain().collect();
        if !blind.is_empty() {
            blind.sort_unstable();
            out.extend(blind.into_iter().map(|((ti, uuid), kind)| TrackedChange {
                table: self.schema.tables[ti].name.clone(),
                uuid,
                kind,
                old: None,
                new: None,
            }));
            let schema = &self.schema;
            out.sort_by_cached_key(|c| (schema.table_index(&c.table), c.uuid));
        }
        // A big update (a whole database, the echo of a big transaction) left the maps as big
        // as it was: their room is given back.
        if self.pending.capacity() > SPARE_ROOM {
            self.pending = FastMap::default();
        }
        if self.blind.capacity() > SPARE_ROOM {
            self.blind = FastMap::default();
        }
        out
    }

    /// The content as `{table: {uuid: {column: value}}}` with the monitored columns, values in
    /// ovsdb-server's JSON notation (for comparisons and `dump`).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        for (ti, t) in self.tables.iter().enumerate() {
            let Some(t) = t else { continue };
            let ts = &self.schema.tables[ti];
            let mut rows: Vec<&Arc<Row>> = t.rows.values().collect();
            rows.sort_by_key(|r| r.uuid);
            let mut tm = Map::new();
            for r in rows {
                let mut rm = Map::new();
                for &c in &t.columns {
                    rm.insert(ts.columns[c].name.clone(), r.row.fields[c].to_json());
                }
                tm.insert(r.uuid.to_string(), Value::Object(rm));
            }
            out.insert(ts.name.clone(), Value::Object(tm));
        }
        Value::Object(out)
    }
}

/// A read view of one monitored table.
#[derive(Debug, Clone, Copy)]
pub struct TableView<'a> {
    schema: &'a TableSchema,
    table: &'a TableReplica,
}

impl<'a> TableView<'a> {
    /// The table's schema.
    pub fn schema(&self) -> &'a TableSchema {
        self.schema
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.table.rows.len()
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.table.rows.is_empty()
    }

    /// The row with `uuid`.
    pub fn get(&self, uuid: &Uuid) -> Option<&'a Arc<Row>> {
        self.table.rows.get(uuid)
    }

    /// Every row, in no particular order.
    pub fn rows(&self) -> impl Iterator<Item = &'a Arc<Row>> + 'a {
        self.table.rows.values()
    }

    /// Every row with its UUID, in no particular order: the UUIDs are read from the table's
    /// map, without touching the rows.
    pub fn entries(&self) -> impl Iterator<Item = (Uuid, &'a Arc<Row>)> + 'a {
        self.table.rows.iter().map(|(u, r)| (*u, r))
    }

    /// The value of column `column` in `row` (`None` for an unknown column name).
    pub fn value(&self, row: &'a Row, column: &str) -> Option<&'a Datum> {
        self.schema.column_index(column).map(|i| row.field(i))
    }

    /// UUIDs of the rows whose key in index `index` is `key` (one datum per index part; a map-key
    /// part is the scalar value under that key). Schema indexes are named `schema:N` in schema order.
    pub fn lookup(&self, index: &str, key: &[Datum]) -> Option<&'a [Uuid]> {
        self.table
            .indexes
            .iter()
            .find(|i| i.name == index)
            .map(|i| i.lookup(key))
    }

    /// [`lookup`](Self::lookup) for a one-part index with a string key, returning the rows.
    pub fn lookup_str(&self, index: &str, key: &str) -> Vec<&'a Arc<Row>> {
        let key = [Datum::scalar(Atom::String(key.into()))];
        self.lookup(index, &key)
            .unwrap_or(&[])
            .iter()
            .filter_map(|u| self.table.rows.get(u))
            .collect()
    }

    /// Number of distinct keys in index `index`.
    pub fn index_len(&self, index: &str) -> Option<usize> {
        self.table
            .indexes
            .iter()
            .find(|i| i.name == index)
            .map(Index::len)
    }
}
