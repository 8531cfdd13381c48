//! The in-memory database: a schema, its tables, and committed change sets.
//!
//! [`Database::transact`] runs one RFC 7047 `transact` request through the engine in
//! [`crate::transaction`] and, on success, applies the resulting [`ChangeSet`].

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde_json::Value;
use uuid::Uuid;

use crate::datum::Datum;
use crate::hash::{FastMap, FastState, PrehashedMap};
use crate::json::JsonView;
use crate::schema::{Schema, COL_UUID, COL_VERSION};

/// One row: a datum per column, `_uuid` at [`COL_UUID`] and `_version` at [`COL_VERSION`].
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Fields by column index.
    pub fields: Vec<Datum>,
}

impl Row {
    /// The row's UUID.
    pub fn uuid(&self) -> Uuid {
        self.fields
            .get(COL_UUID)
            .and_then(Datum::first)
            .and_then(crate::atom::Atom::as_uuid)
            .unwrap_or_default()
    }

    /// The row's `_version`.
    pub fn version(&self) -> Uuid {
        self.fields
            .get(COL_VERSION)
            .and_then(Datum::first)
            .and_then(crate::atom::Atom::as_uuid)
            .unwrap_or_default()
    }

    /// The field of column `index`.
    pub fn get(&self, index: usize) -> Option<&Datum> {
        self.fields.get(index)
    }

    /// The row as a JSON object of `columns` (by index), as `select` returns it.
    pub fn to_json(&self, schema: &crate::schema::TableSchema, columns: &[usize]) -> Value {
        let mut m = serde_json::Map::new();
        for &c in columns {
            if let (Some(col), Some(d)) = (schema.columns.get(c), self.fields.get(c)) {
                m.insert(col.name.clone(), d.to_json());
            }
        }
        Value::Object(m)
    }
}

/// The committed rows of one table by UUID ([`Database::rows`]). UUIDs are short keys: they
/// are hashed with a keyed multiply-and-fold hasher ([`RowsHasher`]), cheaper than SipHash.
pub type RowMap = HashMap<Uuid, Arc<Row>, RowsHasher>;

/// The hasher of a [`RowMap`]: keyed by a random number drawn once per process, so that UUIDs
/// chosen by clients cannot be crafted to collide.
pub use crate::hash::FastState as RowsHasher;

/// Committed rows of one table, with reference counts and unique indexes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub(crate) rows: RowMap,
    /// Strong references to each row from other rows (rows with none are absent).
    pub(crate) refs: FastMap<Uuid, u64>,
    /// One per schema index, in schema order.
    pub(crate) indexes: Vec<RowIndex>,
}

/// Rows whose projected keys hash alike (almost always one).
#[derive(Debug, Clone)]
enum IndexSlot {
    One(Uuid),
    Many(Vec<Uuid>),
}

/// A unique index over committed rows: the hash of each row's projected key (its values in the
/// index's columns) → the row. Keys are not stored: candidates are checked against the rows
/// themselves, so the index costs one hash and one UUID per row.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowIndex {
    hasher: FastState,
    slots: PrehashedMap<IndexSlot>,
}

impl RowIndex {
    /// The hash of a projected key.
    pub(crate) fn hash_key<'a>(&self, key: impl IntoIterator<Item = &'a Datum>) -> u64 {
        let mut h = self.hasher.build_hasher();
        for d in key {
            d.hash(&mut h);
        }
        h.finish()
    }

    /// The rows whose key hashes to `hash` (callers compare the keys).
    pub(crate) fn candidates(&self, hash: u64) -> &[Uuid] {
        match self.slots.get(&hash) {
            Some(IndexSlot::One(u)) => std::slice::from_ref(u),
            Some(IndexSlot::Many(v)) => v,
            None => &[],
        }
    }

    /// The committed row of `rows` whose values in `cols` equal `key`, if any.
    pub(crate) fn find(&self, rows: &RowMap, cols: &[usize], key: &[&Datum]) -> Option<Uuid> {
        let hash = self.hash_key(key.iter().copied());
        self.candidates(hash).iter().copied().find(|u| {
            rows.get(u).is_some_and(|r| {
                cols.iter()
                    .zip(key)
                    .all(|(&c, d)| r.fields.get(c) == Some(*d))
            })
        })
    }

    fn insert(&mut self, hash: u64, u: Uuid) {
        match self.slots.entry(hash) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(IndexSlot::One(u));
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let slot = e.get_mut();
                match slot {
                    IndexSlot::One(o) if *o == u => {}
                    IndexSlot::One(o) => *slot = IndexSlot::Many(vec![*o, u]),
                    IndexSlot::Many(v) => {
                        if !v.contains(&u) {
                            v.push(u);
                        }
                    }
                }
            }
        }
    }

    fn remove(&mut self, hash: u64, u: Uuid) {
        let empty = match self.slots.get_mut(&hash) {
            Some(IndexSlot::One(o)) => *o == u,
            Some(IndexSlot::Many(v)) => {
                v.retain(|x| *x != u);
                if v.len() == 1 {
                    let last = v[0];
                    self.slots.insert(hash, IndexSlot::One(last));
                }
                false
            }
            None => false,
        };
        if empty {
            self.slots.remove(&hash);
        }
    }
}

