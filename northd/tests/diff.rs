//! The diff applied to an in-memory SB database, then re-diffed: a recompile of unchanged NB
//! yields no operation, and keys stay stable.

use northd::diff::{diff, SbRows};
use northd::{build, NbSnapshot};
use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::{json, Value};

fn nb_db() -> Database {
    let mut db = Database::new(ovn_nb::model::schema().clone());
    let txn = json!(["OVN_Northbound",
        {"op": "insert", "table": "NB_Global", "row": {"options": ["map", [["mac_prefix", "0a:00:00"], ["svc_monitor_mac", "0a:00:00:00:00:fe"]]]}},
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p1",
         "row": {"name": "p1", "addresses": ["set", ["00:00:00:00:00:01 10.0.0.1"]]}},
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p2",
         "row": {"name": "p2", "addresses": ["set", ["00:00:00:00:00:02 10.0.0.2", "unknown"]]}},
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p3",
         "row": {"name": "p3", "addresses": "00:00:00:00:00:03 10.0.0.3"}},
        {"op": "insert", "table": "ACL", "uuid-name": "a1",
         "row": {"direction": "from-lport", "priority": 100, "match": "ip4", "action": "allow-related"}},
        {"op": "insert", "table": "Logical_Switch", "row": {"name": "sw0",
         "ports": ["set", [["named-uuid", "p1"], ["named-uuid", "p2"]]], "acls": ["named-uuid", "a1"]}},
        {"op": "insert", "table": "Load_Balancer", "uuid-name": "lb",
         "row": {"name": "lb1", "protocol": "tcp", "vips": ["map", [["10.96.0.1:80", "10.0.0.1:8080"]]]}},
        {"op": "insert", "table": "Logical_Switch", "row": {"name": "sw1",
         "ports": ["named-uuid", "p3"], "load_balancer": ["named-uuid", "lb"]}}
    ]);
    let out = db.transact(&txn, &TxnContext::default());
    assert!(
        matches!(
            out,
            TxnOutcome::Complete {
                changes: Some(_),
                ..
            }
        ),
        "{out:?}"
    );
    db
}

fn apply(sb: &mut Database, ops: Vec<Value>) {
    let mut params = vec![json!("OVN_Southbound")];
    params.extend(ops);
    let out = sb.transact(&Value::Array(params), &TxnContext::default());
    match out {
        TxnOutcome::Complete { results, .. } => {
            let errors: Vec<_> = results
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r.get("error").is_some())
                .collect();
            assert!(errors.is_empty(), "{errors:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn diff_applies_and_is_idempotent() {
    let nb = NbSnapshot::from_database(&nb_db()).unwrap();
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    let rows = SbRows::from_database(&sb).unwrap();
    let content = build(&nb, &rows.state());
    assert!(content.warnings.is_empty(), "{:?}", content.warnings);
    let ops = diff(&rows, &content).unwrap();
    assert!(!ops.is_empty());
    apply(&mut sb, ops);

    let rows = SbRows::from_database(&sb).unwrap();
    assert_eq!(rows.datapaths.len(), 2);
    assert_eq!(rows.ports.len(), 3);
    // Flows common to both switches share a datapath group.
    assert!(!rows.dp_groups.is_empty());
    assert_eq!(rows.load_balancers.len(), 1);
    let n_flows: usize = content.flows.len();
    assert_eq!(rows.logical_flows.len(), n_flows);

    let again = build(&nb, &rows.state());
    let ops = diff(&rows, &again).unwrap();
    assert!(ops.is_empty(), "recompile wrote {ops:#?}");
    let keys = |c: &northd::SbContent| {
        c.ports
            .iter()
            .map(|p| (p.name.clone(), p.tunnel_key))
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&content), keys(&again));
}

#[test]
fn removing_a_port_deletes_its_rows() {
    let mut nbdb = nb_db();
    let nb = NbSnapshot::from_database(&nbdb).unwrap();
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    let rows = SbRows::from_database(&sb).unwrap();
    apply(&mut sb, diff(&rows, &build(&nb, &rows.state())).unwrap());

    let txn = json!(["OVN_Northbound",
        {"op": "mutate", "table": "Logical_Switch", "where": [["name", "==", "sw1"]],
         "mutations": [["ports", "delete", ["set", nb.switch_ports.values().filter(|p| p.name == "p3").map(|p| json!(["uuid", p.uuid.to_string()])).collect::<Vec<_>>()]]]}
    ]);
    assert!(matches!(
        nbdb.transact(&txn, &TxnContext::default()),
        TxnOutcome::Complete { .. }
    ));
    let nb = NbSnapshot::from_database(&nbdb).unwrap();
    let rows = SbRows::from_database(&sb).unwrap();
    let ops = diff(&rows, &build(&nb, &rows.state())).unwrap();
    assert!(ops
        .iter()
        .any(|o| o["op"] == "delete" && o["table"] == "Port_Binding"));
    apply(&mut sb, ops);
    let rows = SbRows::from_database(&sb).unwrap();
    assert_eq!(rows.ports.len(), 2);
}
