//! Sessions wired together in memory under a virtual clock.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::jsonrpc::{Message, Request, Response};
use crate::Schema;

const SCHEMA: &str = r#"{"name":"T","version":"1.0.0","tables":{
  "A":{"columns":{"name":{"type":"string"},"n":{"type":{"key":"integer","min":0,"max":1}},
       "m":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}},"isRoot":true}}}"#;

fn server() -> Server {
    let mut s = Server::new(ServerConfig::default()).unwrap();
    let db = Database::new(Schema::from_str_json(SCHEMA).unwrap());
    s.add_database(db, None).unwrap();
    s
}

fn req(id: u64, method: &str, params: Value) -> Message {
    Message::Request(Request {
        method: method.into(),
        params: params.as_array().cloned().unwrap_or_default(),
        id: json!(id),
    })
}

fn drain(s: &mut Server, sid: SessionId) -> Vec<Value> {
    let mut v = Vec::new();
    while let Some(m) = s.poll_transmit(sid) {
        v.push(m.to_json());
    }
    v
}

fn result(msgs: &[Value], id: u64) -> Value {
    msgs.iter()
        .find(|m| m["id"] == json!(id))
        .map(|m| {
            if m["error"].is_null() {
                m["result"].clone()
            } else {
                json!({"ERR": m["error"]})
            }
        })
        .unwrap_or(Value::Null)
}

#[test]
fn list_dbs_schema_echo_and_errors() {
    let mut s = server();
    let t = Instant::now();
    let a = s.connect(t, None);
    s.handle_message(a, req(1, "list_dbs", json!([])), t);
    s.handle_message(a, req(2, "echo", json!(["x", 1])), t);
    s.handle_message(a, req(3, "bogus", json!([])), t);
    s.handle_message(a, req(4, "get_schema", json!(["nope"])), t);
    s.handle_message(a, req(5, "get_schema", json!(["_Server"])), t);
    let out = drain(&mut s, a);
    assert_eq!(result(&out, 1), json!(["T", "_Server"]));
    assert_eq!(result(&out, 2), json!(["x", 1]));
    assert_eq!(result(&out, 3), json!({"ERR": "unknown method"}));
    assert_eq!(result(&out, 4)["ERR"]["error"], "unknown database");
    assert_eq!(result(&out, 5)["name"], "_Server");
}

