//! Secondary indexes over the replica: the schema's unique indexes and user-defined ones, whose parts
//! are whole columns or one key of a map column (`external_ids:k8s.ovn.org/id`).

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use super::error::{ClientError, Result};
use super::replica::Row;
use crate::atom::Atom;
use crate::datum::Datum;
use crate::schema::TableSchema;
use crate::types::AtomicType;

/// One part of an index key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IndexColumn {
    /// The whole value of a column.
    Column(String),
    /// The value stored under `key` in a map column; rows without the key are not indexed.
    MapKey {
        /// The map column.
        column: String,
        /// The key.
        key: String,
    },
}

impl IndexColumn {
    /// Parses `column` or `column:key` (the first `:` separates; keys may contain more).
    pub fn parse(text: &str) -> Self {
        match text.split_once(':') {
            Some((column, key)) => Self::MapKey {
                column: column.to_owned(),
                key: key.to_owned(),
            },
            None => Self::Column(text.to_owned()),
        }
    }
}

/// A user-defined index on one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// The table.
    pub table: String,
    /// The index name, used for lookups.
    pub name: String,
    /// The key parts, in order.
    pub columns: Vec<IndexColumn>,
}

impl IndexSpec {
    /// An index called `name` on `table` keyed by `columns` (each `column` or `column:key`).
    pub fn new(table: &str, name: &str, columns: &[&str]) -> Self {
        Self {
            table: table.to_owned(),
            name: name.to_owned(),
            columns: columns.iter().map(|c| IndexColumn::parse(c)).collect(),
        }
    }
}

#[derive(Debug, Clone)]
enum Part {
    Column(usize),
    MapKey(usize, Atom),
}

/// A maintained index: key (one datum per part) to the UUIDs of the rows with that key.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    pub(crate) name: String,
    parts: Vec<Part>,
    map: HashMap<Vec<Datum>, Vec<Uuid>>,
}

impl Index {
    /// Resolves `spec` against `ts`; every referenced column must be in `monitored`.
    pub(crate) fn new(spec: &IndexSpec, ts: &TableSchema, monitored: &[usize]) -> Result<Self> {
        let bad = |d: String| {
            ClientError::InvalidMonitor(format!("index {} on {}: {d}", spec.name, spec.table))
        };
        if spec.columns.is_empty() {
            return Err(bad("no columns".into()));
        }
        let mut parts = Vec::with_capacity(spec.columns.len());
        for c in &spec.columns {
            let name = match c {
                IndexColumn::Column(n) | IndexColumn::MapKey { column: n, .. } => n,
            };
            let col = ts
                .column(name)
                .ok_or_else(|| bad(format!("no column {name}")))?;
            if col.index >= 2 && !monitored.contains(&col.index) {
                return Err(bad(format!("column {name} is not monitored")));
            }
            parts.push(match c {
                IndexColumn::Column(_) => Part::Column(col.index),
                IndexColumn::MapKey { key, .. } => {
                    if !col.type_.is_map() {
                        return Err(bad(format!("column {name} is not a map")));
                    }
                    let atom = match col.type_.key.atomic {
                        AtomicType::String => Atom::String(key.as_str().into()),
                        AtomicType::Integer => Atom::Integer(
                            key.parse()
                                .map_err(|_| bad(format!("key {key} is not an integer")))?,
                        ),
                        other => {
                            return Err(bad(format!(
                                "map keys of type {} are not supported",
                                other.name()
                            )))
                        }
                    };
                    Part::MapKey(col.index, atom)
                }
            });
        }
        Ok(Self {
            name: spec.name.clone(),
            parts,
            map: HashMap::new(),
        })
    }

    /// A schema index (whole columns).
    pub(crate) fn from_columns(name: String, cols: &[usize]) -> Self {
        Self {
            name,
            parts: cols.iter().map(|&c| Part::Column(c)).collect(),
            map: HashMap::new(),
        }
    }

    fn key(&self, row: &Row) -> Option<Vec<Datum>> {
        let mut k = Vec::with_capacity(self.parts.len());
        for p in &self.parts {
            match p {
                Part::Column(0) => k.push(Datum::scalar(Atom::Uuid(row.uuid()))),
                Part::Column(c) => k.push(row.field(*c).clone()),
                Part::MapKey(c, key) => {
                    let pairs = row.field(*c).map_pairs();
                    let i = pairs.binary_search_by(|p| p.0.cmp(key)).ok()?;
                    k.push(Datum::scalar(pairs[i].1.clone()));
                }
            }
        }
        Some(k)
    }

    pub(crate) fn insert(&mut self, row: &Arc<Row>) {
        if let Some(k) = self.key(row) {
            let v = self.map.entry(k).or_default();
            if let Err(i) = v.binary_search(&row.uuid()) {
                v.insert(i, row.uuid());
            }
        }
    }

    pub(crate) fn remove(&mut self, row: &Arc<Row>) {
        if let Some(k) = self.key(row) {
            if let Some(v) = self.map.get_mut(&k) {
                if let Ok(i) = v.binary_search(&row.uuid()) {
                    v.remove(i);
                }
                if v.is_empty() {
                    self.map.remove(&k);
                }
            }
        }
    }

    /// Replaces `old` by `new` when their keys differ.
    pub(crate) fn update(&mut self, old: &Arc<Row>, new: &Arc<Row>) {
        if self.key(old) != self.key(new) {
            self.remove(old);
            self.insert(new);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }

    pub(crate) fn lookup(&self, key: &[Datum]) -> &[Uuid] {
        self.map.get(key).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}
