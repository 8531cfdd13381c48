//! The diff applied to an in-memory SB database, then re-diffed: a recompile of unchanged NB
//! yields no operation, and keys stay stable.

use northd::diff::{diff, plan, SbRows};
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

/// Every SB table as a `select` reply's bytes (one result per table of `SbRows::TABLES`).
fn sb_select_reply(sb: &Database) -> Vec<u8> {
    let results: Vec<Value> = SbRows::TABLES
        .iter()
        .map(|t| {
            let rows: Vec<Value> = sb
                .rows(t)
                .into_iter()
                .flat_map(|r| r.values())
                .map(|row| {
                    let ts = sb.schema().table(t).unwrap();
                    let mut obj = serde_json::Map::new();
                    for col in &ts.columns {
                        obj.insert(col.name.clone(), row.fields[col.index].to_json());
                    }
                    Value::Object(obj)
                })
                .collect();
            json!({"rows": rows})
        })
        .collect();
    serde_json::to_vec(&results).unwrap()
}

#[test]
fn plan_writes_the_same_transaction_as_diff() {
    let nb = NbSnapshot::from_database(&nb_db()).unwrap();
    let rows = SbRows::default();
    let content = build(&nb, &rows.state());
    let txn = plan(&rows, &content).unwrap();
    let mut expected = vec![json!("OVN_Southbound")];
    expected.extend(diff(&rows, &content).unwrap());
    assert_eq!(txn.len() + 1, expected.len());
    assert_eq!(txn.to_value().unwrap(), Value::Array(expected));
    let mut bytes = Vec::new();
    txn.write_json(&mut bytes).unwrap();
    let parsed: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(parsed, txn.to_value().unwrap());
    // Flows on several datapaths refer to a group inserted by the same transaction.
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains(r#""logical_dp_group":["named-uuid","row"#),
        "{text}"
    );
}

#[test]
fn extra_operations_and_reading_sb_from_reply_bytes() {
    let nb = NbSnapshot::from_database(&nb_db()).unwrap();
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    let rows = SbRows::from_database(&sb).unwrap();
    let content = build(&nb, &rows.state());
    let mut txn = plan(&rows, &content).unwrap();
    let n = txn.len();
    txn.push_json(northd::embedded::nb_cfg_update(7));
    assert_eq!(txn.len(), n + 1);
    let out = sb.transact(&txn.to_value().unwrap(), &TxnContext::default());
    assert!(matches!(out, TxnOutcome::Complete { .. }), "{out:?}");

    let reply = sb_select_reply(&sb);
    let from_bytes = SbRows::from_select_reply(SbRows::TABLES, &reply).unwrap();
    let from_db = SbRows::from_database(&sb).unwrap();
    assert_eq!(from_bytes.sb_global.as_ref().map(|g| g.nb_cfg), Some(7));
    assert_eq!(format!("{from_bytes:?}"), format!("{from_db:?}"));
    assert!(plan(&from_bytes, &content).unwrap().is_empty());

    // A failed select, a row of the wrong shape and bad JSON are errors, not panics.
    let bad = br#"[{"error": "permission denied", "details": "no"}]"#;
    assert!(SbRows::from_select_reply(&["SB_Global"], bad).is_err());
    let bad = br#"[{"rows": [{"nb_cfg": "seven"}]}]"#;
    assert!(SbRows::from_select_reply(&["SB_Global"], bad).is_err());
    assert!(SbRows::from_select_reply(&["SB_Global"], b"[{\"rows\": [").is_err());
    // Tables it does not read are skipped.
    let other = br#"[{"rows": [{"name": "x"}]}]"#;
    assert!(SbRows::from_select_reply(&["Chassis_Private"], other).is_ok());
}