/// What one commit changed in one row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    /// Row UUID.
    pub uuid: Uuid,
    /// The row before the commit (`None` for an insert).
    pub old: Option<Arc<Row>>,
    /// The row after the commit (`None` for a delete).
    pub new: Option<Arc<Row>>,
    /// Which columns changed, by column index (all true for inserts and deletes).
    pub changed: Vec<bool>,
}

/// What one commit changed in one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableChanges {
    /// Table index in the schema.
    pub table: usize,
    /// Table name.
    pub name: String,
    /// Changed rows.
    pub rows: Vec<RowChange>,
}

/// Everything one commit changed: the input of monitors, of the file log, and of incremental
/// consumers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangeSet {
    /// Per-table changes, tables in schema order, only tables with changes.
    pub tables: Vec<TableChanges>,
    /// The transaction's `comment` operations, joined by newlines.
    pub comment: Option<String>,
    /// True when a `commit` operation asked for durability (fsync before replying).
    pub durable: bool,
}

impl ChangeSet {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(|t| t.rows.is_empty())
    }
}

impl ChangeSet {
    /// The transaction record ovsdb-server would append to its standalone database file for this
    /// commit (`_is_diff` form): inserted rows with their non-default persistent columns,
    /// deleted rows as `null`, modified rows with the diffs of their changed persistent columns.
    /// `None` when no persistent column changed (ovsdb-server then writes nothing). `date_ms` is
    /// the commit time (the engine reads no clock).
    pub fn to_file_record(&self, schema: &Schema, date_ms: Option<u64>) -> Option<Value> {
        let mut rec = serde_json::Map::new();
        for tc in &self.tables {
            let ts = &schema.tables[tc.table];
            let mut rows = serde_json::Map::new();
            for rc in &tc.rows {
                let row = match (&rc.old, &rc.new) {
                    (_, None) => Value::Null,
                    (None, Some(new)) => {
                        persistent_columns(ts, new, |c, d| *d != ts.defaults()[c.index])
                    }
                    (Some(old), Some(new)) => {
                        let mut m = serde_json::Map::new();
                        for c in ts.user_columns() {
                            if c.ephemeral || !rc.changed.get(c.index).copied().unwrap_or(false) {
                                continue;
                            }
                            let d = new.fields[c.index].diff_from(&old.fields[c.index], &c.type_);
                            m.insert(c.name.clone(), d.to_json());
                        }
                        if m.is_empty() {
                            continue;
                        }
                        Value::Object(m)
                    }
                };
                rows.insert(rc.uuid.to_string(), row);
            }
            if !rows.is_empty() {
                rec.insert(tc.name.clone(), Value::Object(rows));
            }
        }
        if rec.is_empty() {
            return None;
        }
        if let Some(d) = date_ms {
            rec.insert("_date".into(), serde_json::json!(d));
        }
        if let Some(c) = &self.comment {
            rec.insert("_comment".into(), serde_json::json!(c));
        }
        rec.insert("_is_diff".into(), Value::Bool(true));
        Some(Value::Object(rec))
    }
}

fn persistent_columns(
    ts: &crate::schema::TableSchema,
    row: &Row,
    keep: impl Fn(&crate::schema::ColumnSchema, &Datum) -> bool,
) -> Value {
    let mut m = serde_json::Map::new();
    for c in ts.user_columns() {
        let d = &row.fields[c.index];
        if !c.ephemeral && keep(c, d) {
            m.insert(c.name.clone(), d.to_json());
        }
    }
    Value::Object(m)
}

/// What the caller knows that the engine must not find out by itself.
#[derive(Debug, Clone, Default)]
pub struct TxnContext {
    /// Names of the locks the session holds (for `assert`).
    pub held_locks: HashSet<String>,
    /// Milliseconds since the transaction was first received (for `wait` timeouts).
    pub elapsed_ms: u64,
}

