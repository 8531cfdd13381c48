//! Unit tests of the sans-IO parts: update parsing, replica, indexes, tracking, guards, pacing.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use serde_json::{json, Value};
use uuid::Uuid;

use super::monitor::{check_status, Backoff, ClusterMemory, DatabaseStatus, MonitorMethod};
use super::update::{parse_cond_since_reply, parse_notification_params, Update, UpdateFormat};
use super::*;
use crate::atom::Atom;
use crate::datum::Datum;

fn schema() -> Arc<Schema> {
    Arc::new(
        Schema::from_json(&json!({
            "name": "T", "version": "1.0.0",
            "tables": {
                "Item": {
                    "columns": {
                        "uid": {"type": "integer"},
                        "name": {"type": "string"},
                        "opt": {"type": {"key": "string", "min": 0, "max": 1}},
                        "tags": {"type": {"key": "string", "min": 0, "max": "unlimited"}},
                        "ext": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}}
                    },
                    "indexes": [["name"]],
                    "isRoot": true
                },
                "Other": {"columns": {"x": {"type": "integer"}}, "isRoot": true}
            }
        }))
        .unwrap(),
    )
}

const U1: &str = "11111111-1111-1111-1111-111111111111";
const U2: &str = "22222222-2222-2222-2222-222222222222";

fn u(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

fn replica() -> Replica {
    let s = schema();
    let sels = MonitorSpec::default().selections(&s);
    Replica::new(
        s,
        &sels,
        &[
            IndexSpec::new("Item", "by_id", &["ext:k8s.ovn.org/id"]),
            IndexSpec::new("Item", "by_uid", &["uid"]),
        ],
    )
    .unwrap()
}

/// Parses `j` both from its tree and from its text (row by row), which must agree.
fn parse_both(schema: &Schema, j: &Value, format: UpdateFormat) -> Update {
    let tree = Update::parse(schema, j, format, "update").unwrap();
    let text = Update::parse_slice(schema, j.to_string().as_bytes(), format, "update").unwrap();
    assert_eq!(tree, text, "{j}");
    tree
}

fn v2(r: &Replica, j: Value) -> Update {
    parse_both(r.schema(), &j, UpdateFormat::V2)
}

#[test]
fn update2_insert_modify_delete() {
    let mut r = replica();
    let up = v2(
        &r,
        json!({"Item": {U1: {"insert": {"uid": 1, "name": "a", "opt": "x", "tags": ["set", ["p", "q"]],
        "ext": ["map", [["k8s.ovn.org/id", "pod1"], ["o", "1"]]]}}}}),
    );
    r.apply(&up).unwrap();
    let t = r.table("Item").unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t.lookup_str("by_id", "pod1").len(), 1);
    assert_eq!(t.lookup_str("schema:0", "a").len(), 1);
    // Diffs: set symmetric difference, map add/change/remove, optional scalar cleared.
    let up = v2(
        &r,
        json!({"Item": {U1: {"modify": {"tags": ["set", ["q", "r"]], "opt": ["set", []],
        "ext": ["map", [["k8s.ovn.org/id", "pod2"], ["o", "1"], ["n", "2"]]]}}}}),
    );
    r.apply(&up).unwrap();
    let got = r.to_json();
    assert_eq!(
        got["Item"][U1],
        json!({"uid": 1, "name": "a", "opt": ["set", []], "tags": ["set", ["p", "r"]],
               "ext": ["map", [["k8s.ovn.org/id", "pod2"], ["n", "2"]]]})
    );
    let t = r.table("Item").unwrap();
    assert!(t.lookup_str("by_id", "pod1").is_empty());
    assert_eq!(t.lookup_str("by_id", "pod2")[0].uuid(), u(U1));
    r.apply(&v2(&r, json!({"Item": {U1: {"delete": null}}})))
        .unwrap();
    let t = r.table("Item").unwrap();
    assert!(t.is_empty());
    assert_eq!(t.index_len("by_id"), Some(0));
    assert_eq!(t.index_len("by_uid"), Some(0));
}

