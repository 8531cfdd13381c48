//! Differential testing against a real ovsdb-server 3.1: a tiny synchronous JSON-RPC client, UUID
//! renaming, and a runner that feeds the same transactions to our engine and to the server.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;

use ovsdb::{Database, Schema, TxnContext, TxnOutcome};
use serde_json::{json, Value};

/// Path of the test schema.
pub(crate) fn test_schema_path() -> String {
    format!("{}/tests/data/test.ovsschema", env!("CARGO_MANIFEST_DIR"))
}

/// Path of the installed OVN NB schema.
pub(crate) const NB_SCHEMA: &str = "/usr/share/ovn/ovn-nb.ovsschema";

/// A real ovsdb-server (started by testkit, killed on drop) and a connection to it.
pub(crate) struct Oracle {
    _sandbox: testkit::Sandbox,
    writer: UnixStream,
    reader: serde_json::StreamDeserializer<'static, serde_json::de::IoRead<UnixStream>, Value>,
    next_id: u64,
    /// The database file the server writes.
    pub(crate) db_file: std::path::PathBuf,
    /// Database name.
    pub(crate) db: String,
    /// The parsed schema.
    pub(crate) schema: Schema,
    /// Process id of the server.
    pub(crate) server_pid: Option<u32>,
}

impl Oracle {
    /// Starts a server for `schema_path`, or returns `None` (after printing why) when the real
    /// OVN/OVS programs are missing outside CI.
    pub(crate) fn start(schema_path: &str) -> Option<Self> {
        let toolbox = testkit::require_or_skip!(None);
        let mut sandbox = testkit::Sandbox::new(&toolbox).expect("sandbox");
        let server = sandbox
            .start_ovsdb_server("db", Path::new(schema_path))
            .expect("start ovsdb-server");
        let stream = UnixStream::connect(server.socket()).expect("connect");
        let reader = serde_json::Deserializer::from_reader(stream.try_clone().expect("clone"))
            .into_iter::<Value>();
        let text = std::fs::read_to_string(schema_path).expect("schema");
        let schema = Schema::from_str_json(&text).expect("schema parses");
        let server_pid = sandbox.pids().first().copied();
        Some(Self {
            _sandbox: sandbox,
            writer: stream,
            reader,
            next_id: 1,
            db_file: server.db_file().to_path_buf(),
            db: server.db_name().to_owned(),
            schema,
            server_pid,
        })
    }

    /// Sends one request and returns its `result` (or its `error` when there is no result).
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let req = json!({"method": method, "params": params, "id": id});
        self.writer
            .write_all(req.to_string().as_bytes())
            .expect("send");
        loop {
            let msg = self.reader.next().expect("reply").expect("valid JSON");
            if msg.get("method").and_then(Value::as_str) == Some("echo") {
                let reply = json!({"result": msg["params"], "error": null, "id": msg["id"]});
                self.writer
                    .write_all(reply.to_string().as_bytes())
                    .expect("send");
                continue;
            }
            if msg.get("id") == Some(&json!(id)) {
                return if msg["result"].is_null() {
                    msg["error"].clone()
                } else {
                    msg["result"].clone()
                };
            }
        }
    }

    /// Runs one transaction (`ops` is the operation array) on the server.
    pub(crate) fn transact(&mut self, ops: &Value) -> Value {
        let mut params = vec![json!(self.db)];
        params.extend(ops.as_array().cloned().unwrap_or_default());
        self.call("transact", Value::Array(params))
    }

    /// Deletes every row of every table.
    pub(crate) fn reset(&mut self) {
        let ops: Vec<Value> = self
            .schema
            .tables
            .iter()
            .map(|t| json!({"op": "delete", "table": t.name, "where": []}))
            .collect();
        let r = self.transact(&Value::Array(ops));
        assert!(
            r.as_array()
                .is_some_and(|a| a.iter().all(|x| x.get("error").is_none())),
            "reset failed: {r}"
        );
    }

    /// A select of every row of every table, as one transaction.
    pub(crate) fn dump_ops(&self) -> Value {
        Value::Array(
            self.schema
                .tables
                .iter()
                .map(|t| json!({"op": "select", "table": t.name, "where": []}))
                .collect(),
        )
    }
}

