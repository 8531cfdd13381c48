//! Differential corpus on the real OVN Northbound schema (read at test time), in the shapes
//! ovn-nbctl and ovn-kubernetes write.

use serde_json::{json, Value};

use crate::oracle::{run_cases, NB_SCHEMA};

fn ins_n(table: &str, name: &str, row: Value) -> Value {
    json!({"op": "insert", "table": table, "uuid-name": name, "row": row})
}
fn ins(table: &str, row: Value) -> Value {
    json!({"op": "insert", "table": table, "row": row})
}
fn sel_c(table: &str, wh: Value, cols: Value) -> Value {
    json!({"op": "select", "table": table, "where": wh, "columns": cols})
}
fn mutate(table: &str, wh: Value, m: Value) -> Value {
    json!({"op": "mutate", "table": table, "where": wh, "mutations": m})
}
fn del(table: &str, wh: Value) -> Value {
    json!({"op": "delete", "table": table, "where": wh})
}
fn named(n: &str) -> Value {
    json!(["named-uuid", n])
}
fn by_name(n: &str) -> Value {
    json!([["name", "==", n]])
}

/// A switch "sw0" with two ports and an ACL, a router with a port, a LB, a port group.
fn topology() -> Value {
    json!([
        ins_n(
            "Logical_Switch_Port",
            "p1",
            json!({"name": "sw0-p1", "addresses": ["set", ["00:00:00:00:00:01 10.0.0.1"]], "port_security": "00:00:00:00:00:01 10.0.0.1"})
        ),
        ins_n(
            "Logical_Switch_Port",
            "p2",
            json!({"name": "sw0-p2", "addresses": "router", "type": "router", "options": ["map", [["router-port", "lrp0"]]]})
        ),
        ins_n(
            "ACL",
            "a1",
            json!({"priority": 1001, "direction": "to-lport", "match": "ip4.src == 10.0.0.2", "action": "allow-related", "log": true, "severity": "info", "name": "acl1"})
        ),
        ins_n(
            "Load_Balancer",
            "lb",
            json!({"name": "lb0", "vips": ["map", [["10.96.0.1:80", "10.0.0.1:8080,10.0.0.2:8080"]]], "protocol": "tcp"})
        ),
        ins(
            "Logical_Switch",
            json!({"name": "sw0", "ports": ["set", [named("p1"), named("p2")]], "acls": named("a1"), "load_balancer": named("lb"), "other_config": ["map", [["subnet", "10.0.0.0/24"]]], "external_ids": ["map", [["k8s", "node1"]]]})
        ),
        ins_n(
            "Logical_Router_Port",
            "lrp",
            json!({"name": "lrp0", "mac": "00:00:00:00:ff:01", "networks": "10.0.0.254/24"})
        ),
        ins_n(
            "NAT",
            "nat",
            json!({"type": "snat", "logical_ip": "10.0.0.0/24", "external_ip": "172.16.0.10", "gateway_port": named("lrp")})
        ),
        ins(
            "Logical_Router",
            json!({"name": "lr0", "ports": named("lrp"), "nat": named("nat"), "load_balancer": named("lb")})
        ),
        ins(
            "Port_Group",
            json!({"name": "pg1", "ports": ["set", [named("p1"), named("p2")]], "acls": ["set", []]})
        ),
    ])
}

