//! Parity with real ovn-northd 23.03 on the routing stages of logical routers: route tables,
//! connected and static routes, ECMP (with symmetric replies), policies, static next-hop
//! resolution, gateway MTU checks and neighbor solicitations (harness in `common`).

mod common;

use common::{assert_full, scenario, scenario_on, Flow, Outcome};

/// The stages this file checks: the routing stages, plus the two stages symmetric ECMP
/// replies add flows to (empty of other features' flows in these scenarios).
const STAGES: &[&str] = &[
    "lr_in_ip_routing",
    "lr_in_policy",
    "lr_in_arp_resolve",
    "lr_in_chk_pkt_len",
    "lr_in_larger_pkts",
    "lr_in_arp_request",
    "lr_in_defrag",
    "lr_in_ecmp_stateful",
];

/// Flows of our stages, and the flows `gateway_mtu` adds to `lr_in_admission` (priority 55)
/// and `lr_in_ip_input` (priority 150).
fn mine(f: &Flow) -> bool {
    STAGES.iter().any(|p| f.1.starts_with(p))
        || (f.1 == "lr_in_admission" && f.2 == 55)
        || (f.1 == "lr_in_ip_input" && f.2 == 150)
}

/// Asserts every flow equals real ovn-northd's, reporting the routing flows first.
fn assert_all(out: Option<Outcome>) {
    if let Some(o) = out {
        let (equal, ours, real) = (o.equal, o.ours_only.clone(), o.real_only.clone());
        assert_routing(Some(o));
        assert_full(Some(Outcome {
            equal,
            ours_only: ours,
            real_only: real,
        }));
    }
}

/// Asserts our routing flows equal real ovn-northd's.
fn assert_routing(out: Option<Outcome>) {
    if let Some(o) = out {
        let ours: Vec<_> = o.ours_only.iter().filter(|f| mine(f)).collect();
        let real: Vec<_> = o.real_only.iter().filter(|f| mine(f)).collect();
        assert!(
            ours.is_empty() && real.is_empty(),
            "routing flows differ: {} ours-only, {} real-only (see stderr)",
            ours.len(),
            real.len()
        );
    }
}

/// The NB of `basic_router` (northd/tests/parity_router.rs): r1 with a dual-stack port to
/// switch s1 and an IPv4 port with no peer.
const BASIC: &[&[&str]] = &[
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
];

fn with(
    base: &[&'static [&'static str]],
    more: &[&'static [&'static str]],
) -> Vec<&'static [&'static str]> {
    base.iter().chain(more).copied().collect()
}

/// The basic router alone: connected routes (IPv4, IPv6, link-local per port).
#[test]
fn routing_basic() {
    assert_all(scenario("routing-basic", BASIC));
}

/// Static routes: default route, output port, prefix with host bits, src-ip, discard, IPv6,
/// a /32 host route and a route learned as connected (`options:origin`).
#[test]
fn routing_static_routes() {
    let nb = with(
        BASIC,
        &[
            &["lr-route-add", "r1", "0.0.0.0/0", "10.0.1.254"],
            &["lr-route-add", "r1", "192.168.0.0/16", "10.0.1.12", "r1-s1"],
            &["lr-route-add", "r1", "172.30.5.9/20", "10.0.2.9"],
            &[
                "--policy=src-ip",
                "lr-route-add",
                "r1",
                "10.0.3.0/24",
                "10.0.2.5",
            ],
            &["lr-route-add", "r1", "10.9.0.0/16", "discard"],
            &["lr-route-add", "r1", "fd02::/64", "fd01::12"],
            &["lr-route-add", "r1", "::/0", "fd01::fe"],
            &["lr-route-add", "r1", "8.8.8.8", "10.0.2.8"],
            // Link-local next hop through a port with no global IPv6, and a link-local prefix.
            &["lr-route-add", "r1", "fd07::/64", "fe80::7", "r1-s2"],
            &["lr-route-add", "r1", "fe80::/64", "fe80::9", "r1-s1"],
            // Next hop on a port's second network.
            &[
                "lrp-add",
                "r1",
                "r1-s3",
                "00:00:00:00:01:03",
                "10.0.5.1/24",
                "10.0.6.1/24",
            ],
            &["lr-route-add", "r1", "10.66.0.0/16", "10.0.6.9"],
            // Configured link-local networks (the EUI-64 address is there too).
            &[
                "lrp-add",
                "r1",
                "r1-s6",
                "00:00:00:00:01:06",
                "10.0.7.1/24",
                "fe80::1/64",
            ],
            &[
                "lrp-add",
                "r1",
                "r1-s7",
                "00:00:00:00:01:07",
                "fd08::1/64",
                "fe80::2/10",
            ],
            &["lr-route-add", "r1", "fd68::/64", "fe80::2:5", "r1-s7"],
            // Next hops on networks two ports share: the first port in row order wins.
            &[
                "lrp-add",
                "r1",
                "r1-s4",
                "00:00:00:00:01:04",
                "10.0.1.129/25",
                "fd01::8001/112",
            ],
            &["lr-route-add", "r1", "10.67.0.0/16", "10.0.1.200"],
            &["lr-route-add", "r1", "fd67::/64", "fd01::8009"],
            // Routes through a directly peered router, both ways.
            &["lr-add", "r3"],
            &[
                "lrp-add",
                "r3",
                "r3-r1",
                "00:00:00:00:03:01",
                "10.0.9.2/30",
                "peer=r1-r3",
            ],
            &[
                "lrp-add",
                "r1",
                "r1-r3",
                "00:00:00:00:01:09",
                "10.0.9.1/30",
                "peer=r3-r1",
            ],
            &["lr-route-add", "r1", "10.33.0.0/16", "10.0.9.2"],
            &["lr-route-add", "r3", "0.0.0.0/0", "10.0.9.1"],
            // Output port given, next hop off every network: the port's first address.
            &["lr-route-add", "r1", "10.50.0.0/16", "192.0.2.1", "r1-s2"],
            &[
                "--",
                "--id=@r",
                "create",
                "Logical_Router_Static_Route",
                "ip_prefix=10.60.0.0/16",
                "nexthop=10.0.2.60",
                "options:origin=connected",
                "--",
                "add",
                "Logical_Router",
                "r1",
                "static_routes",
                "@r",
            ],
        ],
    );
    assert_all(scenario("routing-static-routes", &nb));
}