#[test]
fn monitors_of_all_versions_see_a_commit_before_the_reply() {
    let mut s = server();
    let t = Instant::now();
    let a = s.connect(t, None);
    let b = s.connect(t, None);
    s.handle_message(
        b,
        req(
            1,
            "monitor",
            json!(["T", "m1", {"A": {"columns": ["name", "m"]}}]),
        ),
        t,
    );
    s.handle_message(
        b,
        req(
            2,
            "monitor_cond",
            json!(["T", "m2", {"A": [{"columns": ["name", "m"], "where": [["name", "==", "x"]]}]}]),
        ),
        t,
    );
    s.handle_message(
        b,
        req(
            3,
            "monitor_cond_since",
            json!(["T", "m3", {"A": [{}]}, "00000000-0000-0000-0000-000000000000"]),
        ),
        t,
    );
    let out = drain(&mut s, b);
    assert_eq!(result(&out, 1), json!({}));
    assert_eq!(result(&out, 3)[0], json!(false));

    s.handle_message(
        a,
        req(9, "transact", json!(["T", {"op": "insert", "table": "A", "row": {"name": "x", "m": ["map", [["k", "v"]]]}}])),
        t,
    );
    let out_a = drain(&mut s, a);
    let uuid = result(&out_a, 9)[0]["uuid"][1].as_str().unwrap().to_owned();
    let out = drain(&mut s, b);
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0]["method"], "update");
    assert_eq!(
        out[0]["params"][1]["A"][&uuid],
        json!({"new": {"name": "x", "m": ["map", [["k", "v"]]]}})
    );
    assert_eq!(
        out[1]["params"][1]["A"][&uuid],
        json!({"insert": {"name": "x", "m": ["map", [["k", "v"]]]}})
    );
    assert_eq!(out[2]["method"], "update3");
    let txn1 = out[2]["params"][1].as_str().unwrap().to_owned();
    assert_eq!(s.last_txn_id("T").unwrap().to_string(), txn1);

    // Modify: v1 old has only the changed column; v2 gets a map diff.
    s.handle_message(
        a,
        req(10, "transact", json!(["T", {"op": "update", "table": "A", "where": [], "row": {"m": ["map", [["k", "w"], ["z", "1"]]]}}])),
        t,
    );
    drain(&mut s, a);
    let out = drain(&mut s, b);
    assert_eq!(
        out[0]["params"][1]["A"][&uuid],
        json!({"new": {"name": "x", "m": ["map", [["k", "w"], ["z", "1"]]]}, "old": {"m": ["map", [["k", "v"]]]}})
    );
    assert_eq!(
        out[1]["params"][1]["A"][&uuid],
        json!({"modify": {"m": ["map", [["k", "w"], ["z", "1"]]]}})
    );

    // Resume from txn1: found, only the second commit.
    let c = s.connect(t, None);
    s.handle_message(
        c,
        req(
            1,
            "monitor_cond_since",
            json!(["T", "r", {"A": [{"columns": ["m"]}]}, txn1]),
        ),
        t,
    );
    let out = drain(&mut s, c);
    let r = result(&out, 1);
    assert_eq!(r[0], json!(true));
    assert_eq!(
        r[2]["A"][&uuid],
        json!({"modify": {"m": ["map", [["k", "w"], ["z", "1"]]]}})
    );

    // Leaving the condition is a delete for the conditional monitor.
    s.handle_message(
        a,
        req(
            11,
            "transact",
            json!(["T", {"op": "update", "table": "A", "where": [], "row": {"name": "y"}}]),
        ),
        t,
    );
    drain(&mut s, a);
    let out = drain(&mut s, b);
    assert_eq!(out[1]["params"][1]["A"][&uuid], json!({"delete": null}));

    // Condition change brings it back as an insert, notified before the reply, under the new id.
    s.handle_message(
        b,
        req(
            12,
            "monitor_cond_change",
            json!(["m2", "m2b", {"A": [{"where": [true]}]}]),
        ),
        t,
    );
    let out = drain(&mut s, b);
    assert_eq!(out[0]["params"][0], "m2b");
    assert_eq!(out[0]["params"][1]["A"][&uuid]["insert"]["name"], "y");
    assert_eq!(result(&out, 12), json!({}));
    s.handle_message(b, req(13, "monitor_cancel", json!(["m2"])), t);
    s.handle_message(b, req(14, "monitor_cancel", json!(["m2b"])), t);
    let out = drain(&mut s, b);
    assert_eq!(result(&out, 13), json!({"ERR": "unknown monitor"}));
    assert_eq!(result(&out, 14), json!({}));
}

