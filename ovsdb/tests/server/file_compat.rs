//! Our database files and the real tools: `ovsdb-tool` and ovsdb-server read what we write, and we
//! read what they write, including a corrupt tail and after compaction.

use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use ovsdb::jsonrpc::{Message, Request};
use ovsdb::server::{FileStorage, Server, ServerConfig, StorageOptions};

use crate::harness::{self, OurServer};

fn transact(server: &mut Server, ops: Value) -> Value {
    let sid = server.connect(Instant::now(), None);
    server.handle_message(
        sid,
        Message::Request(Request {
            method: "transact".into(),
            params: ops.as_array().cloned().unwrap_or_default(),
            id: json!(1),
        }),
        Instant::now(),
    );
    let mut result = Value::Null;
    while let Some(m) = server.poll_transmit(sid) {
        let m = m.to_json();
        if m["id"] == json!(1) {
            result = if m["error"].is_null() {
                m["result"].clone()
            } else {
                m["error"].clone()
            };
        }
    }
    server.disconnect(sid);
    result
}

fn open(path: &Path, options: StorageOptions) -> Server {
    let (db, st, _) = FileStorage::open(path, options).unwrap();
    let mut s = Server::new(ServerConfig::default()).unwrap();
    s.add_database(db, Some(Box::new(st))).unwrap();
    s
}

fn dump(client: &Path, remote: &str, db: &str) -> String {
    let (ok, out, err) = harness::run(client, &["dump", remote, db], &[]);
    assert!(ok, "{err}");
    harness::erase_uuids_sorted(&out)
}

fn workload(server: &mut Server) {
    for i in 0..30 {
        let r = transact(
            server,
            json!(["Test",
                {"op": "insert", "table": "Child", "row": {"label": format!("c{i}"), "value": i}, "uuid-name": "c"},
                {"op": "insert", "table": "Parent", "row": {"name": format!("p{i}"), "count": i,
                 "tags": ["set", ["a", "b"]], "children": ["set", [["named-uuid", "c"]]],
                 "ext": ["map", [["k", "v"]]]}}]),
        );
        assert!(r[1]["uuid"].is_array(), "{r}");
        let r = transact(
            server,
            json!(["Test", {"op": "mutate", "table": "Parent", "where": [["name", "==", format!("p{i}")]],
                "mutations": [["tags", "delete", "a"], ["tags", "insert", "z"]]}]),
        );
        assert_eq!(r[0]["count"], 1, "{r}");
        if i % 3 == 0 {
            let r = transact(
                server,
                json!(["Test", {"op": "delete", "table": "Parent", "where": [["name", "==", format!("p{i}")]]}]),
            );
            assert!(
                r[0]["count"].is_number() || r[0]["error"].is_string(),
                "{r}"
            );
        }
    }
}

#[test]
fn real_tools_read_our_file_and_we_read_theirs() {
    let ovn = testkit::require_or_skip!();
    let Some(client) = harness::require_program("ovsdb-client", "openvswitch-common") else {
        return;
    };
    let tool = ovn.find(testkit::Tool::OvsdbTool).unwrap();
    let schema = harness::test_schema();
    let dir = tempfile::tempdir().unwrap();
    // A file created by the real ovsdb-tool, written by us.
    let f = dir.path().join("ours.db");
    let (ok, _, err) = harness::run(
        &tool,
        &["create", f.to_str().unwrap(), schema.to_str().unwrap()],
        &[],
    );
    assert!(ok, "{err}");
    let mut server = open(&f, StorageOptions::default());
    workload(&mut server);
    drop(server);
    let (ok, log, err) = harness::run(&tool, &["show-log", f.to_str().unwrap()], &[]);
    assert!(ok, "show-log: {err}");
    assert!(log.contains("record 1:"), "{log}");
    let (ok, q, err) = harness::run(
        &tool,
        &[
            "query",
            f.to_str().unwrap(),
            r#"["Test",{"op":"select","table":"Parent","where":[],"columns":["name","tags"]}]"#,
        ],
        &[],
    );
    assert!(ok, "query: {err}");
    assert!(q.contains("\"p1\"") && !q.contains("\"p0\""), "{q}");

    // The real ovsdb-server serves our file with the same contents as we do.
    let ours = OurServer::start_files(tempfile::tempdir().unwrap(), vec![f.clone()]);
    let our_dump = dump(&client, &ours.remote(), "Test");
    drop(ours);
    let mut sandbox = ovn.sandbox().unwrap();
    let real = sandbox.start_ovsdb_server_on("real", &f).unwrap();
    let real_dump = dump(&client, &real.remote(), "Test");
    assert_eq!(our_dump, real_dump);

    // Real ovsdb-server appends diff records; we replay them to the same contents.
    for t in [
        r#"["Test",{"op":"update","table":"Parent","where":[["name","==","p1"]],"row":{"tags":["set",["q"]],"color":"red"}}]"#,
        r#"["Test",{"op":"delete","table":"Parent","where":[["name","==","p2"]]}]"#,
    ] {
        let (ok, _, err) = harness::run(&client, &["transact", &real.remote(), t], &[]);
        assert!(ok, "{err}");
    }
    let real_dump = dump(&client, &real.remote(), "Test");
    sandbox.stop("real");
    let ours = OurServer::start_files(tempfile::tempdir().unwrap(), vec![f.clone()]);
    assert_eq!(dump(&client, &ours.remote(), "Test"), real_dump);
}

#[test]
fn corrupt_tail_is_ignored_and_compaction_keeps_data() {
    let ovn = testkit::require_or_skip!();
    let tool = ovn.find(testkit::Tool::OvsdbTool).unwrap();
    let schema = harness::test_schema();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.db");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&schema).unwrap()).unwrap();
    FileStorage::create(&f, &json).unwrap();
    let small = StorageOptions {
        sync_every_commit: false,
        compact_min_size: 8 << 10,
        compact_factor: 2,
        compact_min_records: 0,
        compact_min_interval: std::time::Duration::ZERO,
    };
    let mut server = open(&f, small);
    workload(&mut server);
    let before = server.database("Test").unwrap().n_rows();
    drop(server);
    let size = std::fs::metadata(&f).unwrap().len();
    let (ok, log, err) = harness::run(&tool, &["show-log", f.to_str().unwrap()], &[]);
    assert!(ok, "{err}");
    assert!(
        log.contains("compacted by ovnkit"),
        "compaction did not happen (size {size}):\n{log}"
    );
    // A torn write at the end.
    let mut bytes = std::fs::read(&f).unwrap();
    bytes.extend_from_slice(
        b"OVSDB JSON 200 0000000000000000000000000000000000000000\n{\"Parent\":",
    );
    std::fs::write(&f, &bytes).unwrap();
    let server = open(&f, small);
    assert_eq!(server.database("Test").unwrap().n_rows(), before);
    let mut server = server;
    let r = transact(
        &mut server,
        json!(["Test", {"op": "insert", "table": "Parent", "row": {"name": "after"}}]),
    );
    assert!(r[0]["uuid"].is_array(), "{r}");
    drop(server);
    let (ok, _, err) = harness::run(&tool, &["show-log", f.to_str().unwrap()], &[]);
    assert!(ok, "show-log after recovery: {err}");
    let (ok, q, err) = harness::run(
        &tool,
        &[
            "query",
            f.to_str().unwrap(),
            r#"["Test",{"op":"select","table":"Parent","where":[["name","==","after"]]}]"#,
        ],
        &[],
    );
    assert!(ok && q.contains("after"), "{err}{q}");
}
