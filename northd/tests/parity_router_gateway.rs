//! Parity with real ovn-northd 23.03 on gateways: distributed gateway ports (gateway chassis,
//! HA chassis groups, localnet, `reside-on-redirect-chassis`, `redirect-type=bridged`) and
//! gateway routers (harness in `common`).

mod common;

use common::{assert_full, scenario_on};

/// Router `r1` with an internal port towards `s1` (one VM) and a port towards `pub` (one VM).
fn two_switches() -> Vec<&'static [&'static str]> {
    vec![
        &["lr-add", "r1"],
        &["lrp-add", "r1", "r1-s1", "00:00:00:00:01:01", "10.0.1.1/24"],
        &[
            "lrp-add",
            "r1",
            "r1-pub",
            "00:00:00:00:02:01",
            "172.16.0.1/24",
            "fd00::1/64",
        ],
        &["ls-add", "s1"],
        &["lsp-add", "s1", "s1-r1"],
        &["lsp-set-type", "s1-r1", "router"],
        &["lsp-set-addresses", "s1-r1", "router"],
        &["lsp-set-options", "s1-r1", "router-port=r1-s1"],
        &["lsp-add", "s1", "p1"],
        &["lsp-set-addresses", "p1", "00:00:00:00:00:11 10.0.1.11"],
        &["ls-add", "pub"],
        &["lsp-add", "pub", "pub-r1"],
        &["lsp-set-type", "pub-r1", "router"],
        &["lsp-set-addresses", "pub-r1", "router"],
        &["lsp-set-options", "pub-r1", "router-port=r1-pub"],
        &["lsp-add", "pub", "p2"],
        &["lsp-set-addresses", "p2", "00:00:00:00:00:22 172.16.0.22"],
    ]
}

fn with(
    base: Vec<&'static [&'static str]>,
    more: &[&'static [&'static str]],
) -> Vec<&'static [&'static str]> {
    let mut v = base;
    v.extend_from_slice(more);
    v
}

const LOCALNET_PUB: &[&[&str]] = &[
    &["lsp-add", "pub", "ln-pub"],
    &["lsp-set-type", "ln-pub", "localnet"],
    &["lsp-set-addresses", "ln-pub", "unknown"],
    &["lsp-set-options", "ln-pub", "network_name=physnet"],
];

/// A distributed gateway port with one gateway chassis that does not exist.
#[test]
fn dgp_one_chassis() {
    let cmds = with(
        two_switches(),
        &[&["lrp-set-gateway-chassis", "r1-pub", "chA", "10"]],
    );
    assert_full(scenario_on("dgp-one-chassis", false, &cmds));
}

/// A distributed gateway port with three gateway chassis, one of them registered.
#[test]
fn dgp_three_chassis() {
    let cmds = with(
        two_switches(),
        &[
            &["lrp-set-gateway-chassis", "r1-pub", "ch1", "20"],
            &["lrp-set-gateway-chassis", "r1-pub", "chB", "10"],
            &["lrp-set-gateway-chassis", "r1-pub", "chC", "5"],
        ],
    );
    assert_full(scenario_on("dgp-three-chassis", true, &cmds));
}

/// A distributed gateway port with an HA chassis group (which wins over gateway_chassis).
#[test]
fn dgp_ha_chassis_group() {
    let cmds = with(
        two_switches(),
        &[
            &["ha-chassis-group-add", "hg1"],
            &["ha-chassis-group-add-chassis", "hg1", "ch1", "30"],
            &["ha-chassis-group-add-chassis", "hg1", "chB", "20"],
            &["ha-chassis-group-add", "hg-unused"],
            &["ha-chassis-group-add-chassis", "hg-unused", "chZ", "1"],
            &[
                "set",
                "logical_router_port",
                "r1-pub",
                "ha_chassis_group==HA_Chassis_Group/hg1",
            ],
        ],
    );
    assert_full(scenario_on("dgp-ha-chassis-group", true, &cmds));
}

/// A distributed gateway port on a switch with a localnet port.
#[test]
fn dgp_localnet() {
    let cmds = with(
        with(two_switches(), LOCALNET_PUB),
        &[&["lrp-set-gateway-chassis", "r1-pub", "chA", "10"]],
    );
    assert_full(scenario_on("dgp-localnet", false, &cmds));
}