/// Notification params and `monitor_cond_since` replies read from their text: the monitor id
/// picks the schema (unknown ids are skipped unparsed), `update3` carries a transaction id.
#[test]
fn notification_params_from_text() {
    let sch = schema();
    let body = json!({"Item": {U1: {"insert": {"uid": 1, "name": "a"}}}});
    let want = Update::parse(&sch, &body, UpdateFormat::V2, "update2").unwrap();
    let pick = |id: &str| (id == "db").then_some(((), &*sch, &[][..]));
    let text = json!(["db", body]).to_string();
    let p = parse_notification_params("update2", text.as_bytes(), pick).unwrap();
    assert_eq!((p.id.as_str(), p.txn_id), ("db", None));
    assert_eq!(p.updates.map(|(_, u)| u), Some(want.clone()));
    let text = json!(["db", U2, body]).to_string();
    let p = parse_notification_params("update3", text.as_bytes(), pick).unwrap();
    assert_eq!(p.txn_id.as_deref(), Some(U2));
    assert_eq!(p.updates.map(|(_, u)| u), Some(want.clone()));
    // Another monitor's update is not parsed (its tables are not in this schema).
    let text = json!(["other", {"Nope": {}}]).to_string();
    let p = parse_notification_params("update2", text.as_bytes(), pick).unwrap();
    assert!(p.updates.is_none());
    let text = json!(["db", {"Nope": {}}]).to_string();
    assert!(parse_notification_params("update2", text.as_bytes(), pick).is_err());
    let text = json!([true, U2, body]).to_string();
    let (found, id, upd) = parse_cond_since_reply(&sch, text.as_bytes(), "reply").unwrap();
    assert!(found);
    assert_eq!((id.as_str(), upd), (U2, want));
    let text = json!([true, U2]).to_string();
    assert!(parse_cond_since_reply(&sch, text.as_bytes(), "reply").is_err());
}

#[test]
fn update_v1_replace() {
    let mut r = replica();
    let sch = r.schema().clone();
    let p = |j: Value| parse_both(&sch, &j, UpdateFormat::V1);
    let a = p(json!({"Item": {U1: {"new": {"uid": 1, "name": "a", "tags": ["set", []]}}}}));
    r.apply(&a).unwrap();
    let b = p(
        json!({"Item": {U1: {"old": {"name": "a"}, "new": {"uid": 1, "name": "b", "tags": "z"}}}}),
    );
    r.apply(&b).unwrap();
    assert_eq!(r.to_json()["Item"][U1]["name"], json!("b"));
    assert_eq!(r.to_json()["Item"][U1]["tags"], json!("z"));
    let c = p(json!({"Item": {U1: {"old": {"name": "b"}}}}));
    r.apply(&c).unwrap();
    assert!(r.table("Item").unwrap().is_empty());
}

#[test]
fn malformed_updates_are_rejected_whole() {
    let mut r = replica();
    r.apply(&v2(&r, json!({"Item": {U1: {"insert": {"uid": 1}}}})))
        .unwrap();
    let sch = r.schema().clone();
    for bad in [
        json!({"Nope": {}}),
        json!({"Item": {"not-a-uuid": {"insert": {}}}}),
        json!({"Item": {U1: {"modify": {"uid": "text"}}}}),
        json!({"Item": {U1: {"modify": {"nope": 1}}}}),
        json!({"Item": {U1: {"explode": {}}}}),
        json!({"Item": {U1: {"insert": {}, "delete": null}}}),
        json!({"Item": {U1: {"insert": {"ext": "notamap"}}}}),
        json!([1, 2]),
    ] {
        assert!(
            Update::parse(&sch, &bad, UpdateFormat::V2, "update2").is_err(),
            "{bad}"
        );
        let text = bad.to_string();
        let e = Update::parse_slice(&sch, text.as_bytes(), UpdateFormat::V2, "update2");
        assert!(matches!(e, Err(ClientError::Malformed { .. })), "{bad}");
    }
    // Well-formed but inconsistent: the insert of U2 must not be applied either.
    let up = v2(
        &r,
        json!({"Item": {U2: {"insert": {"uid": 2}}, "33333333-3333-3333-3333-333333333333": {"modify": {"uid": 3}}}}),
    );
    let e = r.apply(&up).unwrap_err();
    assert!(matches!(e, ClientError::Malformed { .. }), "{e}");
    assert_eq!(r.table("Item").unwrap().len(), 1);
}

