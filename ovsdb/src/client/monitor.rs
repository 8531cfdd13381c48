//! Monitor requests, cluster-membership checks and reconnection pacing, as plain code.

use std::time::Duration;

use rand::Rng;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::error::{ClientError, Result};
use super::replica::{Replica, TableSelection};
use crate::atom::NoSymbols;
use crate::condition::Condition;
use crate::schema::Schema;

/// The monitor methods, newest first; the client falls back along this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorMethod {
    /// `monitor_cond_since` (`update3`, resumable).
    CondSince,
    /// `monitor_cond` (`update2`, conditions).
    Cond,
    /// `monitor` (`update`, RFC 7047; conditions are not sent, so all rows are replicated).
    Plain,
}

impl MonitorMethod {
    /// The JSON-RPC method name.
    pub fn name(self) -> &'static str {
        match self {
            Self::CondSince => "monitor_cond_since",
            Self::Cond => "monitor_cond",
            Self::Plain => "monitor",
        }
    }

    /// The next older method.
    pub fn fallback(self) -> Option<Self> {
        match self {
            Self::CondSince => Some(Self::Cond),
            Self::Cond => Some(Self::Plain),
            Self::Plain => None,
        }
    }
}

/// The all-zero transaction id that asks `monitor_cond_since` for a full snapshot.
pub const ZERO_TXN_ID: Uuid = Uuid::nil();

/// One monitored table: columns (all when `None`) and the condition (all rows when `None`), a list
/// of RFC 7047 clauses (`[column, function, value]`, `true`, `false`) that must all hold.
#[derive(Debug, Clone, PartialEq)]
pub struct TableMonitor {
    /// The table.
    pub table: String,
    /// Monitored columns, `None` for all.
    pub columns: Option<Vec<String>>,
    /// Conjunction of clauses, `None` for every row.
    pub condition: Option<Vec<Value>>,
    /// Which kinds of change the server reports.
    pub select: MonitorSelect,
}

/// Which kinds of change a table's monitor reports (RFC 7047 `<monitor-select>`), all by
/// default. A table monitored without `insert` sees the rows of the initial snapshot and then
/// only the deletions and modifications of rows: a client that records the rows it inserts
/// itself (from the transaction's reply) is spared the server's copy of each of them. Its
/// replica then learns of deletions and modifications of rows it does not hold as tracked
/// changes without row contents ([`TrackedChange`](super::TrackedChange) with neither `old`
/// nor `new`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorSelect {
    /// Rows of the initial snapshot.
    pub initial: bool,
    /// Rows inserted later.
    pub insert: bool,
    /// Rows deleted.
    pub delete: bool,
    /// Rows modified.
    pub modify: bool,
}

impl MonitorSelect {
    /// Every kind of change (what a monitor request without `select` asks for).
    pub const ALL: Self = Self {
        initial: true,
        insert: true,
        delete: true,
        modify: true,
    };

    /// The `<monitor-select>` object, `None` when it asks for everything (left out then).
    fn to_json(self) -> Option<Value> {
        (self != Self::ALL).then(|| {
            json!({
                "initial": self.initial,
                "insert": self.insert,
                "delete": self.delete,
                "modify": self.modify,
            })
        })
    }
}

impl Default for MonitorSelect {
    fn default() -> Self {
        Self::ALL
    }
}

/// What to replicate.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MonitorSpec {
    /// The tables; empty means every table of the schema with every column.
    pub tables: Vec<TableMonitor>,
    /// Tables monitored without `insert` whose inserts are still announced, as (table, one of
    /// its monitored columns, not the only one): that column moves to a second monitor request
    /// on the table that also reports inserts (a server accepts a column in one request of a
    /// table only), so that the client learns of every row inserted (the server sends just
    /// the UUID and that column) without receiving the rows. The replica does not hold them:
    /// each is reported by [`Replica::take_changes`] as an insert with neither `old` nor `new`
    /// row (except the client's own inserts, whose notices are dropped when the reply comes).
    pub insert_notices: Vec<(String, String)>,
}

