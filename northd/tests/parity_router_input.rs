//! Parity with real ovn-northd 23.03 for the router input stages (admission, neighbor
//! lookup/learning, IP input, ND RA, egress loop, delivery), multicast relay and static MAC
//! bindings (harness in `common`).

mod common;

use common::{assert_full, scenario, scenario_on};

/// The commands connecting switch `ls` to router port `lrp` through switch port `lsp`.
fn attach(ls: &str, lsp: &str, lrp: &str) -> Vec<Vec<String>> {
    vec![
        vec!["lsp-add".into(), ls.into(), lsp.into()],
        vec!["lsp-set-type".into(), lsp.into(), "router".into()],
        vec!["lsp-set-addresses".into(), lsp.into(), "router".into()],
        vec![
            "lsp-set-options".into(),
            lsp.into(),
            format!("router-port={lrp}"),
        ],
    ]
}

/// Runs `cmds` (owned strings) as a scenario.
fn run(name: &str, chassis: bool, cmds: &[Vec<String>]) -> Option<common::Outcome> {
    let refs: Vec<Vec<&str>> = cmds
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let slices: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
    scenario_on(name, chassis, &slices)
}

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// A router with a dual-stack port towards a switch and an IPv4 port with no peer.
#[test]
fn input_basic_router() {
    assert_full(scenario(
        "input-basic-router",
        &[
            &["lr-add", "r1"],
            &[
                "lrp-add",
                "r1",
                "r1-s1",
                "00:00:00:00:01:01",
                "10.0.1.1/24",
                "fd01::1/64",
            ],
            &["lrp-add", "r1", "r1-s2", "00:00:00:00:01:02", "10.0.2.1/24"],
            &["ls-add", "s1"],
            &["lsp-add", "s1", "s1-r1"],
            &["lsp-set-type", "s1-r1", "router"],
            &["lsp-set-addresses", "s1-r1", "router"],
            &["lsp-set-options", "s1-r1", "router-port=r1-s1"],
            &["lsp-add", "s1", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:00:00:11 10.0.1.11"],
        ],
    ));
}

/// Several IPv4/IPv6 networks on one port, a disabled port, a port without networks, and
/// `always_learn_from_arp_request=false`.
#[test]
fn input_networks_disabled_no_learn() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s1",
            "00:00:00:00:01:01",
            "10.0.1.1/24",
            "10.0.3.1/24",
            "fd01::1/64",
            "fd03::1/64",
        ]),
        cmd(&["lrp-add", "r1", "r1-s2", "00:00:00:00:01:02", "10.0.2.1/24"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-dis",
            "00:00:00:00:01:03",
            "10.0.4.1/24",
            "fd04::1/64",
        ]),
        cmd(&["lrp-set-enabled", "r1-dis", "disabled"]),
        cmd(&[
            "--",
            "--id=@p",
            "create",
            "Logical_Router_Port",
            "name=r1-none",
            "mac=\"00:00:00:00:01:04\"",
            "--",
            "add",
            "Logical_Router",
            "r1",
            "ports",
            "@p",
        ]),
        cmd(&[
            "set",
            "Logical_Router",
            "r1",
            "options:always_learn_from_arp_request=false",
        ]),
        cmd(&["ls-add", "s1"]),
    ];
    c.extend(attach("s1", "s1-r1", "r1-s1"));
    assert_full(run("input-networks-disabled", false, &c));
}

/// A gateway router with a router-to-router peer, `dynamic_neigh_routers`, and a plain router
/// on the other side.
#[test]
fn input_gateway_router_peer() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&[
            "set",
            "Logical_Router",
            "r1",
            "options:chassis=ch1",
            "options:dynamic_neigh_routers=true",
        ]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-r2",
            "00:00:00:00:01:01",
            "10.0.1.1/24",
            "fd01::1/64",
            "peer=r2-r1",
        ]),
        cmd(&["lr-add", "r2"]),
        cmd(&[
            "lrp-add",
            "r2",
            "r2-r1",
            "00:00:00:00:02:01",
            "10.0.1.2/24",
            "fd01::2/64",
            "peer=r1-r2",
        ]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s1",
            "00:00:00:00:01:02",
            "10.0.2.1/24",
            "fd02::1/64",
        ]),
        cmd(&["ls-add", "s1"]),
    ];
    c.extend(attach("s1", "s1-r1", "r1-s1"));
    assert_full(run("input-gateway-router-peer", true, &c));
}

