//! Side-by-side timing of the engine workloads of `benches/ovsdb_engine.rs` on a real
//! ovsdb-server (one persistent connection) and in process. Ignored by default; run with
//! `cargo test --release -p ovsdb --test it bench_compare -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use ovsdb::Database;
use serde_json::{json, Value};

use crate::oracle::{ours, test_schema_path, Oracle};

fn insert_ops(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({"op": "insert", "table": "Parent", "row": {
                    "name": format!("row{i}"), "count": (i % 100) as i64,
                    "ext": ["map", [["k", format!("v{i}")]]], "nums": ["set", [i as i64, i as i64 + 1]]}})
            })
            .collect(),
    )
}

fn uuids(results: &Value) -> Vec<String> {
    results
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["uuid"][1].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the three workloads through `run`; returns their durations.
fn workloads(mut run: impl FnMut(&Value) -> Value) -> [Duration; 3] {
    let t = Instant::now();
    let r = run(&insert_ops(50_000));
    let bulk = t.elapsed();
    let ids = uuids(&r);
    assert_eq!(ids.len(), 50_000);
    let t = Instant::now();
    for (i, u) in ids.iter().take(10_000).enumerate() {
        let r = run(
            &json!([{"op": "update", "table": "Parent", "where": [["_uuid", "==", ["uuid", u]]], "row": {"count": (i % 7) as i64}}]),
        );
        assert_eq!(r[0]["count"], 1, "{r}");
    }
    let updates = t.elapsed();
    let big: Vec<i64> = (0..10_000).collect();
    let r = run(
        &json!([{"op": "insert", "table": "Parent", "row": {"name": "big", "nums": ["set", big]}}]),
    );
    let big_uuid = uuids(&r).pop().unwrap_or_default();
    let t = Instant::now();
    for i in 0..500 {
        let m = if i % 2 == 0 { "insert" } else { "delete" };
        let r = run(
            &json!([{"op": "mutate", "table": "Parent", "where": [["_uuid", "==", ["uuid", big_uuid]]], "mutations": [["nums", m, 20_000]]}]),
        );
        assert_eq!(r[0]["count"], 1, "{r}");
    }
    let mutate = t.elapsed() / 500;
    [bulk, updates, mutate]
}

#[test]
#[ignore = "timing run; use --release --ignored"]
fn real_server_vs_engine() {
    let Some(mut oracle) = Oracle::start(&test_schema_path()) else {
        return;
    };
    let theirs = workloads(|ops| oracle.transact(ops));
    let mut db = Database::new(oracle.schema.clone());
    let name = oracle.db.clone();
    let mine = workloads(|ops| ours(&mut db, &name, ops));
    let labels = [
        "bulk insert 50k rows, one txn",
        "10k single-row update txns (total)",
        "mutate 10k-element set (per txn)",
    ];
    for i in 0..3 {
        eprintln!(
            "{:<40} ovsdb-server {:>10.2?}   ovnkit engine {:>10.2?}   ratio {:.1}x",
            labels[i],
            theirs[i],
            mine[i],
            theirs[i].as_secs_f64() / mine[i].as_secs_f64()
        );
    }
}

#[test]
#[ignore = "timing run; use --release --ignored"]
fn engine_only() {
    let text = std::fs::read_to_string(test_schema_path()).expect("schema");
    let mut db = Database::new(ovsdb::Schema::from_str_json(&text).expect("schema"));
    let mine = workloads(|ops| ours(&mut db, "Test", ops));
    eprintln!(
        "engine: bulk {:?}, updates {:?}, mutate/txn {:?}",
        mine[0], mine[1], mine[2]
    );
}