#[test]
fn nb_snapshot_from_reply_bytes_equals_from_json() {
    let db = nb_db();
    let results: Vec<Value> = NbSnapshot::TABLES
        .iter()
        .map(|t| {
            let rows: Vec<Value> = db
                .rows(t)
                .into_iter()
                .flat_map(|r| r.values())
                .map(|row| {
                    let ts = db.schema().table(t).unwrap();
                    let mut obj = serde_json::Map::new();
                    for col in &ts.columns {
                        obj.insert(col.name.clone(), row.fields[col.index].to_json());
                    }
                    Value::Object(obj)
                })
                .collect();
            json!({"rows": rows})
        })
        .collect();
    let tables: serde_json::Map<String, Value> = NbSnapshot::TABLES
        .iter()
        .zip(&results)
        .map(|(t, r)| ((*t).to_owned(), r["rows"].clone()))
        .collect();
    let bytes = serde_json::to_vec(&results).unwrap();
    let a = NbSnapshot::from_select_reply(NbSnapshot::TABLES, &bytes).unwrap();
    let b = NbSnapshot::from_json(&Value::Object(tables)).unwrap();
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(a.switch_ports.len(), 3);
}

/// The whole wire path against a real SB ovsdb-server: the plan's bytes sent as they are, the
/// reply of a `select` of every table read back from its bytes, and a second plan is empty.
#[test]
fn plan_bytes_through_a_real_sb_server() {
    use ovsdb::client::{Connection, Remote};
    use std::time::Duration;

    let ovn = testkit::require_or_skip!();
    let mut sandbox = ovn.sandbox().unwrap();
    let schema = ovn.schema(testkit::Schema::Southbound).unwrap();
    let server = sandbox.start_ovsdb_server("sb", &schema).unwrap();
    let remote = Remote::parse(&server.remote()).unwrap();
    let nb = NbSnapshot::from_database(&nb_db()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = Duration::from_secs(20);
        let mut conn = Connection::connect(&remote, t, None).await.unwrap();
        let select = || {
            let mut p = vec![json!("OVN_Southbound")];
            p.extend(
                SbRows::TABLES
                    .iter()
                    .map(|t| json!({"op": "select", "table": t, "where": []})),
            );
            bytes::Bytes::from(serde_json::to_vec(&p).unwrap())
        };
        let reply = conn.call_raw_ok("transact", select(), t).await.unwrap();
        let rows = SbRows::from_select_reply(SbRows::TABLES, reply.result()).unwrap();
        let content = build(&nb, &rows.state());
        let txn = plan(&rows, &content).unwrap();
        let n = txn.len();
        let reply = conn
            .call_raw_ok("transact", txn.to_vec().unwrap().into(), t)
            .await
            .unwrap();
        let results = reply.to_value().unwrap();
        assert_eq!(northd::embedded::first_error(&results), None);
        assert_eq!(results.as_array().map(Vec::len), Some(n));

        let reply = conn.call_raw_ok("transact", select(), t).await.unwrap();
        let rows = SbRows::from_select_reply(SbRows::TABLES, reply.result()).unwrap();
        assert_eq!(rows.logical_flows.len(), content.flows.len());
        assert_eq!(rows.ports.len(), 3);
        let content2 = build(&nb, &rows.state());
        let again = plan(&rows, &content2).unwrap();
        assert!(again.is_empty(), "{:?}", again.to_value());

        // An error reply comes back as the server's error.
        let bad = bytes::Bytes::from_static(br#"["No_Such_Db"]"#);
        assert!(conn.call_raw("transact", bad, t).await.unwrap().is_err());
        // The ordinary calls still work on the same connection.
        let dbs = conn.call_ok("list_dbs", vec![], t).await.unwrap();
        assert!(
            dbs.as_array().unwrap().contains(&json!("OVN_Southbound")),
            "{dbs}"
        );

        // Through a replicating client: a changed NB (one port fewer) written as bytes is in
        // the replica when `transact_bytes` returns (read-your-writes of the inserted rows).
        let client = ovsdb::client::Client::connect(
            ovsdb::client::ClientConfig::new(&server.remote(), "OVN_Southbound"),
            t,
        )
        .await
        .unwrap();
        let mut nbdb = nb_db();
        let txn = json!(["OVN_Northbound",
            {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p4",
             "row": {"name": "p4", "addresses": "00:00:00:00:00:04 10.0.0.4"}},
            {"op": "mutate", "table": "Logical_Switch", "where": [["name", "==", "sw1"]],
             "mutations": [["ports", "insert", ["named-uuid", "p4"]]]}]);
        assert!(matches!(
            nbdb.transact(&txn, &TxnContext::default()),
            TxnOutcome::Complete { .. }
        ));
        let nb = NbSnapshot::from_database(&nbdb).unwrap();
        let reply = conn.call_raw_ok("transact", select(), t).await.unwrap();
        let rows = SbRows::from_select_reply(SbRows::TABLES, reply.result()).unwrap();
        let content = build(&nb, &rows.state());
        let txn = plan(&rows, &content).unwrap();
        assert!(txn.inserts().iter().any(|(_, t)| &**t == "Port_Binding"));
        let r = client
            .transact_bytes(txn.to_vec().unwrap().into(), txn.len(), txn.inserts())
            .await
            .unwrap();
        drop(r);
        let ports = client
            .with_replica(|r| r.table("Port_Binding").map(|t| t.len()))
            .unwrap();
        assert_eq!(ports, Some(4));
        let flows = client
            .with_replica(|r| r.table("Logical_Flow").map(|t| t.len()))
            .unwrap();
        assert_eq!(flows, Some(content.flows.len()));
    });
}