/// IPv6 router advertisements: every `ipv6_ra_configs` key, periodic RAs (Port_Binding
/// options), prefix delegation, a router-peer port and a port without peer (no RA flows), an
/// invalid address mode.
#[test]
fn input_nd_ra() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-r2",
            "00:00:00:00:01:01",
            "10.0.1.1/24",
            "fd01::1/64",
            "peer=r2-r1",
        ]),
        cmd(&["lr-add", "r2"]),
        cmd(&[
            "lrp-add",
            "r2",
            "r2-r1",
            "00:00:00:00:02:01",
            "10.0.1.2/24",
            "fd01::2/64",
            "peer=r1-r2",
        ]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s1",
            "00:00:00:00:01:02",
            "10.0.2.1/24",
            "fd02::1/64",
            "fd12::1/48",
        ]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-s1",
            "ipv6_ra_configs:address_mode=dhcpv6_stateful",
            "ipv6_ra_configs:send_periodic=true",
            "ipv6_ra_configs:mtu=1500",
            "ipv6_ra_configs:rdnss=fd02::53",
            "ipv6_ra_configs:dnssl=example.com",
            "ipv6_ra_configs:route_info=HIGH-fd99::/64",
            "ipv6_ra_configs:router_preference=HIGH",
            "ipv6_ra_configs:max_interval=100",
            "ipv6_ra_configs:min_interval=50",
            "options:prefix_delegation=true",
        ]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s3",
            "00:00:00:00:01:03",
            "10.0.3.1/24",
            "fd03::1/64",
        ]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-s3",
            "ipv6_ra_configs:address_mode=dhcpv6_stateless",
            "ipv6_ra_configs:send_periodic=true",
            "ipv6_ra_configs:mtu=1000",
            "ipv6_ra_configs:router_preference=foo",
            "ipv6_ra_configs:max_interval=2000",
            "ipv6_ra_configs:min_interval=1",
            "options:prefix=true",
        ]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s4",
            "00:00:00:00:01:04",
            "10.0.4.1/24",
            "fd04::1/64",
        ]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-s4",
            "ipv6_ra_configs:address_mode=bogus",
        ]),
        cmd(&["lrp-add", "r1", "r1-s5", "00:00:00:00:01:05", "10.0.5.1/24"]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-s5",
            "ipv6_ra_configs:address_mode=slaac",
            "ipv6_ra_configs:send_periodic=true",
            "ipv6_ra_configs:max_interval=5",
        ]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-r2",
            "ipv6_ra_configs:address_mode=slaac",
        ]),
        cmd(&["lrp-add", "r1", "r1-x", "00:00:00:00:01:06", "fd06::1/64"]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-x",
            "ipv6_ra_configs:address_mode=slaac",
        ]),
    ];
    for (ls, lsp, lrp) in [
        ("s1", "s1-r1", "r1-s1"),
        ("s3", "s3-r1", "r1-s3"),
        ("s4", "s4-r1", "r1-s4"),
        ("s5", "s5-r1", "r1-s5"),
    ] {
        c.push(cmd(&["ls-add", ls]));
        c.extend(attach(ls, lsp, lrp));
    }
    assert_full(run("input-nd-ra", false, &c));
}

/// Multicast relay between a snooping switch and a plain one, with a router port and a switch
/// port flooding multicast statically.
#[test]
fn input_mcast_relay() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&["set", "Logical_Router", "r1", "options:mcast_relay=true"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s1",
            "00:00:00:00:01:01",
            "10.0.1.1/24",
            "fd01::1/64",
        ]),
        cmd(&["lrp-add", "r1", "r1-s2", "00:00:00:00:01:02", "10.0.2.1/24"]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-s2",
            "options:mcast_flood=true",
        ]),
        cmd(&["ls-add", "s1"]),
        cmd(&[
            "set",
            "Logical_Switch",
            "s1",
            "other_config:mcast_snoop=true",
        ]),
        cmd(&["lsp-add", "s1", "p1"]),
        cmd(&["lsp-set-addresses", "p1", "00:00:00:00:00:11 10.0.1.11"]),
        cmd(&["lsp-set-options", "p1", "mcast_flood=true"]),
        cmd(&["ls-add", "s2"]),
        cmd(&[
            "set",
            "Logical_Switch",
            "s2",
            "other_config:mcast_snoop=true",
        ]),
    ];
    c.extend(attach("s1", "s1-r1", "r1-s1"));
    c.extend(attach("s2", "s2-r1", "r1-s2"));
    assert_full(run("input-mcast-relay", false, &c));
}