/// The result of [`Database::transact`].
#[derive(Debug, Clone, PartialEq)]
pub enum TxnOutcome {
    /// The transaction completed (committed, or failed): reply with `results`.
    Complete {
        /// The `result` array of the reply.
        results: Value,
        /// What the commit changed; `None` when it failed, `Some(empty)` when it changed nothing.
        changes: Option<Arc<ChangeSet>>,
    },
    /// A `wait` operation is not yet satisfied: nothing was applied and there is no reply yet.
    /// Run the same request again after the database changes, with an updated
    /// [`TxnContext::elapsed_ms`]; when `timeout_ms` is `Some(t)`, also run it again once
    /// `elapsed_ms >= t` (it then fails with "timed out").
    Blocked {
        /// The smallest `timeout` of the transaction's `wait` operations, if any has one.
        timeout_ms: Option<u64>,
    },
}

impl TxnOutcome {
    /// The results array, when complete.
    pub fn results(&self) -> Option<&Value> {
        match self {
            Self::Complete { results, .. } => Some(results),
            Self::Blocked { .. } => None,
        }
    }
}

/// An OVSDB database held in memory.
#[derive(Debug, Clone)]
pub struct Database {
    pub(crate) schema: Arc<Schema>,
    pub(crate) tables: Vec<Table>,
    /// (target table, target row) → rows (table, uuid) holding weak references to it.
    pub(crate) weak_refs: HashMap<(usize, Uuid), HashSet<(usize, Uuid)>>,
    pub(crate) rng: StdRng,
    /// The member names, read order and columns of the last row object of several members a
    /// transaction parsed (kept from one transaction to the next).
    pub(crate) member_order: crate::transaction::MemberOrder,
    /// Changes whenever the rows change (each commit applied), and differs between databases:
    /// work done ahead against one state (a transaction's operations run while the rest of its
    /// request arrives) is valid while the generation, and the generator, are still the same.
    pub(crate) generation: u64,
}