#[test]
fn tracking_merges_and_reset_reports_only_differences() {
    let mut r = replica();
    r.apply(&v2(
        &r,
        json!({"Item": {U1: {"insert": {"uid": 1}}, U2: {"insert": {"uid": 2}}}}),
    ))
    .unwrap();
    let c = r.take_changes();
    assert_eq!(
        c.iter().map(|c| c.kind).collect::<Vec<_>>(),
        vec![ChangeKind::Insert, ChangeKind::Insert]
    );
    assert!(r.take_changes().is_empty());
    // Modify then modify back: nothing. Insert then delete: nothing. Modify + delete: delete.
    r.apply(&v2(&r, json!({"Item": {U1: {"modify": {"uid": 5}}}})))
        .unwrap();
    r.apply(&v2(&r, json!({"Item": {U1: {"modify": {"uid": 1}}}})))
        .unwrap();
    let u3 = "33333333-3333-3333-3333-333333333333";
    r.apply(&v2(&r, json!({"Item": {u3: {"insert": {"uid": 3}}}})))
        .unwrap();
    r.apply(&v2(&r, json!({"Item": {u3: {"delete": null}}})))
        .unwrap();
    r.apply(&v2(&r, json!({"Item": {U2: {"modify": {"name": "x"}}}})))
        .unwrap();
    r.apply(&v2(&r, json!({"Item": {U2: {"delete": null}}})))
        .unwrap();
    let c = r.take_changes();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].uuid, c[0].kind), (u(U2), ChangeKind::Delete));
    assert_eq!(
        c[0].old.as_ref().unwrap().field(2),
        &Datum::scalar(Atom::Integer(2))
    );
    // A purge-and-reload: U1 unchanged (not reported), U4 new, U1's sibling changed.
    let u4 = "44444444-4444-4444-4444-444444444444";
    r.apply(&v2(&r, json!({"Item": {U2: {"insert": {"uid": 2}}}})))
        .unwrap();
    r.take_changes();
    let snap = v2(
        &r,
        json!({"Item": {U1: {"initial": {"uid": 1}}, U2: {"initial": {"uid": 22}}, u4: {"initial": {"uid": 4}}}}),
    );
    r.reset(&snap).unwrap();
    let c: Vec<(Uuid, ChangeKind)> = r.take_changes().iter().map(|c| (c.uuid, c.kind)).collect();
    assert_eq!(
        c,
        vec![(u(U2), ChangeKind::Modify), (u(u4), ChangeKind::Insert)]
    );
    let t = r.table("Item").unwrap();
    assert_eq!(
        t.lookup("by_uid", &[Datum::scalar(Atom::Integer(22))])
            .unwrap(),
        &[u(U2)]
    );
    assert!(t
        .lookup("by_uid", &[Datum::scalar(Atom::Integer(2))])
        .unwrap()
        .is_empty());
}

#[test]
fn index_definitions_are_checked() {
    let s = schema();
    let sels = vec![TableSelection {
        table: "Item".into(),
        columns: Some(vec!["uid".into()]),
        inserts: true,
    }];
    for spec in [
        IndexSpec::new("Item", "a", &["name"]),
        IndexSpec::new("Item", "b", &["uid:x"]),
        IndexSpec::new("Nope", "c", &["uid"]),
        IndexSpec::new("Other", "d", &["x"]),
    ] {
        assert!(
            Replica::new(s.clone(), &sels, std::slice::from_ref(&spec)).is_err(),
            "{spec:?}"
        );
    }
    let r = Replica::new(
        s.clone(),
        &sels,
        &[IndexSpec::new("Item", "ok", &["uid", "_uuid"])],
    )
    .unwrap();
    // The schema index on `name` is not kept when `name` is not monitored.
    assert_eq!(r.table("Item").unwrap().index_len("schema:0"), None);
    assert_eq!(r.table("Item").unwrap().index_len("ok"), Some(0));
}