/// Multicast relay without static flooding, and static flooding without relay on another
/// router.
#[test]
fn input_mcast_relay_plain() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&["set", "Logical_Router", "r1", "options:mcast_relay=true"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s1",
            "00:00:00:00:01:01",
            "10.0.1.1/24",
            "fd01::1/64",
        ]),
        cmd(&["lrp-add", "r1", "r1-s2", "00:00:00:00:01:02", "10.0.2.1/24"]),
        cmd(&["ls-add", "s1"]),
        cmd(&[
            "set",
            "Logical_Switch",
            "s1",
            "other_config:mcast_snoop=true",
        ]),
        cmd(&["ls-add", "s2"]),
        cmd(&["lr-add", "r2"]),
        cmd(&["lrp-add", "r2", "r2-s3", "00:00:00:00:02:01", "10.0.3.1/24"]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r2-s3",
            "options:mcast_flood=true",
        ]),
        cmd(&["ls-add", "s3"]),
    ];
    c.extend(attach("s1", "s1-r1", "r1-s1"));
    c.extend(attach("s2", "s2-r1", "r1-s2"));
    c.extend(attach("s3", "s3-r2", "r2-s3"));
    assert_full(run("input-mcast-relay-plain", false, &c));
}

/// NB `Static_MAC_Binding` rows become SB rows (no flows); rows naming no router port are
/// ignored.
#[test]
fn input_static_mac_binding() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s1",
            "00:00:00:00:01:01",
            "10.0.1.1/24",
            "fd01::1/64",
        ]),
        cmd(&["lrp-add", "r1", "r1-s2", "00:00:00:00:01:02", "10.0.2.1/24"]),
        cmd(&["ls-add", "s1"]),
        cmd(&["lsp-add", "s1", "p1"]),
        cmd(&[
            "static-mac-binding-add",
            "r1-s1",
            "10.0.1.50",
            "00:00:00:00:50:50",
        ]),
        cmd(&[
            "static-mac-binding-add",
            "r1-s1",
            "fd01::50",
            "00:00:00:00:50:51",
        ]),
        cmd(&[
            "create",
            "Static_MAC_Binding",
            "logical_port=r1-s2",
            "ip=10.0.2.9",
            "mac=\"00:00:00:00:50:52\"",
            "override_dynamic_mac=true",
        ]),
        cmd(&[
            "create",
            "Static_MAC_Binding",
            "logical_port=nosuch",
            "ip=10.0.2.9",
            "mac=\"00:00:00:00:50:53\"",
        ]),
        cmd(&[
            "create",
            "Static_MAC_Binding",
            "logical_port=p1",
            "ip=10.0.1.9",
            "mac=\"00:00:00:00:50:54\"",
        ]),
    ];
    c.extend(attach("s1", "s1-r1", "r1-s1"));
    assert_full(run("input-static-mac-binding", false, &c));
}

/// Router IPs that are SNAT addresses or load balancer VIPs are not dropped in
/// `lr_in_ip_input`; `lb_force_snat_ip=router_ip` on a gateway router drops none.
#[test]
fn input_own_ip_drops() {
    let c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s1",
            "00:00:00:00:01:01",
            "10.0.1.1/24",
            "fd01::1/64",
        ]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s2",
            "00:00:00:00:01:02",
            "10.0.2.1/24",
            "10.0.3.1/24",
        ]),
        cmd(&["lr-nat-add", "r1", "snat", "10.0.1.1", "192.168.0.0/24"]),
        cmd(&[
            "lr-nat-add",
            "r1",
            "dnat_and_snat",
            "10.0.3.1",
            "192.168.0.5",
        ]),
        cmd(&["lr-nat-add", "r1", "snat", "fd01::1", "fd99::/64"]),
        cmd(&["lb-add", "lb1", "10.0.2.1:80", "192.168.0.9:80"]),
        cmd(&["lr-lb-add", "r1", "lb1"]),
        cmd(&["lr-add", "r2"]),
        cmd(&[
            "set",
            "Logical_Router",
            "r2",
            "options:chassis=ch1",
            "options:lb_force_snat_ip=router_ip",
        ]),
        cmd(&[
            "lrp-add",
            "r2",
            "r2-s3",
            "00:00:00:00:02:01",
            "10.0.4.1/24",
            "fd04::1/64",
        ]),
        cmd(&["lr-add", "r3"]),
        cmd(&[
            "set",
            "Logical_Router",
            "r3",
            "options:chassis=ch1",
            "options:lb_force_snat_ip=10.0.5.1",
            "options:dnat_force_snat_ip=10.0.6.1",
        ]),
        cmd(&[
            "lrp-add",
            "r3",
            "r3-s5",
            "00:00:00:00:03:01",
            "10.0.5.1/24",
            "10.0.6.1/24",
        ]),
    ];
    assert_full(run("input-own-ip-drops", true, &c));
}

