//! Acceptance through the data path: real ovn-controller and ovs-vswitchd running on OUR
//! Southbound database forward packets as they do on real ovn-northd's.
//!
//! Each scenario starts two stacks with the same NB (written with the same ovn-nbctl
//! commands): (a) everything real; (b) real NB and SB servers, OUR northd (`northd::build` +
//! `northd::diff`, run in process by `e2e::OurNorthd` the way `ovnkit northd` runs) writing SB,
//! real ovn-controller and ovs-vswitchd. The same logical ports are bound to OVS interfaces of
//! the same names on both, `ovn-nbctl --wait=hv sync` waits for the chassis, then every packet
//! of the scenario's set is traced with `ofproto/trace` on br-int of both stacks and the
//! normalised `Datapath actions:` (output port or drop, fields the pipeline modified, conntrack
//! and controller actions) must be equal. See `tracenorm::normalise` for what is normalised
//! and why.
//!
//! Every differing packet is printed with both full traces before the test fails; set
//! `TRACE_PARITY_VERBOSE=1` to print the real stack's full trace for equal packets too.

mod common;
mod e2e;
mod tracenorm;

use std::collections::BTreeMap;
use std::time::Instant;

/// One packet to trace: a name and an `ofproto/trace` flow where `{p1}`... stand for the
/// OpenFlow port of the interface bound to that logical port.
struct Packet {
    name: &'static str,
    flow: &'static str,
    /// What the real stack must do with it, as a sanity check of the scenario itself:
    /// `Some(port)` output to that logical port, `Some("drop")` dropped, `None` unchecked.
    expect: Option<&'static str>,
}

/// A stack with its bound ports.
struct Side {
    /// Our northd, for side (b); declared first so that it stops before the stack does.
    northd: Option<e2e::OurNorthd>,
    stack: testkit::Stack,
    /// Logical port -> bound interface.
    ports: BTreeMap<String, testkit::BoundPort>,
}

fn start_side(ovn: &testkit::Toolbox, ours: bool, setup: &[&[&str]], bind: &[&str]) -> Side {
    let builder = ovn.stack().chassis("ch1");
    let (stack, northd) = if ours {
        // ovn-controller is started only once our northd has written SB_Global: started
        // against an SB without it (which never happens with real ovn-northd, that creates it
        // at once), ovn-controller 23.03 was seen to crash (SIGSEGV) or never catch up. Nothing
        // may run ovn-sbctl before that either: it inserts an SB_Global row of its own, and
        // our northd's insert then fails on the one-row limit.
        let mut stack = builder
            .northd(testkit::NorthdSource::None)
            .controller(false)
            .build()
            .expect("stack");
        let northd = e2e::OurNorthd::start(stack.nb_remote(), stack.sb_remote());
        wait_until("SB_Global written by our northd", || {
            e2e::OurNorthd::sb_global_written(stack.sb_remote())
        });
        let ovs = stack.ovs_remote().expect("chassis").to_owned();
        stack
            .sandbox_mut()
            .start_controller(&ovs)
            .expect("ovn-controller");
        wait_until("chassis ch1 registered", || {
            stack
                .sbctl(["--bare", "--columns=name", "find", "Chassis", "name=ch1"])
                .is_ok_and(|o| !o.trim().is_empty())
        });
        (stack, Some(northd))
    } else {
        (builder.build().expect("stack"), None)
    };
    for cmd in setup {
        let args: Vec<String> = cmd.iter().map(|a| common::resolve_arg(&stack, a)).collect();
        stack.nbctl(&args).expect("nbctl");
    }
    let mut ports = BTreeMap::new();
    for (i, lp) in bind.iter().enumerate() {
        let bound = stack
            .bind_port(&format!("vif{}", i + 1), lp)
            .expect("bind port");
        ports.insert((*lp).to_owned(), bound);
    }
    if let Err(e) = stack.wait_hv() {
        let show = |what: &str, r: testkit::Result<String>| {
            eprintln!("{what}:\n{}", r.unwrap_or_else(|e| e.to_string()));
        };
        show("NB_Global", stack.nbctl(["list", "NB_Global"]));
        show("SB_Global", stack.sbctl(["list", "SB_Global"]));
        show("Chassis_Private", stack.sbctl(["list", "Chassis_Private"]));
        if let Some(n) = &northd {
            eprintln!("our northd log: {:?}", n.log.lock().map(|l| l.clone()));
        }
        panic!(
            "ovn-nbctl --wait=hv sync ({}): {e}",
            if ours { "ours" } else { "real" }
        );
    }
    Side {
        northd,
        stack,
        ports,
    }
}