#[test]
fn monitor_requests_and_conditions() {
    let s = schema();
    let mut spec = MonitorSpec::default();
    spec.tables.push(TableMonitor {
        table: "Item".into(),
        columns: Some(vec!["uid".into(), "ext".into()]),
        condition: Some(vec![json!(["uid", ">", 3])]),
        select: MonitorSelect::ALL,
    });
    spec.validate(&s).unwrap();
    let r = Replica::new(s.clone(), &spec.selections(&s), &[]).unwrap();
    assert_eq!(
        spec.requests(&r, MonitorMethod::CondSince),
        json!({"Item": [{"columns": ["uid", "ext"], "where": [["uid", ">", 3]]}]})
    );
    assert_eq!(
        spec.requests(&r, MonitorMethod::Plain),
        json!({"Item": [{"columns": ["uid", "ext"]}]})
    );
    spec.set_condition("Item", Some(vec![json!(["name", "<", 1])]));
    assert!(spec.validate(&s).is_err());
    spec.set_condition("Item", Some(vec![json!(["nope", "==", 1])]));
    assert!(spec.validate(&s).is_err());
}

#[test]
fn cluster_status_rules() {
    let mut mem = ClusterMemory::default();
    let cid = Uuid::from_u128(7);
    let st = |leader: bool, connected: bool, index: i64| DatabaseStatus {
        model: "clustered".into(),
        connected,
        leader,
        index: Some(index),
        cid: Some(cid),
        schema: None,
    };
    assert!(check_status(&st(false, true, 5), false, &mem).is_ok());
    assert!(check_status(&st(false, true, 5), true, &mem).is_err());
    assert!(check_status(&st(true, false, 5), true, &mem).is_err());
    mem.remember(&st(true, true, 10));
    assert!(check_status(&st(true, true, 9), true, &mem)
        .unwrap_err()
        .contains("stale"));
    let mut other = st(true, true, 11);
    other.cid = Some(Uuid::from_u128(8));
    assert!(check_status(&other, true, &mem).is_err());
    let standalone = DatabaseStatus {
        model: "standalone".into(),
        ..Default::default()
    };
    assert!(check_status(&standalone, true, &mem).is_ok());
}

#[test]
fn backoff_doubles_with_jitter_and_caps() {
    let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let d: Vec<Duration> = (0..6).map(|_| b.next_delay(&mut rng)).collect();
    for (i, x) in d.iter().enumerate() {
        let step = Duration::from_millis(100 * (1u64 << i.min(3)));
        assert!(*x >= step / 2 && *x < step * 3 / 2, "{i}: {x:?}");
    }
    b.reset();
    assert!(b.next_delay(&mut rng) < Duration::from_millis(150));
}

#[test]
fn txn_guards_and_replies() {
    let mut r = replica();
    r.apply(&v2(
        &r,
        json!({"Item": {U1: {"insert": {"uid": 1, "name": "a"}}}}),
    ))
    .unwrap();
    let mut t = Txn::new();
    t.verify(&r, "Item", u(U1), &["name", "uid"]).unwrap();
    t.insert("Item", json!({"uid": 2}), Some("n"));
    assert_eq!(
        t.ops()[0],
        json!({"op": "wait", "table": "Item", "timeout": 0, "where": [["_uuid", "==", ["uuid", U1]]],
               "columns": ["name", "uid"], "until": "==", "rows": [{"name": "a", "uid": 1}]})
    );
    assert!(t.verify(&r, "Item", u(U2), &["name"]).is_err());
    assert_eq!(t.params("T")[0], json!("T"));
    let ok = TxnReply::from_result(&json!([{}, {"uuid": ["uuid", U2]}]), 2).unwrap();
    assert_eq!(ok.inserted_uuid(1), Some(u(U2)));
    let e = TxnReply::from_result(&json!([{"error": "timed out", "details": "d"}]), 2).unwrap_err();
    assert!(
        matches!(e, ClientError::TxnFailed { op_index: Some(0), ref error, .. } if error == "timed out")
    );
    let e =
        TxnReply::from_result(&json!([{}, {}, {"error": "constraint violation"}]), 2).unwrap_err();
    assert!(matches!(e, ClientError::TxnFailed { op_index: None, .. }));
    assert!(TxnReply::from_result(&json!({}), 1).is_err());
}