/// ECMP routes: an IPv4 group of three next hops on two ports, an IPv6 group, and a src-ip
/// group, next to a plain route.
#[test]
fn routing_ecmp() {
    let nb = with(
        BASIC,
        &[
            &["--ecmp", "lr-route-add", "r1", "172.16.0.0/16", "10.0.1.21"],
            &["--ecmp", "lr-route-add", "r1", "172.16.0.0/16", "10.0.2.22"],
            &["--ecmp", "lr-route-add", "r1", "172.16.0.0/16", "10.0.1.23"],
            &["--ecmp", "lr-route-add", "r1", "fd10::/48", "fd01::21"],
            &["--ecmp", "lr-route-add", "r1", "fd10::/48", "fd01::22"],
            &[
                "--ecmp",
                "--policy=src-ip",
                "lr-route-add",
                "r1",
                "10.0.1.0/24",
                "10.0.2.31",
            ],
            &[
                "--ecmp",
                "--policy=src-ip",
                "lr-route-add",
                "r1",
                "10.0.1.0/24",
                "10.0.2.32",
            ],
            &["lr-route-add", "r1", "0.0.0.0/0", "10.0.2.254"],
        ],
    );
    assert_all(scenario("routing-ecmp", &nb));
}

/// A BFD session on a port: routes out of it get a BFD flow; a route monitored by a session
/// that is down is left out.
#[test]
fn routing_bfd() {
    let nb = with(
        BASIC,
        &[
            &["create", "BFD", "logical_port=r1-s2", "dst_ip=10.0.2.123"],
            &["--bfd", "lr-route-add", "r1", "10.123.0.0/16", "10.0.2.123"],
            &[
                "--policy=src-ip",
                "lr-route-add",
                "r1",
                "10.0.3.0/24",
                "10.0.2.5",
            ],
            &["lr-route-add", "r1", "10.124.0.0/16", "10.0.2.124"],
            &["lr-route-add", "r1", "10.125.0.0/16", "10.0.1.125"],
        ],
    );
    assert_all(scenario("routing-bfd", &nb));
}

/// Route tables: two ports bound to tables, routes in each, a table named only by a route,
/// and main-table routes.
#[test]
fn routing_route_tables() {
    let nb = with(
        BASIC,
        &[
            &["lrp-set-options", "r1-s1", "route_table=rtA"],
            &["lrp-set-options", "r1-s2", "route_table=rtB"],
            &[
                "--route-table=rtA",
                "lr-route-add",
                "r1",
                "0.0.0.0/0",
                "10.0.1.254",
            ],
            &[
                "--route-table=rtB",
                "lr-route-add",
                "r1",
                "0.0.0.0/0",
                "10.0.2.254",
            ],
            &[
                "--route-table=rtC",
                "lr-route-add",
                "r1",
                "10.99.0.0/16",
                "10.0.2.5",
            ],
            &[
                "--route-table=rtA",
                "--ecmp",
                "lr-route-add",
                "r1",
                "10.98.0.0/16",
                "10.0.1.5",
            ],
            &[
                "--route-table=rtA",
                "--ecmp",
                "lr-route-add",
                "r1",
                "10.98.0.0/16",
                "10.0.1.6",
            ],
            &["lr-route-add", "r1", "10.97.0.0/16", "10.0.1.7"],
            &[
                "--route-table=rtB",
                "lr-route-add",
                "r1",
                "fd03::/64",
                "fd01::7",
            ],
            &[
                "--route-table=rtB",
                "lr-route-add",
                "r1",
                "10.96.0.0/16",
                "discard",
            ],
            &[
                "--route-table=rtA",
                "--policy=src-ip",
                "lr-route-add",
                "r1",
                "10.0.2.0/24",
                "10.0.1.8",
            ],
        ],
    );
    assert_all(scenario("routing-route-tables", &nb));
}

