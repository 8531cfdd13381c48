//! A 3-member real Raft cluster: a writer commits through a leader-only client while the leader is
//! SIGKILLed and restarted several times. No acknowledged write is lost, none is applied twice, the
//! replicas equal `ovsdb-client dump`, and a second client's tracked changes are complete.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ovsdb::client::{Client, ClientConfig, ClientError, IndexSpec, Txn};
use serde_json::json;

use crate::harness::{self, Cluster, DB};
use crate::model::{columns_of, Model};

const KILLS: usize = 4;

#[test]
fn leader_kills_lose_nothing_and_duplicate_nothing() {
    let ovn = testkit::require_or_skip!();
    let Some(dump_tool) = harness::ovsdb_client(&ovn) else {
        return;
    };
    let mut sb = ovn.sandbox().unwrap();
    let cluster = Cluster::create(&mut sb, 3);
    let remotes = cluster.remotes();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = Duration::from_secs(60);

    let cfg = ClientConfig::new(&remotes, DB)
        .leader_only(true)
        .index(IndexSpec::new("Item", "by_uid", &["uid"]));
    let writer = rt.block_on(Client::connect(cfg, t)).unwrap();
    // The reader uses any member (followers included) and only looks at tracked changes.
    let reader = rt
        .block_on(Client::connect(ClientConfig::new(&remotes, DB), t))
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let (w, s2, n2) = (writer.clone(), stop.clone(), written.clone());
    let writes = rt.spawn(async move {
        let mut acked = BTreeSet::new();
        let mut deleted = BTreeSet::new();
        let (mut unknown, mut already, mut modified) = (0usize, 0usize, 0usize);
        let mut uid = 0i64;
        while !s2.load(Ordering::Relaxed) || uid < 150 {
            // Insert guarded by "no row with this uid yet": retrying after an unknown outcome is safe.
            let mut txn = Txn::new();
            txn.wait_absent("Item", vec![json!(["uid", "==", uid])])
                .insert(
                    "Item",
                    json!({"uid": uid, "value": "new", "ext": ["map", [["w", "1"]]]}),
                    None,
                );
            match tokio::time::timeout(Duration::from_secs(60), w.transact(txn)).await {
                Ok(Ok(_)) => {}
                Ok(Err(ClientError::TxnFailed {
                    op_index: Some(0),
                    ref error,
                    ..
                })) if error == "timed out" => already += 1,
                Ok(Err(e)) if e.is_transient() => {
                    unknown += 1;
                    continue;
                }
                Ok(Err(e)) => panic!("write {uid}: {e}"),
                Err(_) => panic!("write {uid} hung"),
            }
            // Read-your-writes: the row is in the replica, through the index.
            let k = [ovsdb::Datum::scalar(ovsdb::Atom::Integer(uid))];
            let u = w
                .with_replica(|r| {
                    r.table("Item")
                        .unwrap()
                        .lookup("by_uid", &k)
                        .unwrap()
                        .to_vec()
                })
                .unwrap();
            assert_eq!(
                u.len(),
                1,
                "uid {uid} in the writer's replica {} times after commit",
                u.len()
            );
            acked.insert(uid);
            // Every other write also modifies the previous row under an optimistic guard.
            if uid % 2 == 1 {
                let kp = [ovsdb::Datum::scalar(ovsdb::Atom::Integer(uid - 1))];
                let mut txn = Txn::new();
                let ok = w.with_replica(|r| {
                    let prev = r
                        .table("Item")
                        .unwrap()
                        .lookup("by_uid", &kp)
                        .unwrap()
                        .first()
                        .copied();
                    prev.map(|p| {
                        txn.verify(r, "Item", p, &["value"])
                            .map(|t| t.update_row("Item", p, json!({"value": "mod", "opt": uid})))
                            .is_ok()
                    })
                });
                if ok == Some(Some(true)) && w.transact(txn).await.is_ok() {
                    modified += 1;
                }
            }
            // Every tenth write also deletes an older row (idempotent: retried until acknowledged).
            if uid % 10 == 9 {
                loop {
                    let mut txn = Txn::new();
                    txn.delete("Item", vec![json!(["uid", "==", uid - 5])]);
                    match tokio::time::timeout(Duration::from_secs(60), w.transact(txn)).await {
                        Ok(Ok(_)) => break,
                        Ok(Err(e)) if e.is_transient() => unknown += 1,
                        Ok(Err(e)) => panic!("delete {}: {e}", uid - 5),
                        Err(_) => panic!("delete {} hung", uid - 5),
                    }
                }
                deleted.insert(uid - 5);
            }
            uid += 1;
            n2.store(uid as usize, Ordering::Relaxed);
        }
        (acked, deleted, unknown, already, modified)
    });

    // The reader takes its changes every few milliseconds during the storm.
    let (r2, s3) = (reader.clone(), stop.clone());
    let reading = rt.spawn(async move {
        let mut model = Model::default();
        while !s3.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let ch = r2.take_changes();
            r2.with_replica(|r| model.apply(&columns_of(r), &ch))
                .unwrap();
        }
        model
    });

    // The storm: kill the leader, let the cluster elect another, restart the dead member.
    let start = Instant::now();
    for k in 0..KILLS {
        let before = written.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(30);
        while written.load(Ordering::Relaxed) < before + 25 {
            assert!(Instant::now() < deadline, "writer stalled before kill {k}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let leader = cluster.leader(Duration::from_secs(30));
        cluster.kill(&mut sb, leader);
        reader.reconnect();
        eprintln!(
            "kill {}: SIGKILLed leader m{leader} after {} writes",
            k + 1,
            written.load(Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_millis(500));
        cluster.start(&mut sb, leader);
        cluster.wait_serving(leader, Duration::from_secs(30));
    }
    stop.store(true, Ordering::Relaxed);
    let (acked, deleted, unknown, already, modified) = rt.block_on(writes).unwrap();
    eprintln!(
        "storm: {KILLS} leader kills in {:?}; {} writes acknowledged ({unknown} outcome-unknown retries, {already} found \
         already applied by their guard), {modified} guarded modifications, {} deletions; writer connections {}",
        start.elapsed(),
        acked.len(),
        deleted.len(),
        writer.status().connections
    );
    assert!(writer.status().connections > KILLS as u64);
    // Leader-only: the writer ends up on the current leader.
    let leader = cluster.leader(Duration::from_secs(30));
    rt.block_on(async {
        let mut rx = writer.subscribe();
        let want = cluster.remote(leader);
        tokio::time::timeout(
            t,
            rx.wait_for(|s| s.remote.as_deref() == Some(want.as_str())),
        )
        .await
        .unwrap()
        .unwrap();
    });

    // Compare with the cluster as ovsdb-client sees it, through the current leader.
    let want = harness::dump(&dump_tool, &cluster.remote(leader));
    let items = want["Item"].as_object().unwrap();
    let mut seen = BTreeSet::new();
    for row in items.values() {
        let uid = row["uid"].as_i64().unwrap();
        assert!(seen.insert(uid), "uid {uid} applied twice");
    }
    let live: BTreeSet<i64> = acked.difference(&deleted).copied().collect();
    let lost: Vec<_> = live.difference(&seen).collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    let extra: Vec<_> = seen.difference(&live).collect();
    assert!(
        extra.is_empty(),
        "rows nobody acknowledged or deleted rows back: {extra:?}"
    );

    rt.block_on(async {
        writer.wait_for(t, |r| r.to_json() == want).await.unwrap();
        reader.wait_for(t, |r| r.to_json() == want).await.unwrap();
    });
    // The reader's tracked changes, taken all along, rebuild the same content.
    let mut model = rt.block_on(reading).unwrap();
    let ch = reader.take_changes();
    reader
        .with_replica(|r| model.apply(&columns_of(r), &ch))
        .unwrap();
    assert_eq!(model.to_json(&["Item", "Named"]), want);
    eprintln!(
        "reader: {} connections, {} resumed from history; {} inserts, {} modifies, {} deletes tracked; {} rows checked",
        reader.status().connections,
        reader.status().resumptions,
        model.inserts,
        model.modifies,
        model.deletes,
        items.len()
    );
}