/// Before any transaction id has gone out, only the latest commit is kept; a first
/// `monitor_cond_since` names it, and a client resuming from it later gets exactly the commits
/// that followed, as with the whole history; `last_txn_id` keeps the history whole too.
#[test]
fn history_is_kept_from_the_first_transaction_id_given_out() {
    let mut s = server();
    let t = Instant::now();
    let a = s.connect(t, None);
    let insert = |s: &mut Server, id: u64, name: &str| {
        s.handle_message(
            a,
            req(
                id,
                "transact",
                json!(["T", {"op": "insert", "table": "A", "row": {"name": name}}]),
            ),
            t,
        );
        let out = drain(s, a);
        result(&out, id)[0]["uuid"][1].as_str().unwrap().to_owned()
    };
    for i in 0..5 {
        insert(&mut s, i, &format!("before{i}"));
    }
    assert_eq!(s.dbs[0].history.len(), 1);
    let b = s.connect(t, None);
    let since =
        json!(["T", "m", {"A": [{"columns": ["name"]}]}, "00000000-0000-0000-0000-000000000000"]);
    s.handle_message(b, req(1, "monitor_cond_since", since), t);
    let out = drain(&mut s, b);
    let anchor = result(&out, 1)[1].as_str().unwrap().to_owned();
    assert_eq!(s.dbs[0].history.len(), 1);
    assert_eq!(s.dbs[0].history[0].0.to_string(), anchor);
    let after: Vec<String> = (0..3)
        .map(|i| insert(&mut s, 10 + i, &format!("after{i}")))
        .collect();
    assert_eq!(s.dbs[0].history.len(), 4);
    let c = s.connect(t, None);
    s.handle_message(
        c,
        req(
            2,
            "monitor_cond_since",
            json!(["T", "r", {"A": [{"columns": ["name"]}]}, anchor]),
        ),
        t,
    );
    let r = result(&drain(&mut s, c), 2);
    assert_eq!(r[0], json!(true), "{r}");
    let rows = r[2]["A"].as_object().unwrap();
    assert_eq!(rows.len(), 3, "{r}");
    for (i, u) in after.iter().enumerate() {
        assert_eq!(rows[u], json!({"insert": {"name": format!("after{i}")}}));
    }

    // Another server: an id read through the API is one a client may resume from.
    let mut s = server();
    let a = s.connect(t, None);
    for i in 0..3 {
        s.handle_message(
            a,
            req(
                i,
                "transact",
                json!(["T", {"op": "insert", "table": "A", "row": {"name": "x"}}]),
            ),
            t,
        );
    }
    let id = s.last_txn_id("T").unwrap();
    for i in 3..6 {
        s.handle_message(
            a,
            req(
                i,
                "transact",
                json!(["T", {"op": "insert", "table": "A", "row": {"name": "y"}}]),
            ),
            t,
        );
    }
    drain(&mut s, a);
    s.handle_message(
        a,
        req(
            9,
            "monitor_cond_since",
            json!(["T", "m", {"A": [{"columns": ["name"]}]}, id.to_string()]),
        ),
        t,
    );
    let r = result(&drain(&mut s, a), 9);
    assert_eq!(r[0], json!(true), "{r}");
    assert_eq!(r[2]["A"].as_object().unwrap().len(), 3, "{r}");
}

#[test]
fn locks_steal_and_hand_over() {
    let mut s = server();
    let t = Instant::now();
    let a = s.connect(t, None);
    let b = s.connect(t, None);
    s.handle_message(a, req(1, "lock", json!(["L"])), t);
    s.handle_message(b, req(1, "lock", json!(["L"])), t);
    assert_eq!(result(&drain(&mut s, a), 1), json!({"locked": true}));
    assert_eq!(result(&drain(&mut s, b), 1), json!({"locked": false}));
    s.handle_message(a, req(2, "unlock", json!(["L"])), t);
    assert_eq!(result(&drain(&mut s, a), 2), json!({}));
    let out = drain(&mut s, b);
    assert_eq!(
        out[0],
        json!({"id": null, "method": "locked", "params": ["L"]})
    );
    s.handle_message(a, req(3, "steal", json!(["L"])), t);
    assert_eq!(result(&drain(&mut s, a), 3), json!({"locked": true}));
    assert_eq!(drain(&mut s, b)[0]["method"], "stolen");
    s.handle_message(a, req(4, "lock", json!(["L"])), t);
    assert_eq!(result(&drain(&mut s, a), 4)["ERR"]["error"], "syntax error");
    // Disconnecting the owner hands the lock to the waiter again.
    s.disconnect(a);
    assert_eq!(drain(&mut s, b)[0]["method"], "locked");
}

