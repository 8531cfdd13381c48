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

use std::collections::{BTreeMap, BTreeSet};
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

use shapes::pods::{pod_add, template};

type Tables = BTreeMap<String, ovsdb::db::RowMap>;

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

/// CPU time (user + system) of process `pid`, from `/proc/PID/stat`.
fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    let ticks: u64 = f.iter().sum();
    Duration::from_millis(ticks * 10)
}

/// A real SB `ovsdb-server` holding the same rows (same UUIDs) as the in-memory SB.
struct RealSb {
    _stack: testkit::Stack,
    rt: tokio::runtime::Runtime,
    conn: ovsdb::client::Connection,
    pid: u32,
}

impl RealSb {
    fn start(ovn: &testkit::Toolbox, sb: &mut Database) -> Self {
        let stack = ovn
            .stack()
            .no_chassis()
            .northd(testkit::NorthdSource::None)
            .build()
            .expect("stack");
        let pid = stack
            .daemon(testkit::Component::Sb)
            .map(|d| d.pid())
            .expect("SB server");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let remote = ovsdb::client::Remote::parse(stack.sb_remote()).expect("remote");
        let mut conn = rt
            .block_on(ovsdb::client::Connection::connect(
                &remote,
                Duration::from_secs(30),
                None,
            ))
            .expect("connect SB");
        let schema = sb.schema().clone();
        let mut first = vec![json!("OVN_Southbound")];
        let mut flows = Vec::new();
        for table in schema.tables.iter().map(|t| t.name.clone()) {
            let rows = transact(
                sb,
                &json!(["OVN_Southbound", {"op": "select", "table": table, "where": []}]),
            );
            for mut row in rows[0]["rows"].as_array().cloned().unwrap_or_default() {
                let Some(obj) = row.as_object_mut() else {
                    continue;
                };
                let uuid = obj
                    .remove("_uuid")
                    .and_then(|u| u.get(1).and_then(Value::as_str).map(str::to_owned))
                    .expect("_uuid");
                obj.remove("_version");
                let op = json!({"op": "insert", "table": table, "uuid": uuid, "row": obj});
                if table == "Logical_Flow" {
                    flows.push(op);
                } else {
                    first.push(op);
                }
            }
        }
        let send = |conn: &mut ovsdb::client::Connection, rt: &tokio::runtime::Runtime, ops| {
            let reply = rt
                .block_on(conn.call_ok("transact", ops, Duration::from_secs(900)))
                .expect("transact");
            assert!(
                reply
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|r| r.get("error").is_none()),
                "SB load failed: {}",
                reply.to_string().chars().take(2000).collect::<String>()
            );
        };
        // One transaction: `Logical_DP_Group` rows are not roots (they must be referred to
        // in the transaction that inserts them).
        first.append(&mut flows);
        send(&mut conn, &rt, first);
        Self {
            _stack: stack,
            rt,
            conn,
            pid,
        }
    }

    /// Sends `params` (as applied to the in-memory SB, with its `results`: inserts keep the
    /// UUIDs the in-memory SB gave them); returns the wall time and the server's CPU time.
    fn commit(&mut self, params: &Value, results: &Value) -> (Duration, Duration) {
        let mut ops = params.as_array().cloned().unwrap_or_default();
        for (i, op) in ops.iter_mut().skip(1).enumerate() {
            if op["op"] == "insert" {
                if let Some(u) = results[i]["uuid"].get(1).cloned() {
                    op["uuid"] = u;
                }
            }
        }
        let cpu = process_cpu(self.pid);
        let t = std::time::Instant::now();
        let reply = self
            .rt
            .block_on(self.conn.call_ok("transact", ops, Duration::from_secs(60)))
            .expect("transact");
        let wall = t.elapsed();
        assert!(
            reply
                .as_array()
                .into_iter()
                .flatten()
                .all(|r| r.get("error").is_none()),
            "SB commit failed: {reply}"
        );
        (wall, process_cpu(self.pid).saturating_sub(cpu))
    }
}

