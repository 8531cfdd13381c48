//! Scale check (ignored by default; run with `cargo test --release -p northd --test scale --
//! --ignored --nocapture`): 500 switches x 50 ports, 2,000 ACLs in port groups, 1,000 load
//! balancers in one group attached to every switch — the switches-only benchmark shape.
//! Prints the time and the heap growth (live bytes and peak, from a counting allocator) of each
//! step `ovnkit northd` takes: NB rows as the JSON a `select` returns, the snapshot, the build,
//! the diff and the serialized SB transaction.

#![allow(unsafe_code)] // the counting global allocator below; test code only

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

mod shapes;

use northd::{build, NbSnapshot, SbState};
use ovsdb::model::Model;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// GlobalAlloc contract; the counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout contract as ours.
        let p = unsafe { System.alloc(layout) };
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

/// Runs `f`, printing its time, the live heap it leaves behind and its peak above the start.
fn step<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let out = f();
    let dt = t.elapsed();
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "{name:<28} {dt:>10.2?}  live +{:>7.1} MiB  peak +{:>7.1} MiB",
        mib(LIVE.load(Ordering::Relaxed).saturating_sub(base)),
        mib(PEAK.load(Ordering::Relaxed).saturating_sub(base))
    );
    out
}

fn rows_json<T: Model>(rows: &shapes::Rows<T>) -> serde_json::Value {
    serde_json::Value::Array(rows.values().map(|r| r.to_json().expect("row")).collect())
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
    let snapshot = step("snapshot from JSON", || {
        NbSnapshot::from_json(&tables).expect("snapshot")
    });
    drop(tables);
    let content = step("build", || build(&snapshot, &SbState::default()));
    let expanded: usize = content.flows.iter().map(|(_, d)| d.len()).sum();
    eprintln!(
        "  {} distinct flows ({} per datapath), {} ports, {} warnings",
        content.flows.len(),
        expanded,
        content.ports.len(),
        content.warnings.len()
    );
    let ops = step("diff against empty SB", || {
        northd::diff::diff(&northd::diff::SbRows::default(), &content).expect("diff")
    });
    eprintln!("  {} operations", ops.len());
    let bytes = step("serialize the transaction", || {
        serde_json::to_vec(&ops).expect("serialize")
    });
    eprintln!("  {} MiB of JSON", bytes.len() / (1024 * 1024));
}

/// Issue 9's first OVN-Kubernetes shape (100 nodes x 50 pods, 1,000 Services, 500 policies, 100
/// EgressIPs), step by step as `ovnkit northd` runs it.
#[test]
#[ignore = "scale run; use --release -- --ignored"]
fn ovnk_100_nodes() {
    ovnk(shapes::ovnk::Scale {
        nodes: 100,
        pods_per_node: 50,
        services: 1000,
        policies: 500,
        egress_ips: 100,
    });
}

/// Issue 9's second shape (250 nodes x 100 pods, 5,000 Services, 2,000 policies, 500
/// EgressIPs).
#[test]
#[ignore = "scale run; use --release -- --ignored"]
fn ovnk_250_nodes() {
    ovnk(shapes::ovnk::Scale {
        nodes: 250,
        pods_per_node: 100,
        services: 5000,
        policies: 2000,
        egress_ips: 500,
    });
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
    let ops = step("diff against empty SB", || {
        northd::diff::diff(&northd::diff::SbRows::default(), &content).expect("diff")
    });
    eprintln!("  {} operations", ops.len());
    let bytes = step("serialize the transaction", || {
        serde_json::to_vec(&ops).expect("serialize")
    });
    eprintln!("  {} MiB of JSON", bytes.len() / (1024 * 1024));
}
