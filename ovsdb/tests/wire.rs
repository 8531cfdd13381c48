//! Interop tests of the JSON-RPC codec and the database file format against the real OVS tools
//! (`ovsdb-tool`, `ovsdb-server`, `ovsdb-client` from OVS 3.1).
//!
//! Without the tools these tests print a skip reason and pass, except under `CI=true`, where they fail
//! naming the packages to install.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use ovsdb::file::{self, Corruption, LogFile, TransactionRecord};
use ovsdb::jsonrpc::{echo, JsonRpcCodec, Message, Request, Response};
use serde_json::{json, Value};
use tokio_util::codec::{Encoder, Framed};

const NB_SCHEMA: &str = "/usr/share/ovn/ovn-nb.ovsschema";

/// Whether the OVS tools (and `extra` files) are present; panics under CI when they are not.
fn have_tools(extra: &[&str]) -> bool {
    let missing_tool = ["ovsdb-tool", "ovsdb-server", "ovsdb-client"]
        .into_iter()
        .find(|t| Command::new(t).arg("--version").output().is_err());
    let missing_file = extra.iter().find(|f| !Path::new(f).exists());
    let reason = match (missing_tool, missing_file) {
        (Some(t), _) => format!("{t} not found: install openvswitch-common and openvswitch-switch"),
        (None, Some(f)) => format!("{f} not found: install ovn-central"),
        (None, None) => return true,
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{reason}");
    }
    eprintln!("skipping: {reason}");
    false
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A foreground ovsdb-server on a Unix socket in a temporary directory, killed on drop.
struct Server {
    child: Child,
    sock: PathBuf,
}

impl Server {
    fn start(dir: &Path, db: &Path) -> Self {
        let sock = dir.join("db.sock");
        let child = Command::new("ovsdb-server")
            .arg(format!("--remote=punix:{}", sock.display()))
            .arg(format!("--unixctl={}", dir.join("ctl").display()))
            .arg(format!("--log-file={}", dir.join("server.log").display()))
            .arg("--no-chdir")
            .arg(db)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Self { child, sock };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.sock.exists() {
            if let Some(status) = server.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                panic!("ovsdb-server exited with {status}: {log}");
            }
            assert!(Instant::now() < deadline, "ovsdb-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn remote(&self) -> String {
        format!("unix:{}", self.sock.display())
    }

    fn transact(&self, ops: Value) -> Value {
        serde_json::from_str(&run(
            "ovsdb-client",
            &["transact", &self.remote(), &ops.to_string()],
        ))
        .unwrap()
    }

    fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn file_reads_database_written_by_real_ovsdb_server() {
    if !have_tools(&[NB_SCHEMA]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nb.db");
    run("ovsdb-tool", &["create", db.to_str().unwrap(), NB_SCHEMA]);
    let server = Server::start(dir.path(), &db);
    let r = server.transact(json!(["OVN_Northbound",
        {"op":"insert","table":"Logical_Switch","uuid-name":"s",
         "row":{"name":"sw0","external_ids":["map",[["a","1"],["b","2"]]]}},
        {"op":"insert","table":"Logical_Switch_Port","uuid-name":"p",
         "row":{"name":"p1","addresses":["set",["00:00:00:00:00:01 10.0.0.1","x"]]}},
        {"op":"mutate","table":"Logical_Switch","where":[["name","==","sw0"]],
         "mutations":[["ports","insert",["set",[["named-uuid","p"]]]]]}]));
    let sw = r[0]["uuid"][1].as_str().unwrap().to_owned();
    let port = r[1]["uuid"][1].as_str().unwrap().to_owned();
    server.transact(json!(["OVN_Northbound",
        {"op":"update","table":"Logical_Switch","where":[["name","==","sw0"]],
         "row":{"external_ids":["map",[["b","3"],["c","4"]]]}},
        {"op":"update","table":"Logical_Switch_Port","where":[],
         "row":{"addresses":["set",["x","y"]],"enabled":false}},
        {"op":"comment","comment":"second"}]));
    server.transact(json!(["OVN_Northbound",
        {"op":"delete","table":"Logical_Switch","where":[]}]));
    server.stop();

    let c = file::read_records(&db).unwrap();
    assert_eq!(c.corrupt_tail, None);
    assert_eq!(c.records.len(), 4);
    assert_eq!(c.records[0].json["name"], "OVN_Northbound");
    let txns: Vec<TransactionRecord> = c.records[1..]
        .iter()
        .map(|r| TransactionRecord::from_json(&r.json).unwrap())
        .collect();
    assert!(txns.iter().all(|t| t.is_diff && t.date_ms.is_some()));
    // Insert: the non-default columns of the new rows.
    assert_eq!(txns[0].tables["Logical_Switch"][&sw]["name"], "sw0");
    assert_eq!(
        txns[0].tables["Logical_Switch"][&sw]["ports"],
        json!(["uuid", port])
    );
    // Diffs: {a:1,b:2} -> {b:3,c:4} lists a removed pair (old value), a changed one (new value) and
    // an added one; the set diff lists the toggled elements; a scalar diff is the new value.
    assert_eq!(
        txns[1].tables["Logical_Switch"][&sw],
        json!({"external_ids":["map",[["a","1"],["b","3"],["c","4"]]]})
    );
    assert_eq!(
        txns[1].tables["Logical_Switch_Port"][&port],
        json!({"addresses":["set",["00:00:00:00:00:01 10.0.0.1","y"]],"enabled":false})
    );
    assert_eq!(txns[1].comment.as_deref(), Some("second"));
    // Deletes (the port is garbage-collected with its switch).
    assert_eq!(txns[2].tables["Logical_Switch"][&sw], Value::Null);
    assert_eq!(txns[2].tables["Logical_Switch_Port"][&port], Value::Null);

    // Our encoding of each record is byte-for-byte what ovsdb-server wrote.
    let bytes = std::fs::read(&db).unwrap();
    for r in &c.records {
        let ours = file::encode_record(&r.json).unwrap();
        let theirs = &bytes[r.offset as usize..r.end_offset() as usize];
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(theirs)
        );
    }
}

const WIRE_SCHEMA: &str = r#"{"name":"Wire","version":"1.0.0","tables":{
  "Bridge":{"isRoot":true,"indexes":[["name"]],"columns":{
    "name":{"type":"string"},
    "ports":{"type":{"key":{"type":"uuid","refTable":"Port"},"min":0,"max":"unlimited"}},
    "external_ids":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
    "n":{"type":{"key":"integer","min":0,"max":1}}}},
  "Port":{"columns":{
    "name":{"type":"string"},
    "tags":{"type":{"key":"integer","min":0,"max":"unlimited"}}}}}}"#;

const BR0: &str = "11111111-1111-4111-8111-111111111111";
const BR1: &str = "22222222-2222-4222-8222-222222222222";
const P1: &str = "33333333-3333-4333-8333-333333333333";

/// Selects all rows of both tables, sorted by name, without `_version`.
fn select_all() -> Value {
    json!(["Wire",
        {"op":"select","table":"Bridge","where":[],"columns":["_uuid","name","ports","external_ids","n"]},
        {"op":"select","table":"Port","where":[],"columns":["_uuid","name","tags"]}])
}

#[test]
fn file_written_by_us_is_accepted_by_ovsdb_tool_and_ovsdb_server() {
    if !have_tools(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wire.db");
    let schema: Value = serde_json::from_str(WIRE_SCHEMA).unwrap();
    let records = [
        json!({"_date":1_700_000_000_000_i64,
               "Bridge":{BR0:{"name":"br0","ports":["uuid",P1],"external_ids":["map",[["a","1"],["b","2"]]]}},
               "Port":{P1:{"name":"p1","tags":["set",[1,2]]}},
               "_is_diff":true}),
        // Diff: map a removed, b changed, c added; set toggles 2 (out) and 3 (in); scalar n set.
        json!({"_date":1_700_000_000_001_i64,
               "Bridge":{BR0:{"external_ids":["map",[["a","1"],["b","3"],["c","4"]]],"n":5},
                         BR1:{"name":"br1"}},
               "Port":{P1:{"tags":["set",[2,3]]}},
               "_is_diff":true,"_comment":"second"}),
        json!({"_date":1_700_000_000_002_i64,"Bridge":{BR1:null},"_is_diff":true}),
        // Old-style (not diff) record: listed columns are replaced.
        json!({"_date":1_700_000_000_003_i64,"Port":{P1:{"name":"p1","tags":["set",[1,3,7]]}}}),
    ];
    file::write_database(&db, &schema, &records).unwrap();
    let want = json!([
        {"rows":[{"_uuid":["uuid",BR0],"name":"br0","ports":["uuid",P1],
                  "external_ids":["map",[["b","3"],["c","4"]]],"n":5}]},
        {"rows":[{"_uuid":["uuid",P1],"name":"p1","tags":["set",[1,3,7]]}]}]);

    let log = run("ovsdb-tool", &["show-log", db.to_str().unwrap()]);
    assert!(
        log.contains("record 0: \"Wire\" schema, version=\"1.0.0\""),
        "{log}"
    );
    assert!(
        log.contains("record 2:") && log.contains("\"second\""),
        "{log}"
    );
    assert!(
        log.contains("record 4:") && !log.contains("record 5:"),
        "{log}"
    );
    run("ovsdb-tool", &["db-is-standalone", db.to_str().unwrap()]);
    let q = run(
        "ovsdb-tool",
        &["query", db.to_str().unwrap(), &select_all().to_string()],
    );
    assert_eq!(serde_json::from_str::<Value>(&q).unwrap(), want);

    // A real server opens our file, serves it, and appends its own records to it.
    let server = Server::start(dir.path(), &db);
    assert_eq!(server.transact(select_all()), want);
    server.transact(json!(["Wire",
        {"op":"mutate","table":"Bridge","where":[["name","==","br0"]],
         "mutations":[["external_ids","insert",["map",[["d","5"]]]]]}]));
    server.stop();
    let c = file::read_records(&db).unwrap();
    assert_eq!(c.corrupt_tail, None);
    assert_eq!(c.records.len(), 6);
    assert_eq!(
        c.records[5].json["Bridge"][BR0],
        json!({"external_ids":["map",[["d","5"]]]})
    );

    // Our compaction: schema + one snapshot record, still read by the tools.
    let (mut log, _) = LogFile::open(&db).unwrap();
    let snapshot = json!({"_date":1_700_000_000_009_i64,"_comment":"compacted by ovnkit",
        "Bridge":{BR0:{"name":"br0","ports":["uuid",P1],"external_ids":["map",[["b","3"],["c","4"]]],"n":5}},
        "Port":{P1:{"name":"p1","tags":["set",[1,3,7]]}}});
    log.compact(&schema, &snapshot).unwrap();
    // And appends continue after compaction.
    log.append_record(
        &json!({"_date":1_700_000_000_010_i64,"Port":{P1:{"tags":["set",[7]]}},"_is_diff":true}),
    )
    .unwrap();
    log.sync().unwrap();
    drop(log);
    let q = run(
        "ovsdb-tool",
        &["query", db.to_str().unwrap(), &select_all().to_string()],
    );
    let mut want = want;
    want[1]["rows"][0]["tags"] = json!(["set", [1, 3]]);
    assert_eq!(serde_json::from_str::<Value>(&q).unwrap(), want);
    let log = run("ovsdb-tool", &["show-log", db.to_str().unwrap()]);
    assert!(
        log.contains("\"compacted by ovnkit\"") && !log.contains("record 3:"),
        "{log}"
    );
}

#[test]
fn file_corrupt_tail_is_ignored_like_ovsdb_server_does() {
    if !have_tools(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wire.db");
    let schema: Value = serde_json::from_str(WIRE_SCHEMA).unwrap();
    let records = [
        json!({"Bridge":{BR0:{"name":"br0"}},"_is_diff":true}),
        json!({"Bridge":{BR1:{"name":"br1"}},"_is_diff":true}),
    ];
    file::write_database(&db, &schema, &records).unwrap();
    let full = std::fs::read(&db).unwrap();
    let good = file::read_records(&db).unwrap().records[2].offset;
    // Cut the last record in the middle, as a crash during a write would.
    std::fs::write(&db, &full[..full.len() - 10]).unwrap();
    let c = file::read_records(&db).unwrap();
    assert_eq!(c.records.len(), 2);
    let tail = c.corrupt_tail.unwrap();
    assert_eq!(tail.offset, good);
    assert!(
        matches!(tail.reason, Corruption::Truncated { .. }),
        "{tail}"
    );
    // ovsdb-tool reports an error at the same record; ovsdb-server serves the good prefix.
    let out = Command::new("ovsdb-tool")
        .args(["show-log", db.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("record 1:") && !text.contains("record 2:"),
        "{text}"
    );
    let server = Server::start(dir.path(), &db);
    let rows = server
        .transact(json!(["Wire",{"op":"select","table":"Bridge","where":[],"columns":["name"]}]));
    assert_eq!(rows, json!([{"rows":[{"name":"br0"}]}]));
    server.stop();
}

#[test]
fn file_rejects_clustered_database_clearly() {
    if !have_tools(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("wire.ovsschema");
    std::fs::write(&schema, WIRE_SCHEMA).unwrap();
    let db = dir.path().join("cl.db");
    let raft = format!("unix:{}", dir.path().join("raft.sock").display());
    run(
        "ovsdb-tool",
        &[
            "create-cluster",
            db.to_str().unwrap(),
            schema.to_str().unwrap(),
            &raft,
        ],
    );
    let err = file::read_records(&db).unwrap_err();
    assert!(matches!(err, file::FileError::Clustered { .. }), "{err}");
    assert!(err.to_string().contains("clustered database"), "{err}");
    assert!(LogFile::open(&db).is_err());
}

#[test]
fn jsonrpc_codec_talks_to_real_ovsdb_server() {
    if !have_tools(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wire.db");
    let schema: Value = serde_json::from_str(WIRE_SCHEMA).unwrap();
    file::write_database(&db, &schema, &[]).unwrap();
    let server = Server::start(dir.path(), &db);
    let sock = server.sock.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut stream = tokio::net::UnixStream::connect(&sock).await.unwrap();
        let request = |id: u64, method: &str, params: Value| {
            Message::Request(Request {
                method: method.into(),
                params: params.as_array().cloned().unwrap(),
                id: json!(id),
            })
        };
        // Several requests written back to back in one go.
        let mut wire = bytes::BytesMut::new();
        let mut codec = JsonRpcCodec::new();
        for m in [
            request(1, "list_dbs", json!([])),
            Message::Request(echo::echo_request()),
            request(2, "monitor_cond", json!(["Wire", "mon", {"Bridge":[{"columns":["name"]}]}])),
            request(3, "no_such_method", json!([])),
        ] {
            codec.encode(m, &mut wire).unwrap();
        }
        tokio::io::AsyncWriteExt::write_all(&mut stream, &wire).await.unwrap();
        let mut conn = Framed::new(stream, JsonRpcCodec::new());
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(
                tokio::time::timeout(Duration::from_secs(10), conn.next())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap(),
            );
        }
        assert_eq!(got[0], Message::Response(Response::ok(json!(1), json!(["Wire", "_Server"]))));
        assert!(echo::is_echo_reply(&got[1]), "{:?}", got[1]);
        assert_eq!(got[2], Message::Response(Response::ok(json!(2), json!({}))));
        assert!(
            matches!(&got[3], Message::Response(Response { result: Err(e), id }) if *id == json!(3) && e == "unknown method"),
            "{:?}",
            got[3]
        );
        // A transaction produces an `update2` notification ("id": null) and a response.
        conn.send(request(4, "transact", json!(["Wire", {"op":"insert","table":"Bridge","row":{"name":"br9"}}])))
            .await
            .unwrap();
        let mut saw_update = false;
        let mut saw_reply = false;
        while !(saw_update && saw_reply) {
            match tokio::time::timeout(Duration::from_secs(10), conn.next()).await.unwrap().unwrap().unwrap() {
                Message::Notification(n) => {
                    assert_eq!(n.method, "update2");
                    assert_eq!(n.params[0], json!("mon"));
                    let rows = n.params[1]["Bridge"].as_object().unwrap();
                    assert_eq!(rows.values().next().unwrap(), &json!({"insert":{"name":"br9"}}));
                    saw_update = true;
                }
                Message::Response(r) => {
                    assert_eq!(r.id, json!(4));
                    assert!(r.result.is_ok());
                    saw_reply = true;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // The server answers our echo with our params.
        conn.send(Message::Request(Request { method: "echo".into(), params: vec![json!("hi"), json!(5)], id: json!("x") }))
            .await
            .unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(10), conn.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(reply, Message::Response(Response::ok(json!("x"), json!(["hi", 5]))));
    });
    server.stop();
}
