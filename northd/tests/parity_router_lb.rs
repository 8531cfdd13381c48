//! Parity with real ovn-northd 23.03 on load balancers attached to routers (harness in
//! `common`): gateway routers, routers with distributed gateway ports, plain routers, and the
//! OVN-Kubernetes shape (a cluster-wide load balancer group, NodePort VIPs on the node IP,
//! session affinity, `lb_force_snat_ip=router_ip`, `skip_snat`).

mod common;

use common::{assert_full, scenario, scenario_on};

/// nbctl commands for a switch `sw` attached to router port `lrp` through `sw-lrp`.
fn attach(sw: &str, lrp: &str) -> Vec<Vec<String>> {
    let lsp = format!("{sw}-{lrp}");
    vec![
        vec!["--may-exist".into(), "ls-add".into(), sw.into()],
        vec!["lsp-add".into(), sw.into(), lsp.clone()],
        vec!["lsp-set-type".into(), lsp.clone(), "router".into()],
        vec!["lsp-set-addresses".into(), lsp.clone(), "router".into()],
        vec!["lsp-set-options".into(), lsp, format!("router-port={lrp}")],
    ]
}

/// Runs `cmds` (owned strings) through the harness.
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

/// A gateway router `gr` with a dual-stack port to switch `s1`.
fn gateway_router() -> Vec<Vec<String>> {
    let mut c = vec![
        cmd(&["lr-add", "gr"]),
        cmd(&["set", "logical_router", "gr", "options:chassis=ch1"]),
        cmd(&[
            "lrp-add",
            "gr",
            "gr-s1",
            "00:00:00:00:01:01",
            "10.0.0.1/24",
            "fd00::1/64",
        ]),
    ];
    c.extend(attach("s1", "gr-s1"));
    c
}

/// The brief's starting point: one TCP VIP with two backends on a gateway router.
#[test]
fn gateway_router_basic() {
    let mut c = gateway_router();
    c.push(cmd(&[
        "lb-add",
        "lb1",
        "10.96.0.1:80",
        "10.0.0.2:8080,10.0.0.3:8080",
        "tcp",
    ]));
    c.push(cmd(&["lr-lb-add", "gr", "lb1"]));
    assert_full(run("rlb-gr-basic", false, &c));
}

/// IPv4 and IPv6 VIPs, with and without ports, tcp/udp/sctp, VIPs reachable from the
/// router's subnet (ARP/ND replies, switch forwarding), VIPs without backends (drop, reject,
/// event), `skip_snat`, `hairpin_snat_ip`.
#[test]
fn gateway_router_vips() {
    let mut c = gateway_router();
    for a in [
        &[
            "lb-add",
            "lb1",
            "10.96.0.1:80",
            "10.0.0.2:8080,10.0.0.3:8080",
            "tcp",
        ][..],
        &["lb-add", "lb1", "[fd00::100]:80", "[fd00::2]:8080", "tcp"],
        &["lb-add", "lb2", "10.96.0.2:53", "10.0.0.4:53", "udp"],
        &["lb-add", "lb3", "10.96.0.3:99", "10.0.0.5:99", "sctp"],
        &["lb-add", "lb4", "10.0.0.100", "10.0.0.2"],
        &["lb-add", "lb4", "fd00::101", "fd00::2"],
        &["lb-add", "lb5", "10.96.0.5:80", "", "tcp"],
        &["--reject", "lb-add", "lb6", "10.96.0.6:80", "", "tcp"],
        &["--event", "lb-add", "lb7", "10.96.0.7:80", "", "tcp"],
        &["--event", "lb-add", "lb7", "[fd00::107]:80", "", "tcp"],
        &["lb-add", "lb8", "10.96.0.8:80", "10.0.0.8:80", "tcp"],
        &["set", "load_balancer", "lb8", "options:skip_snat=true"],
        &["lb-add", "lb9", "10.0.0.109", "10.0.0.9"],
        &[
            "set",
            "load_balancer",
            "lb9",
            "options:hairpin_snat_ip=\"169.254.0.5 fd69::5\"",
        ],
    ] {
        c.push(cmd(a));
    }
    for l in [
        "lb1", "lb2", "lb3", "lb4", "lb5", "lb6", "lb7", "lb8", "lb9",
    ] {
        c.push(cmd(&["lr-lb-add", "gr", l]));
    }
    assert_full(run("rlb-gr-vips", false, &c));
}