/// `reside-on-redirect-chassis` on the internal port of a router with a distributed gateway
/// port, both switches with localnet ports, and `redirect-type=bridged`.
#[test]
fn dgp_reside_on_redirect_chassis_bridged() {
    let cmds = with(
        with(two_switches(), LOCALNET_PUB),
        &[
            &["lrp-set-gateway-chassis", "r1-pub", "chA", "10"],
            &["lsp-add", "s1", "ln-s1"],
            &["lsp-set-type", "ln-s1", "localnet"],
            &["lsp-set-addresses", "ln-s1", "unknown"],
            &["lsp-set-options", "ln-s1", "network_name=physnet"],
            &[
                "set",
                "logical_router_port",
                "r1-s1",
                "options:reside-on-redirect-chassis=true",
            ],
            &[
                "set",
                "logical_router_port",
                "r1-pub",
                "options:redirect-type=bridged",
            ],
        ],
    );
    assert_full(scenario_on("dgp-reside-bridged", false, &cmds));
}

/// `options:redirect-chassis` alone (legacy) does not make a distributed gateway port.
#[test]
fn legacy_redirect_chassis_ignored() {
    let cmds = with(
        two_switches(),
        &[&[
            "set",
            "logical_router_port",
            "r1-pub",
            "options:redirect-chassis=chA",
        ]],
    );
    assert_full(scenario_on("legacy-redirect-chassis", false, &cmds));
}

/// The OVN-Kubernetes node gateway shape: gateway router `GR_n1` on `ch1` with a port to the
/// `join` switch (shared with `ovn_cluster_router`) and one to the external switch `ext_n1`
/// with a localnet port; the external router port announces its NAT addresses.
#[test]
fn gateway_router_ovnk_shape() {
    let cmds: Vec<&[&str]> = vec![
        &["lr-add", "ovn_cluster_router"],
        &[
            "lrp-add",
            "ovn_cluster_router",
            "rtoj-ovn_cluster_router",
            "0a:58:64:40:00:01",
            "100.64.0.1/16",
        ],
        &["lr-add", "GR_n1"],
        &[
            "set",
            "logical_router",
            "GR_n1",
            "options:chassis=ch1",
            "options:lb_force_snat_ip=router_ip",
        ],
        &[
            "lrp-add",
            "GR_n1",
            "rtoj-GR_n1",
            "0a:58:64:40:00:02",
            "100.64.0.2/16",
        ],
        &[
            "lrp-add",
            "GR_n1",
            "rtoe-GR_n1",
            "02:42:ac:12:00:02",
            "172.18.0.2/16",
        ],
        &["ls-add", "join"],
        &["lsp-add", "join", "jtor-ovn_cluster_router"],
        &["lsp-set-type", "jtor-ovn_cluster_router", "router"],
        &["lsp-set-addresses", "jtor-ovn_cluster_router", "router"],
        &[
            "lsp-set-options",
            "jtor-ovn_cluster_router",
            "router-port=rtoj-ovn_cluster_router",
        ],
        &["lsp-add", "join", "jtor-GR_n1"],
        &["lsp-set-type", "jtor-GR_n1", "router"],
        &["lsp-set-addresses", "jtor-GR_n1", "router"],
        &["lsp-set-options", "jtor-GR_n1", "router-port=rtoj-GR_n1"],
        &["ls-add", "ext_n1"],
        &["lsp-add", "ext_n1", "etor-GR_n1"],
        &["lsp-set-type", "etor-GR_n1", "router"],
        &["lsp-set-addresses", "etor-GR_n1", "02:42:ac:12:00:02"],
        &[
            "lsp-set-options",
            "etor-GR_n1",
            "router-port=rtoe-GR_n1",
            "nat-addresses=router",
            "exclude-lb-vips-from-garp=true",
        ],
        &["lsp-add", "ext_n1", "breth0_n1"],
        &["lsp-set-type", "breth0_n1", "localnet"],
        &["lsp-set-addresses", "breth0_n1", "unknown"],
        &["lsp-set-options", "breth0_n1", "network_name=physnet"],
    ];
    assert_full(scenario_on("gateway-router-ovnk", true, &cmds));
}

