//! Scale check (ignored by default; run with `cargo test --release -p northd --test scale --
//! --ignored --nocapture`): 500 switches x 50 ports, 2,000 ACLs in port groups, 1,000 load
//! balancers in one group attached to every switch — the switches-only benchmark shape.
//! Prints the time and the heap growth (live bytes and peak, from a counting allocator) of each
//! step `ovnkit northd` takes: NB rows as the JSON a `select` returns, the snapshot (from a JSON
//! tree, and straight from the reply's bytes), the build, the plan (typed SB operations) and the
//! serialized SB transaction; then the SB written (in memory), read back from a `select` reply's
//! bytes and planned again (a recompute with nothing changed: no operation). The old path (the
//! diff as JSON values) is measured last for comparison.

#![allow(unsafe_code)] // the counting global allocator below; test code only

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod shapes;

use northd::diff::{plan, SbRows};
use northd::{build, NbSnapshot, SbContent, SbState};
use ovsdb::model::Model;
use ovsdb::{Database, TxnContext, TxnOutcome};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Calls to `alloc` and `realloc` (each a malloc or realloc call of the system allocator).
static CALLS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// GlobalAlloc contract; the counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout contract as ours.
        let p = unsafe { System.alloc(layout) };
        CALLS.fetch_add(1, Ordering::Relaxed);
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr was allocated by System with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: ptr was allocated by System with this layout; new_size is the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        CALLS.fetch_add(1, Ordering::Relaxed);
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let now = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// CPU time this thread has used (from `/proc/thread-self/schedstat`; zero where missing):
/// timings that hold on a loaded machine.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// Runs `f`, printing its time (wall and CPU), the live heap it leaves behind and its peak
/// above the start.
fn step<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let calls = CALLS.load(Ordering::Relaxed);
    let t = Instant::now();
    let cpu = thread_cpu();
    let out = f();
    let dt = t.elapsed();
    let dcpu = thread_cpu().saturating_sub(cpu);
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "{name:<34} {dt:>10.2?} (cpu {dcpu:>10.2?})  live +{:>7.1} MiB  peak +{:>7.1} MiB  \
         allocations {}",
        mib(LIVE.load(Ordering::Relaxed).saturating_sub(base)),
        mib(PEAK.load(Ordering::Relaxed).saturating_sub(base)),
        CALLS.load(Ordering::Relaxed).saturating_sub(calls)
    );
    out
}

fn rows_json<T: Model>(rows: &shapes::Rows<T>) -> serde_json::Value {
    serde_json::Value::Array(rows.values().map(|r| r.to_json().expect("row")).collect())
}

/// The bytes of the result of a `transact` of one `select` of every row per table of `names`,
/// run on `db`.
fn select_all(db: &mut Database, names: &[&str]) -> Vec<u8> {
    let mut params = vec![serde_json::json!(db.schema().name.clone())];
    for t in names {
        params.push(serde_json::json!({"op": "select", "table": t, "where": []}));
    }
    match db.transact(&serde_json::Value::Array(params), &TxnContext::default()) {
        TxnOutcome::Complete { results, .. } => serde_json::to_vec(&results).expect("reply"),
        other => panic!("select: {other:?}"),
    }
}

/// The bytes of a `transact` result of one `select` per table of `tables`, from `{table: rows}`.
fn select_reply(tables: &serde_json::Value, names: &[&str]) -> Vec<u8> {
    let results: Vec<_> = names
        .iter()
        .map(|t| serde_json::json!({"rows": tables.get(*t).cloned().unwrap_or_else(|| serde_json::json!([]))}))
        .collect();
    serde_json::to_vec(&results).expect("reply")
}

