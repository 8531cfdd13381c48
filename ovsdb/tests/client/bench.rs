//! Benchmark (ignored by default; run with
//! `cargo test --release -p ovsdb --test client -- --ignored --nocapture bench`):
//! a real ovsdb-server with an OVN_Southbound database of ~300k rows (`OVNKIT_BENCH_ROWS`), then
//! for our client and for the python-ovs IDL in turn: the time to the first complete replica, and
//! the time until a stream of 10k small transactions (pipelined by one writer) is reflected.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ovsdb::client::{Client, ClientConfig, Txn};
use ovsdb::{Atom, Datum};
use serde_json::json;
use testkit::Schema;
use uuid::Uuid;

const SB: &str = "OVN_Southbound";
const UPDATES: usize = 10_000;

const PY: &str = r#"
import sys, time
import ovs.db.idl, ovs.poller
remote, schema, marker = sys.argv[1], sys.argv[2], int(sys.argv[3])
helper = ovs.db.idl.SchemaHelper(schema)
helper.register_all()
t0 = time.monotonic()
idl = ovs.db.idl.Idl(remote, helper, leader_only=False)
while not idl.has_ever_connected():
    idl.run()
    p = ovs.poller.Poller(); idl.wait(p); p.timer_wait(10); p.block()
idl.run()
print("synced %.6f %d" % (time.monotonic() - t0, len(idl.tables["Logical_Flow"].rows)), flush=True)
sys.stdin.readline()
t1 = time.monotonic()
def done():
    return any(r.tunnel_key == marker for r in idl.tables["Datapath_Binding"].rows.values())
while True:
    idl.run()
    if done():
        break
    p = ovs.poller.Poller(); idl.wait(p); p.timer_wait(10); p.block()
print("updated %.6f" % (time.monotonic() - t1), flush=True)
"#;

/// Kills the child on drop, also when the test panics.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn write_stream(writer: &Client, flows: &[Uuid], round: i64, marker: i64) -> Duration {
    let t = Instant::now();
    let futs = flows.iter().take(UPDATES).enumerate().map(|(i, u)| {
        let mut txn = Txn::new();
        txn.update_row(
            "Logical_Flow",
            *u,
            json!({"priority": (i as i64 + round) % 65535}),
        );
        writer.transact(txn)
    });
    for r in futures::future::join_all(futs).await {
        r.unwrap();
    }
    eprintln!(
        "writer: {UPDATES} updates acknowledged in {:?}",
        t.elapsed()
    );
    let mut txn = Txn::new();
    txn.insert("Datapath_Binding", json!({"tunnel_key": marker}), None);
    writer.transact(txn).await.unwrap();
    t.elapsed()
}

