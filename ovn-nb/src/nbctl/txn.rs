//! The working copy a command list edits, and the one transaction it becomes.
//!
//! [`Snapshot`] is a read view of the database (from the embedded [`Database`] or a client
//! replica). [`Nbctl`] starts from one, lets every verb read the rows as the earlier verbs of the
//! same invocation left them, and turns the difference into one RFC 7047 transaction: an `insert`
//! (with a `uuid-name`) per new row, an `update` of the changed columns per changed row and a
//! `delete` per removed row. References to new rows are written as `named-uuid`s.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ovsdb::model::Uuid;
use ovsdb::schema::COL_UUID;
use ovsdb::{Atom, Database, Datum, Schema, TableSchema, TxnContext, TxnOutcome};
use serde_json::{json, Value};

use super::error::{NbctlError, Result};

/// Rows of one table by UUID, fields by column index (as in the schema).
pub type TableRows = BTreeMap<Uuid, Arc<Vec<Datum>>>;

/// A read view of a whole database.
#[derive(Debug, Clone)]
pub struct Snapshot {
    schema: Arc<Schema>,
    tables: Vec<TableRows>,
}

impl Snapshot {
    /// An empty view of `schema`.
    pub fn empty(schema: Arc<Schema>) -> Self {
        let tables = vec![TableRows::new(); schema.tables.len()];
        Self { schema, tables }
    }