fn cases() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        (
            "nb_global_max_rows",
            vec![
                json!([ins(
                    "NB_Global",
                    json!({"name": "global", "options": ["map", [["mac_prefix", "0a:00:00"]]]})
                )]),
                json!([ins("NB_Global", json!({}))]),
                json!([
                    mutate(
                        "NB_Global",
                        json!([]),
                        json!([
                            ["nb_cfg", "+=", 1],
                            ["options", "insert", ["map", [["svc_monitor_mac", "x"]]]]
                        ])
                    ),
                    sel_c(
                        "NB_Global",
                        json!([]),
                        json!(["nb_cfg", "options", "sb_cfg", "hv_cfg"])
                    )
                ]),
                json!([{"op": "wait", "table": "NB_Global", "where": [], "columns": ["nb_cfg"], "until": "==", "rows": [{"nb_cfg": 1}], "timeout": 0}, mutate("NB_Global", json!([]), json!([["nb_cfg", "+=", 1]]))]),
                json!([{"op": "wait", "table": "NB_Global", "where": [], "columns": ["nb_cfg"], "until": "==", "rows": [{"nb_cfg": 1}], "timeout": 0}, mutate("NB_Global", json!([]), json!([["nb_cfg", "+=", 1]]))]),
            ],
        ),
        (
            "nb_topology",
            vec![
                topology(),
                json!([
                    sel_c(
                        "Logical_Switch",
                        json!([]),
                        json!([
                            "name",
                            "ports",
                            "acls",
                            "load_balancer",
                            "other_config",
                            "external_ids"
                        ])
                    ),
                    sel_c(
                        "Logical_Switch_Port",
                        json!([]),
                        json!([
                            "name",
                            "addresses",
                            "port_security",
                            "type",
                            "options",
                            "up",
                            "enabled"
                        ])
                    ),
                    sel_c(
                        "ACL",
                        json!([]),
                        json!([
                            "priority",
                            "direction",
                            "match",
                            "action",
                            "log",
                            "severity",
                            "name",
                            "label"
                        ])
                    )
                ]),
                json!([
                    sel_c(
                        "Logical_Router",
                        json!([]),
                        json!(["name", "ports", "nat", "load_balancer"])
                    ),
                    sel_c(
                        "NAT",
                        json!([]),
                        json!(["type", "logical_ip", "external_ip", "gateway_port"])
                    ),
                    sel_c("Port_Group", json!([]), json!(["name", "ports"]))
                ]),
            ],
        ),
        (
            "nb_lsp_name_index",
            vec![
                topology(),
                json!([
                    ins_n("Logical_Switch_Port", "p", json!({"name": "sw0-p1"})),
                    ins(
                        "Logical_Switch",
                        json!({"name": "sw1", "ports": named("p")})
                    )
                ]),
                json!([
                    ins_n("Logical_Switch_Port", "p", json!({"name": "sw1-p1"})),
                    ins(
                        "Logical_Switch",
                        json!({"name": "sw1", "ports": named("p")})
                    )
                ]),
            ],
        ),
        (
            "nb_lsp_del_gc_and_weak",
            vec![
                topology(),
                json!([mutate(
                    "Logical_Switch",
                    by_name("sw0"),
                    json!([["ports", "delete", ["set", []]]])
                )]),
                json!([{"op": "select", "table": "Logical_Switch_Port", "where": [["name", "==", "sw0-p1"]], "columns": ["_uuid"]}]),
                json!([
                    mutate(
                        "Logical_Switch",
                        by_name("sw0"),
                        json!([["ports", "delete", ["set", []]]])
                    ),
                    del("Logical_Switch_Port", by_name("sw0-p1"))
                ]),
                json!([
                    sel_c("Port_Group", json!([]), json!(["name", "ports"])),
                    sel_c("Logical_Switch_Port", json!([]), json!(["name"]))
                ]),
            ],
        ),
        (
            "nb_switch_delete_gc",
            vec![
                topology(),
                json!([del("Logical_Switch", by_name("sw0"))]),
                json!([
                    sel_c("Logical_Switch_Port", json!([]), json!(["name"])),
                    sel_c("ACL", json!([]), json!(["name"])),
                    sel_c("Port_Group", json!([]), json!(["ports"]))
                ]),
            ],
        ),
        (
            "nb_lb_delete_weak",
            vec![
                topology(),
                json!([del("Load_Balancer", json!([]))]),
                json!([
                    sel_c("Logical_Switch", json!([]), json!(["load_balancer"])),
                    sel_c("Logical_Router", json!([]), json!(["load_balancer"]))
                ]),
            ],
        ),
        (
            "nb_lrp_delete_nat_weak",
            vec![
                topology(),
                json!([mutate(
                    "Logical_Router",
                    by_name("lr0"),
                    json!([["ports", "delete", ["set", []]]])
                )]),
                json!([{"op": "update", "table": "Logical_Router", "where": by_name("lr0"), "row": {"ports": ["set", []]}}, sel_c("NAT", json!([]), json!(["gateway_port"])), sel_c("Logical_Router_Port", json!([]), json!(["name"]))]),
            ],
        ),
        (
            "nb_acl_constraints",
            vec![
                topology(),
                json!([
                    ins_n(
                        "ACL",
                        "a",
                        json!({"priority": 40000, "direction": "to-lport", "match": "1", "action": "drop"})
                    ),
                    mutate(
                        "Logical_Switch",
                        by_name("sw0"),
                        json!([["acls", "insert", named("a")]])
                    )
                ]),
                json!([
                    ins_n(
                        "ACL",
                        "a",
                        json!({"priority": 1, "direction": "sideways", "match": "1", "action": "drop"})
                    ),
                    mutate(
                        "Logical_Switch",
                        by_name("sw0"),
                        json!([["acls", "insert", named("a")]])
                    )
                ]),
                json!([
                    ins_n(
                        "ACL",
                        "a",
                        json!({"priority": 1, "direction": "to-lport", "match": "1", "action": "allow", "label": 4294967295i64, "name": "a-very-long-name-that-is-more-than-sixty-three-characters-long-yes"})
                    ),
                    mutate(
                        "Logical_Switch",
                        by_name("sw0"),
                        json!([["acls", "insert", named("a")]])
                    )
                ]),
                json!([
                    ins_n(
                        "ACL",
                        "a",
                        json!({"priority": 1, "direction": "to-lport", "match": "1", "action": "allow", "label": 4294967295i64})
                    ),
                    mutate(
                        "Logical_Switch",
                        by_name("sw0"),
                        json!([["acls", "insert", named("a")]])
                    )
                ]),
                json!([
                    ins(
                        "ACL",
                        json!({"priority": 2, "direction": "to-lport", "match": "1", "action": "allow"})
                    ),
                    sel_c("ACL", json!([]), json!(["priority"]))
                ]),
                json!([sel_c("ACL", json!([]), json!(["priority", "label"]))]),
                json!([mutate(
                    "ACL",
                    json!([["priority", "==", 1001]]),
                    json!([["priority", "+=", 32000]])
                )]),
                json!([
                    mutate(
                        "ACL",
                        json!([["priority", ">", 1000]]),
                        json!([
                            ["priority", "-=", 1000],
                            ["options", "insert", ["map", [["log-related", "true"]]]]
                        ])
                    ),
                    sel_c("ACL", json!([]), json!(["priority", "options"]))
                ]),
            ],
        ),
        (
            "nb_port_group_acls",
            vec![
                topology(),
                json!([
                    ins_n(
                        "ACL",
                        "a",
                        json!({"priority": 1000, "direction": "from-lport", "match": "inport == @pg1", "action": "drop"})
                    ),
                    mutate(
                        "Port_Group",
                        by_name("pg1"),
                        json!([["acls", "insert", named("a")]])
                    )
                ]),
                json!([del("Port_Group", by_name("pg1"))]),
                json!([sel_c("ACL", json!([]), json!(["match"]))]),
                json!([
                    ins("Port_Group", json!({"name": "pg2"})),
                    ins("Port_Group", json!({"name": "pg2"}))
                ]),
            ],
        ),
        (
            "nb_address_set_strong_from_nat",
            vec![
                json!([
                    ins_n(
                        "Address_Set",
                        "as",
                        json!({"name": "as1", "addresses": ["set", ["10.0.0.1", "10.0.0.2"]]})
                    ),
                    ins_n(
                        "NAT",
                        "n",
                        json!({"type": "dnat_and_snat", "logical_ip": "10.0.0.5", "external_ip": "172.16.0.5", "allowed_ext_ips": named("as")})
                    ),
                    ins("Logical_Router", json!({"name": "lr", "nat": named("n")}))
                ]),
                json!([del("Address_Set", json!([]))]),
                json!([
                    del("Logical_Router", json!([])),
                    del("Address_Set", json!([]))
                ]),
                json!([
                    sel_c("NAT", json!([]), json!(["type"])),
                    sel_c("Address_Set", json!([]), json!(["name"]))
                ]),
                json!([
                    ins("Address_Set", json!({"name": "x"})),
                    ins("Address_Set", json!({"name": "x"}))
                ]),
                json!([ins(
                    "Address_Set",
                    json!({"name": "x", "addresses": ["set", ["a", "a"]]})
                )]),
                json!([
                    ins(
                        "Address_Set",
                        json!({"name": "y", "addresses": ["set", ["b", "a"]]})
                    ),
                    mutate(
                        "Address_Set",
                        json!([["name", "==", "y"]]),
                        json!([
                            ["addresses", "insert", ["set", ["c", "a"]]],
                            ["addresses", "delete", "b"]
                        ])
                    ),
                    sel_c("Address_Set", json!([]), json!(["name", "addresses"]))
                ]),
            ],
        ),
        (
            "nb_meter_bands_gc",
            vec![
                json!([
                    ins_n("Meter_Band", "b1", json!({"action": "drop", "rate": 100})),
                    ins_n(
                        "Meter_Band",
                        "b2",
                        json!({"action": "drop", "rate": 200, "burst_size": 10})
                    ),
                    ins(
                        "Meter",
                        json!({"name": "m1", "unit": "pktps", "bands": ["set", [named("b1"), named("b2")]]})
                    )
                ]),
                json!([sel_c(
                    "Meter_Band",
                    json!([]),
                    json!(["rate", "burst_size", "action"])
                )]),
                json!([
                    ins_n("Meter_Band", "b", json!({"action": "drop", "rate": 0})),
                    ins(
                        "Meter",
                        json!({"name": "m2", "unit": "kbps", "bands": named("b")})
                    )
                ]),
                json!([ins("Meter", json!({"name": "m3", "unit": "bogus"}))]),
                json!([del("Meter", json!([]))]),
                json!([sel_c("Meter_Band", json!([]), json!(["rate"]))]),
            ],
        ),
        (
            "nb_ha_chassis_and_bfd",
            vec![
                json!([
                    ins_n(
                        "HA_Chassis",
                        "h1",
                        json!({"chassis_name": "ch1", "priority": 10})
                    ),
                    ins_n(
                        "HA_Chassis",
                        "h2",
                        json!({"chassis_name": "ch2", "priority": 20})
                    ),
                    ins(
                        "HA_Chassis_Group",
                        json!({"name": "g", "ha_chassis": ["set", [named("h1"), named("h2")]]})
                    )
                ]),
                json!([
                    mutate(
                        "HA_Chassis_Group",
                        json!([]),
                        json!([["ha_chassis", "delete", ["set", []]]])
                    ),
                    sel_c("HA_Chassis", json!([]), json!(["chassis_name", "priority"]))
                ]),
                json!([
                    ins(
                        "BFD",
                        json!({"logical_port": "lp", "dst_ip": "1.1.1.1", "status": "down"})
                    ),
                    ins("BFD", json!({"logical_port": "lp", "dst_ip": "1.1.1.2"}))
                ]),
                json!([ins(
                    "BFD",
                    json!({"logical_port": "lp", "dst_ip": "1.1.1.1"})
                )]),
                json!([ins(
                    "BFD",
                    json!({"logical_port": "lp2", "dst_ip": "1.1.1.1", "status": "bogus"})
                )]),
                json!([ins(
                    "BFD",
                    json!({"logical_port": "lp3", "dst_ip": "1.1.1.1", "min_tx": 0})
                )]),
                json!([sel_c(
                    "BFD",
                    json!([]),
                    json!(["logical_port", "dst_ip", "status", "min_tx", "detect_mult"])
                )]),
            ],
        ),
        (
            "nb_connections_ssl",
            vec![
                json!([
                    ins_n("Connection", "c", json!({"target": "ptcp:6641"})),
                    ins_n(
                        "SSL",
                        "s",
                        json!({"private_key": "k", "certificate": "c", "ca_cert": "ca"})
                    ),
                    ins(
                        "NB_Global",
                        json!({"connections": named("c"), "ssl": named("s")})
                    )
                ]),
                json!([
                    ins_n("Connection", "c", json!({"target": "ptcp:6641"})),
                    mutate(
                        "NB_Global",
                        json!([]),
                        json!([["connections", "insert", named("c")]])
                    )
                ]),
                json!([ins_n("SSL", "s", json!({})), {"op": "update", "table": "NB_Global", "where": [], "row": {"ssl": named("s")}}]),
                json!([
                    sel_c("SSL", json!([]), json!(["private_key"])),
                    sel_c(
                        "Connection",
                        json!([]),
                        json!(["target", "inactivity_probe", "max_backoff"])
                    )
                ]),
                json!([ins_n("Connection", "c", json!({"target": "ptcp:6642", "inactivity_probe": 5000})), ins_n("SSL", "s", json!({})), {"op": "update", "table": "NB_Global", "where": [], "row": {"ssl": named("s"), "connections": ["set", [named("c")]]}}, sel_c("Connection", json!([]), json!(["target"]))]),
                json!([
                    sel_c("Connection", json!([]), json!(["target"])),
                    sel_c("SSL", json!([]), json!(["private_key"]))
                ]),
            ],
        ),
        (
            "nb_conditions_on_maps",
            vec![
                topology(),
                json!([
                    sel_c(
                        "Logical_Switch",
                        json!([["external_ids", "includes", ["map", [["k8s", "node1"]]]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Logical_Switch",
                        json!([["external_ids", "excludes", ["map", [["k8s", "node1"]]]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Logical_Switch_Port",
                        json!([["addresses", "includes", "router"]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Logical_Switch_Port",
                        json!([["up", "==", ["set", []]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Logical_Switch_Port",
                        json!([["tag_request", "<", 5]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Load_Balancer",
                        json!([["vips", "!=", ["map", []]]]),
                        json!(["name", "vips"])
                    ),
                    sel_c(
                        "Logical_Switch",
                        json!([["ports", "includes", ["set", []]]]),
                        json!(["name"])
                    ),
                ]),
            ],
        ),
        (
            "nb_lb_group",
            vec![
                topology(),
                json!([{"op": "select", "table": "Load_Balancer", "where": [], "columns": ["_uuid"]}]),
                json!([
                    ins_n(
                        "Load_Balancer",
                        "l2",
                        json!({"name": "lb2", "vips": ["map", [["10.96.0.2:53", "10.0.0.3:53"]]], "protocol": "udp", "options": ["map", [["affinity_timeout", "60"]]]})
                    ),
                    ins_n(
                        "Load_Balancer_Group",
                        "g",
                        json!({"name": "clusterLBGroup", "load_balancer": named("l2")})
                    ),
                    mutate(
                        "Logical_Switch",
                        json!([]),
                        json!([["load_balancer_group", "insert", named("g")]])
                    )
                ]),
                json!([del("Load_Balancer", json!([["name", "==", "lb2"]]))]),
                json!([
                    sel_c(
                        "Load_Balancer_Group",
                        json!([]),
                        json!(["name", "load_balancer"])
                    ),
                    sel_c("Load_Balancer", json!([]), json!(["name", "protocol"]))
                ]),
                json!([ins(
                    "Load_Balancer",
                    json!({"name": "bad", "protocol": "icmp"})
                )]),
            ],
        ),
    ]
}

#[test]
fn differential_corpus_nb_schema() {
    if !std::path::Path::new(NB_SCHEMA).exists() {
        eprintln!("skipping: {NB_SCHEMA} missing (install ovn-central)");
        return;
    }
    let cases = cases();
    let n_txns: usize = cases.iter().map(|c| c.1.len()).sum();
    eprintln!("NB corpus: {} cases, {} transactions", cases.len(), n_txns);
    run_cases(NB_SCHEMA, &cases);
}
