//! Side by side with real ovn-northd 23.03 (ignored by default; run with
//! `cargo test --release -p ovnkit-cli --test northd_vs_real -- --ignored --nocapture`).
//!
//! For each generated Northbound shape, two fresh stacks (NB and SB ovsdb-servers, no chassis)
//! get the same NB in one transaction; then one northd is started — real `ovn-northd` on one,
//! `ovnkit northd` on the other — and timed from its start until SB carries the NB's `nb_cfg`
//! (everything computed and committed). Peak memory is the process's `VmHWM` read at that moment.
//! Both processes are measured the same way, in the same run, one after the other.
//!
//! With `OVNKIT_STACK=1` our northd runs against ovnkit's own database servers (`ovnkit
//! ovsdb-server`, one process for NB and one for SB, as the real stack has) while real ovn-northd
//! keeps the real ovsdb-servers: the whole ovnkit stack against the whole real stack, on the
//! same NB. The NB load is then also timed on each side, and the servers' peaks reported.
//!
//! Each run prints a CPU timeline (northd, NB server, SB server per interval, with the events)
//! and, for real ovn-northd, its stopwatches; the comparison ends with one table (wall, compute,
//! CPU, peaks at `nb_cfg` and settled, ratios to the targets, load average). On a loaded
//! machine compare the CPU rows. `NORTHD_VS_REAL_KEEP=DIR` keeps each sandbox's logs and
//! databases under `DIR/real` and `DIR/ovnkit`; `NORTHD_VS_REAL_BOUND_SECS` (default 1200)
//! bounds each northd's catch-up.

#[path = "../../northd/tests/shapes/mod.rs"]
mod shapes;

mod our_servers;
use our_servers::{ovnkit_stack, start_our_server};

use std::path::Path;
use std::time::{Duration, Instant};

use ovsdb::client::{Connection, Remote};

/// What one northd did on one shape.
#[derive(Debug)]
struct Run {
    /// From process start to SB `nb_cfg` caught up.
    secs: f64,
    /// Peak resident set (`VmHWM`) when SB shows `nb_cfg`, KiB.
    peak_kib: u64,
    /// Peak resident set once the process has settled (it has also read back what it wrote), KiB.
    settled_peak_kib: u64,
    /// Logical_Flow rows written.
    flows: usize,
    /// The compute alone, in ms: the longest iteration of ovn-northd's main loop (its
    /// `ovn-northd-loop` stopwatch: NB updates in, every flow built, the SB transaction sent;
    /// not the commit), or our `parse + build + diff`.
    compute_ms: u64,
    /// The harness's NB load transaction, ms (sent until its reply).
    load_ms: u64,
    /// Peak resident set of the NB and SB servers, KiB.
    servers_peak_kib: (u64, u64),
    /// CPU time (user + system) from northd's start until SB caught up, ms: northd's own,
    /// then the NB and the SB server's (answering northd, committing its transaction).
    cpu_ms: (u64, u64, u64),
    /// The 1-minute load average when northd started and when SB caught up.
    load_avg: (f64, f64),
    /// The share of the machine's CPU time the hypervisor stole meanwhile, percent (wall-clock
    /// figures of a run with more than a few percent are not those of a quiet machine).
    steal_pct: f64,
}

/// The 1-minute load average (0 when unreadable).
fn load_avg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// CPU time (user + system) process `pid` has used so far, ms (0 when unreadable).
fn cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) start at field 3; utime and stime are
    // fields 14 and 15, in clock ticks of 10 ms.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(14) + ticks(15)) * 10
}

fn load_nb(stack: &testkit::Stack, params: Vec<serde_json::Value>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let remote = Remote::parse(stack.nb_remote()).expect("remote");
        let mut conn = Connection::connect(&remote, Duration::from_secs(30), None)
            .await
            .expect("connect NB");
        let reply = conn
            .call_ok("transact", params, Duration::from_secs(600))
            .await
            .expect("transact");
        let errors: Vec<_> = reply
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r.get("error").is_some())
            .collect();
        assert!(errors.is_empty(), "NB load failed: {errors:?}");
    });
}