/// Session affinity with and without ports, IPv4 and IPv6, with `skip_snat`.
#[test]
fn gateway_router_affinity() {
    let mut c = gateway_router();
    for a in [
        &[
            "lb-add",
            "lb1",
            "10.96.0.1:80",
            "10.0.0.2:8080,10.0.0.3:8080",
            "tcp",
        ][..],
        &["lb-add", "lb1", "[fd00::100]:80", "[fd00::2]:8080", "tcp"],
        &["set", "load_balancer", "lb1", "options:affinity_timeout=60"],
        &["lb-add", "lb2", "10.96.0.2", "10.0.0.6"],
        &["set", "load_balancer", "lb2", "options:affinity_timeout=30"],
        &["lb-add", "lb3", "10.96.0.3:53", "10.0.0.7:53", "udp"],
        &[
            "set",
            "load_balancer",
            "lb3",
            "options:affinity_timeout=10",
            "options:skip_snat=true",
        ],
    ] {
        c.push(cmd(a));
    }
    for l in ["lb1", "lb2", "lb3"] {
        c.push(cmd(&["lr-lb-add", "gr", l]));
    }
    assert_full(run("rlb-gr-affinity", false, &c));
}

/// `lb_force_snat_ip=router_ip`: per port with a peer, its first IPv4 and first global IPv6
/// address; a port without a peer gets nothing; forced SNAT on DNAT and affinity actions.
#[test]
fn gateway_router_force_snat_router_ip() {
    let mut c = gateway_router();
    c.push(cmd(&[
        "lrp-add",
        "gr",
        "gr-ext",
        "00:00:00:00:02:01",
        "172.16.0.20/24",
        "172.16.0.3/24",
    ]));
    c.extend(attach("ext", "gr-ext"));
    c.push(cmd(&[
        "lrp-add",
        "gr",
        "gr-lonely",
        "00:00:00:00:02:02",
        "192.168.9.1/24",
    ]));
    for a in [
        &[
            "set",
            "logical_router",
            "gr",
            "options:lb_force_snat_ip=router_ip",
        ][..],
        &["lb-add", "lb1", "10.96.0.1:80", "10.0.0.2:8080", "tcp"],
        &["lb-add", "lb1", "[fd00::100]:80", "[fd00::2]:8080", "tcp"],
        &["set", "load_balancer", "lb1", "options:affinity_timeout=60"],
        &["lb-add", "lb2", "10.96.0.2:80", "10.0.0.5:80", "tcp"],
        &[
            "set",
            "load_balancer",
            "lb2",
            "options:skip_snat=true",
            "options:affinity_timeout=10",
        ],
        &["lb-add", "lb3", "172.16.0.50", "10.0.0.7"],
        &["lb-add", "lb4", "10.96.0.4:80", "", "tcp"],
        &["--reject", "lb-add", "lb5", "10.96.0.5:80", "", "tcp"],
        &["lb-add", "lb6", "172.16.0.20:82", "10.0.0.8:80", "tcp"],
    ] {
        c.push(cmd(a));
    }
    for l in ["lb1", "lb2", "lb3", "lb4", "lb5", "lb6"] {
        c.push(cmd(&["lr-lb-add", "gr", l]));
    }
    assert_full(run("rlb-gr-force-router-ip", false, &c));
}

/// `lb_force_snat_ip` with explicit addresses (only an IPv4 one: IPv6 VIPs are forced too).
#[test]
fn gateway_router_force_snat_addresses() {
    let mut c = gateway_router();
    for a in [
        &[
            "set",
            "logical_router",
            "gr",
            "options:lb_force_snat_ip=172.16.0.9",
        ][..],
        &["lb-add", "lb1", "10.96.0.1:80", "10.0.0.2:8080", "tcp"],
        &["lb-add", "lb1", "[fd00::100]:80", "[fd00::2]:8080", "tcp"],
        &["lr-lb-add", "gr", "lb1"],
    ] {
        c.push(cmd(a));
    }
    assert_full(run("rlb-gr-force-addrs", false, &c));
}

