//! One pod added to a large OVN-Kubernetes cluster, in process (ignored by default; run with
//! `cargo test --release -p northd --test incremental_scale -- --ignored --nocapture`).
//!
//! The cluster is compiled by an incremental [`Engine`] into an in-memory Southbound database;
//! then pods are added one at a time with the NB transaction `ovnkit northd`'s pod-add
//! benchmark writes (the port, the node switch's `ports`, the address sets and port groups of
//! a sibling pod, an `nb_cfg` bump). Each step prints the thread CPU time of the engine's
//! `apply` (with its phases), of `plan`, and of applying the operations to the in-memory SB,
//! and what the SB transaction holds (operations by table and kind, JSON size). The last step
//! is checked against a full build of the same NB.

mod shapes;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use northd::diff::{plan, SbRows};
use northd::incremental::{Engine, NbChange, RowsLookup, Step};
use northd::{build, NbSnapshot, SbState};
use ovsdb::{Database, Row, TxnContext, TxnOutcome};
use serde_json::{json, Value};
use uuid::Uuid;

/// CPU time this thread has used (from `/proc/thread-self/schedstat`; zero where missing).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let c = thread_cpu();
    let out = f();
    (out, thread_cpu().saturating_sub(c))
}

fn transact(db: &mut Database, params: &Value) -> Value {
    match db.transact(params, &TxnContext::default()) {
        TxnOutcome::Complete { results, .. } => {
            if let Some(e) = northd::embedded::first_error(&results) {
                panic!("transaction failed: {e}");
            }
            results
        }
        TxnOutcome::Blocked { .. } => panic!("blocked"),
    }
}

fn select(db: &mut Database, table: &str) -> Vec<Value> {
    let r = transact(
        db,
        &json!(["OVN_Northbound", {"op": "select", "table": table, "where": []}]),
    );
    r[0]["rows"].as_array().cloned().unwrap_or_default()
}

fn set_members(v: &Value) -> Vec<Value> {
    match v.as_array().map(Vec::as_slice) {
        Some([tag, Value::Array(items)]) if tag == "set" => items.clone(),
        _ => vec![v.clone()],
    }
}

/// The pod to copy (as `northd_pod_add` picks it): its row, node switch, and the address sets
/// and port groups holding it.
struct Template {
    row: serde_json::Map<String, Value>,
    switch: String,
    sets: Vec<String>,
    groups: Vec<String>,
}

fn template(db: &mut Database) -> Template {
    let lsps = select(db, "Logical_Switch_Port");
    let pod = lsps
        .iter()
        .find(|r| r["name"] == "ns0_pod-0")
        .cloned()
        .expect("a pod port");
    let uuid = pod["_uuid"].clone();
    let ip = pod["addresses"]
        .as_str()
        .and_then(|a| a.split_whitespace().nth(1))
        .map(str::to_owned)
        .expect("pod address");
    let switch = select(db, "Logical_Switch")
        .into_iter()
        .find(|s| set_members(&s["ports"]).contains(&uuid))
        .and_then(|s| s["name"].as_str().map(str::to_owned))
        .expect("pod switch");
    let uuid_of = |r: &Value| r["_uuid"][1].as_str().map(str::to_owned);
    let sets = select(db, "Address_Set")
        .iter()
        .filter(|a| set_members(&a["addresses"]).contains(&json!(ip)))
        .filter_map(uuid_of)
        .collect();
    let groups = select(db, "Port_Group")
        .iter()
        .filter(|g| set_members(&g["ports"]).contains(&uuid))
        .filter_map(uuid_of)
        .collect();
    let mut row = pod.as_object().cloned().unwrap_or_default();
    for k in ["_uuid", "_version", "up", "dynamic_addresses"] {
        row.remove(k);
    }
    Template {
        row,
        switch,
        sets,
        groups,
    }
}