/// Policies: drop, allow (with and without `pkt_mark`), reroute to one IPv4 / IPv6 next hop,
/// reroute to several (ECMP, with `pkt_mark`), and a reroute through the deprecated `nexthop`
/// column.
#[test]
fn routing_policies() {
    let nb = with(
        BASIC,
        &[
            &["lr-policy-add", "r1", "50", "ip4.dst == 8.8.8.8", "drop"],
            &[
                "lr-policy-add",
                "r1",
                "60",
                "ip6.dst == fd09::/64",
                "reroute",
                "fd01::12",
            ],
            &[
                "lr-policy-add",
                "r1",
                "70",
                "ip4.dst == 9.9.9.9",
                "allow",
                "pkt_mark=7",
            ],
            &[
                "lr-policy-add",
                "r1",
                "71",
                "ip4.dst == 9.9.9.10",
                "reroute",
                "10.0.1.12",
                "pkt_mark=8",
            ],
            &[
                "lr-policy-add",
                "r1",
                "72",
                "ip4.dst == 9.9.9.11",
                "reroute",
                "10.0.1.12,10.0.2.13",
                "pkt_mark=9",
            ],
            &[
                "lr-policy-add",
                "r1",
                "73",
                "ip4.src == 10.0.1.11",
                "reroute",
                "10.0.2.7,10.0.2.8,10.0.1.9",
            ],
            &["lr-policy-add", "r1", "1000", "ip4.dst == 1.1.1.1", "allow"],
            &[
                "lr-policy-add",
                "r1",
                "80",
                "ip6.src == fd01::/64",
                "reroute",
                "fd01::21,fd01::22",
            ],
            &[
                "--",
                "--id=@p",
                "create",
                "Logical_Router_Policy",
                "priority=33",
                "match=\"ip4.dst == 3.3.3.3\"",
                "action=reroute",
                "nexthop=10.0.2.77",
                "--",
                "add",
                "Logical_Router",
                "r1",
                "policies",
                "@p",
            ],
        ],
    );
    assert_all(scenario("routing-policies", &nb));
}

/// Static next-hop resolution on a switch: switch ports with several addresses (some off the
/// router's networks), IPv6 and link-local addresses, `unknown`, MAC-only, disabled, localport
/// and localnet ports, a virtual port, and a second router on the same switch; a router
/// peered directly with r1 (multi-network on one side); a third router on the switch with
/// `dynamic_neigh_routers`.
#[test]
fn routing_arp_resolve() {
    let nb = with(
        BASIC,
        &[
            &[
                "lsp-add",
                "s1",
                "p2",
                "--",
                "lsp-set-addresses",
                "p2",
                "00:00:00:00:00:12 10.0.1.12 fd01::12",
                "00:00:00:00:00:13 10.0.1.13 10.0.2.99 10.0.1.14",
            ],
            &["lsp-add", "s1", "p3"],
            &[
                "lsp-set-addresses",
                "p3",
                "00:00:00:00:00:15 10.0.1.15",
                "unknown",
            ],
            &["lsp-add", "s1", "p4"],
            &[
                "lsp-set-addresses",
                "p4",
                "00:00:00:00:00:16 fd01::16 fe80::16",
            ],
            &["lsp-add", "s1", "p5"],
            &["lsp-set-addresses", "p5", "00:00:00:00:00:17"],
            &["lsp-add", "s1", "p6"],
            &["lsp-set-addresses", "p6", "00:00:00:00:00:18 10.0.1.18"],
            &["lsp-set-enabled", "p6", "disabled"],
            &["lsp-add", "s1", "lp"],
            &["lsp-set-type", "lp", "localport"],
            &["lsp-set-addresses", "lp", "00:00:00:00:00:19 10.0.1.19"],
            &["lsp-add", "s1", "ln"],
            &["lsp-set-type", "ln", "localnet"],
            &["lsp-set-addresses", "ln", "unknown"],
            &["lsp-set-options", "ln", "network_name=phys"],
            &[
                "set",
                "Logical_Switch",
                "s1",
                "other_config:subnet=10.0.1.0/24",
                "other_config:exclude_ips=10.0.1.2",
            ],
            &["lsp-add", "s1", "dyn"],
            &["lsp-set-addresses", "dyn", "dynamic"],
            &["lsp-add", "s1", "vp"],
            &["lsp-set-type", "vp", "virtual"],
            &[
                "lsp-set-options",
                "vp",
                "virtual-ip=10.0.8.50",
                "virtual-parents=p1,p2",
            ],
            // A second router on s1, and one with dynamic_neigh_routers.
            &["lr-add", "r2"],
            &[
                "lrp-add",
                "r2",
                "r2-s1",
                "00:00:00:00:02:01",
                "10.0.1.2/24",
                "fd01::2/64",
                "10.0.8.2/24",
            ],
            &["lsp-add", "s1", "s1-r2"],
            &["lsp-set-type", "s1-r2", "router"],
            &["lsp-set-addresses", "s1-r2", "router"],
            &["lsp-set-options", "s1-r2", "router-port=r2-s1"],
            &["lr-add", "r4"],
            &[
                "set",
                "Logical_Router",
                "r4",
                "options:dynamic_neigh_routers=true",
            ],
            &[
                "lrp-add",
                "r4",
                "r4-s1",
                "00:00:00:00:04:01",
                "10.0.100.4/24",
                "10.0.1.4/24",
            ],
            &["lsp-add", "s1", "s1-r4"],
            &["lsp-set-type", "s1-r4", "router"],
            &["lsp-set-addresses", "s1-r4", "router"],
            &["lsp-set-options", "s1-r4", "router-port=r4-s1"],
            // A disabled switch port of type router still links its router.
            &["lsp-set-enabled", "s1-r4", "disabled"],
            // r3 peered with r1.
            &["lr-add", "r3"],
            &[
                "lrp-add",
                "r3",
                "r3-r1",
                "00:00:00:00:03:01",
                "10.0.9.2/30",
                "10.0.19.2/30",
                "fd09::2/64",
                "peer=r1-r3",
            ],
            &[
                "lrp-add",
                "r1",
                "r1-r3",
                "00:00:00:00:01:03",
                "10.0.9.1/30",
                "peer=r3-r1",
            ],
        ],
    );
    assert_all(scenario("routing-arp-resolve", &nb));
}