/// Runs a transaction on our engine.
pub(crate) fn ours(db: &mut Database, name: &str, ops: &Value) -> Value {
    let mut params = vec![json!(name)];
    params.extend(ops.as_array().cloned().unwrap_or_default());
    match db.transact(&Value::Array(params), &TxnContext::default()) {
        TxnOutcome::Complete { results, .. } => results,
        TxnOutcome::Blocked { timeout_ms } => json!({"blocked": timeout_ms}),
    }
}

/// Renames UUIDs in order of appearance, drops error `details`/`syntax`, and sorts `rows`
/// arrays, so that results of two servers compare equal when they mean the same.
pub(crate) fn normalize(results: &[Value]) -> Vec<Value> {
    normalize_keeping(results, &[])
}

/// Like [`normalize`], but UUIDs that appear in the input (`fixed`, e.g. explicit `"uuid"`s of
/// inserts) keep their text.
pub(crate) fn normalize_keeping(results: &[Value], fixed: &[String]) -> Vec<Value> {
    let mut names: HashMap<String, String> = fixed.iter().map(|u| (u.clone(), u.clone())).collect();
    // Pass 1: UUIDs outside "rows" arrays, in order.
    for r in results {
        collect(r, &mut names, false);
    }
    // Pass 2: inside rows, after renaming known UUIDs and sorting.
    let mut out: Vec<Value> = results.iter().map(|r| rename(r, &names)).collect();
    let known: HashSet<String> = names.values().cloned().collect();
    for r in &mut out {
        *r = sort_sets_masked(r, &known);
        sort_rows(r, &known);
    }
    for r in &out {
        collect(r, &mut names, true);
    }
    out.iter().map(|r| sort_sets(&rename(r, &names))).collect()
}

/// Sorts set and map contents with unknown UUIDs masked, so that unknown UUIDs get their names
/// in an order both sides agree on.
fn sort_sets_masked(v: &Value, known: &HashSet<String>) -> Value {
    match v {
        Value::Array(a) => {
            let mut a: Vec<Value> = a.iter().map(|x| sort_sets_masked(x, known)).collect();
            if a.len() == 2 && (a[0] == "set" || a[0] == "map") {
                if let Value::Array(inner) = &mut a[1] {
                    inner.sort_by_cached_key(|x| canonical(&mask_unknown(x, known)));
                }
            }
            Value::Array(a)
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), sort_sets_masked(x, known)))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// Re-sorts `["set", ...]` and `["map", ...]` contents, whose order depends on raw UUIDs.
pub(crate) fn sort_sets(v: &Value) -> Value {
    match v {
        Value::Array(a) => {
            let mut a: Vec<Value> = a.iter().map(sort_sets).collect();
            if a.len() == 2 && (a[0] == "set" || a[0] == "map") {
                if let Value::Array(inner) = &mut a[1] {
                    inner.sort_by_cached_key(canonical);
                }
            }
            Value::Array(a)
        }
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), sort_sets(x))).collect())
        }
        _ => v.clone(),
    }
}

fn is_uuid_pair(v: &Value) -> Option<&str> {
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == "uuid" => {
            a[1].as_str().filter(|s| s.len() == 36)
        }
        _ => None,
    }
}

pub(crate) fn collect(v: &Value, names: &mut HashMap<String, String>, inside_rows: bool) {
    if let Some(u) = is_uuid_pair(v) {
        let n = names.len();
        names
            .entry(u.to_owned())
            .or_insert_with(|| format!("<{n}>"));
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect(x, names, inside_rows)),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                if k == "rows" && !inside_rows {
                    continue;
                }
                collect(&m[k], names, inside_rows);
            }
        }
        _ => {}
    }
}