/// VIPs that are also NAT external addresses (not un-SNATed), and a VIP equal to a router IP.
#[test]
fn gateway_router_vip_on_nat_address() {
    let mut c = gateway_router();
    c.push(cmd(&[
        "lrp-add",
        "gr",
        "gr-ext",
        "00:00:00:00:02:01",
        "172.16.0.1/24",
    ]));
    c.extend(attach("ext", "gr-ext"));
    for a in [
        &[
            "lr-nat-add",
            "gr",
            "dnat_and_snat",
            "172.16.0.50",
            "10.0.0.6",
        ][..],
        &["lr-nat-add", "gr", "snat", "172.16.0.51", "10.0.0.0/24"],
        &["lr-nat-add", "gr", "dnat", "172.16.0.52", "10.0.0.7"],
        &["lb-add", "lb1", "172.16.0.50:80", "10.0.0.6:80", "tcp"],
        &["lb-add", "lb2", "172.16.0.51:81", "10.0.0.7:80", "udp"],
        &["lb-add", "lb3", "172.16.0.52", "10.0.0.7"],
        &["lb-add", "lb4", "172.16.0.1:8080", "10.0.0.8:80", "tcp"],
    ] {
        c.push(cmd(a));
    }
    for l in ["lb1", "lb2", "lb3", "lb4"] {
        c.push(cmd(&["lr-lb-add", "gr", l]));
    }
    assert_full(run("rlb-gr-vip-nat", false, &c));
}

/// `neighbor_responder` (all, none), an LB without VIPs, and an LB on both the router and its
/// switch (the SB Load_Balancer row lists the switch only).
#[test]
fn gateway_router_neighbor_responder() {
    let mut c = gateway_router();
    for a in [
        &["lb-add", "lb1", "10.0.0.100:80", "10.0.0.2:80", "tcp"][..],
        &["lb-add", "lb2", "10.96.0.2:80", "10.0.0.2:80", "tcp"],
        &[
            "set",
            "load_balancer",
            "lb2",
            "options:neighbor_responder=all",
        ],
        &["lb-add", "lb3", "10.0.0.103:80", "10.0.0.2:80", "tcp"],
        &[
            "set",
            "load_balancer",
            "lb3",
            "options:neighbor_responder=none",
        ],
        &["create", "load_balancer", "name=lb4", "protocol=tcp"],
    ] {
        c.push(cmd(a));
    }
    for l in ["lb1", "lb2", "lb3", "lb4"] {
        c.push(cmd(&["lr-lb-add", "gr", l]));
    }
    c.push(cmd(&["ls-lb-add", "s1", "lb1"]));
    assert_full(run("rlb-gr-neighbor", false, &c));
}

/// A router `dr` with a distributed gateway port `dr-ext` and an internal port `dr-s1`.
fn distributed_router() -> Vec<Vec<String>> {
    let mut c = vec![
        cmd(&["lr-add", "dr"]),
        cmd(&[
            "lrp-add",
            "dr",
            "dr-s1",
            "00:00:00:00:03:01",
            "10.0.0.1/24",
            "fd00::1/64",
        ]),
        cmd(&[
            "lrp-add",
            "dr",
            "dr-ext",
            "00:00:00:00:03:02",
            "172.16.0.1/24",
            "fd01::1/64",
        ]),
        cmd(&["lrp-set-gateway-chassis", "dr-ext", "ch1", "10"]),
    ];
    c.extend(attach("s1", "dr-s1"));
    c.extend(attach("ext", "dr-ext"));
    c
}

