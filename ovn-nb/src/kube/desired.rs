//! The Northbound content the kube layer wants, as plain rows: what [`super::build_nb`] produces
//! and [`super::apply()`] writes.
//!
//! Rows of the named tables (`Meter`, `Copp`, `Logical_Switch`, `Logical_Switch_Port`,
//! `Logical_Router`, `Logical_Router_Port`, `Load_Balancer`, `Load_Balancer_Group`,
//! `Address_Set`, `Port_Group`) are keyed by their `name`. Rows without a name (`ACL`, `NAT`,
//! `Logical_Router_Static_Route`, `Logical_Router_Policy`, `Meter_Band`) are children of the row whose reference column holds them, and are
//! identified by their content within that parent.

use std::collections::{BTreeMap, BTreeSet};

/// One column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A set of strings.
    Strs(BTreeSet<String>),
    /// A string-to-string map.
    Map(BTreeMap<String, String>),
    /// References to named rows of a table, by name.
    Refs(&'static str, BTreeSet<String>),
}

/// A desired row: its columns, and (for parents) the unnamed child rows per reference column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// Column values; columns not listed keep the schema default.
    pub cols: BTreeMap<&'static str, Val>,
    /// Reference column → (child table, child rows).
    pub children: BTreeMap<&'static str, (&'static str, Vec<Self>)>,
}

impl Row {
    /// An empty row.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a string column.
    pub fn s(mut self, col: &'static str, v: impl Into<String>) -> Self {
        self.cols.insert(col, Val::Str(v.into()));
        self
    }

    /// Sets an integer column.
    pub fn i(mut self, col: &'static str, v: i64) -> Self {
        self.cols.insert(col, Val::Int(v));
        self
    }

    /// Sets a boolean column.
    pub fn b(mut self, col: &'static str, v: bool) -> Self {
        self.cols.insert(col, Val::Bool(v));
        self
    }

    /// Sets a string-set column.
    pub fn set<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        col: &'static str,
        v: I,
    ) -> Self {
        self.cols
            .insert(col, Val::Strs(v.into_iter().map(Into::into).collect()));
        self
    }

    /// Sets a map column.
    pub fn map<I: IntoIterator<Item = (K, V)>, K: Into<String>, V: Into<String>>(
        mut self,
        col: &'static str,
        v: I,
    ) -> Self {
        self.cols.insert(
            col,
            Val::Map(v.into_iter().map(|(k, v)| (k.into(), v.into())).collect()),
        );
        self
    }

    /// The string value of a column, if it is a string.
    pub fn str(&self, col: &str) -> Option<&str> {
        match self.cols.get(col) {
            Some(Val::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The integer value of a column.
    pub fn int(&self, col: &str) -> Option<i64> {
        match self.cols.get(col) {
            Some(Val::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// The map value of a column (empty when absent).
    pub fn get_map(&self, col: &str) -> BTreeMap<String, String> {
        match self.cols.get(col) {
            Some(Val::Map(m)) => m.clone(),
            _ => BTreeMap::new(),
        }
    }

    /// The string-set value of a column (empty when absent).
    pub fn strs(&self, col: &str) -> BTreeSet<String> {
        match self.cols.get(col) {
            Some(Val::Strs(m)) => m.clone(),
            _ => BTreeSet::new(),
        }
    }

    /// The names a reference column holds (empty when absent).
    pub fn refs(&self, col: &str) -> BTreeSet<String> {
        match self.cols.get(col) {
            Some(Val::Refs(_, m)) => m.clone(),
            _ => BTreeSet::new(),
        }
    }

    /// The children held in reference column `col`.
    pub fn kids(&self, col: &str) -> &[Self] {
        self.children.get(col).map_or(&[], |(_, v)| v.as_slice())
    }
}

/// Tables whose rows are keyed by `name`.
pub const NAMED_TABLES: [&str; 10] = [
    "Meter",
    "Copp",
    "Logical_Switch",
    "Logical_Switch_Port",
    "Logical_Router",
    "Logical_Router_Port",
    "Load_Balancer",
    "Load_Balancer_Group",
    "Address_Set",
    "Port_Group",
];

/// The whole desired Northbound content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredNb {
    /// Table name → row name → row (named tables only).
    pub tables: BTreeMap<&'static str, BTreeMap<String, Row>>,
    /// The allocations made while building, to pass as the next build's previous state.
    pub state: super::build::PreviousState,
}

impl DesiredNb {
    /// Adds (or replaces) a named row.
    pub fn put(&mut self, table: &'static str, name: impl Into<String>, row: Row) {
        let name = name.into();
        let row = row.s("name", name.clone());
        self.tables.entry(table).or_default().insert(name, row);
    }

    /// A named row.
    pub fn get(&self, table: &str, name: &str) -> Option<&Row> {
        self.tables.get(table).and_then(|t| t.get(name))
    }

    /// A named row, mutable.
    pub fn get_mut(&mut self, table: &str, name: &str) -> Option<&mut Row> {
        self.tables.get_mut(table).and_then(|t| t.get_mut(name))
    }

    /// The rows of a table.
    pub fn rows(&self, table: &str) -> impl Iterator<Item = (&String, &Row)> {
        self.tables.get(table).into_iter().flat_map(|t| t.iter())
    }

    /// Adds `names` to reference column `col` of row `name` (created empty if missing).
    pub fn add_refs<I: IntoIterator<Item = S>, S: Into<String>>(
        &mut self,
        table: &'static str,
        name: &str,
        col: &'static str,
        target: &'static str,
        names: I,
    ) {
        let t = self.tables.entry(table).or_default();
        let row = t
            .entry(name.to_owned())
            .or_insert_with(|| Row::new().s("name", name));
        let entry = row
            .cols
            .entry(col)
            .or_insert_with(|| Val::Refs(target, BTreeSet::new()));
        if let Val::Refs(_, set) = entry {
            set.extend(names.into_iter().map(Into::into));
        }
    }

    /// Appends a child row to reference column `col` of row `name`.
    pub fn add_child(
        &mut self,
        table: &'static str,
        name: &str,
        col: &'static str,
        child_table: &'static str,
        child: Row,
    ) {
        let t = self.tables.entry(table).or_default();
        let row = t
            .entry(name.to_owned())
            .or_insert_with(|| Row::new().s("name", name));
        row.children
            .entry(col)
            .or_insert_with(|| (child_table, Vec::new()))
            .1
            .push(child);
    }

    /// Number of rows per table, children included.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for (t, rows) in &self.tables {
            *out.entry(*t).or_insert(0) += rows.len();
            for r in rows.values() {
                for (ct, kids) in r.children.values() {
                    *out.entry(*ct).or_insert(0) += kids.len();
                }
            }
        }
        out
    }
}
