//! One pod added to a caught-up cluster, side by side with real ovn-northd 23.03 (ignored by
//! default; run with
//! `cargo test --release -p ovnkit-cli --test northd_pod_add -- --ignored --nocapture`).
//!
//! For each OVN-Kubernetes shape, a fresh stack (NB and SB ovsdb-servers, no chassis) gets the
//! NB in one transaction and one northd — real `ovn-northd` or `ovnkit northd` — runs until SB
//! carries `nb_cfg` 1. Then pods are added one at a time, each with the NB transaction the kube
//! layer writes for a pod like an existing one (its `Logical_Switch_Port`, the node switch's
//! `ports`, the pod IP in the address sets and the port in the port groups that hold its
//! sibling) plus an `NB_Global` `nb_cfg` bump; the time is from sending that transaction until
//! an SB monitor sees `SB_Global` `nb_cfg` reach the new value (SB written, with the pod's
//! binding and flows). Both northds are measured the same way, in the same run. With
//! `OVNKIT_STACK=1` ours runs on `ovnkit ovsdb-server`s (the whole ovnkit stack); real
//! ovn-northd keeps the real servers.

#[path = "../../northd/tests/shapes/mod.rs"]
mod shapes;

mod our_servers;

use std::path::Path;
use std::time::{Duration, Instant};

use ovsdb::client::{Client, ClientConfig, Connection, Remote};
use ovsdb::{Atom, Datum};
use serde_json::Value;

use shapes::pods::{pod_add, template, Template};

const PODS: usize = 7;

/// CPU time and time spent waiting for a CPU (run queue) of process `pid`, all threads, from
/// `/proc/PID/task/*/schedstat` (nanoseconds).
fn sched(pid: u32) -> (u64, u64) {
    let mut out = (0, 0);
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in dir.flatten() {
        let text = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
        let mut f = text
            .split_whitespace()
            .map(|x| x.parse::<u64>().unwrap_or(0));
        out.0 += f.next().unwrap_or(0);
        out.1 += f.next().unwrap_or(0);
    }
    out
}

/// The CPU time the hypervisor took from this virtual machine so far (all CPUs, the `steal`
/// column of `/proc/stat`, in ms; 0 where unavailable): a process that neither ran nor waited
/// in the run queue may have been running while the host ran something else.
fn steal_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .find(|l| l.starts_with("cpu "))
        .and_then(|l| l.split_whitespace().nth(8))
        .and_then(|v| v.parse::<u64>().ok())
        // USER_HZ is 100 on Linux.
        .map_or(0, |ticks| ticks * 10)
}

/// `CLOCK_MONOTONIC` in seconds, the clock of a trace taken with `perf record -k mono`
/// (`NORTHD_POD_ADD_TRACE`), to find the pods in it.
#[allow(unsafe_code)]
fn monotonic_now() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// With `NORTHD_POD_ADD_TRACE` set to a shell command, runs it while the pods are added
/// (e.g. `exec perf record -k mono -g -e sched:sched_switch -p $PODADD_PIDS -o FILE`), with
/// the NB server, SB server, northd and harness process ids in `PODADD_PIDS` (comma-separated);
/// the caller gives it two seconds to start, and [`stop_trace`] a `SIGINT` when the pods are
/// done.
fn start_trace(pids: &[Option<u32>]) -> Option<std::process::Child> {
    let cmd = std::env::var("NORTHD_POD_ADD_TRACE").ok()?;
    use std::os::unix::process::CommandExt;
    let list: Vec<String> = pids.iter().flatten().map(u32::to_string).collect();
    // In a process group of its own, which `stop_trace` interrupts whole.
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .env("PODADD_PIDS", list.join(","))
        .process_group(0)
        .spawn()
        .map_err(|e| eprintln!("  trace command failed to start: {e}"))
        .ok()?;
    Some(child)
}

/// Stops the trace command of [`start_trace`] (its process group) with `SIGINT` and waits for
/// it.
fn stop_trace(child: Option<std::process::Child>) {
    let Some(mut child) = child else {
        return;
    };
    let _ = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
}

fn sb_cfg_is(r: &ovsdb::client::Replica, want: i64) -> bool {
    r.table("SB_Global").is_some_and(|t| {
        t.rows().any(|row| {
            matches!(t.value(row, "nb_cfg").and_then(Datum::first), Some(Atom::Integer(i)) if *i == want)
        })
    })
}