/// A reply read compactly from its text says the same as one read as a JSON tree: the
/// inserted UUIDs, the first failed operation (or the commit's error), too few results.
#[test]
fn compact_txn_reply_reads_as_the_tree() {
    let cases = [
        (json!([{}, {"uuid": ["uuid", U2]}, {"count": 3}]), 3),
        (json!([{"rows": [{"a": 1}]}, {"uuid": ["uuid", U1]}]), 2),
        (
            json!([{"uuid": ["uuid", U1]}, {"error": "timed out", "details": "d"}, null]),
            3,
        ),
        (json!([{}, {}, {"error": {"x": 1}}]), 2),
        (json!([{}, {"uuid": ["named-uuid", "x"]}]), 3),
        (json!([{"error": null}]), 1),
        (json!([]), 0),
    ];
    for (reply, n_ops) in cases {
        let tree = TxnReply::from_result(&reply, n_ops);
        let text = TxnReply::from_slice(reply.to_string().as_bytes(), n_ops);
        match (tree, text) {
            (Ok(t), Ok(c)) => {
                assert!(c.results.is_empty());
                for i in 0..=n_ops {
                    assert_eq!(t.inserted_uuid(i), c.inserted_uuid(i), "{reply} op {i}");
                }
            }
            (Err(t), Err(c)) => assert_eq!(t.to_string(), c.to_string(), "{reply}"),
            (t, c) => panic!("{reply}: {t:?} against {c:?}"),
        }
    }
    assert!(TxnReply::from_slice(b"{}", 1).is_err());
    assert!(TxnReply::from_slice(b"[{}", 1).is_err());
}

#[test]
fn remotes_parse() {
    assert_eq!(
        Remote::parse("unix:/a/b").unwrap(),
        Remote::Unix("/a/b".into())
    );
    assert_eq!(
        Remote::parse("tcp:127.0.0.1:6641").unwrap(),
        Remote::Tcp("127.0.0.1:6641".into())
    );
    assert!(Remote::parse("ssl:1.2.3.4:5").is_err());
    assert!(Remote::parse("tcp:1.2.3.4").is_err());
    assert_eq!(Remote::parse_list("unix:/a, unix:/b").unwrap().len(), 2);
    assert!(Remote::parse_list("").is_err());
}

/// A table monitored without inserts: the monitor request says so, the snapshot's rows are
/// held, and deletions and modifications of rows the replica does not hold are reported as
/// changes without rows (a deletion wins over an earlier modification) instead of being
/// rejected; a new snapshot counts as a reset.
#[test]
fn tables_monitored_without_inserts() {
    let s = schema();
    let mut spec = MonitorSpec::default();
    spec.tables.push(TableMonitor {
        table: "Item".into(),
        columns: Some(vec!["uid".into()]),
        condition: None,
        select: MonitorSelect {
            insert: false,
            ..MonitorSelect::ALL
        },
    });
    let mut r = Replica::new(s.clone(), &spec.selections(&s), &[]).unwrap();
    assert_eq!(
        spec.requests(&r, MonitorMethod::Cond),
        json!({"Item": [{"columns": ["uid"], "select":
            {"initial": true, "insert": false, "delete": true, "modify": true}}]})
    );
    assert_eq!(r.resets(), 0);
    r.reset(&v2(&r, json!({"Item": {U1: {"insert": {"uid": 1}}}})))
        .unwrap();
    assert_eq!(r.resets(), 1);
    let _ = r.take_changes();
    const U3: &str = "33333333-3333-3333-3333-333333333333";
    r.apply(&v2(
        &r,
        json!({"Item": {U2: {"modify": {"uid": 5}}, U3: {"modify": {"uid": 6}}}}),
    ))
    .unwrap();
    r.apply(&v2(
        &r,
        json!({"Item": {U3: {"delete": null}, U1: {"modify": {"uid": 2}}}}),
    ))
    .unwrap();
    assert!(r.has_changes());
    let got: Vec<(Uuid, ChangeKind, bool)> = r
        .take_changes()
        .into_iter()
        .map(|c| (c.uuid, c.kind, c.old.is_some() || c.new.is_some()))
        .collect();
    assert_eq!(
        got,
        vec![
            (u(U1), ChangeKind::Modify, true),
            (u(U2), ChangeKind::Modify, false),
            (u(U3), ChangeKind::Delete, false),
        ]
    );
    assert_eq!(r.table("Item").unwrap().len(), 1);
    assert!(!r.has_changes());
}

