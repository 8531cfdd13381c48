//! Benchmark (ignored by default; run with
//! `cargo test --release -p flowcompile --test parity_bench -- --ignored --nocapture`):
//! an OVN-Kubernetes-shaped cluster of `OVNKIT_BENCH_NODES` nodes (default 100) built on the
//! real stack, compiled for chassis `ch1` by `compile_chassis_flows`, side by side with
//! ovn-controller's own full recompute (`inc-engine/recompute`, timed by its `flow-generation`
//! stopwatch) of the same SB.  Also checks that both produce the same logical-table flows.
//!
//! `OVNKIT_BENCH_SAVE=DIR` also writes the SB tables (`ovn-sbctl -f json list` output) and the
//! real flow dump to `DIR`; `compile_saved_sb` (ignored too) then compiles that SB without the
//! real stack, for profiling:
//! `OVNKIT_BENCH_SB=DIR valgrind --tool=callgrind --toggle-collect='*compile_chassis_flows*'
//! --toggle-collect='*ChassisView*new*' target/release/deps/parity_bench-HASH --ignored --exact
//! compile_saved_sb`.

#![allow(unsafe_code)] // the counting global allocator below; test code only

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use flowcompile::chassis::{compile_chassis_flows, rows_from_table_json, ChassisView, SbTables};

/// Counts live heap bytes and their peak, so the compiler's own memory can be measured apart
/// from the SB tables and the real dump the test process also holds.  Each allocation counts
/// as the chunk glibc's malloc gives it (request + 8-byte header, rounded up to 16, at least
/// 32 bytes), so per-allocation overhead is included; fragmentation and freed memory the
/// allocator keeps are not.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The same, counting requested bytes only (no allocator overhead).
static CURRENT_RAW: AtomicUsize = AtomicUsize::new(0);
static PEAK_RAW: AtomicUsize = AtomicUsize::new(0);

fn chunk(n: usize) -> usize {
    ((n + 8 + 15) & !15).max(32)
}

