//! Benchmark (ignored by default; run with
//! `cargo test --release -p flowcompile --test parity_bench -- --ignored --nocapture`):
//! an OVN-Kubernetes-shaped cluster of `OVNKIT_BENCH_NODES` nodes (default 100) built on the
//! real stack, compiled for chassis `ch1` by `compile_chassis_flows`, side by side with
//! ovn-controller's own full recompute (`inc-engine/recompute`, timed by its `flow-generation`
//! stopwatch) of the same SB.  Also checks that both produce the same logical-table flows.

#![allow(unsafe_code)] // the counting global allocator below; test code only

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use flowcompile::chassis::{compile_chassis_flows, rows_from_table_json, ChassisView, SbTables};

/// Counts live heap bytes and their peak, so the compiler's own memory can be measured apart
/// from the SB tables and the real dump the test process also holds.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn note_alloc(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// GlobalAlloc contract; the counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout contract as ours.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout contract as ours.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr was allocated by System with this layout.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: ptr was allocated by System with this layout; new_size is the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            note_alloc(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn node_script(n: usize, pods: usize) -> String {
    let mut s = String::new();
    let third = |i: usize| (i / 128, (i % 128) * 2);
    let (a, b) = third(n);
    let _ = writeln!(
        s,
        "nb ls-add node{n} -- set Logical_Switch node{n} other_config:subnet=10.{}.{b}.0/23 \
         -- lrp-add ovn_cluster_router rtos-node{n} 0a:58:0a:{:02x}:{b:02x}:01 10.{}.{b}.1/23 \
         -- lsp-add node{n} stor-node{n} -- lsp-set-type stor-node{n} router \
         -- lsp-set-addresses stor-node{n} router -- lsp-set-options stor-node{n} router-port=rtos-node{n} \
         -- lsp-add node{n} k8s-node{n} -- lsp-set-addresses k8s-node{n} \"0a:58:0a:{:02x}:{b:02x}:02 10.{}.{b}.2\"",
        128 + a,
        128 + a,
        128 + a,
        128 + a,
        128 + a
    );
    let mut cmd = String::from("nb");
    for p in 0..pods {
        let ip = format!("10.{}.{b}.{}", 128 + a, 5 + p);
        let mac = format!("0a:58:0a:{:02x}:{b:02x}:{:02x}", 128 + a, 5 + p);
        let _ = write!(
            cmd,
            " -- lsp-add node{n} ns{p}_pod{n}x{p} -- lsp-set-addresses ns{p}_pod{n}x{p} \"{mac} {ip}\" \
             -- lsp-set-port-security ns{p}_pod{n}x{p} \"{mac} {ip}\""
        );
    }
    let _ = writeln!(s, "{cmd}");
    let j = n + 2;
    let _ = writeln!(
        s,
        "nb lr-add GR_node{n} -- set Logical_Router GR_node{n} options:chassis=ch{n} options:lb_force_snat_ip=router_ip \
         -- lrp-add GR_node{n} rtoj-GR_node{n} 0a:58:64:40:{:02x}:{:02x} 100.64.{}.{}/16 \
         -- lsp-add join jtor-GR_node{n} -- lsp-set-type jtor-GR_node{n} router -- lsp-set-addresses jtor-GR_node{n} router \
         -- lsp-set-options jtor-GR_node{n} router-port=rtoj-GR_node{n} \
         -- lrp-add GR_node{n} rtoe-GR_node{n} 02:42:ac:12:{:02x}:{:02x} 172.18.{}.{}/16 \
         -- ls-add ext_node{n} -- lsp-add ext_node{n} etor-GR_node{n} -- lsp-set-type etor-GR_node{n} router \
         -- lsp-set-addresses etor-GR_node{n} router -- lsp-set-options etor-GR_node{n} router-port=rtoe-GR_node{n} \
         -- lsp-add ext_node{n} breth0_node{n} -- lsp-set-type breth0_node{n} localnet -- lsp-set-addresses breth0_node{n} unknown \
         -- lsp-set-options breth0_node{n} network_name=physnet \
         -- lr-nat-add GR_node{n} snat 172.18.{}.{} 10.128.0.0/14 \
         -- lr-route-add GR_node{n} 0.0.0.0/0 172.18.0.1 rtoe-GR_node{n} \
         -- lr-route-add GR_node{n} 10.128.0.0/14 100.64.0.1 \
         -- --policy=src-ip lr-route-add ovn_cluster_router 10.{}.{b}.0/23 100.64.{}.{} \
         -- lr-policy-add ovn_cluster_router 1004 \"inport == \\\"rtos-node{n}\\\" && ip4.dst == 172.18.{}.{} /* node{n} */\" reroute 10.{}.{b}.2 \
         -- add Logical_Switch node{n} load_balancer_group $lbg -- add Logical_Router GR_node{n} load_balancer_group $lbg",
        j / 256, j % 256, j / 256, j % 256,
        j / 256, j % 256, j / 256, j % 256,
        j / 256, j % 256,
        128 + a, j / 256, j % 256,
        j / 256, j % 256, 128 + a,
    );
    s
}