/// The SB side of a round from NB content: plan and serialize against an empty SB, write it
/// (in memory), read SB back from `select` reply bytes and plan again (must be empty); then the
/// old path (the diff as JSON values) for comparison.
fn sb_side(content: &SbContent) {
    let txn = step("plan against empty SB (typed ops)", || {
        plan(&SbRows::default(), content).expect("plan")
    });
    eprintln!("  {} operations", txn.len());
    let bytes = step("write the transaction (bytes)", || {
        txn.to_vec().expect("bytes")
    });
    eprintln!("  {} MiB of JSON", bytes.len() / (1024 * 1024));
    let params = txn.to_value().expect("value");
    drop(txn);
    drop(bytes);
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    match sb.transact(&params, &TxnContext::default()) {
        TxnOutcome::Complete { results, .. } => {
            assert_eq!(northd::embedded::first_error(&results), None)
        }
        other => panic!("{other:?}"),
    }
    drop(params);
    // What a client reads back: one `select` per table northd reads, answered by the database.
    let reply = select_all(&mut sb, SbRows::TABLES);
    drop(sb);
    eprintln!("  SB select reply: {} MiB", reply.len() / (1024 * 1024));
    let current = step("SB rows from reply bytes", || {
        SbRows::from_select_reply(SbRows::TABLES, &reply).expect("rows")
    });
    drop(reply);
    let again = step("plan against the written SB", || {
        plan(&current, content).expect("plan")
    });
    assert_eq!(
        again.len(),
        0,
        "a recompute of unchanged NB changes nothing"
    );
    drop(again);
    drop(current);
    let ops = step("old: diff as JSON values", || {
        northd::diff::diff(&SbRows::default(), content).expect("diff")
    });
    step("old: serialize the values", || {
        serde_json::to_vec(&ops).expect("serialize")
    });
}

#[test]
#[ignore = "scale run; use --release -- --ignored"]
fn switches_only_cluster() {
    let nb = shapes::switches_only();
    let tables = step("NB as select JSON", || {
        serde_json::json!({
            "Logical_Switch": rows_json(&nb.switches),
            "Logical_Switch_Port": rows_json(&nb.switch_ports),
            "ACL": rows_json(&nb.acls),
            "Address_Set": rows_json(&nb.address_sets),
            "Port_Group": rows_json(&nb.port_groups),
            "Load_Balancer": rows_json(&nb.load_balancers),
            "Load_Balancer_Group": rows_json(&nb.lb_groups),
        })
    });
    drop(nb);
    let owned: Vec<String> = tables
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    let names: Vec<&str> = owned.iter().map(String::as_str).collect();
    let reply = select_reply(&tables, &names);
    let snapshot = step("snapshot from JSON", || {
        NbSnapshot::from_json(&tables).expect("snapshot")
    });
    drop(tables);
    drop(snapshot);
    let snapshot = step("old: reply bytes to JSON tree to snapshot", || {
        let v: Vec<serde_json::Value> = serde_json::from_slice(&reply).expect("json");
        let mut tables = serde_json::Map::new();
        for (t, mut r) in names.iter().zip(v) {
            tables.insert((*t).to_owned(), r["rows"].take());
        }
        NbSnapshot::from_json(&serde_json::Value::Object(tables)).expect("snapshot")
    });
    drop(snapshot);
    let snapshot = step("snapshot from reply bytes", || {
        NbSnapshot::from_select_reply(&names, &reply).expect("snapshot")
    });
    drop(reply);
    let content = step("build", || build(&snapshot, &SbState::default()));
    let expanded: usize = content.flows.iter().map(|(_, d)| d.len()).sum();
    eprintln!(
        "  {} distinct flows ({} per datapath), {} ports, {} warnings",
        content.flows.len(),
        expanded,
        content.ports.len(),
        content.warnings.len()
    );
    sb_side(&content);
}

/// Issue 9's first OVN-Kubernetes shape (100 nodes x 50 pods, 1,000 Services, 500 policies, 100
/// EgressIPs), step by step as `ovnkit northd` runs it.
#[test]
#[ignore = "scale run; use --release -- --ignored"]
fn ovnk_100_nodes() {
    ovnk(shapes::ovnk::Scale::NODES_100);
}

/// Issue 9's second shape (250 nodes x 100 pods, 5,000 Services, 2,000 policies, 500
/// EgressIPs).
#[test]
#[ignore = "scale run; use --release -- --ignored"]
fn ovnk_250_nodes() {
    ovnk(shapes::ovnk::Scale::NODES_250);
}