/// Two gateway routers on different chassis sharing a join switch, one with an external switch
/// without a localnet port.
#[test]
fn two_gateway_routers() {
    let cmds: Vec<&[&str]> = vec![
        &["lr-add", "GR1"],
        &["set", "logical_router", "GR1", "options:chassis=ch1"],
        &[
            "lrp-add",
            "GR1",
            "gr1-join",
            "00:00:00:00:0a:01",
            "100.64.0.2/16",
        ],
        &[
            "lrp-add",
            "GR1",
            "gr1-ext",
            "00:00:00:00:0a:02",
            "172.18.0.2/16",
            "fd18::2/64",
        ],
        &["lr-add", "GR2"],
        &["set", "logical_router", "GR2", "options:chassis=chB"],
        &[
            "lrp-add",
            "GR2",
            "gr2-join",
            "00:00:00:00:0b:01",
            "100.64.0.3/16",
        ],
        &["ls-add", "join"],
        &["lsp-add", "join", "join-gr1"],
        &["lsp-set-type", "join-gr1", "router"],
        &["lsp-set-addresses", "join-gr1", "router"],
        &["lsp-set-options", "join-gr1", "router-port=gr1-join"],
        &["lsp-add", "join", "join-gr2"],
        &["lsp-set-type", "join-gr2", "router"],
        &["lsp-set-addresses", "join-gr2", "router"],
        &["lsp-set-options", "join-gr2", "router-port=gr2-join"],
        &["ls-add", "ext1"],
        &["lsp-add", "ext1", "ext1-gr1"],
        &["lsp-set-type", "ext1-gr1", "router"],
        &["lsp-set-addresses", "ext1-gr1", "router"],
        &["lsp-set-options", "ext1-gr1", "router-port=gr1-ext"],
        &["lsp-add", "ext1", "vm1"],
        &["lsp-set-addresses", "vm1", "00:00:00:00:00:31 172.18.0.31"],
    ];
    assert_full(scenario_on("two-gateway-routers", true, &cmds));
}

mod sb_diff {
    //! The gateway rows through the SB diff: `HA_Chassis_Group`/`HA_Chassis` rows and the
    //! `chassisredirect` binding referring to them are written, a recompile writes nothing, and
    //! a priority change updates the `HA_Chassis` row in place.

    use northd::diff::{diff, SbRows};
    use northd::{build, NbSnapshot};
    use ovsdb::{Database, TxnContext, TxnOutcome};
    use serde_json::{json, Value};

