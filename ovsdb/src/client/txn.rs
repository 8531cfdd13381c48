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
    inserts: super::Inserts,
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
                let t: std::sync::Arc<str> = match self.inserts.last() {
                    Some((_, last)) if **last == *t => last.clone(),
                    _ => t.into(),
                };
                self.inserts.push((self.ops.len(), t));
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
    pub(crate) fn inserts(&self) -> &[(usize, std::sync::Arc<str>)] {
        &self.inserts
    }

    /// `transact` params for database `db`.
    pub fn params(&self, db: &str) -> Vec<Value> {
        self.clone().into_params(db)
    }

    /// [`params`](Self::params), taking the operations instead of copying them.
    pub fn into_params(self, db: &str) -> Vec<Value> {
        let mut p = Vec::with_capacity(self.ops.len() + 1);
        p.push(json!(db));
        p.extend(self.ops);
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
    /// The per-operation results. Empty for a reply read compactly (the reply to
    /// [`Client::transact_bytes`](super::Client::transact_bytes)), which keeps only the
    /// inserted rows' UUIDs: use [`TxnReply::inserted_uuid`].
    pub results: Vec<Value>,
    /// For a compact reply, the UUID each operation's result carries (nil for none).
    uuids: Vec<Uuid>,
}

impl TxnReply {
    /// Reads a `transact` result: success, or [`ClientError::TxnFailed`] naming the failing operation.
    pub fn from_result(result: &Value, n_ops: usize) -> Result<Self> {
        Self::check(result, n_ops)?;
        Ok(Self {
            results: result.as_array().cloned().unwrap_or_default(),
            uuids: Vec::new(),
        })
    }

    /// [`from_result`](Self::from_result) taking the result, without copying it.
    pub(crate) fn from_owned(result: Value, n_ops: usize) -> Result<Self> {
        Self::check(&result, n_ops)?;
        let results = match result {
            Value::Array(a) => a,
            _ => Vec::new(),
        };
        Ok(Self {
            results,
            uuids: Vec::new(),
        })
    }

    fn check(result: &Value, n_ops: usize) -> Result<()> {
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
        Ok(())
    }

    /// Reads a `transact` result from its JSON text, keeping only the UUID of each operation's
    /// result (a big transaction's reply is tens of thousands of `{"uuid": ...}` objects: no
    /// JSON tree of them is built). Errors as [`from_result`](Self::from_result).
    pub fn from_slice(result: &[u8], n_ops: usize) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_slice(result);
        let read = serde::de::DeserializeSeed::deserialize(CompactSeed, &mut de)
            .and_then(|r| de.end().map(|()| r))
            .map_err(|e| ClientError::malformed("transact reply", e.to_string()))?;
        if let Some((i, error, details)) = read.failed {
            return Err(ClientError::TxnFailed {
                op_index: (i < n_ops).then_some(i),
                error,
                details,
            });
        }
        if read.uuids.len() < n_ops {
            return Err(ClientError::malformed(
                "transact reply",
                format!(
                    "{} results for {n_ops} operations and no error",
                    read.uuids.len()
                ),
            ));
        }
        Ok(Self {
            results: Vec::new(),
            uuids: read.uuids,
        })
    }

    /// A compact reply holding these UUIDs, one per operation.
    pub(crate) fn from_uuids(uuids: Vec<Option<Uuid>>) -> Self {
        Self {
            results: Vec::new(),
            uuids: uuids
                .into_iter()
                .map(|u| u.unwrap_or(Uuid::nil()))
                .collect(),
        }
    }

    /// The UUID of the row inserted by operation `op_index`.
    pub fn inserted_uuid(&self, op_index: usize) -> Option<Uuid> {
        if self.results.is_empty() {
            return self.uuids.get(op_index).copied().filter(|u| !u.is_nil());
        }
        let u = self.results.get(op_index)?.get("uuid")?.as_array()?;
        (u.len() == 2 && u[0] == "uuid")
            .then(|| u[1].as_str().and_then(parse_uuid_str))
            .flatten()
    }
}

/// What [`TxnReply::from_slice`] reads: each result's UUID (nil for none), and the first
/// failed operation (index, `error`, `details`).
struct Compact {
    uuids: Vec<Uuid>,
    failed: Option<(usize, String, Option<String>)>,
}

/// The array of results.
struct CompactSeed;

impl<'de> serde::de::DeserializeSeed<'de> for CompactSeed {
    type Value = Compact;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Compact, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CompactSeed {
    type Value = Compact;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of operation results")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Compact, A::Error> {
        let mut out = Compact {
            uuids: Vec::with_capacity(seq.size_hint().unwrap_or(0)),
            failed: None,
        };
        while let Some(r) = seq.next_element::<OpResult>()? {
            if let (None, Some(error)) = (&out.failed, r.error) {
                out.failed = Some((out.uuids.len(), error, r.details));
            }
            out.uuids.push(r.uuid.unwrap_or(Uuid::nil()));
        }
        Ok(out)
    }
}

/// One operation's result as [`TxnReply::from_slice`] reads it: its `uuid` (an insert's),
/// `error` (as [`TxnReply::from_result`] renders it) and `details`; anything else is skipped.
#[derive(Default)]
struct OpResult {
    uuid: Option<Uuid>,
    error: Option<String>,
    details: Option<String>,
}

impl<'de> serde::Deserialize<'de> for OpResult {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(OpResultVisitor)
    }
}

struct OpResultVisitor;

impl<'de> serde::de::Visitor<'de> for OpResultVisitor {
    type Value = OpResult;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an operation result")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut m: A,
    ) -> std::result::Result<OpResult, A::Error> {
        let mut out = OpResult::default();
        while let Some(key) = m.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "uuid" => {
                    // `["uuid", U]`; anything else reads as no UUID, as `inserted_uuid` would.
                    let v: Value = m.next_value()?;
                    out.uuid = v.as_array().and_then(|a| match a.as_slice() {
                        [tag, u] if tag == "uuid" => u.as_str().and_then(parse_uuid_str),
                        _ => None,
                    });
                }
                "error" => {
                    let e: Value = m.next_value()?;
                    out.error = Some(e.as_str().map_or_else(|| e.to_string(), str::to_owned));
                }
                "details" => {
                    let d: Value = m.next_value()?;
                    out.details = d.as_str().map(str::to_owned);
                }
                _ => {
                    m.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<OpResult, E> {
        Ok(OpResult::default())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<OpResult, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(OpResult::default())
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> std::result::Result<OpResult, E> {
        Ok(OpResult::default())
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<OpResult, E> {
        Ok(OpResult::default())
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<OpResult, E> {
        Ok(OpResult::default())
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<OpResult, E> {
        Ok(OpResult::default())
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> std::result::Result<OpResult, E> {
        Ok(OpResult::default())
    }
}