/// A DGP router: DNAT on the gateway chassis, un-DNAT of replies leaving by the DGP, ARP/ND
/// for VIPs (resident on the DGP), drop/reject/event, affinity, `skip_snat`.
#[test]
fn distributed_router_vips() {
    let mut c = distributed_router();
    for a in [
        &[
            "lb-add",
            "lb1",
            "10.96.0.1:80",
            "10.0.0.2:8080,10.0.0.3:8080",
            "tcp",
        ][..],
        &["lb-add", "lb1", "[fd00::100]:80", "[fd00::2]:8080", "tcp"],
        &["set", "load_balancer", "lb1", "options:affinity_timeout=60"],
        &["lb-add", "lb2", "172.16.0.100", "10.0.0.4"],
        &["lb-add", "lb2", "10.0.0.100", "10.0.0.4,10.0.0.5"],
        &["lb-add", "lb3", "10.96.0.3:80", "", "tcp"],
        &["--reject", "lb-add", "lb4", "10.96.0.4:80", "", "tcp"],
        &["--event", "lb-add", "lb5", "10.96.0.5:80", "", "tcp"],
        &["lb-add", "lb6", "10.96.0.6:80", "10.0.0.6:80", "udp"],
        &["set", "load_balancer", "lb6", "options:skip_snat=true"],
        &["lb-add", "lb7", "10.96.0.7:99", "10.0.0.7:99", "sctp"],
    ] {
        c.push(cmd(a));
    }
    for l in ["lb1", "lb2", "lb3", "lb4", "lb5", "lb6", "lb7"] {
        c.push(cmd(&["lr-lb-add", "dr", l]));
    }
    assert_full(run("rlb-dr-vips", true, &c));
}

/// A DGP router with `lb_force_snat_ip=router_ip` (forced SNAT in DNAT, un-DNAT sets the flag)
/// and a VIP on a NAT address and on the router IP.
#[test]
fn distributed_router_force_snat() {
    let mut c = distributed_router();
    for a in [
        &[
            "set",
            "logical_router",
            "dr",
            "options:lb_force_snat_ip=router_ip",
        ][..],
        &[
            "lr-nat-add",
            "dr",
            "dnat_and_snat",
            "172.16.0.50",
            "10.0.0.6",
        ],
        &["lb-add", "lb1", "172.16.0.1:80", "10.0.0.2:8080", "tcp"],
        &["lb-add", "lb1", "172.16.0.50:80", "10.0.0.2:8080", "tcp"],
        &["lb-add", "lb1", "[fd01::1]:80", "[fd00::2]:8080", "tcp"],
        &["set", "load_balancer", "lb1", "options:affinity_timeout=60"],
        &["--reject", "lb-add", "lb2", "10.96.0.2:80", "", "tcp"],
        &["lb-add", "lb3", "10.96.0.3:80", "", "tcp"],
        &["lb-add", "lb4", "10.96.0.4:80", "10.0.0.4:80", "tcp"],
        &["set", "load_balancer", "lb4", "options:skip_snat=true"],
    ] {
        c.push(cmd(a));
    }
    for l in ["lb1", "lb2", "lb3", "lb4"] {
        c.push(cmd(&["lr-lb-add", "dr", l]));
    }
    assert_full(run("rlb-dr-force", true, &c));
}

/// A router with two DGPs: load balancing uses the one with the smallest NB UUID.
#[test]
fn distributed_router_two_dgps() {
    let mut c = distributed_router();
    for a in [
        &[
            "lrp-add",
            "dr",
            "dr-ext2",
            "00:00:00:00:03:03",
            "172.17.0.1/24",
        ][..],
        &["lrp-set-gateway-chassis", "dr-ext2", "ch1", "5"],
        &["lb-add", "lb1", "10.96.0.1:80", "10.0.0.2:8080", "tcp"],
        &["lb-add", "lb1", "172.17.0.100", "10.0.0.3"],
        &["lr-lb-add", "dr", "lb1"],
    ] {
        c.push(cmd(a));
    }
    c.extend(attach("ext2", "dr-ext2"));
    assert_full(run("rlb-dr-two-dgps", true, &c));
}

/// A router with neither a chassis nor a DGP.
#[test]
fn plain_router() {
    assert_full(scenario(
        "rlb-plain",
        &[
            &["lr-add", "r1"],
            &["lrp-add", "r1", "r1-s2", "00:00:00:00:05:01", "10.5.0.1/24"],
            &[
                "lb-add",
                "lb1",
                "10.5.0.100:80",
                "10.5.0.2:80,10.5.0.3:80",
                "tcp",
            ],
            &["lb-add", "lb1", "[fd00::100]:80", "[fd00::2]:8080", "tcp"],
            &["set", "load_balancer", "lb1", "options:affinity_timeout=5"],
            &["--reject", "lb-add", "lb2", "10.96.0.2:80", "", "tcp"],
            &["--event", "lb-add", "lb3", "10.96.0.3:80", "", "tcp"],
            &["lr-lb-add", "r1", "lb1"],
            &["lr-lb-add", "r1", "lb2"],
            &["lr-lb-add", "r1", "lb3"],
        ],
    ));
}