fn cluster_script(nodes: usize, pods: usize, services: usize) -> String {
    let mut s = String::from(
        "nb lr-add ovn_cluster_router -- ls-add join \
         -- lrp-add ovn_cluster_router rtoj-ovn_cluster_router 0a:58:64:40:00:01 100.64.0.1/16 \
         -- lsp-add join jtor-ovn_cluster_router -- lsp-set-type jtor-ovn_cluster_router router \
         -- lsp-set-addresses jtor-ovn_cluster_router router -- lsp-set-options jtor-ovn_cluster_router router-port=rtoj-ovn_cluster_router \
         -- lr-policy-add ovn_cluster_router 102 \"ip4.src == 10.128.0.0/14 && ip4.dst == 10.128.0.0/14\" allow \
         -- lr-policy-add ovn_cluster_router 102 \"ip4.src == 10.128.0.0/14 && ip4.dst == 100.64.0.0/16\" allow\n\
         lbg=$(ovn-nbctl --db=\"$NB\" create Load_Balancer_Group name=clusterLBGroup)\n\
         nb add Logical_Router ovn_cluster_router load_balancer_group $lbg\n",
    );
    for i in 0..services {
        let backends: Vec<String> = (0..3)
            .map(|k| {
                format!(
                    "10.128.{}.{}:8080",
                    (i + k) % 8 * 2,
                    5 + (i + k) % pods.max(1)
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "u=$(ovn-nbctl --db=\"$NB\" create Load_Balancer name=svc{i} protocol=tcp vips:\\\"10.96.{}.{}:80\\\"=\\\"{}\\\"{})\n\
             nb add Load_Balancer_Group $lbg load_balancer $u",
            i / 256,
            i % 256,
            backends.join(","),
            if i % 10 == 0 { " options:affinity_timeout=10800" } else { "" }
        );
    }
    for n in 1..=nodes {
        s.push_str(&node_script(n, pods));
    }
    // Network policies on node1's namespaces.
    for p in 0..pods {
        let members: Vec<String> = (1..=nodes.min(10))
            .map(|n| format!("ns{p}_pod{n}x{p}"))
            .collect();
        let _ = writeln!(
            s,
            "nb pg-add pg_ns{p} {} -- create Address_Set name=as_ns{p}_v4 addresses='\"10.128.0.{}\",\"10.128.2.{}\"' \
             -- acl-add pg_ns{p} to-lport 1001 'ip4.src == $as_ns{p}_v4 && outport == @pg_ns{p} && tcp.dst == {{80, 443}}' allow-related \
             -- acl-add pg_ns{p} to-lport 1000 'outport == @pg_ns{p}' drop",
            members.join(" "),
            5 + p,
            5 + p
        );
    }
    s
}

fn vm_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "benchmark: minutes on the real stack; run explicitly"]
fn bench_ovnk_cluster_one_chassis() {
    // A loaded machine needs longer than the default 20 s for `--wait=hv` on this cluster.
    let ovn = testkit::require_or_skip!().with_timeout(std::time::Duration::from_secs(180));
    let nodes: usize = std::env::var("OVNKIT_BENCH_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let pods = 10;
    let services = 200;
    let stack = ovn.stack().chassis("ch1").build().unwrap();
    let t = Instant::now();
    let script = stack.dir().join("cluster.sh");
    std::fs::write(
        &script,
        format!(
            "nb() {{ ovn-nbctl --db=\"$NB\" \"$@\" >/dev/null; }}\n{}",
            cluster_script(nodes, pods, services)
        ),
    )
    .unwrap();
    let status = Command::new("sh")
        .arg("-e")
        .arg(&script)
        .env("NB", stack.nb_remote())
        .status()
        .unwrap();
    assert!(status.success());
    for p in 0..pods {
        stack
            .bind_port(&format!("vif{p}"), &format!("ns{p}_pod1x{p}"))
            .unwrap();
    }
    stack.bind_port("vifmp", "k8s-node1").unwrap();
    stack.wait_hv().unwrap();
    eprintln!("setup: {:?}", t.elapsed());

    // ovn-controller: full recomputes, timed by its own stopwatch.
    let ctl = testkit::Component::Controller;
    let _ = stack.appctl(ctl, ["stopwatch/reset"]);
    let mut real_runs = 0;
    for _ in 0..3 {
        stack.appctl(ctl, ["inc-engine/recompute"]).unwrap();
        stack.wait_hv().unwrap();
        real_runs += 1;
    }
    let stopwatch = stack.appctl(ctl, ["stopwatch/show"]).unwrap();
    let controller_pid = stack.daemon(ctl).unwrap().pid();
    let controller_rss = vm_kib(controller_pid, "VmRSS:");
    let controller_hwm = vm_kib(controller_pid, "VmHWM:");
    let real = stack.dump_flows().unwrap();
    let sb = {
        let mut sb = SbTables::default();
        for t in SbTables::TABLES {
            let text = stack.sbctl(["-f", "json", "list", t]).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            sb.add_json_rows(t, &rows_from_table_json(&json).unwrap())
                .unwrap();
        }
        sb
    };
    drop(stack);

    let rss_before = vm_kib(std::process::id(), "VmRSS:");
    let mut best = std::time::Duration::MAX;
    let mut n_flows = 0;
    let mut text = String::new();
    // Heap the compiler itself needs: peak live bytes during view build + compile, above
    // what was live before (SB tables, the real dump); the result `Flows` is included.
    let mut peak_compile = 0usize;
    let mut result_bytes = 0usize;
    for _ in 0..5 {
        text.clear();
        text.shrink_to_fit();
        let base = CURRENT.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let t = Instant::now();
        let view = ChassisView::new(&sb, "ch1").unwrap();
        let flows = compile_chassis_flows(&sb.logical_flows, &view);
        best = best.min(t.elapsed());
        peak_compile = peak_compile.max(PEAK.load(Ordering::Relaxed) - base);
        drop(view);
        result_bytes = CURRENT.load(Ordering::Relaxed) - base;
        n_flows = flows.flows.len();
        text = flows.to_text();
    }
    let hwm = vm_kib(std::process::id(), "VmHWM:");
    let logical = |l: &&str| {
        l.split("table=")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|t| t.parse::<u32>().ok())
            .is_some_and(|t| (8..=34).contains(&t) || (42..=51).contains(&t))
    };
    let n_real = real.lines().filter(logical).count();
    // Same flows, up to conjunction/group/meter ids.
    let norm = |l: &str| {
        let mut out = String::new();
        let mut digits_follow = false;
        for c in l.trim().chars() {
            if digits_follow && c.is_ascii_digit() {
                continue;
            }
            digits_follow = false;
            out.push(c);
            for p in ["conj_id=", "conjunction(", "group:", "meter_id=", "meter:"] {
                if out.ends_with(p) {
                    out.push('X');
                    digits_follow = true;
                }
            }
        }
        out
    };
    let mut r: Vec<String> = real.lines().filter(logical).map(norm).collect();
    let mut o: Vec<String> = text.lines().map(norm).collect();
    r.sort();
    o.sort();
    let differing = r.iter().filter(|l| o.binary_search(l).is_err()).count()
        + o.iter().filter(|l| r.binary_search(l).is_err()).count();
    eprintln!("flows differing from ovn-controller's (ids renamed): {differing}");
    // A (table, priority, match) that several logical flows produce with different actions
    // is installed once, with the actions and cookie of whichever ovn-controller met first.
    let key = |l: &String| {
        let l = l.split_once(", table=").map_or(l.as_str(), |x| x.1);
        l.split_once(" actions=").map_or(l, |x| x.0).to_owned()
    };
    let rk: std::collections::HashSet<String> = r.iter().map(key).collect();
    let ok: std::collections::HashSet<String> = o.iter().map(key).collect();
    let unexplained = r
        .iter()
        .filter(|l| o.binary_search(l).is_err() && !ok.contains(&key(l)))
        .count()
        + o.iter()
            .filter(|l| r.binary_search(l).is_err() && !rk.contains(&key(l)))
            .count();
    eprintln!(
        "  of which not a same-match choice between conflicting logical flows: {unexplained}"
    );
    for l in r.iter().filter(|l| o.binary_search(l).is_err()).take(6) {
        eprintln!("  only real: {l}");
    }
    for l in o.iter().filter(|l| r.binary_search(l).is_err()).take(6) {
        eprintln!("  only ours: {l}");
    }
    eprintln!(
        "nodes={nodes} pods/node={pods} services={services}: {} logical flows in SB, \
         {n_flows} OpenFlow flows compiled (real: {n_real} in the logical tables), {} text lines",
        sb.logical_flows.len(),
        text.lines().count()
    );
    eprintln!(
        "ours: best of 5 full compiles {best:?}; RSS {rss_before} KiB before, peak {hwm} KiB; \
         compiler heap peak {} KiB (of which the resulting Flows {} KiB)",
        peak_compile / 1024,
        result_bytes / 1024
    );
    let fg: Vec<&str> = stopwatch
        .split("Statistics for ")
        .filter(|s| s.starts_with("'flow-generation'"))
        .collect();
    eprintln!(
        "ovn-controller: {real_runs} recomputes (each a `flow-generation` sample; its Maximum \
         is a full recompute), RSS {controller_rss} KiB, VmHWM {controller_hwm} KiB:\n{}",
        fg.join("")
    );
}