fn ovnk(scale: shapes::ovnk::Scale) {
    let db = step("kube layer builds NB", || shapes::ovnk::build(scale));
    let snapshot = step("snapshot from the database", || {
        NbSnapshot::from_database(&db).expect("snapshot")
    });
    let content = step("build", || build(&snapshot, &SbState::default()));
    let expanded: usize = content.flows.iter().map(|(_, d)| d.len()).sum();
    eprintln!(
        "  {} distinct flows ({} per datapath), {} ports, {} warnings",
        content.flows.len(),
        expanded,
        content.ports.len(),
        content.warnings.len()
    );
    sb_side(&content);
}

/// The build alone, for profilers (`perf record`, `valgrind --tool=callgrind
/// --toggle-collect='northd::build::build*'`): the shape named by `NORTHD_SCALE_SHAPE`
/// (`switches`, the default; `ovnk100`; `ovnk250`), built `NORTHD_SCALE_ROUNDS` times (1).
#[test]
#[ignore = "profiling run; use --release -- --ignored"]
fn build_only() {
    let rounds = scale_rounds();
    let snapshot = scale_snapshot();
    for _ in 0..rounds {
        let content = step("build", || build(&snapshot, &SbState::default()));
        eprintln!(
            "  {} distinct flows, digest {:016x}",
            content.flows.len(),
            digest(&content)
        );
    }
}

/// `NORTHD_SCALE_ROUNDS` (1).
fn scale_rounds() -> usize {
    std::env::var("NORTHD_SCALE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1)
}

/// The NB of the shape named by `NORTHD_SCALE_SHAPE` (`switches`, the default; `ovnk100`;
/// `ovnk250`). The kube layer makes random UUIDs: with `NORTHD_SCALE_NB=FILE` the snapshot is
/// saved there the first time and read back after, so that digests compare across builds.
fn scale_snapshot() -> NbSnapshot {
    let shape = std::env::var("NORTHD_SCALE_SHAPE").unwrap_or_else(|_| "switches".to_owned());
    let ovnk = |nodes, pods_per_node, services, policies, egress_ips| {
        let db = shapes::ovnk::build(shapes::ovnk::Scale {
            nodes,
            pods_per_node,
            services,
            policies,
            egress_ips,
        });
        NbSnapshot::from_database(&db).expect("snapshot")
    };
    let make = || match shape.as_str() {
        "ovnk100" => ovnk(100, 50, 1000, 500, 100),
        "ovnk250" => ovnk(250, 100, 5000, 2000, 500),
        _ => shapes::switches_only(),
    };
    match std::env::var("NORTHD_SCALE_NB") {
        Ok(path) => match std::fs::read(&path) {
            Ok(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
                NbSnapshot::from_json(&v).expect("snapshot")
            }
            Err(_) => {
                let s = make();
                std::fs::write(&path, serde_json::to_vec(&snapshot_json(&s)).expect("json"))
                    .expect("write");
                s
            }
        },
        Err(_) => make(),
    }
}

/// A digest of a transaction's operations that does not depend on their order (the order of
/// operations in one transaction means nothing to the server). With `mask`, every UUID counts
/// as the same (the in-memory SB gives its rows random UUIDs: a plan against it differs from
/// run to run only there).
fn ops_digest(txn: &northd::diff::SbTxn<'_>, mask: bool) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut ops: Vec<String> = txn
        .ops_json()
        .expect("ops")
        .iter()
        .map(|o| {
            let text = o.to_string();
            if mask {
                mask_uuids(&text)
            } else {
                text
            }
        })
        .collect();
    ops.sort_unstable();
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    ops.hash(&mut h);
    h.finish()
}

/// `text` with every `["uuid","..."]` written as `["uuid","U"]`.
fn mask_uuids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let tag = "[\"uuid\",\"";
    while let Some(i) = rest.find(tag) {
        out.push_str(&rest[..i + tag.len()]);
        out.push('U');
        rest = &rest[i + tag.len()..];
        rest = &rest[rest.find('"').unwrap_or(0)..];
    }
    out.push_str(rest);
    out
}

/// Commits `txn` to the in-memory `sb`.
fn commit(sb: &mut Database, txn: &northd::diff::SbTxn<'_>) {
    let params = txn.to_value().expect("value");
    match sb.transact(&params, &TxnContext::default()) {
        TxnOutcome::Complete { results, .. } => {
            assert_eq!(northd::embedded::first_error(&results), None)
        }
        other => panic!("{other:?}"),
    }
}