/// A disabled router attached to a switch: its port is not resolved by the other routers.
/// Only the routing stages are compared: the switch side of a router port of a disabled
/// router differs (ours keeps its `ls_in_arp_rsp`/`ls_in_l2_lkup`/`ls_*_pre_lb` flows).
#[test]
fn routing_arp_resolve_disabled_router() {
    let nb = with(
        BASIC,
        &[
            &["lr-add", "r5"],
            &["set", "Logical_Router", "r5", "enabled=false"],
            &["lrp-add", "r5", "r5-s1", "00:00:00:00:05:01", "10.0.1.5/24"],
            &["lsp-add", "s1", "s1-r5"],
            &["lsp-set-type", "s1-r5", "router"],
            &["lsp-set-addresses", "s1-r5", "router"],
            &["lsp-set-options", "s1-r5", "router-port=r5-s1"],
        ],
    );
    assert_full(scenario("routing-arp-resolve-disabled-router", &nb));
}

/// Routable addresses: a distributed gateway port on a switch with two other routers (a
/// plain router whose port has two networks, and a gateway router); its router has DNAT rules
/// with `add_route` (IPv4 and IPv6), one without, an SNAT, and a load balancer with
/// `add_route`.
#[test]
fn routing_routable_addresses() {
    let nb: &[&[&str]] = &[
        &["ls-add", "sx"],
        &["lr-add", "qa"],
        &[
            "lrp-add",
            "qa",
            "qa-x",
            "00:00:00:0a:00:01",
            "10.60.0.1/28",
            "10.61.0.1/24",
            "fd61::1/64",
        ],
        &["lsp-add", "sx", "sx-qa"],
        &["lsp-set-type", "sx-qa", "router"],
        &["lsp-set-addresses", "sx-qa", "router"],
        &["lsp-set-options", "sx-qa", "router-port=qa-x"],
        &["lr-add", "qb"],
        &["set", "Logical_Router", "qb", "options:chassis=ch1"],
        &[
            "lrp-add",
            "qb",
            "qb-x",
            "00:00:00:0b:00:01",
            "10.61.0.2/24",
            "fd61::2/64",
        ],
        &["lsp-add", "sx", "sx-qb"],
        &["lsp-set-type", "sx-qb", "router"],
        &["lsp-set-addresses", "sx-qb", "router"],
        &["lsp-set-options", "sx-qb", "router-port=qb-x"],
        &["lr-add", "pd"],
        &[
            "lrp-add",
            "pd",
            "pd-x",
            "00:00:00:0d:00:01",
            "10.61.0.9/24",
            "fd61::9/64",
        ],
        &["lrp-set-gateway-chassis", "pd-x", "ch1"],
        &["lsp-add", "sx", "sx-pd"],
        &["lsp-set-type", "sx-pd", "router"],
        &["lsp-set-addresses", "sx-pd", "router"],
        &["lsp-set-options", "sx-pd", "router-port=pd-x"],
        &[
            "lrp-add",
            "pd",
            "pd-in",
            "00:00:00:0d:00:02",
            "10.99.0.1/24",
            "fd99::1/64",
        ],
        &[
            "--add-route",
            "lr-nat-add",
            "pd",
            "dnat_and_snat",
            "172.32.0.7",
            "10.99.0.7",
        ],
        &["lr-nat-add", "pd", "snat", "172.32.0.8", "10.99.0.0/24"],
        &[
            "--add-route",
            "lr-nat-add",
            "pd",
            "dnat",
            "172.32.0.9",
            "10.99.0.9",
        ],
        &[
            "--add-route",
            "lr-nat-add",
            "pd",
            "dnat_and_snat",
            "fd32::7",
            "fd99::7",
        ],
        &[
            "--add-route",
            "lr-nat-add",
            "pd",
            "dnat_and_snat",
            "172.32.0.11",
            "10.99.0.11",
        ],
        &[
            "lr-nat-add",
            "pd",
            "dnat_and_snat",
            "172.32.0.12",
            "10.99.0.12",
        ],
        &["lb-add", "lbx", "172.32.0.20:80", "10.99.0.7:80"],
        &["set", "Load_Balancer", "lbx", "options:add_route=true"],
        &["lr-lb-add", "pd", "lbx"],
    ];
    assert_all(scenario_on("routing-routable", true, nb));
}