/// Polls `ok` every 50 ms for up to 20 s; panics naming `what` when it never holds.
fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed().as_secs() < 20,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn flow_text(flow: &str, ports: &BTreeMap<String, testkit::BoundPort>) -> String {
    let mut f = flow.to_owned();
    for (lp, p) in ports {
        f = f.replace(&format!("{{{lp}}}"), &p.ofport.to_string());
    }
    f
}

/// Packets (`scenario/packet`) whose results are known to differ, with the reason: reported on
/// every run but not asserted. Remove an entry once it is fixed (the run says so).
const KNOWN_DIFFERENT: &[(&str, &str)] = &[];

/// Runs a scenario; returns the names of the packets whose normalised results differ (after
/// printing both sides of each).
fn run(name: &str, setup: &[&[&str]], bind: &[&str], packets: &[Packet]) -> Option<Vec<String>> {
    let ovn = testkit::require_or_skip!(None);
    let t = Instant::now();
    let real = start_side(&ovn, false, setup, bind);
    let ours = start_side(&ovn, true, setup, bind);
    let started = t.elapsed().as_secs_f64();
    let mut failed = Vec::new();
    let mut known_different = 0;
    for p in packets {
        let r = real
            .stack
            .ofproto_trace(&flow_text(p.flow, &real.ports))
            .expect("trace on the real stack");
        let o = ours
            .stack
            .ofproto_trace(&flow_text(p.flow, &ours.ports))
            .expect("trace on our stack");
        let (rn, on) = (
            tracenorm::normalise(&r, &tracenorm::Names::bound(&real.ports)),
            tracenorm::normalise(&o, &tracenorm::Names::bound(&ours.ports)),
        );
        if let Some(want) = p.expect {
            let ok = if want == "drop" {
                r.is_drop()
            } else {
                rn.split(',').any(|a| a == format!("out:{want}"))
            };
            assert!(
                ok,
                "{name}/{}: the real stack does not {want}: {rn}\n{}",
                p.name,
                r.text()
            );
        }
        let id = format!("{name}/{}", p.name);
        let known = KNOWN_DIFFERENT
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, why)| *why);
        if rn == on {
            eprintln!("trace {id}: equal: {rn}");
            if std::env::var_os("TRACE_PARITY_VERBOSE").is_some() {
                eprintln!("--- real trace ---\n{}", r.text());
            }
            if known.is_some() {
                eprintln!("trace {id}: now equal: remove it from KNOWN_DIFFERENT");
            }
        } else if let Some(why) = known {
            known_different += 1;
            eprintln!("trace {id}: KNOWN DIFFERENCE ({why})\n  real: {rn}\n  ours: {on}");
        } else {
            eprintln!(
                "trace {name}/{}: DIFFERENT\n  real: {rn}\n  ours: {on}\n--- real trace ---\n{}\n--- our trace ---\n{}",
                p.name,
                r.text(),
                o.text()
            );
            failed.push(p.name.to_owned());
        }
    }
    // ovn-controller's complaints about our SB (e.g. logical flows it cannot parse), for
    // diagnosis when packets differ.
    let log =
        std::fs::read_to_string(ours.stack.dir().join("ovn-controller.log")).unwrap_or_default();
    for l in log
        .lines()
        .filter(|l| (l.contains("|WARN|") || l.contains("|ERR|")) && !l.contains("vif_plug"))
        .take(10)
    {
        eprintln!("trace {name}: our ovn-controller: {l}");
    }
    if let Some(n) = &ours.northd {
        if let Ok(log) = n.log.lock() {
            if !log.is_empty() {
                eprintln!("trace {name}: our northd warnings: {log:?}");
            }
        }
    }
    eprintln!(
        "trace {name}: {} of {} packets equal, {known_different} known difference(s), {} \
         new difference(s) (stacks up in {started:.1} s, total {:.1} s)",
        packets.len() - failed.len() - known_different,
        packets.len(),
        failed.len(),
        t.elapsed().as_secs_f64()
    );
    Some(failed)
}

fn assert_all_equal(name: &str, failed: Option<Vec<String>>) {
    if let Some(f) = failed {
        assert!(
            f.is_empty(),
            "{name}: packets with different results: {f:?}"
        );
    }
}