    fn transact(db: &mut Database, name: &str, ops: Vec<Value>) {
        let mut params = vec![json!(name)];
        params.extend(ops);
        match db.transact(&Value::Array(params), &TxnContext::default()) {
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

    fn nb_db() -> Database {
        let mut db = Database::new(ovn_nb::model::schema().clone());
        let ops = vec![
            json!({"op": "insert", "table": "NB_Global", "row": {}}),
            json!({"op": "insert", "table": "Gateway_Chassis", "uuid-name": "gc1",
                   "row": {"name": "lrp-pub-chA", "chassis_name": "chA", "priority": 10}}),
            json!({"op": "insert", "table": "Gateway_Chassis", "uuid-name": "gc2",
                   "row": {"name": "lrp-pub-chB", "chassis_name": "chB", "priority": 20}}),
            json!({"op": "insert", "table": "Logical_Router_Port", "uuid-name": "pub",
                   "row": {"name": "lrp-pub", "mac": "00:00:00:00:02:01",
                           "networks": "172.16.0.1/24",
                           "gateway_chassis": ["set", [["named-uuid", "gc1"], ["named-uuid", "gc2"]]]}}),
            json!({"op": "insert", "table": "Logical_Router",
                   "row": {"name": "r1", "ports": ["named-uuid", "pub"]}}),
            json!({"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "lsp",
                   "row": {"name": "pub-r1", "type": "router", "addresses": "router",
                           "options": ["map", [["router-port", "lrp-pub"]]]}}),
            json!({"op": "insert", "table": "Logical_Switch",
                   "row": {"name": "pub", "ports": ["named-uuid", "lsp"]}}),
        ];
        transact(&mut db, "OVN_Northbound", ops);
        db
    }

    #[test]
    fn ha_chassis_groups_apply_and_are_stable() {
        let mut nbdb = nb_db();
        let nb = NbSnapshot::from_database(&nbdb).unwrap();
        let mut sb = Database::new(ovn_sb::model::schema().clone());
        let rows = SbRows::from_database(&sb).unwrap();
        let content = build(&nb, &rows.state());
        assert!(content.warnings.is_empty(), "{:?}", content.warnings);
        transact(&mut sb, "OVN_Southbound", diff(&rows, &content).unwrap());

        let rows = SbRows::from_database(&sb).unwrap();
        assert_eq!(rows.ha_chassis_groups.len(), 1);
        assert_eq!(rows.ha_chassis.len(), 2);
        let group = rows.ha_chassis_groups.values().next().unwrap();
        assert_eq!(group.name, "lrp-pub");
        let cr = rows
            .ports
            .values()
            .find(|p| p.logical_port == "cr-lrp-pub")
            .unwrap();
        assert_eq!(cr.type_, "chassisredirect");
        assert_eq!(cr.ha_chassis_group, Some(group.uuid));
        let peer = rows
            .ports
            .values()
            .find(|p| p.logical_port == "pub-r1")
            .unwrap();
        assert_eq!(
            peer.nat_addresses.iter().collect::<Vec<_>>(),
            ["00:00:00:00:02:01 172.16.0.1 is_chassis_resident(\"cr-lrp-pub\")"]
        );

        let ops = diff(&rows, &build(&nb, &rows.state())).unwrap();
        assert!(ops.is_empty(), "recompile wrote {ops:#?}");

        let gc = nb
            .gateway_chassis
            .values()
            .find(|g| g.chassis_name == "chA")
            .unwrap();
        transact(
            &mut nbdb,
            "OVN_Northbound",
            vec![json!({"op": "update", "table": "Gateway_Chassis",
                        "where": [["_uuid", "==", ["uuid", gc.uuid.to_string()]]],
                        "row": {"priority": 30}})],
        );
        let nb = NbSnapshot::from_database(&nbdb).unwrap();
        let ops = diff(&rows, &build(&nb, &rows.state())).unwrap();
        assert_eq!(ops.len(), 1, "{ops:#?}");
        assert_eq!(ops[0]["table"], "HA_Chassis");
        transact(&mut sb, "OVN_Southbound", ops);
        let rows = SbRows::from_database(&sb).unwrap();
        assert_eq!(rows.ha_chassis.len(), 2);
        assert!(rows.ha_chassis.values().any(|c| c.priority == 30));
    }
}

/// `nat-addresses=router` on the switch ports of a router with a distributed gateway port and
/// NAT rules (one distributed, so no `always-redirect`), and `nat-addresses` written out on
/// another.
#[test]
fn dgp_nat_addresses() {
    let cmds = with(
        two_switches(),
        &[
            &["lrp-set-gateway-chassis", "r1-pub", "chA", "10"],
            &["lr-nat-add", "r1", "snat", "172.16.0.1", "10.0.1.0/24"],
            &[
                "lr-nat-add",
                "r1",
                "dnat_and_snat",
                "172.16.0.50",
                "10.0.1.11",
            ],
            &["lr-nat-add", "r1", "dnat", "172.16.0.70", "10.0.1.13"],
            &[
                "lr-nat-add",
                "r1",
                "dnat_and_snat",
                "172.16.0.60",
                "10.0.1.12",
                "p1",
                "00:00:00:00:05:01",
            ],
            &[
                "lsp-set-options",
                "pub-r1",
                "router-port=r1-pub",
                "nat-addresses=router",
            ],
            &[
                "lsp-set-options",
                "s1-r1",
                "router-port=r1-s1",
                "nat-addresses=00:00:00:00:09:09 10.0.1.99 10.0.1.98",
            ],
        ],
    );
    assert_full(scenario_on("dgp-nat-addresses", false, &cmds));
}

/// A gateway router's external switch port announcing NAT and load balancer addresses
/// (`nat-addresses=router`), the join-side port with `exclude-lb-vips-from-garp`, and a gateway
/// router port peering another router directly.
#[test]
fn gateway_router_nat_addresses() {
    let cmds: Vec<&[&str]> = vec![
        &["lr-add", "GR"],
        &["set", "logical_router", "GR", "options:chassis=ch1"],
        &[
            "lrp-add",
            "GR",
            "rtoj",
            "00:00:00:00:03:01",
            "100.64.0.2/16",
        ],
        &[
            "lrp-add",
            "GR",
            "rtoe",
            "00:00:00:00:04:01",
            "172.20.0.5/24",
        ],
        &[
            "lrp-add",
            "GR",
            "gr-peer",
            "00:00:00:00:05:01",
            "192.168.9.1/30",
            "peer=r2-peer",
        ],
        &["lr-add", "r2"],
        &[
            "lrp-add",
            "r2",
            "r2-peer",
            "00:00:00:00:05:02",
            "192.168.9.2/30",
            "peer=gr-peer",
        ],
        &["ls-add", "join"],
        &["lsp-add", "join", "jtor"],
        &["lsp-set-type", "jtor", "router"],
        &["lsp-set-addresses", "jtor", "router"],
        &[
            "lsp-set-options",
            "jtor",
            "router-port=rtoj",
            "nat-addresses=router",
            "exclude-lb-vips-from-garp=true",
        ],
        &["ls-add", "ext"],
        &["lsp-add", "ext", "etor"],
        &["lsp-set-type", "etor", "router"],
        &["lsp-set-addresses", "etor", "00:00:00:00:04:01"],
        &[
            "lsp-set-options",
            "etor",
            "router-port=rtoe",
            "nat-addresses=router",
        ],
        &["lsp-add", "ext", "ln"],
        &["lsp-set-type", "ln", "localnet"],
        &["lsp-set-addresses", "ln", "unknown"],
        &["lsp-set-options", "ln", "network_name=physnet"],
        &["lr-nat-add", "GR", "snat", "172.20.0.5", "10.128.0.0/14"],
        &[
            "lr-nat-add",
            "GR",
            "dnat_and_snat",
            "172.20.0.100",
            "10.128.0.5",
        ],
        &["lb-add", "lb1", "172.20.0.200:80", "10.128.0.7:8080"],
        &["lr-lb-add", "GR", "lb1"],
    ];
    assert_full(scenario_on("gateway-router-nat-addresses", true, &cmds));
}

/// A router with two distributed gateway ports (one on a localnet switch):
/// `reside-on-redirect-chassis` is ignored then.
#[test]
fn two_dgps() {
    let cmds = with(
        with(two_switches(), LOCALNET_PUB),
        &[
            &[
                "lrp-add",
                "r1",
                "r1-pub2",
                "00:00:00:00:03:01",
                "172.17.0.1/24",
            ],
            &["ls-add", "pub2"],
            &["lsp-add", "pub2", "pub2-r1"],
            &["lsp-set-type", "pub2-r1", "router"],
            &["lsp-set-addresses", "pub2-r1", "router"],
            &["lsp-set-options", "pub2-r1", "router-port=r1-pub2"],
            &["lrp-set-gateway-chassis", "r1-pub", "chA", "10"],
            &["lrp-set-gateway-chassis", "r1-pub2", "chB", "10"],
            &["lsp-add", "s1", "ln-s1"],
            &["lsp-set-type", "ln-s1", "localnet"],
            &["lsp-set-addresses", "ln-s1", "unknown"],
            &["lsp-set-options", "ln-s1", "network_name=physnet"],
            &[
                "set",
                "logical_router_port",
                "r1-s1",
                "options:reside-on-redirect-chassis=true",
            ],
        ],
    );
    assert_full(scenario_on("two-dgps", false, &cmds));
}

/// An `external` switch port served by an HA chassis group (the group is written to SB).
#[test]
fn external_port_ha_group() {
    let cmds = with(
        two_switches(),
        &[
            &["ha-chassis-group-add", "hgx"],
            &["ha-chassis-group-add-chassis", "hgx", "ch1", "3"],
            &["lsp-add", "s1", "ext1"],
            &["lsp-set-type", "ext1", "external"],
            &["lsp-set-addresses", "ext1", "00:00:00:00:00:77 10.0.1.77"],
            &[
                "set",
                "logical_switch_port",
                "ext1",
                "ha_chassis_group==HA_Chassis_Group/hgx",
            ],
        ],
    );
    assert_full(scenario_on("external-port-ha-group", true, &cmds));
}

/// `nat_addresses` order details: repeated NAT external IPs, an IPv6 NAT (not announced), the
/// router's own IP as a NAT and as a VIP, several load balancers (one through a group) with
/// IPv4 and IPv6 VIPs listed in OVS hash order.
#[test]
fn gateway_router_nat_addresses_order() {
    let cmds: Vec<&[&str]> = vec![
        &["lr-add", "GR"],
        &["set", "logical_router", "GR", "options:chassis=ch1"],
        &[
            "lrp-add",
            "GR",
            "rtoe",
            "00:00:00:00:04:01",
            "172.20.0.5/24",
            "fd20::5/64",
        ],
        &["ls-add", "ext"],
        &["lsp-add", "ext", "etor"],
        &["lsp-set-type", "etor", "router"],
        &["lsp-set-addresses", "etor", "router"],
        &[
            "lsp-set-options",
            "etor",
            "router-port=rtoe",
            "nat-addresses=router",
        ],
        &[
            "lr-nat-add",
            "GR",
            "dnat_and_snat",
            "172.20.0.100",
            "10.128.0.5",
        ],
        &["lr-nat-add", "GR", "snat", "172.20.0.100", "10.128.0.0/24"],
        &["lr-nat-add", "GR", "snat", "172.20.0.5", "10.129.0.0/24"],
        &["lr-nat-add", "GR", "dnat_and_snat", "fd20::100", "fd00::5"],
        &["lb-add", "lb1", "172.20.0.200:80", "10.128.0.7:8080"],
        &["lb-add", "lb1", "172.20.0.201:80", "10.128.0.7:8080"],
        &["lb-add", "lb1", "172.20.0.202:80", "10.128.0.7:8080"],
        &["lb-add", "lb2", "172.20.0.150:80", "10.128.0.7:8080"],
        &["lb-add", "lb2", "[fd20::99]:80", "[fd00::7]:8080"],
        &["lb-add", "lb2", "9.9.9.9:80", "10.128.0.7:8080"],
        &["lb-add", "lb3", "172.20.0.5:80", "10.128.0.7:8080"],
        &["lb-add", "lb3", "172.20.0.100:8080", "10.128.0.7:8080"],
        &["lb-add", "lb3", "[fd20::98]:80", "[fd00::7]:8080"],
        &["lr-lb-add", "GR", "lb1"],
        &["lr-lb-add", "GR", "lb2"],
        &["create", "Load_Balancer_Group", "name=lbg"],
        &[
            "add",
            "Load_Balancer_Group",
            "lbg",
            "load_balancer",
            "=Load_Balancer/lb3",
        ],
        &[
            "add",
            "Logical_Router",
            "GR",
            "load_balancer_group",
            "=Load_Balancer_Group/lbg",
        ],
    ];
    assert_full(scenario_on(
        "gateway-router-nat-addresses-order",
        true,
        &cmds,
    ));
}

/// Gateway ports without IPv4 networks (the announced entry is the MAC alone) and
/// `nat-addresses` written out (copied as written, IPv6 first here, or a MAC alone).
#[test]
fn nat_addresses_without_ipv4() {
    let cmds: Vec<&[&str]> = vec![
        &["lr-add", "r1"],
        &["lrp-add", "r1", "r1-pub", "00:00:00:00:02:01", "fd00::1/64"],
        &["lrp-set-gateway-chassis", "r1-pub", "chA", "1"],
        &["ls-add", "pub"],
        &["lsp-add", "pub", "pub-r1"],
        &["lsp-set-type", "pub-r1", "router"],
        &["lsp-set-addresses", "pub-r1", "router"],
        &[
            "lsp-set-options",
            "pub-r1",
            "router-port=r1-pub",
            "nat-addresses=00:00:00:00:09:08",
        ],
        &["lr-add", "GR"],
        &["set", "logical_router", "GR", "options:chassis=ch1"],
        &["lrp-add", "GR", "rtoe", "00:00:00:00:04:01", "fd20::5/64"],
        &["ls-add", "ext"],
        &["lsp-add", "ext", "etor"],
        &["lsp-set-type", "etor", "router"],
        &["lsp-set-addresses", "etor", "router"],
        &[
            "lsp-set-options",
            "etor",
            "router-port=rtoe",
            "nat-addresses=00:00:00:00:09:09 fd20::9 172.20.0.9",
        ],
        &["lsp-add", "ext", "ln"],
        &["lsp-set-type", "ln", "localnet"],
        &["lsp-set-addresses", "ln", "unknown"],
        &["lsp-set-options", "ln", "network_name=physnet"],
    ];
    assert_full(scenario_on("nat-addresses-without-ipv4", true, &cmds));
}

/// `options:requested-chassis` on switch ports: the first chassis, the additional ones, and a
/// chassis that does not exist.
#[test]
fn requested_chassis() {
    let cmds: Vec<&[&str]> = vec![
        &["ls-add", "s1"],
        &["lsp-add", "s1", "vm1"],
        &["lsp-set-addresses", "vm1", "00:00:00:00:00:01 10.0.0.1"],
        &["lsp-set-options", "vm1", "requested-chassis=ch1"],
        &["lsp-add", "s1", "vm2"],
        &["lsp-set-addresses", "vm2", "00:00:00:00:00:02 10.0.0.2"],
        &["lsp-set-options", "vm2", "requested-chassis=chZ,ch1"],
        &["lsp-add", "s1", "vm3"],
        &["lsp-set-options", "vm3", "requested-chassis=chZ"],
    ];
    assert_full(scenario_on("requested-chassis", true, &cmds));
}