/// `gateway_mtu` (with and without `gateway_mtu_bypass`) on two ports of a three-port router,
/// one of them disabled, and an invalid value.
#[test]
fn routing_gateway_mtu() {
    let nb = with(
        BASIC,
        &[
            &[
                "lrp-add",
                "r1",
                "r1-s3",
                "00:00:00:00:01:03",
                "10.0.3.1/24",
                "10.0.4.1/24",
                "fd05::1/64",
            ],
            &["lrp-add", "r1", "r1-s4", "00:00:00:00:01:04", "fd06::1/64"],
            &[
                "lrp-set-options",
                "r1-s1",
                "gateway_mtu=1400",
                "gateway_mtu_bypass=tcp",
            ],
            &[
                "lrp-set-options",
                "r1-s2",
                "gateway_mtu=1300",
                "gateway_mtu_bypass=icmp",
            ],
            &["lrp-set-enabled", "r1-s2", "disabled"],
            &["lrp-set-options", "r1-s3", "gateway_mtu=abc"],
        ],
    );
    assert_all(scenario("routing-gateway-mtu", &nb));
}

/// `gateway_mtu` on a distributed gateway port with a bypass match.
#[test]
fn routing_gateway_mtu_dgp() {
    let nb = with(
        BASIC,
        &[
            &["lrp-set-gateway-chassis", "r1-s2", "ch1"],
            &["ls-add", "s2"],
            &["lsp-add", "s2", "s2-r1"],
            &["lsp-set-type", "s2-r1", "router"],
            &["lsp-set-addresses", "s2-r1", "router"],
            &["lsp-set-options", "s2-r1", "router-port=r1-s2"],
            &["lsp-add", "s2", "e1"],
            &["lsp-set-addresses", "e1", "00:00:00:00:02:99 10.0.2.99"],
            &[
                "lrp-set-options",
                "r1-s2",
                "gateway_mtu=1300",
                "gateway_mtu_bypass=udp && udp.dst == 53",
            ],
        ],
    );
    assert_all(scenario_on("routing-gateway-mtu-dgp", true, &nb));
}

/// The symmetric ECMP reply setup of a gateway router (IPv4 and IPv6 groups, a src-ip group,
/// two routes of one group through the same port), with chassis that support
/// `ct_mark.ecmp_reply_port`.
const SYMMETRIC: &[&[&str]] = &[
    &["lr-add", "gw"],
    &["set", "Logical_Router", "gw", "options:chassis=ch1"],
    &[
        "lrp-add",
        "gw",
        "gw-a",
        "00:00:00:00:04:01",
        "10.4.1.1/24",
        "fd04::1/64",
    ],
    &[
        "lrp-add",
        "gw",
        "gw-b",
        "00:00:00:00:04:02",
        "10.4.2.1/24",
        "fd05::1/64",
    ],
    &[
        "--ecmp-symmetric-reply",
        "lr-route-add",
        "gw",
        "20.0.0.0/8",
        "10.4.1.10",
    ],
    &[
        "--ecmp-symmetric-reply",
        "lr-route-add",
        "gw",
        "20.0.0.0/8",
        "10.4.2.10",
    ],
    &[
        "--ecmp-symmetric-reply",
        "lr-route-add",
        "gw",
        "20.0.0.0/8",
        "10.4.2.11",
    ],
    &[
        "--ecmp-symmetric-reply",
        "lr-route-add",
        "gw",
        "fd20::/64",
        "fd04::10",
    ],
    &[
        "--ecmp-symmetric-reply",
        "lr-route-add",
        "gw",
        "fd20::/64",
        "fd05::10",
    ],
    &[
        "--ecmp-symmetric-reply",
        "--policy=src-ip",
        "lr-route-add",
        "gw",
        "40.0.0.0/8",
        "10.4.1.40",
    ],
    &[
        "--ecmp-symmetric-reply",
        "--policy=src-ip",
        "lr-route-add",
        "gw",
        "40.0.0.0/8",
        "10.4.2.40",
    ],
    &["--ecmp", "lr-route-add", "gw", "30.0.0.0/8", "10.4.1.30"],
    &["--ecmp", "lr-route-add", "gw", "30.0.0.0/8", "10.4.2.30"],
    // A plain router with the option: no symmetric flows.
    &["lr-add", "dr"],
    &["lrp-add", "dr", "dr-a", "00:00:00:00:05:01", "10.5.1.1/24"],
    &["lrp-add", "dr", "dr-b", "00:00:00:00:05:02", "10.5.2.1/24"],
    &[
        "--ecmp-symmetric-reply",
        "lr-route-add",
        "dr",
        "20.0.0.0/8",
        "10.5.1.10",
    ],
    &[
        "--ecmp-symmetric-reply",
        "lr-route-add",
        "dr",
        "20.0.0.0/8",
        "10.5.2.10",
    ],
];

