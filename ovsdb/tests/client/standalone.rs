//! Against one real ovsdb-server: read-your-writes, optimistic guards, indexes, tracked changes
//! across reconnections, condition changes, locks, schema mismatches.

use std::time::Duration;

use ovsdb::client::{Client, ClientConfig, ClientError, IndexSpec, Txn};
use ovsdb::Schema;
use serde_json::json;

use crate::harness::{self, DB};
use crate::model::{columns_of, Model};

const T: Duration = Duration::from_secs(20);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn item(uid: i64) -> serde_json::Value {
    json!({"uid": uid, "value": format!("v{uid}"), "tags": ["set", ["t"]],
           "ext": ["map", [["k8s.ovn.org/id", format!("pod-{uid}")]]]})
}

fn uid_is(uid: i64) -> Vec<serde_json::Value> {
    vec![json!(["uid", "==", uid])]
}

#[test]
fn read_your_writes_guards_indexes_and_tracking() {
    let ovn = testkit::require_or_skip!();
    let Some(dump_tool) = harness::ovsdb_client(&ovn) else {
        return;
    };
    let mut sb = ovn.sandbox().unwrap();
    let schema = harness::write_schema(sb.dir());
    let server = sb.start_ovsdb_server("s", &schema).unwrap();
    let remote = server.remote();
    let rt = rt();
    rt.block_on(async {
        let cfg = ClientConfig::new(&remote, DB)
            .index(IndexSpec::new("Item", "by_pod", &["ext:k8s.ovn.org/id"]))
            .index(IndexSpec::new("Item", "by_uid", &["uid"]));
        let a = Client::connect(cfg.clone(), T).await.unwrap();
        let b = Client::connect(cfg, T).await.unwrap();
        assert_eq!(a.status().monitor_method, Some(ovsdb::client::MonitorMethod::CondSince));
        let mut model = Model::default();
        let mut reconnects = 0;
        for uid in 0..40i64 {
            let mut t = Txn::new();
            t.wait_absent("Item", uid_is(uid)).insert("Item", item(uid), None);
            let reply = a.transact(t).await.unwrap();
            let u = reply.inserted_uuid(1).unwrap();
            // Read-your-writes: visible the moment transact returns, also through the indexes.
            a.with_replica(|r| {
                let t = r.table("Item").unwrap();
                assert!(t.get(&u).is_some(), "row {uid} not in the replica after commit");
                let by_pod = t.lookup_str("by_pod", &format!("pod-{uid}"));
                assert_eq!(by_pod.len(), 1);
                assert_eq!(by_pod[0].uuid(), u);
            })
            .unwrap();
            if uid % 3 == 0 {
                let mut t = Txn::new();
                a.with_replica(|r| t.verify(r, "Item", u, &["value"]).map(drop)).unwrap().unwrap();
                t.update_row("Item", u, json!({"value": "changed", "opt": 7}));
                a.transact(t).await.unwrap();
                a.with_replica(|r| {
                    let t = r.table("Item").unwrap();
                    let row = t.get(&u).unwrap();
                    assert_eq!(t.value(row, "value").unwrap().to_json(), json!("changed"));
                })
                .unwrap();
            }
            if uid % 7 == 6 {
                let mut t = Txn::new();
                t.delete("Item", uid_is(uid - 1));
                a.transact(t).await.unwrap();
                a.with_replica(|r| assert!(r.table("Item").unwrap().lookup_str("by_pod", &format!("pod-{}", uid - 1)).is_empty()))
                    .unwrap();
            }
            if uid % 10 == 5 {
                b.reconnect();
                reconnects += 1;
            }
            if uid % 4 == 0 {
                let ch = b.take_changes();
                b.with_replica(|r| model.apply(&columns_of(r), &ch)).unwrap();
            }
        }
        // The retried insert is refused by its guard: applied at most once.
        let mut t = Txn::new();
        t.wait_absent("Item", uid_is(0)).insert("Item", item(0), None);
        let e = a.transact(t).await.unwrap_err();
        assert!(matches!(e, ClientError::TxnFailed { op_index: Some(0), ref error, .. } if error == "timed out"), "{e}");

        // A stale optimistic guard fails: A builds it, B changes the row first.
        let u1 = a.with_replica(|r| r.table("Item").unwrap().lookup_str("by_pod", "pod-1")[0].uuid()).unwrap();
        let mut stale = Txn::new();
        a.with_replica(|r| stale.verify(r, "Item", u1, &["value"]).map(drop)).unwrap().unwrap();
        stale.update_row("Item", u1, json!({"value": "from-a"}));
        let mut t = Txn::new();
        t.update_row("Item", u1, json!({"value": "from-b"}));
        b.transact(t).await.unwrap();
        let e = a.transact(stale).await.unwrap_err();
        assert!(matches!(e, ClientError::TxnFailed { ref error, .. } if error == "timed out"), "{e}");

        // B: everything, through tracked changes, equals the server.
        let want = harness::dump(&dump_tool, &remote);
        b.wait_for(T, |r| r.to_json() == want).await.unwrap();
        let ch = b.take_changes();
        b.with_replica(|r| model.apply(&columns_of(r), &ch)).unwrap();
        assert_eq!(model.to_json(&["Item", "Named"]), want);
        assert_eq!(a.with_replica(|r| r.to_json()).unwrap(), want);
        assert!(b.status().connections > reconnects, "{:?}", b.status());
        eprintln!(
            "standalone: {} inserts, {} modifies, {} deletes tracked across {reconnects} reconnects",
            model.inserts, model.modifies, model.deletes
        );
    });
}