#[test]
fn wait_blocks_until_change_or_timeout_and_cancel() {
    let mut s = server();
    let t = Instant::now();
    let a = s.connect(t, None);
    let b = s.connect(t, None);
    let wait = |rows: Value, timeout: Option<u64>| {
        let mut op = json!({"op": "wait", "table": "A", "where": [], "columns": ["name"],
                            "until": "==", "rows": rows});
        if let Some(ms) = timeout {
            op["timeout"] = json!(ms);
        }
        json!(["T", op])
    };
    s.handle_message(a, req(1, "transact", wait(json!([{"name": "x"}]), None)), t);
    assert!(drain(&mut s, a).is_empty());
    assert_eq!(s.n_pending(a), 1);
    s.handle_message(
        b,
        req(
            1,
            "transact",
            json!(["T", {"op": "insert", "table": "A", "row": {"name": "x"}}]),
        ),
        t,
    );
    assert_eq!(result(&drain(&mut s, a), 1), json!([{}]));
    // Timeout.
    s.handle_message(a, req(2, "transact", wait(json!([]), Some(100))), t);
    assert_eq!(s.poll_timeout(), Some(t + Duration::from_millis(100)));
    s.handle_timeout(t + Duration::from_millis(50));
    assert!(drain(&mut s, a).is_empty());
    s.handle_timeout(t + Duration::from_millis(100));
    assert_eq!(result(&drain(&mut s, a), 2)[0]["error"], "timed out");
    // Cancel.
    s.handle_message(a, req(3, "transact", wait(json!([]), None)), t);
    s.handle_message(
        a,
        Message::Notification(crate::jsonrpc::Notification {
            method: "cancel".into(),
            params: vec![json!(3)],
        }),
        t,
    );
    assert_eq!(result(&drain(&mut s, a), 3), json!({"ERR": "canceled"}));
}

#[test]
fn inactivity_probe_then_disconnect() {
    let mut s = server();
    let t = Instant::now();
    let a = s.connect(t, Some(Duration::from_secs(5)));
    s.handle_timeout(t + Duration::from_secs(5));
    let out = drain(&mut s, a);
    assert_eq!(out[0]["method"], "echo");
    s.handle_message(
        a,
        Message::Response(Response::ok(json!("echo"), json!([]))),
        t + Duration::from_secs(6),
    );
    s.handle_timeout(t + Duration::from_secs(10));
    assert!(!s.is_closed(a));
    s.handle_timeout(t + Duration::from_secs(11));
    s.handle_timeout(t + Duration::from_secs(16));
    assert!(s.is_closed(a));
}