/// The SB side of a full round alone, for profilers (`valgrind --tool=callgrind
/// --toggle-collect='northd::diff::*'`): the shape of [`scale_snapshot`] built once and its SB
/// written (in memory) (with `NORTHD_SCALE_PLAN_OUT=FILE`, its params written to FILE as they
/// are); then, `NORTHD_SCALE_ROUNDS` times, the SB rows read back (from the
/// database, as the daemon reads its replica, and from a `select` reply's bytes), planned
/// against (nothing to do), and the plan of a changed NB (every tenth switch and router gone,
/// every seventh load balancer with one VIP more) against them. Prints digests of the plans.
#[test]
#[ignore = "profiling run; use --release -- --ignored"]
fn sb_only() {
    let rounds = scale_rounds();
    let snapshot = scale_snapshot();
    let content = build(&snapshot, &SbState::default());
    let mut changed = snapshot.clone();
    let mut i = 0;
    changed.switches.retain(|_, _| {
        i += 1;
        i % 10 != 0
    });
    changed.routers.retain(|_, _| {
        i += 1;
        i % 10 != 0
    });
    for (n, lb) in changed.load_balancers.values_mut().enumerate() {
        if n % 7 == 0 {
            lb.vips.insert(
                format!("192.0.2.{}:80", n % 250 + 1),
                "10.9.9.9:8080".to_owned(),
            );
        }
    }
    drop(snapshot);
    let txn = plan(&SbRows::default(), &content).expect("plan");
    eprintln!(
        "plan against empty SB: {} operations, digest {:016x}",
        txn.len(),
        ops_digest(&txn, false)
    );
    // `NORTHD_SCALE_PLAN_OUT=FILE`: the request's params as written, byte for byte (to
    // compare two builds' requests with `cmp`).
    if let Ok(path) = std::env::var("NORTHD_SCALE_PLAN_OUT") {
        std::fs::write(&path, txn.to_vec().expect("request bytes")).expect("write the request");
    }
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    commit(&mut sb, &txn);
    drop(txn);
    let current = SbRows::from_database(&sb).expect("rows");
    let changed = build(&changed, &current.state());
    drop(current);
    let reply = select_all(&mut sb, SbRows::TABLES);
    for _ in 0..rounds {
        let current = step("SB rows from the database", || {
            SbRows::from_database(&sb).expect("rows")
        });
        drop(current);
        let current = step("SB rows from reply bytes", || {
            SbRows::from_select_reply(SbRows::TABLES, &reply).expect("rows")
        });
        let again = step("plan against the written SB", || {
            plan(&current, &content).expect("plan")
        });
        assert_eq!(
            again.len(),
            0,
            "a recompute of unchanged NB changes nothing"
        );
        let other = step("plan of a changed NB", || {
            plan(&current, &changed).expect("plan")
        });
        eprintln!(
            "  changed NB: {} operations, digest {:016x} (UUIDs masked)",
            other.len(),
            ops_digest(&other, true)
        );
    }
    // The changed NB's plan, committed, leaves nothing to do.
    let current = SbRows::from_database(&sb).expect("rows");
    let other = plan(&current, &changed).expect("plan");
    commit(&mut sb, &other);
    drop(other);
    let current = SbRows::from_database(&sb).expect("rows");
    let again = plan(&current, &changed).expect("plan");
    assert_eq!(
        again.len(),
        0,
        "the changed NB's plan, written, leaves nothing to do"
    );
}