    /// The committed contents of an embedded database.
    pub fn of_database(db: &Database) -> Self {
        let schema = db.schema().clone();
        let tables = (0..schema.tables.len())
            .map(|t| {
                db.rows_by_index(t)
                    .map(|rows| {
                        rows.iter()
                            .map(|(u, r)| (*u, Arc::new(r.fields.clone())))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        Self { schema, tables }
    }

    /// The contents of a client replica (columns it does not monitor read as defaults).
    pub fn of_replica(replica: &ovsdb::client::Replica) -> Self {
        let schema = replica.schema().clone();
        let tables = schema
            .tables
            .iter()
            .map(|ts| {
                replica
                    .table(&ts.name)
                    .map(|view| {
                        view.rows()
                            .map(|r| (r.uuid(), Arc::new(r.fields().to_vec())))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        Self { schema, tables }
    }

    /// The schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The rows of table number `t`.
    pub fn rows(&self, t: usize) -> Option<&TableRows> {
        self.tables.get(t)
    }
}

/// Where transactions go: the embedded database, or (see [`super::remote`]) a server through the
/// client.
pub trait TxnTarget {
    /// The current contents.
    fn snapshot(&self) -> Result<Snapshot>;
    /// Runs `ops` as one transaction and returns the per-operation results.
    fn transact(&mut self, ops: Vec<Value>) -> Result<Vec<Value>>;
}

impl TxnTarget for Database {
    fn snapshot(&self) -> Result<Snapshot> {
        Ok(Snapshot::of_database(self))
    }

    fn transact(&mut self, ops: Vec<Value>) -> Result<Vec<Value>> {
        let mut params = vec![json!(self.schema().name)];
        params.extend(ops);
        match Self::transact(self, &Value::Array(params), &TxnContext::default()) {
            TxnOutcome::Complete { results, .. } => check_results(&results),
            TxnOutcome::Blocked { .. } => Err(NbctlError::Connection(
                "transaction blocked on a wait operation".into(),
            )),
        }
    }
}

/// Checks a `transact` result array for an error.
pub(crate) fn check_results(results: &Value) -> Result<Vec<Value>> {
    let arr = results
        .as_array()
        .ok_or_else(|| NbctlError::Connection(format!("unexpected transact reply {results}")))?;
    for r in arr {
        if let Some(e) = r.get("error") {
            return Err(NbctlError::Transaction {
                error: e.as_str().unwrap_or_default().to_owned(),
                details: r
                    .get("details")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
    }
    Ok(arr.clone())
}

/// Marks the UUIDs handed out for rows inserted by this transaction (replaced by real UUIDs on
/// commit): the top 64 bits.
const TEMP_PREFIX: u128 = 0x0ddc_0ffe_e000_4000_8000_0000_0000_0000;

/// One command list being built into one transaction.
///
/// Every verb function of [`super`] takes `&mut Nbctl`; reads see the effect of earlier verbs.
/// Nothing is written until [`Nbctl::commit`].
#[derive(Debug, Clone)]
pub struct Nbctl {
    base: Snapshot,
    work: Vec<TableRows>,
    inserted: Vec<(usize, Uuid)>,
    next_temp: u64,
    output: String,
    bare: bool,
}

/// What a committed transaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// Real UUIDs of the rows inserted, by the temporary UUID the verbs saw.
    pub inserted: HashMap<Uuid, Uuid>,
    /// The text the commands printed, with temporary UUIDs replaced by real ones.
    pub output: String,
}

impl Nbctl {
    /// Starts a command list on top of `base`.
    pub fn new(base: Snapshot) -> Self {
        let work = base.tables.clone();
        Self {
            base,
            work,
            inserted: Vec::new(),
            next_temp: 1,
            output: String::new(),
            bare: false,
        }
    }

    /// Starts a command list on the current contents of `target`.
    pub fn on<T: TxnTarget + ?Sized>(target: &T) -> Result<Self> {
        Ok(Self::new(target.snapshot()?))
    }

    /// The schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.base.schema
    }

    /// Appends text to the output of the command list (what ovn-nbctl prints).
    pub fn print(&mut self, text: &str) {
        self.output.push_str(text);
    }

    /// Makes `list` and `find` print bare values (`--bare`).
    pub fn set_bare_output(&mut self, bare: bool) {
        self.bare = bare;
    }

    /// Whether `list` and `find` print bare values.
    pub fn bare_output(&self) -> bool {
        self.bare
    }

    /// The output so far.
    pub fn output(&self) -> &str {
        &self.output
    }

    /// True when a UUID was handed out for a row inserted in this transaction.
    pub fn is_new(u: Uuid) -> bool {
        u.as_u128() >> 64 == TEMP_PREFIX >> 64
    }

    pub(crate) fn table_index(&self, name: &str) -> Result<usize> {
        self.base
            .schema
            .table_index(name)
            .ok_or_else(|| NbctlError::Usage(format!("unknown table \"{name}\"")))
    }

    pub(crate) fn table_schema(&self, t: usize) -> &TableSchema {
        &self.base.schema.tables[t]
    }

    pub(crate) fn col(&self, t: usize, name: &str) -> usize {
        self.table_schema(t)
            .column_index(name)
            .unwrap_or(usize::MAX)
    }

    /// The rows of table `t` as they are now.
    pub(crate) fn rows(&self, t: usize) -> &TableRows {
        &self.work[t]
    }

    /// UUIDs of table `t`, in UUID order.
    pub(crate) fn uuids(&self, t: usize) -> Vec<Uuid> {
        self.work[t].keys().copied().collect()
    }

    pub(crate) fn exists(&self, t: usize, u: Uuid) -> bool {
        self.work[t].contains_key(&u)
    }

    /// The value of column `c` (by name) of row `u`.
    pub(crate) fn get(&self, t: usize, u: Uuid, c: &str) -> Datum {
        let i = self.col(t, c);
        self.work[t]
            .get(&u)
            .and_then(|r| r.get(i).cloned())
            .unwrap_or_else(Datum::empty_set)
    }

    /// A string column (the first atom), or "".
    pub(crate) fn get_str(&self, t: usize, u: Uuid, c: &str) -> String {
        match self.get(t, u, c).first() {
            Some(Atom::String(s)) => s.to_string(),
            _ => String::new(),
        }
    }

    /// An optional string column.
    pub(crate) fn get_opt_str(&self, t: usize, u: Uuid, c: &str) -> Option<String> {
        match self.get(t, u, c).first() {
            Some(Atom::String(s)) => Some(s.to_string()),
            _ => None,
        }
    }

    /// An integer column (the first atom).
    pub(crate) fn get_int(&self, t: usize, u: Uuid, c: &str) -> Option<i64> {
        match self.get(t, u, c).first() {
            Some(Atom::Integer(i)) => Some(*i),
            _ => None,
        }
    }

    /// The UUIDs in a set column.
    pub(crate) fn get_uuids(&self, t: usize, u: Uuid, c: &str) -> Vec<Uuid> {
        self.get(t, u, c)
            .set_atoms()
            .iter()
            .filter_map(Atom::as_uuid)
            .collect()
    }

    /// The strings of a set column.
    pub(crate) fn get_strs(&self, t: usize, u: Uuid, c: &str) -> Vec<String> {
        self.get(t, u, c)
            .set_atoms()
            .iter()
            .filter_map(|a| match a {
                Atom::String(s) => Some(s.to_string()),
                _ => None,
            })
            .collect()
    }

    /// The string map of a map column.
    pub(crate) fn get_map(&self, t: usize, u: Uuid, c: &str) -> BTreeMap<String, String> {
        self.get(t, u, c)
            .map_pairs()
            .iter()
            .filter_map(|(k, v)| match (k, v) {
                (Atom::String(k), Atom::String(v)) => Some((k.to_string(), v.to_string())),
                _ => None,
            })
            .collect()
    }

    /// Inserts a row into table `t` with the given columns (others default) and returns its
    /// temporary UUID.
    pub(crate) fn insert(&mut self, t: usize, cols: Vec<(&str, Datum)>) -> Uuid {
        let u = Uuid::from_u128(TEMP_PREFIX | u128::from(self.next_temp));
        self.next_temp += 1;
        let ts = &self.base.schema.tables[t];
        let mut fields: Vec<Datum> = ts.columns.iter().map(|c| c.type_.default_datum()).collect();
        if let Some(f) = fields.get_mut(COL_UUID) {
            *f = Datum::scalar(Atom::Uuid(u));
        }
        for (name, d) in cols {
            if let Some(i) = ts.column_index(name) {
                fields[i] = d;
            }
        }
        self.work[t].insert(u, Arc::new(fields));
        self.inserted.push((t, u));
        u
    }

    /// Sets column `c` of row `u`.
    pub(crate) fn set(&mut self, t: usize, u: Uuid, c: &str, d: Datum) {
        let i = self.col(t, c);
        if let Some(row) = self.work[t].get_mut(&u) {
            if let Some(f) = Arc::make_mut(row).get_mut(i) {
                *f = d;
            }
        }
    }

    /// Sets column `c` to a single string.
    pub(crate) fn set_str(&mut self, t: usize, u: Uuid, c: &str, s: &str) {
        self.set(t, u, c, str_datum(s));
    }

    /// Adds `a` to set column `c` (no-op when present).
    pub(crate) fn set_add(&mut self, t: usize, u: Uuid, c: &str, a: Atom) {
        let mut d = self.get(t, u, c);
        d.union_with(&Datum::scalar(a));
        self.set(t, u, c, d);
    }

    /// Removes `a` from set column `c`.
    pub(crate) fn set_remove(&mut self, t: usize, u: Uuid, c: &str, a: &Atom) {
        let mut d = self.get(t, u, c);
        d.remove_where(|x, _| x == a);
        self.set(t, u, c, d);
    }

    /// Deletes row `u` (the caller removes references to it).
    pub(crate) fn delete(&mut self, t: usize, u: Uuid) {
        self.work[t].remove(&u);
    }

    /// The operations of the transaction: what changed from the snapshot.
    pub fn ops(&self) -> Vec<Value> {
        let mut names = HashMap::new();
        for (i, (_, u)) in self.inserted.iter().enumerate() {
            names.insert(u.to_string(), format!("row{}", i + 1));
        }
        let mut ops = Vec::new();
        for (t, u) in &self.inserted {
            let Some(row) = self.work[*t].get(u) else {
                continue;
            };
            let ts = &self.base.schema.tables[*t];
            let mut m = serde_json::Map::new();
            for c in ts.user_columns() {
                let d = &row[c.index];
                if *d != c.type_.default_datum() {
                    m.insert(c.name.clone(), rename(d.to_json(), &names));
                }
            }
            ops.push(json!({"op": "insert", "table": ts.name, "row": m,
                "uuid-name": names.get(&u.to_string())}));
        }
        for (t, ts) in self.base.schema.tables.iter().enumerate() {
            for (u, new) in &self.work[t] {
                let Some(old) = self.base.tables[t].get(u) else {
                    continue;
                };
                if Arc::ptr_eq(old, new) {
                    continue;
                }
                let mut m = serde_json::Map::new();
                for c in ts.user_columns() {
                    if old[c.index] != new[c.index] {
                        m.insert(c.name.clone(), rename(new[c.index].to_json(), &names));
                    }
                }
                if !m.is_empty() {
                    ops.push(json!({"op": "update", "table": ts.name,
                        "where": [["_uuid", "==", ["uuid", u.to_string()]]], "row": m}));
                }
            }
            for u in self.base.tables[t].keys() {
                if !self.work[t].contains_key(u) {
                    ops.push(json!({"op": "delete", "table": ts.name,
                        "where": [["_uuid", "==", ["uuid", u.to_string()]]]}));
                }
            }
        }
        ops
    }

    /// Commits the command list to `target` as one transaction (nothing is sent when nothing
    /// changed).
    pub fn commit<T: TxnTarget + ?Sized>(self, target: &mut T) -> Result<Committed> {
        let ops = self.ops();
        let results = if ops.is_empty() {
            Vec::new()
        } else {
            target.transact(ops)?
        };
        Ok(self.finish(&results))
    }

    /// Maps temporary UUIDs to the real ones from the transaction `results`.
    pub fn finish(self, results: &[Value]) -> Committed {
        let mut inserted = HashMap::new();
        let live = self
            .inserted
            .iter()
            .filter(|(t, u)| self.work[*t].contains_key(u));
        for ((_, temp), r) in live.zip(results) {
            let real = r
                .get("uuid")
                .and_then(|v| v.get(1))
                .and_then(Value::as_str)
                .and_then(ovsdb::atom::parse_uuid_str);
            if let Some(real) = real {
                inserted.insert(*temp, real);
            }
        }
        let mut output = self.output;
        for (temp, real) in &inserted {
            output = output.replace(&temp.to_string(), &real.to_string());
        }
        Committed { inserted, output }
    }
}

/// Rewrites `["uuid", TEMP]` into `["named-uuid", NAME]`.
fn rename(v: Value, names: &HashMap<String, String>) -> Value {
    match v {
        Value::Array(a) => {
            if a.len() == 2 && a[0] == "uuid" {
                if let Some(n) = a[1].as_str().and_then(|s| names.get(s)) {
                    return json!(["named-uuid", n]);
                }
            }
            Value::Array(a.into_iter().map(|x| rename(x, names)).collect())
        }
        other => other,
    }
}

/// A string atom.
pub(crate) fn str_atom(s: &str) -> Atom {
    Atom::String(s.into())
}

/// A one-string datum.
pub(crate) fn str_datum(s: &str) -> Datum {
    Datum::scalar(str_atom(s))
}

/// A set of strings, sorted and deduplicated.
pub(crate) fn strs_datum<S: AsRef<str>>(items: &[S]) -> Datum {
    let mut atoms: Vec<Atom> = items.iter().map(|s| str_atom(s.as_ref())).collect();
    atoms.sort();
    atoms.dedup();
    Datum::Set(atoms.into())
}

/// A string-to-string map.
pub(crate) fn map_datum(pairs: &BTreeMap<String, String>) -> Datum {
    Datum::Map(
        pairs
            .iter()
            .map(|(k, v)| (str_atom(k), str_atom(v)))
            .collect(),
    )
}

/// A one-integer datum.
pub(crate) fn int_datum(i: i64) -> Datum {
    Datum::scalar(Atom::Integer(i))
}
