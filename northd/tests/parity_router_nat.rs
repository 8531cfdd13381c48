//! Parity with real ovn-northd 23.03 on router NAT: gateway routers, distributed gateway ports,
//! every NAT type and option (harness in `common`).

mod common;

use common::{assert_full, assert_stages, scenario_on, Outcome};

/// The router stages NAT writes flows to.
const NAT_STAGES: &[&str] = &[
    "lr_in_admission",
    "lr_in_ip_input",
    "lr_in_unsnat",
    "lr_in_dnat",
    "lr_in_arp_resolve",
    "lr_in_gw_redirect",
    "lr_out_chk_dnat_local",
    "lr_out_undnat",
    "lr_out_post_undnat",
    "lr_out_snat",
    "lr_out_post_snat",
    "lr_out_egr_loop",
];

/// Parity of the NAT stages, and of the `ls_in_l2_lkup` flows of router ports this module
/// builds (priorities 80 and 75, and the priority-50 delivery of distributed NAT MACs; the
/// priority-50 delivery of the router port's own MAC belongs to the switch's address lookup).
/// Full parity is demanded unless `NAT_STAGES_ONLY` is set (for work in progress elsewhere).
fn check(out: Option<Outcome>) {
    if std::env::var_os("NAT_STAGES_ONLY").is_none() {
        assert_full(out);
        return;
    }
    let Some(o) = out else { return };
    let l2 = |f: &&common::Flow| {
        f.1 == "ls_in_l2_lkup" && (f.2 != 50 || f.3.contains("is_chassis_resident"))
    };
    let ours: Vec<_> = o.ours_only.iter().filter(l2).collect();
    let real: Vec<_> = o.real_only.iter().filter(l2).collect();
    assert!(
        ours.is_empty() && real.is_empty(),
        "router-port ls_in_l2_lkup flows differ: {ours:?} / {real:?}"
    );
    assert_stages(Some(o), NAT_STAGES);
}

/// A switch `sw` with a `router` port `sw-lrp` peering router port `lrp`.
fn attach(sw: &'static str, lsp: &'static str, lrp: &'static str) -> Vec<Vec<String>> {
    vec![
        vec!["ls-add".into(), sw.into()],
        vec!["lsp-add".into(), sw.into(), lsp.into()],
        vec!["lsp-set-type".into(), lsp.into(), "router".into()],
        vec!["lsp-set-addresses".into(), lsp.into(), "router".into()],
        vec![
            "lsp-set-options".into(),
            lsp.into(),
            format!("router-port={lrp}"),
        ],
    ]
}

fn run(name: &str, chassis: bool, cmds: &[Vec<String>]) -> Option<Outcome> {
    let refs: Vec<Vec<&str>> = cmds
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let refs: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
    scenario_on(name, chassis, &refs)
}