/// A plain router: `skip_snat` with affinity on UDP, IPv6 VIPs without backends (event,
/// reject), and `lb_force_snat_ip=router_ip`, which only gateway routers honor.
#[test]
fn plain_router_options() {
    assert_full(scenario(
        "rlb-plain-options",
        &[
            &["lr-add", "r1"],
            &["lrp-add", "r1", "r1-s2", "00:00:00:00:05:01", "10.5.0.1/24"],
            &[
                "set",
                "logical_router",
                "r1",
                "options:lb_force_snat_ip=router_ip",
            ],
            &["lb-add", "lb1", "10.96.0.1:80", "10.5.0.2:80", "udp"],
            &[
                "set",
                "load_balancer",
                "lb1",
                "options:skip_snat=true",
                "options:affinity_timeout=3",
            ],
            &["--event", "lb-add", "lb2", "[fd00::5]:53", "", "udp"],
            &["--reject", "lb-add", "lb3", "[fd00::6]:53", "", "udp"],
            &["lr-lb-add", "r1", "lb1"],
            &["lr-lb-add", "r1", "lb2"],
            &["lr-lb-add", "r1", "lb3"],
        ],
    ));
}

/// OVN-Kubernetes: two nodes, each with a node switch and a gateway router
/// (`lb_force_snat_ip=router_ip`) on an external switch; a cluster-wide load balancer group
/// (ClusterIP Services, one with session affinity) on every node switch and gateway router;
/// per-node NodePort load balancers on the node IP, one with `skip_snat`
/// (externalTrafficPolicy=Local).
#[test]
fn ovn_kubernetes_services() {
    let mut c: Vec<Vec<String>> = Vec::new();
    for a in [
        &[
            "lb-add",
            "svc-web-tcp",
            "10.43.0.10:80",
            "10.42.0.5:8080,10.42.1.5:8080",
            "tcp",
        ][..],
        &[
            "lb-add",
            "svc-dns-udp",
            "10.43.0.53:53",
            "10.42.0.6:53,10.42.1.6:53",
            "udp",
        ],
        &[
            "lb-add",
            "svc-web-tcp",
            "[fd43::10]:80",
            "[fd42::5]:8080",
            "tcp",
        ],
        &[
            "lb-add",
            "svc-sticky-tcp",
            "10.43.0.20:443",
            "10.42.0.7:8443,10.42.1.7:8443",
            "tcp",
        ],
        &[
            "set",
            "load_balancer",
            "svc-sticky-tcp",
            "options:affinity_timeout=10800",
        ],
        &["create", "load_balancer_group", "name=clusterLBGroup"],
    ] {
        c.push(cmd(a));
    }
    for lb in ["svc-web-tcp", "svc-dns-udp", "svc-sticky-tcp"] {
        c.push(cmd(&[
            "add",
            "load_balancer_group",
            "clusterLBGroup",
            "load_balancer",
            &format!("=Load_Balancer/{lb}"),
        ]));
    }
    for (i, node) in ["node1", "node2"].iter().enumerate() {
        let gr = format!("GR_{node}");
        let host = format!("172.18.0.{}", i + 2);
        let subnet_gw = format!("10.42.{i}.1/24");
        let join = format!("100.64.0.{}/16", i + 2);
        c.push(cmd(&["ls-add", node]));
        c.push(cmd(&["lr-add", &gr]));
        c.push(cmd(&[
            "set",
            "logical_router",
            &gr,
            "options:chassis=ch1",
            "options:lb_force_snat_ip=router_ip",
        ]));
        // The node subnet is reached through the cluster router in the real shape; a direct
        // port keeps the scenario small.
        c.push(cmd(&[
            "lrp-add",
            &gr,
            &format!("rtos-{node}"),
            &format!("00:00:00:00:1{i}:01"),
            &subnet_gw,
        ]));
        c.extend(attach(node, &format!("rtos-{node}")));
        c.push(cmd(&[
            "lrp-add",
            &gr,
            &format!("rtoj-{gr}"),
            &format!("00:00:00:00:1{i}:02"),
            &join,
        ]));
        c.push(cmd(&[
            "lrp-add",
            &gr,
            &format!("rtoe-{gr}"),
            &format!("00:00:00:00:1{i}:03"),
            &format!("{host}/24"),
        ]));
        c.extend(attach(&format!("ext_{node}"), &format!("rtoe-{gr}")));
        c.push(cmd(&["lr-nat-add", &gr, "snat", &host, "10.42.0.0/16"]));
        for sw_or_lr in [node.to_string(), gr.clone()] {
            let table = if sw_or_lr == gr {
                "logical_router"
            } else {
                "logical_switch"
            };
            c.push(cmd(&[
                "add",
                table,
                &sw_or_lr,
                "load_balancer_group",
                "=Load_Balancer_Group/clusterLBGroup",
            ]));
        }
        let np = format!("svc-np-{node}-tcp");
        c.push(cmd(&[
            "lb-add",
            &np,
            &format!("{host}:30080"),
            "10.42.0.5:8080,10.42.1.5:8080",
            "tcp",
        ]));
        let local = format!("svc-np-local-{node}-tcp");
        c.push(cmd(&[
            "lb-add",
            &local,
            &format!("{host}:30443"),
            &format!("10.42.{i}.7:8443"),
            "tcp",
        ]));
        c.push(cmd(&[
            "set",
            "load_balancer",
            &local,
            "options:skip_snat=true",
        ]));
        c.push(cmd(&["lr-lb-add", &gr, &np]));
        c.push(cmd(&["lr-lb-add", &gr, &local]));
        c.push(cmd(&["ls-lb-add", node, &np]));
    }
    assert_full(run("rlb-ovnk", true, &c));
}