/// One switch: three VIFs (p1 and p2 dual stack, with port security), stateful ACLs towards p2
/// (allow IPv4, drop telnet), a TCP load balancer whose backend is p2, DHCPv4 and DHCPv6 on p1.
const SWITCH_SETUP: &[&[&str]] = &[
    &["ls-add", "sw0"],
    &["lsp-add", "sw0", "p1"],
    &[
        "lsp-set-addresses",
        "p1",
        "00:00:00:00:00:01 10.0.0.11 fd00::11",
    ],
    &[
        "lsp-set-port-security",
        "p1",
        "00:00:00:00:00:01 10.0.0.11 fd00::11",
    ],
    &["lsp-add", "sw0", "p2"],
    &[
        "lsp-set-addresses",
        "p2",
        "00:00:00:00:00:02 10.0.0.12 fd00::12",
    ],
    &[
        "lsp-set-port-security",
        "p2",
        "00:00:00:00:00:02 10.0.0.12 fd00::12",
    ],
    &["lsp-add", "sw0", "p3"],
    &["lsp-set-addresses", "p3", "00:00:00:00:00:03 10.0.0.13"],
    &[
        "acl-add",
        "sw0",
        "to-lport",
        "1002",
        "outport == \"p2\" && tcp.dst == 23",
        "drop",
    ],
    &[
        "acl-add",
        "sw0",
        "to-lport",
        "1001",
        "outport == \"p2\" && ip4",
        "allow-related",
    ],
    &["lb-add", "lb0", "10.0.0.100:80", "10.0.0.12:8080", "tcp"],
    &["ls-lb-add", "sw0", "lb0"],
    &[
        "create",
        "DHCP_Options",
        "cidr=10.0.0.0/24",
        "external_ids:n=v4",
        "options:lease_time=3600",
        "options:router=10.0.0.1",
        "options:server_id=10.0.0.1",
        "options:server_mac=c0:ff:ee:00:00:01",
    ],
    &[
        "create",
        "DHCP_Options",
        "cidr=fd00\\:\\:/64",
        "external_ids:n=v6",
        "options:server_id=00:00:00:10:00:01",
        "options:dns_server=fd00::1",
    ],
    &[
        "set",
        "logical_switch_port",
        "p1",
        "dhcpv4_options=@dhcp4",
        "dhcpv6_options=@dhcp6",
    ],
];

#[test]
fn switch_packets() {
    let packets = [
        Packet {
            name: "l2-unicast-non-ip",
            flow: "in_port={p3},dl_src=00:00:00:00:00:03,dl_dst=00:00:00:00:00:01,dl_type=0x1234",
            expect: Some("p1"),
        },
        Packet {
            name: "ipv4-unicast-no-acl",
            flow: "in_port={p1},udp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:03,\
                   nw_src=10.0.0.11,nw_dst=10.0.0.13,nw_ttl=64,udp_src=5000,udp_dst=6000",
            expect: Some("p3"),
        },
        Packet {
            name: "broadcast-flood",
            flow: "in_port={p3},dl_src=00:00:00:00:00:03,dl_dst=ff:ff:ff:ff:ff:ff,dl_type=0x1234",
            expect: Some("p2"),
        },
        Packet {
            name: "arp-request-flooded",
            flow: "in_port={p1},arp,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,\
                   arp_op=1,arp_spa=10.0.0.11,arp_tpa=10.0.0.99,arp_sha=00:00:00:00:00:01",
            expect: Some("p3"),
        },
        Packet {
            name: "arp-responder",
            flow: "in_port={p1},arp,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,\
                   arp_op=1,arp_spa=10.0.0.11,arp_tpa=10.0.0.12,arp_sha=00:00:00:00:00:01",
            expect: None,
        },
        Packet {
            name: "acl-allow-tcp-80",
            flow: "in_port={p1},tcp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,\
                   nw_src=10.0.0.11,nw_dst=10.0.0.12,nw_ttl=64,tcp_src=40000,tcp_dst=80",
            expect: None,
        },
        Packet {
            name: "acl-drop-tcp-23",
            flow: "in_port={p1},tcp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,\
                   nw_src=10.0.0.11,nw_dst=10.0.0.12,nw_ttl=64,tcp_src=40000,tcp_dst=23",
            expect: None,
        },
        Packet {
            name: "port-security-drop",
            flow: "in_port={p1},udp,dl_src=00:00:00:00:00:09,dl_dst=00:00:00:00:00:03,\
                   nw_src=10.0.0.11,nw_dst=10.0.0.13,nw_ttl=64,udp_src=5000,udp_dst=6000",
            expect: Some("drop"),
        },
        Packet {
            name: "lb-vip",
            flow: "in_port={p1},tcp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,\
                   nw_src=10.0.0.11,nw_dst=10.0.0.100,nw_ttl=64,tcp_src=40000,tcp_dst=80",
            expect: None,
        },
        Packet {
            name: "dhcpv4-discover",
            flow: "in_port={p1},udp,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,\
                   nw_src=0.0.0.0,nw_dst=255.255.255.255,nw_ttl=64,udp_src=68,udp_dst=67",
            expect: None,
        },
        Packet {
            name: "ipv6-unicast",
            flow: "in_port={p1},udp6,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:03,\
                   ipv6_src=fd00::11,ipv6_dst=fd00::13,nw_ttl=64,udp_src=5000,udp_dst=6000",
            expect: Some("p3"),
        },
        Packet {
            name: "nd-responder",
            flow: "in_port={p1},icmp6,dl_src=00:00:00:00:00:01,dl_dst=33:33:ff:00:00:12,\
                   ipv6_src=fd00::11,ipv6_dst=ff02::1:ff00:12,nw_ttl=255,icmpv6_type=135,\
                   icmpv6_code=0,nd_target=fd00::12,nd_sll=00:00:00:00:00:01",
            expect: None,
        },
        Packet {
            name: "dhcpv6-solicit",
            flow: "in_port={p1},udp6,dl_src=00:00:00:00:00:01,dl_dst=33:33:00:01:00:02,\
                   ipv6_src=fe80::200:ff:fe00:1,ipv6_dst=ff02::1:2,nw_ttl=255,udp_src=546,\
                   udp_dst=547",
            expect: None,
        },
    ];
    assert_all_equal(
        "switch",
        run("switch", SWITCH_SETUP, &["p1", "p2", "p3"], &packets),
    );
}