/// Insert notices: the notice column moves to a second request that reports inserts; an
/// insert after the snapshot is reported without contents and not held, snapshot rows are.
#[test]
fn insert_notices_of_a_table_monitored_without_inserts() {
    let s = schema();
    let mut spec = MonitorSpec::default();
    spec.tables.push(TableMonitor {
        table: "Item".into(),
        columns: Some(vec!["uid".into(), "ext".into()]),
        condition: None,
        select: MonitorSelect {
            insert: false,
            ..MonitorSelect::ALL
        },
    });
    spec.insert_notices.push(("Item".into(), "uid".into()));
    let mut r = Replica::new(s.clone(), &spec.selections(&s), &[]).unwrap();
    assert_eq!(
        spec.requests(&r, MonitorMethod::Cond),
        json!({"Item": [
            {"columns": ["ext"], "select":
                {"initial": true, "insert": false, "delete": true, "modify": true}},
            {"columns": ["uid"], "select":
                {"initial": true, "insert": true, "delete": false, "modify": true}}]})
    );
    r.reset(&v2(&r, json!({"Item": {U1: {"insert": {"uid": 1}}}})))
        .unwrap();
    let _ = r.take_changes();
    r.apply(&v2(&r, json!({"Item": {U2: {"insert": {"uid": 7}}}})))
        .unwrap();
    let got: Vec<(Uuid, ChangeKind, bool)> = r
        .take_changes()
        .into_iter()
        .map(|c| (c.uuid, c.kind, c.old.is_some() || c.new.is_some()))
        .collect();
    assert_eq!(got, vec![(u(U2), ChangeKind::Insert, false)]);
    assert_eq!(r.table("Item").unwrap().len(), 1);

    // A notice of the client's own insert is dropped, another client's is still reported.
    let ti = s.table_index("Item").unwrap();
    let u3 = "00000000-0000-0000-0000-000000000003";
    let u4 = "00000000-0000-0000-0000-000000000004";
    r.apply(&v2(
        &r,
        json!({"Item": {u3: {"insert": {"uid": 3}}, u4: {"insert": {"uid": 4}}}}),
    ))
    .unwrap();
    r.forget_insert_notice(ti, u(u3));
    let got: Vec<Uuid> = r.take_changes().into_iter().map(|c| c.uuid).collect();
    assert_eq!(got, vec![u(u4)]);

    // A notice read from a notification's text keeps no column (only its UUID counts).
    let notices = r.notice_tables();
    assert_eq!(notices, vec![ti]);
    let u5 = "00000000-0000-0000-0000-000000000005";
    let text = json!(["db", {"Item": {u5: {"insert": {"uid": 5}}}}]).to_string();
    let p = parse_notification_params("update2", text.as_bytes(), |_| {
        Some(((), &*s, &notices[..]))
    })
    .unwrap();
    let (_, upd) = p.updates.unwrap();
    assert!(upd.tables[0].rows.is_empty());
    assert_eq!(upd.tables[0].notices, vec![u(u5)]);
    assert_eq!(upd.row_count(), 1);
    r.apply_owned(upd).unwrap();
    let got: Vec<(Uuid, ChangeKind)> = r
        .take_changes()
        .into_iter()
        .map(|c| (c.uuid, c.kind))
        .collect();
    assert_eq!(got, vec![(u(u5), ChangeKind::Insert)]);
    assert_eq!(r.table("Item").unwrap().len(), 1);
}

/// A streamed transaction's producer (a thread outside the runtime) waits while the budget's
/// worth of its pieces are queued, and goes on as they are written (dropped); a piece bigger
/// than the budget goes alone.
#[test]
fn stream_pieces_wait_for_room() {
    let budget = Arc::new(Budget::new(STREAM_BUDGET));
    let mb = |n: usize| bytes::Bytes::from(vec![b' '; n << 20]);
    let first = Piece::new(mb(10), &budget);
    let (tx, rx) = std::sync::mpsc::channel();
    let producer = {
        let budget = Arc::clone(&budget);
        std::thread::spawn(move || {
            let second = Piece::new(mb(10), &budget);
            tx.send(()).unwrap();
            second
        })
    };
    // 10 + 10 MiB is over the 16 MiB budget: the producer waits for the first to go.
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    drop(first);
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let second = producer.join().unwrap();
    drop(second);
    assert_eq!(*budget.queued.lock().unwrap(), 0);
    // Bigger than the budget, nothing queued: it goes.
    let big = Piece::new(mb(20), &budget);
    assert_eq!(big.len(), 20 << 20);
    // A bigger budget holds both 10 MiB pieces without a wait (the test thread is outside the
    // runtime, so it would block forever if it had to wait).
    let roomy = Arc::new(Budget::new(24 << 20));
    let pieces = [Piece::new(mb(10), &roomy), Piece::new(mb(10), &roomy)];
    assert_eq!(*roomy.queued.lock().unwrap(), 20 << 20);
    drop(pieces);
    assert_eq!(*roomy.queued.lock().unwrap(), 0);
}