impl MonitorSpec {
    /// The table selections for `schema` (every table when the spec names none).
    pub fn selections(&self, schema: &Schema) -> Vec<TableSelection> {
        if self.tables.is_empty() {
            return schema
                .tables
                .iter()
                .map(|t| TableSelection {
                    table: t.name.clone(),
                    columns: None,
                    inserts: true,
                })
                .collect();
        }
        self.tables
            .iter()
            .map(|t| TableSelection {
                table: t.table.clone(),
                columns: t.columns.clone(),
                inserts: t.select.insert,
            })
            .collect()
    }

    /// Checks tables, columns and conditions against `schema`.
    pub fn validate(&self, schema: &Schema) -> Result<()> {
        for t in &self.tables {
            let ts = schema.table(&t.table).ok_or_else(|| {
                ClientError::SchemaMismatch(format!("the server has no table {}", t.table))
            })?;
            for c in t.columns.iter().flatten() {
                if ts.column(c).is_none() {
                    return Err(ClientError::SchemaMismatch(format!(
                        "the server's table {} has no column {c}",
                        t.table
                    )));
                }
            }
            if let Some(cond) = &t.condition {
                validate_condition(schema, &t.table, cond)?;
            }
        }
        Ok(())
    }

    /// The `<monitor-requests>` / `<monitor-cond-requests>` object for `replica`'s tables.
    pub fn requests(&self, replica: &Replica, method: MonitorMethod) -> Value {
        let mut m = Map::new();
        for name in replica.table_names() {
            let Some(ts) = replica.schema().table(name) else {
                continue;
            };
            // The server accepts a column in one request of a table only: the notice column
            // moves to a second request that also reports inserts.
            let notice = self
                .insert_notices
                .iter()
                .find(|(t, _)| t == name)
                .map(|(_, c)| c.as_str());
            let cols: Vec<Value> = replica
                .monitored_columns(name)
                .unwrap_or(&[])
                .iter()
                .map(|&c| ts.columns[c].name.as_str())
                .filter(|c| Some(*c) != notice)
                .map(|c| json!(c))
                .collect();
            let select = self.select(name);
            let cond = self
                .condition(name)
                .filter(|_| method != MonitorMethod::Plain);
            let mut r = Map::new();
            r.insert("columns".into(), Value::Array(cols));
            if let Some(sel) = select.to_json() {
                r.insert("select".into(), sel);
            }
            if let Some(cond) = cond {
                r.insert("where".into(), Value::Array(cond.to_vec()));
            }
            let mut requests = vec![Value::Object(r)];
            if let Some(col) = notice {
                let mut n = Map::new();
                n.insert("columns".into(), json!([col]));
                n.insert(
                    "select".into(),
                    json!({"initial": select.initial, "insert": true, "delete": false,
                           "modify": select.modify}),
                );
                if let Some(cond) = cond {
                    n.insert("where".into(), Value::Array(cond.to_vec()));
                }
                requests.push(Value::Object(n));
            }
            m.insert(name.to_owned(), Value::Array(requests));
        }
        Value::Object(m)
    }

    /// The condition of `table`, if any.
    pub fn condition(&self, table: &str) -> Option<&[Value]> {
        self.tables
            .iter()
            .find(|t| t.table == table)
            .and_then(|t| t.condition.as_deref())
    }

    /// What the monitor of `table` reports (everything for a table not in the spec).
    pub fn select(&self, table: &str) -> MonitorSelect {
        self.tables
            .iter()
            .find(|t| t.table == table)
            .map_or(MonitorSelect::ALL, |t| t.select)
    }

    /// Sets the condition of `table` (which must be in the spec, or the spec must be empty-all).
    pub fn set_condition(&mut self, table: &str, condition: Option<Vec<Value>>) {
        match self.tables.iter_mut().find(|t| t.table == table) {
            Some(t) => t.condition = condition,
            None => self.tables.push(TableMonitor {
                table: table.to_owned(),
                columns: None,
                condition,
                select: MonitorSelect::ALL,
            }),
        }
    }
}