pub(crate) fn rename(v: &Value, names: &HashMap<String, String>) -> Value {
    if let Some(u) = is_uuid_pair(v) {
        if let Some(n) = names.get(u) {
            return json!(["uuid", n]);
        }
        return v.clone();
    }
    match v {
        Value::Array(a) => Value::Array(a.iter().map(|x| rename(x, names)).collect()),
        Value::Object(m) => {
            let mut o = serde_json::Map::new();
            let is_error = m.contains_key("error") && m.get("error").is_some_and(Value::is_string);
            for (k, x) in m {
                if is_error && (k == "details" || k == "syntax") {
                    continue;
                }
                o.insert(k.clone(), rename(x, names));
            }
            Value::Object(o)
        }
        _ => v.clone(),
    }
}

fn mask_unknown(v: &Value, known: &HashSet<String>) -> Value {
    if let Some(u) = is_uuid_pair(v) {
        if !known.contains(u) {
            return json!(["uuid", "?"]);
        }
    }
    match v {
        Value::Array(a) => Value::Array(a.iter().map(|x| mask_unknown(x, known)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), mask_unknown(x, known)))
                .collect(),
        ),
        _ => v.clone(),
    }
}

fn sort_rows(v: &mut Value, known: &HashSet<String>) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| sort_rows(x, known)),
        Value::Object(m) => {
            if let Some(Value::Array(rows)) = m.get_mut("rows") {
                rows.sort_by_cached_key(|r| canonical(&mask_unknown(r, known)));
            }
        }
        _ => {}
    }
}

/// JSON text with object keys sorted.
pub(crate) fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", json!(k), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        _ => v.to_string(),
    }
}

/// Runs `txns` on a fresh engine and on the (reset) server, then dumps both; returns a
/// description of the first difference.
pub(crate) fn compare(oracle: &mut Oracle, txns: &[Value]) -> Result<(), String> {
    oracle.reset();
    let mut db = Database::new(oracle.schema.clone());
    let name = oracle.db.clone();
    let mut theirs = Vec::new();
    let mut mine = Vec::new();
    let dump = oracle.dump_ops();
    for ops in txns.iter().chain(std::iter::once(&dump)) {
        theirs.push(oracle.transact(ops));
        mine.push(ours(&mut db, &name, ops));
    }
    let mut fixed = Vec::new();
    for t in txns {
        input_uuids(t, &mut fixed);
    }
    let a = normalize_keeping(&theirs, &fixed);
    let b = normalize_keeping(&mine, &fixed);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if canonical(x) != canonical(y) {
            let what = if i < txns.len() {
                format!("transaction {i}: {}", txns[i])
            } else {
                "final dump".into()
            };
            return Err(format!(
                "{what}\n  ovsdb-server: {}\n  ours:         {}",
                clip(&canonical(x)),
                clip(&canonical(y)),
            ));
        }
    }
    Ok(())
}

/// Runs every case, reporting all failures at once.
pub(crate) fn run_cases(schema_path: &str, cases: &[(&str, Vec<Value>)]) {
    let Some(mut oracle) = Oracle::start(schema_path) else {
        return;
    };
    let mut failures = Vec::new();
    for (name, txns) in cases {
        if let Err(e) = compare(&mut oracle, txns) {
            failures.push(format!("case {name}: {e}"));
        }
    }
    eprintln!(
        "{} differential cases, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn clip(s: &str) -> String {
    if s.len() > 3000 {
        let mut end = 3000;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_owned()
    }
}

/// UUID strings that appear in the input, which both sides share.
pub(crate) fn input_uuids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if looks_like_uuid(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| input_uuids(x, out)),
        Value::Object(m) => m.values().for_each(|x| input_uuids(x, out)),
        _ => {}
    }
}

pub(crate) fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}