/// ARP/ND replies for VIPs on every port, including an IPv6-only port and a disabled port
/// (whose subnet still makes a VIP reachable).
#[test]
fn gateway_router_port_kinds() {
    let mut c = gateway_router();
    for a in [
        &["lrp-add", "gr", "gr-v6", "00:00:00:00:02:01", "fd05::1/64"][..],
        &[
            "lrp-add",
            "gr",
            "gr-off",
            "00:00:00:00:02:02",
            "10.9.0.1/24",
        ],
        &["set", "logical_router_port", "gr-off", "enabled=false"],
        &["lb-add", "lb1", "10.0.0.100:80", "10.0.0.2:80", "tcp"],
        &["lb-add", "lb1", "10.9.0.100:80", "10.0.0.2:80", "tcp"],
        &["lb-add", "lb1", "[fd05::100]:80", "[fd00::2]:80", "tcp"],
        &["lr-lb-add", "gr", "lb1"],
    ] {
        c.push(cmd(a));
    }
    assert_full(run("rlb-gr-port-kinds", false, &c));
}

/// `selection_fields` (`hash_fields` in `ct_lb_mark`, with forced SNAT and `skip_snat`),
/// affinity on an IPv6 VIP without a port and on SCTP.
#[test]
fn gateway_router_selection_fields() {
    let mut c = gateway_router();
    for a in [
        &[
            "set",
            "logical_router",
            "gr",
            "options:lb_force_snat_ip=router_ip",
        ][..],
        &[
            "lb-add",
            "lb1",
            "10.96.0.1:80",
            "10.0.0.2:8080,10.0.0.3:8080",
            "tcp",
        ],
        &[
            "set",
            "load_balancer",
            "lb1",
            "selection_fields=ip_src,ip_dst,tp_src",
        ],
        &["lb-add", "lb2", "fd00::200", "fd00::2,fd00::3"],
        &["set", "load_balancer", "lb2", "options:affinity_timeout=7"],
        &["lb-add", "lb3", "10.96.0.3:99", "10.0.0.5:99", "sctp"],
        &["set", "load_balancer", "lb3", "options:affinity_timeout=9"],
        &["lb-add", "lb4", "10.96.0.4:53", "10.0.0.6:53", "udp"],
        &[
            "set",
            "load_balancer",
            "lb4",
            "selection_fields=tp_dst,eth_src",
        ],
        &["set", "load_balancer", "lb4", "options:skip_snat=true"],
    ] {
        c.push(cmd(a));
    }
    for l in ["lb1", "lb2", "lb3", "lb4"] {
        c.push(cmd(&["lr-lb-add", "gr", l]));
    }
    assert_full(run("rlb-gr-selection", false, &c));
}