/// Loads `load`, runs one northd until SB caught up, then times `PODS` pod adds (ms each).
fn run(ovn: &testkit::Toolbox, load: &[Value], t: &Template, ours: bool) -> (f64, Vec<f64>) {
    let mut builder = ovn.stack().no_chassis().northd(testkit::NorthdSource::None);
    // Our servers (OVNKIT_STACK) live in their own sandbox, stopped with it.
    let mut servers = None;
    if ours && our_servers::ovnkit_stack() {
        let mut sandbox = testkit::Sandbox::new(ovn).expect("sandbox");
        let nb = our_servers::start_our_server(
            &mut sandbox,
            "nb",
            &ovn.schema(testkit::Schema::Northbound).expect("NB schema"),
        );
        let sb = our_servers::start_our_server(
            &mut sandbox,
            "sb",
            &ovn.schema(testkit::Schema::Southbound).expect("SB schema"),
        );
        builder = builder
            .nb(testkit::DbSource::External { remote: nb })
            .sb(testkit::DbSource::External { remote: sb });
        servers = Some(sandbox);
    }
    let mut stack = builder.build().expect("stack");
    let (nb_remote, sb_remote) = (stack.nb_remote().to_owned(), stack.sb_remote().to_owned());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut conn = rt.block_on(async {
        let remote = Remote::parse(&nb_remote).expect("remote");
        let mut conn = Connection::connect(&remote, Duration::from_secs(30), None)
            .await
            .expect("connect NB");
        let reply = conn
            .call_ok("transact", load.to_vec(), Duration::from_secs(600))
            .await
            .expect("load NB");
        assert!(
            reply
                .as_array()
                .into_iter()
                .flatten()
                .all(|r| r.get("error").is_none()),
            "NB load failed"
        );
        conn
    });
    let t0 = Instant::now();
    let daemon = if ours {
        let bin = Path::new(env!("CARGO_BIN_EXE_ovnkit"));
        stack
            .sandbox_mut()
            .start_program(
                "ovnkit-northd",
                bin,
                ["northd", "--ovnnb-db", &nb_remote, "--ovnsb-db", &sb_remote],
            )
            .expect("start ovnkit northd")
    } else {
        stack
            .sandbox_mut()
            .start_northd(&nb_remote, &sb_remote)
            .expect("start ovn-northd")
    };
    // NB server, SB server, northd, this harness: CPU and run-queue wait during each pod add.
    let server_pids = servers.as_ref().map(testkit::Sandbox::pids);
    let server = |i: usize, name: &str| match &server_pids {
        Some(p) => p.get(i).copied(),
        None => stack.sandbox().daemon(name).map(|d| d.pid()),
    };
    let pids = [
        server(0, "nb"),
        server(1, "sb"),
        Some(daemon.pid()),
        Some(std::process::id()),
    ];
    let snap = || pids.map(|p| p.map_or((0, 0), sched));
    let out = rt.block_on(async {
        let mut cfg = ClientConfig::new(&sb_remote, "OVN_Southbound");
        cfg.monitor = None;
        let sb = Client::connect(cfg.table("SB_Global", &["nb_cfg"]), Duration::from_secs(30))
            .await
            .expect("SB monitor");
        sb.wait_for(Duration::from_secs(900), |r| sb_cfg_is(r, 1))
            .await
            .expect("northd caught up");
        let catch_up = t0.elapsed().as_secs_f64();
        // Let the write-backs (port `up`, `sb_cfg`) settle: pods are added to a cluster at
        // rest, i.e. once northd and both servers used under 10 ms of CPU in a whole second
        // (at 250 nodes our northd's write-back round ends 3-4 s after SB's `nb_cfg`; a fixed
        // pause made the first pod wait for it on a loaded machine).
        let settled = Instant::now();
        let mut prev = snap();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = snap();
            let busy = (0..3).any(|i| now[i].0.saturating_sub(prev[i].0) >= 10_000_000);
            prev = now;
            if !busy || settled.elapsed() > Duration::from_secs(600) {
                break;
            }
        }
        eprintln!(
            "  settled {:.1} s after SB nb_cfg 1",
            settled.elapsed().as_secs_f64()
        );
        let trace = start_trace(&pids);
        if trace.is_some() {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let mut times = Vec::new();
        for n in 0..PODS {
            let cfg = 2 + n as i64;
            let ops = pod_add(t, n, Some(cfg));
            let before = snap();
            let steal = steal_ms();
            let at = monotonic_now();
            let start = Instant::now();
            let reply = conn
                .call_ok("transact", ops, Duration::from_secs(60))
                .await
                .expect("pod add");
            assert!(
                reply
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|r| r.get("error").is_none()),
                "pod add failed: {reply}"
            );
            sb.wait_for(Duration::from_secs(300), |r| sb_cfg_is(r, cfg))
                .await
                .expect("pod reflected in SB");
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            let after = snap();
            let ms = |i: usize, f: fn(&(u64, u64)) -> u64| {
                (f(&after[i]).saturating_sub(f(&before[i]))) as f64 / 1e6
            };
            eprintln!(
                "  pod {n}: {:.1} ms; cpu / run-queue wait ms: NB server {:.1} / {:.1}, SB server \
                 {:.1} / {:.1}, northd {:.1} / {:.1}, harness {:.1} / {:.1}; steal {} ms; at \
                 {at:.6}; load {}",
                times[n],
                ms(0, |x| x.0),
                ms(0, |x| x.1),
                ms(1, |x| x.0),
                ms(1, |x| x.1),
                ms(2, |x| x.0),
                ms(2, |x| x.1),
                ms(3, |x| x.0),
                ms(3, |x| x.1),
                steal_ms().saturating_sub(steal),
                std::fs::read_to_string("/proc/loadavg")
                    .unwrap_or_default()
                    .split_whitespace()
                    .next()
                    .unwrap_or("?"),
            );
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        stop_trace(trace);
        (catch_up, times)
    });
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(str::trim)
        .unwrap_or("?");
    eprintln!(
        "  {} peak memory (VmHWM): {hwm}",
        if ours { "ovnkit northd" } else { "ovn-northd" }
    );
    if ours {
        // How each round went (full or incremental, time per step).
        let log = std::fs::read_to_string(daemon.output_file()).unwrap_or_default();
        for line in log.lines().filter(|l| l.contains("SB written")) {
            eprintln!("  ovnkit northd: {line}");
        }
    }
    out
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(0.0)
}