/// Checks a condition against the table's schema, as the server would.
pub fn validate_condition(schema: &Schema, table: &str, cond: &[Value]) -> Result<()> {
    let ts = schema
        .table(table)
        .ok_or_else(|| ClientError::InvalidMonitor(format!("no table {table}")))?;
    Condition::from_json(ts, cond, &mut NoSymbols)
        .map(drop)
        .map_err(|e| ClientError::InvalidMonitor(format!("condition on {table}: {e}")))
}

/// The `_Server.Database` row of one database, as a server reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatabaseStatus {
    /// `standalone`, `clustered` or `relay`.
    pub model: String,
    /// For clustered databases: whether the server is connected to the cluster.
    pub connected: bool,
    /// For clustered databases: whether the server is the leader.
    pub leader: bool,
    /// The Raft log index the server's copy reflects.
    pub index: Option<i64>,
    /// The cluster id.
    pub cid: Option<Uuid>,
    /// The database schema as JSON text, when reported.
    pub schema: Option<String>,
}

impl DatabaseStatus {
    /// Reads the status from a `_Server` replica (the row whose `name` is `db`).
    pub fn from_server_replica(server: &Replica, db: &str) -> Option<Self> {
        let t = server.table("Database")?;
        let ts = t.schema();
        let col = |name: &str| ts.column_index(name);
        let name_col = col("name")?;
        let row = t.rows().find(|r| {
            r.field(name_col)
                .first()
                .is_some_and(|a| matches!(a, crate::Atom::String(s) if &**s == db))
        })?;
        let get = |name: &str| col(name).and_then(|c| row.field(c).first().cloned());
        let string = |name: &str| match get(name) {
            Some(crate::Atom::String(s)) => Some(s.to_string()),
            _ => None,
        };
        let boolean = |name: &str| matches!(get(name), Some(crate::Atom::Boolean(true)));
        Some(Self {
            model: string("model").unwrap_or_default(),
            connected: boolean("connected"),
            leader: boolean("leader"),
            index: match get("index") {
                Some(crate::Atom::Integer(i)) => Some(i),
                _ => None,
            },
            cid: get("cid").and_then(|a| a.as_uuid()),
            schema: string("schema"),
        })
    }
}

/// What the client remembers about the cluster across connections.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterMemory {
    /// The highest Raft index seen on any member.
    pub max_index: Option<i64>,
    /// The cluster id first seen.
    pub cid: Option<Uuid>,
}

/// Whether a server's view of the database is acceptable: `Err(reason)` to move on to the next remote.
pub fn check_status(
    status: &DatabaseStatus,
    leader_only: bool,
    memory: &ClusterMemory,
) -> std::result::Result<(), String> {
    if status.model != "clustered" {
        return Ok(());
    }
    if !status.connected {
        return Err("server is not connected to its cluster".into());
    }
    if leader_only && !status.leader {
        return Err("server is not the cluster leader".into());
    }
    if let (Some(seen), Some(cid)) = (memory.cid, status.cid) {
        if seen != cid {
            return Err(format!("server belongs to cluster {cid}, not {seen}"));
        }
    }
    if let (Some(max), Some(idx)) = (memory.max_index, status.index) {
        if idx < max {
            return Err(format!(
                "server's copy is stale (index {idx} < {max} seen before)"
            ));
        }
    }
    Ok(())
}

impl ClusterMemory {
    /// Records what an accepted server reported.
    pub fn remember(&mut self, status: &DatabaseStatus) {
        if status.model != "clustered" {
            return;
        }
        if self.cid.is_none() {
            self.cid = status.cid;
        }
        if let Some(i) = status.index {
            self.max_index = Some(self.max_index.map_or(i, |m| m.max(i)));
        }
    }
}

/// Exponential backoff with jitter between reconnection rounds.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// Starts at `min`, doubles up to `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        Self {
            min,
            max: max.max(min),
            current: min,
        }
    }

    /// The next delay: the current step scaled by a random factor in [0.5, 1.5), then the step doubles.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let factor: f64 = rng.random_range(0.5..1.5);
        let d = self.current.mul_f64(factor);
        self.current = (self.current * 2).min(self.max);
        d
    }

    /// Back to the minimum (after a successful connection).
    pub fn reset(&mut self) {
        self.current = self.min;
    }
}