/// The NB transaction adding pod `n` like the template, with an `nb_cfg` bump.
fn pod_add(t: &Template, n: usize) -> Value {
    let mac = format!("0a:58:0a:ff:{:02x}:{:02x}", n / 256, n % 256);
    let ip = format!("10.255.{}.{}", n / 250, n % 250 + 2);
    let mut row = t.row.clone();
    row.insert("name".into(), json!(format!("ns0_bench-pod-{n}")));
    row.insert("addresses".into(), json!(format!("{mac} {ip}")));
    row.insert("port_security".into(), json!(format!("{mac} {ip}")));
    let mut ops = vec![
        json!("OVN_Northbound"),
        json!({"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "pod", "row": row}),
        json!({"op": "mutate", "table": "Logical_Switch", "where": [["name", "==", t.switch]],
               "mutations": [["ports", "insert", ["set", [["named-uuid", "pod"]]]]]}),
    ];
    for s in &t.sets {
        ops.push(json!({"op": "mutate", "table": "Address_Set",
                        "where": [["_uuid", "==", ["uuid", s]]],
                        "mutations": [["addresses", "insert", ip]]}));
    }
    for g in &t.groups {
        ops.push(json!({"op": "mutate", "table": "Port_Group",
                        "where": [["_uuid", "==", ["uuid", g]]],
                        "mutations": [["ports", "insert", ["set", [["named-uuid", "pod"]]]]]}));
    }
    ops.push(json!({"op": "mutate", "table": "NB_Global", "where": [],
                    "mutations": [["nb_cfg", "+=", 1]]}));
    Value::Array(ops)
}

type Tables = BTreeMap<String, HashMap<Uuid, Arc<Row>>>;

const WATCHED: &[&str] = &[
    "NB_Global",
    "Logical_Switch",
    "Logical_Switch_Port",
    "Address_Set",
    "Port_Group",
];

fn tables(db: &Database) -> Tables {
    WATCHED
        .iter()
        .map(|t| ((*t).to_owned(), db.rows(t).cloned().unwrap_or_default()))
        .collect()
}

fn changes<'a>(before: &Tables, after: &'a Tables) -> Vec<(String, Uuid, Option<&'a Row>)> {
    let mut out = Vec::new();
    for (t, rows) in after {
        let old = before.get(t);
        for (u, r) in rows {
            if old
                .and_then(|o| o.get(u))
                .is_none_or(|o| !Arc::ptr_eq(o, r) && o.fields != r.fields)
            {
                out.push((t.clone(), *u, Some(&**r)));
            }
        }
        for u in old.into_iter().flat_map(|o| o.keys()) {
            if !rows.contains_key(u) {
                out.push((t.clone(), *u, None));
            }
        }
    }
    out
}

/// What a transaction holds: operations by table and kind.
fn summary(ops: &[Value]) -> String {
    let mut by: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for op in ops {
        let k = format!(
            "{} {}",
            op["op"].as_str().unwrap_or("?"),
            op["table"].as_str().unwrap_or("?")
        );
        let e = by.entry(k).or_default();
        e.0 += 1;
        e.1 += op.to_string().len();
    }
    by.iter()
        .map(|(k, (n, b))| format!("{k} x{n} ({b} B)"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn run(scale: shapes::ovnk::Scale, pods: usize) {
    let mut nb = shapes::ovnk::build(scale);
    let t = template(&mut nb);
    eprintln!(
        "pods join {} ({} address sets, {} port groups)",
        t.switch,
        t.sets.len(),
        t.groups.len()
    );
    let (mut engine, dt) = timed(|| {
        Engine::new(
            NbSnapshot::from_database(&nb).expect("snapshot"),
            SbState::default(),
        )
    });
    eprintln!("full compile: cpu {dt:.2?}");
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    {
        let txn = plan(&SbRows::default(), engine.content()).expect("plan");
        let params = txn.to_value().expect("value");
        drop(txn);
        transact(&mut sb, &params);
    }
    engine.release_content();
    for n in 0..pods {
        let before = tables(&nb);
        transact(&mut nb, &pod_add(&t, n));
        let after = tables(&nb);
        let rows = changes(&before, &after);
        let schema = nb.schema().clone();
        let ch: Vec<NbChange<'_>> = rows
            .iter()
            .map(|(t, u, r)| NbChange {
                table: t,
                uuid: *u,
                row: r.map(|r| (r, schema.table(t).expect("table"))),
            })
            .collect();
        let (step, apply_cpu) = timed(|| engine.apply(&ch).expect("apply"));
        let Step::Applied(delta) = step else {
            panic!("pod add not handled incrementally: {step:?}");
        };
        let current = SbRows::from_database(&sb).expect("rows");
        let lookup = RowsLookup::new(&current);
        let (ops, plan_cpu) = timed(|| engine.plan(&delta, &lookup).expect("plan"));
        drop(lookup);
        drop(current);
        let bytes = serde_json::to_vec(&ops).expect("json").len();
        let mut params = vec![json!("OVN_Southbound")];
        params.extend(ops.iter().cloned());
        let params = Value::Array(params);
        let (_, commit_cpu) = timed(|| transact(&mut sb, &params));
        let phases: Vec<String> = delta
            .timings
            .iter()
            .map(|(k, d)| format!("{k}={}us", d.as_micros()))
            .collect();
        eprintln!(
            "pod {n}: apply cpu {apply_cpu:.2?} [{}] | plan cpu {plan_cpu:.2?} | in-memory SB \
             commit cpu {commit_cpu:.2?} | {} ops, {bytes} B: {}",
            phases.join(","),
            ops.len(),
            summary(&ops)
        );
        eprintln!(
            "  delta: {} ports, {} mc groups, {} ip_multicast, {} address sets, {} port groups, {} flows",
            delta.ports.len(),
            delta.mc_groups.len(),
            delta.ip_multicast.len(),
            delta.address_sets.len(),
            delta.port_groups.len(),
            delta.flows.len()
        );
    }
    // The incrementally kept flows equal a full build of the final NB.
    let snap = NbSnapshot::from_database(&nb).expect("snapshot");
    let full = build(&snap, &SbRows::from_database(&sb).expect("rows").state());
    let a: BTreeSet<_> = engine.expanded_flows().into_iter().collect();
    let b: BTreeSet<_> = full.expanded_flows().into_iter().collect();
    assert!(a == b, "flows differ: {} only incremental, {} only full", a.difference(&b).count(), b.difference(&a).count());
}

/// 250 nodes x 100 pods, 5,000 Services, 2,000 policies, 500 EgressIPs.
#[test]
#[ignore = "scale run; use --release -- --ignored --nocapture"]
fn pod_add_250_nodes() {
    run(
        shapes::ovnk::Scale {
            nodes: 250,
            pods_per_node: 100,
            services: 5000,
            policies: 2000,
            egress_ips: 500,
        },
        5,
    );
}

/// 100 nodes x 50 pods, 1,000 Services, 500 policies, 100 EgressIPs.
#[test]
#[ignore = "scale run; use --release -- --ignored --nocapture"]
fn pod_add_100_nodes() {
    run(
        shapes::ovnk::Scale {
            nodes: 100,
            pods_per_node: 50,
            services: 1000,
            policies: 500,
            egress_ips: 100,
        },
        5,
    );
}
