//! Transactions: a list of RFC 7047 operations, optimistic guards built from the replica, and the
//! reading of the server's reply.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::error::{ClientError, Result};
use super::replica::Replica;
use crate::atom::parse_uuid_str;

/// A transaction under construction. Rows and conditions are in RFC 7047 JSON notation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Txn {
    ops: Vec<Value>,
    inserts: Vec<(usize, String)>,
}

impl Txn {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// The operations so far.
    pub fn ops(&self) -> &[Value] {
        &self.ops
    }

    /// True when there is no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Appends any operation object.
    pub fn op(&mut self, op: Value) -> &mut Self {
        if op.get("op").and_then(Value::as_str) == Some("insert") {
            if let Some(t) = op.get("table").and_then(Value::as_str) {
                self.inserts.push((self.ops.len(), t.to_owned()));
            }
        }
        self.ops.push(op);
        self
    }

    /// `insert` of `row` (an object of column values) into `table`, optionally naming the new row
    /// `uuid_name` for references from later operations.
    pub fn insert(&mut self, table: &str, row: Value, uuid_name: Option<&str>) -> &mut Self {
        let mut o = Map::new();
        o.insert("op".into(), json!("insert"));
        o.insert("table".into(), json!(table));
        o.insert("row".into(), row);
        if let Some(n) = uuid_name {
            o.insert("uuid-name".into(), json!(n));
        }
        self.op(Value::Object(o))
    }

    /// `update` of the rows of `table` matching `where_` with the values in `row`.
    pub fn update(&mut self, table: &str, where_: Vec<Value>, row: Value) -> &mut Self {
        self.op(json!({"op": "update", "table": table, "where": where_, "row": row}))
    }

    /// `update` of one row by UUID.
    pub fn update_row(&mut self, table: &str, uuid: Uuid, row: Value) -> &mut Self {
        self.update(table, vec![uuid_clause(uuid)], row)
    }

    /// `mutate` of the rows matching `where_` with `mutations` (`[column, mutator, value]`).
    pub fn mutate(&mut self, table: &str, where_: Vec<Value>, mutations: Vec<Value>) -> &mut Self {
        self.op(json!({"op": "mutate", "table": table, "where": where_, "mutations": mutations}))
    }

    /// `delete` of the rows matching `where_`.
    pub fn delete(&mut self, table: &str, where_: Vec<Value>) -> &mut Self {
        self.op(json!({"op": "delete", "table": table, "where": where_}))
    }

    /// `delete` of one row by UUID.
    pub fn delete_row(&mut self, table: &str, uuid: Uuid) -> &mut Self {
        self.delete(table, vec![uuid_clause(uuid)])
    }

    /// A `wait` with timeout 0: the transaction fails with `"timed out"` unless the `columns` of the
    /// rows matching `where_` equal `rows` (`until_equal`) or differ from them.
    pub fn wait(
        &mut self,
        table: &str,
        where_: Vec<Value>,
        columns: &[&str],
        rows: Vec<Value>,
        until_equal: bool,
    ) -> &mut Self {
        self.op(json!({
            "op": "wait", "table": table, "timeout": 0, "where": where_, "columns": columns,
            "until": if until_equal { "==" } else { "!=" }, "rows": rows,
        }))
    }

    /// Guard: no row of `table` matches `where_` (makes an insert idempotent when retried).
    pub fn wait_absent(&mut self, table: &str, where_: Vec<Value>) -> &mut Self {
        self.wait(table, where_, &["_uuid"], Vec::new(), true)
    }

    /// Optimistic guard built from the replica: the transaction fails with `"timed out"` if any of
    /// `columns` of row `uuid` changed on the server since the replica saw it (or the row is gone).
    pub fn verify(
        &mut self,
        replica: &Replica,
        table: &str,
        uuid: Uuid,
        columns: &[&str],
    ) -> Result<&mut Self> {
        let t = replica.table(table).ok_or_else(|| {
            ClientError::InvalidMonitor(format!("verify: table {table} is not monitored"))
        })?;
        let row = t.get(&uuid).ok_or_else(|| {
            ClientError::InvalidMonitor(format!(
                "verify: row {uuid} of {table} is not in the replica"
            ))
        })?;
        let monitored = t.schema().columns.iter().filter(|c| {
            replica
                .monitored_columns(table)
                .is_some_and(|m| m.contains(&c.index))
        });
        let mut r = Map::new();
        for name in columns {
            let c = monitored.clone().find(|c| c.name == *name).ok_or_else(|| {
                ClientError::InvalidMonitor(format!(
                    "verify: column {name} of {table} is not monitored"
                ))
            })?;
            r.insert((*name).to_owned(), row.field(c.index).to_json());
        }
        Ok(self.wait(
            table,
            vec![uuid_clause(uuid)],
            columns,
            vec![Value::Object(r)],
            true,
        ))
    }

    /// `assert` that this session owns lock `name`.
    pub fn assert_lock(&mut self, name: &str) -> &mut Self {
        self.op(json!({"op": "assert", "lock": name}))
    }

    /// `comment` (logged by the server).
    pub fn comment(&mut self, text: &str) -> &mut Self {
        self.op(json!({"op": "comment", "comment": text}))
    }

    /// Tables and operation indexes of the `insert`s, for read-your-writes checks.
    pub(crate) fn inserts(&self) -> &[(usize, String)] {
        &self.inserts
    }

    /// `transact` params for database `db`.
    pub fn params(&self, db: &str) -> Vec<Value> {
        let mut p = Vec::with_capacity(self.ops.len() + 1);
        p.push(json!(db));
        p.extend(self.ops.iter().cloned());
        p
    }
}

/// The clause `["_uuid", "==", ["uuid", U]]`.
pub fn uuid_clause(uuid: Uuid) -> Value {
    json!(["_uuid", "==", ["uuid", uuid.to_string()]])
}

/// A committed transaction's results, one per operation.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnReply {
    /// The per-operation results.
    pub results: Vec<Value>,
}

impl TxnReply {
    /// Reads a `transact` result: success, or [`ClientError::TxnFailed`] naming the failing operation.
    pub fn from_result(result: &Value, n_ops: usize) -> Result<Self> {
        let arr = result.as_array().ok_or_else(|| {
            ClientError::malformed("transact reply", format!("expected an array, got {result}"))
        })?;
        for (i, r) in arr.iter().enumerate() {
            if let Some(e) = r.get("error") {
                return Err(ClientError::TxnFailed {
                    op_index: (i < n_ops).then_some(i),
                    error: e.as_str().map_or_else(|| e.to_string(), str::to_owned),
                    details: r.get("details").and_then(Value::as_str).map(str::to_owned),
                });
            }
        }
        if arr.len() < n_ops {
            return Err(ClientError::malformed(
                "transact reply",
                format!("{} results for {n_ops} operations and no error", arr.len()),
            ));
        }
        Ok(Self {
            results: arr.clone(),
        })
    }

    /// The UUID of the row inserted by operation `op_index`.
    pub fn inserted_uuid(&self, op_index: usize) -> Option<Uuid> {
        let u = self.results.get(op_index)?.get("uuid")?.as_array()?;
        (u.len() == 2 && u[0] == "uuid")
            .then(|| u[1].as_str().and_then(parse_uuid_str))
            .flatten()
    }
}