/// A distributed gateway port on a switch with a localnet port, and a
/// `reside-on-redirect-chassis` port on another localnet switch.
#[test]
fn input_dgp() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&[
            "set",
            "Logical_Router",
            "r1",
            "options:always_learn_from_arp_request=false",
        ]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-pub",
            "00:00:00:00:01:01",
            "172.16.0.1/24",
            "fd10::1/64",
        ]),
        cmd(&["lrp-set-gateway-chassis", "r1-pub", "ch1", "10"]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-pub",
            "ipv6_ra_configs:address_mode=slaac",
            "options:prefix_delegation=true",
        ]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s1",
            "00:00:00:00:01:02",
            "10.0.1.1/24",
            "fd01::1/64",
        ]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-s1",
            "options:reside-on-redirect-chassis=true",
        ]),
        cmd(&["ls-add", "pub"]),
        cmd(&["lsp-add", "pub", "ln"]),
        cmd(&["lsp-set-type", "ln", "localnet"]),
        cmd(&["lsp-set-addresses", "ln", "unknown"]),
        cmd(&["lsp-set-options", "ln", "network_name=phys"]),
        cmd(&["ls-add", "s1"]),
        cmd(&["lsp-add", "s1", "ln1"]),
        cmd(&["lsp-set-type", "ln1", "localnet"]),
        cmd(&["lsp-set-addresses", "ln1", "unknown"]),
        cmd(&["lsp-set-options", "ln1", "network_name=phys"]),
    ];
    c.extend(attach("pub", "pub-r1", "r1-pub"));
    c.extend(attach("s1", "s1-r1", "r1-s1"));
    assert_full(run("input-dgp", true, &c));
}

/// `options:gateway_mtu` on a router port: the admission flows check the packet length.
#[test]
fn input_gateway_mtu() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&["set", "Logical_Router", "r1", "options:chassis=ch1"]),
        cmd(&["lrp-add", "r1", "r1-s1", "00:00:00:00:01:01", "10.0.1.1/24"]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-s1",
            "options:gateway_mtu=1400",
        ]),
        cmd(&["ls-add", "s1"]),
    ];
    c.extend(attach("s1", "s1-r1", "r1-s1"));
    assert_full(run("input-gateway-mtu", true, &c));
}

/// Found by `parity_random`: `gateway_mtu` on a port whose switch has a localnet port with a
/// `tag_request` checks the length with a VLAN header (MTU + 18).
#[test]
fn input_gateway_mtu_vlan() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-pub",
            "00:00:00:00:01:01",
            "172.16.1.1/24",
        ]),
        cmd(&["lrp-set-gateway-chassis", "r1-pub", "ch1", "20"]),
        cmd(&["lrp-set-options", "r1-pub", "gateway_mtu=1400"]),
        cmd(&["lrp-add", "r1", "r1-s1", "00:00:00:00:01:02", "10.0.1.1/24"]),
        cmd(&["lrp-set-options", "r1-s1", "gateway_mtu=1300"]),
        cmd(&["ls-add", "pub"]),
        cmd(&["lsp-add", "pub", "ln"]),
        cmd(&["lsp-set-type", "ln", "localnet"]),
        cmd(&["lsp-set-addresses", "ln", "unknown"]),
        cmd(&["lsp-set-options", "ln", "network_name=phys"]),
        cmd(&["set", "logical_switch_port", "ln", "tag_request=100"]),
        cmd(&["ls-add", "s1"]),
        cmd(&["lsp-add", "s1", "ln1"]),
        cmd(&["lsp-set-type", "ln1", "localnet"]),
        cmd(&["lsp-set-addresses", "ln1", "unknown"]),
        cmd(&["lsp-set-options", "ln1", "network_name=phys"]),
        cmd(&["set", "logical_switch_port", "ln1", "tag=200"]),
    ];
    c.extend(attach("pub", "pub-r1", "r1-pub"));
    c.extend(attach("s1", "s1-r1", "r1-s1"));
    assert_full(run("input-gateway-mtu-vlan", true, &c));
}