fn bench(name: &str, scale: shapes::ovnk::Scale) {
    let ovn = testkit::require_or_skip!();
    let mut db = shapes::ovnk::build(scale);
    let t = template(&mut db);
    let load = shapes::ovnk::insert_all(&mut db);
    drop(db);
    eprintln!(
        "{name}: {} NB rows; pods join {} ({} address sets, {} port groups)",
        load.len() - 1,
        t.switch,
        t.sets.len(),
        t.groups.len()
    );
    // NORTHD_POD_ADD_SKIP_REAL=1: ours alone (real ovn-northd needs minutes at 250 nodes).
    let (real_up, real) = if std::env::var_os("NORTHD_POD_ADD_SKIP_REAL").is_some() {
        (0.0, vec![0.0])
    } else {
        run(&ovn, &load, &t, false)
    };
    let (ours_up, ours) = run(&ovn, &load, &t, true);
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    eprintln!(
        "{name}: pod add to SB nb_cfg, ms: real ovn-northd median {:.1} [{}] (caught up in \
         {real_up:.1} s) | ovnkit northd median {:.1} [{}] (caught up in {ours_up:.1} s) | \
         {:.1}x faster",
        median(&real),
        fmt(&real),
        median(&ours),
        fmt(&ours),
        median(&real) / median(&ours).max(0.001)
    );
}

/// 100 nodes x 50 pods, 1,000 Services, 500 NetworkPolicies, 100 EgressIPs.
#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn pod_add_100_nodes_vs_real() {
    bench(
        "ovn-kubernetes 100 nodes x 50 pods",
        shapes::ovnk::Scale::NODES_100,
    );
}

/// 250 nodes x 100 pods, 5,000 Services, 2,000 NetworkPolicies, 500 EgressIPs.
#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn pod_add_250_nodes_vs_real() {
    bench(
        "ovn-kubernetes 250 nodes x 100 pods",
        shapes::ovnk::Scale::NODES_250,
    );
}

/// A small cluster, quick to run, to check the harness itself.
#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn pod_add_10_nodes_vs_real() {
    bench(
        "ovn-kubernetes 10 nodes x 10 pods",
        shapes::ovnk::Scale {
            nodes: 10,
            pods_per_node: 10,
            services: 50,
            policies: 20,
            egress_ips: 5,
        },
    );
}