/// Two switches joined by a router; one VIF on each.
const ROUTER_SETUP: &[&[&str]] = &[
    &["ls-add", "sw0"],
    &["lsp-add", "sw0", "p1"],
    &["lsp-set-addresses", "p1", "00:00:00:00:00:01 10.0.0.11"],
    &["ls-add", "sw1"],
    &["lsp-add", "sw1", "p4"],
    &["lsp-set-addresses", "p4", "00:00:00:00:01:04 10.0.1.14"],
    &["lr-add", "r1"],
    &[
        "lrp-add",
        "r1",
        "r1-sw0",
        "00:00:00:00:ff:01",
        "10.0.0.1/24",
    ],
    &[
        "lrp-add",
        "r1",
        "r1-sw1",
        "00:00:00:00:ff:02",
        "10.0.1.1/24",
    ],
    &["lsp-add", "sw0", "sw0-r1"],
    &["lsp-set-type", "sw0-r1", "router"],
    &["lsp-set-addresses", "sw0-r1", "router"],
    &["lsp-set-options", "sw0-r1", "router-port=r1-sw0"],
    &["lsp-add", "sw1", "sw1-r1"],
    &["lsp-set-type", "sw1-r1", "router"],
    &["lsp-set-addresses", "sw1-r1", "router"],
    &["lsp-set-options", "sw1-r1", "router-port=r1-sw1"],
];

/// Router cases: east-west forwarding across the router (TTL decremented, MACs rewritten),
/// TTL expiry (ICMP time exceeded through pinctrl), a next hop with no known MAC (ARP request
/// through pinctrl), ICMP echo and ARP for a router address. Every differing packet is printed
/// with both full traces.
#[test]
fn router_packets() {
    let packets = [
        Packet {
            name: "east-west-udp",
            flow: "in_port={p1},udp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:ff:01,\
                   nw_src=10.0.0.11,nw_dst=10.0.1.14,nw_ttl=64,udp_src=5000,udp_dst=6000",
            expect: Some("p4"),
        },
        Packet {
            name: "icmp-echo-router-ip",
            flow: "in_port={p1},icmp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:ff:01,\
                   nw_src=10.0.0.11,nw_dst=10.0.0.1,nw_ttl=64,icmp_type=8,icmp_code=0",
            expect: Some("p1"),
        },
        Packet {
            name: "east-west-ttl-expired",
            flow: "in_port={p1},udp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:ff:01,\
                   nw_src=10.0.0.11,nw_dst=10.0.1.14,nw_ttl=1,udp_src=5000,udp_dst=6000",
            expect: None,
        },
        Packet {
            name: "unknown-neighbour-arp-request",
            flow: "in_port={p1},udp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:ff:01,\
                   nw_src=10.0.0.11,nw_dst=10.0.1.99,nw_ttl=64,udp_src=5000,udp_dst=6000",
            expect: None,
        },
        Packet {
            name: "arp-for-router-ip",
            flow: "in_port={p1},arp,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,\
                   arp_op=1,arp_spa=10.0.0.11,arp_tpa=10.0.0.1,arp_sha=00:00:00:00:00:01",
            expect: None,
        },
    ];
    assert_all_equal(
        "router",
        run("router", ROUTER_SETUP, &["p1", "p4"], &packets),
    );
}