/// BFD sessions on a port, a configured link-local address next to the derived one, a /32
/// network, and multicast relay with a disabled port flooding statically.
#[test]
fn input_bfd_link_local() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s1",
            "00:00:00:00:01:01",
            "10.0.1.1/24",
            "fd01::1/64",
        ]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s2",
            "00:00:00:00:01:02",
            "10.0.2.1/32",
            "fe80::1/64",
            "fd02::1/64",
        ]),
        cmd(&["lrp-add", "r1", "r1-s3", "00:00:00:00:01:03", "10.0.3.1/24"]),
        cmd(&["lrp-set-enabled", "r1-s3", "disabled"]),
        // The derived link-local address configured: ovn-northd lists it twice.
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s4",
            "00:00:00:00:01:04",
            "fe80::200:ff:fe00:104/64",
        ]),
        cmd(&["set", "Logical_Router", "r1", "options:mcast_relay=true"]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-s3",
            "options:mcast_flood=true",
        ]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-s1",
            "options:mcast_flood=true",
        ]),
        cmd(&["create", "BFD", "logical_port=r1-s1", "dst_ip=10.0.1.2"]),
        cmd(&["ls-add", "s1"]),
    ];
    c.extend(attach("s1", "s1-r1", "r1-s1"));
    assert_full(run("input-bfd-link-local", false, &c));
}

/// Two distributed gateway ports: a `reside-on-redirect-chassis` port gets no residence check;
/// `lb_force_snat_ip=router_ip` only matters on gateway routers.
#[test]
fn input_two_dgps() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-pub",
            "00:00:00:00:01:01",
            "172.16.0.1/24",
        ]),
        cmd(&["lrp-set-gateway-chassis", "r1-pub", "ch1", "10"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-pub2",
            "00:00:00:00:01:03",
            "172.17.0.1/24",
        ]),
        cmd(&["lrp-set-gateway-chassis", "r1-pub2", "ch1", "10"]),
        cmd(&["lrp-add", "r1", "r1-s1", "00:00:00:00:01:02", "10.0.1.1/24"]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-s1",
            "options:reside-on-redirect-chassis=true",
        ]),
        cmd(&[
            "set",
            "Logical_Router",
            "r1",
            "options:lb_force_snat_ip=router_ip",
        ]),
        cmd(&["ls-add", "s1"]),
        cmd(&["lsp-add", "s1", "ln1"]),
        cmd(&["lsp-set-type", "ln1", "localnet"]),
        cmd(&["lsp-set-addresses", "ln1", "unknown"]),
        cmd(&["lsp-set-options", "ln1", "network_name=phys"]),
    ];
    c.extend(attach("s1", "s1-r1", "r1-s1"));
    for (ls, lsp, lrp) in [("pub", "pub-r1", "r1-pub"), ("pub2", "pub2-r1", "r1-pub2")] {
        c.push(cmd(&["ls-add", ls]));
        c.extend(attach(ls, lsp, lrp));
    }
    assert_full(run("input-two-dgps", true, &c));
}

/// A disabled port keeps its RA and neighbor flows but loses prefix delegation and static
/// multicast flooding; boolean options are read case-insensitively; a router without ports.
#[test]
fn input_disabled_port_options() {
    let mut c = vec![
        cmd(&["lr-add", "r1"]),
        cmd(&[
            "lrp-add",
            "r1",
            "r1-s1",
            "00:00:00:00:01:01",
            "10.0.1.1/24",
            "fd01::1/64",
        ]),
        cmd(&[
            "set",
            "Logical_Router",
            "r1",
            "options:always_learn_from_arp_request=FALSE",
            "options:mcast_relay=TRUE",
        ]),
        cmd(&[
            "set",
            "Logical_Router_Port",
            "r1-s1",
            "ipv6_ra_configs:address_mode=slaac",
            "ipv6_ra_configs:send_periodic=TRUE",
            "options:prefix_delegation=TRUE",
            "options:mcast_flood=TRUE",
        ]),
        cmd(&["lrp-set-enabled", "r1-s1", "disabled"]),
        cmd(&["ls-add", "s1"]),
        cmd(&[
            "set",
            "Logical_Switch",
            "s1",
            "other_config:mcast_snoop=true",
        ]),
    ];
    c.extend(attach("s1", "s1-r1", "r1-s1"));
    // A router without ports.
    c.push(cmd(&["lr-add", "r0"]));
    assert_full(run("input-disabled-port-options", false, &c));
}
