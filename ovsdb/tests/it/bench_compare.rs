//! Side-by-side timing of the engine workloads of `benches/ovsdb_engine.rs` on a real
//! ovsdb-server (one persistent connection) and in process. Ignored by default; run with
//! `cargo test --release -p ovsdb --test it bench_compare -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use ovsdb::Database;
use serde_json::{json, Value};

use crate::oracle::{test_schema_path, Oracle};

/// Runs a transaction on our engine, moving `ops` into the request instead of copying it (the
/// request is dropped, as a server drops a parsed request, inside the timed section).
fn ours_owned(db: &mut Database, name: &str, ops: Value) -> Value {
    let mut params = vec![json!(name)];
    if let Value::Array(ops) = ops {
        params.extend(ops);
    }
    match db.transact(&Value::Array(params), &ovsdb::TxnContext::default()) {
        ovsdb::TxnOutcome::Complete { results, .. } => results,
        ovsdb::TxnOutcome::Blocked { timeout_ms } => json!({"blocked": timeout_ms}),
    }
}

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

/// Time a thread has spent on a CPU (`/proc/.../schedstat`, nanoseconds): `None` for this
/// thread, else the main thread of process `pid`. Unlike wall-clock time, it does not count the
/// time spent waiting for one of the machine's busy cores.
fn cpu_time(pid: Option<u32>) -> Duration {
    let path = match pid {
        Some(p) => format!("/proc/{p}/schedstat"),
        None => "/proc/thread-self/schedstat".to_owned(),
    };
    let ns = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// Wall-clock and CPU time of one workload.
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Duration,
}

/// Runs the three workloads through `run`, reading CPU time with `cpu`; returns their timings
/// (the mutate one per transaction).
fn workloads(mut run: impl FnMut(Value) -> Value, cpu: impl Fn() -> Duration) -> [Timing; 3] {
    let c = cpu();
    let (bulk, ids) = bulk_insert(&mut run);
    let bulk = Timing {
        wall: bulk,
        cpu: cpu().saturating_sub(c),
    };
    assert_eq!(ids.len(), 50_000);
    let c = cpu();
    let updates = Timing {
        wall: single_row_updates(&mut run, &ids),
        cpu: cpu().saturating_sub(c),
    };
    let big: Vec<i64> = (0..10_000).collect();
    let r = run(
        json!([{"op": "insert", "table": "Parent", "row": {"name": "big", "nums": ["set", big]}}]),
    );
    let big_uuid = uuids(&r).pop().unwrap_or_default();
    let c = cpu();
    let mutate = Timing {
        wall: set_mutates(&mut run, &big_uuid) / 500,
        cpu: cpu().saturating_sub(c) / 500,
    };
    [bulk, updates, mutate]
}

// The three timed workloads are separate, never-inlined functions so that a profiler can count
// each alone, e.g. `valgrind --tool=callgrind --collect-atstart=no
// --toggle-collect='*bench_compare*set_mutates*' <it binary> engine_only --ignored`.

/// One transaction inserting 50k rows; returns its duration and the new rows' UUIDs.
#[inline(never)]
fn bulk_insert(run: &mut impl FnMut(Value) -> Value) -> (Duration, Vec<String>) {
    let ops = insert_ops(50_000);
    let t = Instant::now();
    let r = run(ops);
    let elapsed = t.elapsed();
    (elapsed, uuids(&r))
}

/// 10k transactions, each updating one row by UUID.
#[inline(never)]
fn single_row_updates(run: &mut impl FnMut(Value) -> Value, ids: &[String]) -> Duration {
    let t = Instant::now();
    for (i, u) in ids.iter().take(10_000).enumerate() {
        let r = run(
            json!([{"op": "update", "table": "Parent", "where": [["_uuid", "==", ["uuid", u]]], "row": {"count": (i % 7) as i64}}]),
        );
        assert_eq!(r[0]["count"], 1, "{r}");
    }
    t.elapsed()
}

/// 500 transactions alternately inserting and deleting one element of a 10k-element set.
#[inline(never)]
fn set_mutates(run: &mut impl FnMut(Value) -> Value, big_uuid: &str) -> Duration {
    let t = Instant::now();
    for i in 0..500 {
        let m = if i % 2 == 0 { "insert" } else { "delete" };
        let r = run(
            json!([{"op": "mutate", "table": "Parent", "where": [["_uuid", "==", ["uuid", big_uuid]]], "mutations": [["nums", m, 20_000]]}]),
        );
        assert_eq!(r[0]["count"], 1, "{r}");
    }
    t.elapsed()
}

#[test]
#[ignore = "timing run; use --release --ignored"]
fn real_server_vs_engine() {
    let Some(mut oracle) = Oracle::start(&test_schema_path()) else {
        return;
    };
    let pid = oracle.server_pid;
    let theirs = workloads(|ops| oracle.transact(&ops), || cpu_time(pid));
    let mut db = Database::new(oracle.schema.clone());
    let name = oracle.db.clone();
    let mine = workloads(|ops| ours_owned(&mut db, &name, ops), || cpu_time(None));
    let labels = [
        "bulk insert 50k rows, one txn",
        "10k single-row update txns (total)",
        "mutate 10k-element set (per txn)",
    ];
    // Wall-clock time includes waiting for a core on a loaded machine; CPU time counts the server
    // process's main thread and, for the engine, the calling thread (which also builds the
    // requests).
    for i in 0..3 {
        eprintln!(
            "{:<38} wall: ovsdb-server {:>9.2?}  engine {:>9.2?}  ratio {:>5.1}x   \
             CPU: ovsdb-server {:>9.2?}  engine {:>9.2?}  ratio {:>5.1}x",
            labels[i],
            theirs[i].wall,
            mine[i].wall,
            theirs[i].wall.as_secs_f64() / mine[i].wall.as_secs_f64(),
            theirs[i].cpu,
            mine[i].cpu,
            theirs[i].cpu.as_secs_f64() / mine[i].cpu.as_secs_f64().max(1e-9)
        );
    }
}

#[test]
#[ignore = "timing run; use --release --ignored"]
fn engine_only() {
    let text = std::fs::read_to_string(test_schema_path()).expect("schema");
    let mut db = Database::new(ovsdb::Schema::from_str_json(&text).expect("schema"));
    let mine = workloads(|ops| ours_owned(&mut db, "Test", ops), || cpu_time(None));
    eprintln!(
        "engine: bulk {:?}, updates {:?}, mutate/txn {:?}",
        mine[0].wall, mine[1].wall, mine[2].wall
    );
}