#[test]
fn condition_changes_and_locks() {
    let ovn = testkit::require_or_skip!();
    let mut sb = ovn.sandbox().unwrap();
    let schema = harness::write_schema(sb.dir());
    let server = sb.start_ovsdb_server("s", &schema).unwrap();
    let remote = server.remote();
    rt().block_on(async {
        let a = Client::connect(ClientConfig::new(&remote, DB), T)
            .await
            .unwrap();
        let mut t = Txn::new();
        for uid in 0..20 {
            t.insert("Item", item(uid), None);
        }
        a.transact(t).await.unwrap();
        let cfg = ClientConfig::new(&remote, DB)
            .table("Item", &["uid", "value"])
            .condition("Item", vec![json!(["uid", "<", 5])]);
        let c = Client::connect(cfg, T).await.unwrap();
        let uids = |c: &Client| {
            let mut v: Vec<i64> = c
                .with_replica(|r| {
                    let t = r.table("Item").unwrap();
                    t.rows()
                        .map(|row| t.value(row, "uid").unwrap().to_json().as_i64().unwrap())
                        .collect()
                })
                .unwrap();
            v.sort_unstable();
            v
        };
        assert_eq!(uids(&c), (0..5).collect::<Vec<_>>());
        c.take_changes();
        c.set_condition("Item", Some(vec![json!(["uid", ">=", 15])]))
            .await
            .unwrap();
        c.wait_for(T, |r| r.table("Item").unwrap().len() == 5)
            .await
            .unwrap();
        assert_eq!(uids(&c), (15..20).collect::<Vec<_>>());
        let ch = c.take_changes();
        assert_eq!(ch.len(), 10, "5 rows left and 5 entered");
        // New rows matching the condition arrive; others do not.
        let mut t = Txn::new();
        t.insert("Item", item(100), None)
            .insert("Item", item(1), None);
        a.transact(t).await.unwrap();
        c.wait_for(T, |r| r.table("Item").unwrap().len() == 6)
            .await
            .unwrap();
        assert!(c
            .set_condition("Item", Some(vec![json!(["nope", "==", 1])]))
            .await
            .is_err());
        c.set_condition("Item", None).await.unwrap();
        c.wait_for(T, |r| r.table("Item").unwrap().len() == 22)
            .await
            .unwrap();
        // The condition survives a reconnection.
        c.set_condition("Item", Some(vec![json!(["uid", "==", 100])]))
            .await
            .unwrap();
        c.wait_for(T, |r| r.table("Item").unwrap().len() == 1)
            .await
            .unwrap();
        c.reconnect();
        let mut rx = c.subscribe();
        tokio::time::timeout(T, rx.wait_for(|s| s.connections >= 2 && s.connected))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(uids(&c), vec![100]);

        // Locks: lock, contention, steal, notification, unlock.
        let b = Client::connect(ClientConfig::new(&remote, DB).table("Named", &[]), T)
            .await
            .unwrap();
        assert!(a.lock("L").await.unwrap());
        assert!(a.has_lock("L"));
        assert!(!b.lock("L").await.unwrap());
        assert!(b.steal("L").await.unwrap());
        let mut rx = a.subscribe();
        tokio::time::timeout(T, rx.wait_for(|s| s.locks.get("L") == Some(&false)))
            .await
            .unwrap()
            .unwrap();
        let mut t = Txn::new();
        t.assert_lock("L")
            .insert("Named", json!({"name": "x", "n": 1}), None);
        let e = a.transact(t.clone()).await.unwrap_err();
        assert!(
            matches!(e, ClientError::TxnFailed { ref error, .. } if error == "not owner"),
            "{e}"
        );
        b.transact(t).await.unwrap();
        b.unlock("L").await.unwrap();
        a.unlock("L").await.unwrap();
        assert!(b.lock("L").await.unwrap());
        // A reconnection re-acquires the lock.
        b.reconnect();
        let mut rx = b.subscribe();
        tokio::time::timeout(T, rx.wait_for(|s| s.connections >= 2 && s.connected))
            .await
            .unwrap()
            .unwrap();
        assert!(b.has_lock("L"));
    });
}

#[test]
fn schema_mismatch_is_a_clear_error() {
    let ovn = testkit::require_or_skip!();
    let mut sb = ovn.sandbox().unwrap();
    let schema = harness::write_schema(sb.dir());
    let server = sb.start_ovsdb_server("s", &schema).unwrap();
    let remote = server.remote();
    rt().block_on(async {
        let mut expected = harness::schema_json();
        expected["tables"]["Item"]["columns"]["uid"]["type"] = json!("string");
        let mut cfg = ClientConfig::new(&remote, DB);
        cfg.expected_schema = Some(Schema::from_json(&expected).unwrap());
        let e = Client::connect(cfg, T).await.unwrap_err();
        assert!(
            matches!(e, ClientError::SchemaMismatch(ref m) if m.contains("uid")),
            "{e}"
        );
        let e = Client::connect(ClientConfig::new(&remote, DB).table("Nope", &[]), T)
            .await
            .unwrap_err();
        assert!(
            matches!(e, ClientError::SchemaMismatch(ref m) if m.contains("Nope")),
            "{e}"
        );
        let e = Client::connect(ClientConfig::new(&remote, DB).table("Item", &["nope"]), T)
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::SchemaMismatch(_)), "{e}");
        // A request on a client that gave up fails with the same error.
        let c = Client::start(ClientConfig::new(&remote, DB).table("Nope", &[])).unwrap();
        let _ = c.wait_connected(T).await;
        assert!(matches!(
            c.transact(Txn::new()).await,
            Err(ClientError::SchemaMismatch(_))
        ));
        let e = Client::connect(
            ClientConfig::new(&remote, "NoSuchDb"),
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, ClientError::UnknownDatabase(_)), "{e}");
    });
}