#[test]
fn server_database_lists_every_database() {
    let mut s = server();
    let t = Instant::now();
    let a = s.connect(t, None);
    s.handle_message(
        a,
        req(1, "monitor_cond", json!(["_Server", "s", {"Database": [{"columns": ["name", "model", "connected", "leader"]}]}])),
        t,
    );
    let out = drain(&mut s, a);
    let r = result(&out, 1);
    let mut names: Vec<String> = r["Database"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["initial"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["T", "_Server"]);
    let any = r["Database"].as_object().unwrap().values().next().unwrap();
    assert_eq!(any["initial"]["model"], "standalone");
    s.handle_message(
        a,
        req(
            2,
            "transact",
            json!(["_Server", {"op": "delete", "table": "Database", "where": []}]),
        ),
        t,
    );
    assert_eq!(result(&drain(&mut s, a), 2)[0]["error"], "not allowed");
}

#[test]
fn encoded_initial_dump_equals_the_json_tree() {
    let mut s = server();
    let t = Instant::now();
    let a = s.connect(t, None);
    for i in 0..20 {
        s.handle_message(
            a,
            req(i, "transact", json!(["T", {"op": "insert", "table": "A",
                "row": {"name": format!("r{i}"), "n": ["set", if i % 2 == 0 { vec![json!(i)] } else { vec![] }],
                        "m": ["map", [["k\"q", format!("v{i}")]]]}}])),
            t,
        );
    }
    drain(&mut s, a);
    let db = s.db_index("T").unwrap();
    for version in [MonitorVersion::V1, MonitorVersion::V2] {
        for req in [
            json!({"A": {}}),
            json!({"A": [{"columns": ["n"], "where": [["n", "==", 4]]}]}),
        ] {
            let tables = match version {
                MonitorVersion::V1 if req["A"].is_array() => continue,
                _ => monitor::parse_requests(s.dbs[db].db.schema(), version, &req).unwrap(),
            };
            let m = monitor::Monitor {
                db,
                version,
                tables,
            };
            let enc: Value = serde_json::from_slice(&m.initial_encoded(&s.dbs[db].db)).unwrap();
            assert_eq!(enc, m.initial(&s.dbs[db].db));
        }
    }
    // Two sessions asking for the same dump share its bytes.
    s.handle_message(a, req(100, "monitor", json!(["T", "x", {"A": {}}])), t);
    let b = s.connect(t, None);
    s.handle_message(b, req(100, "monitor", json!(["T", "x", {"A": {}}])), t);
    let (Some(Outgoing::Encoded(pa)), Some(Outgoing::Encoded(pb))) =
        (s.poll_transmit(a), s.poll_transmit(b))
    else {
        panic!("monitor replies are not pre-encoded");
    };
    assert_eq!(pa[1].as_ptr(), pb[1].as_ptr());
}

#[test]
fn request_errors_have_ovsdb_server_shapes() {
    let mut s = server();
    let t = Instant::now();
    let a = s.connect(t, None);
    s.handle_message(
        a,
        req(
            1,
            "monitor",
            json!(["T", "m", {"A": {"columns": ["name"], "where": []}}]),
        ),
        t,
    );
    s.handle_message(a, req(2, "monitor", json!(["T", "m", {"Nope": {}}])), t);
    s.handle_message(
        a,
        req(
            3,
            "monitor",
            json!(["T", "m", {"A": {"columns": ["nope"]}}]),
        ),
        t,
    );
    s.handle_message(a, req(4, "monitor_cond_change", json!(["zz", "m6", {}])), t);
    s.handle_message(a, req(5, "unlock", json!(["zz"])), t);
    s.handle_message(a, req(6, "monitor", json!(["nope", "m4", {}])), t);
    s.handle_message(a, req(7, "monitor", json!(["T", "m", {}])), t);
    s.handle_message(a, req(8, "monitor", json!(["T", "m", {}])), t);
    let out = drain(&mut s, a);
    let err = |id| result(&out, id)["ERR"].clone();
    assert_eq!(
        err(1),
        json!({"error": "syntax error", "syntax": "{\"columns\":[\"name\"],\"where\":[]}",
               "details": "Parsing table A failed: Member 'where' is present but not allowed here."})
    );
    assert_eq!(
        err(2),
        json!({"error": "syntax error", "details": "no table named Nope"})
    );
    assert_eq!(
        err(3),
        json!({"error": "syntax error", "details": "nope is not a valid column name", "syntax": "[\"nope\"]"})
    );
    assert_eq!(
        err(4),
        json!({"error": "syntax error", "details": "unknown monitor session", "syntax": "\"zz\""})
    );
    assert_eq!(
        err(5),
        json!({"error": "syntax error", "details": "unlock: \"unlock\" without \"lock\" or \"steal\"",
               "syntax": "[\"zz\"]"})
    );
    assert_eq!(
        err(6),
        json!({"error": "unknown database", "details": "monitor request specifies unknown database nope",
               "syntax": "[\"nope\",\"m4\",{}]"})
    );
    assert_eq!(result(&out, 7), json!({}));
    assert_eq!(
        err(8),
        json!({"error": "syntax error", "details": "duplicate monitor ID", "syntax": "\"m\""})
    );
}

/// A log that counts its calls and fails its flushes on demand.
#[derive(Debug, Default)]
struct FlakyLog {
    calls: Arc<std::sync::Mutex<(usize, usize, bool)>>,
}

impl CommitLog for FlakyLog {
    fn commit(&mut self, db: &Database, changes: &ChangeSet) -> Result<(), StorageError> {
        self.stage(db, changes)?;
        self.flush(db)
    }

    fn stage(&mut self, _: &Database, _: &ChangeSet) -> Result<(), StorageError> {
        self.calls.lock().unwrap().0 += 1;
        Ok(())
    }

    fn flush(&mut self, _: &Database) -> Result<(), StorageError> {
        let mut c = self.calls.lock().unwrap();
        c.1 += 1;
        if c.2 {
            return Err(StorageError::Replay {
                path: "flaky".into(),
                offset: 0,
                details: "disk on fire".into(),
            });
        }
        Ok(())
    }
}

#[test]
fn commits_of_several_sessions_are_flushed_together_and_fail_together() {
    let log = FlakyLog::default();
    let calls = log.calls.clone();
    let mut s = Server::new(ServerConfig::default()).unwrap();
    let db = Database::new(Schema::from_str_json(SCHEMA).unwrap());
    s.add_database(db, Some(Box::new(log))).unwrap();
    let t = Instant::now();
    let (a, b) = (s.connect(t, None), s.connect(t, None));
    let insert = |name: &str| json!(["T", {"op": "insert", "table": "A", "row": {"name": name}}]);
    let select = json!(["T", {"op": "select", "table": "A", "where": []}]);
    calls.lock().unwrap().2 = true;
    s.handle_message(a, req(1, "transact", insert("a1")), t);
    s.handle_message(a, req(2, "transact", select.clone()), t);
    s.handle_message(b, req(3, "transact", insert("b1")), t);
    s.handle_message(a, req(4, "transact", insert("a2")), t);
    assert!(s.has_unflushed());
    assert_eq!(*calls.lock().unwrap(), (3, 0, true), "staged, not written");
    let (out_a, out_b) = (drain(&mut s, a), drain(&mut s, b));
    assert_eq!(
        calls.lock().unwrap().1,
        1,
        "one flush for the three commits"
    );
    for r in [result(&out_a, 1), result(&out_b, 3), result(&out_a, 4)] {
        assert_eq!(r.as_array().unwrap().len(), 2, "{r}");
        assert_eq!(r[1]["error"], "I/O error", "{r}");
        assert!(r[1]["details"].as_str().unwrap().contains("disk on fire"));
    }
    // A transaction without changes is not concerned.
    assert_eq!(result(&out_a, 2).as_array().unwrap().len(), 1);
    assert_eq!(out_a.len(), 3);
    assert_eq!(out_a[0]["id"], 1, "replies keep their order");
    assert_eq!(out_a[2]["id"], 4, "replies keep their order");

    calls.lock().unwrap().2 = false;
    s.handle_message(a, req(5, "transact", insert("a3")), t);
    s.handle_message(b, req(6, "transact", insert("b2")), t);
    let (out_a, out_b) = (drain(&mut s, a), drain(&mut s, b));
    assert_eq!(*calls.lock().unwrap(), (5, 2, false));
    assert_eq!(result(&out_a, 5).as_array().unwrap().len(), 1);
    assert_eq!(result(&out_b, 6).as_array().unwrap().len(), 1);
    assert!(!s.has_unflushed());
}

/// `handle_frame` (a `transact` read straight from its bytes) answers exactly as
/// `handle_message` does with the message decoded into a `Value`: results, every kind of error
/// text, blocked `wait`s, and messages that are not `transact` requests or not valid at all.
#[test]
fn frames_are_handled_as_their_messages() {
    let seeded = || {
        let mut s = Server::new(ServerConfig::default()).unwrap();
        let db = Database::with_seed(Schema::from_str_json(SCHEMA).unwrap(), 7);
        s.add_database(db, None).unwrap();
        s
    };
    let texts = [
        r#"{"id":1,"method":"transact","params":["T",{"op":"insert","table":"A","row":{"name":"x\"\u00e9","n":1.0,"m":["map",[["k","v"]]]},"uuid-name":"r"},{"op":"mutate","table":"A","where":[["_uuid","==",["named-uuid","r"]]],"mutations":[["n","+=",2]]}]}"#,
        r#"{"params":["T",{"op":"select","table":"A","where":[["n","==",3]],"columns":["name","n","m"]}],"id":"s","method":"transact","error":null}"#,
        r#"{"id":3,"method":"transact","params":["T",{"op":"insert","table":"A","row":{"nope":1}}]}"#,
        r#"{"id":4,"method":"transact","params":["T",{"op":"insert","table":"A","row":{"n":"x"}}]}"#,
        r#"{"id":5,"method":"transact","params":["T",{"op":"insert","table":"A","row":{},"extra":1}]}"#,
        r#"{"id":6,"method":"transact","params":["T",{"op":"frob"}, {"op":"insert"}]}"#,
        r#"{"id":7,"method":"transact","params":["T",5,{"op":"comment","comment":"c"}]}"#,
        r#"{"id":8,"method":"transact","params":["T",{"op":"update","table":"A","where":[["name","==","x\"é"]],"row":{"n":7,"n":8}}]}"#,
        r#"{"id":9,"method":"transact","params":["T",{"op":"delete","table":"A","where":[["m","includes",["map",[["k","v"]]]]]},{"op":"abort"}]}"#,
        r#"{"id":10,"method":"transact","params":["T",{"op":"insert","table":"A","row":{"name":"y"},"uuid":"bad"}]}"#,
        r#"{"id":11,"method":"transact","params":["U",{"op":"select","table":"A","where":[]}]}"#,
        r#"{"id":12,"method":"transact","params":[]}"#,
        r#"{"id":13,"method":"transact","params":["T",{"op":"wait","table":"A","where":[],"columns":["name"],"until":"==","rows":[{"name":"z"}]}]}"#,
        r#"{"id":14,"method":"transact","params":["T",{"op":"insert","table":"A","row":{"name":"z","n":["set",[]]}}]}"#,
        r#"{"id":15,"method":"transact","params":["T",{"op":"select","table":"A","where":[["n","<",1e1]]}]}"#,
        r#"{"id":16,"method":"echo","params":[1.5,"x"]}"#,
        r#"{"id":null,"method":"transact","params":["T",{"op":"insert","table":"A","row":{}}]}"#,
        r#"{"id":17,"method":"transact","params":["T"],"bogus":1}"#,
        r#"{"id":18,"method":"transact","params":["T",{"op":"insert","table":"A","row":{}}"#,
        // Read one operation at a time: a late failure after inserts that drew UUIDs (run again
        // from the whole tree, with the same UUIDs), then the UUIDs that follow.
        r#"{"id":19,"method":"transact","params":["T",{"op":"insert","table":"A","row":{"name":"q"},"uuid-name":"a"},{"op":"insert","table":"A","row":{"name":"w","m":["map",[["r",["named-uuid","b"]]]]}},{"op":"frob"}]}"#,
        r#"{"id":20,"method":"transact","params":["T",{"op":"insert","table":"A","row":{"name":"q"}}]}"#,
        r#"{"id":21,"method":"transact","params":["T",{"op":"insert","table":"A","row":{"name":"d1"}}],"params":["T",{"op":"insert","table":"A","row":{"name":"d2"}}]}"#,
        r#" {"params":["T",{"op":"insert","table":"A","row":{"name":"late"}},{"op":"comment","comment":"x"}],"method":"transact","id":[22]} "#,
        r#"{"params":["T",{"op":"insert","table":"A","row":{"name":"no"}}],"method":"echo","id":23}"#,
        r#"{"id":24,"method":"transact","params":["T",{"op":"insert","table":"A","row":{"name":"g"}}]} x"#,
        r#"{"id":25,"method":"transact","params":["T",{"op":"insert","table":"A","row":{}}],"result":1}"#,
        r#"{"id":26,"method":"transact","params":["T",{"op":"insert","table":"A","row":{}}],"result":null,"error":null}"#,
        r#"{"id":27,"params":["T",{"op":"insert","table":"A","row":{}}]}"#,
        r#"{"id":28,"method":"transact","params":["T",{"op":"insert","table":"A","row":{"name":"\ud800"}}]}"#,
        r#"{"id":29,"method":"transact","params":["T",{"op":"select","table":"A","where":[["name","==","late"]],"columns":["_uuid","name"]},{"op":"commit","durable":false}]}"#,
    ];
    let t = Instant::now();
    let mut by_message = seeded();
    let mut by_frame = seeded();
    let a = by_message.connect(t, None);
    let b = by_frame.connect(t, None);
    for text in texts {
        let frame = crate::jsonrpc::Frame {
            offset: 0,
            bytes: bytes::Bytes::from(text),
        };
        let via_frame = by_frame
            .handle_frame(b, &frame, t)
            .map_err(|e| e.to_string());
        let via_message = frame.to_message().map_err(|e| e.to_string()).map(|m| {
            by_message.handle_message(a, m, t);
        });
        assert_eq!(via_frame, via_message, "{text}");
        assert_eq!(drain(&mut by_frame, b), drain(&mut by_message, a), "{text}");
    }
}

/// Reads from `s` until `want` appears in what arrived (or the read times out: panics).
fn read_until(s: &mut std::os::unix::net::UnixStream, want: &str) -> String {
    use std::io::Read;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before {want:?} came: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if text.contains(want) {
            return text.into_owned();
        }
    }
}