fn cmds(list: &[&[&str]]) -> Vec<Vec<String>> {
    list.iter()
        .map(|c| c.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

/// A gateway router with a dual-stack external port and an internal port.
fn gateway_router() -> Vec<Vec<String>> {
    let mut c = cmds(&[
        &["lr-add", "gr"],
        &["set", "logical_router", "gr", "options:chassis=ch1"],
        &[
            "lrp-add",
            "gr",
            "gr-ext",
            "00:00:00:00:02:01",
            "172.16.0.1/24",
            "2001:db8::1/64",
        ],
        &[
            "lrp-add",
            "gr",
            "gr-int",
            "00:00:00:00:01:01",
            "10.0.0.1/24",
            "fd00::1/64",
        ],
    ]);
    c.extend(attach("ext", "ext-gr", "gr-ext"));
    c.extend(attach("int", "int-gr", "gr-int"));
    c
}

/// A distributed router with gateway port `dr-ext` (on `ch1`) and a VM on the inside.
fn distributed_router() -> Vec<Vec<String>> {
    let mut c = cmds(&[
        &["lr-add", "dr"],
        &[
            "lrp-add",
            "dr",
            "dr-ext",
            "00:00:00:00:02:01",
            "172.16.0.1/24",
            "2001:db8::1/64",
        ],
        &[
            "lrp-add",
            "dr",
            "dr-int",
            "00:00:00:00:01:01",
            "10.0.0.1/24",
            "fd00::1/64",
        ],
        &["lrp-set-gateway-chassis", "dr-ext", "ch1"],
    ]);
    c.extend(attach("ext", "ext-dr", "dr-ext"));
    c.extend(attach("int", "int-dr", "dr-int"));
    c.extend(cmds(&[
        &["lsp-add", "int", "vm1"],
        &[
            "lsp-set-addresses",
            "vm1",
            "00:00:00:00:00:31 10.0.0.31 fd00::31",
        ],
        &["lsp-add", "int", "vm2"],
        &["lsp-set-addresses", "vm2", "00:00:00:00:00:32 10.0.0.32"],
    ]));
    c
}

/// Gateway router: every NAT type, IPv4 and IPv6, and an SNAT to the router's own IP.
#[test]
fn gateway_router_nat_types() {
    let mut c = gateway_router();
    c.extend(cmds(&[
        &["lr-nat-add", "gr", "snat", "172.16.0.10", "10.0.0.0/24"],
        &["lr-nat-add", "gr", "dnat", "172.16.0.20", "10.0.0.20"],
        &[
            "lr-nat-add",
            "gr",
            "dnat_and_snat",
            "172.16.0.30",
            "10.0.0.30",
        ],
        &["lr-nat-add", "gr", "snat", "172.16.0.1", "10.0.1.0/24"],
        &["lr-nat-add", "gr", "snat", "2001:db8::10", "fd00::/64"],
        &[
            "lr-nat-add",
            "gr",
            "dnat_and_snat",
            "2001:db8::30",
            "fd00::30",
        ],
        &["lr-nat-add", "gr", "dnat", "2001:db8::1", "fd00::40"],
        &["lsp-add", "int", "vm1"],
        &["lsp-set-addresses", "vm1", "00:00:00:00:00:31 10.0.0.31"],
        &[
            "lr-nat-add",
            "gr",
            "dnat_and_snat",
            "172.16.0.31",
            "10.0.0.31",
            "vm1",
            "00:00:00:00:03:31",
        ],
    ]));
    check(run("gr-nat-types", false, &c));
}

/// Gateway router: port ranges, stateless rules, allowed/exempted external IPs and forced SNAT.
#[test]
fn gateway_router_nat_options() {
    let mut c = gateway_router();
    c.extend(cmds(&[
        &[
            "create",
            "address_set",
            "name=as1",
            "addresses=\"1.1.1.1\",\"2.2.2.0/24\"",
        ],
        &["create", "address_set", "name=as6", "addresses=\"2001::1\""],
        &[
            "--portrange",
            "lr-nat-add",
            "gr",
            "snat",
            "172.16.0.11",
            "10.0.2.0/24",
            "1000-2000",
        ],
        &[
            "--portrange",
            "lr-nat-add",
            "gr",
            "dnat_and_snat",
            "172.16.0.31",
            "10.0.0.31",
            "3000-4000",
        ],
        &[
            "--stateless",
            "lr-nat-add",
            "gr",
            "dnat_and_snat",
            "172.16.0.32",
            "10.0.0.32",
        ],
        &[
            "--stateless",
            "lr-nat-add",
            "gr",
            "dnat_and_snat",
            "2001:db8::32",
            "fd00::32",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=snat",
            "external_ip=172.16.0.12",
            "logical_ip=\"10.0.3.0/24\"",
            "exempted_ext_ips==Address_Set/as1",
            "--",
            "add",
            "logical_router",
            "gr",
            "nat",
            "@n",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=dnat_and_snat",
            "external_ip=172.16.0.33",
            "logical_ip=10.0.0.33",
            "allowed_ext_ips==Address_Set/as1",
            "--",
            "add",
            "logical_router",
            "gr",
            "nat",
            "@n",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=dnat",
            "external_ip=172.16.0.21",
            "logical_ip=10.0.0.21",
            "exempted_ext_ips==Address_Set/as1",
            "--",
            "add",
            "logical_router",
            "gr",
            "nat",
            "@n",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=dnat_and_snat",
            "external_ip=\"2001:db8::33\"",
            "logical_ip=\"fd00::33\"",
            "allowed_ext_ips==Address_Set/as6",
            "--",
            "add",
            "logical_router",
            "gr",
            "nat",
            "@n",
        ],
        &[
            "set",
            "logical_router",
            "gr",
            "options:dnat_force_snat_ip=\"172.16.0.100 2001:db8::100\"",
            "options:lb_force_snat_ip=172.16.0.101",
            "options:snat-ct-zone=0",
        ],
    ]));
    check(run("gr-nat-options", false, &c));
}

/// Distributed gateway port: every NAT type, a distributed (`logical_port` + `external_mac`)
/// rule in each family, and an SNAT to the gateway port's own IP.
#[test]
fn distributed_gateway_nat_types() {
    let mut c = distributed_router();
    c.extend(cmds(&[
        &["lr-nat-add", "dr", "snat", "172.16.0.10", "10.0.0.0/24"],
        &["lr-nat-add", "dr", "dnat", "172.16.0.20", "10.0.0.20"],
        &[
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "172.16.0.30",
            "10.0.0.30",
        ],
        &[
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "172.16.0.31",
            "10.0.0.31",
            "vm1",
            "00:00:00:00:03:31",
        ],
        &[
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "2001:db8::31",
            "fd00::31",
            "vm1",
            "00:00:00:00:03:32",
        ],
        &["lr-nat-add", "dr", "snat", "172.16.0.1", "10.0.1.0/24"],
        &["lr-nat-add", "dr", "snat", "2001:db8::10", "fd00::/64"],
        &[
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "2001:db8::30",
            "fd00::30",
        ],
    ]));
    check(run("dgp-nat-types", false, &c));
}

/// Distributed gateway port: stateless (central and distributed), port range,
/// allowed/exempted external IPs.
#[test]
fn distributed_gateway_nat_options() {
    let mut c = distributed_router();
    c.extend(cmds(&[
        &[
            "create",
            "address_set",
            "name=as1",
            "addresses=\"1.1.1.1\",\"2.2.2.0/24\"",
        ],
        &[
            "--stateless",
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "172.16.0.32",
            "10.0.0.40",
        ],
        &[
            "--stateless",
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "172.16.0.33",
            "10.0.0.32",
            "vm2",
            "00:00:00:00:03:33",
        ],
        &["lsp-add", "int", "vip1"],
        &["lsp-set-type", "vip1", "virtual"],
        &[
            "lsp-set-options",
            "vip1",
            "virtual-ip=10.0.0.50",
            "virtual-parents=vm1,vm2",
        ],
        &[
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "172.16.0.50",
            "10.0.0.50",
            "vip1",
            "00:00:00:00:03:50",
        ],
        &[
            "--portrange",
            "lr-nat-add",
            "dr",
            "snat",
            "172.16.0.11",
            "10.0.2.0/24",
            "1000-2000",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=snat",
            "external_ip=172.16.0.12",
            "logical_ip=\"10.0.3.0/24\"",
            "exempted_ext_ips==Address_Set/as1",
            "--",
            "add",
            "logical_router",
            "dr",
            "nat",
            "@n",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=dnat_and_snat",
            "external_ip=172.16.0.34",
            "logical_ip=10.0.0.34",
            "exempted_ext_ips==Address_Set/as1",
            "--",
            "add",
            "logical_router",
            "dr",
            "nat",
            "@n",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=dnat",
            "external_ip=172.16.0.21",
            "logical_ip=10.0.0.21",
            "allowed_ext_ips==Address_Set/as1",
            "--",
            "add",
            "logical_router",
            "dr",
            "nat",
            "@n",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=dnat_and_snat",
            "external_ip=172.16.0.35",
            "logical_ip=10.0.0.35",
            "allowed_ext_ips==Address_Set/as1",
            "--",
            "add",
            "logical_router",
            "dr",
            "nat",
            "@n",
        ],
    ]));
    c.extend(cmds(&[
        &["create", "address_set", "name=as6", "addresses=\"2001::1\""],
        &[
            "--portrange",
            "lr-nat-add",
            "dr",
            "dnat",
            "172.16.0.22",
            "10.0.0.22",
            "5000-6000",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=dnat_and_snat",
            "external_ip=172.16.0.23",
            "logical_ip=10.0.0.23",
            "external_port_range=\"7000-8000\"",
            "options:stateless=true",
            "--",
            "add",
            "logical_router",
            "dr",
            "nat",
            "@n",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=dnat_and_snat",
            "external_ip=\"2001:db8::36\"",
            "logical_ip=\"fd00::36\"",
            "exempted_ext_ips==Address_Set/as6",
            "--",
            "add",
            "logical_router",
            "dr",
            "nat",
            "@n",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=snat",
            "external_ip=\"2001:db8::37\"",
            "logical_ip=\"fd00:1::/64\"",
            "allowed_ext_ips==Address_Set/as6",
            "--",
            "add",
            "logical_router",
            "dr",
            "nat",
            "@n",
        ],
    ]));
    check(run("dgp-nat-options", false, &c));
}

/// Two distributed gateway ports (one with an HA chassis group): rules pick their port by
/// `gateway_port` or by the external IP's network.
#[test]
fn multiple_gateway_ports() {
    let mut c = cmds(&[
        &["lr-add", "m"],
        &["lrp-add", "m", "m-e1", "00:00:00:00:08:01", "172.16.8.1/24"],
        &["lrp-add", "m", "m-e2", "00:00:00:00:08:02", "172.16.9.1/24"],
        &["lrp-add", "m", "m-i", "00:00:00:00:08:03", "10.8.0.1/24"],
        &["ls-add", "e1"],
        &["lsp-add", "e1", "e1-m"],
        &["lsp-set-type", "e1-m", "router"],
        &["lsp-set-addresses", "e1-m", "router"],
        &["lsp-set-options", "e1-m", "router-port=m-e1"],
        &["ls-add", "e2"],
        &["lsp-add", "e2", "e2-m"],
        &["lsp-set-type", "e2-m", "router"],
        &["lsp-set-addresses", "e2-m", "router"],
        &["lsp-set-options", "e2-m", "router-port=m-e2"],
        &["lrp-set-gateway-chassis", "m-e1", "ch1"],
        &["ha-chassis-group-add", "hg"],
        &["ha-chassis-group-add-chassis", "hg", "ch1", "10"],
        &[
            "set",
            "logical_router_port",
            "m-e2",
            "ha_chassis_group==HA_Chassis_Group/hg",
        ],
        &["lr-nat-add", "m", "snat", "172.16.8.10", "10.8.0.0/24"],
        &["lr-nat-add", "m", "snat", "172.16.9.10", "10.8.1.0/24"],
        &[
            "--gateway-port=m-e2",
            "lr-nat-add",
            "m",
            "dnat_and_snat",
            "172.16.9.11",
            "10.8.0.11",
        ],
        &[
            "--gateway-port=m-e1",
            "lr-nat-add",
            "m",
            "dnat_and_snat",
            "172.16.8.11",
            "10.8.0.12",
        ],
    ]);
    c.extend(cmds(&[
        &[
            "lsp-set-options",
            "e1-m",
            "router-port=m-e1",
            "nat-addresses=router",
        ],
        &[
            "lsp-set-options",
            "e2-m",
            "router-port=m-e2",
            "nat-addresses=router",
        ],
    ]));
    check(run("dgp-nat-multi", false, &c));
}

/// A router that is neither a gateway router nor has a gateway port: only ARP replies.
#[test]
fn plain_router_nat() {
    let c = cmds(&[
        &["lr-add", "pr"],
        &["lrp-add", "pr", "pr-a", "00:00:00:00:07:01", "10.7.0.1/24"],
        &["lr-nat-add", "pr", "snat", "172.16.7.10", "10.7.0.0/24"],
        &[
            "lr-nat-add",
            "pr",
            "dnat_and_snat",
            "172.16.7.11",
            "10.7.0.11",
        ],
        &[
            "lr-nat-add",
            "pr",
            "dnat_and_snat",
            "2001:db8::11",
            "fd00::11",
        ],
    ]);
    check(run("plain-nat", false, &c));
}

/// Gratuitous ARP addresses: `nat-addresses=router` and an explicit list, on switch ports
/// peering a gateway router and a distributed gateway port (Port_Binding rows must match).
#[test]
fn nat_addresses_bindings() {
    let mut c = distributed_router();
    c.extend(cmds(&[
        &["lr-nat-add", "dr", "snat", "172.16.0.10", "10.0.0.0/24"],
        &["lr-nat-add", "dr", "dnat", "172.16.0.20", "10.0.0.20"],
        &[
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "2001:db8::30",
            "fd00::30",
        ],
        &[
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "172.16.0.31",
            "10.0.0.31",
            "vm1",
            "00:00:00:00:03:31",
        ],
        &[
            "lsp-set-options",
            "ext-dr",
            "router-port=dr-ext",
            "nat-addresses=router",
        ],
        &[
            "lsp-set-options",
            "int-dr",
            "router-port=dr-int",
            "nat-addresses=00:00:00:00:09:09 172.16.0.50",
        ],
        &["lr-add", "gr"],
        &["set", "logical_router", "gr", "options:chassis=ch1"],
        &[
            "lrp-add",
            "gr",
            "gr-ext",
            "00:00:00:00:05:01",
            "172.16.1.1/24",
            "172.16.2.1/24",
        ],
        &["lr-nat-add", "gr", "snat", "172.16.1.10", "10.5.0.0/24"],
        &["lr-nat-add", "gr", "dnat", "172.16.1.20", "10.5.0.20"],
        &["lr-nat-add", "gr", "snat", "172.16.1.1", "10.5.1.0/24"],
    ]));
    c.extend(attach("ext2", "ext2-gr", "gr-ext"));
    c.extend(cmds(&[&[
        "lsp-set-options",
        "ext2-gr",
        "router-port=gr-ext",
        "nat-addresses=router",
    ]]));
    check(run("nat-addresses", false, &c));
}

/// The OVN-Kubernetes gateway router: cluster SNAT to the node IP, EgressIP SNATs (one with
/// `logical_port`), `lb_force_snat_ip=router_ip`, `snat-ct-zone=0`, neighbor options, and the
/// external switch with a localnet port.
#[test]
fn ovn_kubernetes_gateway_router() {
    let mut c = cmds(&[
        &["lr-add", "GR_node1"],
        &[
            "set",
            "logical_router",
            "GR_node1",
            "options:chassis=ch1",
            "options:lb_force_snat_ip=router_ip",
            "options:snat-ct-zone=0",
            "options:always_learn_from_arp_request=false",
            "options:dynamic_neigh_routers=true",
        ],
        &[
            "lrp-add",
            "GR_node1",
            "rtoj-GR_node1",
            "0a:58:64:40:00:02",
            "100.64.0.2/16",
        ],
        &[
            "lrp-add",
            "GR_node1",
            "rtoe-GR_node1",
            "02:42:ac:12:00:02",
            "172.18.0.2/16",
        ],
        &["lr-add", "ovn_cluster_router"],
        &[
            "lrp-add",
            "ovn_cluster_router",
            "rtoj-ovn_cluster_router",
            "0a:58:64:40:00:01",
            "100.64.0.1/16",
        ],
        &[
            "lrp-add",
            "ovn_cluster_router",
            "rtos-node1",
            "0a:58:0a:80:00:01",
            "10.128.0.1/23",
        ],
    ]);
    c.extend(attach("join", "jtor-GR_node1", "rtoj-GR_node1"));
    c.extend(cmds(&[
        &["lsp-add", "join", "jtor-ovn_cluster_router"],
        &["lsp-set-type", "jtor-ovn_cluster_router", "router"],
        &["lsp-set-addresses", "jtor-ovn_cluster_router", "router"],
        &[
            "lsp-set-options",
            "jtor-ovn_cluster_router",
            "router-port=rtoj-ovn_cluster_router",
        ],
    ]));
    c.extend(attach("ext_node1", "etor-GR_node1", "rtoe-GR_node1"));
    c.extend(attach("node1", "stor-node1", "rtos-node1"));
    c.extend(cmds(&[
        &["lsp-set-addresses", "etor-GR_node1", "02:42:ac:12:00:02"],
        &[
            "lsp-set-options",
            "etor-GR_node1",
            "router-port=rtoe-GR_node1",
            "nat-addresses=router",
            "exclude-lb-vips-from-garp=true",
        ],
        &["lsp-add", "ext_node1", "breth0_node1"],
        &["lsp-set-type", "breth0_node1", "localnet"],
        &["lsp-set-addresses", "breth0_node1", "unknown"],
        &["lsp-set-options", "breth0_node1", "network_name=physnet"],
        &["lsp-add", "node1", "ns1_pod1"],
        &[
            "lsp-set-addresses",
            "ns1_pod1",
            "0a:58:0a:80:00:05 10.128.0.5",
        ],
        &[
            "lr-nat-add",
            "GR_node1",
            "snat",
            "172.18.0.2",
            "10.128.0.0/14",
        ],
        &[
            "lr-nat-add",
            "GR_node1",
            "snat",
            "172.18.0.100",
            "10.128.0.5",
        ],
        &[
            "--id=@n",
            "create",
            "nat",
            "type=snat",
            "external_ip=172.18.0.101",
            "logical_ip=10.128.0.6",
            "logical_port=ns1_pod1",
            "--",
            "add",
            "logical_router",
            "GR_node1",
            "nat",
            "@n",
        ],
        &["lr-route-add", "GR_node1", "10.128.0.0/14", "100.64.0.1"],
        &["lr-route-add", "GR_node1", "0.0.0.0/0", "172.18.0.1"],
    ]));
    check(run("ovnk-gr-nat", true, &c));
}

/// The OVN-Kubernetes gateway router with a NodePort service on the node IP (also the SNAT
/// address and the router port's IP) and a ClusterIP service.
#[test]
fn ovn_kubernetes_gateway_router_services() {
    let mut c = cmds(&[
        &["lr-add", "GR_node1"],
        &[
            "set",
            "logical_router",
            "GR_node1",
            "options:chassis=ch1",
            "options:lb_force_snat_ip=router_ip",
            "options:snat-ct-zone=0",
        ],
        &[
            "lrp-add",
            "GR_node1",
            "rtoj-GR_node1",
            "0a:58:64:40:00:02",
            "100.64.0.2/16",
        ],
        &[
            "lrp-add",
            "GR_node1",
            "rtoe-GR_node1",
            "02:42:ac:12:00:02",
            "172.18.0.2/16",
        ],
    ]);
    c.extend(attach("join", "jtor-GR_node1", "rtoj-GR_node1"));
    c.extend(attach("ext_node1", "etor-GR_node1", "rtoe-GR_node1"));
    c.extend(cmds(&[
        &["lsp-add", "ext_node1", "breth0_node1"],
        &["lsp-set-type", "breth0_node1", "localnet"],
        &["lsp-set-addresses", "breth0_node1", "unknown"],
        &["lsp-set-options", "breth0_node1", "network_name=physnet"],
        &[
            "lr-nat-add",
            "GR_node1",
            "snat",
            "172.18.0.2",
            "10.128.0.0/14",
        ],
        &[
            "lb-add",
            "svc-nodeport",
            "172.18.0.2:30080",
            "10.128.0.5:8080",
            "tcp",
        ],
        &[
            "lb-add",
            "svc-cluster",
            "10.96.0.10:53",
            "10.128.0.6:53",
            "udp",
        ],
        &["lr-lb-add", "GR_node1", "svc-nodeport"],
        &["lr-lb-add", "GR_node1", "svc-cluster"],
    ]));
    check(run("ovnk-gr-services", true, &c));
}

/// A small gateway router with one SNAT.
#[test]
fn gateway_router_snat() {
    let mut c = gateway_router();
    c.extend(cmds(&[&[
        "lr-nat-add",
        "gr",
        "snat",
        "172.16.0.10",
        "10.0.0.0/24",
    ]]));
    check(run("gr-snat", false, &c));
}

/// Many distributed NAT rules: their MACs join the router MAC in the switch's ARP flood flow,
/// printed in ovn-northd's hash order (rule UUIDs differ on every run).
#[test]
fn many_distributed_nats() {
    let mut c = distributed_router();
    let mut extra: Vec<Vec<String>> = Vec::new();
    for i in 1..=6 {
        let vm = format!("dvm{i}");
        extra.push(vec!["lsp-add".into(), "int".into(), vm.clone()]);
        extra.push(vec![
            "lsp-set-addresses".into(),
            vm.clone(),
            format!("00:00:00:00:00:4{i} 10.0.0.4{i}"),
        ]);
        extra.push(vec![
            "lr-nat-add".into(),
            "dr".into(),
            "dnat_and_snat".into(),
            format!("172.16.0.4{i}"),
            format!("10.0.0.4{i}"),
            vm,
            format!("00:00:00:00:0{i}:4{i}"),
        ]);
    }
    c.extend(extra);
    check(run("dgp-nat-many", false, &c));
}

/// A router with two distributed gateway ports on one subnet (`w-e0`, `w-e1`) and an inside
/// port, its switches attached.
fn two_gateway_ports() -> Vec<Vec<String>> {
    let mut c = cmds(&[
        &["lr-add", "w"],
        &[
            "lrp-add",
            "w",
            "w-e0",
            "0a:00:00:00:0a:00",
            "172.16.10.1/24",
            "fd10:10::1/64",
        ],
        &[
            "lrp-add",
            "w",
            "w-e1",
            "0a:00:00:00:0a:01",
            "172.16.10.2/24",
            "fd10:10::2/64",
        ],
        &["lrp-add", "w", "w-i", "0a:00:00:00:0a:02", "10.244.0.1/16"],
        &["lrp-set-gateway-chassis", "w-e0", "ch1"],
        &["lrp-set-gateway-chassis", "w-e1", "ch1"],
    ]);
    c.extend(attach("e0", "e0-w", "w-e0"));
    c.extend(attach("e1", "e1-w", "w-e1"));
    c.extend(attach("wi", "wi-w", "w-i"));
    c.extend(cmds(&[
        &["lsp-add", "wi", "pod1"],
        &["lsp-set-addresses", "pod1", "0a:58:0a:f4:00:0a 10.244.0.10"],
    ]));
    c
}

/// Two distributed gateway ports: NAT rules whose external address is a gateway port's own
/// address (answered on every gateway port whose networks contain it), of every type and
/// family; one pinned to a `gateway_port`; `external_mac` on `snat` and `dnat` rules; a
/// distributed rule whose MAC both gateway ports' switches deliver (one switch port disabled).
#[test]
fn gateway_ports_nat_on_port_address() {
    let mut c = two_gateway_ports();
    c.extend(cmds(&[
        &[
            "lr-nat-add",
            "w",
            "dnat_and_snat",
            "172.16.10.1",
            "10.244.0.10",
        ],
        &["lr-nat-add", "w", "snat", "172.16.10.2", "10.244.1.0/24"],
        &["lr-nat-add", "w", "dnat", "fd10:10::1", "fd00::10"],
        &["lr-nat-add", "w", "snat", "fd10:10::2", "fd00::/64"],
        &[
            "--gateway-port=w-e1",
            "lr-nat-add",
            "w",
            "dnat_and_snat",
            "172.16.10.4",
            "10.244.0.11",
        ],
        &[
            "--id=@n",
            "create",
            "NAT",
            "type=snat",
            "external_ip=172.16.10.5",
            "logical_ip=10.244.2.0/24",
            "logical_port=pod1",
            "external_mac=\"0a:58:0a:f4:00:aa\"",
            "--",
            "add",
            "Logical_Router",
            "w",
            "nat",
            "@n",
        ],
        &[
            "--id=@n",
            "create",
            "NAT",
            "type=dnat",
            "external_ip=172.16.10.6",
            "logical_ip=10.244.0.13",
            "logical_port=pod1",
            "external_mac=\"0a:58:0a:f4:00:ab\"",
            "--",
            "add",
            "Logical_Router",
            "w",
            "nat",
            "@n",
        ],
        // Distributed, on `w-e1`: its MAC is delivered on both gateway ports' switches (and
        // dropped on the disabled one).
        &["lsp-set-enabled", "e1-w", "disabled"],
        &["lsp-add", "wi", "pod2"],
        &["lsp-set-addresses", "pod2", "0a:58:0a:f4:00:0e 10.244.0.14"],
        &[
            "--gateway-port=w-e1",
            "lr-nat-add",
            "w",
            "dnat_and_snat",
            "172.16.10.7",
            "10.244.0.14",
            "pod2",
            "0a:58:0a:f4:00:ac",
        ],
        &[
            "lsp-set-options",
            "e0-w",
            "router-port=w-e0",
            "nat-addresses=router",
        ],
        &[
            "lsp-set-options",
            "e1-w",
            "router-port=w-e1",
            "nat-addresses=router",
        ],
    ]));
    check(run("dgp2-nat-port-address", false, &c));
}

/// One distributed gateway port: `external_mac` on rules of each type (with and without a
/// `logical_port`), and several rules sharing an external address (one distributed), in
/// both NB orders (the rules' UUIDs differ on every run).
#[test]
fn distributed_gateway_external_mac_variants() {
    let mut c = distributed_router();
    let nat = |cols: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["--id=@n".into(), "create".into(), "NAT".into()];
        v.extend(cols.iter().map(|c| (*c).to_owned()));
        v.extend(["--", "add", "Logical_Router", "dr", "nat", "@n"].map(str::to_owned));
        v
    };
    c.extend([
        nat(&[
            "type=dnat_and_snat",
            "external_ip=172.16.0.50",
            "logical_ip=10.0.0.50",
            "external_mac=\"00:00:00:00:05:50\"",
        ]),
        nat(&[
            "type=snat",
            "external_ip=172.16.0.51",
            "logical_ip=10.0.5.0/24",
            "logical_port=vm1",
            "external_mac=\"00:00:00:00:05:51\"",
        ]),
        nat(&[
            "type=dnat",
            "external_ip=172.16.0.52",
            "logical_ip=10.0.0.52",
            "logical_port=vm2",
            "external_mac=\"00:00:00:00:05:52\"",
        ]),
        // One external address, three rules: distributed, central, and SNAT.
        nat(&[
            "type=dnat_and_snat",
            "external_ip=172.31.0.9",
            "logical_ip=10.0.0.31",
            "logical_port=vm1",
            "external_mac=\"00:00:00:00:05:53\"",
        ]),
        nat(&[
            "type=dnat_and_snat",
            "external_ip=172.31.0.9",
            "logical_ip=10.0.0.32",
        ]),
        nat(&[
            "type=snat",
            "external_ip=172.31.0.9",
            "logical_ip=10.0.6.0/24",
        ]),
    ]);
    check(run("dgp-nat-external-mac", false, &c));
}

/// Found by `parity_random`: distributed NAT (IPv4 and IPv6) behind a bridged gateway port with
/// `gateway_mtu`: the external MAC's admission checks the length, too big packets to the NAT
/// address get an ICMP error from it, and the host's next hop is resolved where it runs.
#[test]
fn distributed_nat_gateway_mtu_bridged() {
    let mut c = distributed_router();
    c.extend(cmds(&[
        &["lrp-set-options", "dr-ext", "gateway_mtu=1400"],
        &[
            "set",
            "logical_router_port",
            "dr-ext",
            "options:gateway_mtu_bypass=\"tcp\"",
        ],
        &[
            "set",
            "logical_router_port",
            "dr-ext",
            "options:redirect-type=bridged",
        ],
        &[
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "172.16.0.31",
            "10.0.0.31",
            "vm1",
            "00:00:00:00:aa:01",
        ],
        &[
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "2001:db8::31",
            "fd00::31",
            "vm1",
            "00:00:00:00:aa:02",
        ],
        &[
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "172.16.0.32",
            "10.0.0.32",
        ],
    ]));
    check(run("nat-dgp-mtu-bridged", true, &c));
}
