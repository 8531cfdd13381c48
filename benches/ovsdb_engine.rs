//! Criterion benchmarks of the in-process OVSDB transaction engine (`ovsdb::Database`).
//!
//! Workloads: one transaction inserting 50k rows; 10k single-row update transactions; mutate
//! (insert/delete one element) on a 10k-element set. The same workloads against a real
//! ovsdb-server over one persistent connection are timed by the `ovsdb` crate's ignored test
//! `bench_compare::real_server_vs_engine`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ovsdb::{Database, Schema, TxnContext, TxnOutcome};
use serde_json::{json, Value};

fn schema() -> Schema {
    Schema::from_str_json(ovsdb::fuzz::FUZZ_SCHEMA).expect("test schema")
}

fn transact(db: &mut Database, ops: Vec<Value>) -> Value {
    let mut params = vec![json!("Test")];
    params.extend(ops);
    match db.transact(&Value::Array(params), &TxnContext::default()) {
        TxnOutcome::Complete { results, .. } => results,
        TxnOutcome::Blocked { .. } => Value::Null,
    }
}

fn insert_ops(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"op": "insert", "table": "Parent", "row": {
                "name": format!("row{i}"), "count": (i % 100) as i64,
                "ext": ["map", [["k", format!("v{i}")]]], "nums": ["set", [i as i64, i as i64 + 1]]}})
        })
        .collect()
}

fn populated(n: usize) -> (Database, Vec<String>) {
    let mut db = Database::with_seed(schema(), 1);
    let r = transact(&mut db, insert_ops(n));
    let uuids = r
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["uuid"][1].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (db, uuids)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("ovsdb_engine");
    g.sample_size(10);
    g.bench_function("bulk_insert_50k_rows_one_txn", |b| {
        b.iter_batched(
            || (Database::with_seed(schema(), 1), insert_ops(50_000)),
            |(mut db, ops)| transact(&mut db, ops),
            BatchSize::LargeInput,
        )
    });
    let (mut db, uuids) = populated(10_000);
    let mut k = 0i64;
    g.bench_function("update_10k_single_row_txns", |b| {
        b.iter(|| {
            for u in &uuids {
                k = (k + 1) % 100;
                transact(
                    &mut db,
                    vec![json!({"op": "update", "table": "Parent", "where": [["_uuid", "==", ["uuid", u]]], "row": {"count": k}})],
                );
            }
        })
    });
    let mut db = Database::with_seed(schema(), 1);
    let big: Vec<i64> = (0..10_000).collect();
    transact(
        &mut db,
        vec![
            json!({"op": "insert", "table": "Parent", "row": {"name": "big", "nums": ["set", big]}}),
        ],
    );
    g.bench_function("mutate_10k_element_set", |b| {
        b.iter(|| {
            transact(
                &mut db,
                vec![json!({"op": "mutate", "table": "Parent", "where": [["name", "==", "big"]], "mutations": [["nums", "insert", 20_000]]})],
            );
            transact(
                &mut db,
                vec![json!({"op": "mutate", "table": "Parent", "where": [["name", "==", "big"]], "mutations": [["nums", "delete", 20_000]]})],
            );
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