/// Symmetric ECMP replies with a chassis (`ct_mark.ecmp_reply_port`).
#[test]
fn routing_ecmp_symmetric_reply() {
    assert_all(scenario_on("routing-ecmp-symmetric", true, SYMMETRIC));
}

/// Symmetric ECMP replies without a chassis (`ct_label.ecmp_reply_port`).
#[test]
fn routing_ecmp_symmetric_reply_no_chassis() {
    assert_all(scenario("routing-ecmp-symmetric-nochassis", SYMMETRIC));
}

/// OVN-Kubernetes shapes: `ovn_cluster_router` with node switch ports and the join port,
/// src-ip routes from each node's pod subnet to its join IP, policies 1004 (reroute to the
/// management port), 102 (allow east-west) and 100 (EgressIP reroute to two nodes' join
/// IPs), and a gateway router with a default route via the node's gateway and the cluster
/// CIDR via the cluster router's join IP.
#[test]
fn routing_ovn_kubernetes() {
    let nb: &[&[&str]] = &[
        &["lr-add", "ovn_cluster_router"],
        &[
            "lrp-add",
            "ovn_cluster_router",
            "rtos-node1",
            "0a:58:0a:80:00:01",
            "10.128.0.1/23",
        ],
        &[
            "lrp-add",
            "ovn_cluster_router",
            "rtos-node2",
            "0a:58:0a:80:02:01",
            "10.128.2.1/23",
        ],
        &[
            "lrp-add",
            "ovn_cluster_router",
            "rtoj-ovn_cluster_router",
            "0a:58:64:40:00:01",
            "100.64.0.1/16",
        ],
        &["ls-add", "node1"],
        &["lsp-add", "node1", "stor-node1"],
        &["lsp-set-type", "stor-node1", "router"],
        &["lsp-set-addresses", "stor-node1", "router"],
        &["lsp-set-options", "stor-node1", "router-port=rtos-node1"],
        &["lsp-add", "node1", "k8s-node1"],
        &[
            "lsp-set-addresses",
            "k8s-node1",
            "0a:58:0a:80:00:02 10.128.0.2",
        ],
        &["lsp-add", "node1", "ns1_pod1"],
        &[
            "lsp-set-addresses",
            "ns1_pod1",
            "0a:58:0a:80:00:05 10.128.0.5",
        ],
        &["ls-add", "node2"],
        &["lsp-add", "node2", "stor-node2"],
        &["lsp-set-type", "stor-node2", "router"],
        &["lsp-set-addresses", "stor-node2", "router"],
        &["lsp-set-options", "stor-node2", "router-port=rtos-node2"],
        &["lsp-add", "node2", "k8s-node2"],
        &[
            "lsp-set-addresses",
            "k8s-node2",
            "0a:58:0a:80:02:02 10.128.2.2",
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
        &["lr-add", "GR_node1"],
        &["set", "Logical_Router", "GR_node1", "options:chassis=ch1"],
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
            "02:00:00:00:00:01",
            "172.18.0.2/16",
        ],
        &["lrp-set-options", "rtoe-GR_node1", "gateway_mtu=1400"],
        &["lsp-add", "join", "jtor-GR_node1"],
        &["lsp-set-type", "jtor-GR_node1", "router"],
        &["lsp-set-addresses", "jtor-GR_node1", "router"],
        &[
            "lsp-set-options",
            "jtor-GR_node1",
            "router-port=rtoj-GR_node1",
        ],
        &["lr-add", "GR_node2"],
        &["set", "Logical_Router", "GR_node2", "options:chassis=ch2"],
        &[
            "lrp-add",
            "GR_node2",
            "rtoj-GR_node2",
            "0a:58:64:40:00:03",
            "100.64.0.3/16",
        ],
        &["lsp-add", "join", "jtor-GR_node2"],
        &["lsp-set-type", "jtor-GR_node2", "router"],
        &["lsp-set-addresses", "jtor-GR_node2", "router"],
        &[
            "lsp-set-options",
            "jtor-GR_node2",
            "router-port=rtoj-GR_node2",
        ],
        &["ls-add", "ext_node1"],
        &["lsp-add", "ext_node1", "etor-GR_node1"],
        &["lsp-set-type", "etor-GR_node1", "router"],
        &["lsp-set-addresses", "etor-GR_node1", "router"],
        &[
            "lsp-set-options",
            "etor-GR_node1",
            "router-port=rtoe-GR_node1",
        ],
        &["lsp-add", "ext_node1", "br-ex_node1"],
        &["lsp-set-type", "br-ex_node1", "localnet"],
        &["lsp-set-addresses", "br-ex_node1", "unknown"],
        &["lsp-set-options", "br-ex_node1", "network_name=physnet"],
        // Cluster router routes and policies.
        &[
            "--policy=src-ip",
            "lr-route-add",
            "ovn_cluster_router",
            "10.128.0.0/23",
            "100.64.0.2",
        ],
        &[
            "--policy=src-ip",
            "lr-route-add",
            "ovn_cluster_router",
            "10.128.2.0/23",
            "100.64.0.3",
        ],
        &[
            "lr-policy-add",
            "ovn_cluster_router",
            "1004",
            "inport == \"rtos-node1\" && ip4.dst == 172.18.0.2 /* node1 */",
            "reroute",
            "10.128.0.2",
        ],
        &[
            "lr-policy-add",
            "ovn_cluster_router",
            "102",
            "ip4.src == 10.128.0.0/14 && ip4.dst == 10.128.0.0/14",
            "allow",
        ],
        &[
            "lr-policy-add",
            "ovn_cluster_router",
            "102",
            "ip4.src == 10.128.0.0/14 && ip4.dst == 100.64.0.0/16",
            "allow",
        ],
        &[
            "lr-policy-add",
            "ovn_cluster_router",
            "100",
            "ip4.src == 10.128.0.5",
            "reroute",
            "100.64.0.2,100.64.0.3",
        ],
        // Gateway router routes.
        &[
            "lr-route-add",
            "GR_node1",
            "0.0.0.0/0",
            "172.18.0.1",
            "rtoe-GR_node1",
        ],
        &["lr-route-add", "GR_node1", "10.128.0.0/14", "100.64.0.1"],
        &["lr-route-add", "GR_node2", "10.128.0.0/14", "100.64.0.1"],
    ];
    assert_all(scenario_on("routing-ovn-kubernetes", true, nb));
}

