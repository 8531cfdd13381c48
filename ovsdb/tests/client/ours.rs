//! The client against ovnkit's own server (in-process): the same guarantees as against
//! ovsdb-server, plus resumption from history (our server keeps it for standalone databases).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ovsdb::client::{Client, ClientConfig, IndexSpec, MonitorMethod, Txn};
use ovsdb::server::net::{self, NetOptions, Remote};
use ovsdb::server::{FileStorage, Server, ServerConfig, StorageOptions};
use serde_json::json;

use crate::harness::{self, DB};
use crate::model::{columns_of, Model};

const T: Duration = Duration::from_secs(20);

#[test]
fn against_our_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stress.db");
    FileStorage::create(&file, &harness::schema_json()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut server = Server::new(ServerConfig::default()).unwrap();
        let (db, st, _) = FileStorage::open(&file, StorageOptions::default()).unwrap();
        server.add_database(db, Some(Box::new(st))).unwrap();
        let sock = dir.path().join("ours.sock");
        let running = net::serve(Arc::new(Mutex::new(server)), &[Remote::Punix(sock.clone())], NetOptions::default())
            .await
            .unwrap();
        let remote = format!("unix:{}", sock.display());
        let cfg = ClientConfig::new(&remote, DB).index(IndexSpec::new("Item", "by_pod", &["ext:k8s.ovn.org/id"]));
        let a = Client::connect(cfg.clone(), T).await.unwrap();
        let b = Client::connect(cfg, T).await.unwrap();
        assert_eq!(a.status().monitor_method, Some(MonitorMethod::CondSince));
        let mut model = Model::default();
        for uid in 0..30i64 {
            let mut t = Txn::new();
            t.wait_absent("Item", vec![json!(["uid", "==", uid])]).insert(
                "Item",
                json!({"uid": uid, "value": "v", "ext": ["map", [["k8s.ovn.org/id", format!("pod-{uid}")]]]}),
                None,
            );
            let u = a.transact(t).await.unwrap().inserted_uuid(1).unwrap();
            let seen = a.with_replica(|r| r.table("Item").unwrap().lookup_str("by_pod", &format!("pod-{uid}")).first().map(|r| r.uuid()));
            assert_eq!(seen, Some(Some(u)), "read-your-writes against our server");
            if uid % 5 == 0 {
                let mut t = Txn::new();
                a.with_replica(|r| t.verify(r, "Item", u, &["value"]).map(drop)).unwrap().unwrap();
                t.update_row("Item", u, json!({"value": "w"}));
                a.transact(t).await.unwrap();
            }
            if uid % 10 == 3 {
                b.reconnect();
            }
            if uid % 3 == 0 {
                let ch = b.take_changes();
                b.with_replica(|r| model.apply(&columns_of(r), &ch)).unwrap();
            }
        }
        let want = a.with_replica(|r| r.to_json()).unwrap();
        b.wait_for(T, |r| r.to_json() == want).await.unwrap();
        let ch = b.take_changes();
        b.with_replica(|r| model.apply(&columns_of(r), &ch)).unwrap();
        assert_eq!(model.to_json(&["Item", "Named"]), want);
        let s = b.status();
        assert!(s.resumptions >= 2, "our server keeps history: {s:?}");

        // Conditions and locks.
        b.set_condition("Item", Some(vec![json!(["uid", "<", 3])])).await.unwrap();
        b.wait_for(T, |r| r.table("Item").unwrap().len() == 3).await.unwrap();
        assert!(a.lock("L").await.unwrap());
        assert!(!b.lock("L").await.unwrap());
        assert!(b.steal("L").await.unwrap());
        let mut rx = a.subscribe();
        tokio::time::timeout(T, rx.wait_for(|s| s.locks.get("L") == Some(&false))).await.unwrap().unwrap();
        drop((a, b));
        running.shutdown().await;
    });
}