/// `params` with each `mutate` (by `_uuid`) replaced by an `update` writing the mutated
/// columns' values as `sb` now holds them.
fn mutations_as_updates(params: &Value, sb: &mut Database) -> Value {
    let mut ops = params.as_array().cloned().unwrap_or_default();
    for op in ops.iter_mut().skip(1) {
        if op["op"] != "mutate" {
            continue;
        }
        let table = op["table"].as_str().unwrap_or_default().to_owned();
        let cols: Vec<String> = op["mutations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m[0].as_str().map(str::to_owned))
            .collect();
        let rows = transact(
            sb,
            &json!(["OVN_Southbound", {"op": "select", "table": table, "where": op["where"],
                    "columns": cols}]),
        );
        let row = rows[0]["rows"][0].clone();
        *op = json!({"op": "update", "table": table, "where": op["where"], "row": row});
    }
    Value::Array(ops)
}

fn run(scale: shapes::ovnk::Scale, pods: usize) {
    run_with(scale, pods, false);
}

fn run_with(scale: shapes::ovnk::Scale, pods: usize, real_sb: bool) {
    let ovn = if real_sb {
        Some(testkit::require_or_skip!())
    } else {
        None
    };
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
    let mut real = ovn.as_ref().map(|ovn| {
        let (r, dt) = timed(|| RealSb::start(ovn, &mut sb));
        eprintln!("real SB ovsdb-server loaded: cpu {dt:.2?}");
        r
    });
    for n in 0..pods {
        let before = tables(&nb);
        transact(&mut nb, &Value::Array(pod_add(&t, n, None)));
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
        let (results, commit_cpu) = timed(|| transact(&mut sb, &params));
        if let Some(r) = real.as_mut() {
            // Every other pod, the set mutations sent as updates of the whole column (as the
            // plan wrote them before), for comparison.
            let as_updates = n % 2 == 0;
            let sent = if as_updates {
                mutations_as_updates(&params, &mut sb)
            } else {
                params.clone()
            };
            let (wall, server_cpu) = r.commit(&sent, &results);
            eprintln!(
                "pod {n}: real SB ovsdb-server commit ({}): wall {wall:.2?}, server cpu \
                 {server_cpu:.2?}, {} B",
                if as_updates {
                    "sets as updates"
                } else {
                    "as planned"
                },
                sent.to_string().len()
            );
        }
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
    assert!(
        a == b,
        "flows differ: {} only incremental, {} only full",
        a.difference(&b).count(),
        b.difference(&a).count()
    );
}

/// 250 nodes x 100 pods, 5,000 Services, 2,000 policies, 500 EgressIPs.
#[test]
#[ignore = "scale run; use --release -- --ignored --nocapture"]
fn pod_add_250_nodes() {
    run(shapes::ovnk::Scale::NODES_250, 5);
}

/// 100 nodes x 50 pods, 1,000 Services, 500 policies, 100 EgressIPs.
#[test]
#[ignore = "scale run; use --release -- --ignored --nocapture"]
fn pod_add_100_nodes() {
    run(shapes::ovnk::Scale::NODES_100, 5);
}

/// [`pod_add_250_nodes`], each SB transaction also sent to a real SB `ovsdb-server` holding
/// the same rows (its commit timed).
#[test]
#[ignore = "scale run; use --release -- --ignored --nocapture"]
fn pod_add_250_nodes_real_sb() {
    run_with(shapes::ovnk::Scale::NODES_250, 6, true);
}

/// [`pod_add_100_nodes`] with a real SB `ovsdb-server`, as [`pod_add_250_nodes_real_sb`].
#[test]
#[ignore = "scale run; use --release -- --ignored --nocapture"]
fn pod_add_100_nodes_real_sb() {
    run_with(shapes::ovnk::Scale::NODES_100, 6, true);
}