/// Runs `txn` on the NB database.
fn nb_transact(nbdb: &mut Database, txn: Value) {
    let out = nbdb.transact(&txn, &TxnContext::default());
    assert!(
        matches!(&out, TxnOutcome::Complete { results, .. }
            if results.as_array().is_some_and(|r| r.iter().all(|x| x.get("error").is_none()))),
        "{out:?}"
    );
}

/// Compiles NB, applies the diff to SB, and checks that a recompile writes nothing.
fn sync(nbdb: &Database, sb: &mut Database) -> SbRows {
    let nb = NbSnapshot::from_database(nbdb).unwrap();
    let rows = SbRows::from_database(sb).unwrap();
    apply(sb, diff(&rows, &build(&nb, &rows.state())).unwrap());
    let rows = SbRows::from_database(sb).unwrap();
    let ops = diff(&rows, &build(&nb, &rows.state())).unwrap();
    assert!(ops.is_empty(), "recompile wrote {ops:#?}");
    rows
}

#[test]
fn meters_and_copp_follow_nb() {
    let mut nbdb = nb_db();
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    nb_transact(
        &mut nbdb,
        json!(["OVN_Northbound",
            {"op": "insert", "table": "Meter_Band", "uuid-name": "b",
             "row": {"action": "drop", "rate": 10}},
            {"op": "insert", "table": "Meter", "row": {"name": "m-reject", "unit": "pktps",
             "bands": ["named-uuid", "b"]}},
            {"op": "insert", "table": "Copp", "uuid-name": "c",
             "row": {"name": "c", "meters": ["map", [["reject", "m-reject"]]]}},
            {"op": "insert", "table": "ACL", "uuid-name": "a2",
             "row": {"direction": "to-lport", "priority": 10, "match": "tcp", "action": "reject"}},
            {"op": "mutate", "table": "Logical_Switch", "where": [["name", "==", "sw0"]],
             "mutations": [["acls", "insert", ["named-uuid", "a2"]]]},
            {"op": "update", "table": "Logical_Switch", "where": [],
             "row": {"copp": ["named-uuid", "c"]}}
        ]),
    );
    let rows = sync(&nbdb, &mut sb);
    assert_eq!(rows.meters.len(), 1);
    assert_eq!(rows.meter_bands.values().next().map(|b| b.rate), Some(10));
    let metered = |rows: &SbRows| {
        rows.logical_flows
            .values()
            .filter(|f| f.controller_meter.as_deref() == Some("m-reject"))
            .count()
    };
    assert!(metered(&rows) > 0);

    // A band's rate changes: the meter gets a new band, the old one is collected.
    nb_transact(
        &mut nbdb,
        json!(["OVN_Northbound",
            {"op": "update", "table": "Meter_Band", "where": [], "row": {"rate": 99}}]),
    );
    let rows = sync(&nbdb, &mut sb);
    let rates: Vec<i64> = rows.meter_bands.values().map(|b| b.rate).collect();
    assert_eq!(rates, [99]);

    // The CoPP goes: flows lose their meter; the meter stays (NB still has it).
    nb_transact(
        &mut nbdb,
        json!(["OVN_Northbound",
            {"op": "update", "table": "Logical_Switch", "where": [], "row": {"copp": ["set", []]}}]),
    );
    let rows = sync(&nbdb, &mut sb);
    assert_eq!(metered(&rows), 0);
    assert_eq!(rows.meters.len(), 1);

    // The meter goes.
    nb_transact(
        &mut nbdb,
        json!(["OVN_Northbound", {"op": "delete", "table": "Meter", "where": []}]),
    );
    let rows = sync(&nbdb, &mut sb);
    assert!(rows.meters.is_empty() && rows.meter_bands.is_empty());
}

