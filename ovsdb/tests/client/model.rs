//! Rebuilding a table's content from tracked changes, checking that every change is consistent
//! (no insert of a present row, no modify or delete of an absent one).

use std::collections::BTreeMap;

use ovsdb::client::{ChangeKind, Replica, TrackedChange};
use serde_json::{Map, Value};
use uuid::Uuid;

#[derive(Default)]
pub(crate) struct Model {
    pub(crate) rows: BTreeMap<(String, Uuid), Value>,
    pub(crate) inserts: usize,
    pub(crate) modifies: usize,
    pub(crate) deletes: usize,
}

impl Model {
    pub(crate) fn apply(
        &mut self,
        replica_cols: &dyn Fn(&str) -> Vec<(usize, String)>,
        changes: &[TrackedChange],
    ) {
        for c in changes {
            let key = (c.table.clone(), c.uuid);
            let row = c.new.as_ref().map(|r| {
                let mut m = Map::new();
                for (i, name) in replica_cols(&c.table) {
                    m.insert(name, r.field(i).to_json());
                }
                Value::Object(m)
            });
            match c.kind {
                ChangeKind::Insert => {
                    assert!(
                        !self.rows.contains_key(&key),
                        "insert of a row already present: {key:?}"
                    );
                    self.inserts += 1;
                }
                ChangeKind::Modify => {
                    assert!(
                        self.rows.contains_key(&key),
                        "modify of an absent row: {key:?}"
                    );
                    self.modifies += 1;
                }
                ChangeKind::Delete => {
                    assert!(
                        self.rows.contains_key(&key),
                        "delete of an absent row: {key:?}"
                    );
                    self.deletes += 1;
                }
            }
            match row {
                Some(r) => {
                    self.rows.insert(key, r);
                }
                None => {
                    self.rows.remove(&key);
                }
            }
        }
    }

    pub(crate) fn to_json(&self, tables: &[&str]) -> Value {
        let mut out = Map::new();
        for t in tables {
            out.insert((*t).to_owned(), Value::Object(Map::new()));
        }
        for ((t, u), r) in &self.rows {
            if let Some(Value::Object(m)) = out.get_mut(t) {
                m.insert(u.to_string(), r.clone());
            }
        }
        Value::Object(out)
    }
}

pub(crate) fn columns_of(r: &Replica) -> impl Fn(&str) -> Vec<(usize, String)> + '_ {
    move |t: &str| {
        let ts = r.schema().table(t).unwrap();
        r.monitored_columns(t)
            .unwrap()
            .iter()
            .map(|&i| (i, ts.columns[i].name.clone()))
            .collect()
    }
}