/// The number of rows of `table`, by one `select` of their UUIDs (`ovn-sbctl list` printed 0
/// for the 415,958 flows of the 250-node shape), 0 when the server does not answer.
fn count_rows(remote: &str, db: &str, table: &str) -> usize {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return 0;
    };
    rt.block_on(async {
        let Ok(remote) = Remote::parse(remote) else {
            return 0;
        };
        let Ok(mut conn) = Connection::connect(&remote, Duration::from_secs(30), None).await else {
            return 0;
        };
        let params = vec![
            serde_json::json!(db),
            serde_json::json!({"op": "select", "table": table, "where": [], "columns": ["_uuid"]}),
        ];
        conn.call_ok("transact", params, Duration::from_secs(300))
            .await
            .ok()
            .and_then(|r| r.get(0)?.get("rows")?.as_array().map(Vec::len))
            .unwrap_or(0)
    })
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time of process `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is the first; utime and
    // stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum()
}

/// CPU use over time of a few processes, sampled every 100 ms on a thread of its own (for the
/// timeline a run prints: where the wall time went, and who was using a CPU meanwhile).
struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(f64, Vec<u64>)>>,
    labels: Vec<&'static str>,
    start: Instant,
}

impl Sampler {
    fn start(procs: Vec<(&'static str, u32)>) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let start = Instant::now();
        let labels = procs.iter().map(|(l, _)| *l).collect();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            loop {
                let cpu = procs.iter().map(|(_, p)| cpu_ms(*p)).collect();
                samples.push((start.elapsed().as_secs_f64(), cpu));
                if flag.load(std::sync::atomic::Ordering::Relaxed) {
                    return samples;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Self {
            stop,
            thread,
            labels,
            start,
        }
    }

    /// Seconds since the sampler started.
    fn at(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Stops sampling and prints the CPU each process used per interval (about 25 intervals
    /// over the run, at least 1 s each), with the events (`(seconds, what)`) that fell in each.
    fn finish(self, title: &str, events: &[(f64, String)]) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let samples = self.thread.join().unwrap_or_default();
        let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
            return;
        };
        let step = (last.0 / 25.0).max(1.0);
        eprintln!(
            "  {title} timeline (CPU ms per interval; interval {step:.1} s): {}",
            self.labels.join(" / ")
        );
        let mut prev = first;
        let mut next = step;
        let mut shown = 0;
        for s in &samples {
            if s.0 < next && !std::ptr::eq(s, last) {
                continue;
            }
            let cpu: Vec<String> =
                s.1.iter()
                    .zip(&prev.1)
                    .map(|(a, b)| a.saturating_sub(*b).to_string())
                    .collect();
            let what: Vec<&str> = events[shown..]
                .iter()
                .take_while(|(t, _)| *t <= s.0)
                .map(|(_, w)| w.as_str())
                .collect();
            shown += what.len();
            eprintln!(
                "    {:6.1}-{:6.1} s: {:>24}  {}",
                prev.0,
                s.0,
                cpu.join(" / "),
                what.join("; ")
            );
            prev = s;
            next = s.0 + step;
        }
        for (t, w) in &events[shown..] {
            eprintln!("    {t:6.1} s: {w}");
        }
    }
}

/// Waits for SB `SB_Global` `nb_cfg` to reach `want` through one monitor connection (polling
/// with `ovn-sbctl` started a process every 20 ms, which on a loaded 2-core machine took CPU
/// from the processes being measured), calling `tick` about every 20 ms meanwhile. Returns
/// whether it got there within `bound`.
fn wait_sb_nb_cfg(sb_remote: &str, want: i64, bound: Duration, mut tick: impl FnMut()) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let cfg = ovsdb::client::ClientConfig::new(sb_remote, "OVN_Southbound")
            .table("SB_Global", &["nb_cfg"]);
        let client = ovsdb::client::Client::start(cfg).expect("SB watcher");
        let t = Instant::now();
        let reached = |r: &ovsdb::client::Replica| {
            r.table("SB_Global").is_some_and(|t| {
                t.rows().any(|row| {
                    matches!(
                        t.value(row, "nb_cfg").and_then(ovsdb::datum::Datum::first),
                        Some(ovsdb::atom::Atom::Integer(v)) if *v >= want
                    )
                })
            })
        };
        while t.elapsed() < bound {
            tick();
            if client
                .wait_for(Duration::from_millis(20), reached)
                .await
                .is_ok()
            {
                return true;
            }
        }
        false
    })
}

/// `ovn-appctl stopwatch/show`'s output as one line: each stopwatch's maximum (ms) and number of
/// samples.
fn stopwatch_summary(out: &str) -> String {
    let mut parts = Vec::new();
    let mut name = "";
    let (mut samples, mut max, mut total) = ("", "", "");
    let flush = |parts: &mut Vec<String>, name: &str, samples: &str, max: &str, total: &str| {
        if !name.is_empty() && samples != "0" {
            parts.push(format!("{name} {max} ms max ({samples}x, mean {total})"));
        }
    };
    for line in out.lines() {
        let l = line.trim();
        if let Some(n) = l.strip_prefix("Statistics for '") {
            flush(&mut parts, name, samples, max, total);
            name = n.trim_end_matches(['\'', ':']);
        } else if let Some(v) = l.strip_prefix("Total samples:") {
            samples = v.trim();
        } else if let Some(v) = l.strip_prefix("Maximum:") {
            max = v.trim().trim_end_matches("msec").trim();
        } else if let Some(v) = l.strip_prefix("Long term average:") {
            total = v.trim().trim_end_matches("msec").trim();
        }
    }
    flush(&mut parts, name, samples, max, total);
    parts.join("; ")
}

/// Runs one northd (`ours` = `ovnkit northd`, else real ovn-northd) on the NB that the
/// transaction `load` writes (with `NB_Global` `nb_cfg` = 1), served by real ovsdb-servers or,
/// with `our_servers`, by `ovnkit ovsdb-server`s.
fn run(ovn: &testkit::Toolbox, load: Vec<serde_json::Value>, ours: bool, our_servers: bool) -> Run {
    // Our servers live in their own sandbox, stopped with it.
    let mut servers = None;
    let mut builder = ovn.stack().no_chassis().northd(testkit::NorthdSource::None);
    if our_servers {
        let mut sandbox = testkit::Sandbox::new(ovn).expect("sandbox");
        let nb = start_our_server(
            &mut sandbox,
            "nb",
            &ovn.schema(testkit::Schema::Northbound).expect("NB schema"),
        );
        let sb = start_our_server(
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
    let server_pids: Vec<u32> = match &servers {
        Some(sandbox) => sandbox.pids(),
        None => [testkit::Component::Nb, testkit::Component::Sb]
            .iter()
            .filter_map(|c| stack.daemon(*c).map(testkit::DaemonInfo::pid))
            .collect(),
    };
    let side = if ours { "ovnkit" } else { "real" };
    let load_cpu0 = server_pids.first().map_or(0, |p| cpu_ms(*p));
    let t = Instant::now();
    load_nb(&stack, load);
    let load_ms = t.elapsed().as_millis() as u64;
    eprintln!(
        "  {side}: NB load transaction {load_ms} ms wall, NB server {} ms CPU",
        server_pids
            .first()
            .map_or(0, |p| cpu_ms(*p).saturating_sub(load_cpu0))
    );
    let want = 1;
    let (nb_remote, sb_remote) = (stack.nb_remote().to_owned(), stack.sb_remote().to_owned());
    let server_cpu = || {
        (
            server_pids.first().map_or(0, |p| cpu_ms(*p)),
            server_pids.get(1).map_or(0, |p| cpu_ms(*p)),
        )
    };
    let servers_cpu0 = server_cpu();
    let load0 = load_avg();
    let steal0 = testkit::CpuSteal::now();
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
    let pid = daemon.pid();
    let mut procs = vec![("northd", pid)];
    procs.extend(
        ["NB server", "SB server"]
            .into_iter()
            .zip(server_pids.iter().copied()),
    );
    let sampler = Sampler::start(procs);
    let mut events = vec![(sampler.at(), "northd started".to_owned())];
    let mut peak = 0;
    // Bounded: a loaded machine (load 20 on 2 cores) once stretched the real side of the
    // switches-only shape to 13 min.
    let bound = Duration::from_secs(
        std::env::var("NORTHD_VS_REAL_BOUND_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1200),
    );
    let caught_up = wait_sb_nb_cfg(&sb_remote, want, bound, || {
        peak = peak.max(vm_hwm_kib(pid));
    });
    assert!(
        caught_up,
        "{side} northd did not catch up in {} s",
        bound.as_secs()
    );
    let secs = t0.elapsed().as_secs_f64();
    let load_avg = (load0, load_avg());
    let steal_pct = testkit::CpuSteal::now().percent_since(&steal0);
    events.push((sampler.at(), format!("SB has nb_cfg ({secs:.1} s)")));
    let servers_cpu = server_cpu();
    let cpu_ms = (
        cpu_ms(pid),
        servers_cpu.0.saturating_sub(servers_cpu0.0),
        servers_cpu.1.saturating_sub(servers_cpu0.1),
    );
    peak = peak.max(vm_hwm_kib(pid));
    // The round is not over when SB shows `nb_cfg`: the SB server then sends the northd's
    // monitor every row it wrote, which the northd reads into its replica. The peak of the whole
    // round is read once the process has used no CPU for a second.
    let settled_peak_kib = {
        let waited = Instant::now();
        let mut last = cpu_ticks(pid);
        let mut idle_since = Instant::now();
        while waited.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(100));
            let now = cpu_ticks(pid);
            if now != last {
                last = now;
                idle_since = Instant::now();
            } else if idle_since.elapsed() >= Duration::from_secs(1) {
                break;
            }
        }
        vm_hwm_kib(pid)
    };
    events.push((sampler.at(), "northd idle for 1 s (settled)".to_owned()));
    sampler.finish(side, &events);
    let mut compute_ms = 0;
    if !ours {
        if let Some(ctl) = daemon.control_socket() {
            let out = std::process::Command::new("ovn-appctl")
                .arg("-t")
                .arg(ctl)
                .args(["stopwatch/show", "ovn-northd-loop"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            compute_ms = out
                .lines()
                .find_map(|l| l.trim().strip_prefix("Maximum:"))
                .and_then(|v| v.trim().trim_end_matches("msec").trim().parse().ok())
                .unwrap_or(0);
            // Every stopwatch, one line each (samples, maximum and total per stage).
            let all = std::process::Command::new("ovn-appctl")
                .arg("-t")
                .arg(ctl)
                .arg("stopwatch/show")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            eprintln!("  real ovn-northd stopwatches: {}", stopwatch_summary(&all));
        }
    }
    if ours {
        // Our northd logs the time of each step of its round (the last line right after the
        // SB reply, which may come just after we saw `nb_cfg`).
        let waited = Instant::now();
        let mut log = String::new();
        while waited.elapsed() < Duration::from_secs(120) {
            log = std::fs::read_to_string(daemon.output_file()).unwrap_or_default();
            if log.contains("SB written") {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The rounds' lines, and any warning (a failed round says why).
        for line in log.lines().filter(|l| {
            ["_ms", "_mib", "WARN", "ERROR"]
                .iter()
                .any(|k| l.contains(k))
        }) {
            eprintln!("  ovnkit northd: {line}");
            if line.contains("SB written (full)") {
                let field = |k: &str| -> u64 {
                    line.split_whitespace()
                        .find_map(|w| w.strip_prefix(k))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                compute_ms = field("parse_ms=") + field("build_ms=") + field("diff_ms=");
            }
        }
    }
    let flows = count_rows(&sb_remote, "OVN_Southbound", "Logical_Flow");
    if let Ok(dir) = std::env::var("NORTHD_VS_REAL_KEEP") {
        // Keeps the sandbox's logs (northd's, the servers') for a closer look.
        let to = Path::new(&dir).join(side);
        let _ = std::fs::create_dir_all(&to);
        for d in [Some(stack.dir()), servers.as_ref().map(|s| s.dir())]
            .into_iter()
            .flatten()
        {
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if [".log", ".out", ".db"].iter().any(|x| name.ends_with(x)) {
                    let _ = std::fs::copy(e.path(), to.join(&*name));
                }
            }
        }
    }
    let server_peak = |i: usize| server_pids.get(i).map_or(0, |p| vm_hwm_kib(*p));
    let servers_peak_kib = (server_peak(0), server_peak(1));
    drop(stack);
    drop(servers);
    Run {
        secs,
        peak_kib: peak,
        settled_peak_kib,
        flows,
        compute_ms,
        load_ms,
        servers_peak_kib,
        cpu_ms,
        load_avg,
        steal_pct,
    }
}

fn compare(name: &str, load: &[serde_json::Value]) {
    let ovn = testkit::require_or_skip!();
    let real = run(&ovn, load.to_vec(), false, false);
    let ours = run(&ovn, load.to_vec(), true, ovnkit_stack());
    report(name, &real, &ours);
}

/// Prints the two runs side by side: for each northd the figures issue 8 and 9 set targets on
/// (compute at least 10x faster, memory at most a third), with the ratios.
fn report(name: &str, real: &Run, ours: &Run) {
    let mib = |k: u64| format!("{} MiB", k / 1024);
    let ratio = |r: f64, o: f64| r / o.max(1e-9);
    let rows: [(&str, String, String, String); 9] = [
        (
            "start to SB written (wall)",
            format!("{:.1} s", real.secs),
            format!("{:.1} s", ours.secs),
            format!("{:.1}x faster", ratio(real.secs, ours.secs)),
        ),
        (
            "compute, wall (real: longest loop; ours: parse+build+plan)",
            format!("{} ms", real.compute_ms),
            format!("{} ms", ours.compute_ms),
            format!(
                "{:.1}x faster (target 10x)",
                ratio(real.compute_ms as f64, ours.compute_ms as f64)
            ),
        ),
        (
            "northd CPU until SB written",
            format!("{} ms", real.cpu_ms.0),
            format!("{} ms", ours.cpu_ms.0),
            format!(
                "{:.1}x less (target 10x)",
                ratio(real.cpu_ms.0 as f64, ours.cpu_ms.0 as f64)
            ),
        ),
        (
            "NB / SB server CPU meanwhile",
            format!("{} / {} ms", real.cpu_ms.1, real.cpu_ms.2),
            format!("{} / {} ms", ours.cpu_ms.1, ours.cpu_ms.2),
            String::new(),
        ),
        (
            "northd peak RSS at SB nb_cfg",
            mib(real.peak_kib),
            mib(ours.peak_kib),
            format!(
                "{:.2} (target <= 0.33)",
                ours.peak_kib as f64 / real.peak_kib.max(1) as f64
            ),
        ),
        (
            "northd peak RSS settled",
            mib(real.settled_peak_kib),
            mib(ours.settled_peak_kib),
            format!(
                "{:.2} (target <= 0.33)",
                ours.settled_peak_kib as f64 / real.settled_peak_kib.max(1) as f64
            ),
        ),
        (
            "server peaks NB / SB",
            format!(
                "{} / {}",
                mib(real.servers_peak_kib.0),
                mib(real.servers_peak_kib.1)
            ),
            format!(
                "{} / {}",
                mib(ours.servers_peak_kib.0),
                mib(ours.servers_peak_kib.1)
            ),
            String::new(),
        ),
        (
            "harness NB load transaction",
            format!("{} ms", real.load_ms),
            format!("{} ms", ours.load_ms),
            String::new(),
        ),
        (
            "Logical_Flow rows; load average at start / SB written; CPU stolen",
            format!(
                "{}; {:.1} / {:.1}; {:.0}%",
                real.flows, real.load_avg.0, real.load_avg.1, real.steal_pct
            ),
            format!(
                "{}; {:.1} / {:.1}; {:.0}%",
                ours.flows, ours.load_avg.0, ours.load_avg.1, ours.steal_pct
            ),
            String::new(),
        ),
    ];
    eprintln!(
        "{name} (ours on {}):",
        if ovnkit_stack() {
            "ovnkit ovsdb-server, OVNKIT_STACK"
        } else {
            "real ovsdb-server"
        }
    );
    eprintln!(
        "  | {:<58} | {:>18} | {:>18} | ratio |",
        "", "real ovn-northd", "ovnkit northd"
    );
    for (what, r, o, x) in rows {
        eprintln!("  | {what:<58} | {r:>18} | {o:>18} | {x} |");
    }
    eprintln!(
        "  (on a loaded machine wall times are mostly waiting for a CPU: compare the CPU rows)"
    );
}

/// The switches-only load transaction with every row UUID replaced, consistently, by one that
/// looks random.
///
/// The shape names its rows `KIND-0000-0000-0000-INDEX` ([`shapes::uuid`]): every row of a
/// table shares its first 32 bits. OVS hashes a UUID by those 32 bits alone, so the real
/// ovsdb-server and ovn-northd's IDL kept all 25,000 ports in one hash bucket, and each lookup
/// walked all of them: quadratic work that real deployments (random UUIDs) never see, and that
/// made the real side of this benchmark take minutes (the NB server spent about 11 s of CPU on
/// the load and 45-55 s more before its first monitor reply, for ovn-northd and for ours
/// alike). A bijective mix of the 128 bits keeps the shape (same rows, same references) with
/// UUIDs as well spread as random ones.
fn spread_uuids(mut ops: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    fn mix(u: &str) -> Option<String> {
        let mut x = uuid::Uuid::parse_str(u).ok()?.as_u128();
        // xorshift-multiply rounds: each step is a bijection of the 128-bit value.
        x ^= x >> 64;
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        x ^= x >> 67;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9_94d0_49bb_1331_11eb);
        x ^= x >> 64;
        Some(uuid::Uuid::from_u128(x).to_string())
    }
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Array(a) => {
                if let [serde_json::Value::String(tag), serde_json::Value::String(u)] =
                    a.as_mut_slice()
                {
                    if tag == "uuid" {
                        if let Some(m) = mix(u) {
                            *u = m;
                        }
                        return;
                    }
                }
                a.iter_mut().for_each(walk);
            }
            serde_json::Value::Object(o) => {
                if let Some(serde_json::Value::String(u)) = o.get_mut("uuid") {
                    if let Some(m) = mix(u) {
                        *u = m;
                    }
                }
                o.values_mut().for_each(walk);
            }
            _ => {}
        }
    }
    ops.iter_mut().for_each(walk);
    ops
}

/// Issue 8's shape: 500 switches x 50 ports, 2,000 ACLs in port groups, 1,000 load balancers in a
/// group on every switch.
#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn switches_only_vs_real() {
    let nb = shapes::switches_only();
    compare(
        "switches-only 500x50",
        &spread_uuids(shapes::insert_transaction(&nb)),
    );
}

fn ovnk(name: &str, scale: shapes::ovnk::Scale) {
    let mut db = shapes::ovnk::build(scale);
    let load = shapes::ovnk::insert_all(&mut db);
    drop(db);
    eprintln!("{name}: {} NB rows", load.len() - 1);
    compare(name, &load);
}

/// Issue 9's first shape: an OVN-Kubernetes cluster of 100 nodes x 50 pods, 1,000 Services,
/// 500 NetworkPolicies, 100 EgressIPs.
#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn ovnk_100_nodes_vs_real() {
    ovnk(
        "ovn-kubernetes 100 nodes x 50 pods",
        shapes::ovnk::Scale::NODES_100,
    );
}

/// Only our northd on issue 9's first shape (no real ovn-northd run: for our memory and
/// times alone, e.g. with `RUST_LOG=ovnkit=debug` for the daemon's `memory after ...` lines).
#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn ovnk_100_nodes_ours() {
    let ovn = testkit::require_or_skip!();
    let mut db = shapes::ovnk::build(shapes::ovnk::Scale::NODES_100);
    let load = shapes::ovnk::insert_all(&mut db);
    drop(db);
    let r = run(&ovn, load, true, ovnkit_stack());
    eprintln!("ours: {r:?}");
}

/// Issue 9's second shape: 250 nodes x 100 pods, 5,000 Services, 2,000 NetworkPolicies, 500
/// EgressIPs.
#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn ovnk_250_nodes_vs_real() {
    ovnk(
        "ovn-kubernetes 250 nodes x 100 pods",
        shapes::ovnk::Scale::NODES_250,
    );
}

/// Only our northd on issue 9's second shape (as [`ovnk_100_nodes_ours`]).
#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn ovnk_250_nodes_ours() {
    let ovn = testkit::require_or_skip!();
    let mut db = shapes::ovnk::build(shapes::ovnk::Scale::NODES_250);
    let load = shapes::ovnk::insert_all(&mut db);
    drop(db);
    let r = run(&ovn, load, true, ovnkit_stack());
    eprintln!("ours: {r:?}");
}

/// Only our northd on issue 8's shape, printing its whole log (for diagnosing a round).
#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn switches_only_ours() {
    let ovn = testkit::require_or_skip!();
    let nb = shapes::switches_only();
    let load = spread_uuids(shapes::insert_transaction(&nb));
    let r = run(&ovn, load, true, ovnkit_stack());
    eprintln!("ours: {r:?}");
}

/// The whole ovnkit stack (`ovnkit ovsdb-server` for NB and SB, `ovnkit northd`) on a tiny NB,
/// as `OVNKIT_STACK=1` runs it on the big shapes.
#[test]
fn ovnkit_stack_on_a_tiny_nb() {
    let ovn = testkit::require_or_skip!();
    let load = vec![
        serde_json::json!("OVN_Northbound"),
        serde_json::json!({"op": "insert", "table": "NB_Global", "row": {"nb_cfg": 1}}),
        serde_json::json!({"op": "insert", "table": "Logical_Switch", "row": {"name": "sw0"}}),
    ];
    let r = run(&ovn, load, true, true);
    assert!(r.flows > 0, "{r:?}");
}