#[test]
fn health_check_status_from_sb() {
    let mut nbdb = nb_db();
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    nb_transact(
        &mut nbdb,
        json!(["OVN_Northbound",
            {"op": "insert", "table": "Load_Balancer_Health_Check", "uuid-name": "hc",
             "row": {"vip": "10.96.0.1:80", "options": ["map", [["interval", "3"]]]}},
            {"op": "update", "table": "Load_Balancer", "where": [],
             "row": {"health_check": ["named-uuid", "hc"],
                     "ip_port_mappings": ["map", [["10.0.0.1", "p1:10.0.0.254"]]]}}
        ]),
    );
    let lb_action = |rows: &SbRows| {
        rows.logical_flows
            .values()
            .find(|f| f.match_.contains("10.96.0.1") && f.priority == 120 && f.table_id == 12)
            .map(|f| f.actions.clone())
            .unwrap_or_default()
    };
    let rows = sync(&nbdb, &mut sb);
    assert_eq!(rows.service_monitors.len(), 1);
    let mon = rows.service_monitors.values().next().unwrap().clone();
    assert_eq!(
        (mon.ip.as_str(), mon.port, mon.logical_port.as_str()),
        ("10.0.0.1", 8080, "p1")
    );
    assert_eq!(mon.src_ip, "10.0.0.254");
    assert_eq!(mon.src_mac, "0a:00:00:00:00:fe");
    assert!(
        lb_action(&rows).contains("backends=10.0.0.1:8080"),
        "{}",
        lb_action(&rows)
    );
    // ARP replies for the probe source on p1's switch.
    assert!(rows
        .logical_flows
        .values()
        .any(|f| f.priority == 110 && f.match_ == "arp.tpa == 10.0.0.254 && arp.op == 1"));

    // ovn-controller finds the backend down: the VIP drops.
    let set_status = |sb: &mut Database, status: &str| {
        apply(
            sb,
            vec![
                json!({"op": "update", "table": "Service_Monitor", "where": [],
                        "row": {"status": status}}),
            ],
        );
    };
    set_status(&mut sb, "offline");
    let rows = sync(&nbdb, &mut sb);
    assert_eq!(lb_action(&rows), "drop;");

    // `online` on a port that is not up is written back as `offline`.
    set_status(&mut sb, "online");
    let rows = sync(&nbdb, &mut sb);
    let mon = rows.service_monitors.values().next().unwrap();
    assert_eq!(
        mon.status,
        Some(ovn_sb::model::ServiceMonitorStatus::Offline)
    );
    assert_eq!(lb_action(&rows), "drop;");

    // With the port up, `online` keeps the backend.
    nb_transact(
        &mut nbdb,
        json!(["OVN_Northbound",
            {"op": "update", "table": "Logical_Switch_Port", "where": [["name", "==", "p1"]],
             "row": {"up": true}}]),
    );
    set_status(&mut sb, "online");
    let rows = sync(&nbdb, &mut sb);
    assert!(lb_action(&rows).contains("backends=10.0.0.1:8080"));

    // The health check goes: no monitor, every backend again.
    nb_transact(
        &mut nbdb,
        json!(["OVN_Northbound",
            {"op": "update", "table": "Load_Balancer", "where": [],
             "row": {"health_check": ["set", []]}}]),
    );
    let rows = sync(&nbdb, &mut sb);
    assert!(rows.service_monitors.is_empty());
}