/// Found by `parity_random`: symmetric ECMP replies for host routes (/32, /128, also src-ip)
/// match the prefix written without its length.
#[test]
fn routing_ecmp_symmetric_host_routes() {
    let mut nb: Vec<&[&str]> = SYMMETRIC.to_vec();
    nb.extend_from_slice(&[
        &[
            "--ecmp-symmetric-reply",
            "lr-route-add",
            "gw",
            "192.168.2.5/32",
            "10.4.1.50",
        ],
        &[
            "--ecmp-symmetric-reply",
            "lr-route-add",
            "gw",
            "192.168.2.5/32",
            "10.4.2.50",
        ],
        &[
            "--ecmp-symmetric-reply",
            "lr-route-add",
            "gw",
            "fd30::5/128",
            "fd04::50",
        ],
        &[
            "--ecmp-symmetric-reply",
            "lr-route-add",
            "gw",
            "fd30::5/128",
            "fd05::50",
        ],
        &[
            "--ecmp-symmetric-reply",
            "--policy=src-ip",
            "lr-route-add",
            "gw",
            "10.4.1.77/32",
            "10.4.2.77",
        ],
        &[
            "--ecmp-symmetric-reply",
            "--policy=src-ip",
            "lr-route-add",
            "gw",
            "10.4.1.77/32",
            "10.4.1.78",
        ],
    ]);
    assert_all(scenario_on("routing-ecmp-symmetric-host", true, &nb));
}

