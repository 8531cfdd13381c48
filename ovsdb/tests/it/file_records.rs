//! The transaction records our change sets turn into, and the replay of records, compared with
//! the database file a real ovsdb-server writes for the same transactions.

use std::collections::HashMap;

use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::{json, Value};

use crate::oracle::{canonical, collect, rename, test_schema_path, Oracle};

/// Reads the records of a standalone database file ("OVSDB JSON <len> <sha1>\n<json>\n"...).
fn read_records(path: &std::path::Path) -> Vec<Value> {
    let data = std::fs::read(path).expect("db file");
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let Some(nl) = data[pos..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let header = std::str::from_utf8(&data[pos..pos + nl]).expect("header");
        let len: usize = header
            .split(' ')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .expect("length");
        let start = pos + nl + 1;
        out.push(serde_json::from_slice(&data[start..start + len]).expect("record"));
        pos = start + len + 1;
    }
    out
}

/// Renames row UUIDs used as object keys, drops `_date`.
fn normalize_record(rec: &Value, names: &HashMap<String, String>) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in rec.as_object().into_iter().flatten() {
        if k == "_date" {
            continue;
        }
        let v = match v {
            Value::Object(rows) => Value::Object(
                rows.iter()
                    .map(|(u, r)| {
                        (
                            names.get(u).cloned().unwrap_or_else(|| u.clone()),
                            crate::oracle::sort_sets(&rename(r, names)),
                        )
                    })
                    .collect(),
            ),
            other => other.clone(),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

#[test]
fn file_records_and_replay_match_ovsdb_server() {
    let Some(mut oracle) = Oracle::start(&test_schema_path()) else {
        return;
    };
    let cases = crate::corpus::cases();
    let mut seen = read_records(&oracle.db_file).len();
    let mut failures = Vec::new();
    let mut n_records = 0;
    for (name, txns) in &cases {
        oracle.reset();
        seen = read_records(&oracle.db_file).len().max(seen);
        let mut db = Database::new(oracle.schema.clone());
        let mut fixed = Vec::new();
        for t in txns {
            crate::oracle::input_uuids(t, &mut fixed);
        }
        let mut their_names: HashMap<String, String> =
            fixed.iter().map(|u| (u.clone(), u.clone())).collect();
        let mut my_names = their_names.clone();
        for ops in txns {
            let theirs = oracle.transact(ops);
            let mut params = vec![json!(oracle.db)];
            params.extend(ops.as_array().cloned().unwrap_or_default());
            let (mine, changes) = match db.transact(&Value::Array(params), &TxnContext::default()) {
                TxnOutcome::Complete { results, changes } => (results, changes),
                TxnOutcome::Blocked { .. } => panic!("blocked"),
            };
            let recs = read_records(&oracle.db_file);
            let new: Vec<Value> = recs[seen..].to_vec();
            seen = recs.len();
            let my_rec = changes.and_then(|c| c.to_file_record(&oracle.schema, None));
            // UUID names from both sides' results, in order of appearance.
            collect(&theirs, &mut their_names, false);
            collect(&mine, &mut my_names, false);
            let a: Vec<String> = new
                .iter()
                .map(|r| canonical(&normalize_record(r, &their_names)))
                .collect();
            let b: Vec<String> = my_rec
                .iter()
                .map(|r| canonical(&normalize_record(r, &my_names)))
                .collect();
            n_records += a.len();
            if a != b {
                failures.push(format!(
                    "case {name}: {ops}\n  ovsdb-server: {a:?}\n  ours:         {b:?}"
                ));
                break;
            }
        }
    }
    // Replay the server's whole file into a fresh engine: the contents must match the server's.
    let recs = read_records(&oracle.db_file);
    let mut replayed = Database::new(oracle.schema.clone());
    for (i, r) in recs.iter().enumerate().skip(1) {
        if let Err(e) = replayed.replay_record(r) {
            failures.push(format!("replay of record {i} failed: {e}\n  {r}"));
            break;
        }
    }
    let dump: Vec<Value> = oracle
        .schema
        .tables
        .iter()
        .map(|t| {
            let cols: Vec<&str> = t
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .filter(|c| *c != "_version")
                .collect();
            json!({"op": "select", "table": t.name, "where": [], "columns": cols})
        })
        .collect();
    let theirs = oracle.transact(&Value::Array(dump.clone()));
    let mine = crate::oracle::ours(&mut replayed, &oracle.db, &Value::Array(dump));
    let (a, b) = (
        crate::oracle::normalize(&[theirs]),
        crate::oracle::normalize(&[mine]),
    );
    if canonical(&a[0]) != canonical(&b[0]) {
        failures.push(format!(
            "replayed contents differ:\n  ovsdb-server: {}\n  ours: {}",
            canonical(&a[0]),
            canonical(&b[0])
        ));
    }
    eprintln!(
        "{} cases, {n_records} file records compared, {} records replayed",
        cases.len(),
        recs.len() - 1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