fn note_alloc(n: usize) {
    let raw = CURRENT_RAW.fetch_add(n, Ordering::Relaxed) + n;
    PEAK_RAW.fetch_max(raw, Ordering::Relaxed);
    let n = chunk(n);
    let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn note_free(n: usize) {
    CURRENT_RAW.fetch_sub(n, Ordering::Relaxed);
    CURRENT.fetch_sub(chunk(n), Ordering::Relaxed);
}

/// Live heap bytes now: [counted as malloc chunks, as requested].
fn live() -> [usize; 2] {
    [
        CURRENT.load(Ordering::Relaxed),
        CURRENT_RAW.load(Ordering::Relaxed),
    ]
}

/// Resets both peaks to the live values and returns those.
fn reset_peaks() -> [usize; 2] {
    let now = live();
    PEAK.store(now[0], Ordering::Relaxed);
    PEAK_RAW.store(now[1], Ordering::Relaxed);
    now
}

/// Peaks since `base` (from [`reset_peaks`]).
fn peaks_since(base: [usize; 2]) -> [usize; 2] {
    [
        PEAK.load(Ordering::Relaxed).saturating_sub(base[0]),
        PEAK_RAW.load(Ordering::Relaxed).saturating_sub(base[1]),
    ]
}

/// Live bytes since `base`.
fn live_since(base: [usize; 2]) -> [usize; 2] {
    let now = live();
    [
        now[0].saturating_sub(base[0]),
        now[1].saturating_sub(base[1]),
    ]
}

/// `chunks KiB (requested KiB)`.
fn kib(b: [usize; 2]) -> String {
    format!("{} KiB ({} KiB requested)", b[0] / 1024, b[1] / 1024)
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
        note_free(layout.size());
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: ptr was allocated by System with this layout; new_size is the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note_free(layout.size());
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

/// SB tables from `ovn-sbctl -f json list TABLE` outputs.
fn load_sb(texts: &[(&str, String)]) -> SbTables {
    let mut sb = SbTables::default();
    for (t, text) in texts {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        sb.add_json_rows(t, &rows_from_table_json(&json).unwrap())
            .unwrap();
    }
    sb
}

/// Compiles an SB saved by the benchmark (`OVNKIT_BENCH_SAVE=DIR`) from `OVNKIT_BENCH_SB=DIR`,
/// without the real stack: the run to profile (`valgrind --tool=callgrind`).  Writes the
/// flows as text to `DIR/ours.txt` (or `OVNKIT_BENCH_OUT`), to compare outputs across changes.
#[test]
#[ignore = "profiling: needs OVNKIT_BENCH_SB"]
fn compile_saved_sb() {
    let Some(dir) = std::env::var_os("OVNKIT_BENCH_SB").map(std::path::PathBuf::from) else {
        eprintln!("OVNKIT_BENCH_SB not set; nothing to do");
        return;
    };
    let texts: Vec<(&str, String)> = SbTables::TABLES
        .iter()
        .map(|t| {
            (
                *t,
                // A table saved by an older run may be missing: empty.
                std::fs::read_to_string(dir.join(format!("{t}.json")))
                    .unwrap_or_else(|_| r#"{"headings": [], "data": []}"#.to_owned()),
            )
        })
        .collect();
    // Measured before the JSON texts (live since before `before_sb`) are dropped: measuring
    // after would subtract their size from the copy's.
    let before_sb = live();
    let sb = load_sb(&texts);
    let sb_bytes = live_since(before_sb);
    drop(texts);
    // Freeing the parsed JSON left glibc's malloc with hundreds of thousands of small free
    // chunks, which it consolidates at the next allocation of a KiB or more: do that here,
    // so that the harness's garbage is not charged to the first large allocation measured.
    drop(std::hint::black_box(Vec::<u8>::with_capacity(4096)));
    let runs: usize = std::env::var("OVNKIT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut text = String::new();
    for _ in 0..runs {
        let base = reset_peaks();
        let t = Instant::now();
        let view = ChassisView::new(&sb, "ch1").unwrap();
        let view_bytes = live_since(base);
        let flows = compile_chassis_flows(&sb.logical_flows, &view);
        let elapsed = t.elapsed();
        let peak = peaks_since(base);
        drop(view);
        let result = live_since(base);
        eprintln!(
            "{} flows in {elapsed:?}; SB copy {}, compile heap peak {}, result {}, chassis view {}",
            flows.flows.len(),
            kib(sb_bytes),
            kib(peak),
            kib(result),
            kib(view_bytes)
        );
        text = flows.to_text();
    }
    let out = std::env::var_os("OVNKIT_BENCH_OUT")
        .map_or_else(|| dir.join("ours.txt"), std::path::PathBuf::from);
    std::fs::write(out, text).unwrap();
}

/// CPU time of the calling thread in nanoseconds (`/proc/thread-self/schedstat`: time spent
/// on a CPU, counted by the scheduler), or 0: finer than the 10 ms ticks of `stat`.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// CPU time (user + system) in milliseconds from a `/proc/.../stat` file, or 0.
fn cpu_ms(stat: &str) -> u64 {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    // Fields after the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = text.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    // Linux reports these in USER_HZ ticks, 100 per second on every architecture it supports.
    ticks * 10
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
    // ovn-controller's memory before the cluster exists (empty NB, its chassis registered).
    let ctl = testkit::Component::Controller;
    let controller_base = vm_kib(stack.daemon(ctl).unwrap().pid(), "VmRSS:");
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
    let _ = stack.appctl(ctl, ["stopwatch/reset"]);
    let mut real_runs = 0;
    let controller_stat = format!("/proc/{}/stat", stack.daemon(ctl).unwrap().pid());
    let controller_cpu0 = cpu_ms(&controller_stat);
    for _ in 0..3 {
        stack.appctl(ctl, ["inc-engine/recompute"]).unwrap();
        stack.wait_hv().unwrap();
        real_runs += 1;
    }
    let controller_cpu = (cpu_ms(&controller_stat) - controller_cpu0) / real_runs;
    let stopwatch = stack.appctl(ctl, ["stopwatch/show"]).unwrap();
    let controller_pid = stack.daemon(ctl).unwrap().pid();
    let controller_rss = vm_kib(controller_pid, "VmRSS:");
    let controller_hwm = vm_kib(controller_pid, "VmHWM:");
    let real = stack.dump_flows().unwrap();
    let save = std::env::var_os("OVNKIT_BENCH_SAVE").map(std::path::PathBuf::from);
    if let Some(dir) = &save {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("real-flows.txt"), &real).unwrap();
        // The SB database file itself, to serve it again (e.g. to profile `ovnkit flows`).
        for e in std::fs::read_dir(stack.dir()).unwrap().flatten() {
            let name = e.file_name();
            if name.to_string_lossy().ends_with(".db") {
                let _ = std::fs::copy(e.path(), dir.join(name));
            }
        }
    }
    let cli = cli_end_to_end(stack.sb_remote(), "ch1");
    let texts: Vec<(&str, String)> = SbTables::TABLES
        .iter()
        .map(|t| (*t, stack.sbctl(["-f", "json", "list", t]).unwrap()))
        .collect();
    if let Some(dir) = &save {
        for (t, text) in &texts {
            std::fs::write(dir.join(format!("{t}.json")), text).unwrap();
        }
    }
    // Our copy of SB: the rows the compiler reads, reduced to the columns it reads (live heap
    // bytes after the load; the JSON values it was parsed from are gone).
    // Measured before the JSON texts (live since before `before_sb`) are dropped: measuring
    // after would subtract their size from the copy's.
    let before_sb = live();
    let sb = load_sb(&texts);
    let sb_bytes = live_since(before_sb);
    drop(texts);
    drop(stack);

    let rss_before = vm_kib(std::process::id(), "VmRSS:");
    let mut best = std::time::Duration::MAX;
    let mut best_cpu = u64::MAX;
    let mut best_cpu_ns = u64::MAX;
    let mut n_flows = 0;
    let mut text = String::new();
    // Heap the compiler itself needs: peak live bytes during view build + compile, above
    // what was live before (SB tables, the real dump); the result `Flows` is included.
    let mut peak_compile = [0usize; 2];
    let mut result_bytes = [0usize; 2];
    for _ in 0..5 {
        text.clear();
        text.shrink_to_fit();
        let base = reset_peaks();
        let cpu0 = cpu_ms("/proc/thread-self/stat");
        let ns0 = thread_cpu_ns();
        let t = Instant::now();
        let view = ChassisView::new(&sb, "ch1").unwrap();
        let flows = compile_chassis_flows(&sb.logical_flows, &view);
        best = best.min(t.elapsed());
        best_cpu = best_cpu.min(cpu_ms("/proc/thread-self/stat") - cpu0);
        best_cpu_ns = best_cpu_ns.min(thread_cpu_ns().saturating_sub(ns0));
        let peak = peaks_since(base);
        peak_compile = [peak_compile[0].max(peak[0]), peak_compile[1].max(peak[1])];
        drop(view);
        result_bytes = live_since(base);
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
    // is installed once. The compiler picks the winner as a full recompute does
    // (`chassis::install_rank`); a choice that differs here would be history (a conflict
    // that arose after the controller's last full recompute), so it is counted apart.
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
        "ours: best of 5 full compiles {best:?} ({best_cpu} ms CPU in 10 ms ticks; {:.1} ms \
         CPU by schedstat, ratio to ovn-controller's CPU per recompute {:.1}x); RSS {rss_before} KiB before, peak {hwm} KiB; \
         compiler heap peak {} (of which the resulting Flows {}); our SB copy {}; \
         SB copy + compile peak {}",
        best_cpu_ns as f64 / 1e6,
        controller_cpu as f64 * 1e6 / (best_cpu_ns.max(1) as f64),
        kib(peak_compile),
        kib(result_bytes),
        kib(sb_bytes),
        kib([sb_bytes[0] + peak_compile[0], sb_bytes[1] + peak_compile[1]])
    );
    if let Some(cli) = &cli {
        eprintln!("{cli}");
    }
    let fg: Vec<&str> = stopwatch
        .split("Statistics for ")
        .filter(|s| s.starts_with("'flow-generation'"))
        .collect();
    eprintln!(
        "ovn-controller: {real_runs} recomputes (each a `flow-generation` sample; its Maximum \
         is a full recompute), {controller_cpu} ms CPU per recompute (all of its work, \
         installing the flows included), RSS {controller_rss} KiB, VmHWM {controller_hwm} KiB, \
         RSS before the cluster {controller_base} KiB, VmHWM - that {} KiB:\n{}",
        controller_hwm.saturating_sub(controller_base),
        fg.join("")
    );
}

/// The `ovnkit` binary to time end to end: `OVNKIT_BIN`, else the release build beside this
/// test binary (`target/release/ovnkit`), if it exists.
fn ovnkit_bin() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("OVNKIT_BIN") {
        return Some(p.into());
    }
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("ovnkit");
    p.exists().then_some(p)
}

/// `ovnkit flows --ovnsb-db SB --chassis CHASSIS > /dev/null` run 3 times under
/// `/usr/bin/time`: wall, user+system CPU and peak RSS of the whole command (connect, read SB,
/// compile, print the text), the way a user would time it.  `None` without the binary.
fn cli_end_to_end(sb: &str, chassis: &str) -> Option<String> {
    let bin = ovnkit_bin()?;
    let mut runs = Vec::new();
    for _ in 0..3 {
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%e %U %S %M"])
            .arg(&bin)
            .args(["flows", "--ovnsb-db", sb, "--chassis", chassis])
            .stdout(std::process::Stdio::null())
            .output()
            .ok()?;
        assert!(out.status.success(), "ovnkit flows failed: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or_default().to_owned();
        let f: Vec<f64> = last
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [wall, user, sys, rss] = f[..] {
            runs.push((wall * 1e3, (user + sys) * 1e3, rss));
        }
    }
    let best = runs
        .iter()
        .copied()
        .reduce(|a, b| if b.1 < a.1 { b } else { a })?;
    Some(format!(
        "`ovnkit flows` end to end ({}; best CPU of {}): {:.0} ms wall, {:.0} ms CPU (10 ms \
         ticks), peak RSS {:.0} KiB",
        bin.display(),
        runs.len(),
        best.0,
        best.1,
        best.2
    ))
}