/// Found by `parity_random`: the empty-backends event of a VIP without a port still matches
/// the load balancer's protocol (on switches and on gateway routers), a load balancer
/// without a protocol counts as TCP, and `NB_Global` `options:controller_event=true` raises
/// the event for load balancers without `options:event`.
#[test]
fn random_found_empty_vip_event_protocol() {
    assert_full(scenario_on(
        "random-empty-vip-event",
        true,
        &[
            &["set", "nb_global", ".", "options:controller_event=true"],
            &["ls-add", "s1"],
            &["lr-add", "gw"],
            &["set", "logical_router", "gw", "options:chassis=ch1"],
            &["lrp-add", "gw", "gw-s1", "00:00:00:00:f1:01", "10.1.0.1/24"],
            &["lsp-add", "s1", "s1-gw"],
            &["lsp-set-type", "s1-gw", "router"],
            &["lsp-set-addresses", "s1-gw", "router"],
            &["lsp-set-options", "s1-gw", "router-port=gw-s1"],
            &["lb-add", "lb1", "30.0.0.1:80", "10.1.0.5:8080", "udp"],
            &["set", "load_balancer", "lb1", "vips:\"30.0.3.2\"=\"\""],
            &["set", "load_balancer", "lb1", "vips:\"fd99::2\"=\"\""],
            &["set", "load_balancer", "lb1", "options:event=true"],
            &[
                "create",
                "load_balancer",
                "name=lb2",
                "vips:\"30.0.3.3\"=\"\"",
            ],
            &["ls-lb-add", "s1", "lb1"],
            &["ls-lb-add", "s1", "lb2"],
            &["lr-lb-add", "gw", "lb1"],
            &["lr-lb-add", "gw", "lb2"],
        ],
    ));
}

/// Found by `parity_random`: on a router with a distributed gateway port, the reject of a
/// health-checked VIP whose backends are all down (no `ip_port_mappings`, so none monitored)
/// stays tied to the gateway chassis, unlike the reject of a VIP without backends.
#[test]
fn random_found_reject_health_down_resident() {
    assert_full(scenario_on(
        "random-reject-health-down",
        true,
        &[
            &["ls-add", "s1"],
            &["ls-add", "pub"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "r1-s1", "00:00:00:00:f1:01", "10.1.0.1/24"],
            &["lsp-add", "s1", "s1-r1"],
            &["lsp-set-type", "s1-r1", "router"],
            &["lsp-set-addresses", "s1-r1", "router"],
            &["lsp-set-options", "s1-r1", "router-port=r1-s1"],
            &[
                "lrp-add",
                "r1",
                "r1-pub",
                "00:00:00:00:e1:01",
                "172.16.1.2/24",
            ],
            &["lrp-set-gateway-chassis", "r1-pub", "ch1", "20"],
            &["lsp-add", "pub", "pub-r1"],
            &["lsp-set-type", "pub-r1", "router"],
            &["lsp-set-addresses", "pub-r1", "router"],
            &["lsp-set-options", "pub-r1", "router-port=r1-pub"],
            &[
                "--reject",
                "lb-add",
                "lb2",
                "30.0.0.2:80",
                "10.1.0.20:8080",
                "udp",
            ],
            &["lb-add", "lb2", "30.0.0.3:80", "", "udp"],
            &["set", "load_balancer", "lb2", "options:skip_snat=true"],
            &[
                "--id=@hc",
                "create",
                "Load_Balancer_Health_Check",
                "vip=\"30.0.0.2:80\"",
                "--",
                "add",
                "Load_Balancer",
                "lb2",
                "health_check",
                "@hc",
            ],
            &[
                "--reject",
                "lb-add",
                "lb3",
                "30.0.0.4:80",
                "10.1.0.21:8080",
                "tcp",
            ],
            &[
                "--id=@hc",
                "create",
                "Load_Balancer_Health_Check",
                "vip=\"30.0.0.4:80\"",
                "--",
                "add",
                "Load_Balancer",
                "lb3",
                "health_check",
                "@hc",
            ],
            &["lr-lb-add", "r1", "lb2"],
            &["lr-lb-add", "r1", "lb3"],
        ],
    ));
}