/// A big first snapshot (filled on two threads, each row new to the consumer) gives the
/// content, indexes and changes that the row-by-row reset of a replica holding rows gives;
/// changes after it, before the consumer took any, still read as inserts of what is held.
#[test]
fn a_big_first_snapshot_reads_as_row_by_row() {
    let id = |i: u32| format!("{i:08x}-0000-4000-8000-000000000000");
    let mut items = serde_json::Map::new();
    let mut others = serde_json::Map::new();
    for i in 0..24_000u32 {
        items.insert(
            id(i),
            json!({"initial": {"uid": i % 97, "name": format!("n{i}"),
                               "ext": ["map", [["k8s.ovn.org/id", format!("{}", i % 13)]]]}}),
        );
        others.insert(id(100_000 + i), json!({"initial": {"x": i}}));
    }
    let snap = Update::parse_slice(
        &schema(),
        json!({"Item": items, "Other": others})
            .to_string()
            .as_bytes(),
        UpdateFormat::V2,
        "snapshot",
    )
    .unwrap();
    let mut fresh = replica();
    fresh.reset(&snap).unwrap();
    let mut held = replica();
    let extra = "eeeeeeee-0000-4000-8000-000000000000";
    held.apply(&v2(&held, json!({"Other": {extra: {"insert": {"x": 1}}}})))
        .unwrap();
    held.take_changes();
    held.reset(&snap).unwrap();
    assert_eq!(fresh.to_json(), held.to_json());
    let (f, h) = (fresh.table("Item").unwrap(), held.table("Item").unwrap());
    for index in ["by_id", "by_uid", "schema:0"] {
        assert_eq!(f.index_len(index), h.index_len(index), "{index}");
    }
    for k in 0..97 {
        let key = [Datum::scalar(Atom::Integer(k))];
        assert_eq!(f.lookup("by_uid", &key), h.lookup("by_uid", &key));
    }
    assert_eq!(f.lookup_str("by_id", "5"), h.lookup_str("by_id", "5"));
    assert!(fresh.has_changes());
    let want: Vec<(String, Uuid, ChangeKind)> = held
        .take_changes()
        .into_iter()
        .filter(|c| c.uuid != u(extra))
        .map(|c| (c.table, c.uuid, c.kind))
        .collect();
    let got: Vec<(String, Uuid, ChangeKind)> = fresh
        .take_changes()
        .into_iter()
        .map(|c| (c.table, c.uuid, c.kind))
        .collect();
    assert_eq!(got.len(), 48_000);
    assert_eq!(got, want);
    assert!(!fresh.has_changes());
    // Not taken yet: a modified row is an insert with its new values, a deleted one is gone.
    let mut r = replica();
    r.reset(&snap).unwrap();
    r.apply(&v2(
        &r,
        json!({"Item": {id(1): {"modify": {"uid": 5000}}, id(2): {"delete": null}}}),
    ))
    .unwrap();
    let c = r.take_changes();
    assert_eq!(c.len(), 47_999);
    assert!(c
        .iter()
        .all(|c| c.kind == ChangeKind::Insert && c.old.is_none()));
    assert!(c.iter().all(|c| c.uuid != u(&id(2))));
    let one = c.iter().find(|c| c.uuid == u(&id(1))).unwrap();
    assert_eq!(
        one.new.as_ref().unwrap().field(2),
        &Datum::scalar(Atom::Integer(5000))
    );
    // Later changes are recorded again; dropping them lists nothing.
    r.apply(&v2(&r, json!({"Item": {id(3): {"modify": {"uid": 1}}}})))
        .unwrap();
    assert_eq!(r.take_changes().len(), 1);
    let mut r = replica();
    r.reset(&snap).unwrap();
    r.drop_changes();
    assert!(!r.has_changes() && r.take_changes().is_empty());
    assert_eq!(r.to_json(), held.to_json());
}