/// Through the network adapter, whose timer sleeps to the earliest deadline (not a fixed tick):
/// a `wait` blocked with a timeout times out, a session with an inactivity probe is probed and,
/// silent, disconnected, and a session without deadlines is left alone meanwhile.
#[test]
fn network_timer_fires_waits_and_probes() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    let dir = std::env::temp_dir().join(format!("ovnkit-timer-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let run = |probe: Option<Duration>, sock: &std::path::Path| {
        let options = net::NetOptions {
            unix_probe: probe,
            ..net::NetOptions::default()
        };
        let remotes = [net::Remote::Punix(sock.to_path_buf())];
        rt.block_on(net::serve(
            Arc::new(std::sync::Mutex::new(server())),
            &remotes,
            options,
        ))
        .unwrap()
    };
    // The runtime runs on a thread of its own while the clients block on their sockets.
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();

    let quiet_sock = dir.join("quiet.sock");
    let probed_sock = dir.join("probed.sock");
    let quiet = run(None, &quiet_sock);
    let probed = run(Some(Duration::from_millis(200)), &probed_sock);
    let driver = std::thread::scope(|scope| {
        let clients = scope.spawn(|| {
            let mut a = UnixStream::connect(&quiet_sock).unwrap();
            a.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            // Blocks (no row named "x"), times out after 150 ms.
            let t0 = Instant::now();
            a.write_all(
                br#"{"id":7,"method":"transact","params":["T",{"op":"wait","table":"A","where":[],"columns":["name"],"until":"==","rows":[{"name":"x"}],"timeout":150}]}"#,
            )
            .unwrap();
            let reply = read_until(&mut a, "timed out");
            assert!(reply.contains("\"id\":7"), "{reply}");
            assert!(t0.elapsed() >= Duration::from_millis(150), "{:?}", t0.elapsed());
            // The probed session: an echo request after 200 ms of silence, then, unanswered,
            // the connection closes.
            let mut b = UnixStream::connect(&probed_sock).unwrap();
            b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let t1 = Instant::now();
            let probe = read_until(&mut b, "\"echo\"");
            assert!(probe.contains("\"method\":\"echo\""), "{probe}");
            assert!(t1.elapsed() >= Duration::from_millis(200), "{:?}", t1.elapsed());
            let mut rest = [0u8; 256];
            use std::io::Read;
            assert_eq!(b.read(&mut rest).unwrap(), 0, "not disconnected");
            // The quiet server still answers.
            a.write_all(br#"{"id":8,"method":"echo","params":[]}"#).unwrap();
            read_until(&mut a, "\"id\":8");
            let _ = stop_tx.send(());
        });
        rt.block_on(async {
            while stop_rx.try_recv().is_err() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        clients.join()
    });
    rt.block_on(async {
        quiet.shutdown().await;
        probed.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = driver {
        std::panic::resume_unwind(e);
    }
}