/// The second half of a full round, for profilers (`valgrind --tool=callgrind
/// --separate-threads=yes`): the shape of [`scale_snapshot`] compiled by
/// `Engine::new_with`, which (as `ovnkit northd` does) plans the SB transaction against an
/// empty SB on a worker thread, its text handed to a sink piece by piece, while the engine
/// indexes the content. Prints the request's size and a digest of its bytes, and the number of
/// flows the engine indexed.
#[test]
#[ignore = "profiling run; use --release -- --ignored"]
fn round_only() {
    use std::sync::{Arc, Mutex};
    let snapshot = scale_snapshot();
    let pieces: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let sink = {
        let pieces = Arc::clone(&pieces);
        northd::diff::TextSink::new(move |piece| pieces.lock().expect("lock").push(piece))
    };
    let (engine, planned) = step("build, plan and index", || {
        northd::incremental::Engine::new_with(snapshot, SbState::default(), |content| {
            let flows = northd::sb_flows::SbFlows::default();
            let txn = northd::diff::SbTxn::with_sink(sink);
            let txn =
                northd::diff::plan_into(&SbRows::default(), &flows, content, txn).expect("plan");
            (txn.len(), txn.into_bytes().expect("bytes"))
        })
    });
    let (n_ops, rest) = planned;
    let mut bytes = std::mem::take(&mut *pieces.lock().expect("lock")).concat();
    bytes.extend_from_slice(&rest);
    use std::hash::{Hash, Hasher};
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    bytes.hash(&mut h);
    let request = h.finish();
    let expanded = engine.expanded_flows();
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    expanded.hash(&mut h);
    eprintln!(
        "round: {n_ops} operations, {} request bytes, digest {request:016x}; engine: {} flows \
         (per datapath), digest {:016x}",
        bytes.len(),
        expanded.len(),
        h.finish()
    );
}

/// A digest of everything a build produces (flows in order with their datapaths, and every
/// other table), to check that a change to the build leaves its output as it was.
fn digest(content: &SbContent) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same digest run to run.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    for (k, dps) in content.flows.iter() {
        k.hash(&mut h);
        dps.as_slice().hash(&mut h);
    }
    let SbContent {
        global_options,
        datapaths,
        ports,
        multicast_groups,
        address_sets,
        port_groups,
        ip_multicast,
        load_balancers,
        ha_chassis_groups,
        static_mac_bindings,
        meters,
        service_monitors,
        flows: _,
        nb_dynamic_addresses,
        warnings,
        mirrors,
        template_vars,
        bfd,
        dns,
        ipsec,
    } = content;
    // Tables added later count only when present: the digests pinned before stay valid.
    if !(mirrors.rows.is_empty()
        && template_vars.is_empty()
        && bfd.is_empty()
        && dns.is_empty()
        && !ipsec)
    {
        format!("{mirrors:?}{template_vars:?}{bfd:?}{dns:?}{ipsec}").hash(&mut h);
    }
    format!(
        "{global_options:?}{datapaths:?}{ports:?}{multicast_groups:?}{address_sets:?}\
         {port_groups:?}{ip_multicast:?}{load_balancers:?}{ha_chassis_groups:?}\
         {static_mac_bindings:?}{meters:?}{service_monitors:?}{nb_dynamic_addresses:?}{warnings:?}"
    )
    .hash(&mut h);
    h.finish()
}

/// Every table of `s` as `{table: [rows]}`.
fn snapshot_json(s: &NbSnapshot) -> serde_json::Value {
    fn add<T: Model>(out: &mut serde_json::Map<String, serde_json::Value>, rows: &shapes::Rows<T>) {
        out.insert(T::TABLE.to_owned(), rows_json(rows));
    }
    let mut out = serde_json::Map::new();
    let globals: shapes::Rows<ovn_nb::model::NbGlobal> =
        s.nb_global.iter().map(|g| (g.uuid, g.clone())).collect();
    add(&mut out, &globals);
    add(&mut out, &s.switches);
    add(&mut out, &s.switch_ports);
    add(&mut out, &s.routers);
    add(&mut out, &s.router_ports);
    add(&mut out, &s.acls);
    add(&mut out, &s.address_sets);
    add(&mut out, &s.port_groups);
    add(&mut out, &s.load_balancers);
    add(&mut out, &s.lb_groups);
    add(&mut out, &s.lb_health_checks);
    add(&mut out, &s.qos);
    add(&mut out, &s.meters);
    add(&mut out, &s.meter_bands);
    add(&mut out, &s.dhcp_options);
    add(&mut out, &s.dns);
    add(&mut out, &s.static_routes);
    add(&mut out, &s.policies);
    add(&mut out, &s.nats);
    add(&mut out, &s.gateway_chassis);
    add(&mut out, &s.ha_chassis_groups);
    add(&mut out, &s.ha_chassis);
    add(&mut out, &s.bfd);
    add(&mut out, &s.static_mac_bindings);
    add(&mut out, &s.copp);
    serde_json::Value::Object(out)
}