#[test]
#[ignore = "benchmark: minutes of CPU"]
fn bench_initial_dump_and_update_stream_vs_python_idl() {
    let ovn = testkit::require_or_skip!();
    let rows: usize = std::env::var("OVNKIT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let mut sb = ovn.sandbox().unwrap();
    sb.set_timeout(Duration::from_secs(120));
    let schema = ovn.schema(Schema::Southbound).unwrap();
    let server = sb.start_ovsdb_server("sb", &schema).unwrap();
    let remote = server.remote();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Populate: 100 datapaths, `rows` logical flows, in batches.
    let t = Instant::now();
    let mut wcfg = ClientConfig::new(&remote, SB);
    wcfg.monitor = None;
    let writer = rt
        .block_on(Client::connect(wcfg, Duration::from_secs(30)))
        .unwrap();
    let flows: Vec<Uuid> = rt.block_on(async {
        let mut txn = Txn::new();
        for k in 1..=100 {
            txn.insert("Datapath_Binding", json!({"tunnel_key": k, "external_ids": ["map", [["name", format!("ls{k}")]]]}), Some(&format!("d{k}")));
        }
        let r = writer.transact(txn).await.unwrap();
        let dps: Vec<Uuid> = (0..100).map(|i| r.inserted_uuid(i).unwrap()).collect();
        let mut flows = Vec::with_capacity(rows);
        let batch = 10_000;
        for start in (0..rows).step_by(batch) {
            let mut txn = Txn::new();
            for i in start..(start + batch).min(rows) {
                txn.insert(
                    "Logical_Flow",
                    json!({
                        "logical_datapath": ["uuid", dps[i % 100].to_string()],
                        "pipeline": if i % 2 == 0 { "ingress" } else { "egress" },
                        "table_id": (i % 27) as i64, "priority": (i % 1000) as i64,
                        "match": format!("inport == \"lsp-{i}\" && ip4.src == 10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255),
                        "actions": "next;",
                        "external_ids": ["map", [["stage-name", "ls_in_acl"], ["source", "northd.c:1234"]]],
                    }),
                    None,
                );
            }
            let n = txn.ops().len();
            let r = writer.transact(txn).await.unwrap();
            flows.extend((0..n).map(|i| r.inserted_uuid(i).unwrap()));
        }
        flows
    });
    eprintln!(
        "populated {} logical flows + 100 datapaths in {:?}",
        flows.len(),
        t.elapsed()
    );

    // Ours.
    let (ours_sync, ours_upd, stream1) = rt.block_on(async {
        let t = Instant::now();
        let mut cfg = ClientConfig::new(&remote, SB);
        cfg.track_changes = false;
        let c = Client::connect(cfg, Duration::from_secs(600))
            .await
            .unwrap();
        let sync = t.elapsed();
        eprintln!("ours: synced in {sync:?}");
        assert_eq!(
            c.with_replica(|r| r.table("Logical_Flow").unwrap().len()),
            Some(rows)
        );
        let marker = 999_001i64;
        let t = Instant::now();
        let key = [Datum::scalar(Atom::Integer(marker))];
        let (stream, waited) = tokio::join!(write_stream(&writer, &flows, 1, marker), async {
            let r = c
                .wait_for(Duration::from_secs(30), |r| {
                    !r.table("Datapath_Binding")
                        .unwrap()
                        .lookup("schema:0", &key)
                        .unwrap_or(&[])
                        .is_empty()
                })
                .await;
            if let Err(e) = r {
                panic!(
                    "{e}: {:?} {:?}",
                    c.status(),
                    c.with_replica(|r| r.table("Datapath_Binding").unwrap().len())
                );
            }
            t.elapsed()
        });
        (sync, waited, stream)
    });

    // python-ovs IDL, same server, same workload.
    let dir = sb.dir().to_path_buf();
    std::fs::write(dir.join("idl_bench.py"), PY).unwrap();
    let marker = 999_002i64;
    let mut py = Kill(
        Command::new("/usr/bin/python3")
            .args([
                dir.join("idl_bench.py").display().to_string(),
                remote.clone(),
                schema.display().to_string(),
                marker.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(py.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let py_sync: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    py.0.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let stream2 = rt.block_on(write_stream(&writer, &flows, 2, marker));
    line.clear();
    out.read_line(&mut line).unwrap();
    let py_upd: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    drop(py);

    let s = |d: Duration| d.as_secs_f64();
    eprintln!("BENCH rows={rows} updates={UPDATES}");
    eprintln!(
        "BENCH initial replica: ovnkit {:.3}s, python-ovs IDL {:.3}s, ratio python/ovnkit {:.1}x",
        s(ours_sync),
        py_sync,
        py_sync / s(ours_sync)
    );
    eprintln!(
        "BENCH {UPDATES} updates reflected: ovnkit {:.3}s (writer alone {:.3}s), python-ovs IDL {:.3}s (writer alone {:.3}s), \
         ratio python/ovnkit {:.1}x",
        s(ours_upd),
        s(stream1),
        py_upd,
        s(stream2),
        py_upd / s(ours_upd)
    );
}