/// A gateway router pinned to the chassis (as OVN-Kubernetes' `GR_<node>`): an internal switch
/// with a VIF, an external switch with a VIF standing for an outside host, SNAT of the internal
/// subnet to the router's external address, a dnat_and_snat address for the VIF and a TCP load
/// balancer on the router.
const GATEWAY_SETUP: &[&[&str]] = &[
    &["ls-add", "sw0"],
    &["lsp-add", "sw0", "p1"],
    &["lsp-set-addresses", "p1", "00:00:00:00:00:01 10.0.0.11"],
    &["ls-add", "ext"],
    &["lsp-add", "ext", "host"],
    &["lsp-set-addresses", "host", "00:00:00:00:ee:50 172.16.0.50"],
    &["lr-add", "gr1"],
    &["set", "logical_router", "gr1", "options:chassis=ch1"],
    &[
        "lrp-add",
        "gr1",
        "gr1-sw0",
        "00:00:00:00:ff:01",
        "10.0.0.1/24",
    ],
    &[
        "lrp-add",
        "gr1",
        "gr1-ext",
        "00:00:00:00:ff:ee",
        "172.16.0.1/24",
    ],
    &["lsp-add", "sw0", "sw0-gr1"],
    &["lsp-set-type", "sw0-gr1", "router"],
    &["lsp-set-addresses", "sw0-gr1", "router"],
    &["lsp-set-options", "sw0-gr1", "router-port=gr1-sw0"],
    &["lsp-add", "ext", "ext-gr1"],
    &["lsp-set-type", "ext-gr1", "router"],
    &["lsp-set-addresses", "ext-gr1", "router"],
    &["lsp-set-options", "ext-gr1", "router-port=gr1-ext"],
    &["lr-nat-add", "gr1", "snat", "172.16.0.1", "10.0.0.0/24"],
    &[
        "lr-nat-add",
        "gr1",
        "dnat_and_snat",
        "172.16.0.100",
        "10.0.0.11",
    ],
    &["lb-add", "glb", "172.16.0.200:80", "10.0.0.11:8080", "tcp"],
    &["lr-lb-add", "gr1", "glb"],
];

/// Gateway router cases: SNAT towards the outside, traffic to the dnat_and_snat address, to the
/// load balancer VIP, and ARP for the router's external address.
#[test]
fn gateway_router_packets() {
    let packets = [
        Packet {
            name: "snat-to-outside",
            flow: "in_port={p1},udp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:ff:01,\
                   nw_src=10.0.0.11,nw_dst=172.16.0.50,nw_ttl=64,udp_src=5000,udp_dst=6000",
            expect: None,
        },
        Packet {
            name: "outside-to-dnat-and-snat",
            flow: "in_port={host},udp,dl_src=00:00:00:00:ee:50,dl_dst=00:00:00:00:ff:ee,\
                   nw_src=172.16.0.50,nw_dst=172.16.0.100,nw_ttl=64,udp_src=5000,udp_dst=6000",
            expect: None,
        },
        Packet {
            name: "outside-to-lb-vip",
            flow: "in_port={host},tcp,dl_src=00:00:00:00:ee:50,dl_dst=00:00:00:00:ff:ee,\
                   nw_src=172.16.0.50,nw_dst=172.16.0.200,nw_ttl=64,tcp_src=40000,tcp_dst=80",
            expect: None,
        },
        Packet {
            name: "arp-for-external-ip",
            flow: "in_port={host},arp,dl_src=00:00:00:00:ee:50,dl_dst=ff:ff:ff:ff:ff:ff,\
                   arp_op=1,arp_spa=172.16.0.50,arp_tpa=172.16.0.1,arp_sha=00:00:00:00:ee:50",
            expect: None,
        },
        Packet {
            name: "arp-for-nat-ip",
            flow: "in_port={host},arp,dl_src=00:00:00:00:ee:50,dl_dst=ff:ff:ff:ff:ff:ff,\
                   arp_op=1,arp_spa=172.16.0.50,arp_tpa=172.16.0.100,arp_sha=00:00:00:00:ee:50",
            expect: None,
        },
    ];
    assert_all_equal(
        "gateway",
        run("gateway", GATEWAY_SETUP, &["p1", "host"], &packets),
    );
}