/// Found by `parity_random`: routes to another router's routable addresses (a NAT rule with
/// `add_route`) get the BFD variant when the port has a BFD session; the ARP resolution of those
/// addresses is left out on a router with `dynamic_neigh_routers`, and on a plain router only a
/// distributed gateway port resolves them; with several gateway ports, the first (UUID order)
/// has every routable rule, the others those they announce; load balancer VIPs with
/// `add_route` (own and from a group) follow in 23.03's set order. Also: explicit `nat-addresses`
/// with text after the addresses (the user's own `is_chassis_resident()`) on the peer of a
/// second gateway port.
#[test]
fn random_found_routable_bfd_dynamic_neigh() {
    assert_full(scenario_on(
        "random-routable-bfd",
        true,
        &[
            &["ls-add", "pub"],
            &["ls-add", "pub2"],
            &["lr-add", "r1"],
            &[
                "lrp-add",
                "r1",
                "r1-pub",
                "00:00:00:00:e1:01",
                "172.16.0.1/24",
            ],
            &["lrp-set-gateway-chassis", "r1-pub", "ch1", "10"],
            &[
                "lrp-add",
                "r1",
                "r1-pub2",
                "00:00:00:00:e1:02",
                "172.16.2.1/24",
            ],
            &["lrp-set-gateway-chassis", "r1-pub2", "ch1", "10"],
            &["lsp-add", "pub2", "pub2-r1"],
            &["lsp-set-type", "pub2-r1", "router"],
            &["lsp-set-addresses", "pub2-r1", "router"],
            &[
                "lsp-set-options",
                "pub2-r1",
                "router-port=r1-pub2",
                "nat-addresses=00:00:00:00:e1:99 172.16.2.61 is_chassis_resident(\"cr-r1-pub2\")",
            ],
            &[
                "--add-route",
                "--gateway-port=r1-pub",
                "lr-nat-add",
                "r1",
                "dnat_and_snat",
                "172.16.0.122",
                "10.1.0.42",
            ],
            &[
                "--add-route",
                "--gateway-port=r1-pub2",
                "lr-nat-add",
                "r1",
                "dnat",
                "172.16.2.123",
                "10.1.0.43",
            ],
            &[
                "--add-route",
                "lr-nat-add",
                "r1",
                "dnat",
                "172.16.0.124",
                "10.1.0.44",
            ],
            &["ls-add", "s9"],
            &["lsp-add", "s9", "vm9"],
            &["lsp-set-addresses", "vm9", "00:00:00:09:00:09 10.1.0.45"],
            &[
                "--add-route",
                "--gateway-port=r1-pub",
                "lr-nat-add",
                "r1",
                "dnat_and_snat",
                "172.16.0.125",
                "10.1.0.45",
                "vm9",
                "00:00:00:00:aa:09",
            ],
            &["lb-add", "lbr", "30.0.0.1", "10.1.0.5"],
            &["lb-add", "lbr", "30.0.1.1:81", "10.1.0.5:8081", "tcp"],
            &["lb-add", "lbr", "30.0.3.1", "10.1.0.6"],
            &["lb-add", "lbr", "fd99::1", "fd01::5"],
            &["set", "load_balancer", "lbr", "options:add_route=true"],
            &["lr-lb-add", "r1", "lbr"],
            &["lb-add", "lbg1", "30.0.4.1", "10.1.0.7"],
            &["lb-add", "lbg1", "30.0.5.1", "10.1.0.7"],
            &["set", "load_balancer", "lbg1", "options:add_route=true"],
            &["lb-add", "lbg2", "30.0.6.1", "10.1.0.8"],
            &["create", "load_balancer_group", "name=g1"],
            &[
                "add",
                "load_balancer_group",
                "g1",
                "load_balancer",
                "=Load_Balancer/lbg1",
            ],
            &[
                "add",
                "load_balancer_group",
                "g1",
                "load_balancer",
                "=Load_Balancer/lbg2",
            ],
            &[
                "add",
                "logical_router",
                "r1",
                "load_balancer_group",
                "=Load_Balancer_Group/g1",
            ],
            &["lr-add", "r2"],
            &["set", "logical_router", "r2", "options:chassis=ch1"],
            &[
                "lrp-add",
                "r2",
                "r2-pub",
                "00:00:00:00:e2:01",
                "172.16.0.2/24",
            ],
            &["lr-add", "r3"],
            &["set", "logical_router", "r3", "options:chassis=ch1"],
            &[
                "set",
                "logical_router",
                "r3",
                "options:dynamic_neigh_routers=true",
            ],
            &[
                "lrp-add",
                "r3",
                "r3-pub",
                "00:00:00:00:e3:01",
                "172.16.0.3/24",
            ],
            &["lr-add", "r4"],
            &[
                "lrp-add",
                "r4",
                "r4-pub",
                "00:00:00:00:e4:01",
                "172.16.0.4/24",
            ],
            &[
                "lrp-add",
                "r4",
                "r4-pub2",
                "00:00:00:00:e4:02",
                "172.16.2.4/24",
            ],
            &["lrp-set-gateway-chassis", "r4-pub2", "ch1", "10"],
            &["lsp-add", "pub2", "pub2-r4"],
            &["lsp-set-type", "pub2-r4", "router"],
            &["lsp-set-addresses", "pub2-r4", "router"],
            &["lsp-set-options", "pub2-r4", "router-port=r4-pub2"],
            &["lsp-add", "pub", "pub-r1"],
            &["lsp-set-type", "pub-r1", "router"],
            &["lsp-set-addresses", "pub-r1", "router"],
            &["lsp-set-options", "pub-r1", "router-port=r1-pub"],
            &["lsp-add", "pub", "pub-r2"],
            &["lsp-set-type", "pub-r2", "router"],
            &["lsp-set-addresses", "pub-r2", "router"],
            &["lsp-set-options", "pub-r2", "router-port=r2-pub"],
            &["lsp-add", "pub", "pub-r3"],
            &["lsp-set-type", "pub-r3", "router"],
            &["lsp-set-addresses", "pub-r3", "router"],
            &["lsp-set-options", "pub-r3", "router-port=r3-pub"],
            &["lsp-add", "pub", "pub-r4"],
            &["lsp-set-type", "pub-r4", "router"],
            &["lsp-set-addresses", "pub-r4", "router"],
            &["lsp-set-options", "pub-r4", "router-port=r4-pub"],
            &[
                "--bfd",
                "lr-route-add",
                "r2",
                "192.168.2.0/24",
                "172.16.0.52",
                "r2-pub",
            ],
        ],
    ));
}
