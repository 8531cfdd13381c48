//! Every flow northd emits for a feature-rich NB parses with flowcompile (match and actions),
//! without needing a real OVN: the NB is built in memory.

use flowcompile::actions::{parse_actions, ParseContext, Pipeline};
use flowcompile::debug::{run, Pass};
use northd::{build, NbSnapshot, SbState};
use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::json;

fn nb() -> NbSnapshot {
    let mut db = Database::new(ovn_nb::model::schema().clone());
    let txn = json!(["OVN_Northbound",
        {"op": "insert", "table": "NB_Global", "row": {"options": ["map", [["mac_prefix", "0a:00:00"], ["svc_monitor_mac", "0a:00:00:00:00:fe"]]]}},
        {"op": "insert", "table": "DHCP_Options", "uuid-name": "d4", "row": {"cidr": "10.0.0.0/24",
            "options": ["map", [["server_id", "10.0.0.1"], ["server_mac", "c0:ff:ee:00:00:01"], ["lease_time", "3600"], ["router", "10.0.0.1"]]]}},
        {"op": "insert", "table": "DHCP_Options", "uuid-name": "d6", "row": {"cidr": "fd00::/64",
            "options": ["map", [["server_id", "00:00:00:10:00:01"]]]}},
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p1",
         "row": {"name": "p1", "addresses": "00:00:00:00:00:01 10.0.0.11 fd00::11",
                 "dhcpv4_options": ["named-uuid", "d4"], "dhcpv6_options": ["named-uuid", "d6"]}},
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p2",
         "row": {"name": "p2", "addresses": ["set", ["00:00:00:00:00:02", "unknown"]], "enabled": false}},
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p3",
         "row": {"name": "p3", "addresses": "dynamic", "options": ["map", [["mcast_flood", "true"]]]}},
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "vp",
         "row": {"name": "vp", "type": "virtual", "addresses": "00:00:00:00:00:09 10.0.0.100",
                 "options": ["map", [["virtual-ip", "10.0.0.100"], ["virtual-parents", "p1"]]]}},
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "ln",
         "row": {"name": "ln", "type": "localnet", "addresses": "unknown", "options": ["map", [["network_name", "phys"]]]}},
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "vt",
         "row": {"name": "vt", "type": "vtep"}},
        {"op": "insert", "table": "ACL", "uuid-name": "a1",
         "row": {"direction": "from-lport", "priority": 100, "match": "ip4", "action": "allow-related", "label": 7}},
        {"op": "insert", "table": "ACL", "uuid-name": "a2",
         "row": {"direction": "to-lport", "priority": 200, "match": "tcp.dst == 22", "action": "reject",
                 "log": true, "name": "no-ssh", "severity": "alert", "meter": "m1"}},
        {"op": "insert", "table": "ACL", "uuid-name": "a3",
         "row": {"direction": "from-lport", "priority": 300, "match": "arp", "action": "allow-stateless"}},
        {"op": "insert", "table": "ACL", "uuid-name": "a4",
         "row": {"direction": "from-lport", "priority": 400, "match": "udp", "action": "drop",
                 "options": ["map", [["apply-after-lb", "true"]]]}},
        {"op": "insert", "table": "Port_Group", "row": {"name": "pg1", "ports": ["named-uuid", "p1"], "acls": ["named-uuid", "a2"]}},
        {"op": "insert", "table": "QoS", "uuid-name": "q1",
         "row": {"direction": "from-lport", "priority": 10, "match": "ip4", "action": ["map", [["dscp", 10]]],
                 "bandwidth": ["map", [["rate", 100], ["burst", 10]]]}},
        {"op": "insert", "table": "DNS", "uuid-name": "dns", "row": {"records": ["map", [["vm1", "10.0.0.11"]]]}},
        {"op": "insert", "table": "Load_Balancer", "uuid-name": "lb1",
         "row": {"name": "lb1", "protocol": "tcp", "vips": ["map", [["10.96.0.1:80", "10.0.0.11:8080,10.0.0.12:8080"], ["[fd96::1]:80", "[fd00::11]:80"], ["10.96.0.2:80", ""]]],
                 "options": ["map", [["affinity_timeout", "60"], ["event", "true"]]]}},
        {"op": "insert", "table": "Load_Balancer", "uuid-name": "lb2",
         "row": {"name": "lb2", "protocol": "udp", "vips": ["map", [["10.96.0.3", "10.0.0.13"], ["10.96.0.4:53", ""]]],
                 "options": ["map", [["reject", "true"]]]}},
        {"op": "insert", "table": "Load_Balancer_Group", "uuid-name": "g", "row": {"name": "g", "load_balancer": ["named-uuid", "lb2"]}},
        {"op": "insert", "table": "Logical_Switch", "row": {"name": "sw0",
         "ports": ["set", [["named-uuid", "p1"], ["named-uuid", "p2"], ["named-uuid", "p3"], ["named-uuid", "vp"], ["named-uuid", "ln"], ["named-uuid", "vt"]]],
         "acls": ["set", [["named-uuid", "a1"], ["named-uuid", "a3"], ["named-uuid", "a4"]]],
         "qos_rules": ["named-uuid", "q1"], "dns_records": ["named-uuid", "dns"],
         "load_balancer": ["named-uuid", "lb1"], "load_balancer_group": ["named-uuid", "g"],
         "other_config": ["map", [["subnet", "10.0.0.0/24"], ["ipv6_prefix", "fd00::"], ["mcast_snoop", "true"]]]}}
    ]);
    let out = db.transact(&txn, &TxnContext::default());
    match &out {
        TxnOutcome::Complete { results, .. } => {
            assert!(
                results
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r.get("error").is_none()),
                "{results}"
            );
        }
        other => panic!("{other:?}"),
    }
    NbSnapshot::from_database(&db).unwrap()
}

#[test]
fn every_flow_parses() {
    let content = build(&nb(), &SbState::default());
    assert!(content.warnings.is_empty(), "{:?}", content.warnings);
    assert!(content.flows.len() > 150);
    let mut bad = Vec::new();
    for (k, _) in content.flows.iter() {
        if let Err(e) = run(Pass::Parse, &k.match_) {
            bad.push(format!("{} match {:?}: {e}", k.stage.name(), k.match_));
        }
        let pipeline = match k.stage.pipeline() {
            ovn_sb::Pipeline::Ingress => Pipeline::Ingress,
            ovn_sb::Pipeline::Egress => Pipeline::Egress,
        };
        if let Err(e) = parse_actions(&k.actions, &ParseContext::new(pipeline, k.stage.table())) {
            bad.push(format!("{} actions {:?}: {e}", k.stage.name(), k.actions));
        }
    }
    assert!(
        bad.is_empty(),
        "flows that do not parse:\n{}",
        bad.join("\n")
    );
    // IPAM gave p3 an address.
    assert_eq!(content.nb_dynamic_addresses.len(), 1);
}

#[test]
fn build_is_deterministic() {
    let nb = nb();
    let a = build(&nb, &SbState::default());
    let b = build(&nb, &SbState::default());
    assert_eq!(a.expanded_flows(), b.expanded_flows());
    assert_eq!(a.ports, b.ports);
}