/// The source of [`Database::generation`]s, unique within the process.
static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_generation() -> u64 {
    GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Database {
    /// An empty database for `schema`, generating UUIDs from OS randomness.
    pub fn new(schema: Schema) -> Self {
        Self::with_rng(schema, StdRng::from_os_rng())
    }

    /// An empty database whose UUIDs come from a seeded generator (reproducible tests).
    pub fn with_seed(schema: Schema, seed: u64) -> Self {
        Self::with_rng(schema, StdRng::seed_from_u64(seed))
    }

    fn with_rng(schema: Schema, rng: StdRng) -> Self {
        let tables = schema
            .tables
            .iter()
            .map(|t| Table {
                indexes: t.indexes.iter().map(|_| RowIndex::default()).collect(),
                ..Table::default()
            })
            .collect();
        Self {
            schema: Arc::new(schema),
            tables,
            weak_refs: HashMap::new(),
            rng,
            member_order: crate::transaction::MemberOrder::default(),
            generation: next_generation(),
        }
    }

    /// The schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The committed rows of table `name`.
    pub fn rows(&self, name: &str) -> Option<&RowMap> {
        self.schema.table_index(name).map(|i| &self.tables[i].rows)
    }

    /// The committed rows of table number `table`.
    pub fn rows_by_index(&self, table: usize) -> Option<&RowMap> {
        self.tables.get(table).map(|t| &t.rows)
    }

    /// One committed row.
    pub fn row(&self, table: &str, uuid: &Uuid) -> Option<&Arc<Row>> {
        self.rows(table)?.get(uuid)
    }

    /// Total number of committed rows.
    pub fn n_rows(&self) -> usize {
        self.tables.iter().map(|t| t.rows.len()).sum()
    }

    /// Runs one `transact` request. `params` is the request's whole `params` array: the database
    /// name followed by the operations.
    pub fn transact(&mut self, params: &Value, ctx: &TxnContext) -> TxnOutcome {
        crate::transaction::execute(self, params, ctx)
    }

    /// [`Database::transact`] on parameters read through any [`JsonView`], such as a
    /// [`crate::json::JsonRef`] that borrows from the request bytes.
    pub fn transact_json<J: JsonView>(&mut self, params: &J, ctx: &TxnContext) -> TxnOutcome {
        crate::transaction::execute(self, params, ctx)
    }

    /// [`Database::transact_json`] with the results written as the JSON text of the reply's
    /// `result` instead of a `Value` tree (what the server sends).
    pub(crate) fn transact_encoded<J: JsonView>(
        &mut self,
        params: &J,
        ctx: &TxnContext,
    ) -> crate::transaction::Outcome<crate::transaction::EncodedResults> {
        crate::transaction::execute_into(self, params, ctx)
    }

    /// Replays one transaction record of the standalone file format (as read from a database file
    /// written by ovsdb-server or by us): `null` deletes a row, an object inserts a row (other
    /// columns default) or updates an existing one (column diffs when the record has
    /// `"_is_diff": true`). Runs the same commit checks as a transaction (references, garbage
    /// collection, indexes) and returns what changed.
    pub fn replay_record(&mut self, record: &Value) -> crate::error::Result<Arc<ChangeSet>> {
        crate::transaction::replay(self, record)
    }

    /// A snapshot record of the whole database (every row with its non-default persistent
    /// columns, not a diff), as `ovsdb-tool compact` writes it; the caller adds `_date` and
    /// `_comment`.
    pub fn snapshot_record(&self) -> Value {
        let mut rec = serde_json::Map::new();
        for (i, ts) in self.schema.tables.iter().enumerate() {
            let rows = &self.tables[i].rows;
            if rows.is_empty() {
                continue;
            }
            let mut ids: Vec<&Uuid> = rows.keys().collect();
            ids.sort();
            let mut m = serde_json::Map::new();
            for u in ids {
                m.insert(
                    u.to_string(),
                    persistent_columns(ts, &rows[u], |c, d| *d != ts.defaults()[c.index]),
                );
            }
            rec.insert(ts.name.clone(), Value::Object(m));
        }
        Value::Object(rec)
    }

    pub(crate) fn random_uuid(rng: &mut StdRng) -> Uuid {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        uuid::Builder::from_random_bytes(b).into_uuid()
    }

    /// Applies a prepared change set (called by the engine after all checks passed).
    pub(crate) fn apply(&mut self, changes: &ChangeSet, refs: &FastMap<(usize, Uuid), i64>) {
        self.generation = next_generation();
        for tc in &changes.tables {
            let ts = &self.schema.tables[tc.table];
            let table = &mut self.tables[tc.table];
            // Room for the inserted rows at once (a big commit inserts hundreds of thousands:
            // the maps are not grown, and every row hashed again, one doubling at a time).
            let inserted = tc.rows.iter().filter(|rc| rc.old.is_none()).count();
            table.rows.reserve(inserted);
            for index in &mut table.indexes {
                index.slots.reserve(inserted);
            }
            // Index keys: remove every old key first, then add new ones (rows may swap keys).
            for rc in &tc.rows {
                if let Some(old) = &rc.old {
                    for (i, cols) in ts.indexes.iter().enumerate() {
                        let index = &mut table.indexes[i];
                        let hash = index.hash_key(cols.iter().map(|&c| &old.fields[c]));
                        index.remove(hash, rc.uuid);
                    }
                }
            }
            for rc in &tc.rows {
                if let Some(new) = &rc.new {
                    for (i, cols) in ts.indexes.iter().enumerate() {
                        let index = &mut table.indexes[i];
                        let hash = index.hash_key(cols.iter().map(|&c| &new.fields[c]));
                        index.insert(hash, rc.uuid);
                    }
                    table.rows.insert(rc.uuid, new.clone());
                } else {
                    table.rows.remove(&rc.uuid);
                    table.refs.remove(&rc.uuid);
                }
            }
            // Weak reference index (a table without weak reference columns has nothing to
            // index: its rows are not read again).
            let weak = ts.user_columns().iter().any(|c| c.type_.has_weak_refs());
            for rc in tc.rows.iter().filter(|_| weak) {
                let src = (tc.table, rc.uuid);
                if let Some(old) = &rc.old {
                    for_each_weak_target(ts, old, |dst| {
                        if let Some(s) = self.weak_refs.get_mut(&dst) {
                            s.remove(&src);
                            if s.is_empty() {
                                self.weak_refs.remove(&dst);
                            }
                        }
                    });
                }
                if let Some(new) = &rc.new {
                    for_each_weak_target(ts, new, |dst| {
                        if dst != src {
                            self.weak_refs.entry(dst).or_default().insert(src);
                        }
                    });
                }
            }
        }
        for (&(t, u), &n) in refs {
            let table = &mut self.tables[t];
            if table.rows.contains_key(&u) && n > 0 {
                table.refs.insert(u, n as u64);
            } else {
                table.refs.remove(&u);
            }
        }
    }
}

/// Calls `f((table, uuid))` for every weak reference the row holds.
pub(crate) fn for_each_weak_target(
    ts: &crate::schema::TableSchema,
    row: &Row,
    mut f: impl FnMut((usize, Uuid)),
) {
    for col in ts.user_columns() {
        let ty = &col.type_;
        if !ty.has_weak_refs() {
            continue;
        }
        let kt = ty
            .key
            .is_weak_ref()
            .then_some(ty.key.ref_table_index())
            .flatten();
        let vt = ty
            .value
            .as_ref()
            .and_then(|v| v.is_weak_ref().then_some(v.ref_table_index()).flatten());
        row.fields[col.index].for_each_atom(|a, is_key| {
            let t = if is_key { kt } else { vt };
            if let (Some(t), Some(u)) = (t, a.as_uuid()) {
                f((t, u));
            }
        });
    }
}
